package live_test

import (
	"time"

	"testing"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
)

func graph(t *testing.T) *payments.Dataset {
	t.Helper()
	return payments.Generate(payments.GeneratorConfig{Payments: 600, Partitions: 4, Interval: 3 * time.Minute})
}

// TestEndToEnd produces the reference dataset (v1 and v2 writers
// interleaved) to the broker, runs the driver until the group has
// committed every input offset, and compares the SQLite projections and
// the final state of every mismatch key with a reference run of the
// operators over the same records.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t, 4)
	ds := graph(t)
	e.produce(ds, 0, -1)
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	ex := reference(t, g, ds)
	e.runToEnd(g, e.config("e2e"))
	e.checkTables(g, ex)
	e.checkMismatches(ex)
	if n := len(e.topicRecords("e2e-dead-letters")); n != ex.deadLetters {
		t.Errorf("%d dead letters, want %d (late records)", n, ex.deadLetters)
	}
	_ = live.HeaderID
}
