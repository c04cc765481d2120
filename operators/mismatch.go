package operators

import (
	_ "embed" // the mismatch schema
	"encoding/binary"
	"encoding/hex"
	"time"
)

// MismatchSchema is the Avro schema (JSON) of the records a reconciler
// emits: Mismatch.Native builds them in goavro's native form and
// Mismatch.AppendAvro encodes them in this schema's binary form directly.
//
//go:embed mismatch.avsc
var MismatchSchema string

// MismatchStatus is the status of a key's reconciliation state.
type MismatchStatus uint8

// Statuses. Their String form is the symbol of the mismatch record's
// MismatchStatus enum.
const (
	// Open: the key has at least one reason.
	Open MismatchStatus = iota + 1
	// Resolved: the key reconciles cleanly.
	Resolved
)

func (s MismatchStatus) String() string {
	if s == Open {
		return "OPEN"
	}
	return "RESOLVED"
}

// Mismatch is the reconciliation state of one key, as a reconciler emits
// it. Outputs of a reconciler published as they come carry it in
// Output.Mismatch; Native gives the record in the shape of MismatchSchema
// and AppendAvro its binary encoding.
type Mismatch struct {
	// ID is the id of the output that carries this state.
	ID           OutputID
	Key          string
	Graph        string
	GraphVersion int
	Reconciler   string
	Status       MismatchStatus
	Reasons      []Reason
	// Left and Right are the events of each side behind the state.
	Left, Right []Provenance
	// EventTime is the newest event time of the key's episode.
	EventTime time.Time
}

// Native returns the state as a record in goavro's native form, shaped
// like the mismatch schema.
func (m *Mismatch) Native() map[string]any {
	reasons := make([]any, len(m.Reasons))
	for i := range m.Reasons {
		r := &m.Reasons[i]
		reasons[i] = map[string]any{
			"kind":        r.Kind.String(),
			"field":       optString(r.Field, r.Field != ""),
			"left_value":  optPtr(r.Left),
			"right_value": optPtr(r.Right),
			"detail":      r.Detail,
		}
	}
	return map[string]any{
		"id":            m.ID.String(),
		"key":           m.Key,
		"graph":         m.Graph,
		"graph_version": int32(m.GraphVersion),
		"reconciler":    m.Reconciler,
		"status":        m.Status.String(),
		"reasons":       reasons,
		"left":          sourceValues(m.Left),
		"right":         sourceValues(m.Right),
		"event_time":    m.EventTime.Truncate(time.Millisecond),
	}
}

func optString(s string, ok bool) any {
	if !ok {
		return nil
	}
	return map[string]any{"string": s}
}

func optPtr(s *string) any {
	if s == nil {
		return nil
	}
	return map[string]any{"string": *s}
}

func sourceValues(ps []Provenance) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = map[string]any{
			"topic":      p.Topic,
			"partition":  p.Partition,
			"offset":     p.Offset,
			"event_time": p.Time.Truncate(time.Millisecond),
		}
	}
	return out
}

// mismatchView reads the scalar fields of a Mismatch by path without
// building its native form; other paths read the native form. It holds
// the Mismatch itself: one allocation for both.
type mismatchView struct {
	m      Mismatch
	native map[string]any
}

func (v *mismatchView) lookup(p Path) (any, bool) {
	if len(p.parts) == 1 {
		switch p.parts[0] {
		case "key":
			return v.m.Key, true
		case "graph":
			return v.m.Graph, true
		case "graph_version":
			return int32(v.m.GraphVersion), true
		case "reconciler":
			return v.m.Reconciler, true
		case "status":
			return v.m.Status.String(), true
		case "event_time":
			return v.m.EventTime.Truncate(time.Millisecond), true
		}
	}
	return p.Lookup(v.materialize())
}

func (v *mismatchView) materialize() map[string]any {
	if v.native == nil {
		v.native = v.m.Native()
	}
	return v.native
}

// AppendAvro appends the state in the binary encoding of MismatchSchema,
// byte for byte what an Avro library writes for Native with that schema,
// without building the native record.
func (m *Mismatch) AppendAvro(b []byte) []byte {
	var id [2 * len(OutputID{})]byte
	b = appendAvroBytes(b, hex.AppendEncode(id[:0], m.ID[:]))
	b = appendAvroString(b, m.Key)
	b = appendAvroString(b, m.Graph)
	b = binary.AppendVarint(b, int64(int32(m.GraphVersion)))
	b = appendAvroString(b, m.Reconciler)
	b = binary.AppendVarint(b, int64(m.Status)-1) // OPEN, RESOLVED
	if len(m.Reasons) > 0 {
		b = binary.AppendVarint(b, int64(len(m.Reasons)))
		for i := range m.Reasons {
			r := &m.Reasons[i]
			b = binary.AppendVarint(b, int64(r.Kind)-1) // the enum's symbols in ReasonKind order
			if r.Field == "" {
				b = append(b, 0)
			} else {
				b = appendAvroString(append(b, 2), r.Field)
			}
			b = appendOptString(b, r.Left)
			b = appendOptString(b, r.Right)
			b = appendAvroString(b, r.Detail)
		}
	}
	b = append(b, 0)
	b = appendAvroSources(b, m.Left)
	b = appendAvroSources(b, m.Right)
	return binary.AppendVarint(b, m.EventTime.UnixMilli())
}

func appendAvroSources(b []byte, ps []Provenance) []byte {
	if len(ps) > 0 {
		b = binary.AppendVarint(b, int64(len(ps)))
		for _, p := range ps {
			b = appendAvroString(b, p.Topic)
			b = binary.AppendVarint(b, int64(p.Partition))
			b = binary.AppendVarint(b, p.Offset)
			b = binary.AppendVarint(b, p.Time.UnixMilli())
		}
	}
	return append(b, 0)
}

// appendOptString appends a ["null", "string"] union.
func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, 0)
	}
	return appendAvroString(append(b, 2), *s)
}

func appendAvroString(b []byte, s string) []byte {
	return append(binary.AppendVarint(b, int64(len(s))), s...)
}

func appendAvroBytes(b, s []byte) []byte {
	return append(binary.AppendVarint(b, int64(len(s))), s...)
}
