package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/live/devstack"
)

// TestRunStopsCleanly runs "reckon run" against the dev stack's broker and
// registry with traffic flowing, waits until it is ready and has consumed,
// then interrupts it as SIGTERM does (main cancels run's context): it
// exits 0 after its final checkpoint, within the grace period, and the
// HTTP server has stopped.
func TestRunStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	stack := startStack(t, dir, 0)
	ids, err := stack.Setup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	traffic := &devstack.Traffic{Brokers: stack.Brokers(), IDs: ids, Rate: 500}
	background(t, traffic.Run)

	httpAddr := freeAddr(t)
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"run", "--brokers", stack.Brokers()[0], "--registry", stack.RegistryURL(),
			"--store", "sqlite:" + filepath.Join(dir, "projections.db"), "--create-topics",
			"--http-addr", httpAddr, "--shutdown-grace", "10s", "--commit-interval", "200ms"}, nil, &stdout, &stderr)
	}()
	get := func(path string) (int, string) { return httpGet("http://" + httpAddr + path) }
	eventually(t, 20*time.Second, "/readyz answers 200", func() bool { c, _ := get("/readyz"); return c == http.StatusOK })
	if c, body := get("/healthz"); c != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", c, body)
	}
	eventually(t, 20*time.Second, "the driver has consumed and committed", func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, `reckon_live_records_in_total{topic="payments"}`) && strings.Contains(m, `reckon_live_checkpoints_total{result="ok"}`)
	})

	interrupted := time.Now()
	interrupt()
	if c := exitCode(t, code, 30*time.Second, &stderr); c != 0 {
		t.Fatalf("exit %d after an interrupt\nstderr:\n%s", c, stderr.String())
	}
	if d := time.Since(interrupted); d > 10*time.Second {
		t.Errorf("stopped %v after the interrupt, beyond the 10s grace period", d)
	}
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("no clean stop logged:\n%s", stderr.String())
	}
	if c, _ := get("/healthz"); c != 0 {
		t.Errorf("the HTTP server still answers after run returned: %d", c)
	}
	if stdout.String() != "" {
		t.Errorf("run printed data on stdout: %q", stdout.String())
	}
}
