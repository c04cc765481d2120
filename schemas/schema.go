package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/linkedin/goavro/v2"
)

// ErrBadSchema is wrapped by every error Parse returns.
var ErrBadSchema = errors.New("schemas: bad schema")

// Schema is a parsed Avro schema: goavro's codec for its binary encoding,
// plus reckon's own model of it (names, aliases, defaults, logical types),
// which resolution and compatibility checks walk. A Schema is immutable and
// safe for concurrent use.
type Schema struct {
	text      string // the schema JSON as given, compacted
	root      *node
	codec     *goavro.Codec
	canonical string
	hasBlocks bool // contains an array, a map or a recursive type
}

// kind is the Avro type of a node.
type kind uint8

const (
	kNull kind = iota
	kBoolean
	kInt
	kLong
	kFloat
	kDouble
	kBytes
	kString
	kRecord
	kEnum
	kArray
	kMap
	kUnion
	kFixed
)

var kindNames = [...]string{"null", "boolean", "int", "long", "float", "double", "bytes", "string", "record", "enum", "array", "map", "union", "fixed"}

func (k kind) String() string { return kindNames[k] }

func (k kind) named() bool { return k == kRecord || k == kEnum || k == kFixed }

// Logical types that change goavro's native form. Other logical types
// (uuid, local-timestamp-*, unknown ones) are kept in the JSON but read as
// their underlying type, as the specification says.
const (
	lNone            = ""
	lDecimal         = "decimal"
	lTimestampMillis = "timestamp-millis"
	lTimestampMicros = "timestamp-micros"
	lDate            = "date"
	lTimeMillis      = "time-millis"
	lTimeMicros      = "time-micros"
)

// node is one type in reckon's model of a schema. Named types are shared:
// every reference to a name points at the node that defines it, so
// recursive schemas are cyclic graphs.
type node struct {
	kind kind

	// logical is the logical type goavro materialises (see the l*
	// constants); precision and scale belong to decimal.
	logical          string
	precision, scale int

	// Named types.
	name, namespace, fullName string
	aliases                   []string // fully qualified

	fields     []*field          // record
	fieldIndex map[string]*field // record, by name

	symbols     []string // enum
	symbolIndex map[string]int
	enumDefault string
	hasEnumDef  bool

	items  *node // array
	values *node // map

	branches []*node // union

	size int // fixed
}

// field is a record field.
type field struct {
	name       string
	aliases    []string
	typ        *node
	hasDefault bool
	def        any // the default as decoded JSON (json.Number for numbers)
}

// unionName is the key goavro uses for a value of this type inside a
// union: the full name of named types, "long.timestamp-millis" style names
// for the logical types goavro compiles, the type name otherwise.
func (n *node) unionName() string {
	switch {
	case n.kind.named():
		return n.fullName
	case n.logical == lDecimal:
		return "bytes.decimal"
	case n.logical != lNone:
		return n.kind.String() + "." + n.logical
	}
	return n.kind.String()
}

// describe names the type for messages: its full name, or its type name.
func (n *node) describe() string {
	if n.kind.named() {
		return n.kind.String() + " " + n.fullName
	}
	if n.logical != lNone {
		return n.kind.String() + " (" + n.logical + ")"
	}
	return n.kind.String()
}

// Parse parses an Avro schema in JSON. It builds goavro's codec for the
// binary encoding and reckon's model for resolution, and validates names,
// namespaces, aliases, enum and field defaults, and logical type
// parameters. Errors wrap ErrBadSchema.
func Parse(avsc string) (s *Schema, err error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(avsc)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSchema, err)
	}
	dec := json.NewDecoder(strings.NewReader(avsc))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSchema, err)
	}
	p := &parser{names: map[string]*node{}}
	root, err := p.parse(raw, "", "")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSchema, err)
	}
	for _, d := range p.defaults {
		if _, err := defaultNative(d.f.typ, d.f.def); err != nil {
			return nil, fmt.Errorf("%w: %s: default: %v", ErrBadSchema, d.path, err)
		}
	}
	// goavro is third-party code fed user input: a panic in it must not
	// escape as one.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%w: goavro: %v", ErrBadSchema, r)
		}
	}()
	// goavro gets the schema without field defaults: decoding does not use
	// them (resolution fills missing fields, from the defaults validated
	// above), and goavro refuses some valid ones (a record default whose
	// fields are unions).
	stripFieldDefaults(raw)
	forGoavro, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSchema, err)
	}
	codec, err := goavro.NewCodec(string(forGoavro))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSchema, err)
	}
	return &Schema{
		text:      compact.String(),
		root:      root,
		codec:     codec,
		canonical: canonicalForm(root),
		hasBlocks: needsBounds(root),
	}, nil
}

