package cqltest

import (
	"strings"
)

// colSpec describes a bind variable or a result column.
type colSpec struct {
	ks, table, name string
	typ             *cqlType
}

// plan is a statement checked against the catalog: the types of its bind
// markers, the markers that bind the partition key, and for a SELECT the
// result columns. A prepared statement keeps its plan; a QUERY message
// builds a fresh one.
type plan struct {
	src      string
	stmt     any
	ks       string // the keyspace the statement's table lives in
	table    string
	specs    []colSpec
	pkIdx    []int // markers binding the partition key, in key order
	sels     []selector
	result   []colSpec
	lwt      bool
	write    bool
	readOnly bool // SELECT
}

// analyze checks a parsed statement against the catalog. curKs is the
// connection's keyspace. Callers hold d.mu.
func (d *db) analyze(src string, ps *parsed, curKs string) (*plan, error) {
	pl := &plan{src: src, stmt: ps.stmt, specs: make([]colSpec, ps.markers)}
	// resolve finds the statement's table and qualifies its name in the
	// statement, so that executing it later does not depend on the
	// connection's keyspace.
	resolve := func(q *qname) (*table, error) {
		if q.ks == "" {
			q.ks = curKs
		}
		t, err := d.lookup(q.ks, q.name)
		if err != nil {
			return nil, err
		}
		pl.ks, pl.table = t.ks, t.name
		return t, nil
	}
	switch s := ps.stmt.(type) {
	case *insertStmt:
		t, err := resolve(&s.table)
		if err != nil {
			return nil, err
		}
		return pl, pl.analyzeInsert(t, s)
	case *updateStmt:
		t, err := resolve(&s.table)
		if err != nil {
			return nil, err
		}
		return pl, pl.analyzeUpdate(t, s)
	case *deleteStmt:
		t, err := resolve(&s.table)
		if err != nil {
			return nil, err
		}
		return pl, pl.analyzeDelete(t, s)
	case *selectStmt:
		t, err := resolve(&s.table)
		if err != nil {
			return nil, err
		}
		return pl, pl.analyzeSelect(t, s)
	case *batchStmt:
		pl.write = true
		for _, st := range s.stmts {
			sub, err := d.analyze(src, &parsed{stmt: st, markers: ps.markers, names: ps.names}, curKs)
			if err != nil {
				return nil, err
			}
			for i, sp := range sub.specs {
				if sp.typ != nil {
					pl.specs[i] = sp
				}
			}
			pl.lwt = pl.lwt || sub.lwt
			pl.ks, pl.table = sub.ks, sub.table
		}
		pl.bindUsing(s.using, pl.ks, pl.table)
		return pl, nil
	default:
		if ps.markers > 0 {
			return nil, invalidErr("bind markers are not allowed in this statement")
		}
		return pl, nil
	}
}

// bind records the type of each marker in v, which is assigned to a
// receiver called name of type typ.
func (pl *plan) bind(v term, t *table, name string, typ *cqlType) {
	switch v := v.(type) {
	case *marker:
		if v.name != "" {
			name = v.name // a named marker is specified by its own name
		}
		pl.specs[v.idx] = colSpec{ks: t.ks, table: t.name, name: name, typ: typ}
	case *collLit:
		for i, e := range v.elems {
			switch {
			case typ.kind == kMap && i%2 == 0:
				pl.bind(e, t, name, typ.elem)
			case typ.kind == kMap:
				pl.bind(e, t, name, typ.value)
			case typ.isCollection():
				pl.bind(e, t, name, typ.elem)
			}
		}
	}
}

func (pl *plan) bindUsing(u usingClause, ks, tbl string) {
	if m, ok := u.timestamp.(*marker); ok {
		pl.specs[m.idx] = colSpec{ks: ks, table: tbl, name: "[timestamp]", typ: typeBigint}
	}
	if m, ok := u.ttl.(*marker); ok {
		pl.specs[m.idx] = colSpec{ks: ks, table: tbl, name: "[ttl]", typ: typeInt}
	}
}

func (pl *plan) checkWritable(t *table) error {
	if isSystemKeyspace(t.ks) {
		return &cqlError{code: codeUnauthorized, msg: "system keyspace " + t.ks + " is not user-modifiable"}
	}
	return nil
}

// setPKIdx records the markers that bind each partition key column, if
// every one of them is bound by a marker.
func (pl *plan) setPKIdx(t *table, vals map[string]term) {
	var idx []int
	for _, c := range t.pk {
		m, ok := vals[c.name].(*marker)
		if !ok {
			return
		}
		idx = append(idx, m.idx)
	}
	pl.pkIdx = idx
}

