package cqltest

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"sort"
)

// noTS marks the absence of a timestamp (no row marker, no deletion).
const noTS = math.MinInt64

// colKind is the role of a column in its table.
type colKind int

const (
	partitionKey colKind = iota
	clusteringKey
	regular
)

func (k colKind) String() string {
	switch k {
	case partitionKey:
		return "partition_key"
	case clusteringKey:
		return "clustering"
	}
	return "regular"
}

type column struct {
	name string
	typ  *cqlType
	kind colKind
	pos  int // position in the partition or clustering key, -1 for regular
	desc bool
}

// keyspace is a keyspace of the catalog.
type keyspace struct {
	name        string
	replication map[string]string
	durable     bool
	tables      map[string]*table
}

// table is a table's schema and its data. The data model is Cassandra's:
// a partition holds rows ordered by clustering key; a row has a row marker
// (written by INSERT), cells with write timestamps, and a row deletion; a
// partition may carry a partition deletion.
type table struct {
	ks, name string
	id       [16]byte
	cols     []*column // partition key, clustering key, then regular columns by name
	byName   map[string]*column
	pk, ck   []*column
	parts    map[string]*partition
}

type partition struct {
	key  [][]byte
	del  int64 // partition deletion timestamp, noTS if none
	rows map[string]*row
}

type row struct {
	ck     [][]byte
	marker int64 // row marker timestamp, noTS if none
	del    int64 // row deletion timestamp, noTS if none
	cells  map[string]cell
}

// cell is a regular column's value; tomb marks a deleted (null) cell.
type cell struct {
	ts    int64
	value []byte
	tomb  bool
}

func newTable(ks, name string, id [16]byte, defs []colDef, pk, ck []string, desc map[string]bool) *table {
	t := &table{ks: ks, name: name, id: id, byName: map[string]*column{}, parts: map[string]*partition{}}
	kinds := map[string]*column{}
	for i, n := range pk {
		kinds[n] = &column{name: n, kind: partitionKey, pos: i}
	}
	for i, n := range ck {
		kinds[n] = &column{name: n, kind: clusteringKey, pos: i, desc: desc[n]}
	}
	var regs []*column
	for _, d := range defs {
		c, ok := kinds[d.name]
		if !ok {
			c = &column{name: d.name, kind: regular, pos: -1}
			regs = append(regs, c)
		}
		c.typ = d.typ
		t.byName[d.name] = c
	}
	for _, n := range pk {
		t.pk = append(t.pk, kinds[n])
	}
	for _, n := range ck {
		t.ck = append(t.ck, kinds[n])
	}
	t.cols = append(append(slices.Clone(t.pk), t.ck...), regs...)
	t.sortRegular()
	return t
}

// sortRegular orders the regular columns by name, as SELECT * lists them.
func (t *table) sortRegular() {
	n := len(t.pk) + len(t.ck)
	sort.SliceStable(t.cols[n:], func(i, j int) bool { return t.cols[n+i].name < t.cols[n+j].name })
}

// column returns the column called name, or an invalid-request error.
func (t *table) column(name string) (*column, error) {
	c, ok := t.byName[name]
	if !ok {
		return nil, invalidErr("undefined column name %s in table %s.%s", name, t.ks, t.name)
	}
	return c, nil
}

func (t *table) addColumn(d colDef) {
	c := &column{name: d.name, typ: d.typ, kind: regular, pos: -1}
	t.cols = append(t.cols, c)
	t.byName[d.name] = c
	t.sortRegular()
}

// encodeKey encodes key components into a map key.
func encodeKey(comps [][]byte) string {
	var b []byte
	for _, c := range comps {
		b = binary.BigEndian.AppendUint32(b, uint32(len(c)))
		b = append(b, c...)
	}
	return string(b)
}

// comparePK orders partitions by their partition key components.
func (t *table) comparePK(a, b [][]byte) int {
	for i, c := range t.pk {
		if r := c.typ.compare(a[i], b[i]); r != 0 {
			return r
		}
	}
	return 0
}

// compareCK orders rows by clustering key, honouring descending columns. A
// shorter prefix sorts before the keys it prefixes.
func (t *table) compareCK(a, b [][]byte) int {
	for i, c := range t.ck {
		if i >= len(a) || i >= len(b) {
			return cmpInt(len(a), len(b))
		}
		r := c.typ.compare(a[i], b[i])
		if c.desc {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

func (t *table) partition(pk [][]byte, create bool) *partition {
	k := encodeKey(pk)
	p := t.parts[k]
	if p == nil && create {
		p = &partition{key: pk, del: noTS, rows: map[string]*row{}}
		t.parts[k] = p
	}
	return p
}

func (p *partition) row(ck [][]byte, create bool) *row {
	k := encodeKey(ck)
	r := p.rows[k]
	if r == nil && create {
		r = &row{ck: ck, marker: noTS, del: noTS, cells: map[string]cell{}}
		p.rows[k] = r
	}
	return r
}

// sortedPartitions returns the partitions in partition key order.
func (t *table) sortedPartitions() []*partition {
	ps := make([]*partition, 0, len(t.parts))
	for _, p := range t.parts {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *partition) int { return t.comparePK(a.key, b.key) })
	return ps
}

// sortedRows returns the rows of p in clustering order.
func (t *table) sortedRows(p *partition) []*row {
	rs := make([]*row, 0, len(p.rows))
	for _, r := range p.rows {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b *row) int { return t.compareCK(a.ck, b.ck) })
	return rs
}

// deletion is the timestamp below or at which r's data is deleted.
func (p *partition) deletion(r *row) int64 {
	return max(p.del, r.del)
}

// live reports whether r exists: its row marker or one of its cells
// survives the deletions above it.
func (p *partition) live(r *row) bool {
	del := p.deletion(r)
	if r.marker != noTS && r.marker > del {
		return true
	}
	for _, c := range r.cells {
		if !c.tomb && c.ts > del {
			return true
		}
	}
	return false
}

// value returns the live value of a regular column of r, nil if none.
func (p *partition) value(r *row, col string) (cell, bool) {
	c, ok := r.cells[col]
	if !ok || c.tomb || c.ts <= p.deletion(r) {
		return cell{}, false
	}
	return c, true
}

// columnValue returns the value of any column of a live row.
func (t *table) columnValue(p *partition, r *row, c *column) []byte {
	switch c.kind {
	case partitionKey:
		return p.key[c.pos]
	case clusteringKey:
		return r.ck[c.pos]
	}
	v, ok := p.value(r, c.name)
	if !ok {
		return nil
	}
	return v.value
}

// writeCell reconciles a new cell with the stored one as Cassandra does:
// the higher timestamp wins; on a tie a deletion wins over a value, and of
// two values the greater one (by unsigned byte comparison) wins.
func (r *row) writeCell(col string, n cell) {
	old, ok := r.cells[col]
	if !ok || wins(n, old) {
		r.cells[col] = n
	}
}

func wins(n, old cell) bool {
	switch {
	case n.ts != old.ts:
		return n.ts > old.ts
	case old.tomb:
		return false
	case n.tomb:
		return true
	}
	return bytes.Compare(n.value, old.value) > 0
}