// stripFieldDefaults deletes the "default" of every record field in the
// decoded schema JSON v.
func stripFieldDefaults(v any) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			stripFieldDefaults(e)
		}
	case map[string]any:
		if fields, ok := t["fields"].([]any); ok {
			for _, f := range fields {
				if fm, ok := f.(map[string]any); ok {
					delete(fm, "default")
				}
			}
		}
		for _, e := range t {
			stripFieldDefaults(e)
		}
	}
}

// String returns the schema's JSON as it was given, without insignificant
// whitespace.
func (s *Schema) String() string { return s.text }

// Name returns the full name of the schema's top-level type if it is named
// (record, enum or fixed), and its type name otherwise ("string", "array").
func (s *Schema) Name() string {
	if s.root.kind.named() {
		return s.root.fullName
	}
	return s.root.kind.String()
}

// AppendBinary appends the Avro binary encoding of native (goavro's native
// form of a value of this schema) to dst. Records must have every field:
// field defaults are for readers, not filled in here.
func (s *Schema) AppendBinary(dst []byte, native any) ([]byte, error) {
	return s.codec.BinaryFromNative(dst, native)
}

// needsBounds reports whether goavro's decoding of n must be bounded first
// (see bounder): n has arrays or maps, whose block counts goavro trusts,
// or is recursive, so that a datum's nesting depth is up to the datum.
func needsBounds(root *node) bool {
	found := false
	visit(root, map[*node]bool{}, func(n *node) {
		if n.kind == kArray || n.kind == kMap {
			found = true
		}
	})
	return found || recursive(root, map[*node]bool{}, map[*node]bool{})
}

// recursive reports whether a named type refers to itself; done holds the
// nodes already explored without finding a cycle.
func recursive(n *node, onPath, done map[*node]bool) bool {
	if onPath[n] {
		return true
	}
	if done[n] {
		return false
	}
	onPath[n] = true
	defer func() { delete(onPath, n); done[n] = true }()
	for _, f := range n.fields {
		if recursive(f.typ, onPath, done) {
			return true
		}
	}
	for _, b := range n.branches {
		if recursive(b, onPath, done) {
			return true
		}
	}
	for _, c := range []*node{n.items, n.values} {
		if c != nil && recursive(c, onPath, done) {
			return true
		}
	}
	return false
}

type pendingDefault struct {
	f    *field
	path string
}

