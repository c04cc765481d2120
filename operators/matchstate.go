package operators

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
)

// The matcher keeps, per key, the events of both sides in tie-break order
// (event time, topic, partition, offset). Events closer than the match
// window form an episode (a component: consecutive events at most `within`
// apart); events of different episodes can never pair. A key's outcome is
// that of its latest decided episode — the newest one with a pair or a
// timed-out event — and is published whenever it or its version changes.
//
// Versions are (newest event time of the episode in ms) << 20 | (events +
// timed-out events). Along any processing order they only grow, and the
// final state of every key has the highest version any order could have
// written, so sinks that keep the highest version converge to the same
// rows whatever the interleaving, batching or restarts.

const versionLowBits = 20

type matchState struct {
	g         *Graph
	n         *node
	within    int64
	lateness  int64
	byKey     map[string]*matchKey
	timeouts  timerHeap
	purges    timerHeap
	sideOf    map[string]Side // input topic → side, for late events
	recs      []*node
	scratch   []int
	resultBuf matchResult
}

type mEvent struct {
	time  int64
	side  Side
	prov  Provenance
	value map[string]any
}

type matchKey struct {
	events     []mEvent
	tdue, pdue int64
	published  int64 // version last published (0: none)
}

func newMatchState(g *Graph, n *node) *matchState {
	m := &matchState{g: g, n: n, within: int64(n.match.within), byKey: map[string]*matchKey{}, sideOf: map[string]Side{}}
	for i, in := range n.in {
		for _, src := range sources(in) {
			m.sideOf[src] = Side(i + 1)
			for _, gn := range g.nodes {
				if gn.kind == kindInput && gn.input.topic == src {
					m.lateness = max(m.lateness, int64(gn.input.lateness))
				}
			}
		}
	}
	for _, sub := range n.subs[portMatched] {
		if sub.kind == kindReconcile {
			m.recs = append(m.recs, sub)
		}
	}
	return m
}

func (m *matchState) receive(t *Task, from *node, p port, c *change) {
	side := Right
	if l := m.n.in[0]; l.n == from && l.port == p {
		side = Left
	}
	k := m.byKey[c.key]
	if k == nil {
		k = &matchKey{tdue: math.MaxInt64, pdue: math.MaxInt64}
		m.byKey[c.key] = k
	}
	e := mEvent{time: c.time, side: side, prov: c.prov, value: c.materialize()}
	i, found := slices.BinarySearchFunc(k.events, e, compareEvents)
	if found {
		return // the same input record twice
	}
	k.events = slices.Insert(k.events, i, e)
	m.update(t, c.key, k)
}

