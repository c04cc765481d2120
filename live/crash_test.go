package live_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
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
	interval, err := time.ParseDuration(os.Getenv("RECKON_LIVE_COMMIT_INTERVAL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := live.Config{
		Kafka:          live.KafkaConfig{Brokers: strings.Split(os.Getenv("RECKON_LIVE_BROKERS"), ","), Group: os.Getenv("RECKON_LIVE_GROUP"), InstanceID: "child"},
		Registry:       live.RegistryConfig{URL: os.Getenv("RECKON_LIVE_REGISTRY")},
		Store:          os.Getenv("RECKON_LIVE_STORE"),
		Topics:         live.TopicsConfig{Create: true},
		CommitInterval: interval,
		IdleTimeout:    -1,
		Delivery:       os.Getenv("RECKON_LIVE_DELIVERY"),
	}
	opts := []live.Opt{live.WithLogger(quiet()), live.WithKafkaOpts(
		kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(100*time.Millisecond))}
	if chunk, _ := strconv.Atoi(os.Getenv("RECKON_LIVE_CHUNK")); chunk > 0 {
		opts = append(opts, live.WithChangelogRecordBytes(chunk))
	}
	err = live.Run(ctx, g, cfg, opts...)
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
//
// It runs twice: with snapshots written whole, and in chunks (see
// TestChunkedSnapshots), so that kills land between a snapshot's chunks
// and its manifest too.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses; skipped with -short")
	}
	forEachChunking(t, testCrash)
}

func testCrash(t *testing.T, chunk int) {
	e := newEnv(t, 4)
	e.chunk = chunk
	ds := payments.Generate(payments.GeneratorConfig{Payments: 3000, Partitions: 4, Interval: time.Minute})
	g, ex := referenceRun(t, ds)
	cfg := e.config("crash")
	cfg.CommitInterval = 20 * time.Millisecond
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const kills = 10
	adm := kadm.NewClient(e.kafka())
	e.crashRounds(ds, cfg, kills, nil, killWithin(t, rng, 250*time.Millisecond))
	reg := prometheus.NewRegistry()
	waitStart := time.Now()
	cfg.Kafka.InstanceID = "child" // replaces the last killed member at once
	e.runToEnd(g, cfg, live.WithMetrics(reg), live.WithKafkaOpts(
		kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(100*time.Millisecond)))
	t.Logf("%d kills; the final run caught up in %s", kills, time.Since(waitStart).Round(time.Millisecond))
	ok, err := e.caughtUp(adm, cfg.Kafka.Group)
	if err != nil || !ok {
		t.Fatalf("not caught up after the final run: %v", err)
	}
	e.checkTables(g, ex)
	e.checkMismatches(ex)
	if got, want := countDistinct(e.topicRecords(cfg.Kafka.Group+"-dead-letters")), ex.deadLetters; got != want {
		t.Errorf("%d distinct dead letters, want %d", got, want)
	}
	e.checkChunked(cfg)
}

// crashRounds splits ds into kills+1 chunks. For each of the first kills
// chunks it produces the chunk, calls before (if not nil), starts a
// driver process with cfg, waits for killAt to return and kills the
// process with SIGKILL; then it produces the last chunk.
func (e *env) crashRounds(ds *payments.Dataset, cfg live.Config, kills int, before func(i int), killAt func(i int, exited <-chan error)) {
	t := e.t
	t.Helper()
	n := len(ds.Events[payments.TopicPayments][0])
	adm := kadm.NewClient(e.kafka())
	for i := range kills {
		e.produce(ds, i*n/(kills+1), (i+1)*n/(kills+1))
		if before != nil {
			before(i)
		}
		cmd, exited := e.child(cfg)
		killAt(i, exited)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-exited
		t.Logf("kill %d: committed %d", i, committedSum(adm, cfg.Kafka.Group))
	}
	e.produce(ds, kills*n/(kills+1), -1)
}

