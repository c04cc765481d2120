package cqltest

import (
	"encoding/binary"
	"slices"
	"strings"
)

// value is a bound value; unset marks the protocol's "not set" value.
type value struct {
	b     []byte
	unset bool
}

// params are the query parameters of a QUERY, EXECUTE or BATCH message.
type params struct {
	consistency uint16
	values      []value
	names       []string // names of the values when sent with names
	skipMeta    bool
	pageSize    int32
	pagingState []byte
	defaultTS   int64 // noTS when the client sent no default timestamp
}

// result is the outcome of a statement: a RESULT body, and what the
// connection must do besides answering.
type result struct {
	body        []byte
	setKeyspace string
	event       *schemaEvent
}

func voidResult() *result {
	var w writer
	w.int(resultVoid)
	return &result{body: w.b}
}

// bound returns the values of pl's markers, in marker order.
func (pl *plan) bound(p *params) ([]value, error) {
	vals := p.values
	if p.names != nil {
		vals = make([]value, len(pl.specs))
		seen := make([]bool, len(pl.specs))
		for i, n := range p.names {
			found := false
			for j, sp := range pl.specs {
				if !seen[j] && strings.EqualFold(sp.name, n) {
					vals[j], seen[j], found = p.values[i], true, true
					break
				}
			}
			if !found {
				return nil, invalidErr("no bind marker named %s", n)
			}
		}
		for j, ok := range seen {
			if !ok {
				vals[j] = value{unset: true}
			}
		}
	}
	if len(vals) != len(pl.specs) {
		return nil, invalidErr("there were %d markers(?) in CQL but %d bound variables", len(pl.specs), len(vals))
	}
	for i, v := range vals {
		if sp := pl.specs[i]; sp.typ != nil && !v.unset {
			if err := sp.typ.validate(v.b); err != nil {
				return nil, invalidErr("invalid value for %s: %s", sp.name, err.(*cqlError).msg)
			}
		}
	}
	return vals, nil
}

// evaluator computes the value of terms given bound values.
type evaluator struct {
	d    *db
	vals []value
}

// eval returns the serialized value of v as typ; unset is true for an
// unset bind value.
func (e *evaluator) eval(v term, typ *cqlType) ([]byte, bool, error) {
	switch v := v.(type) {
	case *marker:
		b := e.vals[v.idx]
		return b.b, b.unset, nil
	case *literal:
		b, err := encodeLiteral(v, typ)
		return b, false, err
	case *collLit:
		return e.collection(v, typ)
	case *funcCall:
		return e.call(v, typ)
	}
	return nil, false, invalidErr("unsupported term")
}

func (e *evaluator) collection(c *collLit, typ *cqlType) ([]byte, bool, error) {
	switch {
	case typ.kind == kList && !c.list,
		typ.kind == kSet && (c.list || c.isMap),
		typ.kind == kMap && (c.list || (!c.isMap && len(c.elems) > 0)),
		!typ.isCollection():
		return nil, false, invalidErr("invalid collection literal for a %s value", typ)
	}
	var elems [][]byte
	for i, t := range c.elems {
		et := typ.elem
		if typ.kind == kMap && i%2 == 1 {
			et = typ.value
		}
		b, unset, err := e.eval(t, et)
		if err != nil {
			return nil, false, err
		}
		if b == nil || unset {
			return nil, false, invalidErr("null is not supported inside collections")
		}
		elems = append(elems, b)
	}
	n := len(elems)
	if typ.kind == kMap {
		n /= 2
	}
	return normalizeCollection(typ, joinCollection(n, elems)), false, nil
}

func (e *evaluator) call(f *funcCall, typ *cqlType) ([]byte, bool, error) {
	now := e.d.clock()
	switch {
	case f.name == "now" && len(f.args) == 0 && typ.kind == kTimeUUID:
		u := timeUUID(now)
		return u[:], false, nil
	case f.name == "uuid" && len(f.args) == 0 && typ.kind == kUUID:
		u := randomUUID()
		return u[:], false, nil
	case (f.name == "currenttimestamp" && len(f.args) == 0 ||
		f.name == "totimestamp" && len(f.args) == 1 && isNowCall(f.args[0])) && typ.kind == kTimestamp:
		return binary.BigEndian.AppendUint64(nil, uint64(now.UnixMilli())), false, nil
	}
	return nil, false, invalidErr("unsupported function call %s() for a %s value", f.name, typ)
}

func isNowCall(t term) bool {
	f, ok := t.(*funcCall)
	return ok && f.name == "now" && len(f.args) == 0
}

