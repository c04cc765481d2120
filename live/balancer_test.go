package live

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestAssignNumbers: every partition number goes to exactly one member,
// loads differ by at most one, and a member keeps the numbers it owned as
// long as it owns no more than an even share (stickiness).
func TestAssignNumbers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.Int32Range(0, 24).Draw(t, "partitions")
		m := rapid.IntRange(1, 6).Draw(t, "members")
		owned := make([][]int32, m)
		for p := range n {
			if owner := rapid.IntRange(-1, m-1).Draw(t, "owner"); owner >= 0 {
				owned[owner] = append(owned[owner], p)
			}
		}
		out := assignNumbers(n, owned)
		seen := map[int32]int{}
		lo, hi := int(n), 0
		for i, ps := range out {
			for _, p := range ps {
				seen[p]++
			}
			lo, hi = min(lo, len(ps)), max(hi, len(ps))
			ceil := (int(n) + m - 1) / m
			if len(owned[i]) <= ceil-1 {
				for _, p := range owned[i] {
					if !slices.Contains(ps, p) {
						t.Fatalf("member %d owned %v (within its share) but lost %d: %v", i, owned[i], p, out)
					}
				}
			}
		}
		for p := range n {
			if seen[p] != 1 {
				t.Fatalf("partition %d assigned %d times: %v", p, seen[p], out)
			}
		}
		if len(seen) != int(n) {
			t.Fatalf("assigned %d numbers, want %d: %v", len(seen), n, out)
		}
		if hi-lo > 1 {
			t.Fatalf("loads from %d to %d: %v", lo, hi, out)
		}
	})
}
