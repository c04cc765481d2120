package operators

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"time"
)

// Task runs a graph over one partition number of all its inputs. It is
// deterministic and single-threaded: drivers run one goroutine per task and
// never call a Task from two goroutines at once. Tasks of one graph run in
// parallel without sharing anything but the graph.
//
// A Task never reads the wall clock. Event time comes from the records,
// and timers (match timeouts, window ends, state expiry) fire on the task
// watermark: the smallest, over the task's input partitions, of the newest
// event time seen on each.
type Task struct {
	g         *Graph
	partition int32
	inputs    map[string]*inputState
	order     []*inputState
	wm        int64 // purge watermark, unix nanos; math.MinInt64 until every input is seen
	twm       int64 // timeout watermark: like wm but skipping idle inputs
	states    []nodeState
	outs      []Output
	stats     TaskStats
	scratch   []byte
}

// TaskStats counts what a task has done since it was created or restored.
type TaskStats struct {
	Records     int64 // input records processed (redeliveries excluded)
	Redelivered int64 // records skipped because their offset was already processed
	DeadLetters int64
	Late        int64
	Outputs     int64
}

type inputState struct {
	spec    *inputSpec
	node    *node
	maxSeen int64
	seen    bool
	next    int64 // every offset below next has been processed
	idle    bool
	// matches are the Match nodes fed by this input, for late events.
	matches []*node
}

// nodeState is the keyed state of a stateful operator.
type nodeState interface {
	// advance fires what is due at the watermarks.
	advance(t *Task, wm, twm int64)
	encode(t *Task, b []byte) ([]byte, error)
	decode(t *Task, b []byte) ([]byte, error)
	keys() int
}

// NewTask returns a task that runs the graph for one partition number.
func (g *Graph) NewTask(partition int32) (*Task, error) {
	if !g.valid {
		return nil, ErrNotValidated
	}
	t := &Task{g: g, partition: partition, inputs: map[string]*inputState{}, wm: math.MinInt64, twm: math.MinInt64}
	t.states = make([]nodeState, len(g.nodes))
	for _, n := range g.nodes {
		switch n.kind {
		case kindInput:
			in := &inputState{spec: n.input, node: n}
			t.inputs[n.input.topic] = in
			t.order = append(t.order, in)
		case kindMatch:
			t.states[n.id] = newMatchState(g, n)
		case kindWindow:
			t.states[n.id] = newWindowState(g, n)
		}
	}
	for _, n := range g.nodes {
		if n.kind == kindMatch {
			for _, src := range sources(n.in[0]) {
				t.inputs[src].matches = append(t.inputs[src].matches, n)
			}
			for _, src := range sources(n.in[1]) {
				t.inputs[src].matches = append(t.inputs[src].matches, n)
			}
		}
	}
	return t, nil
}

// Partition returns the task's partition number.
func (t *Task) Partition() int32 { return t.partition }

// Stats returns counters of the task's work.
func (t *Task) Stats() TaskStats { return t.stats }

// StateKeys returns the number of keys held in keyed state.
func (t *Task) StateKeys() int {
	n := 0
	for _, s := range t.states {
		if s != nil {
			n += s.keys()
		}
	}
	return n
}

// Watermark returns the task watermark (zero time until every input
// partition has delivered an event).
func (t *Task) Watermark() time.Time {
	if t.wm == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, t.wm).UTC()
}

// Offsets returns, per input topic, the next offset the task expects: every
// record below it has been processed. Drivers resume from these after a
// Restore.
func (t *Task) Offsets() map[string]int64 {
	out := make(map[string]int64, len(t.order))
	for _, in := range t.order {
		out[in.spec.topic] = in.next
	}
	return out
}

// Outputs returns the outputs produced since the last call and forgets them.
// Drivers write them to sinks, in order, before committing the offsets of
// the records that produced them.
func (t *Task) Outputs() []Output { return t.AppendOutputs(nil) }

// AppendOutputs is Outputs appending to dst, so that a driver can reuse
// one buffer (and the task its own) from record to record.
func (t *Task) AppendOutputs(dst []Output) []Output {
	dst = append(dst, t.outs...)
	clear(t.outs)
	t.outs = t.outs[:0]
	return dst
}

// MarkIdle tells the task that an input partition has no data for now (a
// live-mode policy, decided by the driver's clock). Idle inputs are skipped
// by the timeout watermark, so match timeouts and window ends can fire
// without them; state is still purged only on the full watermark, so no
// event that is not late can miss its partner. Replays never mark inputs
// idle, and live results with idle timeouts may show a timeout that a
// replay of the same data would not.
func (t *Task) MarkIdle(topic string, idle bool) error {
	in, ok := t.inputs[topic]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownInput, topic)
	}
	in.idle = idle
	t.advance()
	return nil
}

