package operators

import (
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
	byKey     KeyedState[*matchKey]
	timeouts  timerHeap
	purges    timerHeap
	sideOf    map[string]Side // input topic → side, for late events
	topics    []string        // input topics, sorted (mEvent.topic)
	recs      []*node
	scratch   []int
	resultBuf matchResult
}

// mEvent is one event held by the matcher: 32 bytes beside its value.
type mEvent struct {
	time      int64
	offset    int64
	value     map[string]any
	partition int32
	// topic indexes matchState.topics, which is sorted: comparing indexes
	// compares topic names.
	topic uint16
	side  Side
}

// matchKey is the state of one key. Most keys hold a pair: events starts
// in inline, in the same allocation.
type matchKey struct {
	events     []mEvent
	tdue, pdue int64
	published  int64 // version last published (0: none)
	inline     [2]mEvent
}

func newMatchKey() *matchKey {
	k := &matchKey{tdue: math.MaxInt64, pdue: math.MaxInt64}
	k.events = k.inline[:0]
	return k
}

func newMatchState(g *Graph, n *node) *matchState {
	m := &matchState{g: g, n: n, within: int64(n.match.within), byKey: NewMemoryState[*matchKey](), sideOf: map[string]Side{}}
	for i, in := range n.in {
		for _, src := range sources(in) {
			m.sideOf[src] = Side(i + 1)
			m.topics = append(m.topics, src)
			for _, gn := range g.nodes {
				if gn.kind == kindInput && gn.input.topic == src {
					m.lateness = max(m.lateness, int64(gn.input.lateness))
				}
			}
		}
	}
	slices.Sort(m.topics)
	m.topics = slices.Compact(m.topics)
	for _, sub := range n.subs[portMatched] {
		if sub.kind == kindReconcile {
			m.recs = append(m.recs, sub)
		}
	}
	return m
}

// topicIndex returns the index of an input topic in m.topics.
func (m *matchState) topicIndex(topic string) (uint16, bool) {
	i, ok := slices.BinarySearch(m.topics, topic)
	return uint16(i), ok
}

func (m *matchState) prov(e *mEvent) Provenance {
	return Provenance{Topic: m.topics[e.topic], Partition: e.partition, Offset: e.offset, Time: time.Unix(0, e.time).UTC()}
}

func (m *matchState) receive(t *Task, from *node, p port, c *change) {
	side := Right
	if l := m.n.in[0]; l.n == from && l.port == p {
		side = Left
	}
	k, ok := m.byKey.Get(c.key)
	if !ok {
		k = newMatchKey()
		m.byKey.Put(c.key, k)
	}
	// Every topic that reaches the match is one of its sources.
	topic, _ := m.topicIndex(c.prov.Topic)
	e := mEvent{time: c.time, side: side, topic: topic, partition: c.prov.Partition, offset: c.prov.Offset, value: c.materialize()}
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
	case a.topic != b.topic:
		return cmpInt(int64(a.topic), int64(b.topic))
	case a.partition != b.partition:
		return cmpInt(int64(a.partition), int64(b.partition))
	}
	return cmpInt(a.offset, b.offset)
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
	// nextTimeout is the earliest deadline at which an unpaired event of
	// any episode of the key times out (math.MaxInt64: none).
	nextTimeout int64
}

// compute finds the latest decided episode of k at timeout watermark twm,
// and the key's next timeout. It reports whether an episode is decided.
func (m *matchState) compute(key string, k *matchKey, twm int64, res *matchResult) bool {
	ev := k.events
	decided := false
	next := int64(math.MaxInt64)
	var scratch matchResult
	for end := len(ev); end > 0; {
		start := end - 1
		for start > 0 && ev[start].time-ev[start-1].time <= m.within {
			start--
		}
		comp := ev[start:end]
		cur := &scratch
		if !decided {
			cur = res
		}
		*cur = matchResult{key: key, comp: comp, pairs: cur.pairs[:0], unmL: cur.unmL[:0], unmR: cur.unmR[:0]}
		next = min(next, m.pair(comp, twm, cur))
		if !decided && (len(cur.pairs) > 0 || len(cur.unmL) > 0 || len(cur.unmR) > 0) {
			decided = true
			res.maxTime = comp[len(comp)-1].time
			res.version = episodeVersion(res.maxTime, 2*len(comp)+len(res.unmL)+len(res.unmR))
		}
		end = start
	}
	res.nextTimeout = next
	return decided
}

