package operators

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Validate checks the whole graph and reports every problem at once, each
// wrapping ErrInvalidGraph: unknown streams, duplicate names, inputs
// without key or time, matches between inputs not declared co-partitioned,
// operators applied to the wrong kind of stream, field paths that the
// reader schemas do not have, and type clashes. It also fills the column
// types of projection tables from the reader schemas. A graph must be valid
// before a task runs it.
func (g *Graph) Validate() error {
	v := validator{g: g}
	v.check()
	if len(v.errs) > 0 {
		g.valid = false
		return errors.Join(v.errs...)
	}
	g.link()
	g.valid = true
	return nil
}

type validator struct {
	g    *Graph
	errs []error
}

func (v *validator) errorf(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidGraph}, args...)...))
}

func (v *validator) check() {
	g := v.g
	if !validIdentLoose(g.name) {
		v.errorf("graph name %q must be non-empty letters, digits, '-', '_' or '.'", g.name)
	}
	if g.version < 1 {
		v.errorf("graph %q: version %d must be at least 1", g.name, g.version)
	}
	names := map[string]nodeKind{}
	tables := map[string]bool{}
	topicsOut := map[string]bool{}
	inputs := map[string]bool{}
	for _, n := range g.nodes {
		switch n.kind {
		case kindInput:
			if inputs[n.name] {
				v.errorf("input %q declared twice", n.name)
			}
			inputs[n.name] = true
		case kindProject:
			if n.table != nil && tables[n.table.Name] {
				v.errorf("table %q projected twice", n.table.Name)
			}
			if n.table != nil {
				tables[n.table.Name] = true
			}
		case kindPublish:
			if topicsOut[n.pub.topic] {
				v.errorf("topic %q published twice", n.pub.topic)
			}
			topicsOut[n.pub.topic] = true
		default:
			if n.name == "" {
				v.errorf("%s operator has no name", nodeKindNames[n.kind])
			} else if k, dup := names[n.name]; dup {
				v.errorf("duplicate operator name %q (%s and %s)", n.name, nodeKindNames[k], nodeKindNames[n.kind])
			}
			names[n.name] = n.kind
		}
	}
	for t := range topicsOut {
		if inputs[t] {
			v.errorf("topic %q is both an input and a published output", t)
		}
	}
	for _, grp := range g.copart {
		for _, t := range grp {
			if !inputs[t] {
				v.errorf("CoPartition names %q, which is not an input", t)
			}
		}
	}
	for _, n := range g.nodes {
		v.node(n)
	}
}

// streamOK reports whether s is a stream of this graph.
func (v *validator) streamOK(owner string, s *Stream) bool {
	if s == nil || s.n == nil {
		v.errorf("%s: unknown stream (nil)", owner)
		return false
	}
	if s.g != v.g {
		v.errorf("%s: stream %q belongs to another graph", owner, s.n.name)
		return false
	}
	return true
}

func (v *validator) node(n *node) {
	owner := fmt.Sprintf("%s %q", nodeKindNames[n.kind], n.name)
	for _, in := range n.in {
		if !v.streamOK(owner, in) {
			return
		}
	}
	switch n.kind {
	case kindInput:
		v.input(n.input)
	case kindMap, kindFilter, kindFlatMap:
		if n.mapFn == nil && n.keep == nil && n.flat == nil {
			v.errorf("%s: function is nil", owner)
		}
		if n.kind == kindFlatMap && n.in[0].Kind() != Events {
			v.errorf("%s: needs an event stream, got %s", owner, n.in[0].Kind().phrase())
		}
	case kindMatch:
		v.match(owner, n)
	case kindReconcile:
		v.reconcile(owner, n)
	case kindWindow:
		v.window(owner, n)
	case kindProject:
		v.project(n)
	case kindPublish:
		if n.pub.topic == "" {
			v.errorf("publish: empty topic name")
		}
		if !strings.HasPrefix(strings.TrimSpace(n.pub.schema), "{") {
			v.errorf("publish %q: schema must be an Avro record schema (JSON)", n.pub.topic)
		}
		if n.pub.key != "" {
			if _, err := ParsePath(n.pub.key); err != nil {
				v.errorf("publish %q: key: %v", n.pub.topic, err)
			} else if look := v.g.fieldsOf(n.in[0]); look != nil {
				if t, ok := look(n.pub.key); !ok {
					v.errorf("publish %q: key field %q is not in the stream's schema", n.pub.topic, n.pub.key)
				} else if !t.textual() && t.avro != "long" && t.avro != "int" {
					v.errorf("publish %q: key field %q is %s; want string, int or long", n.pub.topic, n.pub.key, t)
				}
			}
		}
	}
}

