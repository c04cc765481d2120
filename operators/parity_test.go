package operators_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/operators"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The parity property runs at least 500 generated cases per make test.
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == f.DefValue {
		_ = flag.Set("rapid.checks", "500")
	}
	os.Exit(m.Run())
}

const leftSchema = `{"type":"record","name":"L","fields":[
 {"name":"id","type":["null","string"],"default":null},
 {"name":"grp","type":"string"},
 {"name":"amount","type":"long"},
 {"name":"fee","type":"double"},
 {"name":"status","type":{"type":"enum","name":"S","symbols":["CAPTURED","REFUNDED","ODD"]}},
 {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`

const rightSchema = `{"type":"record","name":"R","fields":[
 {"name":"id","type":"string"},
 {"name":"amount","type":"long"},
 {"name":"fee","type":"double"},
 {"name":"dir","type":"string"},
 {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`

// parityGraph uses every operator: filter, map, match with its three
// outputs, reconcile, publish, and the three window shapes.
func parityGraph(t testing.TB) *operators.Graph {
	g := operators.NewGraph("parity", 3)
	l := g.Input("left", operators.KeyField("id"), operators.TimeField("at"),
		operators.AllowedLateness(5*time.Minute), operators.ReaderSchema(leftSchema))
	r := g.Input("right", operators.KeyField("id"), operators.TimeField("at"),
		operators.AllowedLateness(3*time.Minute), operators.ReaderSchema(rightSchema))
	g.CoPartition("left", "right")
	kept := g.Filter("not-odd", l, func(e operators.Event) bool {
		s, _ := e.Value.String("status")
		return s != "ODD"
	})
	m := g.Match("lr", kept, r, 10*time.Minute)
	rec := g.Reconcile("rec", m.Matched,
		operators.Equal("amount"),
		operators.Tolerance("fee", 0.5, 0),
		operators.Mapped("status", "dir", map[string]string{"CAPTURED": "CREDIT", "REFUNDED": "DEBIT"}))
	g.Publish(rec.Mismatches, "mismatches", "", payments.Mismatch)
	g.Project(m.Matched, operators.Table("matched").PartitionKey("id").
		Columns("amount", "pairs").Column("right_amount", "right.amount", 0).Column("right_at", "right.at", 0))
	g.Project(m.UnmatchedLeft, operators.Table("unmatched_left").PartitionKey("key").Columns("amount", "unmatched"))
	g.Project(m.UnmatchedRight, operators.Table("unmatched_right").PartitionKey("key").Columns("amount", "unmatched"))
	tum := g.Window("tum", kept, operators.Tumbling(30*time.Minute), operators.GroupBy("grp"),
		operators.Count("n"), operators.Sum("total", "amount"), operators.Sum("fees", "fee"),
		operators.Min("lo", "amount"), operators.Max("hi", "at"))
	g.Project(tum, operators.Table("tumbling").PartitionKey("grp").ClusteringKey("window_start", "partition").
		Columns("n", "total", "fees", "lo", "hi"))
	sl := g.Window("sl", r, operators.Sliding(30*time.Minute, 10*time.Minute), operators.Count("n"), operators.Sum("fees", "fee"))
	g.Project(sl, operators.Table("sliding").PartitionKey("key").ClusteringKey("window_start", "partition").Columns("n", "fees"))
	se := g.Window("se", kept, operators.Session(15*time.Minute), operators.GroupBy("grp"),
		operators.Count("n"), operators.Sum("total", "amount"))
	g.Project(se, operators.Table("sessions").PartitionKey("grp").ClusteringKey("window_start", "partition").
		Columns("window_end", "n", "total"))
	scaled := g.Map("scale", r, func(e operators.Event) (map[string]any, error) {
		a, err := e.Value.Int64("amount")
		if err != nil {
			return nil, err
		}
		if a%97 == 0 {
			return nil, errors.New("amount divisible by 97")
		}
		v := map[string]any{"id": e.Key, "amount": a * 10, "at": e.Time}
		return v, nil
	})
	g.Project(scaled, operators.Table("scaled").PartitionKey("id").Typed("id", operators.TypeText).
		Column("amount", "amount", operators.TypeBigInt).Column("at", "at", operators.TypeTimestamp))
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return g
}

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// genInput draws per-partition sequences for two co-partitioned topics:
// few keys (so several candidates compete), minute-granular times (so ties
// happen), out-of-order and late events, duplicates of whole events, and
// now and then a record without a key.
func genInput(t *rapid.T) input {
	in := input{"left": {}, "right": {}}
	parts := rapid.IntRange(1, 2).Draw(t, "partitions")
	for p := range int32(parts) {
		for _, topic := range []string{"left", "right"} {
			n := rapid.IntRange(0, 18).Draw(t, fmt.Sprintf("n-%s-%d", topic, p))
			clock := 0
			var recs []operators.Record
			for range n {
				clock += rapid.IntRange(0, 12).Draw(t, "step")
				at := clock - rapid.IntRange(0, 9).Draw(t, "disorder") // behind: out of order, sometimes late
				// Co-partitioned: a key lives on one partition.
				id := fmt.Sprintf("p%d-k%d", p, rapid.IntRange(0, 4).Draw(t, "key"))
				ts := base.Add(time.Duration(at) * time.Minute)
				amount := int64(rapid.IntRange(1, 5).Draw(t, "amount")) * 97 / int64(rapid.IntRange(1, 2).Draw(t, "div"))
				fee := float64(rapid.IntRange(0, 8).Draw(t, "fee")) * 0.25
				var v map[string]any
				if topic == "left" {
					status := rapid.SampledFrom([]string{"CAPTURED", "CAPTURED", "REFUNDED", "ODD"}).Draw(t, "status")
					var idv any = map[string]any{"string": id}
					if rapid.IntRange(0, 30).Draw(t, "nokey") == 0 {
						idv = nil
					}
					v = map[string]any{"id": idv, "grp": fmt.Sprintf("g%d", rapid.IntRange(0, 2).Draw(t, "grp")),
						"amount": amount, "fee": fee, "status": status, "at": ts}
				} else {
					dir := rapid.SampledFrom([]string{"CREDIT", "CREDIT", "DEBIT"}).Draw(t, "dir")
					v = map[string]any{"id": id, "amount": amount, "fee": fee, "dir": dir, "at": ts}
				}
				recs = append(recs, operators.Record{Topic: topic, Partition: p, Value: v})
				if rapid.IntRange(0, 8).Draw(t, "dup") == 0 {
					// The same event sent twice, at the next offset.
					recs = append(recs, recs[len(recs)-1])
				}
			}
			for i := range recs {
				recs[i].Offset = int64(i)
			}
			in[topic][p] = recs
		}
	}
	return in
}

