package payments_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/operators"
)

// interleave merges the per-topic record lists of one partition by arrival
// (Kafka timestamp), as a consumer of both topics would see them.
func interleave(recs map[string][][]operators.Record, part int) []*operators.Record {
	p, l := recs[payments.TopicPayments][part], recs[payments.TopicLedger][part]
	out := make([]*operators.Record, 0, len(p)+len(l))
	i, j := 0, 0
	for i < len(p) || j < len(l) {
		if j >= len(l) || (i < len(p) && !p[i].Timestamp.After(l[j].Timestamp)) {
			out = append(out, &p[i])
			i++
		} else {
			out = append(out, &l[j])
			j++
		}
	}
	return out
}

// BenchmarkPaymentsGraph drives the reference graph on one task (one core)
// with pre-decoded records: filter, match, reconcile, two projections, a
// window and mismatch publishing. It reports events/s and the heap bytes
// of state per open match key, beyond the record values themselves.
//
// Two ways of handing over the records: decoded-batches does as a driver
// does, each batch decoded just before the graph processes it, so the
// graph meets its input in cache; resident-records processes the values
// of the whole dataset, decoded long before (about 50 MB of maps), so
// every record comes from main memory — a pessimistic bound.
func BenchmarkPaymentsGraph(b *testing.B) {
	g, err := payments.Graph(1)
	if err != nil {
		b.Fatal(err)
	}
	// 25,000 payments over about three days of event time: windows close
	// and state is purged as in a steady stream.
	ds := payments.Generate(payments.GeneratorConfig{Payments: 25000, Partitions: 1, Seed: 7, Interval: 10 * time.Second})
	recs := interleave(ds.Records(), 0)
	b.Run("resident-records", func(b *testing.B) {
		b.ReportAllocs()
		events := 0
		var outs []operators.Output // a driver's buffer, reused
		for b.Loop() {
			task, err := g.NewTask(0)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				if err := task.Process(r); err != nil {
					b.Fatal(err)
				}
				if events++; events%256 == 0 {
					outs = task.AppendOutputs(outs[:0])
				}
			}
			outs = task.AppendOutputs(outs[:0])
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("decoded-batches", func(b *testing.B) {
		// Each batch of 256 records is decoded (here: deep copies of the
		// generated values, made with the timer stopped) just before the
		// graph processes it, as live and replay fetch and decode.
		b.ReportAllocs()
		events := 0
		var outs []operators.Output
		batch := make([]operators.Record, 0, 256)
		for b.Loop() {
			task, err := g.NewTask(0)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(recs); i += cap(batch) {
				b.StopTimer()
				batch = batch[:0]
				for _, r := range recs[i:min(i+cap(batch), len(recs))] {
					c := *r
					c.Value = deepCopy(r.Value)
					batch = append(batch, c)
				}
				b.StartTimer()
				for j := range batch {
					if err := task.Process(&batch[j]); err != nil {
						b.Fatal(err)
					}
				}
				events += len(batch)
				outs = task.AppendOutputs(outs[:0])
			}
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("state", func(b *testing.B) {
		// Payments only: every key stays open, waiting for its ledger entry.
		pays := ds.Records()[payments.TopicPayments][0]
		var perKey float64
		for b.Loop() {
			task, err := g.NewTask(0)
			if err != nil {
				b.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := range pays {
				if err := task.Process(&pays[i]); err != nil {
					b.Fatal(err)
				}
			}
			task.Outputs()
			runtime.GC()
			runtime.ReadMemStats(&after)
			keys := task.StateKeys()
			if keys == 0 {
				b.Fatal("no open keys")
			}
			perKey = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(keys)
			runtime.KeepAlive(task)
		}
		b.ReportMetric(perKey, "state-bytes/key")
	})
}

// deepCopy copies a generated value as a decoder would build it anew:
// nested records and unions are new maps, strings new strings, and
// numbers and times boxed anew.
func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			v = deepCopy(x)
		case string:
			v = strings.Clone(x)
		case int64:
			v = rebox(x)
		case int32:
			v = rebox(x)
		case float64:
			v = rebox(x)
		case time.Time:
			v = rebox(x)
		}
		out[k] = v
	}
	return out
}

// rebox returns x in a new interface value, allocated on the heap.
//
//go:noinline
func rebox[T any](x T) any {
	p := new(T)
	*p = x
	return *p
}
