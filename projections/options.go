package projections

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Opt configures a store or a sink. Options that do not apply to what
// they are passed to are ignored.
type Opt interface{ apply(*options) }

type options struct {
	now        func() time.Time
	coalesce   bool
	maxPending int
	logger     *slog.Logger
	create     bool
	password   string
	errs       []error // invalid options, reported at construction
}

func defaultOptions() options {
	return options{now: time.Now, coalesce: true, maxPending: 50_000, create: true}
}

// buildOptions applies opts to the defaults and reports every invalid one.
func buildOptions(opts []Opt) (options, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if len(o.errs) > 0 {
		return o, fmt.Errorf("%w: %w", ErrConfig, errors.Join(o.errs...))
	}
	return o, nil
}

type optFunc func(*options)

func (f optFunc) apply(o *options) { f(o) }

// WithClock sets the clock of a store: it stamps the created and updated
// times of the catalog, and nothing else (writes are stamped with their
// version). Default: time.Now.
func WithClock(now func() time.Time) Opt {
	return optFunc(func(o *options) {
		if now == nil {
			o.errs = append(o.errs, errors.New("WithClock(nil): a clock is required"))
			return
		}
		o.now = now
	})
}

// WithCoalescing turns the write coalescing of a Sink on or off. With it,
// several writes of one key between two flushes collapse to the one with
// the highest version, so a backfill writes each key once per flush.
// Default: on.
func WithCoalescing(on bool) Opt {
	return optFunc(func(o *options) { o.coalesce = on })
}

// WithMaxPending sets how many writes a Sink buffers before Write flushes
// them itself (back-pressure on the caller). Default: 50,000.
func WithMaxPending(n int) Opt {
	return optFunc(func(o *options) {
		if n < 1 {
			o.errs = append(o.errs, fmt.Errorf("WithMaxPending(%d): must be at least 1", n))
			return
		}
		o.maxPending = n
	})
}

// WithLogger sends the Cassandra driver's log lines (connections lost and
// re-established, schema agreement, …) to logger. Default: discarded.
func WithLogger(logger *slog.Logger) Opt {
	return optFunc(func(o *options) {
		if logger == nil {
			o.errs = append(o.errs, errors.New("WithLogger(nil): a logger is required"))
			return
		}
		o.logger = logger
	})
}

// WithCreate says whether opening a store creates what is absent: the
// SQLite file, or the Cassandra keyspace and catalog tables. Tools that
// only inspect a store pass false, so that a mistyped location is an
// error instead of a new empty store. Default: true.
func WithCreate(create bool) Opt {
	return optFunc(func(o *options) { o.create = create })
}

// WithPassword sets the Cassandra password of a store Open opens,
// overriding one in the URL, so that it can come from the environment or
// a secret file instead. Default: the URL's.
func WithPassword(password string) Opt {
	return optFunc(func(o *options) { o.password = password })
}