type parser struct {
	names    map[string]*node
	defaults []pendingDefault
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var primitives = map[string]kind{
	"null": kNull, "boolean": kBoolean, "int": kInt, "long": kLong,
	"float": kFloat, "double": kDouble, "bytes": kBytes, "string": kString,
}

// parse builds the node for the JSON value v; ns is the enclosing
// namespace, path locates v for messages.
func (p *parser) parse(v any, ns, path string) (*node, error) {
	switch t := v.(type) {
	case string:
		return p.ref(t, ns, path)
	case []any:
		return p.union(t, ns, path)
	case map[string]any:
		return p.object(t, ns, path)
	}
	return nil, fmt.Errorf("%s: a type must be a name, an object or an array, not %s", pathOr(path), jsonKind(v))
}

func pathOr(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

func (p *parser) ref(name, ns, path string) (*node, error) {
	if k, ok := primitives[name]; ok {
		return &node{kind: k}, nil
	}
	if !strings.Contains(name, ".") && ns != "" {
		if n, ok := p.names[ns+"."+name]; ok {
			return n, nil
		}
	}
	if n, ok := p.names[name]; ok {
		return n, nil
	}
	return nil, fmt.Errorf("%s: unknown type %q", pathOr(path), name)
}

func (p *parser) union(branches []any, ns, path string) (*node, error) {
	n := &node{kind: kUnion}
	seen := map[string]bool{}
	for i, b := range branches {
		bp := fmt.Sprintf("%s/%d", path, i)
		bn, err := p.parse(b, ns, bp)
		if err != nil {
			return nil, err
		}
		if bn.kind == kUnion {
			return nil, fmt.Errorf("%s: a union may not contain a union", bp)
		}
		key := bn.kind.String()
		if bn.kind.named() {
			key = bn.fullName
		}
		if seen[key] {
			return nil, fmt.Errorf("%s: the union has %s twice", bp, key)
		}
		seen[key] = true
		n.branches = append(n.branches, bn)
	}
	if len(n.branches) == 0 {
		return nil, fmt.Errorf("%s: a union needs at least one branch", pathOr(path))
	}
	return n, nil
}

func (p *parser) object(m map[string]any, ns, path string) (*node, error) {
	t, ok := m["type"]
	if !ok {
		return nil, fmt.Errorf("%s: missing \"type\"", pathOr(path))
	}
	ts, ok := t.(string)
	if !ok {
		// {"type": {...}} or {"type": [...]}: the type is nested.
		return p.parse(t, ns, path+"/type")
	}
	switch ts {
	case "record", "error":
		return p.record(m, ns, path)
	case "enum":
		return p.enum(m, ns, path)
	case "fixed":
		n, err := p.named(m, kFixed, ns, path)
		if err != nil {
			return nil, err
		}
		size, err := intProp(m, "size", path)
		if err != nil {
			return nil, err
		}
		if size < 0 {
			return nil, fmt.Errorf("%s/size: must not be negative", path)
		}
		n.size = size
		if err := p.logical(n, m, path); err != nil {
			return nil, err
		}
		return n, nil
	case "array":
		items, ok := m["items"]
		if !ok {
			return nil, fmt.Errorf("%s: array without \"items\"", pathOr(path))
		}
		in, err := p.parse(items, ns, path+"/items")
		if err != nil {
			return nil, err
		}
		return &node{kind: kArray, items: in}, nil
	case "map":
		values, ok := m["values"]
		if !ok {
			return nil, fmt.Errorf("%s: map without \"values\"", pathOr(path))
		}
		vn, err := p.parse(values, ns, path+"/values")
		if err != nil {
			return nil, err
		}
		return &node{kind: kMap, values: vn}, nil
	}
	if k, ok := primitives[ts]; ok {
		n := &node{kind: k}
		if err := p.logical(n, m, path); err != nil {
			return nil, err
		}
		return n, nil
	}
	return p.ref(ts, ns, path)
}

// logical records the logical type of n when goavro materialises it, and
// checks decimal parameters.
func (p *parser) logical(n *node, m map[string]any, path string) error {
	lt, _ := m["logicalType"].(string)
	switch {
	case lt == lDecimal && (n.kind == kBytes || n.kind == kFixed):
		prec, err := intProp(m, "precision", path)
		if err != nil {
			return err
		}
		scale := 0
		if _, ok := m["scale"]; ok {
			if scale, err = intProp(m, "scale", path); err != nil {
				return err
			}
		}
		if prec < 1 || scale < 0 || scale > prec {
			return fmt.Errorf("%s: decimal needs 0 <= scale <= precision and precision >= 1 (precision %d, scale %d)", pathOr(path), prec, scale)
		}
		if n.kind == kFixed && n.size < 16 {
			// The largest precision size bytes hold: floor(log10(2^(8*size-1)-1)).
			if max := int(math.Floor(math.Log10(math.Pow(2, float64(8*n.size-1)) - 1))); prec > max {
				return fmt.Errorf("%s: decimal precision %d does not fit fixed size %d", pathOr(path), prec, n.size)
			}
		}
		n.logical, n.precision, n.scale = lDecimal, prec, scale
	case (lt == lTimestampMillis || lt == lTimestampMicros || lt == lTimeMicros) && n.kind == kLong,
		(lt == lDate || lt == lTimeMillis) && n.kind == kInt:
		n.logical = lt
	}
	return nil
}

func intProp(m map[string]any, key, path string) (int, error) {
	v, ok := m[key]
	if !ok {
		return 0, fmt.Errorf("%s: missing %q", pathOr(path), key)
	}
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s/%s: must be an integer", path, key)
	}
	i, err := num.Int64()
	if err != nil || i > math.MaxInt32 || i < math.MinInt32 {
		return 0, fmt.Errorf("%s/%s: must be an integer", path, key)
	}
	return int(i), nil
}

// named parses the name, namespace and aliases of a named type and
// registers it.
func (p *parser) named(m map[string]any, k kind, ns, path string) (*node, error) {
	name, ok := m["name"].(string)
	if !ok {
		return nil, fmt.Errorf("%s: a %s needs a string \"name\"", pathOr(path), k)
	}
	if nsv, ok := m["namespace"]; ok {
		s, ok := nsv.(string)
		if !ok {
			return nil, fmt.Errorf("%s/namespace: must be a string", path)
		}
		ns = s
	}
	full, space, err := qualify(name, ns)
	if err != nil {
		return nil, fmt.Errorf("%s/name: %v", path, err)
	}
	if _, ok := primitives[full]; ok {
		return nil, fmt.Errorf("%s/name: %q is a primitive type name", path, full)
	}
	if _, dup := p.names[full]; dup {
		return nil, fmt.Errorf("%s/name: %q is defined twice", path, full)
	}
	n := &node{kind: k, fullName: full, namespace: space, name: full[strings.LastIndexByte(full, '.')+1:]}
	aliases, err := stringList(m, "aliases", path)
	if err != nil {
		return nil, err
	}
	for _, a := range aliases {
		fa, _, err := qualify(a, space)
		if err != nil {
			return nil, fmt.Errorf("%s/aliases: %v", path, err)
		}
		n.aliases = append(n.aliases, fa)
	}
	p.names[full] = n
	return n, nil
}

// qualify returns the full name of name in namespace ns, and the namespace
// the name defines.
func qualify(name, ns string) (full, space string, err error) {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		full, space = name, name[:i]
	} else if ns != "" {
		full, space = ns+"."+name, ns
	} else {
		full = name
	}
	for _, part := range strings.Split(full, ".") {
		if !nameRE.MatchString(part) {
			return "", "", fmt.Errorf("invalid name %q", full)
		}
	}
	return full, space, nil
}