func compareEvents(a, b mEvent) int {
	switch {
	case a.time != b.time:
		return cmpInt(a.time, b.time)
	case a.prov.Topic != b.prov.Topic:
		if a.prov.Topic < b.prov.Topic {
			return -1
		}
		return 1
	case a.prov.Partition != b.prov.Partition:
		return cmpInt(int64(a.prov.Partition), int64(b.prov.Partition))
	}
	return cmpInt(a.prov.Offset, b.prov.Offset)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// late reports an event of a match input that arrived too late to take part.
func (m *matchState) late(t *Task, c *change) {
	if len(m.recs) > 0 {
		side := m.sideOf[c.prov.Topic]
		for _, r := range m.recs {
			rec := m.lateRecord(t, r, c, side)
			t.push(r, portMismatches, rec)
		}
	}
	t.push(m.n, portLate, c)
}

// matchResult is the outcome of a key's latest decided episode.
type matchResult struct {
	key     string
	comp    []mEvent
	pairs   [][2]int // indexes into comp: left, right
	unmL    []int
	unmR    []int
	version int64
	maxTime int64
}

// compute finds the latest decided episode of k at timeout watermark twm.
// It returns false when no episode is decided.
func (m *matchState) compute(key string, k *matchKey, twm int64, res *matchResult) bool {
	ev := k.events
	end := len(ev)
	for end > 0 {
		start := end - 1
		for start > 0 && ev[start].time-ev[start-1].time <= m.within {
			start--
		}
		comp := ev[start:end]
		*res = matchResult{key: key, comp: comp, pairs: res.pairs[:0], unmL: res.unmL[:0], unmR: res.unmR[:0]}
		m.pair(comp, twm, res)
		if len(res.pairs) > 0 || len(res.unmL) > 0 || len(res.unmR) > 0 {
			timedOut := 0
			for _, e := range comp {
				if e.time+m.within < twm {
					timedOut++
				}
			}
			res.maxTime = comp[len(comp)-1].time
			res.version = episodeVersion(res.maxTime, len(comp)+timedOut)
			return true
		}
		end = start
	}
	return false
}

func episodeVersion(maxTime int64, n int) int64 {
	ms := max(time.Duration(maxTime).Milliseconds(), 0)
	return ms<<versionLowBits | int64(min(n, 1<<versionLowBits-1))
}

// pair pairs the events of one episode greedily in tie-break order: each
// left event takes the earliest free right event within the window. Events
// left unpaired whose window has passed the watermark are unmatched.
func (m *matchState) pair(comp []mEvent, twm int64, res *matchResult) {
	rights := m.scratch[:0]
	for i, e := range comp {
		if e.side == Right {
			rights = append(rights, i)
		}
	}
	used := 0 // rights[:used] are paired or passed
	paired := make(map[int]bool, 4)
	for i, e := range comp {
		if e.side != Left {
			continue
		}
		for used < len(rights) && comp[rights[used]].time < e.time-m.within {
			used++
		}
		if used < len(rights) && comp[rights[used]].time <= e.time+m.within {
			res.pairs = append(res.pairs, [2]int{i, rights[used]})
			paired[rights[used]] = true
			used++
			continue
		}
		if e.time+m.within < twm {
			res.unmL = append(res.unmL, i)
		}
	}
	for _, j := range rights {
		if !paired[j] && comp[j].time+m.within < twm {
			res.unmR = append(res.unmR, j)
		}
	}
	m.scratch = rights
}

// update republishes k when its outcome changed, purges what no event that
// is not late can still need, and schedules the key's next timers.
func (m *matchState) update(t *Task, key string, k *matchKey) {
	res := &m.resultBuf
	if m.compute(key, k, t.twm, res) && res.version != k.published {
		k.published = res.version
		m.emitResult(t, res)
	}
	m.purge(key, k, t.wm)
	if len(k.events) == 0 {
		delete(m.byKey, key)
		return
	}
	m.schedule(key, k, t.twm)
}

// purge drops episodes whose newest event is older than the watermark minus
// the window and the allowed lateness: every later event that is not late
// is more than a window away from them.
func (m *matchState) purge(_ string, k *matchKey, wm int64) {
	if wm == math.MinInt64 {
		return
	}
	ev := k.events
	cut := 0
	for i := range ev {
		lastOfComp := i == len(ev)-1 || ev[i+1].time-ev[i].time > m.within
		if lastOfComp && ev[i].time+m.within+m.lateness < wm {
			cut = i + 1
		}
	}
	if cut > 0 {
		clear(ev[:cut])
		k.events = ev[cut:]
	}
}

func (m *matchState) schedule(key string, k *matchKey, twm int64) {
	tdue := int64(math.MaxInt64)
	for _, e := range k.events {
		if d := e.time + m.within; d >= twm {
			tdue = d
			break
		}
	}
	// The first episode's end is the next purge.
	pdue := int64(math.MaxInt64)
	for i, e := range k.events {
		if i == len(k.events)-1 || k.events[i+1].time-e.time > m.within {
			pdue = e.time + m.within + m.lateness
			break
		}
	}
	if tdue != k.tdue {
		k.tdue = tdue
		if tdue != math.MaxInt64 {
			heap.Push(&m.timeouts, timer{due: tdue, key: key})
		}
	}
	if pdue != k.pdue {
		k.pdue = pdue
		if pdue != math.MaxInt64 {
			heap.Push(&m.purges, timer{due: pdue, key: key})
		}
	}
}

func (m *matchState) advance(t *Task, wm, twm int64) {
	for m.timeouts.Len() > 0 && m.timeouts[0].due < twm {
		tm := heap.Pop(&m.timeouts).(timer)
		if k := m.byKey[tm.key]; k != nil && k.tdue == tm.due {
			k.tdue = math.MaxInt64
			m.update(t, tm.key, k)
		}
	}
	for m.purges.Len() > 0 && m.purges[0].due < wm {
		tm := heap.Pop(&m.purges).(timer)
		if k := m.byKey[tm.key]; k != nil && k.pdue == tm.due {
			k.pdue = math.MaxInt64
			m.update(t, tm.key, k)
		}
	}
}

// emitResult publishes a key's outcome on the match's outputs.
func (m *matchState) emitResult(t *Task, res *matchResult) {
	n := m.n
	if subs := n.subs[portMatched]; len(subs) > 0 {
		c := &change{key: res.key, okey: res.key, version: res.version, time: res.maxTime, provs: res.provenance(), result: res}
		if len(res.pairs) > 0 {
			p := res.pairs[0]
			c.view = &pairView{key: res.key, l: res.comp[p[0]].value, r: res.comp[p[1]].value, pairs: len(res.pairs)}
		} else {
			c.del = true
		}
		for _, sub := range subs {
			if sub.kind == kindReconcile {
				t.push(sub, portMismatches, m.mismatch(t, sub, res))
				continue
			}
			t.receive(sub, n, portMatched, c)
		}
	}
	for _, side := range []struct {
		p   port
		idx []int
	}{{portUnmatchedLeft, res.unmL}, {portUnmatchedRight, res.unmR}} {
		if len(n.subs[side.p]) == 0 {
			continue
		}
		c := &change{key: res.key, okey: res.key, version: res.version, time: res.maxTime, provs: res.provenance()}
		if len(side.idx) > 0 {
			c.view = &unmatchedView{key: res.key, v: res.comp[side.idx[0]].value, n: len(side.idx)}
		} else {
			c.del = true
		}
		t.push(n, side.p, c)
	}
}

func (res *matchResult) provenance() []Provenance {
	out := make([]Provenance, len(res.comp))
	for i, e := range res.comp {
		out[i] = e.prov
	}
	return out
}

// pairView reads a matched pair: "left.x", "right.x", "key", "pairs", and a
// bare path from the left side, else the right.
type pairView struct {
	key   string
	l, r  map[string]any
	pairs int
}

func (v *pairView) lookup(p Path) (any, bool) {
	if len(p.parts) == 1 {
		switch p.parts[0] {
		case "key":
			return v.key, true
		case "pairs":
			return int64(v.pairs), true
		}
	}
	if len(p.parts) > 1 {
		sub := Path{raw: p.raw, parts: p.parts[1:]}
		switch p.parts[0] {
		case "left":
			return sub.Lookup(v.l)
		case "right":
			return sub.Lookup(v.r)
		}
	}
	if x, ok := p.Lookup(v.l); ok {
		return x, true
	}
	return p.Lookup(v.r)
}

func (v *pairView) materialize() map[string]any {
	out := make(map[string]any, len(v.l)+len(v.r)+4)
	for k, x := range v.r {
		out[k] = x
	}
	for k, x := range v.l {
		out[k] = x
	}
	out["left"], out["right"], out["key"], out["pairs"] = v.l, v.r, v.key, int64(v.pairs)
	return out
}

// unmatchedView reads an unmatched event with "key" and "unmatched" added.
type unmatchedView struct {
	key string
	v   map[string]any
	n   int
}

func (v *unmatchedView) lookup(p Path) (any, bool) {
	if len(p.parts) == 1 {
		switch p.parts[0] {
		case "key":
			return v.key, true
		case "unmatched":
			return int64(v.n), true
		}
	}
	return p.Lookup(v.v)
}

func (v *unmatchedView) materialize() map[string]any {
	out := make(map[string]any, len(v.v)+2)
	for k, x := range v.v {
		out[k] = x
	}
	out["key"], out["unmatched"] = v.key, int64(v.n)
	return out
}

func (m *matchState) encode(_ *Task, b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(m.byKey)))
	var err error
	for _, key := range sortedKeys(m.byKey) {
		k := m.byKey[key]
		b = appendString(b, key)
		b = binary.AppendVarint(b, k.published)
		b = binary.AppendUvarint(b, uint64(len(k.events)))
		for _, e := range k.events {
			b = append(b, byte(e.side))
			b = binary.AppendVarint(b, e.time)
			b = appendString(b, e.prov.Topic)
			b = binary.AppendVarint(b, int64(e.prov.Partition))
			b = binary.AppendVarint(b, e.prov.Offset)
			if b, err = AppendValue(b, e.value); err != nil {
				return nil, fmt.Errorf("match %q key %q: %w", m.n.name, key, err)
			}
		}
	}
	return b, nil
}

func (m *matchState) decode(t *Task, b []byte) ([]byte, error) {
	r := snapReader{b: b}
	nkeys := r.uvarint()
	m.byKey = make(map[string]*matchKey, min(nkeys, uint64(len(b))))
	m.timeouts, m.purges = nil, nil
	for range nkeys {
		key := r.string()
		k := &matchKey{published: r.varint(), tdue: math.MaxInt64, pdue: math.MaxInt64}
		nev := r.uvarint()
		for range nev {
			if r.err != nil {
				break
			}
			e := mEvent{side: Side(r.byte())}
			e.time = r.varint()
			e.prov = Provenance{Topic: r.string(), Partition: int32(r.varint()), Offset: r.varint(), Time: time.Unix(0, e.time).UTC()}
			v := r.value()
			e.value, _ = v.(map[string]any)
			k.events = append(k.events, e)
		}
		if r.err != nil {
			return nil, r.err
		}
		m.byKey[key] = k
		m.schedule(key, k, t.twm)
	}
	return r.b, r.err
}

func (m *matchState) keys() int { return len(m.byKey) }
