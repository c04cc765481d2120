package operators

import (
	"encoding/binary"
	"fmt"
)

// Snapshot format: a magic string, the graph fingerprint, the partition,
// the watermarks, per input (in declaration order) its progress, then the
// state of every stateful operator in graph order, keys sorted. Equal task
// states encode to equal bytes.
const snapshotMagic = "reckon-task-v1"

// Snapshot encodes the task's whole state: input offsets and newest event
// times, watermarks and keyed state. Take the outputs first (Outputs) and
// make them durable: a snapshot stands for every output produced so far.
// Restore it into a new task of the same graph to resume after a crash, a
// rebalance, or a replay→live hand-off; then deliver records from Offsets.
func (t *Task) Snapshot() ([]byte, error) {
	if len(t.outs) > 0 {
		return nil, ErrPendingOutputs
	}
	b := appendString(nil, snapshotMagic)
	b = appendString(b, t.g.Fingerprint())
	b = binary.AppendVarint(b, int64(t.partition))
	b = binary.AppendVarint(b, t.wm)
	b = binary.AppendVarint(b, t.twm)
	for _, in := range t.order {
		b = appendString(b, in.spec.topic)
		b = binary.AppendVarint(b, in.maxSeen)
		b = appendBool(b, in.seen)
		b = binary.AppendVarint(b, in.next)
	}
	var err error
	for _, s := range t.states {
		if s == nil {
			continue
		}
		if b, err = s.encode(t, b); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	return b, nil
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Restore replaces the task's state with a snapshot taken from a task of
// the same graph (same fingerprint) and partition. On error the task is
// unusable.
func (t *Task) Restore(snapshot []byte) error {
	r := snapReader{b: snapshot}
	if magic := r.string(); r.err == nil && magic != snapshotMagic {
		return fmt.Errorf("%w: not a reckon task snapshot", ErrBadSnapshot)
	}
	if fp := r.string(); r.err == nil && fp != t.g.Fingerprint() {
		return fmt.Errorf("%w: taken from graph %s, this graph is %s", ErrBadSnapshot, fp, t.g.Fingerprint())
	}
	if p := int32(r.varint()); r.err == nil && p != t.partition {
		return fmt.Errorf("%w: taken from partition %d, this task is partition %d", ErrBadSnapshot, p, t.partition)
	}
	t.wm, t.twm = r.varint(), r.varint()
	for _, in := range t.order {
		if topic := r.string(); r.err == nil && topic != in.spec.topic {
			return fmt.Errorf("%w: input %q where %q was expected", ErrBadSnapshot, topic, in.spec.topic)
		}
		in.maxSeen, in.seen, in.next = r.varint(), r.byte() == 1, r.varint()
	}
	if r.err != nil {
		return r.err
	}
	for _, s := range t.states {
		if s == nil {
			continue
		}
		rest, err := s.decode(t, r.b)
		if err != nil {
			return err
		}
		r.b = rest
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadSnapshot, len(r.b))
	}
	t.outs = nil
	return nil
}

// snapReader reads a snapshot, keeping the first error.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: bad %s", ErrBadSnapshot, what)
	}
	r.b = nil
}

func (r *snapReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("length")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) byte() byte {
	if len(r.b) == 0 {
		r.fail("flag")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *snapReader) string() string {
	s, rest, err := readString(r.b)
	if err != nil {
		r.fail("string")
		return ""
	}
	r.b = rest
	return s
}

func (r *snapReader) value() any {
	v, rest, err := ReadValue(r.b)
	if err != nil {
		r.fail("value")
		return nil
	}
	r.b = rest
	return v
}
