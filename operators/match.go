package operators

import "time"

// Match is a matcher over two keyed streams. Its three outputs are keyed by
// the match key and describe, per key, the latest decided episode (see the
// package documentation): the primary matched pair, the first unmatched
// left event and the first unmatched right event.
type Match struct {
	name string
	// Matched carries, per key, the first pair (in tie-break order) of
	// events matched within the window. Its values read left fields at
	// "left.<path>", right fields at "right.<path>", and a bare path from
	// the left side, else the right side; "pairs" is the number of pairs.
	Matched *Stream
	// UnmatchedLeft carries, per key, the first left event whose window
	// passed without a partner; "unmatched" is their number.
	UnmatchedLeft *Stream
	// UnmatchedRight is UnmatchedLeft for the right side.
	UnmatchedRight *Stream
	// Late carries left and right events that arrived after their
	// partition's allowed lateness; they take no part in matching.
	Late *Stream
}

type matchSpec struct {
	within time.Duration
}

// Match pairs the events of left and right that share a key and whose event
// times are at most within apart. Both inputs must be event streams of
// co-partitioned inputs.
func (g *Graph) Match(name string, left, right *Stream, within time.Duration) *Match {
	n := g.add(&node{kind: kindMatch, name: name, in: []*Stream{left, right}, match: &matchSpec{within: within}})
	return &Match{
		name:           name,
		Matched:        g.stream(n, portMatched),
		UnmatchedLeft:  g.stream(n, portUnmatchedLeft),
		UnmatchedRight: g.stream(n, portUnmatchedRight),
		Late:           g.stream(n, portLate),
	}
}
