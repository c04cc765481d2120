package cqltest

import (
	"encoding/binary"
	"slices"
)

// maxKeyCombinations bounds the partitions an IN restriction may select.
const maxKeyCombinations = 1000

// position is where a row sits in a table: its partition and clustering key.
type position struct {
	pk, ck [][]byte
}

func (t *table) comparePos(a, b position) int {
	if c := t.comparePK(a.pk, b.pk); c != 0 {
		return c
	}
	return t.compareCK(a.ck, b.ck)
}

// pagingState is what a paged SELECT hands back to the client: the last row
// returned and how many rows all pages returned so far (for LIMIT).
type pagingState struct {
	returned int32
	last     position
}

func (ps pagingState) encode() []byte {
	var w writer
	w.byte(1) // format version
	w.int(ps.returned)
	w.short(uint16(len(ps.last.pk)))
	for _, c := range ps.last.pk {
		w.bytes(c)
	}
	w.short(uint16(len(ps.last.ck)))
	for _, c := range ps.last.ck {
		w.bytes(c)
	}
	return w.b
}

func decodePagingState(b []byte, t *table) (pagingState, error) {
	r := reader{b: b}
	var ps pagingState
	bad := invalidErr("invalid paging state")
	if r.byte() != 1 {
		return ps, bad
	}
	ps.returned = r.int()
	npk := int(r.short())
	for i := 0; i < npk && r.err == nil; i++ {
		ps.last.pk = append(ps.last.pk, r.bytes())
	}
	nck := int(r.short())
	for i := 0; i < nck && r.err == nil; i++ {
		ps.last.ck = append(ps.last.ck, r.bytes())
	}
	if r.err != nil || len(r.b) != 0 || npk != len(t.pk) || nck > len(t.ck) || ps.returned < 0 {
		return ps, bad
	}
	return ps, nil
}

// selectRows executes a SELECT. Callers hold d.mu.
func (d *db) selectRows(pl *plan, s *selectStmt, ev *evaluator, p *params) (*result, error) {
	t, err := d.lookup(s.table.ks, s.table.name)
	if err != nil {
		return nil, err
	}
	sels := make([]*column, len(pl.sels))
	for i, sel := range pl.sels {
		if sel.fn == "count" {
			continue
		}
		if sels[i], err = t.column(sel.col); err != nil {
			return nil, err
		}
	}
	var rels []boundRel
	for _, r := range s.where {
		br, err := bindRel(t, ev, r)
		if err != nil {
			return nil, err
		}
		rels = append(rels, br)
	}
	limit, hasLimit, err := ev.evalInt(s.limit, typeInt)
	if err != nil {
		return nil, err
	}
	if hasLimit && limit <= 0 {
		return nil, invalidErr("LIMIT must be strictly positive")
	}
	parts, err := candidatePartitions(t, rels)
	if err != nil {
		return nil, err
	}
	counting := len(pl.sels) == 1 && pl.sels[0].fn == "count"
	var state pagingState
	resuming := false
	if p.pagingState != nil && !counting {
		if state, err = decodePagingState(p.pagingState, t); err != nil {
			return nil, err
		}
		resuming = true
	}
	pageSize := int(p.pageSize)
	var rows [][][]byte
	var count int64
	var last position
	more := false
scan:
	for _, part := range parts {
		for _, r := range t.sortedRows(part) {
			if !part.live(r) || !matchesAll(t, part, r, rels) {
				continue
			}
			pos := position{pk: part.key, ck: r.ck}
			if resuming && t.comparePos(pos, state.last) <= 0 {
				continue
			}
			if hasLimit && int64(state.returned)+int64(len(rows))+count >= limit {
				break scan
			}
			if counting {
				count++
				continue
			}
			if pageSize > 0 && len(rows) == pageSize {
				more = true
				break scan
			}
			rows = append(rows, project(t, part, r, pl.sels, sels))
			last = pos
		}
	}
	if counting {
		rows = [][][]byte{{binary.BigEndian.AppendUint64(nil, uint64(count))}}
	}
	var paging []byte
	if more {
		paging = pagingState{returned: state.returned + int32(len(rows)), last: last}.encode()
	}
	return &result{body: encodeRows(pl.result, rows, paging, p.skipMeta)}, nil
}

// candidatePartitions returns the partitions a SELECT reads, in order: the
// ones its partition key restrictions name, or all of them.
func candidatePartitions(t *table, rels []boundRel) ([]*partition, error) {
	keys := [][][]byte{{}}
	for _, c := range t.pk {
		var vals [][]byte
		found := false
		for _, r := range rels {
			if r.col != c {
				continue
			}
			switch r.op {
			case "=":
				vals, found = [][]byte{r.val}, true
			case "in":
				vals, found = r.vals, true
			}
		}
		if !found {
			return t.sortedPartitions(), nil
		}
		var next [][][]byte
		for _, k := range keys {
			for _, v := range vals {
				next = append(next, append(slices.Clone(k), v))
			}
		}
		if len(next) > maxKeyCombinations {
			return nil, invalidErr("IN restrictions select more than %d partitions", maxKeyCombinations)
		}
		keys = next
	}
	seen := map[string]bool{}
	var parts []*partition
	for _, k := range keys {
		enc := encodeKey(k)
		if seen[enc] {
			continue
		}
		seen[enc] = true
		if p := t.parts[enc]; p != nil {
			parts = append(parts, p)
		}
	}
	slices.SortFunc(parts, func(a, b *partition) int { return t.comparePK(a.key, b.key) })
	return parts, nil
}

func matchesAll(t *table, p *partition, r *row, rels []boundRel) bool {
	for _, rel := range rels {
		if !rel.matches(t.columnValue(p, r, rel.col)) {
			return false
		}
	}
	return true
}

// project returns the selected values of a live row.
func project(t *table, p *partition, r *row, sels []selector, cols []*column) [][]byte {
	out := make([][]byte, len(sels))
	for i, sel := range sels {
		switch sel.fn {
		case "writetime":
			if c, ok := p.value(r, sel.col); ok {
				out[i] = binary.BigEndian.AppendUint64(nil, uint64(c.ts))
			}
		case "ttl":
			// No TTLs are stored: ttl() is always null.
		default:
			out[i] = t.columnValue(p, r, cols[i])
		}
	}
	return out
}
