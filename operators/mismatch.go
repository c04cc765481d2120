package operators

import "time"

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
// Output.Mismatch; Native gives the record in the shape of the mismatch
// schema (examples/payments/schemas/mismatch.avsc), which sinks encode.
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
// building its native form; other paths read the native form.
type mismatchView struct {
	m      *Mismatch
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
