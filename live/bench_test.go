package live_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
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

	b.Run("driver", func(b *testing.B) {
		var total time.Duration
		for range b.N {
			cfg := e.config(group("bench"))
			cfg.Store = "sqlite:" + filepath.Join(b.TempDir(), "projections.db")
			cfg.CommitInterval = 200 * time.Millisecond
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