func (pl *plan) analyzeInsert(t *table, s *insertStmt) error {
	pl.write = true
	if err := pl.checkWritable(t); err != nil {
		return err
	}
	vals := map[string]term{}
	for i, name := range s.cols {
		c, err := t.column(name)
		if err != nil {
			return err
		}
		if _, dup := vals[name]; dup {
			return invalidErr("multiple definitions found for column %s", name)
		}
		vals[name] = s.vals[i]
		pl.bind(s.vals[i], t, name, c.typ)
	}
	if err := missingKey(t, vals); err != nil {
		return err
	}
	pl.bindUsing(s.using, t.ks, t.name)
	pl.setPKIdx(t, vals)
	pl.lwt = s.ifNotExists
	if pl.lwt && s.using.timestamp != nil {
		return invalidErr("cannot provide custom timestamp for conditional updates")
	}
	return nil
}

func missingKey(t *table, vals map[string]term) error {
	var missPK, missCK []string
	for _, c := range t.pk {
		if _, ok := vals[c.name]; !ok {
			missPK = append(missPK, c.name)
		}
	}
	for _, c := range t.ck {
		if _, ok := vals[c.name]; !ok {
			missCK = append(missCK, c.name)
		}
	}
	if len(missPK) > 0 {
		return invalidErr("some partition key parts are missing: %s", strings.Join(missPK, ", "))
	}
	if len(missCK) > 0 {
		return invalidErr("some clustering keys are missing: %s", strings.Join(missCK, ", "))
	}
	return nil
}

// analyzeKeyWhere checks a WHERE clause of UPDATE or DELETE: equality on
// every partition key column and on every clustering column (or, when
// partial is allowed, on none of them).
func (pl *plan) analyzeKeyWhere(t *table, where []relation, partial bool) (map[string]term, error) {
	vals := map[string]term{}
	for _, r := range where {
		c, err := t.column(r.col)
		if err != nil {
			return nil, err
		}
		if c.kind == regular {
			return nil, invalidErr("non PRIMARY KEY column %s found in the WHERE clause of a modification", r.col)
		}
		if r.op != "=" {
			return nil, invalidErr("only equality relations are supported on %s in a modification", r.col)
		}
		if _, dup := vals[r.col]; dup {
			return nil, invalidErr("more than one restriction on column %s", r.col)
		}
		vals[r.col] = r.val
		pl.bind(r.val, t, r.col, c.typ)
	}
	err := missingKey(t, vals)
	if err != nil && partial {
		ckGiven := 0
		for _, c := range t.ck {
			if _, ok := vals[c.name]; ok {
				ckGiven++
			}
		}
		if ckGiven == 0 {
			for _, c := range t.pk {
				if _, ok := vals[c.name]; !ok {
					return nil, err
				}
			}
			err = nil
		} else {
			err = invalidErr("range deletions (a partial clustering key) are not supported by cqltest")
		}
	}
	if err != nil {
		return nil, err
	}
	pl.setPKIdx(t, vals)
	return vals, nil
}

func (pl *plan) analyzeConds(t *table, conds []relation) error {
	for _, r := range conds {
		c, err := t.column(r.col)
		if err != nil {
			return err
		}
		if c.kind != regular {
			return invalidErr("PRIMARY KEY column %s cannot have IF conditions", r.col)
		}
		if r.op == "in" {
			if r.val != nil {
				pl.bind(r.val, t, "in("+r.col+")", &cqlType{kind: kList, elem: c.typ, frozen: true})
			}
			for _, v := range r.vals {
				pl.bind(v, t, r.col, c.typ)
			}
			continue
		}
		pl.bind(r.val, t, r.col, c.typ)
	}
	return nil
}

func (pl *plan) analyzeUpdate(t *table, s *updateStmt) error {
	pl.write = true
	if err := pl.checkWritable(t); err != nil {
		return err
	}
	pl.bindUsing(s.using, t.ks, t.name)
	for _, a := range s.sets {
		c, err := t.column(a.col)
		if err != nil {
			return err
		}
		if c.kind != regular {
			return invalidErr("PRIMARY KEY part %s found in SET part", a.col)
		}
		pl.bind(a.val, t, a.col, c.typ)
	}
	if _, err := pl.analyzeKeyWhere(t, s.where, false); err != nil {
		return err
	}
	if err := pl.analyzeConds(t, s.conds); err != nil {
		return err
	}
	pl.lwt = s.ifExists || len(s.conds) > 0
	if pl.lwt && s.using.timestamp != nil {
		return invalidErr("cannot provide custom timestamp for conditional updates")
	}
	return nil
}

