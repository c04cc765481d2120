package operators_test

import (
	"fmt"
	"time"

	"github.com/reckon-dev/reckon/operators"
)

// A graph matching payments with ledger entries, reconciled on amount.
func Example() {
	g := operators.NewGraph("payments", 1)
	pay := g.Input("payments", operators.KeyField("payment_id"), operators.TimeField("created_at"))
	led := g.Input("ledger", operators.KeyField("payment_id"), operators.TimeField("booked_at"))
	g.CoPartition("payments", "ledger")
	m := g.Match("payment-vs-ledger", pay, led, time.Hour)
	rec := g.Reconcile("amounts", m.Matched, operators.Equal("amount_minor"))
	g.Publish(rec.Mismatches, "mismatches", "", `{"type":"record","name":"Mismatch","fields":[]}`)
	if err := g.Validate(); err != nil {
		fmt.Println(err)
		return
	}

	task, _ := g.NewTask(0)
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	_ = task.Process(&operators.Record{Topic: "payments", Offset: 0,
		Value: map[string]any{"payment_id": "p1", "amount_minor": int64(500), "created_at": t0}})
	_ = task.Process(&operators.Record{Topic: "ledger", Offset: 0,
		Value: map[string]any{"payment_id": "p1", "amount_minor": int64(499), "booked_at": t0.Add(time.Minute)}})
	for _, o := range task.Outputs() {
		m := o.Mismatch
		fmt.Println(o.Name, o.Key, m.Status, m.Reasons[0].Kind, m.Reasons[0].Field, *m.Reasons[0].Left, *m.Reasons[0].Right)
	}
	// Output:
	// mismatches p1 OPEN FIELD_MISMATCH amount_minor 500 499
}

// Validate reports every problem of a graph at once.
func ExampleGraph_Validate() {
	g := operators.NewGraph("broken", 1)
	a := g.Input("a", operators.KeyField("id"))
	b := g.Input("b", operators.KeyField("id"), operators.KafkaTime())
	g.Match("m", a, b, time.Minute)
	fmt.Println(g.Validate())
	// Output:
	// operators: invalid graph: input "a": no event time: add TimeField(path) or KafkaTime()
	// operators: invalid graph: match "m": inputs [a b] are not declared co-partitioned; declare them with CoPartition("a", "b")
}

// A record the graph cannot key is a dead letter with its coordinates.
func ExampleTask_Process_deadLetter() {
	g := operators.NewGraph("g", 1)
	in := g.Input("events", operators.KeyField("id"), operators.KafkaTime())
	g.Project(in, operators.Table("events").PartitionKey("id").Typed("id", operators.TypeText))
	if err := g.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	task, _ := g.NewTask(3)
	_ = task.Process(&operators.Record{Topic: "events", Partition: 3, Offset: 41,
		Timestamp: time.Unix(1, 0), Value: map[string]any{"other": "x"}})
	for _, o := range task.Outputs() {
		fmt.Println(o.Kind, o.Err)
	}
	// Output:
	// dead-letter events/3@41: events: operators: record has no key: field "id" missing
}

// A task snapshot restores into a new task that resumes where it stopped.
func ExampleTask_Snapshot() {
	g := operators.NewGraph("g", 1)
	in := g.Input("events", operators.KeyField("id"), operators.KafkaTime())
	w := g.Window("per-minute", in, operators.Tumbling(time.Minute), operators.Count("n"))
	g.Project(w, operators.Table("counts").PartitionKey("key").ClusteringKey("window_start").Columns("n"))
	if err := g.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	task, _ := g.NewTask(0)
	_ = task.Process(&operators.Record{Topic: "events", Offset: 0, Timestamp: time.Unix(10, 0), Value: map[string]any{"id": "a"}})
	task.Outputs()
	snap, _ := task.Snapshot()

	restored, _ := g.NewTask(0)
	if err := restored.Restore(snap); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("resume at", restored.Offsets())
	_ = restored.Process(&operators.Record{Topic: "events", Offset: 1, Timestamp: time.Unix(70, 0), Value: map[string]any{"id": "a"}})
	for _, o := range restored.Outputs() {
		fmt.Println(o.Name, o.Row()["n"], o.Version)
	}
	// Output:
	// resume at map[events:1]
	// counts 1 3
}

// A driver takes each record's outputs into one buffer it reuses.
func ExampleTask_AppendOutputs() {
	g := operators.NewGraph("events", 1)
	ev := g.Input("events", operators.KeyField("id"), operators.TimeField("at"))
	g.Project(ev, operators.Table("latest").PartitionKey("id").Columns("n").
		Typed("id", operators.TypeText).Typed("n", operators.TypeBigInt))
	if err := g.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	task, _ := g.NewTask(0)
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	var outs []operators.Output
	for i := range 3 {
		_ = task.Process(&operators.Record{Topic: "events", Offset: int64(i),
			Value: map[string]any{"id": fmt.Sprint("e", i%2), "n": int64(i), "at": t0}})
		outs = task.AppendOutputs(outs[:0])
		for _, o := range outs {
			fmt.Println(o.KeyValues, o.Row()["n"], o.Version)
		}
	}
	fmt.Println(len(task.Outputs()), "left")
	// Output:
	// [e0] 0 1
	// [e1] 1 2
	// [e0] 2 3
	// 0 left
}