// episodeVersion packs an episode's newest event time (ms) and a count
// that grows with every event added and every unpaired event timing out.
// Adding an event changes the greedy pairing along one displacement chain,
// so it pairs at most one formerly unmatched event: the count rises by at
// least one. Timeouts of paired events change nothing and count nothing.
func episodeVersion(maxTime int64, n int) int64 {
	ms := max(time.Duration(maxTime).Milliseconds(), 0)
	return ms<<versionLowBits | int64(min(n, 1<<versionLowBits-1))
}

// pair pairs the events of one episode greedily in tie-break order: each
// left event takes the earliest free right event within the window. Events
// left unpaired whose window has passed the watermark are unmatched. It
// returns the earliest deadline of an unpaired event not yet timed out.
func (m *matchState) pair(comp []mEvent, twm int64, res *matchResult) int64 {
	rights := m.scratch[:0]
	for i, e := range comp {
		if e.side == Right {
			rights = append(rights, i)
		}
	}
	next := int64(math.MaxInt64)
	unpaired := func(e mEvent, out *[]int, i int) {
		if d := e.time + m.within; d < twm {
			*out = append(*out, i)
		} else {
			next = min(next, d)
		}
	}
	used := 0 // rights[:used] are paired or passed
	var paired uint64
	pairedMap := map[int]bool(nil)
	for i, e := range comp {
		if e.side != Left {
			continue
		}
		for used < len(rights) && comp[rights[used]].time < e.time-m.within {
			used++
		}
		if used < len(rights) && comp[rights[used]].time <= e.time+m.within {
			j := rights[used]
			res.pairs = append(res.pairs, [2]int{i, j})
			if j < 64 {
				paired |= 1 << j
			} else {
				if pairedMap == nil {
					pairedMap = map[int]bool{}
				}
				pairedMap[j] = true
			}
			used++
			continue
		}
		unpaired(e, &res.unmL, i)
	}
	for _, j := range rights {
		if (j < 64 && paired&(1<<j) == 0) || (j >= 64 && !pairedMap[j]) {
			unpaired(comp[j], &res.unmR, j)
		}
	}
	m.scratch = rights
	return next
}

// update republishes k when its outcome changed, purges what no event that
// is not late can still need, and schedules the key's next timers.
func (m *matchState) update(t *Task, key string, k *matchKey) {
	res := &m.resultBuf
	if m.compute(key, k, t.twm, res) && res.version != k.published {
		k.published = res.version
		m.emitResult(t, res)
	}
	next := res.nextTimeout
	if m.purge(k, t.wm) {
		if len(k.events) == 0 {
			m.byKey.Delete(key)
			return
		}
		var again matchResult
		m.compute(key, k, t.twm, &again)
		next = again.nextTimeout
	}
	m.schedule(key, k, next)
}

// purge drops episodes whose newest event is older than the watermark minus
// the window and the allowed lateness: every later event that is not late
// is more than a window away from them. It reports whether it dropped any.
func (m *matchState) purge(k *matchKey, wm int64) bool {
	if wm == math.MinInt64 {
		return false
	}
	ev := k.events
	cut := 0
	for i := range ev {
		lastOfComp := i == len(ev)-1 || ev[i+1].time-ev[i].time > m.within
		if lastOfComp && ev[i].time+m.within+m.lateness < wm {
			cut = i + 1
		}
	}
	if cut == 0 {
		return false
	}
	clear(ev[:cut])
	k.events = ev[cut:]
	return true
}

// schedule sets the key's timers: the next unpaired timeout, and the end of
// its first episode (the next purge).
func (m *matchState) schedule(key string, k *matchKey, tdue int64) {
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
			m.timeouts.push(timer{due: tdue, key: key, mk: k})
		}
	}
	if pdue != k.pdue {
		k.pdue = pdue
		if pdue != math.MaxInt64 {
			m.purges.push(timer{due: pdue, key: key, mk: k})
		}
	}
}