func stringList(m map[string]any, key, path string) ([]string, error) {
	v, ok := m[key]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s/%s: must be an array of strings", path, key)
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s/%s: must be an array of strings", path, key)
		}
		out[i] = s
	}
	return out, nil
}

func (p *parser) record(m map[string]any, ns, path string) (*node, error) {
	n, err := p.named(m, kRecord, ns, path)
	if err != nil {
		return nil, err
	}
	fv, ok := m["fields"].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: a record needs a \"fields\" array", pathOr(path))
	}
	n.fieldIndex = make(map[string]*field, len(fv))
	for i, f := range fv {
		fp := fmt.Sprintf("%s/fields/%d", path, i)
		fm, ok := f.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: a field must be an object", fp)
		}
		name, ok := fm["name"].(string)
		if !ok || !nameRE.MatchString(name) {
			return nil, fmt.Errorf("%s/name: a field needs a valid name", fp)
		}
		if _, dup := n.fieldIndex[name]; dup {
			return nil, fmt.Errorf("%s/name: field %q is defined twice", fp, name)
		}
		ft, ok := fm["type"]
		if !ok {
			return nil, fmt.Errorf("%s: field %q has no type", fp, name)
		}
		tn, err := p.parse(ft, n.namespace, fp+"/type")
		if err != nil {
			return nil, err
		}
		aliases, err := stringList(fm, "aliases", fp)
		if err != nil {
			return nil, err
		}
		fd := &field{name: name, aliases: aliases, typ: tn}
		fd.def, fd.hasDefault = fm["default"]
		if fd.hasDefault {
			p.defaults = append(p.defaults, pendingDefault{fd, fp})
		}
		n.fields = append(n.fields, fd)
		n.fieldIndex[name] = fd
	}
	return n, nil
}

func (p *parser) enum(m map[string]any, ns, path string) (*node, error) {
	n, err := p.named(m, kEnum, ns, path)
	if err != nil {
		return nil, err
	}
	syms, err := stringList(m, "symbols", path)
	if err != nil {
		return nil, err
	}
	if syms == nil {
		return nil, fmt.Errorf("%s: an enum needs \"symbols\"", pathOr(path))
	}
	n.symbols = syms
	n.symbolIndex = make(map[string]int, len(syms))
	for i, s := range syms {
		if !nameRE.MatchString(s) {
			return nil, fmt.Errorf("%s/symbols: invalid symbol %q", path, s)
		}
		if _, dup := n.symbolIndex[s]; dup {
			return nil, fmt.Errorf("%s/symbols: symbol %q is listed twice", path, s)
		}
		n.symbolIndex[s] = i
	}
	if d, ok := m["default"]; ok {
		ds, ok := d.(string)
		if _, known := n.symbolIndex[ds]; !ok || !known {
			return nil, fmt.Errorf("%s/default: the enum default must be one of its symbols", path)
		}
		n.enumDefault, n.hasEnumDef = ds, true
	}
	return n, nil
}
