package schemas

import (
	"fmt"

	"github.com/linkedin/goavro/v2"
	"strconv"
	"strings"
)

// Resolver reads data written with one schema (the writer's) as another
// (the reader's), following the Avro specification's Schema Resolution.
// NewResolver compiles the pair once into a tree of converters; Decode
// then decodes a datum with goavro's codec for the writer schema and
// converts the native value in place into the reader's native form,
// without walking either schema again. A Resolver is safe for concurrent
// use.
type Resolver struct {
	writer, reader *Schema
	conv           convFn // nil: the writer's native form is the reader's
	flat           *flatRecord
	bounds         *bounder
}

// convFn converts a native value of the writer's type into the reader's.
// It may modify v (maps and slices goavro just allocated) in place.
type convFn func(v any) (any, error)

// ResolveError reports a writer/reader pair that cannot be resolved: no
// datum of the writer schema can be read with the reader schema. It lists
// every incompatibility the compiler found, and wraps ErrUnresolvable.
type ResolveError struct {
	Incompatibilities []Incompatibility
}

func (e *ResolveError) Error() string {
	var b strings.Builder
	b.WriteString("schemas: writer schema does not resolve to reader schema:")
	for _, inc := range e.Incompatibilities {
		b.WriteString("\n  ")
		b.WriteString(inc.String())
	}
	return b.String()
}

func (e *ResolveError) Unwrap() error { return ErrUnresolvable }

// NewResolver compiles the resolution of writer into reader. It fails with
// a *ResolveError when no datum of writer can be read as reader (for
// example a reader field without a default that the writer lacks). A pair
// that resolves only some datums (a writer union with a branch the reader
// cannot read, an enum symbol the reader lacks and has no default for)
// compiles; Decode fails with ErrUnresolvable for the datums that hit it.
// CanRead reports those conditional incompatibilities too.
func NewResolver(writer, reader *Schema) (*Resolver, error) {
	c := newCompiler()
	conv, ok := c.compile(writer.root, reader.root, "")
	if !ok {
		return nil, &ResolveError{Incompatibilities: c.incs}
	}
	r := &Resolver{writer: writer, reader: reader, conv: conv}
	if writer.root.kind == kRecord && reader.root.kind == kRecord {
		flat, err := newFlatRecord(c.records[nodePair{writer.root, reader.root}], writer.root)
		if err != nil {
			return nil, err
		}
		r.flat = flat
	}
	if writer.hasBlocks {
		r.bounds = newBounder(writer.root)
	}
	return r, nil
}

// Writer returns the writer schema.
func (r *Resolver) Writer() *Schema { return r.writer }

// Reader returns the reader schema.
func (r *Resolver) Reader() *Schema { return r.reader }

// Decode decodes body, one Avro binary datum of the writer schema, into
// the reader schema's native form (goavro's: records are map[string]any,
// unions map[string]any{branch: value} or nil). Byte slices in the result
// may alias body. Errors wrap ErrBadBody (the body does not decode, or has
// trailing bytes) or ErrUnresolvable (the datum uses a union branch or enum
// symbol the reader cannot read).
func (r *Resolver) Decode(body []byte) (any, error) {
	v, rest, err := r.DecodeNext(body)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after the datum", ErrBadBody, len(rest))
	}
	return v, nil
}

// DecodeNext decodes the datum at the start of buf, like Decode, and
// returns the bytes after it.
func (r *Resolver) DecodeNext(buf []byte) (value any, rest []byte, err error) {
	if r.bounds != nil {
		if err := r.bounds.check(buf); err != nil {
			return nil, nil, err
		}
	}
	if r.flat != nil {
		return r.flat.decode(buf)
	}
	v, rest, err := r.nativeFromBinary(r.writer.codec, buf)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	if r.conv != nil {
		if v, err = r.conv(v); err != nil {
			return nil, nil, err
		}
	}
	return v, rest, nil
}

