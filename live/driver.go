package live

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/reckon-dev/reckon/operators"
)

// Driver runs a graph against Kafka. Create it with New, serve Handler
// for health and metrics, and call Run once.
type Driver struct {
	g       *operators.Graph
	cfg     Config // with defaults
	o       options
	log     *slog.Logger
	reg     *prometheus.Registry
	m       *metrics
	kpromC  *kprom.Metrics
	kpromP  *kprom.Metrics
	alive   atomic.Bool  // the poll loop runs
	started atomic.Bool  // start-up checks passed and the group is joined
	down    atomic.Int32 // dependencies failing right now
	// registryDown: the registry client is retrying an outage.
	registryDown atomic.Bool
	// kafka follows the consumer's and producer's broker connections.
	kafka brokerHealth
	ran   atomic.Bool
}

// Run checks, then runs g against Kafka until ctx ends or a fatal error
// occurs: New followed by Driver.Run.
func Run(ctx context.Context, g *operators.Graph, cfg Config, opts ...Opt) error {
	d, err := New(g, cfg, opts...)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

// New validates cfg and returns a driver for g (which must be validated).
// It contacts nothing: start-up checks run in Run.
func New(g *operators.Graph, cfg Config, opts ...Opt) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := g.NewTask(0); err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	d := &Driver{g: g, cfg: cfg.withDefaults(g.Name())}
	for _, o := range opts {
		o.apply(&d.o)
	}
	d.log = d.o.logger
	if d.log == nil {
		d.log = slog.Default()
	}
	d.log = d.log.With("graph", g.Name(), "version", g.Version(), "group", d.cfg.Kafka.Group)
	if d.o.now == nil {
		d.o.now = time.Now
	}
	if d.o.changelogRecordBytes == 0 {
		d.o.changelogRecordBytes = DefaultChangelogRecordBytes
	}
	d.reg = d.o.registry
	if d.reg == nil {
		d.reg = prometheus.NewRegistry()
	}
	d.m = newMetrics()
	for _, c := range d.m.all {
		if err := d.reg.Register(c); err != nil {
			return nil, fmt.Errorf("live: register metrics: %w", err)
		}
	}
	d.kpromC = kprom.NewMetrics("reckon", kprom.Subsystem("kafka_consumer"), kprom.Registry(d.reg))
	d.kpromP = kprom.NewMetrics("reckon", kprom.Subsystem("kafka_producer"), kprom.Registry(d.reg))
	return d, nil
}

// Config returns the configuration with every default applied.
func (d *Driver) Config() Config { return d.cfg }

// Healthy reports whether the poll loop is alive (no dependency checks).
func (d *Driver) Healthy() bool { return d.alive.Load() }

// Ready reports whether the driver has passed its start-up checks, joined
// its group and restored its tasks, and no dependency is failing.
func (d *Driver) Ready() bool {
	return d.alive.Load() && d.started.Load() && d.down.Load() == 0 && !d.registryDown.Load() && !d.kafka.down.Load()
}

// Handler serves /healthz, /readyz (200 or 503) and /metrics. It is
// read-only and may be served before and after Run.
func (d *Driver) Handler() http.Handler {
	mux := http.NewServeMux()
	probe := func(ok func() bool) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			if ok() {
				fmt.Fprintln(w, "ok")
				return
			}
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}
	mux.Handle("/healthz", probe(d.Healthy))
	mux.Handle("/readyz", probe(d.Ready))
	mux.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	return mux
}

// brokerHealth is a franz-go hook that notes whether the last exchange
// with a broker failed: a failed connection or request marks Kafka down,
// a request answered marks it up again.
type brokerHealth struct{ down atomic.Bool }

func (h *brokerHealth) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.down.Store(true)
	}
}

func (h *brokerHealth) OnBrokerE2E(_ kgo.BrokerMetadata, _ int16, e2e kgo.BrokerE2E) {
	h.down.Store(e2e.Err() != nil)
}

