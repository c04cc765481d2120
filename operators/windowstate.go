package operators

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

type windowState struct {
	n        *node
	spec     *windowSpec
	lateness int64
	wins     KeyedState[*winAgg]   // tumbling and sliding, by output key
	sessions KeyedState[[]*winAgg] // by group
	fires    timerHeap
	purges   timerHeap
	keyBuf   []byte
	groupBuf []any // the group values of the event being received
}

// winAgg is one window (or session) of one group.
type winAgg struct {
	okey       string
	groupKey   string
	group      []any
	start, end int64 // [start, end); sessions: first and last event time
	count      int64
	acc        []any
	fired      bool
}

func newWindowState(g *Graph, n *node) *windowState {
	w := &windowState{n: n, spec: n.win, wins: NewMemoryState[*winAgg](), sessions: NewMemoryState[[]*winAgg]()}
	for _, src := range sources(n.in[0]) {
		for _, gn := range g.nodes {
			if gn.kind == kindInput && gn.input.topic == src {
				w.lateness = max(w.lateness, int64(gn.input.lateness))
			}
		}
	}
	return w
}

func (w *windowState) keys() int {
	n := w.wins.Len()
	w.sessions.Range(func(_ string, s []*winAgg) bool {
		n += len(s)
		return true
	})
	return n
}

func (w *windowState) receive(t *Task, c *change) {
	if c.del {
		return
	}
	// group is scratch: a window created below keeps a copy.
	group := w.groupBuf[:0]
	if len(w.spec.group) == 0 {
		group = append(group, c.key)
	} else {
		for _, p := range w.spec.groupPaths {
			v, _ := c.lookup(p)
			group = append(group, v)
		}
	}
	w.groupBuf = group
	buf := w.keyBuf[:0]
	var err error
	for _, v := range group {
		if buf, err = AppendValue(buf, v); err != nil {
			t.reject(w.n, c, err)
			return
		}
	}
	w.keyBuf = buf
	if w.spec.shape == session {
		w.addSession(t, c, string(buf), slices.Clone(group))
		return
	}
	size := int64(w.spec.size)
	slide := size
	if w.spec.shape == sliding {
		slide = int64(w.spec.slide)
	}
	glen := len(buf)
	last := floorDiv(c.time, slide) * slide
	for start := last; start > c.time-size; start -= slide {
		buf = binary.AppendVarint(buf[:glen], start)
		a, ok := w.wins.Get(string(buf))
		if !ok {
			okey := string(buf)
			a = &winAgg{okey: okey, groupKey: okey[:glen], group: slices.Clone(group), start: start, end: start + size, acc: w.initAcc()}
			w.wins.Put(okey, a)
			// A window whose end the watermark has already reached (its
			// event is not late, but behind) fires at once.
			a.fired = a.end <= t.twm
			if !a.fired {
				w.fires.push(timer{due: a.end, key: okey})
			}
			w.purges.push(timer{due: a.end + w.lateness, key: okey})
		}
		if err := w.add(a, c); err != nil {
			t.reject(w.n, c, err)
			return
		}
		if a.fired {
			w.emit(t, a)
		}
	}
	w.keyBuf = buf
}