// nativeFromBinary calls goavro, turning a panic in it into an error: bad
// input must never crash the process.
func (r *Resolver) nativeFromBinary(codec *goavro.Codec, buf []byte) (v any, rest []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, rest, err = nil, nil, fmt.Errorf("goavro: %v", p)
		}
	}()
	return codec.NativeFromBinary(buf)
}

// unresolvable is the error of a datum that reaches a part of the writer
// schema the reader cannot read.
func unresolvable(path, reason string) error {
	return fmt.Errorf("%w: %s: %s", ErrUnresolvable, pathOr(path), reason)
}

type nodePair struct{ w, r *node }

// smallMap is the number of entries a Go map holds before it grows into a
// table.
const smallMap = 8

// compiler compiles writer/reader pairs into converters, collecting every
// incompatibility on the way.
type compiler struct {
	records map[nodePair]*recordConv
	incs    []Incompatibility
}

func newCompiler() *compiler { return &compiler{records: map[nodePair]*recordConv{}} }

func (c *compiler) add(path string, k IncompatibilityKind, format string, args ...any) {
	c.incs = append(c.incs, Incompatibility{Path: pathOr(path), Kind: k, Reason: fmt.Sprintf(format, args...)})
}

// compile returns the converter from w's native form to r's (nil for the
// identity) and whether any datum of w can be read as r at all. It records
// every incompatibility, including those that only some datums hit.
func (c *compiler) compile(w, r *node, path string) (convFn, bool) {
	if w.kind == kUnion {
		return c.writerUnion(w, r, path)
	}
	if r.kind == kUnion {
		for i, rb := range r.branches {
			if !matches(w, rb) {
				continue
			}
			conv, ok := c.compile(w, rb, path+"/"+strconv.Itoa(i))
			if !ok {
				return nil, false
			}
			if rb.kind == kNull {
				return func(any) (any, error) { return nil, nil }, true
			}
			name := rb.unionName()
			return func(v any) (any, error) {
				if conv != nil {
					var err error
					if v, err = conv(v); err != nil {
						return nil, err
					}
				}
				return map[string]any{name: v}, nil
			}, true
		}
		c.add(path, MissingUnionBranch, "reader union lacks writer type %s", w.describe())
		return nil, false
	}
	if w.kind != r.kind && !(isPrimitive(w.kind) && isPrimitive(r.kind) && promotable(w.kind, r.kind)) {
		c.add(path, TypeMismatch, "reader type %s cannot read writer type %s", r.describe(), w.describe())
		return nil, false
	}
	if r.kind.named() && !namesMatch(w, r) {
		c.add(path+"/name", NameMismatch, "reader %s %s does not match writer's %s (no alias)", r.kind, r.fullName, w.fullName)
		return nil, false
	}
	switch r.kind {
	case kRecord:
		return c.record(w, r, path)
	case kEnum:
		return c.enum(w, r, path), true
	case kArray:
		conv, ok := c.compile(w.items, r.items, path+"/items")
		if !ok || conv == nil {
			return nil, ok
		}
		return func(v any) (any, error) {
			s, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%w: %s: %T is not an array", ErrBadBody, pathOr(path), v)
			}
			for i, x := range s {
				y, err := conv(x)
				if err != nil {
					return nil, err
				}
				s[i] = y
			}
			return s, nil
		}, true
	case kMap:
		conv, ok := c.compile(w.values, r.values, path+"/values")
		if !ok || conv == nil {
			return nil, ok
		}
		return func(v any) (any, error) {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%w: %s: %T is not a map", ErrBadBody, pathOr(path), v)
			}
			for k, x := range m {
				y, err := conv(x)
				if err != nil {
					return nil, err
				}
				m[k] = y
			}
			return m, nil
		}, true
	case kFixed:
		if w.size != r.size {
			c.add(path+"/size", FixedSizeMismatch, "reader fixed %s has size %d, writer's has %d", r.fullName, r.size, w.size)
			return nil, false
		}
	}
	return scalarConv(w, r, path), true
}

func isPrimitive(k kind) bool { return k <= kString }