func (v *validator) input(s *inputSpec) {
	owner := fmt.Sprintf("input %q", s.topic)
	if s.topic == "" {
		v.errorf("input with an empty topic name")
	}
	for _, err := range s.pathErrors {
		v.errorf("%s: %v", owner, err)
	}
	if !s.keySet {
		v.errorf("%s: no key: add KeyField(path) or KafkaKey()", owner)
	}
	if !s.timeSet {
		v.errorf("%s: no event time: add TimeField(path) or KafkaTime()", owner)
	}
	if s.lateness < 0 {
		v.errorf("%s: AllowedLateness %s is negative", owner, s.lateness)
	}
	if s.schema == "" {
		return
	}
	f, err := parseAvroFields(s.schema)
	if err != nil {
		v.errorf("%s: %v", owner, err)
		return
	}
	s.fields = f
	if s.keyRaw != "" {
		if t, ok := f.types[s.keyRaw]; !ok {
			v.errorf("%s: key field %q is not in the reader schema", owner, s.keyRaw)
		} else if !t.textual() && t.avro != "long" && t.avro != "int" {
			v.errorf("%s: key field %q is %s; want string, int or long", owner, s.keyRaw, t)
		}
	}
	if s.timeRaw != "" {
		if t, ok := f.types[s.timeRaw]; !ok {
			v.errorf("%s: time field %q is not in the reader schema", owner, s.timeRaw)
		} else if !t.temporal() {
			v.errorf("%s: time field %q is %s; want a timestamp", owner, s.timeRaw, t)
		}
	}
}