func windowKeySuffix(start int64) string {
	return string(binary.AppendVarint(nil, start))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (w *windowState) addSession(t *Task, c *change, gk string, group []any) {
	gap := int64(w.spec.gap)
	list, _ := w.sessions.Get(gk)
	merged := &winAgg{groupKey: gk, group: group, start: c.time, end: c.time, acc: w.initAcc()}
	if err := w.add(merged, c); err != nil {
		t.reject(w.n, c, err)
		return
	}
	keep := list[:0]
	for _, s := range list {
		if c.time >= s.start-gap && c.time <= s.end+gap {
			if err := w.merge(merged, s); err != nil {
				t.reject(w.n, c, err)
				return
			}
			continue
		}
		keep = append(keep, s)
	}
	merged.okey = gk + windowKeySuffix(merged.start)
	keep = append(keep, merged)
	slices.SortFunc(keep, func(a, b *winAgg) int { return cmpInt(a.start, b.start) })
	w.sessions.Put(gk, keep)
	w.purges.push(timer{due: merged.end + gap + w.lateness, key: gk})
}

func (w *windowState) advance(t *Task, wm, twm int64) {
	for len(w.fires) > 0 && w.fires[0].due <= twm {
		tm := w.fires.pop()
		if a, ok := w.wins.Get(tm.key); ok && !a.fired {
			a.fired = true
			w.emit(t, a)
		}
	}
	for len(w.purges) > 0 && w.purges[0].due < wm {
		tm := w.purges.pop()
		if w.spec.shape != session {
			if a, ok := w.wins.Get(tm.key); ok && a.end+w.lateness == tm.due {
				if !a.fired {
					a.fired = true
					w.emit(t, a)
				}
				w.wins.Delete(tm.key)
			}
			continue
		}
		// Sessions are emitted once final, then dropped.
		list, _ := w.sessions.Get(tm.key)
		keep := list[:0]
		for _, s := range list {
			if s.end+int64(w.spec.gap)+w.lateness < wm {
				s.fired = true
				w.emit(t, s)
				continue
			}
			keep = append(keep, s)
		}
		if len(keep) == 0 {
			w.sessions.Delete(tm.key)
		} else {
			w.sessions.Put(tm.key, keep)
		}
	}
}

func (w *windowState) initAcc() []any {
	acc := make([]any, len(w.spec.aggs))
	for i, a := range w.spec.aggs {
		switch a.op {
		case aggCount:
			acc[i] = int64(0)
		case aggReduce:
			acc[i] = a.init
		}
	}
	return acc
}

// add folds an event into a window.
func (w *windowState) add(a *winAgg, c *change) error {
	a.count++
	if w.spec.shape == session {
		a.start, a.end = min(a.start, c.time), max(a.end, c.time)
	}
	for i, agg := range w.spec.aggs {
		var v any
		if agg.op != aggCount && agg.op != aggReduce {
			x, ok := c.lookup(agg.p)
			if !ok || x == nil {
				continue // a missing or null value does not take part
			}
			v = x
		}
		var err error
		switch agg.op {
		case aggCount:
			a.acc[i] = a.acc[i].(int64) + 1
		case aggSum:
			a.acc[i], err = sumAdd(a.acc[i], v)
		case aggMin, aggMax:
			a.acc[i], err = minMax(a.acc[i], v, agg.op == aggMax)
		case aggReduce:
			a.acc[i], err = agg.reduce(a.acc[i], View{m: c.materialize()})
		}
		if err != nil {
			return fmt.Errorf("aggregate %q: %w", agg.name, err)
		}
	}
	return nil
}

// merge folds session b into a.
func (w *windowState) merge(a, b *winAgg) error {
	a.count += b.count
	a.start, a.end = min(a.start, b.start), max(a.end, b.end)
	for i, agg := range w.spec.aggs {
		var err error
		switch agg.op {
		case aggCount:
			a.acc[i] = a.acc[i].(int64) + b.acc[i].(int64)
		case aggSum:
			if b.acc[i] != nil {
				a.acc[i], err = sumMerge(a.acc[i], b.acc[i])
			}
		case aggMin, aggMax:
			if b.acc[i] != nil {
				a.acc[i], err = minMax(a.acc[i], b.acc[i], agg.op == aggMax)
			}
		case aggReduce:
			a.acc[i], err = agg.merge(a.acc[i], b.acc[i])
		}
		if err != nil {
			return fmt.Errorf("aggregate %q: %w", agg.name, err)
		}
	}
	return nil
}

// Sum accumulators: int64 while every value is an integer, else an exact
// *big.Rat in a floatSum (floats) or as is (decimals).
type floatSum struct{ r *big.Rat }

func sumAdd(acc, v any) (any, error) {
	if i, ok := asInt64(v); ok {
		switch a := acc.(type) {
		case nil:
			return i, nil
		case int64:
			if s := a + i; (s > a) == (i > 0) || i == 0 {
				return s, nil
			}
		}
	}
	r, ok := asRat(v)
	if !ok {
		return nil, &FieldError{Want: "number", Got: v, Err: ErrFieldType}
	}
	_, f64 := v.(float64)
	_, f32 := v.(float32)
	return sumAddRat(acc, r, f64 || f32), nil
}

func sumAddRat(acc any, r *big.Rat, isFloat bool) any {
	sum := new(big.Rat)
	switch a := acc.(type) {
	case int64:
		sum.SetInt64(a)
	case *big.Rat:
		sum.Set(a)
	case floatSum:
		sum.Set(a.r)
		isFloat = true
	}
	sum.Add(sum, r)
	if isFloat {
		return floatSum{sum}
	}
	return sum
}

func sumMerge(a, b any) (any, error) {
	switch x := b.(type) {
	case int64:
		return sumAdd(a, x)
	case *big.Rat:
		return sumAddRat(a, x, false), nil
	case floatSum:
		return sumAddRat(a, x.r, true), nil
	}
	return a, nil
}

func minMax(acc, v any, wantMax bool) (any, error) {
	if acc == nil {
		return v, nil
	}
	c, err := compareValues(v, acc)
	if err != nil {
		return nil, err
	}
	if (wantMax && c > 0) || (!wantMax && c < 0) {
		return v, nil
	}
	return acc, nil
}

// compareValues orders two values of one kind: numbers, strings, times.
func compareValues(a, b any) (int, error) {
	if x, ok := asRat(a); ok {
		if y, ok := asRat(b); ok {
			return x.Cmp(y), nil
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y), nil
		}
	}
	return 0, &FieldError{Want: fmt.Sprintf("%T", b), Got: a, Err: ErrFieldType}
}

