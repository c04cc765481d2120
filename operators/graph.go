package operators

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Graph is an operator graph declared as data: inputs, the operators between
// them, and the projections and topics they write to. Build it with the
// methods below, then call Validate; builder methods never fail, they record
// problems that Validate reports together.
//
// A Graph is immutable once validated and may be shared by any number of
// tasks, in any driver.
type Graph struct {
	name    string
	version int
	nodes   []*node
	copart  [][]string // co-partitioned input topic groups
	valid   bool
}

// NewGraph starts a graph with a name and a version. The version names the
// projection tables the graph writes (<table>_v<version>).
func NewGraph(name string, version int) *Graph {
	return &Graph{name: name, version: version}
}

// Name returns the graph name.
func (g *Graph) Name() string { return g.name }

// Version returns the graph version.
func (g *Graph) Version() int { return g.version }

// StreamKind is the shape of the records a stream carries.
type StreamKind uint8

// Stream kinds.
const (
	// Events: one record per input record (inputs, map, filter, flat-map).
	Events StreamKind = iota + 1
	// Matched: per key, the primary matched pair of a Match.
	Matched
	// Changelog: keyed upserts and deletes (unmatched sides, window
	// results, mismatches).
	Changelog
)

func (k StreamKind) String() string {
	switch k {
	case Events:
		return "events"
	case Matched:
		return "matched"
	case Changelog:
		return "changelog"
	}
	return fmt.Sprintf("StreamKind(%d)", uint8(k))
}

// phrase names the kind with its article, for messages.
func (k StreamKind) phrase() string {
	if k == Events {
		return "an events stream"
	}
	return "a " + k.String() + " stream"
}

// Stream is an edge of the graph: the output of an input or an operator.
type Stream struct {
	g    *Graph
	n    *node
	port port
}

// Kind returns the kind of records on the stream.
func (s *Stream) Kind() StreamKind {
	if s == nil || s.n == nil {
		return 0
	}
	return s.n.streamKind(s.port)
}

// port selects one of several outputs of a node.
type port uint8

const (
	portMain port = iota
	portMatched
	portUnmatchedLeft
	portUnmatchedRight
	portMismatches
	portLate
)

type nodeKind uint8

const (
	kindInput nodeKind = iota + 1
	kindMap
	kindFilter
	kindFlatMap
	kindMatch
	kindReconcile
	kindWindow
	kindProject
	kindPublish
)

var nodeKindNames = map[nodeKind]string{
	kindInput: "input", kindMap: "map", kindFilter: "filter", kindFlatMap: "flat-map",
	kindMatch: "match", kindReconcile: "reconcile", kindWindow: "window",
	kindProject: "project", kindPublish: "publish",
}

// node is one vertex of the graph.
type node struct {
	id    int
	kind  nodeKind
	name  string
	in    []*Stream
	input *inputSpec
	mapFn func(Event) (map[string]any, error)
	keep  func(Event) bool
	flat  func(Event) ([]map[string]any, error)
	match *matchSpec
	rec   *reconcileSpec
	win   *windowSpec
	table *TableSpec
	pub   *publishSpec
	// cols, names and paths are a projected table's columns (keys
	// first), their names and their compiled paths, filled by Validate.
	cols  []ColumnSpec
	names []string
	paths []Path
	// keyFromMatch: the table is fed by a matcher output and keyed by the
	// match key, which is also what its deletes carry.
	keyFromMatch bool
	// subs are the downstream consumers of each port, filled by Validate.
	subs map[port][]*node
}

func (n *node) streamKind(p port) StreamKind {
	switch n.kind {
	case kindInput:
		return Events
	case kindFilter, kindMap:
		return n.in[0].Kind()
	case kindFlatMap:
		return Events
	case kindMatch:
		switch p {
		case portMatched:
			return Matched
		case portLate:
			return Events
		}
		return Changelog
	case kindReconcile, kindWindow:
		return Changelog
	}
	return 0
}

// Event is what user functions (Map, Filter, FlatMap) see of a record.
type Event struct {
	Key   string
	Time  time.Time
	Value View
	// Source is the provenance of the input record behind the event.
	Source Provenance
}

// InputOption configures an input.
type InputOption interface{ applyInput(*inputSpec) }

type inputOptionFunc func(*inputSpec)

func (f inputOptionFunc) applyInput(s *inputSpec) { f(s) }