// killWithin is a kill point of crashRounds: a random moment in the
// first d of the run (start-up, restore, processing or checkpointing).
func killWithin(t *testing.T, rng *rand.Rand, d time.Duration) func(i int, exited <-chan error) {
	return func(i int, exited <-chan error) {
		select {
		case err := <-exited:
			t.Fatalf("child %d exited before it was killed: %v", i, err)
		case <-time.After(time.Duration(rng.Int64N(int64(d)))):
		}
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

// TestSIGTERM sends SIGTERM to a driver process that has caught up: it
// exits 0 within the grace period with its offsets committed and its
// snapshots written, so a restarted member processes only what arrives
// afterwards (records_in_total counts exactly those). Meanwhile the
// restarted member's Handler answers /healthz, /readyz and /metrics.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess; skipped with -short")
	}
	e := newEnv(t, 4)
	ds := dataset()
	g, ex := referenceRun(t, ds)
	cfg := e.config("sigterm")
	cfg.CommitInterval = 20 * time.Millisecond
	half := len(ds.Events[payments.TopicPayments][0]) / 2
	e.produce(ds, 0, half)
	adm := kadm.NewClient(e.kafka())
	caughtUp := func() (bool, error) { return e.caughtUp(adm, cfg.Kafka.Group) }

	cmd, exited := e.child(cfg)
	waitFor(t, "the child to catch up", 20*time.Second, exited, caughtUp)
	before := totalEnd(t, adm)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("child exited with %v, want 0", err)
		}
	case <-time.After(live.DefaultShutdownGrace):
		t.Fatal("child did not exit within the default grace period")
	}
	t.Logf("child exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))

	reg := prometheus.NewRegistry()
	d, err := live.New(g, cfg, live.WithMetrics(reg), live.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	if code := get(t, srv.URL+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz before Run: %d, want 503", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, returned := make(chan error, 1), make(chan struct{})
	go func() {
		done <- d.Run(ctx)
		close(returned)
	}()
	defer func() { cancel(); <-returned }()
	waitFor(t, "/readyz to answer 200", 20*time.Second, done, func() (bool, error) {
		return get(t, srv.URL+"/readyz") == http.StatusOK && metric(t, reg, "reckon_live_tasks", "", "") == 4, nil
	})
	if code := get(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while running: %d, want 200", code)
	}
	e.produce(ds, half, -1)
	waitFor(t, "the restarted member to catch up", 20*time.Second, done, caughtUp)
	if got, want := metric(t, reg, "reckon_live_records_in_total", "", ""), float64(totalEnd(t, adm)-before); got != want {
		t.Errorf("the restarted member consumed %v records, want %v (only those produced after SIGTERM)", got, want)
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"reckon_live_records_in_total", "reckon_live_consumer_lag", "reckon_live_commit_seconds", "reckon_kafka_consumer_"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	e.checkTables(g, ex)
	if dups := e.checkMismatches(ex); dups != 0 {
		t.Errorf("%d mismatch records published twice", dups)
	}
}

// child starts the test binary as a driver process with cfg's group,
// store, commit interval and delivery; exited reports its end. The test's
// cleanup kills it if it is still running.
func (e *env) child(cfg live.Config) (cmd *exec.Cmd, exited <-chan error) {
	e.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		e.t.Fatal(err)
	}
	cmd = exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "RECKON_LIVE_CHILD=1",
		"RECKON_LIVE_BROKERS="+strings.Join(e.brokers, ","), "RECKON_LIVE_GROUP="+cfg.Kafka.Group,
		"RECKON_LIVE_REGISTRY="+e.registry, "RECKON_LIVE_STORE="+cfg.Store, "RECKON_LIVE_DELIVERY="+cfg.Delivery,
		"RECKON_LIVE_COMMIT_INTERVAL="+cfg.CommitInterval.String(), "RECKON_LIVE_CHUNK="+strconv.Itoa(e.chunk))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	ch := make(chan error, 1)
	waited := make(chan struct{})
	go func() {
		ch <- cmd.Wait()
		close(waited)
	}()
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill() // fails harmlessly once it has exited
		<-waited
	})
	return cmd, ch
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// totalEnd sums the end offsets (high watermarks: committed or not) of
// topics, by default the inputs.
func totalEnd(t *testing.T, adm *kadm.Client, topics ...string) int64 {
	t.Helper()
	if len(topics) == 0 {
		topics = []string{payments.TopicPayments, payments.TopicLedger}
	}
	ends, err := adm.ListEndOffsets(context.Background(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}
