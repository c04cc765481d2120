package live_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
)

// BenchmarkLive measures, on one kfake broker holding the same payments
// records (v1 and v2 writers), the throughput of the live driver on the
// payments graph — decode and resolve, match, reconcile, windows,
// projections into SQLite, mismatch publishing, checkpoints — against a
// bare franz-go group consume loop that only counts the records. Each
// iteration consumes every record with a fresh group (and a fresh SQLite
// store).
func BenchmarkLive(b *testing.B) {
	e := newEnv(b, 4)
	ds := payments.Generate(payments.GeneratorConfig{Payments: 50000, Partitions: 4, Interval: 10 * time.Second})
	e.produce(ds, 0, -1)
	events := int64(ds.Len())
	g, err := payments.Graph(2)
	if err != nil {
		b.Fatal(err)
	}
	adm := kadm.NewClient(e.kafka())
	iter := 0
	group := func(prefix string) string {
		iter++
		return prefix + "-" + time.Now().Format("150405.000000") + "-" + string(rune('a'+iter%26))
	}

	for _, bm := range []struct{ name, delivery string }{
		{"driver", live.DeliveryAtLeastOnce}, {"driver-exactly-once", live.DeliveryExactlyOnce},
	} {
		b.Run(bm.name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				cfg := e.config(group("bench"))
				cfg.Store = "sqlite:" + filepath.Join(b.TempDir(), "projections.db")
				cfg.CommitInterval = 200 * time.Millisecond
				cfg.Delivery = bm.delivery
				start := time.Now()
				r := e.start(g, cfg)
				waitFor(b, "the driver to catch up", 5*time.Minute, r.done, func() (bool, error) {
					return e.caughtUp(adm, cfg.Kafka.Group)
				})
				total += time.Since(start)
				if err := r.stop(b); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(events)*float64(b.N)/total.Seconds(), "events/s")
		})
	}

	b.Run("bare-franz-go", func(b *testing.B) {
		var total time.Duration
		for range b.N {
			start := time.Now()
			cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumerGroup(group("bare")),
				kgo.ConsumeTopics(payments.TopicPayments, payments.TopicLedger),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				b.Fatal(err)
			}
			n := int64(0)
			for n < events {
				fs := cl.PollFetches(context.Background())
				if err := fs.Err0(); err != nil {
					b.Fatal(err)
				}
				n += int64(fs.NumRecords())
			}
			if err := cl.CommitUncommittedOffsets(context.Background()); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
			cl.Close()
		}
		b.ReportMetric(float64(events)*float64(b.N)/total.Seconds(), "events/s")
	})
}

// BenchmarkLiveLatency produces the payments records at a fixed rate
// (20,000 events/s) to a driver that is already running, and measures
// the end-to-end latency of each reconciliation: from the produce time of
// the later of a matched pair's two input records to the time the driver
// published the pair's first mismatch state (the Kafka timestamps of the
// records, both stamped by their producers on one clock).
func BenchmarkLiveLatency(b *testing.B) {
	var lat []time.Duration
	for range b.N {
		lat = append(lat, measureLatency(b)...)
	}
	if len(lat) == 0 {
		b.Fatal("no matched pair on the mismatch topic")
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/float64(b.N), "pairs")
}

// measureLatency is one run of BenchmarkLiveLatency on a new broker; the
// benchmark timer runs while records are produced and processed.
func measureLatency(b *testing.B) []time.Duration {
	const rate = 20000 // events/s
	b.StopTimer()
	e := newEnv(b, 4)
	ds := payments.Generate(payments.GeneratorConfig{Payments: 30000, Partitions: 4, Interval: 10 * time.Second})
	g, err := payments.Graph(2)
	if err != nil {
		b.Fatal(err)
	}
	// Records in arrival order across topics and partitions, as a
	// producer would send them.
	type pending struct {
		rec     *kgo.Record
		arrival time.Time
	}
	var all []pending
	for _, topic := range []string{payments.TopicPayments, payments.TopicLedger} {
		for p, evs := range ds.Events[topic] {
			for _, ev := range evs {
				all = append(all, pending{&kgo.Record{Topic: topic, Partition: int32(p), Key: []byte(ev.Key), Value: e.encode(ev)}, ev.Arrival})
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].arrival.Before(all[j].arrival) })
	adm := kadm.NewClient(e.kafka())
	cfg := e.config("latency")
	r := e.start(g, cfg)
	waitFor(b, "the driver to be ready", time.Minute, r.done, func() (bool, error) { return r.d.Ready(), nil })

	b.StartTimer()
	cl := e.kafka(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	tick := time.NewTicker(10 * time.Millisecond)
	per := rate / 100
	for i := 0; i < len(all); i += per {
		<-tick.C
		for _, p := range all[i:min(i+per, len(all))] {
			cl.Produce(context.Background(), p.rec, nil)
		}
	}
	tick.Stop()
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	waitFor(b, "the driver to catch up", 2*time.Minute, r.done, func() (bool, error) { return e.caughtUp(adm, cfg.Kafka.Group) })
	b.StopTimer()
	if err := r.stop(b); err != nil {
		b.Fatal(err)
	}

	produced := map[string]time.Time{}
	for _, topic := range []string{payments.TopicPayments, payments.TopicLedger} {
		for _, rec := range e.topicRecords(topic) {
			produced[fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Partition, rec.Offset)] = rec.Timestamp
		}
	}
	seen := map[string]bool{}
	var lat []time.Duration
	for _, rec := range e.topicRecords(payments.TopicMismatches) {
		if seen[string(rec.Key)] {
			continue
		}
		v := mustDecode(b, e.client, rec.Value)
		left, right := v["left"].([]any), v["right"].([]any)
		if len(left) == 0 || len(right) == 0 {
			continue // decided by a timeout, not by an arrival
		}
		seen[string(rec.Key)] = true
		var in time.Time
		for _, src := range append(left, right...) {
			s := src.(map[string]any)
			t := produced[fmt.Sprintf("%s/%d@%d", s["topic"], s["partition"], s["offset"])]
			if t.After(in) {
				in = t
			}
		}
		lat = append(lat, rec.Timestamp.Sub(in))
	}
	return lat
}
