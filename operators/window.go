package operators

import (
	"fmt"
	"math/big"
	"strings"
	"time"
)

// WindowOption configures a window: its grouping and its aggregates.
type WindowOption interface{ applyWindow(*windowSpec) }

type windowShape uint8

const (
	tumbling windowShape = iota + 1
	sliding
	session
)

type windowSpec struct {
	shape       windowShape
	size, slide time.Duration
	gap         time.Duration
	group       []string
	groupPaths  []Path
	aggs        []*Aggregate
	errs        []error
}

func (w *windowSpec) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shape=%d size=%s slide=%s gap=%s group=%v", w.shape, w.size, w.slide, w.gap, w.group)
	for _, a := range w.aggs {
		fmt.Fprintf(&b, " %s:%d:%s", a.name, a.op, a.path)
	}
	return b.String()
}

// WindowShape is a window assignment: Tumbling, Sliding or Session.
type WindowShape struct {
	shape       windowShape
	size, slide time.Duration
	gap         time.Duration
}

func (s WindowShape) applyWindow(w *windowSpec) {
	w.shape, w.size, w.slide, w.gap = s.shape, s.size, s.slide, s.gap
}

// Tumbling assigns each event to the window [k·size, (k+1)·size) of its
// event time (UTC epoch aligned: 24h windows are UTC days).
func Tumbling(size time.Duration) WindowShape { return WindowShape{shape: tumbling, size: size} }

// Sliding assigns each event to every window of length size that starts at
// a multiple of slide and contains it.
func Sliding(size, slide time.Duration) WindowShape {
	return WindowShape{shape: sliding, size: size, slide: slide}
}

// Session groups a key's events into sessions separated by gaps longer than
// gap; a session's window_end is its last event time plus gap. A session
// is emitted once it is final: when the watermark has passed
// its end plus the allowed lateness, so that no later event can change it.
func Session(gap time.Duration) WindowShape { return WindowShape{shape: session, gap: gap} }

type groupBy []string

func (g groupBy) applyWindow(w *windowSpec) { w.group = append(w.group, g...) }

// GroupBy groups events by the values at paths (default: the stream key,
// in a field named "key"). Grouping is per task: when the group is not the
// partition key, each partition yields its own row, with a "partition"
// column to tell them apart.
func GroupBy(paths ...string) WindowOption { return groupBy(paths) }

type aggOp uint8

const (
	aggCount aggOp = iota + 1
	aggSum
	aggMin
	aggMax
	aggReduce
)

// Aggregate is a window aggregate: Count, Sum, Min, Max or Reduce.
type Aggregate struct {
	name   string
	op     aggOp
	path   string
	p      Path
	init   any
	reduce func(acc any, v View) (any, error)
	merge  func(a, b any) (any, error)
}

func (a *Aggregate) applyWindow(w *windowSpec) { w.aggs = append(w.aggs, a) }

// Count counts the events of the window into a long column name.
func Count(name string) *Aggregate { return &Aggregate{name: name, op: aggCount} }

// Sum adds the numeric field at path into column name. Sums are exact and
// independent of event order: ints and longs sum as long, decimals as
// decimals, floats through exact rationals.
func Sum(name, path string) *Aggregate { return &Aggregate{name: name, op: aggSum, path: path} }

// Min keeps the smallest value at path (numbers, strings or timestamps).
func Min(name, path string) *Aggregate { return &Aggregate{name: name, op: aggMin, path: path} }

// Max keeps the largest value at path.
func Max(name, path string) *Aggregate { return &Aggregate{name: name, op: aggMax, path: path} }

// Reduce folds events into an accumulator starting at init. For parity
// across interleavings fn must be commutative and associative (events reach
// a window in arrival order), and accumulators must be values the state
// codec knows (goavro native types). merge combines two accumulators; it
// is required for session windows, which merge.
func Reduce(name string, init any, fn func(acc any, v View) (any, error), merge func(a, b any) (any, error)) *Aggregate {
	return &Aggregate{name: name, op: aggReduce, init: init, reduce: fn, merge: merge}
}

// Window aggregates an event stream per group and window. Its output is a
// changelog keyed by group, partition and window start, with the group
// fields, "window_start", "window_end", "partition" and one column per
// aggregate. Tumbling and sliding windows are emitted when the watermark
// reaches their end and updated by events within the allowed lateness.
func (g *Graph) Window(name string, in *Stream, opts ...WindowOption) *Stream {
	spec := &windowSpec{}
	for _, o := range opts {
		if o != nil {
			o.applyWindow(spec)
		}
	}
	for _, p := range spec.group {
		pp, err := ParsePath(p)
		if err != nil {
			spec.errs = append(spec.errs, fmt.Errorf("GroupBy: %w", err))
		}
		spec.groupPaths = append(spec.groupPaths, pp)
	}
	for _, a := range spec.aggs {
		if a.op == aggSum || a.op == aggMin || a.op == aggMax {
			p, err := ParsePath(a.path)
			if err != nil {
				spec.errs = append(spec.errs, fmt.Errorf("aggregate %q: %w", a.name, err))
			}
			a.p = p
		}
	}
	return g.stream(g.add(&node{kind: kindWindow, name: name, in: []*Stream{in}, win: spec}), portMain)
}

// groupColumn is the output column of a group path.
func groupColumn(path string) string { return strings.ReplaceAll(path, ".", "_") }

// ratValue converts an exact sum back to the column's Go type.
func ratValue(r *big.Rat, asFloat bool) any {
	if asFloat {
		f, _ := r.Float64()
		return f
	}
	return r
}
