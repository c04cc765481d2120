package projections_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/reckon-dev/reckon/operators"
	"github.com/reckon-dev/reckon/projections"
)

func paymentStatus() *operators.TableSpec {
	return operators.Table("payment_status").PartitionKey("payment_id").Typed("payment_id", operators.TypeText).
		Column("status", "status", operators.TypeText).
		Column("amount_minor", "amount_minor", operators.TypeBigInt)
}

// output is a table output as the graph emits it: the row's values in
// the order of the table's columns, keys first.
func output(id, status string, amount, version int64) operators.Output {
	key, _ := operators.EncodeKey([]any{id})
	vals := []any{id, status, amount}
	return operators.Output{
		Target: operators.TargetTable, Name: "payment_status", Kind: operators.Upsert,
		Key: key, KeyValues: vals[:1], Version: version,
		Columns: []string{"payment_id", "status", "amount_minor"}, Values: vals,
	}
}

// A graph's table outputs go through a Sink into the version's table; the
// version is marked ready when its backfill is complete, then promoted.
// Readers resolve the live pointer.
func ExampleNewSink() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "reckon-example")
	defer os.RemoveAll(dir)
	store, err := projections.OpenSQLite(ctx, filepath.Join(dir, "projections.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	graph := projections.Graph{Name: "payments", Version: 2, Fingerprint: "sha256:7f3a"}
	sink, err := projections.NewSink(ctx, store, graph, []*operators.TableSpec{paymentStatus()})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Three updates of one payment, out of order: the newest wins.
	sink.Write(ctx, []operators.Output{
		output("p1", "AUTHORIZED", 1250, 1),
		output("p1", "SETTLED", 1250, 3),
		output("p1", "CAPTURED", 1250, 2),
	})
	if err := sink.Close(); err != nil { // flushes
		fmt.Println(err)
		return
	}

	info, _ := store.MarkReady(ctx, "payment_status", 2, projections.SourceRange{})
	fmt.Println(info.Table, info.Status, info.Rows, "rows")
	if err := store.Promote(ctx, "payment_status", 2); err != nil {
		fmt.Println(err)
		return
	}
	table, version, _ := store.Resolve(ctx, "payment_status")
	row, _, _ := store.Get(ctx, table, []any{"p1"})
	fmt.Println(table, version, row["status"])
	// Output:
	// payment_status_v2 ready 1 rows
	// payment_status_v2 2 SETTLED
}

// Promote refuses a version that is not ready, and says why.
func ExampleStore_promote() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "reckon-example")
	defer os.RemoveAll(dir)
	store, _ := projections.OpenSQLite(ctx, filepath.Join(dir, "projections.db"))
	defer store.Close()
	store.Create(ctx, paymentStatus(), projections.Graph{Name: "payments", Version: 3, Fingerprint: "sha256:91c0"})

	err := store.Promote(ctx, "payment_status", 3)
	fmt.Println(err)
	var se *projections.StatusError
	fmt.Println(errors.As(err, &se), se.Status, errors.Is(err, projections.ErrStatus))
	// Output:
	// projections: cannot promote payment_status v3: status is building, want ready; its backfill has not completed: mark it ready first
	// true building true
}

// A store URL is validated before anything connects: every problem at
// once, each naming its setting and the fix.
func ExampleParseCassandraURL() {
	_, err := projections.ParseCassandraURL("cassandra://cass1,cass2/Payments?consistency=QUORUMM&retries=-1")
	fmt.Println(err)
	fmt.Println(errors.Is(err, projections.ErrConfig))
	// Output:
	// projections: invalid store configuration:
	//   consistency: "QUORUMM" is not a read/write consistency level (use ONE, LOCAL_ONE, QUORUM, LOCAL_QUORUM, EACH_QUORUM or ALL)
	//   keyspace: "Payments" is not a valid keyspace name (use [a-z][a-z0-9_]*, at most 48 characters: cassandra://host/keyspace)
	//   retries: -1 is negative (use a positive number)
	// true
}

// Diff compares two versions row by row before a promote.
func ExampleDiff() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "reckon-example")
	defer os.RemoveAll(dir)
	store, _ := projections.OpenSQLite(ctx, filepath.Join(dir, "projections.db"))
	defer store.Close()
	for v, status := range map[int]string{1: "CAPTURED", 2: "SETTLED"} {
		info, _ := store.Create(ctx, paymentStatus(), projections.Graph{Name: "payments", Version: v, Fingerprint: fmt.Sprint("fp", v)})
		store.Apply(ctx, info.Table, []projections.Write{
			{Key: []any{"p1"}, Row: map[string]any{"status": "AUTHORIZED", "amount_minor": int64(10)}, Version: 1},
			{Key: []any{"p2"}, Row: map[string]any{"status": status, "amount_minor": int64(20)}, Version: 1},
		})
	}
	rep, err := projections.Diff(ctx, store, "payment_status", 1, 2, 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.FromRows, rep.ToRows, rep.Added, rep.Removed, rep.Changed, rep.Unchanged)
	for _, c := range rep.ChangedRows {
		fmt.Println(c.Key, c.Columns)
	}
	// Output:
	// 2 2 0 0 1 1
	// p2 [{status CAPTURED SETTLED}]
}
