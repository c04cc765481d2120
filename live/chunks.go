package live

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A task snapshot larger than the changelog record limit is written as
// chunk records followed by a manifest. Kafka refuses records above a
// topic's max.message.bytes (1 MB by default), and a task's state grows
// with its open keys, so a snapshot is never written as one record above
// Options' changelog record limit (DefaultChangelogRecordBytes).
//
// The chunks of a snapshot are keyed <task key>/<slot>/<i>, the slot
// alternating between "a" and "b" from one chunked snapshot of a task to
// the next, and the manifest — the record under the task key itself —
// follows them, with the chunk count and slot in its headers and the
// SHA-256 of the whole snapshot as its value. The chunks a committed
// manifest names are never overwritten before the next manifest is
// committed: a checkpoint that fails half-way writes the other slot. In a
// compacted changelog a task keeps at most two sets of chunks.
const (
	// HeaderChunks is set on a manifest: the number of chunk records.
	HeaderChunks = "reckon.snapshot.chunks"
	// HeaderSlot is set on a manifest and its chunks: "a" or "b".
	HeaderSlot = "reckon.snapshot.slot"
)

// DefaultChangelogRecordBytes is the largest changelog record a task
// snapshot is written as (see WithChangelogRecordBytes): under Kafka's
// default max.message.bytes, with room for the record's key and headers.
const DefaultChangelogRecordBytes = 900 << 10

// snapshotRecords returns the changelog records of s: one record when it
// fits, else its chunks and their manifest, in the slot that the last
// committed chunked snapshot of the task (in slot last) does not use.
func (r *run) snapshotRecords(s snapshot, last byte) ([]*kgo.Record, byte) {
	d := r.d
	key := r.snapshotKey(s.p)
	fp := kgo.RecordHeader{Key: HeaderFingerprint, Value: []byte(d.g.Fingerprint())}
	limit := d.o.changelogRecordBytes
	if len(s.state) <= limit {
		return []*kgo.Record{{Topic: d.cfg.Topics.Changelog, Partition: s.p, Key: []byte(key), Value: s.state,
			Headers: []kgo.RecordHeader{fp}}}, last
	}
	slot := byte('a')
	if last == 'a' {
		slot = 'b'
	}
	slotH := kgo.RecordHeader{Key: HeaderSlot, Value: []byte{slot}}
	var recs []*kgo.Record
	for i := 0; i*limit < len(s.state); i++ {
		part := s.state[i*limit : min((i+1)*limit, len(s.state))]
		recs = append(recs, &kgo.Record{Topic: d.cfg.Topics.Changelog, Partition: s.p,
			Key: []byte(chunkKey(key, slot, i)), Value: part, Headers: []kgo.RecordHeader{fp, slotH}})
	}
	sum := sha256.Sum256(s.state)
	manifest := &kgo.Record{Topic: d.cfg.Topics.Changelog, Partition: s.p, Key: []byte(key), Value: sum[:],
		Headers: []kgo.RecordHeader{fp, slotH, {Key: HeaderChunks, Value: strconv.AppendInt(nil, int64(len(recs)), 10)}}}
	return append(recs, manifest), slot
}

func chunkKey(key string, slot byte, i int) string {
	return key + "/" + string(slot) + "/" + strconv.Itoa(i)
}

// manifest reads the chunk count and slot of a changelog record; ok is
// false for a snapshot written whole.
func manifest(rec *kgo.Record) (n int, slot byte, ok bool, err error) {
	for _, h := range rec.Headers {
		switch h.Key {
		case HeaderChunks:
			if n, err = strconv.Atoi(string(h.Value)); err != nil || n < 1 {
				return 0, 0, false, fmt.Errorf("manifest with chunk count %q", h.Value)
			}
			ok = true
		case HeaderSlot:
			if len(h.Value) == 1 {
				slot = h.Value[0]
			}
		}
	}
	if ok && slot != 'a' && slot != 'b' {
		return 0, 0, false, fmt.Errorf("manifest without a slot")
	}
	return n, slot, ok, nil
}

// assemble reads the chunks a manifest names and returns the snapshot.
// The chunks are the n records before the manifest; when they are not
// (a partition written otherwise), the partition is read from its start,
// and the last record of each chunk key before the manifest counts.
func (r *run) assemble(ctx context.Context, m *kgo.Record) ([]byte, error) {
	n, slot, _, err := manifest(m)
	if err != nil {
		return nil, err
	}
	key := string(m.Key)
	want := map[string]int{}
	for i := range n {
		want[chunkKey(key, slot, i)] = i
	}
	read := func(from int64) ([][]byte, error) {
		parts := make([][]byte, n)
		err := r.scanRange(ctx, map[int32]kgo.Offset{m.Partition: kgo.NewOffset().At(from)}, map[int32]int64{m.Partition: m.Offset},
			func(rec *kgo.Record) {
				if i, ok := want[string(rec.Key)]; ok && rec.Offset < m.Offset {
					parts[i] = rec.Value
				}
			})
		return parts, err
	}
	parts, err := read(max(0, m.Offset-int64(n)))
	missing := func(p []byte) bool { return p == nil }
	if err == nil && slices.ContainsFunc(parts, missing) {
		parts, err = read(0)
	}
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(parts, missing) {
		return nil, fmt.Errorf("manifest at offset %d names %d chunks in slot %c; some are missing", m.Offset, n, slot)
	}
	state := bytes.Join(parts, nil)
	if sum := sha256.Sum256(state); !bytes.Equal(sum[:], m.Value) {
		return nil, fmt.Errorf("the %d chunks of the manifest at offset %d do not add up to the snapshot it names (SHA-256 differs)", n, m.Offset)
	}
	return state, nil
}