// sources returns the input topics a stream derives from.
func sources(s *Stream) []string {
	if s == nil || s.n == nil {
		return nil
	}
	if s.n.kind == kindInput {
		return []string{s.n.input.topic}
	}
	var out []string
	for _, in := range s.n.in {
		for _, t := range sources(in) {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

func (v *validator) match(owner string, n *node) {
	left, right := n.in[0], n.in[1]
	if n.match.within <= 0 {
		v.errorf("%s: window %s must be positive", owner, n.match.within)
	} else if n.match.within%1e6 != 0 {
		v.errorf("%s: window %s must be a whole number of milliseconds", owner, n.match.within)
	}
	for i, s := range []*Stream{left, right} {
		if s.Kind() != Events {
			v.errorf("%s: %s input needs an event stream, got %s", owner, Side(i+1), s.Kind().phrase())
		}
	}
	ls, rs := sources(left), sources(right)
	for _, t := range ls {
		if slices.Contains(rs, t) {
			v.errorf("%s: input %q is on both sides", owner, t)
		}
	}
	all := append(slices.Clone(ls), rs...)
	if !v.g.coPartitioned(all) {
		v.errorf("%s: inputs %v are not declared co-partitioned; declare them with CoPartition(%s)", owner, all, strings.Join(quoted(all), ", "))
	}
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// coPartitioned reports whether all topics are in one CoPartition group
// (a single topic is trivially co-partitioned with itself).
func (g *Graph) coPartitioned(topics []string) bool {
	if len(topics) <= 1 {
		return true
	}
	for _, grp := range g.copart {
		all := true
		for _, t := range topics {
			if !slices.Contains(grp, t) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (v *validator) reconcile(owner string, n *node) {
	in := n.in[0]
	if in.Kind() != Matched || n.rec.match == nil || in.port != portMatched {
		v.errorf("%s: needs the Matched stream of a Match, got %s", owner, in.Kind().phrase())
		return
	}
	if len(n.rec.rules) == 0 {
		v.errorf("%s: no rules", owner)
	}
	left, right := v.g.fieldsOf(n.rec.match.in[0]), v.g.fieldsOf(n.rec.match.in[1])
	for i, r := range n.rec.rules {
		if r == nil {
			v.errorf("%s: rule %d is nil", owner, i)
			continue
		}
		ps := r.paths()
		types := make([]fieldType, len(ps))
		known := make([]bool, len(ps))
		for j, p := range ps {
			if _, err := ParsePath(p.path); err != nil {
				v.errorf("%s: %s: %v", owner, r.describe(), err)
				continue
			}
			look := left
			if p.side == Right {
				look = right
			}
			if look == nil {
				continue
			}
			t, ok := look(p.path)
			if !ok {
				v.errorf("%s: %s: %s field %q is not in the reader schema", owner, r.describe(), p.side, p.path)
				continue
			}
			types[j], known[j] = t, true
			switch {
			case p.need == needNumeric && !t.numeric():
				v.errorf("%s: %s: %s field %q is %s; want a number", owner, r.describe(), p.side, p.path, t)
			case p.need == needText && !t.textual():
				v.errorf("%s: %s: %s field %q is %s; want a string or enum", owner, r.describe(), p.side, p.path, t)
			}
		}
		for j, p := range ps {
			if p.pair > j && known[j] && known[p.pair] && !types[j].comparable(types[p.pair]) {
				v.errorf("%s: %s: type clash: left %q is %s, right %q is %s", owner, r.describe(), ps[j].path, types[j], ps[p.pair].path, types[p.pair])
			}
		}
	}
}

func (v *validator) window(owner string, n *node) {
	w := n.win
	for _, err := range w.errs {
		v.errorf("%s: %v", owner, err)
	}
	if n.in[0].Kind() != Events {
		v.errorf("%s: needs an event stream, got %s", owner, n.in[0].Kind().phrase())
	}
	switch w.shape {
	case tumbling:
		if w.size < 1e6 {
			v.errorf("%s: tumbling size %s must be at least 1ms", owner, w.size)
		}
	case sliding:
		if w.size < 1e6 || w.slide < 1e6 || w.size%w.slide != 0 {
			v.errorf("%s: sliding size %s must be a positive multiple of slide %s (both at least 1ms)", owner, w.size, w.slide)
		}
	case session:
		if w.gap < 1e6 {
			v.errorf("%s: session gap %s must be at least 1ms", owner, w.gap)
		}
		for _, a := range w.aggs {
			if a.op == aggReduce && a.merge == nil {
				v.errorf("%s: Reduce %q needs a merge function in a session window", owner, a.name)
			}
		}
	default:
		v.errorf("%s: no window shape: add Tumbling, Sliding or Session", owner)
	}
	if len(w.aggs) == 0 {
		v.errorf("%s: no aggregates", owner)
	}
	cols := map[string]bool{"window_start": true, "window_end": true, "partition": true}
	for _, p := range w.group {
		cols[groupColumn(p)] = true
	}
	if len(w.group) == 0 {
		cols["key"] = true
	}
	look := v.g.fieldsOf(n.in[0])
	for _, p := range w.group {
		if look != nil {
			if _, ok := look(p); !ok {
				v.errorf("%s: group field %q is not in the reader schema", owner, p)
			}
		}
	}
	for _, a := range w.aggs {
		if a.name == "" || cols[a.name] {
			v.errorf("%s: aggregate name %q is empty or used twice", owner, a.name)
		}
		cols[a.name] = true
		if a.op == aggReduce && a.reduce == nil {
			v.errorf("%s: Reduce %q has no function", owner, a.name)
		}
		if look == nil || a.path == "" {
			continue
		}
		t, ok := look(a.path)
		switch {
		case !ok:
			v.errorf("%s: aggregate %q: field %q is not in the reader schema", owner, a.name, a.path)
		case a.op == aggSum && !t.numeric():
			v.errorf("%s: Sum %q: field %q is %s; want a number", owner, a.name, a.path, t)
		}
	}
}

func (v *validator) project(n *node) {
	t := n.table
	if t == nil {
		v.errorf("project: nil table spec")
		return
	}
	if err := t.Validate(); err != nil {
		for _, e := range unjoin(err) {
			v.errorf("%v", e)
		}
	}
	if m := matchOrigin(n.in[0]); m != nil {
		v.matchKeyedTable(n, m)
	}
	look := v.g.fieldsOf(n.in[0])
	fill := func(cols []ColumnSpec) {
		for i := range cols {
			c := &cols[i]
			if c.Func != nil || c.Path == "" {
				continue
			}
			if _, err := ParsePath(c.Path); err != nil {
				v.errorf("table %q: column %q: %v", t.Name, c.Name, err)
				continue
			}
			if look == nil {
				if c.Type == TypeUnknown {
					v.errorf("table %q: column %q: no reader schema gives its type; declare it with Typed(%q, …)", t.Name, c.Name, c.Name)
				}
				continue
			}
			ft, ok := look(c.Path)
			if !ok {
				v.errorf("table %q: column %q: field %q is not in the stream's schema", t.Name, c.Name, c.Path)
				continue
			}
			if c.Type == TypeUnknown {
				c.Type = ft.columnType()
			}
			if c.Type == TypeUnknown {
				v.errorf("table %q: column %q: field %q is %s, which has no column type; declare one with Typed", t.Name, c.Name, c.Path, ft)
			}
		}
	}
	fill(t.PartitionKeys)
	fill(t.Clustering)
	fill(t.Values)
}

// matchOrigin returns the match node a stream's records come from (through
// maps and filters), or nil.
func matchOrigin(s *Stream) *node {
	for s != nil && s.n != nil {
		switch s.n.kind {
		case kindMatch:
			if s.port == portLate {
				return nil
			}
			return s.n
		case kindMap, kindFilter:
			s = s.n.in[0]
		default:
			return nil
		}
	}
	return nil
}

// matchKeyedTable checks that a table fed by a matcher output is keyed by
// the match key alone: a key's outcome can disappear (a new episode, a
// re-pairing), and the delete that follows carries only the key.
func (v *validator) matchKeyedTable(n, m *node) {
	t := n.table
	allowed := []string{"key"}
	for i, in := range m.in {
		for _, src := range sources(in) {
			for _, gn := range v.g.nodes {
				if gn.kind == kindInput && gn.input.topic == src && gn.input.keyRaw != "" {
					allowed = append(allowed, gn.input.keyRaw, Side(i+1).String()+"."+gn.input.keyRaw)
				}
			}
		}
	}
	if len(t.PartitionKeys) != 1 || len(t.Clustering) != 0 || t.PartitionKeys[0].Func != nil ||
		!slices.Contains(allowed, t.PartitionKeys[0].Path) {
		v.errorf("table %q: rows of match %q are keyed by the match key: use one partition-key column read from %s, and no clustering columns",
			t.Name, m.name, strings.Join(quoted(allowed), " or "))
		return
	}
	n.keyFromMatch = true
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func validIdentLoose(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// fieldsOf returns a lookup of the field types of a stream's values, or nil
// when they are unknown (no reader schema, or a user function in between).
func (g *Graph) fieldsOf(s *Stream) func(path string) (fieldType, bool) {
	if s == nil || s.n == nil {
		return nil
	}
	n := s.n
	switch n.kind {
	case kindInput:
		if s.port == portLate || n.input.fields == nil {
			return nil
		}
		types := n.input.fields.types
		return func(p string) (fieldType, bool) { t, ok := types[p]; return t, ok }
	case kindFilter:
		return g.fieldsOf(n.in[0])
	case kindMatch:
		left, right := g.fieldsOf(n.in[0]), g.fieldsOf(n.in[1])
		if left == nil || right == nil {
			return nil
		}
		switch s.port {
		case portMatched:
			return func(p string) (fieldType, bool) {
				switch {
				case p == "key":
					return fieldType{avro: "string"}, true
				case p == "pairs":
					return fieldType{avro: "long"}, true
				case strings.HasPrefix(p, "left."):
					return left(p[len("left."):])
				case strings.HasPrefix(p, "right."):
					return right(p[len("right."):])
				}
				if t, ok := left(p); ok {
					return t, true
				}
				return right(p)
			}
		case portUnmatchedLeft, portUnmatchedRight:
			side := left
			if s.port == portUnmatchedRight {
				side = right
			}
			return func(p string) (fieldType, bool) {
				switch p {
				case "key":
					return fieldType{avro: "string"}, true
				case "unmatched":
					return fieldType{avro: "long"}, true
				}
				return side(p)
			}
		}
	case kindReconcile:
		return func(p string) (fieldType, bool) { t, ok := mismatchFields[p]; return t, ok }
	case kindWindow:
		return g.windowFields(n)
	}
	return nil
}

var mismatchFields = map[string]fieldType{
	"id": {avro: "string"}, "key": {avro: "string"}, "graph": {avro: "string"},
	"graph_version": {avro: "int"}, "reconciler": {avro: "string"}, "status": {avro: "enum"},
	"event_time": {avro: "long", logical: "timestamp-millis"},
}

func (g *Graph) windowFields(n *node) func(string) (fieldType, bool) {
	w := n.win
	in := g.fieldsOf(n.in[0])
	return func(p string) (fieldType, bool) {
		switch p {
		case "window_start", "window_end":
			return fieldType{avro: "long", logical: "timestamp-millis"}, true
		case "partition":
			return fieldType{avro: "int"}, true
		case "key":
			if len(w.group) == 0 {
				return fieldType{avro: "string"}, true
			}
		}
		for _, gp := range w.group {
			if groupColumn(gp) == p && in != nil {
				return in(gp)
			}
		}
		for _, a := range w.aggs {
			if a.name != p {
				continue
			}
			switch a.op {
			case aggCount:
				return fieldType{avro: "long"}, true
			case aggReduce:
				return fieldType{avro: "unknown"}, true
			}
			if in == nil {
				return fieldType{avro: "unknown"}, true
			}
			t, ok := in(a.path)
			if a.op == aggSum && (t.avro == "int") {
				t.avro = "long"
			}
			if a.op == aggSum && t.avro == "float" {
				t.avro = "double"
			}
			return t, ok
		}
		return fieldType{}, false
	}
}

// link fills the downstream lists of every node.
func (g *Graph) link() {
	for _, n := range g.nodes {
		n.subs = map[port][]*node{}
		if n.kind == kindProject {
			n.cols = n.table.AllColumns()
			n.names = make([]string, len(n.cols))
			n.paths = make([]Path, len(n.cols))
			for i, c := range n.cols {
				n.names[i] = c.Name
				if c.Func == nil {
					n.paths[i], _ = ParsePath(c.Path)
				}
			}
		}
	}
	for _, n := range g.nodes {
		for i, in := range n.in {
			p := in.port
			if n.kind == kindReconcile && i == 0 {
				p = portMatched
			}
			in.n.subs[p] = append(in.n.subs[p], n)
		}
	}
}
