package operators

import "time"

// mismatch builds the reconciliation state of a key from its match outcome,
// as a record shaped like the mismatch schema.
func (m *matchState) mismatch(t *Task, r *node, res *matchResult, provs []Provenance) *change {
	var reasons []any
	for _, p := range res.pairs {
		lv, rv := View{m: res.comp[p[0]].value}, View{m: res.comp[p[1]].value}
		for _, rule := range r.rec.rules {
			if why := rule.check(lv, rv); why != nil {
				reasons = append(reasons, reasonValue(why))
			}
		}
	}
	for _, i := range res.unmL {
		reasons = append(reasons, reasonValue(&Reason{Kind: MissingRight,
			Detail: "no right event within " + time.Duration(m.within).String() + " of " + provs[i].String()}))
	}
	for _, i := range res.unmR {
		reasons = append(reasons, reasonValue(&Reason{Kind: MissingLeft,
			Detail: "no left event within " + time.Duration(m.within).String() + " of " + provs[i].String()}))
	}
	var left, right []any
	for i, e := range res.comp {
		if e.side == Left {
			left = append(left, sourceValue(provs[i]))
		} else {
			right = append(right, sourceValue(provs[i]))
		}
	}
	return m.mismatchChange(t, r, res.key, res.key, res.version, res.maxTime, reasons, left, right, provs)
}

// lateRecord is the reconciliation state of a late event: its own key, one
// LATE reason.
func (m *matchState) lateRecord(t *Task, r *node, c *change, side Side) *change {
	why := &Reason{Kind: LateEvent, Detail: side.String() + " event " + c.prov.String() + " arrived after the allowed lateness"}
	var left, right []any
	if side == Left {
		left = []any{sourceValue(c.prov)}
	} else {
		right = []any{sourceValue(c.prov)}
	}
	okey := c.key + "@" + c.prov.String()
	return m.mismatchChange(t, r, c.key, okey, 1, c.time, []any{reasonValue(why)}, left, right, []Provenance{c.prov})
}

// boxedNames holds the constant fields of a reconciler's records, boxed once.
type boxedNames struct {
	graph, graphVersion, reconciler any
}

func (m *matchState) names(t *Task, r *node) boxedNames {
	b, ok := m.boxed[r]
	if !ok {
		b = boxedNames{graph: t.g.name, graphVersion: int32(t.g.version), reconciler: r.name}
		if m.boxed == nil {
			m.boxed = map[*node]boxedNames{}
		}
		m.boxed[r] = b
	}
	return b
}

func (m *matchState) mismatchChange(t *Task, r *node, key, okey string, version, maxTime int64, reasons, left, right []any, provs []Provenance) *change {
	status := "RESOLVED"
	if len(reasons) > 0 {
		status = "OPEN"
	}
	if reasons == nil {
		reasons = []any{}
	}
	if left == nil {
		left = []any{}
	}
	if right == nil {
		right = []any{}
	}
	id := t.outputID(Output{Target: TargetTopic, Name: r.name, Key: okey, Version: version, Kind: Upsert})
	names := m.names(t, r)
	value := map[string]any{
		"id":            id.String(),
		"key":           key,
		"graph":         names.graph,
		"graph_version": names.graphVersion,
		"reconciler":    names.reconciler,
		"status":        status,
		"reasons":       reasons,
		"left":          left,
		"right":         right,
		"event_time":    time.Unix(0, maxTime).UTC().Truncate(time.Millisecond),
	}
	return &change{key: key, okey: okey, time: maxTime, value: value, version: version, provs: provs}
}

func reasonValue(r *Reason) any {
	return map[string]any{
		"kind":        r.Kind.String(),
		"field":       optString(r.Field, r.Field != ""),
		"left_value":  optPtr(r.Left),
		"right_value": optPtr(r.Right),
		"detail":      r.Detail,
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

func sourceValue(p Provenance) any {
	return map[string]any{
		"topic":      p.Topic,
		"partition":  p.Partition,
		"offset":     p.Offset,
		"event_time": p.Time.Truncate(time.Millisecond),
	}
}
