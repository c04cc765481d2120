package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/reckon-dev/reckon/live/devstack"
	"github.com/reckon-dev/reckon/schemas"
)

func newDevCmd() *cobra.Command {
	var cf configFlags
	var dir, kafkaAddr, registryAddr string
	var rate int
	var runFor time.Duration
	cmd := &cobra.Command{
		Use:   "dev [--dir DIR] [--kafka-addr ADDR] [--registry-addr ADDR] [--http-addr ADDR] [--rate N] [--for DURATION]",
		Short: "Run the whole flow on this machine: broker, registry, SQLite projections, traffic and the live graph",
		Long: `Run reckon's whole flow in one process with nothing installed but Go:
an in-process Kafka broker speaking the real protocol on --kafka-addr
(franz-go's kfake, its data in DIR/kafka, so topics, records and offsets
survive restarts), the embedded schema registry on --registry-addr (DIR/
registry), projections in SQLite (DIR/projections.db), and metrics and
health on --http-addr. It creates the payments, ledger-entries and
reconciliation-mismatches (compacted) topics, registers the reference
schemas (v1, then v2, writers), produces the payments generator's traffic
(v1 and v2 writers, injected discrepancies) at --rate events per second,
and runs the payments graph through the same code as "reckon run".

It prints where everything is, then a live summary every second: one
screen on a terminal, log lines otherwise. With --for it stops after that
long; SIGTERM or SIGINT stop it too; either way it shuts down cleanly and
exits 0. Other settings (--log-level, --graph-version, …) are those of
"reckon run"; dev sets the brokers, registry, store and topic creation
itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range []string{"brokers", "registry", "store"} {
				if cmd.Flags().Changed(f) {
					return &exitError{code: 2, err: fmt.Errorf("--%s: dev runs its own broker, registry and store: use --kafka-addr, --registry-addr and --dir", f)}
				}
			}
			if rate <= 0 {
				return &exitError{code: 2, err: fmt.Errorf("--rate %d: use a positive number of events per second", rate)}
			}
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if runFor > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, runFor)
				defer cancel()
			}
			d := dev{cfg: cfg, dir: dir, kafkaAddr: kafkaAddr, registryAddr: registryAddr, rate: rate,
				stdout: cmd.OutOrStdout(), log: cfg.logger(cmd.ErrOrStderr())}
			return d.run(ctx)
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&dir, "dir", devstack.DefaultDir, "state root: broker data, registry and SQLite projections")
	cmd.Flags().StringVar(&kafkaAddr, "kafka-addr", devstack.DefaultKafkaAddr, "the broker's listen address")
	cmd.Flags().StringVar(&registryAddr, "registry-addr", devstack.DefaultRegistryAddr, "the schema registry's listen address")
	cmd.Flags().IntVar(&rate, "rate", devstack.DefaultRate, "traffic in events per second")
	cmd.Flags().DurationVar(&runFor, "for", 0, "stop after this long and exit 0 (default: until SIGTERM or SIGINT)")
	return cmd
}

// dev is one run of "reckon dev".
type dev struct {
	cfg                     *config
	dir                     string
	kafkaAddr, registryAddr string
	rate                    int
	stdout                  io.Writer
	log                     *slog.Logger
}

func (d *dev) run(ctx context.Context) error {
	stack, err := devstack.Open(ctx, devstack.Config{Dir: d.dir, KafkaAddr: d.kafkaAddr, RegistryAddr: d.registryAddr, Logger: d.log})
	if err != nil {
		return err
	}
	// The stack outlives the driver, whose shutdown commits to the broker.
	stackCtx, stopStack := context.WithCancel(context.WithoutCancel(ctx))
	stackDone := make(chan error, 1)
	go func() { stackDone <- stack.Run(stackCtx) }()
	err = d.serve(ctx, stack)
	stopStack()
	return errors.Join(err, <-stackDone)
}

// serve sets the stack up and runs the traffic, the driver and the
// summary until ctx ends.
func (d *dev) serve(ctx context.Context, stack *devstack.Stack) error {
	ids, err := stack.Setup(ctx)
	if err != nil {
		return err
	}
	d.cfg.Kafka.Brokers = stack.Brokers()
	d.cfg.Registry.URL = stack.RegistryURL()
	d.cfg.Store = "sqlite:" + filepath.Join(d.dir, "projections.db")
	d.cfg.Topics.Create = true
	where := d.where(stack)
	fmt.Fprint(d.stdout, where)

	reg, err := schemas.NewClient(stack.RegistryURL())
	if err != nil {
		return err
	}
	metrics := prometheus.NewRegistry()
	traffic := &devstack.Traffic{Brokers: stack.Brokers(), IDs: ids, Rate: d.rate}
	mon := &devstack.Monitor{Brokers: stack.Brokers(), Registry: reg, Metrics: metrics, Traffic: traffic}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return traffic.Run(gctx) })
	g.Go(func() error { return runLive(gctx, d.cfg, d.log, metrics) })
	g.Go(func() error { return mon.Run(gctx) })
	g.Go(func() error { return d.summarize(gctx, mon, where) })
	return g.Wait()
}

// where tells where the stack's parts are.
func (d *dev) where(stack *devstack.Stack) string {
	brokers := strings.Join(stack.Brokers(), ",")
	return fmt.Sprintf(`reckon dev: the payments graph live on this machine (state in %s)
  kafka       %s   (kcat -b %s -L)
  registry    %s
  projections %s
  metrics     http://%s/metrics   (/healthz, /readyz)
  mismatches  reckon mismatches tail --brokers %s --registry %s --follow
`, d.dir, brokers, brokers, stack.RegistryURL(), strings.TrimPrefix(d.cfg.Store, "sqlite:"), d.cfg.HTTP.Addr, brokers, stack.RegistryURL())
}

// summarize prints the summary every second until ctx ends: one screen
// under where when stdout is a terminal, log lines otherwise.
func (d *dev) summarize(ctx context.Context, mon *devstack.Monitor, where string) error {
	tty := false
	if f, ok := d.stdout.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last float64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		s, err := mon.Stats()
		if err != nil {
			return err
		}
		rate := s.Consumed - last
		last = s.Consumed
		if tty {
			fmt.Fprint(d.stdout, "\x1b[H\x1b[2J"+where+"\n"+renderSummary(s, rate))
			continue
		}
		d.log.Info("summary", "events_per_s", rate, "produced", s.Produced, "consumed", s.Consumed, "lag", s.Lag,
			"matched", s.Matched, "unmatched", s.Unmatched, "open", s.Open, "resolved", s.Resolved,
			"reasons", counts(s.Reasons), "dead_letters", counts(s.DeadLetters))
	}
}

// renderSummary is the one-screen summary.
func renderSummary(s devstack.Stats, rate float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "reckon dev — payments vs ledger, live\n\n")
	fmt.Fprintf(&b, "  events/s     %8.0f\n", rate)
	fmt.Fprintf(&b, "  produced     %8d\n", s.Produced)
	fmt.Fprintf(&b, "  consumed     %8.0f\n", s.Consumed)
	fmt.Fprintf(&b, "  lag          %8.0f\n", s.Lag)
	fmt.Fprintf(&b, "  matched      %8.0f\n", s.Matched)
	fmt.Fprintf(&b, "  unmatched    %8d\n", s.Unmatched)
	fmt.Fprintf(&b, "  mismatches   %8d open, %d resolved\n", s.Open, s.Resolved)
	for _, k := range slices.Sorted(maps.Keys(s.Reasons)) {
		fmt.Fprintf(&b, "    %-20s %6d\n", k, s.Reasons[k])
	}
	var dead float64
	for _, v := range s.DeadLetters {
		dead += v
	}
	fmt.Fprintf(&b, "  dead letters %8.0f\n", dead)
	for _, k := range slices.Sorted(maps.Keys(s.DeadLetters)) {
		fmt.Fprintf(&b, "    %-20s %6.0f\n", k, s.DeadLetters[k])
	}
	b.WriteString("\nCtrl-C stops cleanly.\n")
	return b.String()
}

// counts renders a map as "k=v k=v", sorted by key, for a log line.
func counts[V int | float64](m map[string]V) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, " ")
}
