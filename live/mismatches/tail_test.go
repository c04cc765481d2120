package mismatches_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live/mismatches"
	"github.com/reckon-dev/reckon/schemas"
)

// stack is a kfake broker listening on TCP with the mismatch topic (3
// partitions) and a registry holding the mismatch schema.
type stack struct {
	brokers []string
	reg     *schemas.Client
	prod    *kgo.Client
	id      int
	writer  *schemas.Schema
}

func newStack(t *testing.T) *stack {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, mismatches.DefaultTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	r, err := schemas.OpenRegistry(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	c, err := schemas.NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	writer, err := schemas.Parse(payments.Mismatch)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Register(t.Context(), mismatches.DefaultTopic+"-value", writer)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	return &stack{brokers: cluster.ListenAddrs(), reg: c, prod: prod, id: id, writer: writer}
}

// reason is one reason of a produced mismatch.
type reason struct{ kind, field, left, right string }

// produce writes the state of key to partition, with timestamp ts, and
// returns its offset.
func (s *stack) produce(t *testing.T, part int32, key, status string, ts time.Time, reasons ...reason) int64 {
	t.Helper()
	rs := []any{}
	for _, r := range reasons {
		item := map[string]any{"kind": r.kind, "field": nil, "left_value": nil, "right_value": nil, "detail": ""}
		if r.field != "" {
			item["field"] = map[string]any{"string": r.field}
			item["left_value"] = map[string]any{"string": r.left}
			item["right_value"] = map[string]any{"string": r.right}
		}
		rs = append(rs, item)
	}
	src := func(topic string, off int64) []any {
		return []any{map[string]any{"topic": topic, "partition": part, "offset": off, "event_time": ts}}
	}
	v := map[string]any{
		"id": "id-" + key + "-" + status, "key": key, "graph": "payments", "graph_version": int32(2),
		"reconciler": "amounts", "status": status, "reasons": rs,
		"left": src("payments", 7), "right": src("ledger-entries", 9), "event_time": ts,
	}
	body, err := s.writer.AppendBinary(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return s.produceRaw(t, part, key, schemas.AppendFrame(nil, s.id, body), ts)
}

func (s *stack) produceRaw(t *testing.T, part int32, key string, value []byte, ts time.Time) int64 {
	t.Helper()
	r := &kgo.Record{Topic: mismatches.DefaultTopic, Partition: part, Key: []byte(key), Value: value, Timestamp: ts}
	if err := s.prod.ProduceSync(t.Context(), r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return r.Offset
}

func (s *stack) config(t *testing.T) mismatches.Config {
	t.Helper()
	reader, err := schemas.Parse(payments.Mismatch)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := schemas.NewDecoder(s.reg, reader)
	if err != nil {
		t.Fatal(err)
	}
	return mismatches.Config{Brokers: s.brokers, Decoder: dec}
}

// tail runs Tail and returns "partition@offset key status" per mismatch.
func tail(t *testing.T, cfg mismatches.Config) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []string
	err := mismatches.Tail(ctx, cfg, func(m *mismatches.Mismatch) error {
		if m.Err != nil {
			got = append(got, fmt.Sprintf("%d@%d %s BAD", m.Partition, m.Offset, m.Key))
			return nil
		}
		got = append(got, fmt.Sprintf("%d@%d %s %s", m.Partition, m.Offset, m.Key, m.Status()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Partitions are read concurrently; offsets are in order within each.
	slices.Sort(got)
	return got
}

func equal(t *testing.T, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestTailReadsToTheEndAndFilters(t *testing.T) {
	s := newStack(t)
	s.produce(t, 0, "pay-1", "OPEN", t0, reason{"FIELD_MISMATCH", "amount_minor", "1200", "1250"})
	s.produce(t, 0, "pay-2", "OPEN", t0, reason{kind: "MISSING_RIGHT"})
	s.produce(t, 1, "pay-3", "RESOLVED", t0)
	s.produce(t, 0, "pay-1", "RESOLVED", t0.Add(time.Minute))
	s.produceRaw(t, 2, "pay-4", []byte{1, 2}, t0) // not framed
	s.produceRaw(t, 2, "pay-5", nil, t0)          // a tombstone

	cfg := s.config(t)
	// Tail returns at the end offsets: the test would time out otherwise.
	equal(t, tail(t, cfg), "0@0 pay-1 OPEN", "0@1 pay-2 OPEN", "0@2 pay-1 RESOLVED", "1@0 pay-3 RESOLVED", "2@0 pay-4 BAD", "2@1 pay-5 ")

	open := cfg
	open.OpenOnly = true
	equal(t, tail(t, open), "0@0 pay-1 OPEN", "0@1 pay-2 OPEN", "2@0 pay-4 BAD")

	byReason := cfg
	byReason.Reasons = []string{"missing_right", "LATE"}
	equal(t, tail(t, byReason), "0@1 pay-2 OPEN", "2@0 pay-4 BAD")

	end := cfg
	end.From = mismatches.End
	equal(t, tail(t, end))

	after := cfg
	after.From = mismatches.At(t0.Add(30 * time.Second))
	equal(t, tail(t, after), "0@2 pay-1 RESOLVED")
}

func TestTailReadsReasonsAndProvenance(t *testing.T) {
	s := newStack(t)
	s.produce(t, 1, "pay-1", "OPEN", t0, reason{"FIELD_MISMATCH", "amount_minor", "1200", "1250"}, reason{kind: "LATE"})
	var got *mismatches.Mismatch
	err := mismatches.Tail(t.Context(), s.config(t), func(m *mismatches.Mismatch) error { got = m; return nil })
	if err != nil {
		t.Fatal(err)
	}
	rs := got.Reasons()
	if len(rs) != 2 || rs[0].Kind != "FIELD_MISMATCH" || rs[0].Field != "amount_minor" ||
		*rs[0].Left != "1200" || *rs[0].Right != "1250" || rs[1].Kind != "LATE" || rs[1].Left != nil {
		t.Errorf("reasons: %+v", rs)
	}
	left, right := got.Sources("left"), got.Sources("right")
	if len(left) != 1 || left[0] != (mismatches.Source{Topic: "payments", Partition: 1, Offset: 7, EventTime: t0}) ||
		len(right) != 1 || right[0].Topic != "ledger-entries" || right[0].Offset != 9 {
		t.Errorf("sources: %+v %+v", left, right)
	}
	if got.SchemaID != s.id {
		t.Errorf("schema id %d, want %d", got.SchemaID, s.id)
	}
}

func TestTailFollowsUntilCancelled(t *testing.T) {
	s := newStack(t)
	s.produce(t, 0, "pay-1", "OPEN", t0, reason{kind: "MISSING_RIGHT"})
	cfg := s.config(t)
	cfg.Follow = true
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	seen := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- mismatches.Tail(ctx, cfg, func(m *mismatches.Mismatch) error {
			seen <- string(m.Key)
			return nil
		})
	}()
	if k := <-seen; k != "pay-1" {
		t.Fatalf("first: %q", k)
	}
	// A record produced after Tail reached the end is read too.
	s.produce(t, 2, "pay-2", "OPEN", t0, reason{kind: "MISSING_LEFT"})
	if k := <-seen; k != "pay-2" {
		t.Fatalf("second: %q", k)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Tail after cancel: %v, want nil", err)
	}
}

func TestTailErrors(t *testing.T) {
	s := newStack(t)
	cfg := s.config(t)
	cfg.Topic = "no-such-topic"
	err := mismatches.Tail(t.Context(), cfg, func(*mismatches.Mismatch) error { return nil })
	if !errors.Is(err, mismatches.ErrUnknownTopic) {
		t.Errorf("unknown topic: %v", err)
	}
	err = mismatches.Tail(t.Context(), mismatches.Config{}, func(*mismatches.Mismatch) error { return nil })
	if err == nil || err.Error() != "mismatches: no brokers: name at least one\nmismatches: no decoder: give one with the mismatch reader schema" {
		t.Errorf("empty config: %v", err)
	}
	s.produce(t, 0, "pay-1", "OPEN", t0)
	stop := errors.New("stop")
	err = mismatches.Tail(t.Context(), s.config(t), func(*mismatches.Mismatch) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("callback error: %v", err)
	}
	for _, bad := range []string{"yesterday", "2026-01-02"} {
		if _, err := mismatches.ParseFrom(bad); err == nil {
			t.Errorf("ParseFrom(%q): no error", bad)
		}
	}
	for _, good := range []string{"beginning", "end", "2026-01-02T15:04:05Z"} {
		f, err := mismatches.ParseFrom(good)
		if err != nil || f.String() != good {
			t.Errorf("ParseFrom(%q) = %v, %v", good, f, err)
		}
	}
}

// TestTailReadsCommitted: with exactly-once delivery the mismatch topic
// holds transactions; Tail reads committed records only (not those of an
// aborted transaction, nor of one still open) and still returns at the
// end, which an open transaction holds back to its first offset.
func TestTailReadsCommitted(t *testing.T) {
	s := newStack(t)
	plain := s.prod
	txn := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID(id))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		s.prod = cl
		return cl
	}
	committed := txn("committed")
	s.produce(t, 0, "pay-1", "OPEN", t0)
	if err := committed.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	aborted := txn("aborted")
	s.produce(t, 0, "pay-2", "OPEN", t0)
	if err := aborted.EndTransaction(t.Context(), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	txn("open")
	s.produce(t, 1, "pay-3", "OPEN", t0)
	s.prod = plain
	s.produce(t, 2, "pay-4", "RESOLVED", t0)
	// The commit marker of pay-1 is at 0@1, the aborted pay-2 at 0@2.
	equal(t, tail(t, s.config(t)), "0@0 pay-1 OPEN", "2@0 pay-4 RESOLVED")
}