// scalarConv converts primitives and fixed: the writer's logical value to
// its raw value, a promotion, then the reader's logical value.
func scalarConv(w, r *node, path string) convFn {
	if w.kind == r.kind && sameLogical(w, r) {
		return nil
	}
	return func(v any) (any, error) {
		v, err := toRaw(w, v)
		if err == nil && w.kind != r.kind {
			v, err = promote(v, r.kind)
		}
		if err == nil {
			v, err = fromRaw(r, v)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadBody, pathOr(path), err)
		}
		return v, nil
	}
}

func sameLogical(w, r *node) bool {
	return w.logical == r.logical && (w.logical != lDecimal || w.scale == r.scale)
}

// matches is the specification's shallow test used to pick a branch of a
// reader union for a writer type: same primitive or a promotion, named
// types of the same kind whose names match (fixed: and size), arrays and
// maps whose items or values match.
func matches(w, r *node) bool {
	switch {
	case isPrimitive(w.kind) && isPrimitive(r.kind):
		return promotable(w.kind, r.kind)
	case w.kind != r.kind:
		return false
	case w.kind == kFixed:
		return w.size == r.size && namesMatch(w, r)
	case w.kind.named():
		return namesMatch(w, r)
	case w.kind == kArray:
		return matchesDeep(w.items, r.items)
	case w.kind == kMap:
		return matchesDeep(w.values, r.values)
	}
	return false
}

func matchesDeep(w, r *node) bool {
	if w.kind == kUnion || r.kind == kUnion {
		return true
	}
	return matches(w, r)
}

// namesMatch: the unqualified names are equal, or the writer's full name
// is one of the reader's aliases.
func namesMatch(w, r *node) bool {
	if w.name == r.name {
		return true
	}
	for _, a := range r.aliases {
		if a == w.fullName {
			return true
		}
	}
	return false
}

type writerBranch struct {
	name  string // goavro's key for the branch in the writer's native form
	conv  convFn
	wrap  string // reader union key; "" when the reader is not a union
	null  bool   // the value read is null (no wrapping)
	same  bool   // the value needs no change at all
	fails error  // not nil: the reader cannot read this branch
}

// writerUnion compiles a writer union: each branch resolves on its own
// against the reader (a union or not); branches the reader cannot read fail
// only the datums that use them.
func (c *compiler) writerUnion(w, r *node, path string) (convFn, bool) {
	branches := make([]writerBranch, len(w.branches))
	anyOK, identity := false, true
	for i, wb := range w.branches {
		b := writerBranch{name: wb.unionName(), null: r.kind == kNull}
		bpath := path
		if r.kind == kUnion {
			bpath = path + "/" + strconv.Itoa(i)
		}
		var ok bool
		if r.kind == kUnion {
			ok = false
			for j, rb := range r.branches {
				if !matches(wb, rb) {
					continue
				}
				b.conv, ok = c.compile(wb, rb, path+"/"+strconv.Itoa(j))
				b.wrap = rb.unionName()
				b.null = rb.kind == kNull
				break
			}
			if b.wrap == "" {
				c.add(bpath, MissingUnionBranch, "reader union lacks writer branch %d (%s)", i, wb.describe())
			}
		} else {
			b.conv, ok = c.compile(wb, r, bpath)
		}
		if !ok {
			b.fails = unresolvable(bpath, fmt.Sprintf("the reader cannot read writer union branch %d (%s)", i, wb.describe()))
			identity = false
		} else {
			anyOK = true
			if r.kind == kUnion {
				b.same = b.conv == nil && b.wrap == b.name
			} else {
				b.same = b.conv == nil && wb.kind == kNull
			}
			identity = identity && b.same
		}
		branches[i] = b
	}
	if !anyOK {
		c.add(path, MissingUnionBranch, "the reader can read no branch of the writer union")
		return nil, false
	}
	if identity && r.kind == kUnion {
		return nil, true
	}
	var nullBranch *writerBranch
	for i := range branches {
		if branches[i].name == "null" {
			nullBranch = &branches[i]
		}
	}
	return func(v any) (any, error) {
		if v == nil {
			if nullBranch == nil {
				return nil, fmt.Errorf("%w: %s: null is not a branch of the writer union", ErrBadBody, pathOr(path))
			}
			if nullBranch.fails != nil {
				return nil, nullBranch.fails
			}
			return nil, nil
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("%w: %s: %T is not a union value", ErrBadBody, pathOr(path), v)
		}
		for k, x := range m {
			for i := range branches {
				b := &branches[i]
				if b.name != k {
					continue
				}
				switch {
				case b.fails != nil:
					return nil, b.fails
				case b.same:
					return v, nil
				}
				if b.conv != nil {
					var err error
					if x, err = b.conv(x); err != nil {
						return nil, err
					}
				}
				switch {
				case b.null:
					return nil, nil
				case b.wrap == "":
					return x, nil
				}
				delete(m, k)
				m[b.wrap] = x
				return m, nil
			}
			return nil, fmt.Errorf("%w: %s: %q is not a branch of the writer union", ErrBadBody, pathOr(path), k)
		}
		return nil, nil // unreachable: m has one entry
	}, true
}