// Process runs one input record through the graph. Records of one input
// partition must arrive in offset order; a record whose offset was already
// processed (a redelivery after a restart) is skipped. Records the graph
// rejects become DeadLetter outputs and late records Late outputs; neither
// is an error. Process returns an error only for driver mistakes (a topic
// or partition the task does not own).
func (t *Task) Process(rec *Record) error {
	in, ok := t.inputs[rec.Topic]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownInput, rec.Topic)
	}
	if rec.Partition != t.partition {
		return fmt.Errorf("%w: %s/%d in task %d", ErrWrongPartition, rec.Topic, rec.Partition, t.partition)
	}
	if rec.Offset < in.next {
		t.stats.Redelivered++
		return nil
	}
	in.next = rec.Offset + 1
	t.stats.Records++
	key, ts, err := t.extract(in.spec, rec)
	if err != nil {
		t.deadLetter(rec, in.spec.topic, err)
		return nil
	}
	prov := Provenance{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Time: time.Unix(0, ts).UTC()}
	if in.seen && ts < in.maxSeen-int64(in.spec.lateness) {
		t.late(in, rec, key, ts, prov)
		return nil
	}
	if !in.seen || ts > in.maxSeen {
		in.maxSeen, in.seen = ts, true
	}
	t.push(in.node, portMain, &change{key: key, time: ts, value: rec.Value, prov: prov, rec: rec})
	t.advance()
	return nil
}

func (t *Task) extract(s *inputSpec, rec *Record) (string, int64, error) {
	var key string
	if s.kafkaKey {
		if rec.Key == nil {
			return "", 0, ErrNoKey
		}
		key = string(rec.Key)
	} else {
		v, ok := s.key.Lookup(rec.Value)
		var err error
		if key, err = keyString(v, ok, s.keyRaw); err != nil {
			return "", 0, err
		}
	}
	if s.kafkaTime {
		if rec.Timestamp.IsZero() {
			return "", 0, fmt.Errorf("%w: no Kafka timestamp", ErrNoTime)
		}
		return key, rec.Timestamp.UnixNano(), nil
	}
	v, ok := s.time.Lookup(rec.Value)
	if !ok || v == nil {
		return "", 0, fmt.Errorf("%w: field %q missing or null", ErrNoTime, s.timeRaw)
	}
	ts, ok := asTime(v)
	if !ok {
		return "", 0, fmt.Errorf("%w: field %q is a %T", ErrNoTime, s.timeRaw, v)
	}
	return key, ts.UnixNano(), nil
}

func (t *Task) deadLetter(rec *Record, op string, err error) {
	t.stats.DeadLetters++
	prov := Provenance{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
	re := &RecordError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Operator: op, Err: err}
	t.emit(Output{Target: TargetDeadLetters, Kind: DeadLetter, Key: prov.String(), Version: 1,
		Provenance: []Provenance{prov}, Record: rec, Err: re})
}

func (t *Task) late(in *inputState, rec *Record, key string, ts int64, prov Provenance) {
	t.stats.Late++
	err := &RecordError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Operator: in.spec.topic,
		Err: fmt.Errorf("%w: event time %s is more than %s behind %s", ErrLate,
			prov.Time.Format(time.RFC3339Nano), in.spec.lateness, time.Unix(0, in.maxSeen).UTC().Format(time.RFC3339Nano))}
	t.emit(Output{Target: TargetLate, Kind: Late, Key: prov.String(), Version: 1,
		Provenance: []Provenance{prov}, Record: rec, Err: err})
	c := &change{key: key, time: ts, value: rec.Value, prov: prov, rec: rec}
	t.push(in.node, portLate, c)
	for _, m := range in.matches {
		t.states[m.id].(*matchState).late(t, c)
	}
}

// advance recomputes the watermarks and fires what is due.
func (t *Task) advance() {
	wm, twm := int64(math.MaxInt64), int64(math.MaxInt64)
	active := false
	for _, in := range t.order {
		if !in.seen {
			wm = math.MinInt64
			if !in.idle {
				twm = math.MinInt64
			}
			continue
		}
		wm = min(wm, in.maxSeen)
		if !in.idle {
			twm = min(twm, in.maxSeen)
			active = true
		}
	}
	if !active {
		twm = wm
	}
	twm = max(twm, wm)
	if wm <= t.wm && twm <= t.twm {
		return
	}
	t.wm, t.twm = max(wm, t.wm), max(twm, t.twm)
	for _, s := range t.states {
		if s != nil {
			s.advance(t, t.wm, t.twm)
		}
	}
}

