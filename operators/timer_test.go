package operators

import (
	"cmp"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// Whatever the pushes and pops, the heap pops timers in (due, key) order.
func TestTimerHeapOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var h timerHeap
		var model []timer
		for range rapid.IntRange(0, 200).Draw(t, "ops") {
			if len(model) > 0 && rapid.IntRange(0, 2).Draw(t, "pop?") == 0 {
				got := h.pop()
				slices.SortFunc(model, func(a, b timer) int { return cmp.Or(cmp.Compare(a.due, b.due), cmp.Compare(a.key, b.key)) })
				if got.due != model[0].due || got.key != model[0].key {
					t.Fatalf("popped (%d, %q), want (%d, %q)", got.due, got.key, model[0].due, model[0].key)
				}
				model = model[1:]
				continue
			}
			tm := timer{due: rapid.Int64Range(0, 20).Draw(t, "due"), key: rapid.StringMatching(`[a-c]{0,2}`).Draw(t, "key")}
			h.push(tm)
			model = append(model, tm)
		}
		if len(h) != len(model) {
			t.Fatalf("heap holds %d timers, want %d", len(h), len(model))
		}
	})
}
