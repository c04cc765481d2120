package operators

// timer is a deadline for a key, on the event-time watermark.
type timer struct {
	due int64
	key string
}

// timerHeap is a min-heap of timers (container/heap). Entries are not
// removed when a key's deadline moves: a popped timer whose deadline no
// longer matches the key's is stale and skipped.
type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].key < h[j].key
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