func (pl *plan) analyzeDelete(t *table, s *deleteStmt) error {
	pl.write = true
	if err := pl.checkWritable(t); err != nil {
		return err
	}
	for _, name := range s.cols {
		c, err := t.column(name)
		if err != nil {
			return err
		}
		if c.kind != regular {
			return invalidErr("invalid identifier %s for deletion (should not be a PRIMARY KEY part)", name)
		}
	}
	pl.bindUsing(s.using, t.ks, t.name)
	lwt := s.ifExists || len(s.conds) > 0
	if _, err := pl.analyzeKeyWhere(t, s.where, len(s.cols) == 0 && !lwt); err != nil {
		return err
	}
	if err := pl.analyzeConds(t, s.conds); err != nil {
		return err
	}
	pl.lwt = lwt
	if pl.lwt && s.using.timestamp != nil {
		return invalidErr("cannot provide custom timestamp for conditional updates")
	}
	return nil
}

func (pl *plan) analyzeSelect(t *table, s *selectStmt) error {
	pl.readOnly = true
	sels := s.sels
	if s.star {
		sels = nil
		for _, c := range t.cols {
			sels = append(sels, selector{col: c.name})
		}
	}
	for _, sel := range sels {
		name := sel.col
		var typ *cqlType
		switch sel.fn {
		case "count":
			name, typ = "count", typeBigint
		case "writetime", "ttl":
			c, err := t.column(sel.col)
			if err != nil {
				return err
			}
			if c.kind != regular {
				return invalidErr("cannot use selection function %s on PRIMARY KEY part %s", sel.fn, sel.col)
			}
			name, typ = sel.fn+"("+sel.col+")", typeBigint
			if sel.fn == "ttl" {
				typ = typeInt
			}
		default:
			c, err := t.column(sel.col)
			if err != nil {
				return err
			}
			typ = c.typ
		}
		if sel.alias != "" {
			name = sel.alias
		}
		pl.result = append(pl.result, colSpec{ks: t.ks, table: t.name, name: name, typ: typ})
	}
	if len(sels) > 1 {
		for _, sel := range sels {
			if sel.fn == "count" {
				return invalidErr("count(*) cannot be combined with other selectors")
			}
		}
	}
	pl.sels = sels
	restricted := map[string]*relation{}
	eqPK := map[string]term{}
	for i := range s.where {
		r := &s.where[i]
		c, err := t.column(r.col)
		if err != nil {
			return err
		}
		if r.op == "!=" {
			return invalidErr("unsupported \"!=\" relation: %s != ...", r.col)
		}
		if r.op == "in" {
			if r.val != nil {
				pl.bind(r.val, t, "in("+r.col+")", &cqlType{kind: kList, elem: c.typ, frozen: true})
			}
			for _, v := range r.vals {
				pl.bind(v, t, r.col, c.typ)
			}
		} else {
			pl.bind(r.val, t, r.col, c.typ)
		}
		if r.op == "=" && c.kind == partitionKey {
			eqPK[r.col] = r.val
		}
		restricted[r.col] = r
	}
	pl.setPKIdx(t, eqPK)
	if m, ok := s.limit.(*marker); ok {
		pl.specs[m.idx] = colSpec{ks: t.ks, table: t.name, name: "[limit]", typ: typeInt}
	}
	if s.allowFiltering || isSystemKeyspace(t.ks) {
		return nil
	}
	return checkRestrictions(t, restricted)
}

// checkRestrictions refuses, as Cassandra does without ALLOW FILTERING,
// WHERE clauses that would need filtering.
func checkRestrictions(t *table, restricted map[string]*relation) error {
	const filtering = "cannot execute this query as it might involve data filtering and thus may have unpredictable performance; use ALLOW FILTERING"
	pkCount := 0
	for _, c := range t.pk {
		if r, ok := restricted[c.name]; ok {
			if r.op != "=" && r.op != "in" {
				return invalidErr("only EQ and IN relations are supported on the partition key (%s)", c.name)
			}
			pkCount++
		}
	}
	if pkCount > 0 && pkCount < len(t.pk) {
		return invalidErr("partition key parts must all be restricted as other parts are: %s", filtering)
	}
	slice := ""
	for i, c := range t.ck {
		r, ok := restricted[c.name]
		if !ok {
			for _, later := range t.ck[i+1:] {
				if _, ok := restricted[later.name]; ok {
					return invalidErr("PRIMARY KEY column %s cannot be restricted as preceding column %s is not restricted", later.name, c.name)
				}
			}
			break
		}
		if slice != "" {
			return invalidErr("clustering column %s cannot be restricted (preceding column %s is restricted by a non-EQ relation)", c.name, slice)
		}
		if r.op != "=" && r.op != "in" {
			slice = c.name
		}
		if pkCount == 0 {
			return invalidErr("%s", filtering)
		}
	}
	for _, c := range t.cols {
		if _, ok := restricted[c.name]; ok && c.kind == regular {
			return invalidErr("%s", filtering)
		}
	}
	return nil
}