// emit publishes a window's current result.
func (w *windowState) emit(t *Task, a *winAgg) {
	value := make(map[string]any, len(w.spec.aggs)+len(a.group)+3)
	if len(w.spec.group) == 0 {
		value["key"] = a.group[0]
	}
	for i, p := range w.spec.group {
		value[groupColumn(p)] = a.group[i]
	}
	end := a.end
	if w.spec.shape == session {
		end = a.end + int64(w.spec.gap) // a session ends a gap after its last event
	}
	value["window_start"] = time.Unix(0, a.start).UTC()
	value["window_end"] = time.Unix(0, end).UTC()
	value["partition"] = t.partition
	for i, agg := range w.spec.aggs {
		switch x := a.acc[i].(type) {
		case floatSum:
			value[agg.name] = ratValue(x.r, true)
		default:
			value[agg.name] = x
		}
	}
	version := a.count * 2
	if a.fired {
		version++
	}
	key := a.okey + string(binary.AppendVarint(nil, int64(t.partition)))
	c := &change{key: key, okey: key, time: a.end, value: value, version: version}
	t.push(w.n, portMain, c)
}

func (w *windowState) encode(_ *Task, b []byte) ([]byte, error) {
	var all []*winAgg
	w.wins.Range(func(_ string, a *winAgg) bool {
		all = append(all, a)
		return true
	})
	w.sessions.Range(func(_ string, list []*winAgg) bool {
		all = append(all, list...)
		return true
	})
	b = binary.AppendUvarint(b, uint64(len(all)))
	var err error
	for _, a := range all {
		b = appendString(b, a.okey)
		b = appendString(b, a.groupKey)
		if b, err = AppendValue(b, a.group); err != nil {
			return nil, err
		}
		b = binary.AppendVarint(b, a.start)
		b = binary.AppendVarint(b, a.end)
		b = binary.AppendVarint(b, a.count)
		if a.fired {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		for _, x := range a.acc {
			if fs, ok := x.(floatSum); ok {
				b = append(b, 1)
				x = fs.r
			} else {
				b = append(b, 0)
			}
			if b, err = AppendValue(b, x); err != nil {
				return nil, fmt.Errorf("window %q: %w", w.n.name, err)
			}
		}
	}
	return b, nil
}

func (w *windowState) decode(_ *Task, b []byte) ([]byte, error) {
	r := snapReader{b: b}
	n := r.uvarint()
	w.wins, w.sessions = NewMemoryState[*winAgg](), NewMemoryState[[]*winAgg]()
	w.fires, w.purges = nil, nil
	for range n {
		if r.err != nil {
			break
		}
		a := &winAgg{okey: r.string(), groupKey: r.string()}
		g, _ := r.value().([]any)
		a.group = g
		a.start, a.end, a.count = r.varint(), r.varint(), r.varint()
		a.fired = r.byte() == 1
		a.acc = make([]any, len(w.spec.aggs))
		for i := range a.acc {
			isFloat := r.byte() == 1
			a.acc[i] = r.value()
			if rat, ok := a.acc[i].(*big.Rat); ok && isFloat {
				a.acc[i] = floatSum{rat}
			}
		}
		if w.spec.shape == session {
			list, _ := w.sessions.Get(a.groupKey)
			w.sessions.Put(a.groupKey, append(list, a))
			w.purges.push(timer{due: a.end + int64(w.spec.gap) + w.lateness, key: a.groupKey})
			continue
		}
		w.wins.Put(a.okey, a)
		if !a.fired {
			w.fires.push(timer{due: a.end, key: a.okey})
		}
		w.purges.push(timer{due: a.end + w.lateness, key: a.okey})
	}
	return r.b, r.err
}
