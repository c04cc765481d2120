package schemas

import (
	"encoding/json"
	"fmt"

	"github.com/linkedin/goavro/v2"
)

// flatRecord decodes a top-level writer record field by field, with one
// goavro codec per writer field, straight into a map sized for the reader
// record. Decoding the whole record with goavro and then converting its
// map would build two maps per datum, and grow the second when the reader
// has more fields than a small map holds; this builds one.
type flatRecord struct {
	fields   []flatField // in writer order
	defaults []fieldDefault
	size     int
}

type flatField struct {
	name    string
	codec   *goavro.Codec
	targets []flatTarget // none: the reader lacks the field, skip it
}

type flatTarget struct {
	name  string
	conv  convFn
	clone bool // the writer field feeds several reader fields
}

func newFlatRecord(rc *recordConv, w *node) (*flatRecord, error) {
	f := &flatRecord{defaults: rc.defaults, size: rc.size}
	targets := map[string][]flatTarget{}
	for _, m := range rc.matches {
		targets[m.wf.name] = append(targets[m.wf.name], flatTarget{name: m.rf.name, conv: m.conv})
	}
	for _, wf := range w.fields {
		spec, err := json.Marshal(goavroJSON(wf.typ, map[*node]bool{}))
		if err != nil {
			return nil, err
		}
		codec, err := goavro.NewCodec(string(spec))
		if err != nil {
			return nil, fmt.Errorf("%w: field %s: %v", ErrBadSchema, wf.name, err)
		}
		ts := targets[wf.name]
		if len(ts) > 1 {
			for i := range ts {
				ts[i].clone = true
			}
		}
		f.fields = append(f.fields, flatField{name: wf.name, codec: codec, targets: ts})
	}
	return f, nil
}

func (f *flatRecord) decode(buf []byte) (value any, rest []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			value, rest, err = nil, nil, fmt.Errorf("%w: goavro: %v", ErrBadBody, p)
		}
	}()
	out := make(map[string]any, f.size)
	for i := range f.fields {
		fd := &f.fields[i]
		v, next, err := fd.codec.NativeFromBinary(buf)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: field %s: %v", ErrBadBody, fd.name, err)
		}
		buf = next
		for j := range fd.targets {
			t := &fd.targets[j]
			x := v
			if t.clone {
				x = cloneNative(x)
			}
			if t.conv != nil {
				if x, err = t.conv(x); err != nil {
					return nil, nil, err
				}
			}
			out[t.name] = x
		}
	}
	for i := range f.defaults {
		d := &f.defaults[i]
		if d.mutable {
			out[d.name] = cloneNative(d.value)
		} else {
			out[d.name] = d.value
		}
	}
	return out, buf, nil
}

// goavroJSON writes type n as a standalone schema for goavro: named types
// defined at their first use (full names), logical types with their
// parameters; no defaults, aliases or docs, which decoding does not use.
func goavroJSON(n *node, defined map[*node]bool) any {
	if n.kind.named() && defined[n] {
		return n.fullName
	}
	withLogical := func(m map[string]any) map[string]any {
		if n.logical != lNone {
			m["logicalType"] = n.logical
			if n.logical == lDecimal {
				m["precision"], m["scale"] = n.precision, n.scale
			}
		}
		return m
	}
	switch n.kind {
	case kUnion:
		out := make([]any, len(n.branches))
		for i, b := range n.branches {
			out[i] = goavroJSON(b, defined)
		}
		return out
	case kRecord:
		defined[n] = true
		fields := make([]any, len(n.fields))
		for i, f := range n.fields {
			fields[i] = map[string]any{"name": f.name, "type": goavroJSON(f.typ, defined)}
		}
		return map[string]any{"type": "record", "name": n.fullName, "fields": fields}
	case kEnum:
		defined[n] = true
		return map[string]any{"type": "enum", "name": n.fullName, "symbols": n.symbols}
	case kFixed:
		defined[n] = true
		return withLogical(map[string]any{"type": "fixed", "name": n.fullName, "size": n.size})
	case kArray:
		return map[string]any{"type": "array", "items": goavroJSON(n.items, defined)}
	case kMap:
		return map[string]any{"type": "map", "values": goavroJSON(n.values, defined)}
	}
	return withLogical(map[string]any{"type": n.kind.String()})
}
