package operators

import "time"

// mismatch builds the reconciliation state of a key from its match outcome.
func (m *matchState) mismatch(t *Task, r *node, res *matchResult, provs []Provenance) *change {
	var reasons []Reason
	for _, p := range res.pairs {
		lv, rv := View{m: res.comp[p[0]].value}, View{m: res.comp[p[1]].value}
		for _, rule := range r.rec.rules {
			if why := rule.check(lv, rv); why != nil {
				reasons = append(reasons, *why)
			}
		}
	}
	for _, i := range res.unmL {
		reasons = append(reasons, Reason{Kind: MissingRight,
			Detail: "no right event within " + time.Duration(m.within).String() + " of " + provs[i].String()})
	}
	for _, i := range res.unmR {
		reasons = append(reasons, Reason{Kind: MissingLeft,
			Detail: "no left event within " + time.Duration(m.within).String() + " of " + provs[i].String()})
	}
	// One array holds both sides: left events first, in tie-break order.
	sides := make([]Provenance, 0, len(provs))
	for i, e := range res.comp {
		if e.side == Left {
			sides = append(sides, provs[i])
		}
	}
	nl := len(sides)
	for i, e := range res.comp {
		if e.side == Right {
			sides = append(sides, provs[i])
		}
	}
	return m.mismatchChange(t, r, res.key, res.key, res.version, res.maxTime, reasons, sides[:nl:nl], sides[nl:], provs)
}

// lateRecord is the reconciliation state of a late event: its own key, one
// LATE reason.
func (m *matchState) lateRecord(t *Task, r *node, c *change, side Side) *change {
	why := Reason{Kind: LateEvent, Detail: side.String() + " event " + c.prov.String() + " arrived after the allowed lateness"}
	var left, right []Provenance
	if side == Left {
		left = []Provenance{c.prov}
	} else {
		right = []Provenance{c.prov}
	}
	okey := c.key + "@" + c.prov.String()
	return m.mismatchChange(t, r, c.key, okey, 1, c.time, []Reason{why}, left, right, []Provenance{c.prov})
}

func (m *matchState) mismatchChange(t *Task, r *node, key, okey string, version, maxTime int64, reasons []Reason, left, right, provs []Provenance) *change {
	status := Resolved
	if len(reasons) > 0 {
		status = Open
	}
	v := &mismatchView{m: Mismatch{
		ID:           t.outputID(Output{Target: TargetTopic, Name: r.name, Key: okey, Version: version, Kind: Upsert}),
		Key:          key,
		Graph:        t.g.name,
		GraphVersion: t.g.version,
		Reconciler:   r.name,
		Status:       status,
		Reasons:      reasons,
		Left:         left,
		Right:        right,
		EventTime:    time.Unix(0, maxTime).UTC(),
	}}
	return &change{key: key, okey: okey, time: maxTime, view: v, version: version, provs: provs}
}
