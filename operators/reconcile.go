package operators

// Reconciliation is a reconciler over the matched stream of a Match.
type Reconciliation struct {
	// Mismatches is the reconciliation state per key, as records shaped
	// like MismatchSchema;
	// published, each is an Output with Mismatch set (see Mismatch):
	// status OPEN with typed reasons, or RESOLVED. Every key whose episode
	// has a decided outcome has a state, so the stream works as a compacted
	// changelog. Late events get a state of their own, keyed
	// "<key>@<topic>/<partition>@<offset>", with one LATE reason.
	Mismatches *Stream
}

type reconcileSpec struct {
	rules []Rule
	match *node
}

// Reconcile compares every matched pair field by field with rules, and
// reports missing partners and late events, as typed mismatch records.
// matched must be the Matched stream of a Match.
func (g *Graph) Reconcile(name string, matched *Stream, rules ...Rule) *Reconciliation {
	spec := &reconcileSpec{rules: rules}
	if matched != nil && matched.n != nil && matched.n.kind == kindMatch {
		spec.match = matched.n
	}
	n := g.add(&node{kind: kindReconcile, name: name, in: []*Stream{matched}, rec: spec})
	return &Reconciliation{Mismatches: g.stream(n, portMismatches)}
}
