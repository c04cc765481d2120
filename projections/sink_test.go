package projections

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/operators"
)

// gateStore holds every Apply until released, and fails those told to.
type gateStore struct {
	Store
	entered chan struct{}
	release chan error // the error the held Apply returns (nil: apply)
}

func (g *gateStore) Apply(ctx context.Context, table string, ws []Write) error {
	g.entered <- struct{}{}
	if err := <-g.release; err != nil {
		return err
	}
	return g.Store.Apply(ctx, table, ws)
}

// deadline fails the test if done is not closed in time: a deadlock guard,
// not a measurement.
func deadline(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: still blocked after 30s", what)
	}
}

// Writes made while a flush applies its batch neither wait for it nor go
// into it; a failed flush puts its batch back beneath them, so the next
// flush applies both and the newest version of each key wins.
func TestSinkWritesDuringFlush(t *testing.T) {
	ctx := context.Background()
	s := openSQLiteT(t)
	name := uniqueName(t, "during")
	gate := &gateStore{Store: s, entered: make(chan struct{}), release: make(chan error)}
	sink, err := NewSink(ctx, gate, testGraph(1), []*operators.TableSpec{paymentSpec(name)})
	if err != nil {
		t.Fatal(err)
	}
	table := TableName(name, 1)
	if err := sink.Write(ctx, []operators.Output{paymentOutput(name, "a", 1, "A1"), paymentOutput(name, "b", 3, "B3")}); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- sink.Flush(ctx) }()
	<-gate.entered // the flush holds its batch in Apply

	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		// a: newer than the held batch; b: older.
		if err := sink.Write(ctx, []operators.Output{paymentOutput(name, "a", 2, "A2"), paymentOutput(name, "b", 2, "B2")}); err != nil {
			t.Error(err)
		}
	}()
	deadline(t, "Write during a flush", wrote)

	gate.release <- errors.New("store down")
	if err := <-flushed; err == nil {
		t.Fatal("the failed flush reported no error")
	}
	if rows := scanAll(t, s, table); len(rows) != 0 {
		t.Fatalf("a failed flush wrote %d rows", len(rows))
	}
	go func() { flushed <- sink.Flush(ctx) }()
	<-gate.entered
	gate.release <- nil
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"a": "A2", "b": "B3"} {
		row, ok := get(t, s, table, key)
		if !ok || row["status"] != want {
			t.Errorf("row %s: %v, want status %s", key, row, want)
		}
	}
	// Nothing is left: Close applies nothing more.
	closed := make(chan error, 1)
	go func() { closed <- sink.Close() }()
	select {
	case <-gate.entered:
		t.Error("Close found writes left after the flush")
		gate.release <- nil
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	}
}