// evalInt evaluates an optional bigint or int term (USING TIMESTAMP, LIMIT).
func (e *evaluator) evalInt(t term, typ *cqlType) (int64, bool, error) {
	if t == nil {
		return 0, false, nil
	}
	b, unset, err := e.eval(t, typ)
	if err != nil {
		return 0, false, err
	}
	if unset || b == nil {
		return 0, false, nil
	}
	if len(b) != fixedSize(typ.kind) {
		return 0, false, invalidErr("invalid %s value", typ)
	}
	return signedInt(b), true, nil
}

// run executes a statement of a QUERY or EXECUTE message.
func (d *db) run(pl *plan, p *params, curKs string) (*result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch s := pl.stmt.(type) {
	case *useStmt:
		if _, ok := d.keyspaces[s.ks]; !ok && !isSystemKeyspace(s.ks) {
			return nil, invalidErr("keyspace '%s' does not exist", s.ks)
		}
		var w writer
		w.int(resultSetKeyspace)
		w.string(s.ks)
		return &result{body: w.b, setKeyspace: s.ks}, nil
	case *selectStmt:
		vals, err := pl.bound(p)
		if err != nil {
			return nil, err
		}
		return d.selectRows(pl, s, &evaluator{d: d, vals: vals}, p)
	case *insertStmt, *updateStmt, *deleteStmt, *batchStmt:
		vals, err := pl.bound(p)
		if err != nil {
			return nil, err
		}
		ts := p.defaultTS
		var stmts []any
		var batchUsing usingClause
		if b, ok := s.(*batchStmt); ok {
			stmts, batchUsing = b.stmts, b.using
		} else {
			stmts = []any{s}
		}
		ev := &evaluator{d: d, vals: vals}
		var bs []boundStmt
		for _, st := range stmts {
			bs = append(bs, boundStmt{stmt: st, ev: ev, pl: pl})
		}
		return d.write(bs, batchUsing, ts, pl.lwt)
	default:
		return d.ddl(pl.stmt, curKs)
	}
}

// boundStmt is one modification of a write, with its values.
type boundStmt struct {
	stmt any
	ev   *evaluator
	pl   *plan
}

// mutation is one change to one row or partition.
type mutation struct {
	t        *table
	pk, ck   [][]byte // ck is nil for a partition deletion
	ts       int64
	marker   bool              // INSERT writes a row marker
	cells    map[string][]byte // nil values are deletions
	delRow   bool
	delPart  bool
	cond     *condition
	stmtKind string
}

// condition is the IF clause of a lightweight transaction.
type condition struct {
	notExists bool
	exists    bool
	rels      []boundRel
}

// boundRel is a relation with its values evaluated.
type boundRel struct {
	col  *column
	op   string
	val  []byte
	vals [][]byte // IN
}

// write applies the modifications of a statement or a batch atomically.
// Callers hold d.mu.
func (d *db) write(stmts []boundStmt, batchUsing usingClause, defaultTS int64, lwt bool) (*result, error) {
	serverTS := d.timestamp()
	ts := defaultTS
	if ts == noTS || lwt {
		ts = serverTS
	}
	if len(stmts) > 0 {
		bt, ok, err := stmts[0].ev.evalInt(batchUsing.timestamp, typeBigint)
		if err != nil {
			return nil, err
		}
		if ok {
			ts = bt
		}
	}
	var muts []*mutation
	for _, bs := range stmts {
		m, err := d.mutation(bs, ts)
		if err != nil {
			return nil, err
		}
		muts = append(muts, m)
	}
	if lwt {
		return d.cas(muts)
	}
	for _, m := range muts {
		m.apply()
	}
	return voidResult(), nil
}

