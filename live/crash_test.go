package live_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
)

// TestMain doubles as the crash test's child process: with
// RECKON_LIVE_CHILD set, the test binary runs the driver on the payments
// graph with the configuration in the environment until it is killed or
// sent SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("RECKON_LIVE_CHILD") != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

func child() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	g, err := payments.Graph(2)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := live.Config{
		Kafka:          live.KafkaConfig{Brokers: strings.Split(os.Getenv("RECKON_LIVE_BROKERS"), ","), Group: os.Getenv("RECKON_LIVE_GROUP"), InstanceID: "child"},
		Registry:       live.RegistryConfig{URL: os.Getenv("RECKON_LIVE_REGISTRY")},
		Store:          os.Getenv("RECKON_LIVE_STORE"),
		Topics:         live.TopicsConfig{Create: true},
		CommitInterval: 20 * time.Millisecond,
		IdleTimeout:    -1,
	}
	err = live.Run(ctx, g, cfg, live.WithLogger(quiet()), live.WithKafkaOpts(
		kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(100*time.Millisecond)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestCrash kills a driver process with SIGKILL at random points ten
// times while the dataset arrives in chunks, restarting it each time, then
// lets a last run finish: the final projections and mismatch states equal
// the reference run (outputs may be published again after a kill, with
// the same ids; none is lost and none is applied twice, since every
// sink keeps the highest version per key).
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses; skipped with -short")
	}
	e := newEnv(t, 4, kfake.GroupMinSessionTimeout(100*time.Millisecond))
	ds := payments.Generate(payments.GeneratorConfig{Payments: 3000, Partitions: 4, Interval: time.Minute})
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	ex := reference(t, g, ds)
	cfg := e.config("crash")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	n := len(ds.Events[payments.TopicPayments][0])
	const kills = 10
	adm := kadm.NewClient(e.kafka())
	killed := 0
	for i := range kills {
		e.produce(ds, i*n/(kills+1), (i+1)*n/(kills+1))
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "RECKON_LIVE_CHILD=1",
			"RECKON_LIVE_BROKERS="+strings.Join(e.brokers, ","), "RECKON_LIVE_GROUP="+cfg.Kafka.Group,
			"RECKON_LIVE_REGISTRY="+e.registry, "RECKON_LIVE_STORE="+cfg.Store)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// The kill point: a random moment in the first 250ms of the run
		// (start-up, restore, processing or checkpointing).
		select {
		case err := <-exited:
			t.Fatalf("child %d exited before it was killed: %v\n%s", i, err, stderr.String())
		case <-time.After(time.Duration(rng.IntN(250)) * time.Millisecond):
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-exited
		killed++
		t.Logf("kill %d: committed %d", i, committedSum(adm, cfg.Kafka.Group))
	}
	e.produce(ds, kills*n/(kills+1), -1)
	reg := prometheus.NewRegistry()
	waitStart := time.Now()
	cfg.Kafka.InstanceID = "child" // replaces the last killed member at once
	e.runToEnd(g, cfg, live.WithMetrics(reg), live.WithKafkaOpts(
		kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(100*time.Millisecond)))
	t.Logf("%d kills; the final run caught up in %s", killed, time.Since(waitStart).Round(time.Millisecond))
	ok, err := e.caughtUp(adm, cfg.Kafka.Group)
	if err != nil || !ok {
		t.Fatalf("not caught up after the final run: %v", err)
	}
	e.checkTables(g, ex)
	e.checkMismatches(ex)
	if got, want := countDistinct(e.topicRecords(cfg.Kafka.Group+"-dead-letters")), ex.deadLetters; got != want {
		t.Errorf("%d distinct dead letters, want %d", got, want)
	}
}

// countDistinct counts dead letters by their source coordinates (a kill
// may re-send one).
func countDistinct(recs []*kgo.Record) int {
	seen := map[string]bool{}
	for _, r := range recs {
		seen[header(r, live.HeaderConnectTopic)+"/"+header(r, live.HeaderConnectPartition)+"@"+header(r, live.HeaderConnectOffset)] = true
	}
	return len(seen)
}

// committedSum sums the group's committed offsets (for the log; -1
// before the group exists).
func committedSum(adm *kadm.Client, group string) int64 {
	os, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		return -1
	}
	var sum int64
	os.Each(func(o kadm.OffsetResponse) { sum += o.At })
	return sum
}
