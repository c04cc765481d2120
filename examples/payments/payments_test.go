package payments_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/operators"
)

func TestGeneratorIsDeterministic(t *testing.T) {
	cfg := payments.GeneratorConfig{Payments: 500, Seed: 3}
	a, b := payments.Generate(cfg), payments.Generate(cfg)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed generated different traffic")
	}
	cfg.Seed = 4
	if reflect.DeepEqual(a, payments.Generate(cfg)) {
		t.Fatal("another seed generated the same traffic")
	}
	writers := map[int]int{}
	for topic, parts := range a.Events {
		for p, evs := range parts {
			for i, e := range evs {
				writers[e.Writer]++
				if payments.PartitionOf(e.Key, a.Partitions) != int32(p) {
					t.Fatalf("%s/%d: key %s on the wrong partition", topic, p, e.Key)
				}
				if i > 0 && e.Arrival.Before(evs[i-1].Arrival) {
					t.Fatalf("%s/%d: events not in arrival order", topic, p)
				}
			}
		}
	}
	if writers[1] == 0 || writers[2] == 0 {
		t.Fatalf("want both writer versions, got %v", writers)
	}
}

// TestGraphFindsInjectedDiscrepancies runs the reference graph over
// generated traffic and checks that every kind of injected problem
// surfaces as the mismatch reason it should.
func TestGraphFindsInjectedDiscrepancies(t *testing.T) {
	g, err := payments.Graph(1)
	if err != nil {
		t.Fatal(err)
	}
	ds := payments.Generate(payments.GeneratorConfig{Payments: 4000, Seed: 11, Interval: 30 * time.Second, Discrepancies: 0.2})
	recs := ds.Records()
	final := map[string]operators.Output{} // mismatch key → highest version
	rows := map[string]int64{}
	for p := range int(ds.Partitions) {
		task, err := g.NewTask(int32(p))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range interleave(recs, p) {
			if err := task.Process(r); err != nil {
				t.Fatal(err)
			}
			for _, o := range task.Outputs() {
				switch {
				case o.Name == payments.TopicMismatches && o.Version > final[o.Key].Version:
					final[o.Key] = o
				case o.Target == operators.TargetTable && o.Version > rows[o.Name+o.Key]:
					rows[o.Name+o.Key] = o.Version
				}
			}
		}
	}
	reasons := map[string]int{}
	status := map[string]int{}
	for _, o := range final {
		status[o.Mismatch.Status.String()]++
		for _, r := range o.Mismatch.Reasons {
			kind := r.Kind.String()
			if r.Field != "" {
				kind += " " + r.Field
			}
			reasons[kind]++
		}
	}
	t.Logf("statuses %v reasons %v rows %d", status, reasons, len(rows))
	for _, want := range []string{
		"MISSING_LEFT", "MISSING_RIGHT", "LATE",
		"FIELD_MISMATCH amount_minor", "FIELD_MISMATCH currency", "FIELD_MISMATCH status→direction",
	} {
		if reasons[want] == 0 {
			t.Errorf("no %s reason in the reconciliation of generated traffic", want)
		}
	}
	if status["RESOLVED"] < 2*status["OPEN"] {
		t.Errorf("most payments should reconcile: %v", status)
	}
}

func ExampleGraph() {
	g, err := payments.Graph(2)
	if err != nil {
		panic(err)
	}
	for _, in := range g.Inputs() {
		fmt.Println(in.Topic, "co-partitioned with", in.CoPartitioned)
	}
	for _, tb := range g.Tables() {
		fmt.Println(tb.Table)
	}
	// Output:
	// payments co-partitioned with [ledger-entries]
	// ledger-entries co-partitioned with [payments]
	// payment_status_v2
	// merchant_daily_totals_v2
}