// mutation evaluates one modification statement.
func (d *db) mutation(bs boundStmt, ts int64) (*mutation, error) {
	ev := bs.ev
	var tname qname
	var using usingClause
	switch s := bs.stmt.(type) {
	case *insertStmt:
		tname, using = s.table, s.using
	case *updateStmt:
		tname, using = s.table, s.using
	case *deleteStmt:
		tname, using = s.table, s.using
	}
	t, err := d.lookup(tname.ks, tname.name)
	if err != nil {
		return nil, err
	}
	if isSystemKeyspace(t.ks) {
		return nil, &cqlError{code: codeUnauthorized, msg: "system keyspace " + t.ks + " is not user-modifiable"}
	}
	if own, ok, err := ev.evalInt(using.timestamp, typeBigint); err != nil {
		return nil, err
	} else if ok {
		ts = own
	}
	if ttl, ok, err := ev.evalInt(using.ttl, typeInt); err != nil {
		return nil, err
	} else if ok && ttl != 0 {
		return nil, invalidErr("USING TTL is not supported by cqltest")
	}
	m := &mutation{t: t, ts: ts, cells: map[string][]byte{}}
	key := map[string][]byte{}
	keyFrom := func(name string, v term) error {
		c, err := t.column(name)
		if err != nil {
			return err
		}
		b, unset, err := ev.eval(v, c.typ)
		if err != nil {
			return err
		}
		if unset || b == nil {
			return invalidErr("invalid null or unset value for PRIMARY KEY column %s", name)
		}
		if err := c.typ.validate(b); err != nil {
			return err
		}
		key[name] = normalizeCollection(c.typ, b)
		return nil
	}
	setCell := func(c *column, v term) error {
		b, unset, err := ev.eval(v, c.typ)
		if err != nil {
			return err
		}
		if unset {
			return nil
		}
		if err := c.typ.validate(b); err != nil {
			return err
		}
		m.cells[c.name] = normalizeCollection(c.typ, b)
		return nil
	}
	switch s := bs.stmt.(type) {
	case *insertStmt:
		m.marker, m.stmtKind = true, "INSERT"
		for i, name := range s.cols {
			c, err := t.column(name)
			if err != nil {
				return nil, err
			}
			if c.kind == regular {
				if err := setCell(c, s.vals[i]); err != nil {
					return nil, err
				}
			} else if err := keyFrom(name, s.vals[i]); err != nil {
				return nil, err
			}
		}
		if s.ifNotExists {
			m.cond = &condition{notExists: true}
		}
	case *updateStmt:
		m.stmtKind = "UPDATE"
		for _, r := range s.where {
			if err := keyFrom(r.col, r.val); err != nil {
				return nil, err
			}
		}
		for _, a := range s.sets {
			c, err := t.column(a.col)
			if err != nil {
				return nil, err
			}
			if err := setCell(c, a.val); err != nil {
				return nil, err
			}
		}
		if m.cond, err = d.cond(t, ev, s.ifExists, s.conds); err != nil {
			return nil, err
		}
	case *deleteStmt:
		m.stmtKind = "DELETE"
		for _, r := range s.where {
			if err := keyFrom(r.col, r.val); err != nil {
				return nil, err
			}
		}
		for _, name := range s.cols {
			m.cells[name] = nil
		}
		if len(s.cols) == 0 {
			m.delRow = true
		}
		if m.cond, err = d.cond(t, ev, s.ifExists, s.conds); err != nil {
			return nil, err
		}
	}
	for _, c := range t.pk {
		m.pk = append(m.pk, key[c.name])
	}
	for _, c := range t.ck {
		if v, ok := key[c.name]; ok {
			m.ck = append(m.ck, v)
		}
	}
	if len(m.ck) < len(t.ck) {
		m.ck, m.delRow, m.delPart = nil, false, true
	}
	return m, nil
}

func (d *db) cond(t *table, ev *evaluator, ifExists bool, rels []relation) (*condition, error) {
	if !ifExists && len(rels) == 0 {
		return nil, nil
	}
	c := &condition{exists: ifExists}
	for _, r := range rels {
		br, err := bindRel(t, ev, r)
		if err != nil {
			return nil, err
		}
		c.rels = append(c.rels, br)
	}
	return c, nil
}

func bindRel(t *table, ev *evaluator, r relation) (boundRel, error) {
	col, ok := t.byName[r.col]
	if !ok {
		return boundRel{}, invalidErr("undefined column name %s", r.col)
	}
	br := boundRel{col: col, op: r.op}
	if r.op == "in" {
		if r.val != nil {
			lt := &cqlType{kind: kList, elem: col.typ, frozen: true}
			b, unset, err := ev.eval(r.val, lt)
			if err != nil {
				return boundRel{}, err
			}
			if unset || b == nil {
				return boundRel{}, invalidErr("invalid null or unset value for IN on %s", r.col)
			}
			elems, err := splitCollection(lt, b)
			if err != nil {
				return boundRel{}, err
			}
			br.vals = elems
			return br, nil
		}
		for _, v := range r.vals {
			b, unset, err := ev.eval(v, col.typ)
			if err != nil {
				return boundRel{}, err
			}
			if unset {
				return boundRel{}, invalidErr("invalid unset value for IN on %s", r.col)
			}
			br.vals = append(br.vals, b)
		}
		return br, nil
	}
	b, unset, err := ev.eval(r.val, col.typ)
	if err != nil {
		return boundRel{}, err
	}
	if unset {
		return boundRel{}, invalidErr("invalid unset value for column %s", r.col)
	}
	br.val = normalizeCollection(col.typ, b)
	return br, nil
}

