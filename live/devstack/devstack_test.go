package devstack_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live/devstack"
)

// start opens the stack kept in dir on free ports and serves it until the
// test ends.
func start(t *testing.T, dir string) (*devstack.Stack, func()) {
	t.Helper()
	s, err := devstack.Open(t.Context(), devstack.Config{Dir: dir, KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return s, func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// endOffsets sums the end offsets of the input topics.
func endOffsets(t *testing.T, s *devstack.Stack) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(t.Context(), payments.TopicPayments, payments.TopicLedger)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// TestStackSurvivesRestart sets a stack up, produces traffic, stops it, and
// opens it again from the same directory: the topics (with their partition
// counts and the mismatch topic's compaction), the records and the schema
// ids are all still there, and setting up again changes nothing.
func TestStackSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s, stop := start(t, dir)
	ids, err := s.Setup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ids[payments.TopicPayments] != [2]int{1, 2} || ids[payments.TopicLedger] != [2]int{3, 4} {
		t.Errorf("writer ids %v", ids)
	}
	tr := &devstack.Traffic{Brokers: s.Brokers(), IDs: ids, Rate: 2000}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for tr.Produced() < 500 && time.Now().Before(deadline) {
		<-tick.C
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	produced := tr.Produced()
	if produced < 500 {
		t.Fatalf("produced %d events in 20s at 2000/s", produced)
	}
	if got := endOffsets(t, s); got != produced {
		t.Errorf("the broker holds %d records, the traffic had %d acknowledged", got, produced)
	}
	stop()

	s, stop = start(t, dir)
	defer stop()
	if got := endOffsets(t, s); got != produced {
		t.Errorf("after a restart the broker holds %d records, want %d", got, produced)
	}
	again, err := s.Setup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(ids) || again[payments.TopicPayments] != ids[payments.TopicPayments] || again[payments.TopicLedger] != ids[payments.TopicLedger] {
		t.Errorf("schema ids after a restart %v, before %v", again, ids)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range devstack.Topics(devstack.DefaultPartitions) {
		if n := len(topics[tp.Name].Partitions); n != int(tp.Partitions) {
			t.Errorf("%s: %d partitions, want %d", tp.Name, n, tp.Partitions)
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(t.Context(), payments.TopicMismatches)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On(payments.TopicMismatches, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			policy = *c.Value
		}
	}
	if policy != "compact" {
		t.Errorf("%s cleanup.policy %q, want compact", payments.TopicMismatches, policy)
	}
}
