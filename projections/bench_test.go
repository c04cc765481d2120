package projections

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/operators"
)

// The benchmark workload is shaped like the payments example's
// payment_status projection: each payment is written three times
// (AUTHORIZED, CAPTURED, SETTLED) with increasing versions, its updates a
// few dozen events apart in the stream, as a backfill replays them.
const (
	benchKeys       = 10_000
	benchFlushEvery = 5_000 // outputs between two flushes, as a driver commits
)

type benchEvent struct {
	key, round int
	at         int
}

func benchEvents() []benchEvent {
	evs := make([]benchEvent, 0, 3*benchKeys)
	for k := range benchKeys {
		for r := range 3 {
			evs = append(evs, benchEvent{key: k, round: r, at: k + 40*r})
		}
	}
	slices.SortStableFunc(evs, func(a, b benchEvent) int { return a.at - b.at })
	return evs
}

var benchStatuses = [3]string{"AUTHORIZED", "CAPTURED", "SETTLED"}

// benchOutputs returns the outputs of one pass over the workload; pass
// raises every version so that each pass really updates the rows.
func benchOutputs(table string, evs []benchEvent, pass int) []operators.Output {
	outs := make([]operators.Output, len(evs))
	created := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	// As a graph emits them: columns positionally, one shared slice of names.
	names := columnNames(paymentSpec(table))
	for i, e := range evs {
		id := fmt.Sprintf("pay-%08d", e.key)
		v := int64(pass*3 + e.round + 1)
		var booked any
		if e.round > 0 {
			booked = created.Add(time.Duration(e.key)*time.Second + time.Hour)
		}
		key, _ := operators.EncodeKey([]any{id})
		vals := []any{id, fmt.Sprintf("m-%04d", e.key%997), int64(1000 + e.key), "EUR", benchStatuses[e.round],
			created.Add(time.Duration(e.key) * time.Second), booked}
		outs[i] = operators.Output{Target: operators.TargetTable, Name: table, Kind: operators.Upsert,
			Key: key, KeyValues: vals[:1], Columns: names, Values: vals, Version: v}
	}
	return outs
}

// benchSink writes passes of the workload through a Sink and reports the
// rate of row upserts the graph produced (rows/s).
func benchSink(b *testing.B, s Store, coalesce bool) {
	ctx := context.Background()
	name := fmt.Sprintf("bench_%d", time.Now().UnixNano()%1e9)
	sink, err := NewSink(ctx, s, Graph{Name: "payments", Version: 1, Fingerprint: "bench"},
		[]*operators.TableSpec{paymentSpec(name)}, WithCoalescing(coalesce), WithMaxPending(1<<30))
	if err != nil {
		b.Fatal(err)
	}
	evs := benchEvents()
	passes := make([][]operators.Output, 0)
	for i := 0; i < 4; i++ {
		passes = append(passes, benchOutputs(name, evs, i))
	}
	rows, pass := 0, 0
	b.ResetTimer()
	for b.Loop() {
		outs := passes[pass%len(passes)]
		if pass >= len(passes) {
			// Later passes reuse the outputs with higher versions.
			for i := range outs {
				outs[i].Version += int64(3 * len(passes))
			}
		}
		pass++
		for i := 0; i < len(outs); i += benchFlushEvery {
			if err := sink.Write(ctx, outs[i:min(i+benchFlushEvery, len(outs))]); err != nil {
				b.Fatal(err)
			}
			if err := sink.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
		rows += len(outs)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if err := sink.Close(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkSQLiteUpsert(b *testing.B) {
	s, err := OpenSQLite(context.Background(), b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("coalesce=off", func(b *testing.B) { benchSink(b, s, false) })
	b.Run("coalesce=on", func(b *testing.B) { benchSink(b, s, true) })
}

// BenchmarkCassandraUpsert measures the Cassandra store's client side
// (binding, batching, the driver) against the in-memory CQL server.
func BenchmarkCassandraUpsert(b *testing.B) {
	srv := newCQLServer(b)
	cfg := serverConfig(srv)
	s := openCassandraT(b, cfg)
	b.Run("coalesce=off", func(b *testing.B) { benchSink(b, s, false) })
	b.Run("coalesce=on", func(b *testing.B) { benchSink(b, s, true) })
}