type inputSpec struct {
	topic      string
	key        Path
	keyRaw     string
	kafkaKey   bool
	keySet     bool
	time       Path
	timeRaw    string
	kafkaTime  bool
	timeSet    bool
	lateness   time.Duration
	schema     string
	fields     *avroFields
	pathErrors []error
}

// KeyField makes the value at path (a string, int or long) the input's key.
// An input needs KeyField or KafkaKey.
func KeyField(path string) InputOption {
	return inputOptionFunc(func(s *inputSpec) {
		p, err := ParsePath(path)
		if err != nil {
			s.pathErrors = append(s.pathErrors, fmt.Errorf("KeyField: %w", err))
		}
		s.key, s.keyRaw, s.keySet = p, path, true
	})
}

// KafkaKey makes the Kafka record key (as a string) the input's key.
func KafkaKey() InputOption {
	return inputOptionFunc(func(s *inputSpec) { s.kafkaKey, s.keySet = true, true })
}

// TimeField makes the timestamp at path the input's event time. An input
// needs TimeField or KafkaTime.
func TimeField(path string) InputOption {
	return inputOptionFunc(func(s *inputSpec) {
		p, err := ParsePath(path)
		if err != nil {
			s.pathErrors = append(s.pathErrors, fmt.Errorf("TimeField: %w", err))
		}
		s.time, s.timeRaw, s.timeSet = p, path, true
	})
}

// KafkaTime makes the Kafka record timestamp the input's event time.
func KafkaTime() InputOption {
	return inputOptionFunc(func(s *inputSpec) { s.kafkaTime, s.timeSet = true, true })
}

// AllowedLateness sets how far behind the newest event time seen on its own
// partition an event may be and still count (default 0: any event older
// than the newest one seen on its partition is late).
func AllowedLateness(d time.Duration) InputOption {
	return inputOptionFunc(func(s *inputSpec) { s.lateness = d })
}

// ReaderSchema declares the Avro reader schema (JSON) of the input. The
// drivers resolve every writer schema into it, and Validate uses it to check
// field paths and types.
func ReaderSchema(avsc string) InputOption {
	return inputOptionFunc(func(s *inputSpec) { s.schema = avsc })
}

func (g *Graph) add(n *node) *node {
	n.id = len(g.nodes)
	g.nodes = append(g.nodes, n)
	g.valid = false
	return n
}

func (g *Graph) stream(n *node, p port) *Stream { return &Stream{g: g, n: n, port: p} }

// Input declares an input topic. Its name in the graph is the topic name.
func (g *Graph) Input(topic string, opts ...InputOption) *Stream {
	spec := &inputSpec{topic: topic}
	for _, o := range opts {
		o.applyInput(spec)
	}
	return g.stream(g.add(&node{kind: kindInput, name: topic, input: spec}), portMain)
}

// Late returns the late side output of an input: events that arrived after
// their partition's allowed lateness. They change no state.
func (s *Stream) Late() *Stream {
	if s == nil || s.n == nil {
		return s
	}
	return s.g.stream(s.n, portLate)
}

// CoPartition declares that the given input topics are partitioned by the
// same key with the same partition count, so that a task (one partition
// number) sees every record of a key. Match requires it.
func (g *Graph) CoPartition(topics ...string) {
	g.copart = append(g.copart, topics)
	g.valid = false
}

// Map transforms every value of a stream; key and event time are kept. A
// function error sends the input record to the dead-letter output.
func (g *Graph) Map(name string, in *Stream, fn func(Event) (map[string]any, error)) *Stream {
	return g.stream(g.add(&node{kind: kindMap, name: name, in: []*Stream{in}, mapFn: fn}), portMain)
}

// Filter keeps the values for which keep returns true.
func (g *Graph) Filter(name string, in *Stream, keep func(Event) bool) *Stream {
	return g.stream(g.add(&node{kind: kindFilter, name: name, in: []*Stream{in}, keep: keep}), portMain)
}

// FlatMap turns every event of an event stream into zero or more events
// with the same key and time.
func (g *Graph) FlatMap(name string, in *Stream, fn func(Event) ([]map[string]any, error)) *Stream {
	return g.stream(g.add(&node{kind: kindFlatMap, name: name, in: []*Stream{in}, flat: fn}), portMain)
}

// Project writes a stream into a projection table (<table>_v<version>).
func (g *Graph) Project(in *Stream, table *TableSpec) {
	name := ""
	if table != nil {
		name = table.Name
	}
	g.add(&node{kind: kindProject, name: name, in: []*Stream{in}, table: table})
}

