package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/internal/testenv"
	"github.com/reckon-dev/reckon/live/devstack"
	"github.com/reckon-dev/reckon/projections"
	"github.com/reckon-dev/reckon/schemas"
)

// freeAddr returns a local address with a port that was free just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a buffer that a command writes while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// eventually fails t unless cond holds within d; it checks every 50ms.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		<-tick.C
	}
}

// background runs fn until the test ends, then cancels its context and
// checks that it returned nil.
func background(t *testing.T, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// startStack opens the dev stack kept in dir on free ports and serves it
// until the test ends.
func startStack(t *testing.T, dir string, partitions int32) *devstack.Stack {
	t.Helper()
	stack, err := devstack.Open(t.Context(), devstack.Config{Dir: dir, KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	background(t, stack.Run)
	return stack
}

// httpGet returns the status code and body of url, or 0 when it does not
// answer.
func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// exitCode waits up to d for a command's exit code.
func exitCode(t *testing.T, code <-chan int, d time.Duration, stderr *syncBuffer) int {
	t.Helper()
	select {
	case c := <-code:
		return c
	case <-time.After(d):
		t.Fatalf("still running after %v\nstderr:\n%s", d, stderr.String())
	}
	return -1
}

// TestDev runs "reckon dev --for 15s" as a user types it and checks that
// the broker answers a Kafka client and the health endpoints answer while
// it runs, that it exits 0, that projections filled the SQLite file, and
// (on the persisted stack, restarted) that mismatches are on the topic,
// read alike by "reckon mismatches tail" and by kcat.
func TestDev(t *testing.T) {
	if testing.Short() {
		t.Skip("runs reckon dev for 15s")
	}
	dir := t.TempDir()
	kafkaAddr, registryAddr, httpAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(t.Context(), []string{"dev", "--dir", dir, "--kafka-addr", kafkaAddr, "--registry-addr", registryAddr,
			"--http-addr", httpAddr, "--for", "15s", "--log-format", "json"}, nil, &stdout, &stderr)
	}()

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	eventually(t, 10*time.Second, "the broker lists the payments topics", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		topics, err := adm.ListTopics(ctx)
		return err == nil && topics.Has(payments.TopicPayments) && topics.Has(payments.TopicMismatches)
	})
	eventually(t, 10*time.Second, "/readyz answers 200", func() bool {
		c, _ := httpGet("http://" + httpAddr + "/readyz")
		return c == http.StatusOK
	})
	eventually(t, 10*time.Second, "/metrics counts consumed records", func() bool {
		_, m := httpGet("http://" + httpAddr + "/metrics")
		return strings.Contains(m, `reckon_live_records_in_total{topic="payments"}`)
	})
	if c := exitCode(t, code, 60*time.Second, &stderr); c != 0 {
		t.Fatalf("reckon dev --for 15s exited %d\nstderr:\n%s", c, stderr.String())
	}
	for _, want := range []string{"kafka       " + kafkaAddr, "registry    http://" + registryAddr,
		"projections " + filepath.Join(dir, "projections.db"), "metrics     http://" + httpAddr + "/metrics"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), `"msg":"summary"`) {
		t.Errorf("no summary log lines on stderr (stdout is not a terminal):\n%.3000s", stderr.String())
	}

	store, err := projections.Open(t.Context(), "sqlite:"+filepath.Join(dir, "projections.db"), projections.WithCreate(false))
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	err = store.Scan(t.Context(), "payment_status_v2", func(projections.Row) error { rows++; return nil })
	store.Close()
	if err != nil || rows == 0 {
		t.Fatalf("payment_status_v2: %d rows, %v", rows, err)
	}

	// The stack persisted in dir: open it again and read the mismatches.
	stack := startStack(t, dir, 0)
	brokers := stack.Brokers()[0]
	tail := func(args ...string) []string {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append([]string{"mismatches", "tail", "--brokers", brokers, "--registry", stack.RegistryURL()}, args...)
		if c := run(t.Context(), args, nil, &out, &errOut); c != 0 {
			t.Fatalf("reckon %s: exit %d\n%s", strings.Join(args, " "), c, errOut.String())
		}
		return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	}
	all := tail("--format", "json")
	if len(all) < 10 {
		t.Fatalf("only %d mismatches after 15s of traffic:\n%s", len(all), strings.Join(all, "\n"))
	}
	type coords struct {
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
		Key       string `json:"key"`
	}
	var got []coords
	open := 0
	for _, line := range all {
		var m struct {
			coords
			Value struct {
				Key    string `json:"key"`
				Status string `json:"status"`
			} `json:"value"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		if !strings.HasPrefix(m.Key, m.Value.Key) || (m.Value.Status != "OPEN" && m.Value.Status != "RESOLVED") {
			t.Errorf("mismatch %s: value key %q status %q", m.Key, m.Value.Key, m.Value.Status)
		}
		if m.Value.Status == "OPEN" {
			open++
		}
		got = append(got, m.coords)
	}
	if opens := tail("--open-only"); len(opens) != open {
		t.Errorf("--open-only printed %d lines, the JSON had %d open", len(opens), open)
	}

	// What kcat reads from the topic: the same records, keys and offsets.
	kcat := testenv.Tool(t, "kcat")
	out, err := exec.CommandContext(t.Context(), kcat, "-C", "-b", brokers, "-t", payments.TopicMismatches, "-e", "-J", "-q").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	var want []coords
	for line := range strings.Lines(string(out)) {
		var c coords
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("kcat line: %v: %s", err, line)
		}
		want = append(want, c)
	}
	order := func(a, b coords) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		t.Errorf("tail --format json read %d records, kcat %d; first tail %v, first kcat %v", len(got), len(want), got[:1], want[:min(1, len(want))])
	}
}

// TestMismatchesTail runs "reckon mismatches tail" against the dev stack's
// broker and registry, on mismatch records produced by hand.
func TestMismatchesTail(t *testing.T) {
	stack := startStack(t, t.TempDir(), 1)
	ids, err := stack.Setup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	writer, err := schemas.Parse(payments.Mismatch)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(stack.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	produce := func(key, status string, ts time.Time, reasons ...any) {
		t.Helper()
		v := map[string]any{"id": key + status, "key": key, "graph": "payments", "graph_version": int32(2), "reconciler": "amounts",
			"status": status, "reasons": append([]any{}, reasons...),
			"left":  []any{map[string]any{"topic": "payments", "partition": int32(0), "offset": int64(7), "event_time": t0}},
			"right": []any{}, "event_time": t0}
		body, err := writer.AppendBinary(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		r := &kgo.Record{Topic: payments.TopicMismatches, Key: []byte(key), Value: schemas.AppendFrame(nil, ids[payments.TopicMismatches][0], body), Timestamp: ts}
		if err := prod.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	str := func(s string) any { return map[string]any{"string": s} }
	produce("pay-1", "OPEN", t0, map[string]any{"kind": "FIELD_MISMATCH", "field": str("amount_minor"), "left_value": str("1200"), "right_value": str("1250"), "detail": ""})
	produce("pay-2", "OPEN", t0, map[string]any{"kind": "MISSING_RIGHT", "field": nil, "left_value": nil, "right_value": nil, "detail": "no right event within 24h0m0s"})
	produce("pay-1", "RESOLVED", t0.Add(time.Hour))

	tail := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append([]string{"mismatches", "tail", "--brokers", stack.Brokers()[0], "--registry", stack.RegistryURL()}, args...)
		if c := run(t.Context(), args, nil, &out, &errOut); c != wantCode {
			t.Fatalf("reckon %s: exit %d, want %d\n%s", strings.Join(args, " "), c, wantCode, errOut.String())
		}
		return out.String(), errOut.String()
	}
	text := `pay-1 OPEN FIELD_MISMATCH amount_minor 1200≠1250  left payments/0@7  right -  (p0@0 payments v2)
pay-2 OPEN MISSING_RIGHT (no right event within 24h0m0s)  left payments/0@7  right -  (p0@1 payments v2)
pay-1 RESOLVED  left payments/0@7  right -  (p0@2 payments v2)
`
	if out, _ := tail(0); out != text {
		t.Errorf("text:\n%s\nwant:\n%s", out, text)
	}
	if out, _ := tail(0, "--open-only", "--reason", "missing_right"); out != strings.Split(text, "\n")[1]+"\n" {
		t.Errorf("--open-only --reason missing_right:\n%s", out)
	}
	if out, _ := tail(0, "--from", t0.Add(time.Minute).Format(time.RFC3339)); out != strings.Split(text, "\n")[2]+"\n" {
		t.Errorf("--from a time:\n%s", out)
	}
	if out, _ := tail(0, "--from", "end"); out != "" {
		t.Errorf("--from end:\n%s", out)
	}
	wantJSON := fmt.Sprintf(`{"topic":"reconciliation-mismatches","partition":0,"offset":2,"timestamp":"2026-03-01T13:00:00Z","key":"pay-1","schema_id":%d,"value":{"id":"pay-1RESOLVED","key":"pay-1","graph":"payments","graph_version":2,"reconciler":"amounts","status":"RESOLVED","reasons":[],"left":[{"topic":"payments","partition":0,"offset":7,"event_time":"2026-03-01T12:00:00Z"}],"right":[],"event_time":"2026-03-01T12:00:00Z"}}`+"\n", ids[payments.TopicMismatches][0])
	if out, _ := tail(0, "--format", "json", "--from", "2026-03-01T12:30:00Z"); out != wantJSON {
		t.Errorf("json:\n%s\nwant:\n%s", out, wantJSON)
	}
	if _, errOut := tail(2, "--from", "yesterday"); !strings.Contains(errOut, "--from: mismatches: from \"yesterday\": use beginning, end or an RFC 3339 time") {
		t.Errorf("bad --from: %s", errOut)
	}
	if _, errOut := tail(2, "--format", "xml"); !strings.Contains(errOut, `--format "xml": use text or json`) {
		t.Errorf("bad --format: %s", errOut)
	}
	if _, errOut := tail(1, "--topic", "nope"); !strings.Contains(errOut, `mismatches: unknown topic "nope"`) {
		t.Errorf("unknown topic: %s", errOut)
	}

	// --follow prints what arrives later and stops on cancel, exit 0.
	var out, errOut syncBuffer
	fctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- run(fctx, []string{"mismatches", "tail", "--brokers", stack.Brokers()[0], "--registry", stack.RegistryURL(),
			"--follow", "--from", "end"}, nil, &out, &errOut)
	}()
	// Records produced until the tail, which started at the end, sees one.
	eventually(t, 20*time.Second, "--follow prints a record produced after it started", func() bool {
		produce("pay-3", "OPEN", t0, map[string]any{"kind": "LATE", "field": nil, "left_value": nil, "right_value": nil, "detail": ""})
		return strings.Contains(out.String(), "pay-3 OPEN LATE")
	})
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("--follow after cancel: exit %d\n%s", c, errOut.String())
	}
}

// TestRenderSummary pins the one-screen summary that reckon dev draws on
// a terminal.
func TestRenderSummary(t *testing.T) {
	got := renderSummary(devstack.Stats{Produced: 1200, Consumed: 1180, Lag: 20, Matched: 400, Open: 7, Resolved: 30, Unmatched: 3,
		Reasons:     map[string]int{"MISSING_RIGHT": 3, "FIELD_MISMATCH": 4},
		DeadLetters: map[string]float64{"late": 2}}, 299.6)
	want := `reckon dev — payments vs ledger, live

  events/s          300
  produced         1200
  consumed         1180
  lag                20
  matched           400
  unmatched           3
  mismatches          7 open, 30 resolved
    FIELD_MISMATCH            4
    MISSING_RIGHT             3
  dead letters        2
    late                      2

Ctrl-C stops cleanly.
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