// matches reports whether v satisfies r; a null v only equals null.
func (r boundRel) matches(v []byte) bool {
	if r.op == "in" {
		for _, x := range r.vals {
			if sameValue(r.col.typ, v, x) {
				return true
			}
		}
		return false
	}
	if v == nil || r.val == nil {
		switch r.op {
		case "=":
			return v == nil && r.val == nil
		case "!=":
			return (v == nil) != (r.val == nil)
		}
		return false
	}
	c := r.col.typ.compare(v, r.val)
	switch r.op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

func sameValue(t *cqlType, a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return t.compare(a, b) == 0
}

// apply writes m into its table.
func (m *mutation) apply() {
	p := m.t.partition(m.pk, true)
	if m.delPart {
		p.del = max(p.del, m.ts)
		return
	}
	r := p.row(m.ck, true)
	if m.delRow {
		r.del = max(r.del, m.ts)
		return
	}
	if m.marker {
		r.marker = max(r.marker, m.ts)
	}
	for col, v := range m.cells {
		r.writeCell(col, cell{ts: m.ts, value: v, tomb: v == nil})
	}
}

// cas checks the conditions of a lightweight transaction (one statement,
// or a batch on one partition) and applies it if they all hold.
func (d *db) cas(muts []*mutation) (*result, error) {
	first := muts[0]
	for _, m := range muts[1:] {
		if m.t != first.t || encodeKey(m.pk) != encodeKey(first.pk) {
			return nil, invalidErr("batch with conditions cannot span multiple partitions")
		}
	}
	applied := true
	var failed *mutation
	for _, m := range muts {
		if m.cond == nil {
			continue
		}
		if m.delPart {
			return nil, invalidErr("conditional %s needs the full primary key", m.stmtKind)
		}
		if !m.cond.holds(m) {
			applied, failed = false, m
			break
		}
	}
	if applied {
		for _, m := range muts {
			m.apply()
		}
	}
	cols := []colSpec{{ks: first.t.ks, table: first.t.name, name: "[applied]", typ: typeBoolean}}
	row := [][]byte{{0}}
	if applied {
		row[0] = []byte{1}
	} else if len(muts) == 1 {
		cols, row = failed.casFailure(cols, row)
	}
	return &result{body: encodeRows(cols, [][][]byte{row}, nil, false)}, nil
}

// current returns the partition and live row m targets, if the row exists.
func (m *mutation) current() (*partition, *row) {
	p := m.t.partition(m.pk, false)
	if p == nil {
		return nil, nil
	}
	r := p.row(m.ck, false)
	if r == nil || !p.live(r) {
		return nil, nil
	}
	return p, r
}

func (c *condition) holds(m *mutation) bool {
	p, r := m.current()
	switch {
	case c.notExists:
		return r == nil
	case c.exists:
		return r != nil
	}
	for _, rel := range c.rels {
		var v []byte
		if r != nil {
			v = m.t.columnValue(p, r, rel.col)
		}
		if !rel.matches(v) {
			return false
		}
	}
	return true
}

// casFailure adds the current values Cassandra returns with a failed
// condition: the whole row for IF [NOT] EXISTS, the columns of the
// conditions otherwise; nothing when the row does not exist.
func (m *mutation) casFailure(cols []colSpec, row [][]byte) ([]colSpec, [][]byte) {
	p, r := m.current()
	if r == nil {
		return cols, row
	}
	var show []*column
	if m.cond.exists || m.cond.notExists {
		show = m.t.cols
	} else {
		for _, rel := range m.cond.rels {
			if !slices.Contains(show, rel.col) {
				show = append(show, rel.col)
			}
		}
	}
	for _, c := range show {
		cols = append(cols, colSpec{ks: m.t.ks, table: m.t.name, name: c.name, typ: c.typ})
		row = append(row, m.t.columnValue(p, r, c))
	}
	return cols, row
}

// encodeRows returns a RESULT Rows body. A non-nil paging state sets
// Has_more_pages; noMeta leaves out the column specifications.
func encodeRows(cols []colSpec, rows [][][]byte, paging []byte, noMeta bool) []byte {
	var w writer
	w.int(resultRows)
	writeRowsMetadata(&w, cols, paging, noMeta)
	w.int(int32(len(rows)))
	for _, r := range rows {
		for _, v := range r {
			w.bytes(v)
		}
	}
	return w.b
}

func writeRowsMetadata(w *writer, cols []colSpec, paging []byte, noMeta bool) {
	flags := int32(0)
	if paging != nil {
		flags |= mfHasMorePages
	}
	if noMeta {
		flags |= mfNoMetadata
	} else if len(cols) > 0 {
		flags |= mfGlobalTableSpec
	}
	w.int(flags)
	w.int(int32(len(cols)))
	if paging != nil {
		w.bytes(paging)
	}
	if noMeta || len(cols) == 0 {
		return
	}
	w.string(cols[0].ks)
	w.string(cols[0].table)
	for _, c := range cols {
		w.string(c.name)
		c.typ.writeOption(w)
	}
}