type publishSpec struct {
	topic  string
	key    string // field path of the message key; "" for the stream key
	keyP   Path
	schema string
}

// Publish writes a stream to a Kafka topic, encoded with the Avro schema
// (JSON) given. key is the field path whose value (a string, int or long)
// keys the messages; "" keys them by the stream key (the match key for
// matcher and reconciler outputs).
func (g *Graph) Publish(in *Stream, topic, key, schema string) {
	spec := &publishSpec{topic: topic, key: key, schema: schema}
	if key != "" {
		spec.keyP, _ = ParsePath(key) // Validate reports a bad path
	}
	g.add(&node{kind: kindPublish, name: topic, in: []*Stream{in}, pub: spec})
}

// TableInfo describes a projection table of the graph for stores.
type TableInfo struct {
	Spec *TableSpec
	// Table is the versioned table name, <name>_v<version>.
	Table string
}

// Tables returns the projection tables of the graph, in declaration order,
// with column types filled from the reader schemas.
func (g *Graph) Tables() []TableInfo {
	var out []TableInfo
	for _, n := range g.nodes {
		if n.kind == kindProject && n.table != nil {
			out = append(out, TableInfo{Spec: n.table, Table: fmt.Sprintf("%s_v%d", n.table.Name, g.version)})
		}
	}
	return out
}

// TopicInfo describes a topic the graph publishes to.
type TopicInfo struct {
	Topic  string
	Schema string
}

// Topics returns the topics the graph publishes to, in declaration order.
func (g *Graph) Topics() []TopicInfo {
	var out []TopicInfo
	for _, n := range g.nodes {
		if n.kind == kindPublish {
			out = append(out, TopicInfo{Topic: n.pub.topic, Schema: n.pub.schema})
		}
	}
	return out
}

// InputInfo describes an input of the graph for drivers.
type InputInfo struct {
	Topic  string
	Schema string // reader schema (JSON), empty if none was declared
	// CoPartitioned lists the other inputs this one is co-partitioned with.
	CoPartitioned []string
}

// Inputs returns the graph's inputs in declaration order.
func (g *Graph) Inputs() []InputInfo {
	var out []InputInfo
	for _, n := range g.nodes {
		if n.kind != kindInput {
			continue
		}
		info := InputInfo{Topic: n.input.topic, Schema: n.input.schema}
		for _, grp := range g.copart {
			if slices.Contains(grp, n.input.topic) {
				for _, t := range grp {
					if t != n.input.topic && !slices.Contains(info.CoPartitioned, t) {
						info.CoPartitioned = append(info.CoPartitioned, t)
					}
				}
			}
		}
		out = append(out, info)
	}
	return out
}

// Fingerprint is a hash of the graph's declared shape: name, version, nodes,
// their parameters and schemas. User functions are identified by the node
// name only, so changing a function's code requires a new graph version.
func (g *Graph) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", g.name, g.version)
	for _, n := range g.nodes {
		fmt.Fprintf(h, "%d|%s|%s|", n.kind, n.name, n.describe())
		for _, in := range n.in {
			if in != nil && in.n != nil {
				fmt.Fprintf(h, "<%d.%d", in.n.id, in.port)
			}
		}
		h.Write([]byte{0})
	}
	for _, grp := range g.copart {
		fmt.Fprintf(h, "copart%v", grp)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (n *node) describe() string {
	var b strings.Builder
	switch n.kind {
	case kindInput:
		s := n.input
		fmt.Fprintf(&b, "%s key=%s/%v time=%s/%v late=%s schema=%s", s.topic, s.keyRaw, s.kafkaKey, s.timeRaw, s.kafkaTime, s.lateness, s.schema)
	case kindMatch:
		fmt.Fprintf(&b, "within=%s", n.match.within)
	case kindReconcile:
		for _, r := range n.rec.rules {
			fmt.Fprintf(&b, "%s;", r.describe())
		}
	case kindWindow:
		fmt.Fprintf(&b, "%s", n.win.describe())
	case kindProject:
		if n.table != nil {
			for _, c := range n.table.AllColumns() {
				fmt.Fprintf(&b, "%s:%s:%s;", c.Name, c.Type, c.Path)
			}
		}
	case kindPublish:
		fmt.Fprintf(&b, "%s %s %s", n.pub.topic, n.pub.key, n.pub.schema)
	}
	return b.String()
}

// ErrInvalidGraph is wrapped by every problem Validate reports.
var ErrInvalidGraph = errors.New("operators: invalid graph")
