package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/reckon-dev/reckon/live"
)

func newRunCmd() *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "run [--config FILE] [flags]",
		Short: "Run the graph live against Kafka until SIGTERM or SIGINT",
		Long: `Run the configured graph live against Kafka in a consumer group: the
start-up checks (topics, co-partitioning, schema gate), then consume,
process, write projections and publish mismatches, committing offsets only
after outputs are durable. Serves /metrics, /healthz and /readyz on
--http-addr (read-only). On SIGTERM or SIGINT it stops polling, makes the
outputs durable, commits and leaves the group within shutdown_grace, then
exits 0. The only built-in graph is payments (examples/payments).

Settings come from --config FILE, RECKON_… variables and flags (flags win);
see "reckon config show" and the README's settings table.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			log := cfg.logger(cmd.ErrOrStderr())
			return runLive(cmd.Context(), cfg, log, prometheus.NewRegistry())
		},
	}
	cf.add(cmd)
	return cmd
}

// runLive runs the configured graph through the live driver until ctx
// ends, serving the driver's health and metrics on cfg.HTTP.Addr, with the
// driver's metrics in reg. It returns once the driver and the HTTP server
// have stopped.
func runLive(ctx context.Context, cfg *config, log *slog.Logger, reg *prometheus.Registry, opts ...live.Opt) error {
	g, err := cfg.graph()
	if err != nil {
		return err
	}
	d, err := live.New(g, cfg.Config, append([]live.Opt{live.WithLogger(log), live.WithMetrics(reg)}, opts...)...)
	if err != nil {
		return err
	}
	stopHTTP, err := serveHTTP(cfg.HTTP.Addr, d.Handler(), log)
	if err != nil {
		return err
	}
	err = d.Run(ctx)
	return errors.Join(err, stopHTTP())
}

// httpShutdownTimeout bounds the HTTP server's shutdown once the driver has
// stopped: a process told to stop exits within shutdown_grace plus this.
const httpShutdownTimeout = 5 * time.Second

// serveHTTP serves h on addr (nothing when addr is empty) until the
// returned stop is called; stop shuts the server down and waits for it.
func serveHTTP(addr string, h http.Handler, log *slog.Logger) (stop func() error, err error) {
	if addr == "" {
		return func() error { return nil }, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.addr: %w (choose a free address with --http-addr)", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("serving metrics and health", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(ctx)
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	}, nil
}
