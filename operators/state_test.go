package operators_test

import (
	"slices"
	"testing"

	"github.com/reckon-dev/reckon/operators"
)

func TestMemoryStateRangesInKeyOrder(t *testing.T) {
	s := operators.NewMemoryState[int]()
	for i, k := range []string{"b", "c", "a", "d"} {
		s.Put(k, i)
	}
	s.Delete("d")
	if v, ok := s.Get("c"); !ok || v != 1 {
		t.Fatalf("Get(c) = %d, %v", v, ok)
	}
	if _, ok := s.Get("d"); ok {
		t.Fatal("deleted key still present")
	}
	var keys []string
	s.Range(func(k string, _ int) bool {
		keys = append(keys, k)
		return k != "b" // stop after b
	})
	if !slices.Equal(keys, []string{"a", "b"}) || s.Len() != 3 {
		t.Fatalf("Range visited %v, Len %d", keys, s.Len())
	}
}