// keyString turns the value of a key field (found: ok) into a key: a
// string as is, an int or long in decimal.
func keyString(v any, ok bool, path string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case nil:
		if !ok {
			return "", fmt.Errorf("%w: field %q missing", ErrNoKey, path)
		}
		return "", fmt.Errorf("%w: field %q is null", ErrNoKey, path)
	}
	return "", fmt.Errorf("%w: field %q is a %T", ErrBadKey, path, v)
}

// change is a record on an internal edge: an event (from an input) or a
// keyed upsert/delete (from a stateful operator).
type change struct {
	key   string
	time  int64
	value map[string]any
	view  lookupper // when set, values are read through it (matched pairs)
	prov  Provenance
	rec   *Record
	// changelog fields
	okey    string
	version int64
	del     bool
	provs   []Provenance
}

// lookupper reads field paths of a value that is not a plain map.
type lookupper interface {
	lookup(p Path) (any, bool)
	materialize() map[string]any
}

func (c *change) lookup(p Path) (any, bool) {
	if c.view != nil {
		return c.view.lookup(p)
	}
	return p.Lookup(c.value)
}

func (c *change) materialize() map[string]any {
	if c.view != nil && c.value == nil {
		c.value = c.view.materialize()
	}
	return c.value
}

func (c *change) outputKey() string {
	if c.okey != "" {
		return c.okey
	}
	return c.key
}

func (c *change) provenance() []Provenance {
	if c.provs != nil {
		return c.provs
	}
	return []Provenance{c.prov}
}

// push delivers c to every consumer of the node's port.
func (t *Task) push(n *node, p port, c *change) {
	for _, sub := range n.subs[p] {
		t.receive(sub, n, p, c)
	}
}

func (t *Task) receive(n, from *node, p port, c *change) {
	switch n.kind {
	case kindMap:
		t.runMap(n, c)
	case kindFilter:
		if c.del || n.keep(t.event(c)) {
			t.push(n, portMain, c)
		} else if c.version != 0 {
			d := *c
			d.del = true
			t.push(n, portMain, &d)
		}
	case kindFlatMap:
		vals, err := n.flat(t.event(c))
		if err != nil {
			t.reject(n, c, fmt.Errorf("%w: %w", ErrFunction, err))
			return
		}
		for _, v := range vals {
			d := *c
			d.value, d.view = v, nil
			t.push(n, portMain, &d)
		}
	case kindMatch:
		t.states[n.id].(*matchState).receive(t, from, p, c)
	case kindReconcile:
		// Reconcilers are driven by their match directly (see emitResult).
	case kindWindow:
		t.states[n.id].(*windowState).receive(t, c)
	case kindProject:
		t.project(n, c)
	case kindPublish:
		t.publish(n, c)
	}
}

func (t *Task) runMap(n *node, c *change) {
	if c.del {
		t.push(n, portMain, c)
		return
	}
	v, err := n.mapFn(t.event(c))
	if err != nil {
		t.reject(n, c, fmt.Errorf("%w: %w", ErrFunction, err))
		return
	}
	d := *c
	d.value, d.view = v, nil
	t.push(n, portMain, &d)
}

func (t *Task) event(c *change) Event {
	return Event{Key: c.key, Time: time.Unix(0, c.time).UTC(), Value: View{m: c.materialize()}, Source: c.prov}
}

// reject dead-letters the input behind c, which operator n could not
// process; err says why (callers wrap the sentinel of the class).
func (t *Task) reject(n *node, c *change, err error) {
	if c.rec != nil {
		t.deadLetter(c.rec, n.name, err)
		return
	}
	// A changelog value (no single input record): report it with its
	// provenance instead.
	t.stats.DeadLetters++
	re := &RecordError{Operator: n.name, Err: err}
	if p := c.provenance(); len(p) > 0 {
		re.Topic, re.Partition, re.Offset = p[0].Topic, p[0].Partition, p[0].Offset
	}
	t.emit(Output{Target: TargetDeadLetters, Kind: DeadLetter, Key: n.name + "/" + c.outputKey(), Version: c.version,
		Provenance: c.provenance(), Err: re})
}