// kafkaOpts are the client options every client of the driver shares.
func (d *Driver) kafkaOpts() ([]kgo.Opt, error) {
	k := d.cfg.Kafka
	opts := []kgo.Opt{kgo.SeedBrokers(k.Brokers...), kgo.ClientID(k.ClientID)}
	if k.SASL.Mechanism != "" {
		var m sasl.Mechanism
		switch k.SASL.Mechanism {
		case "PLAIN":
			m = plain.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsMechanism()
		case "SCRAM-SHA-256":
			m = scram.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsSha256Mechanism()
		case "SCRAM-SHA-512":
			m = scram.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsSha512Mechanism()
		}
		opts = append(opts, kgo.SASL(m))
	}
	if k.TLS.Enabled {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: k.TLS.InsecureSkipVerify} //nolint:gosec // opt-in, documented as tests only
		if k.TLS.CAFile != "" {
			pem, err := os.ReadFile(k.TLS.CAFile)
			if err != nil {
				return nil, &ConfigError{Problems: []ConfigProblem{{Key: "kafka.tls.ca_file", Problem: err.Error()}}}
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, &ConfigError{Problems: []ConfigProblem{{Key: "kafka.tls.ca_file", Problem: "no PEM certificate in " + k.TLS.CAFile}}}
			}
			tc.RootCAs = pool
		}
		if k.TLS.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(k.TLS.CertFile, k.TLS.KeyFile)
			if err != nil {
				return nil, &ConfigError{Problems: []ConfigProblem{{Key: "kafka.tls.cert_file", Problem: err.Error()}}}
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	return append(opts, d.o.kgo...), nil
}

// Run performs the start-up checks, then consumes the graph's inputs in
// the consumer group until ctx ends, and shuts down: it stops polling,
// checkpoints every task (outputs durable, snapshots written, offsets
// committed) and leaves the group within Config.ShutdownGrace. It returns
// nil after a clean shutdown, or the first fatal error. When it returns,
// every goroutine it started has ended and the sink is closed. Run may be
// called once.
func (d *Driver) Run(ctx context.Context) (err error) {
	if d.ran.Swap(true) {
		return errors.New("live: Driver.Run called twice")
	}
	base, err := d.kafkaOpts()
	if err != nil {
		return err
	}
	r := &run{d: d, base: base, runners: map[int32]*runner{}, owned: map[string]map[int32]bool{}, restoring: map[int32]bool{}}
	defer func() {
		if cerr := r.close(); err == nil {
			err = cerr
		}
	}()
	if err := r.start(ctx); err != nil {
		if ctx.Err() != nil && !permanent(err) {
			// Stopped during start-up: nothing ran, nothing to commit.
			d.log.Info("stopped during start-up", "err", err)
			return nil
		}
		return err
	}
	return r.loop(ctx)
}

// run is the state of one Run.
type run struct {
	d    *Driver
	base []kgo.Opt
	top  *topology
	sink operators.Sink
	// closers release what start opened, in reverse order.
	closers []func() error

	consumer *kgo.Client
	producer *kgo.Client
	// sess is the consumer and producer with Delivery exactly-once (nil
	// otherwise): consumer and producer are its client.
	sess *kgo.GroupTransactSession
	// inTxn counts records produced into the open transaction; mustEnd
	// is set when a rebalance took partitions, so the transaction must
	// end (aborted) even if nothing is left to commit.
	inTxn   atomic.Int64
	mustEnd atomic.Bool
	// txOpen: a transaction has begun and not ended (the poll loop and
	// shutdown, one after the other, read and write it).
	txOpen bool
	// hard and stop are set by loop (see there).
	hard, stop context.Context

	// mu guards runners and owned; the poll loop, the checkpointer and
	// the group callbacks take it.
	mu      sync.Mutex
	runners map[int32]*runner
	owned   map[string]map[int32]bool
	// restoring holds the tasks being restored (not yet in runners).
	restoring map[int32]bool

	// cpMu serializes checkpoints.
	cpMu sync.Mutex

	wg       sync.WaitGroup // runners
	cpWG     sync.WaitGroup // the checkpointer
	produced atomic.Pointer[ProduceError]
	fatalMu  sync.Mutex
	fatal    error
	cancel   context.CancelCauseFunc
}

// fail records the first fatal error and ends the run.
func (r *run) fail(err error) {
	r.fatalMu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	r.fatalMu.Unlock()
	r.cancel(err)
}

func (r *run) fatalErr() error {
	r.fatalMu.Lock()
	defer r.fatalMu.Unlock()
	return r.fatal
}

func (r *run) close() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	return errors.Join(errs...)
}