func (m *matchState) advance(t *Task, wm, twm int64) {
	// A timer is stale when its key moved the deadline or left the state.
	for len(m.timeouts) > 0 && m.timeouts[0].due < twm {
		tm := m.timeouts.pop()
		if k := tm.mk; len(k.events) > 0 && k.tdue == tm.due {
			k.tdue = math.MaxInt64
			m.update(t, tm.key, k)
		}
	}
	for len(m.purges) > 0 && m.purges[0].due < wm {
		tm := m.purges.pop()
		if k := tm.mk; len(k.events) > 0 && k.pdue == tm.due {
			k.pdue = math.MaxInt64
			m.update(t, tm.key, k)
		}
	}
}

// emitResult publishes a key's outcome on the match's outputs.
func (m *matchState) emitResult(t *Task, res *matchResult) {
	n := m.n
	provs := m.provenance(res)
	if subs := n.subs[portMatched]; len(subs) > 0 {
		c := &change{key: res.key, okey: res.key, version: res.version, time: res.maxTime, provs: provs}
		if len(res.pairs) > 0 {
			p := res.pairs[0]
			c.view = &pairView{key: res.key, l: res.comp[p[0]].value, r: res.comp[p[1]].value, pairs: len(res.pairs)}
		} else {
			c.del = true
		}
		for _, sub := range subs {
			if sub.kind == kindReconcile {
				t.push(sub, portMismatches, m.mismatch(t, sub, res, provs))
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
		c := &change{key: res.key, okey: res.key, version: res.version, time: res.maxTime, provs: provs}
		if len(side.idx) > 0 {
			c.view = &unmatchedView{key: res.key, v: res.comp[side.idx[0]].value, n: len(side.idx)}
		} else {
			c.del = true
		}
		t.push(n, side.p, c)
	}
}

func (m *matchState) provenance(res *matchResult) []Provenance {
	out := make([]Provenance, len(res.comp))
	for i := range res.comp {
		out[i] = m.prov(&res.comp[i])
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
	b = binary.AppendUvarint(b, uint64(m.byKey.Len()))
	var err error
	m.byKey.Range(func(key string, k *matchKey) bool {
		b = appendString(b, key)
		b = binary.AppendVarint(b, k.published)
		b = binary.AppendUvarint(b, uint64(len(k.events)))
		for _, e := range k.events {
			b = append(b, byte(e.side))
			b = binary.AppendVarint(b, e.time)
			b = appendString(b, m.topics[e.topic])
			b = binary.AppendVarint(b, int64(e.partition))
			b = binary.AppendVarint(b, e.offset)
			if b, err = AppendValue(b, e.value); err != nil {
				err = fmt.Errorf("match %q key %q: %w", m.n.name, key, err)
				return false
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (m *matchState) decode(t *Task, b []byte) ([]byte, error) {
	r := snapReader{b: b}
	nkeys := r.uvarint()
	m.byKey = NewMemoryState[*matchKey]()
	m.timeouts, m.purges = nil, nil
	for range nkeys {
		key := r.string()
		k := newMatchKey()
		k.published = r.varint()
		nev := r.uvarint()
		for range nev {
			if r.err != nil {
				break
			}
			e := mEvent{side: Side(r.byte())}
			e.time = r.varint()
			topic := r.string()
			var ok bool
			if e.topic, ok = m.topicIndex(topic); !ok && r.err == nil {
				return nil, fmt.Errorf("%w: match %q holds an event of topic %q, not one of its inputs", ErrBadSnapshot, m.n.name, topic)
			}
			e.partition, e.offset = int32(r.varint()), r.varint()
			v := r.value()
			e.value, _ = v.(map[string]any)
			k.events = append(k.events, e)
		}
		if r.err != nil {
			return nil, r.err
		}
		m.byKey.Put(key, k)
		var res matchResult
		m.compute(key, k, t.twm, &res)
		m.schedule(key, k, res.nextTimeout)
	}
	return r.b, r.err
}

func (m *matchState) keys() int { return m.byKey.Len() }
