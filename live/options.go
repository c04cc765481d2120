package live

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/operators"
)

// Opt configures a Driver beyond its Config: the values a program passes
// rather than a file names.
type Opt interface{ apply(*options) }

type optFunc func(*options)

func (f optFunc) apply(o *options) { f(o) }

type options struct {
	sink                 operators.Sink
	registry             *prometheus.Registry
	logger               *slog.Logger
	now                  func() time.Time
	kgo                  []kgo.Opt
	changelogRecordBytes int
}

// WithSink writes table outputs to sink instead of opening Config.Store.
// The driver flushes it (when it is an operators.Flusher) before every
// commit and closes it when Run returns. Default: a projections.Sink over
// the store Config.Store names.
func WithSink(sink operators.Sink) Opt { return optFunc(func(o *options) { o.sink = sink }) }

// WithMetrics registers the driver's metrics, and the Kafka clients'
// (kprom), in reg. Default: a registry of the driver's own, served by
// Handler.
func WithMetrics(reg *prometheus.Registry) Opt {
	return optFunc(func(o *options) { o.registry = reg })
}

// WithLogger sets the structured logger. Default: slog.Default().
// Payloads are never logged.
func WithLogger(l *slog.Logger) Opt { return optFunc(func(o *options) { o.logger = l }) }

// WithClock sets the clock the driver reads for idleness and the
// watermark-delay metric (operators never read it). Default time.Now.
func WithClock(now func() time.Time) Opt { return optFunc(func(o *options) { o.now = now }) }

// WithKafkaOpts appends franz-go client options to those built from
// Config (for tuning and tests: session timeouts, retry backoff, a
// dialer). They apply to every client the driver creates. Default none.
func WithKafkaOpts(opts ...kgo.Opt) Opt {
	return optFunc(func(o *options) { o.kgo = append(o.kgo, opts...) })
}

// WithChangelogRecordBytes sets the largest changelog record a task
// snapshot is written as; larger snapshots are written in chunks of this
// size (see HeaderChunks). Keep it under the changelog topic's
// max.message.bytes. Default DefaultChangelogRecordBytes.
func WithChangelogRecordBytes(n int) Opt {
	return optFunc(func(o *options) { o.changelogRecordBytes = max(n, 1) })
}
