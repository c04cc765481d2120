package live_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
)

// forEachChunking runs test with task snapshots written whole (chunk 0:
// the default limit, which the test datasets stay under) and in chunks of
// 16 KiB.
func forEachChunking(t *testing.T, test func(t *testing.T, chunk int)) {
	for _, c := range []struct {
		name  string
		chunk int
	}{{"whole", 0}, {"chunked", 16 << 10}} {
		t.Run(c.name, func(t *testing.T) { test(t, c.chunk) })
	}
}

// checkChunked checks, when the test's drivers wrote snapshots in
// chunks, that the changelog holds manifests: that the chunked path ran.
func (e *env) checkChunked(cfg live.Config) {
	e.t.Helper()
	if e.chunk == 0 {
		return
	}
	if n := len(manifests(e.topicRecords(changelog(cfg)))); n == 0 {
		e.t.Errorf("no chunked snapshot in %s: the snapshots fit in %d bytes", changelog(cfg), e.chunk)
	}
}

func changelog(cfg live.Config) string {
	if cfg.Topics.Changelog != "" {
		return cfg.Topics.Changelog
	}
	return cfg.Kafka.Group + "-changelog"
}

// manifests returns the manifests among changelog records, by slot.
func manifests(recs []*kgo.Record) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		var chunked bool
		var slot string
		for _, h := range r.Headers {
			switch h.Key {
			case live.HeaderChunks:
				chunked = true
			case live.HeaderSlot:
				slot = string(h.Value)
			}
		}
		if chunked {
			out[slot]++
		}
	}
	return out
}

// TestChunkedSnapshots writes every snapshot in chunks of 1 KiB (a task's
// state here is tens of KiB): a driver stopped after the first half of the
// data and started again restores every task from its chunks, so the
// final state equals the reference run; chunked snapshots alternate
// between the two slots.
func TestChunkedSnapshots(t *testing.T) {
	e := newEnv(t, 4)
	e.chunk = 1 << 10
	ds := dataset()
	g, ex := referenceRun(t, ds)
	cfg := e.config("chunked")
	half := len(ds.Events[payments.TopicPayments][0]) / 2
	e.produce(ds, 0, half)
	e.runToEnd(g, cfg)
	e.produce(ds, half, -1)
	e.runToEnd(g, cfg)
	e.checkTables(g, ex)
	e.checkMismatches(ex)
	if slots := manifests(e.topicRecords(changelog(cfg))); slots["a"] == 0 || slots["b"] == 0 {
		t.Errorf("manifests by slot: %v; want both slots used", slots)
	}
}

// A manifest whose chunks are missing stops the start with a
// SnapshotError: the task is not started empty.
func TestChunkedSnapshotMissingChunks(t *testing.T) {
	e := newEnv(t, 4)
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config("missing-chunks")
	adm := kadm.NewClient(e.kafka())
	if _, err := adm.CreateTopic(context.Background(), 4, 1, nil, changelog(cfg)); err != nil {
		t.Fatal(err)
	}
	rec := &kgo.Record{Topic: changelog(cfg), Partition: 0, Key: []byte("payments/v2/0"), Value: make([]byte, 32),
		Headers: []kgo.RecordHeader{{Key: live.HeaderFingerprint, Value: []byte(g.Fingerprint())},
			{Key: live.HeaderSlot, Value: []byte("a")}, {Key: live.HeaderChunks, Value: []byte("2")}}}
	if err := e.kafka(kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	err = live.Run(context.Background(), g, cfg, live.WithLogger(quiet()))
	var se *live.SnapshotError
	if !errors.As(err, &se) || !errors.Is(err, live.ErrSnapshot) || se.Partition != 0 {
		t.Fatalf("Run returned %v, want a *live.SnapshotError for partition 0", err)
	}
}

// A changelog topic that refuses the snapshot records for their size stops
// the run with an error naming the topic setting and the record limit,
// instead of retrying forever.
func TestChangelogRecordTooLarge(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	e.produce(ds, 0, -1)
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config("too-large")
	if _, err := kadm.NewClient(e.kafka()).CreateTopic(context.Background(), 4, 1,
		map[string]*string{"cleanup.policy": kadm.StringPtr("compact"), "max.message.bytes": kadm.StringPtr("2048")}, changelog(cfg)); err != nil {
		t.Fatal(err)
	}
	err = live.Run(context.Background(), g, cfg, live.WithLogger(quiet()))
	if err == nil || !strings.Contains(err.Error(), "max.message.bytes") || !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("Run returned %v, want MESSAGE_TOO_LARGE naming max.message.bytes", err)
	}
}