type randomSchedule struct {
	t                     *rapid.T
	maxBatch              int
	snapEvery, crashEvery int
}

func (s *randomSchedule) next(n int) int { return rapid.IntRange(0, n-1).Draw(s.t, "pick") }
func (s *randomSchedule) batch() int     { return rapid.IntRange(1, s.maxBatch).Draw(s.t, "batch") }
func (s *randomSchedule) snapshot() bool {
	return s.snapEvery > 0 && rapid.IntRange(0, s.snapEvery-1).Draw(s.t, "snap") == 0
}
func (s *randomSchedule) crash() bool {
	return s.crashEvery > 0 && rapid.IntRange(0, s.crashEvery-1).Draw(s.t, "crash") == 0
}

// TestParity is the parity guarantee: the same per-partition inputs give
// byte-identical final projection rows and mismatch states whatever the
// interleaving of partitions, the batch sizes, and the crash and restore
// points; and no two writes carry one version with different contents.
func TestParity(t *testing.T) {
	g := parityGraph(t)
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		ref := newStore()
		run(t, g, in, nil, ref)
		want := ref.state()
		variants := []*randomSchedule{
			{t: t, maxBatch: 1}, // (a) random interleaving
			{t: t, maxBatch: 7}, // (b) random batch sizes
			{t: t, maxBatch: 4, snapEvery: 3, crashEvery: 5}, // (c) crashes and restores
		}
		for i, sch := range variants {
			got := newStore()
			run(t, g, in, sch, got)
			if c := append(got.finalConflicts(), ref.finalConflicts()...); len(c) > 0 {
				t.Fatalf("variant %d: %v", i, c)
			}
			if !bytes.Equal(got.state(), want) {
				t.Fatalf("variant %d: final state differs\n--- reference\n%s\n--- variant\n%s", i, ref.describe(), got.describe())
			}
		}
	})
}