// enum: symbols the reader lacks read as the reader's default, or fail.
func (c *compiler) enum(w, r *node, path string) convFn {
	var replace map[string]string
	var missing []string
	for _, s := range w.symbols {
		if _, ok := r.symbolIndex[s]; ok {
			continue
		}
		if replace == nil {
			replace = map[string]string{}
		}
		if r.hasEnumDef {
			replace[s] = r.enumDefault
		} else {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		c.add(path+"/symbols", MissingEnumSymbols, "reader enum %s lacks writer symbols %s and has no default", r.fullName, strings.Join(missing, ", "))
	}
	if replace == nil {
		return nil
	}
	return func(v any) (any, error) {
		s, _ := v.(string)
		if rep, ok := replace[s]; ok {
			return rep, nil
		}
		for _, m := range missing {
			if m == s {
				return nil, unresolvable(path, fmt.Sprintf("reader enum %s has no symbol %s and no default", r.fullName, s))
			}
		}
		return v, nil
	}
}

// recordConv converts a goavro record map of the writer into the reader's
// in place: converted fields, renamed fields (aliases), dropped fields
// (the reader lacks them), defaults (the writer lacks them).
type recordConv struct {
	path     string
	failed   bool
	identity bool
	moves    []fieldMove
	drops    []string
	defaults []fieldDefault
	// rebuild: build a new map of size entries (see applyNew), copying
	// the writer fields kept as they are.
	rebuild bool
	size    int
	keep    []string
	// matches lists the reader fields read from writer fields, for
	// newFlatRecord.
	matches []fieldMatch
}

// applyNew builds the reader's record in a new map sized for it: when the
// reader has more fields than a small map holds (8), adding them to goavro's
// map would grow it, rehashing every entry, which costs more than building
// the map once.
func (rc *recordConv) applyNew(m map[string]any) (any, error) {
	out := make(map[string]any, rc.size)
	for _, name := range rc.keep {
		out[name] = m[name]
	}
	for i := range rc.moves {
		mv := &rc.moves[i]
		x := m[mv.from]
		if mv.clone {
			x = cloneNative(x)
		}
		if mv.conv != nil {
			var err error
			if x, err = mv.conv(x); err != nil {
				return nil, err
			}
		}
		out[mv.to] = x
	}
	for i := range rc.defaults {
		d := &rc.defaults[i]
		if d.mutable {
			out[d.name] = cloneNative(d.value)
		} else {
			out[d.name] = d.value
		}
	}
	return out, nil
}

// fieldMatch is a reader field read from a writer field.
type fieldMatch struct {
	rf, wf *field
	conv   convFn
}

type fieldMove struct {
	from, to string
	conv     convFn
	clone    bool // the writer field feeds several reader fields
}

type fieldDefault struct {
	name    string
	value   any
	mutable bool
}

func (c *compiler) record(w, r *node, path string) (convFn, bool) {
	key := nodePair{w, r}
	if rc, ok := c.records[key]; ok {
		// Compiled, or being compiled (a recursive schema): the result is
		// known, or assumed fine until the outer compile decides.
		return rc.apply, !rc.failed
	}
	rc := &recordConv{path: path}
	c.records[key] = rc
	// Each reader field reads the writer field of its name, or else of
	// one of its aliases.
	uses := map[string]int{}
	sources := make([]*field, len(r.fields))
	for i, rf := range r.fields {
		wf := w.fieldIndex[rf.name]
		for _, a := range rf.aliases {
			if wf != nil {
				break
			}
			wf = w.fieldIndex[a]
		}
		if wf != nil {
			uses[wf.name]++
		}
		sources[i] = wf
	}
	var inplace []fieldMove
	for i, rf := range r.fields {
		wf := sources[i]
		fpath := path + "/fields/" + rf.name
		if wf == nil {
			if !rf.hasDefault {
				c.add(fpath, ReaderFieldMissingDefaultValue, "reader field %s has no default and the writer lacks it", rf.name)
				rc.failed = true
				continue
			}
			def, err := defaultNative(rf.typ, rf.def)
			if err != nil { // Parse validated it
				c.add(fpath, TypeMismatch, "reader field %s: bad default: %v", rf.name, err)
				rc.failed = true
				continue
			}
			rc.defaults = append(rc.defaults, fieldDefault{name: rf.name, value: def, mutable: mutable(def)})
			continue
		}
		conv, ok := c.compile(wf.typ, rf.typ, fpath)
		if !ok {
			rc.failed = true
			continue
		}
		rc.matches = append(rc.matches, fieldMatch{rf: rf, wf: wf, conv: conv})
		mv := fieldMove{from: wf.name, to: rf.name, conv: conv, clone: uses[wf.name] > 1}
		switch {
		case mv.from != mv.to:
			rc.moves = append(rc.moves, mv)
		case conv != nil:
			inplace = append(inplace, mv)
		}
	}
	// Renames read their source before in-place conversions change it.
	rc.moves = append(rc.moves, inplace...)
	// A writer field stays where it is when a reader field has its name
	// (that field matched it by name); the others go, renamed sources
	// included.
	for _, wf := range w.fields {
		if _, kept := r.fieldIndex[wf.name]; !kept {
			rc.drops = append(rc.drops, wf.name)
		}
	}
	rc.identity = len(rc.moves) == 0 && len(rc.drops) == 0 && len(rc.defaults) == 0
	rc.size = len(r.fields)
	rc.rebuild = rc.size > smallMap && rc.size > len(w.fields)
	if rc.rebuild {
		converted := map[string]bool{}
		for _, mv := range rc.moves {
			converted[mv.to] = true
		}
		for _, wf := range w.fields {
			if _, kept := r.fieldIndex[wf.name]; kept && !converted[wf.name] {
				rc.keep = append(rc.keep, wf.name)
			}
		}
	}
	if rc.failed {
		return nil, false
	}
	if rc.identity {
		return nil, true
	}
	return rc.apply, true
}

func (rc *recordConv) apply(v any) (any, error) {
	if rc.failed {
		return nil, unresolvable(rc.path, "the record does not resolve")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s: %T is not a record", ErrBadBody, pathOr(rc.path), v)
	}
	if rc.identity {
		return m, nil
	}
	if rc.rebuild {
		return rc.applyNew(m)
	}
	for i := range rc.moves {
		mv := &rc.moves[i]
		x := m[mv.from]
		if mv.clone {
			x = cloneNative(x)
		}
		if mv.conv != nil {
			var err error
			if x, err = mv.conv(x); err != nil {
				return nil, err
			}
		}
		m[mv.to] = x
	}
	for _, d := range rc.drops {
		delete(m, d)
	}
	for i := range rc.defaults {
		d := &rc.defaults[i]
		if d.mutable {
			m[d.name] = cloneNative(d.value)
		} else {
			m[d.name] = d.value
		}
	}
	return m, nil
}
