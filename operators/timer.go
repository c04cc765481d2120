package operators

// timer is a deadline for a key, on the event-time watermark.
type timer struct {
	due int64
	key string
	// mk is the state of the key of a matcher timer: the matcher checks a
	// popped timer against it without looking the key up. Matcher keys
	// are updated in place (a KeyedState hands out its values), and a key
	// removed from the state has no events left.
	mk *matchKey
}

// timerHeap is a min-heap of timers by deadline (then key). Entries are not
// removed when a key's deadline moves: a popped timer whose deadline no
// longer matches the key's is stale and skipped.
type timerHeap []timer

func (h timerHeap) less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].key < h[j].key
}

// The heap is 4-ary: half the depth of a binary heap, and the children of
// a node share a cache line or two.
const timerArity = 4

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / timerArity
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *timerHeap) pop() timer {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = timer{}
	s = s[:last]
	for i := 0; ; {
		m := i
		first := timerArity*i + 1
		for c := first; c < first+timerArity && c < len(s); c++ {
			if s.less(c, m) {
				m = c
			}
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
