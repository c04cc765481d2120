package schemas

import (
	"fmt"
	"math"
)

// goavro allocates an array's or a map's storage from the block count the
// datum claims before it reads a single item, so a 7-byte datum claiming a
// 2^31-item block would make it allocate gigabytes. Rather than lower
// goavro's package-level MaxBlockCount (a global every goavro user in the
// process shares), a Resolver whose writer schema has arrays or maps first
// walks the datum with a bounder: each item of a block takes at least one
// byte (or, for types that encode in zero bytes, counts against
// MaxZeroWidthItems per datum), so a block may claim no more items than
// bytes remain. Only then does goavro decode it, and its allocations are
// bounded by the datum's length.

// MaxZeroWidthItems bounds the number of array items, per datum, of types
// that encode in zero bytes (null, empty records, fixed of size 0).
const MaxZeroWidthItems = 1 << 16

// bounder checks the framing of a datum of one writer schema.
type bounder struct {
	root   *node
	widths map[*node]int // minimum encoded size of a type, memoised
}

func newBounder(root *node) *bounder {
	b := &bounder{root: root, widths: map[*node]int{}}
	visit(root, map[*node]bool{}, func(n *node) { b.minWidth(n) })
	return b
}

// visit calls fn on every node reachable from n, once.
func visit(n *node, seen map[*node]bool, fn func(*node)) {
	if seen[n] {
		return
	}
	seen[n] = true
	fn(n)
	for _, f := range n.fields {
		visit(f.typ, seen, fn)
	}
	for _, b := range n.branches {
		visit(b, seen, fn)
	}
	if n.items != nil {
		visit(n.items, seen, fn)
	}
	if n.values != nil {
		visit(n.values, seen, fn)
	}
}

// minWidth returns the least number of bytes a value of n encodes in.
func (b *bounder) minWidth(n *node) int {
	if w, ok := b.widths[n]; ok {
		return w
	}
	b.widths[n] = 0 // recursion: a lower bound
	w := 0
	switch n.kind {
	case kNull:
	case kFloat:
		w = 4
	case kDouble:
		w = 8
	case kFixed:
		w = n.size
	case kRecord:
		for _, f := range n.fields {
			w += b.minWidth(f.typ)
		}
	default: // boolean, varints, length-prefixed, blocks, union index
		w = 1
	}
	b.widths[n] = w
	return w
}

type boundState struct {
	buf        []byte
	pos        int
	zeroBudget int
}

// check walks the datum at the start of buf and fails with ErrBadBody if it
// is truncated, claims more items than it can hold, or uses an index out of
// range.
func (b *bounder) check(buf []byte) error {
	s := &boundState{buf: buf, zeroBudget: MaxZeroWidthItems}
	if err := b.walk(s, b.root, 0); err != nil {
		return fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	return nil
}

// maxDepth bounds the nesting of a datum of a recursive schema.
const maxDepth = 1000

func (s *boundState) long() (int64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if s.pos >= len(s.buf) {
			return 0, fmt.Errorf("truncated varint at byte %d", s.pos)
		}
		c := s.buf[s.pos]
		s.pos++
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return int64(v>>1) ^ -int64(v&1), nil
		}
	}
	return 0, fmt.Errorf("varint too long at byte %d", s.pos)
}

func (s *boundState) skip(n int64) error {
	if n < 0 || n > int64(len(s.buf)-s.pos) {
		return fmt.Errorf("length %d at byte %d exceeds the %d bytes left", n, s.pos, len(s.buf)-s.pos)
	}
	s.pos += int(n)
	return nil
}

func (b *bounder) walk(s *boundState, n *node, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nesting deeper than %d", maxDepth)
	}
	switch n.kind {
	case kNull:
		return nil
	case kBoolean:
		return s.skip(1)
	case kInt, kLong:
		_, err := s.long()
		return err
	case kFloat:
		return s.skip(4)
	case kDouble:
		return s.skip(8)
	case kBytes, kString:
		l, err := s.long()
		if err != nil {
			return err
		}
		return s.skip(l)
	case kFixed:
		return s.skip(int64(n.size))
	case kEnum:
		i, err := s.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(n.symbols)) {
			return fmt.Errorf("enum index %d out of range for %s", i, n.fullName)
		}
		return nil
	case kUnion:
		i, err := s.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(n.branches)) {
			return fmt.Errorf("union index %d out of range", i)
		}
		return b.walk(s, n.branches[i], depth+1)
	case kRecord:
		for _, f := range n.fields {
			if err := b.walk(s, f.typ, depth+1); err != nil {
				return err
			}
		}
		return nil
	case kArray, kMap:
		item, itemWidth := n.items, 0
		if n.kind == kMap {
			item, itemWidth = n.values, 1 // the key's length
		}
		itemWidth += b.widths[item]
		for {
			count, err := s.long()
			if err != nil {
				return err
			}
			if count == 0 {
				return nil
			}
			if count < 0 {
				if count == math.MinInt64 {
					return fmt.Errorf("block count %d", count)
				}
				count = -count
				size, err := s.long()
				if err != nil {
					return err
				}
				if size < 0 || size > int64(len(s.buf)-s.pos) {
					return fmt.Errorf("block size %d exceeds the %d bytes left", size, len(s.buf)-s.pos)
				}
			}
			left := int64(len(s.buf) - s.pos)
			if itemWidth > 0 {
				if count > left/int64(itemWidth) {
					return fmt.Errorf("block of %d items cannot fit in the %d bytes left", count, left)
				}
			} else {
				if count > int64(s.zeroBudget) {
					return fmt.Errorf("block of %d zero-width items exceeds the limit of %d per datum", count, MaxZeroWidthItems)
				}
				s.zeroBudget -= int(count)
			}
			for range count {
				if n.kind == kMap {
					l, err := s.long()
					if err != nil {
						return err
					}
					if err := s.skip(l); err != nil {
						return err
					}
				}
				if err := b.walk(s, item, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return fmt.Errorf("unknown type %s", n.kind)
}