func (t *Task) emit(o Output) {
	o.ID = t.outputID(o)
	t.stats.Outputs++
	t.outs = append(t.outs, o)
}

// outputID hashes what identifies an output: graph, target, key, version
// and kind.
func (t *Task) outputID(o Output) OutputID {
	h := fnv.New128a()
	b := t.scratch[:0]
	b = appendString(b, t.g.name)
	b = binary.AppendVarint(b, int64(t.g.version))
	b = append(b, byte(o.Target), byte(o.Kind))
	b = appendString(b, o.Name)
	b = appendString(b, o.Key)
	b = binary.AppendVarint(b, o.Version)
	h.Write(b)
	t.scratch = b
	var id OutputID
	h.Sum(id[:0])
	return id
}

// project turns a change into a table row upsert or delete.
func (t *Task) project(n *node, c *change) {
	name := n.table.Name
	version := c.version
	if version == 0 {
		// Event streams: one input partition feeds each row, so the offset
		// orders its writes.
		version = c.prov.Offset + 1
	}
	nkeys := len(n.table.PartitionKeys) + len(n.table.Clustering)
	// One array holds the row: key values first.
	size := len(n.cols)
	if c.del {
		size = nkeys
	}
	vals := make([]any, size)
	keyVals := vals[:nkeys:nkeys]
	for i := range nkeys {
		if n.keyFromMatch {
			v, err := convertColumn(&n.cols[0], matchKeyValue(n.cols[0].Type, c.key))
			if err != nil {
				t.reject(n, c, fmt.Errorf("table %q: %w", name, err))
				return
			}
			keyVals[0] = v
			break
		}
		v, err := t.column(n, i, c)
		if err == nil && v == nil {
			err = fmt.Errorf("%w: key column %q is null", ErrNoKey, n.cols[i].Name)
		}
		if err != nil {
			t.reject(n, c, fmt.Errorf("table %q: %w", name, err))
			return
		}
		keyVals[i] = v
	}
	b, err := appendKey(t.scratch[:0], keyVals)
	t.scratch = b
	key := string(b)
	if err != nil {
		t.reject(n, c, fmt.Errorf("table %q: %w", name, err))
		return
	}
	if c.del {
		t.emit(Output{Target: TargetTable, Name: name, Kind: Delete, Key: key, KeyValues: keyVals, Columns: n.names, Version: version, Provenance: c.provenance()})
		return
	}
	for i := nkeys; i < len(n.cols); i++ {
		v, err := t.column(n, i, c)
		if err != nil {
			t.reject(n, c, fmt.Errorf("table %q: %w", name, err))
			return
		}
		vals[i] = v
	}
	t.emit(Output{Target: TargetTable, Name: name, Kind: Upsert, Key: key, KeyValues: keyVals, Columns: n.names, Values: vals, Version: version, Provenance: c.provenance()})
}

// matchKeyValue converts a match key back to its field's type.
func matchKeyValue(typ ColumnType, key string) any {
	if typ == TypeBigInt || typ == TypeInt {
		if n, err := strconv.ParseInt(key, 10, 64); err == nil {
			return n
		}
	}
	return key
}

// column reads column i of a projected row and converts it to its type.
func (t *Task) column(n *node, i int, c *change) (any, error) {
	col := &n.cols[i]
	var v any
	if col.Func != nil {
		var err error
		if v, err = col.Func(View{m: c.materialize()}); err != nil {
			return nil, fmt.Errorf("column %q: %w", col.Name, err)
		}
	} else if x, ok := c.lookup(n.paths[i]); ok {
		v = x
	}
	return convertColumn(col, v)
}

// publish turns a change into a message for a topic.
func (t *Task) publish(n *node, c *change) {
	version := c.version
	if version == 0 {
		version = c.prov.Offset + 1
	}
	kind := Upsert
	var value map[string]any
	var mm *Mismatch
	if c.del {
		kind = Delete
	} else if v, ok := c.view.(*mismatchView); ok {
		mm = &v.m
	} else {
		value = c.materialize()
	}
	key := c.outputKey()
	if n.pub.key != "" {
		v, ok := c.lookup(n.pub.keyP)
		var err error
		if key, err = keyString(v, ok, n.pub.key); err != nil {
			t.reject(n, c, fmt.Errorf("publish %q: %w", n.pub.topic, err))
			return
		}
	}
	t.emit(Output{Target: TargetTopic, Name: n.pub.topic, Kind: kind, Key: key, Value: value, Mismatch: mm, Version: version, Provenance: c.provenance()})
}
