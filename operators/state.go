package operators

// KeyedState holds the values of one stateful operator, by key, within one
// task. Operators reach their state only through it, so that another
// implementation can replace the in-memory one; Range visits keys in sorted
// order, which keeps snapshots deterministic. A KeyedState is used by one
// task goroutine only.
type KeyedState[V any] interface {
	Get(key string) (V, bool)
	Put(key string, v V)
	Delete(key string)
	Len() int
	// Range calls fn for every key in sorted order until fn returns false.
	Range(fn func(key string, v V) bool)
}

// NewMemoryState returns a KeyedState held in a Go map.
func NewMemoryState[V any]() KeyedState[V] { return &memoryState[V]{m: map[string]V{}} }

type memoryState[V any] struct{ m map[string]V }

func (s *memoryState[V]) Get(key string) (V, bool) { v, ok := s.m[key]; return v, ok }
func (s *memoryState[V]) Put(key string, v V)      { s.m[key] = v }
func (s *memoryState[V]) Delete(key string)        { delete(s.m, key) }
func (s *memoryState[V]) Len() int                 { return len(s.m) }

func (s *memoryState[V]) Range(fn func(key string, v V) bool) {
	for _, k := range sortedKeys(s.m) {
		if !fn(k, s.m[k]) {
			return
		}
	}
}
