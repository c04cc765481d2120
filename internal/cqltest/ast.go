package cqltest

// The statements of the supported CQL subset, as the parser returns them.

// qname is a table name, qualified by its keyspace when ks is not empty.
type qname struct{ ks, name string }

func (q qname) String() string {
	if q.ks == "" {
		return q.name
	}
	return q.ks + "." + q.name
}

// term is a value in a statement: *literal, *marker, *collLit or *funcCall.
type term interface{ isTerm() }

// literal is a constant. kind is tString, tInt, tFloat, tUUID, tHex, or
// tIdent for true, false, null, nan and infinity.
type literal struct {
	kind tokKind
	text string
	neg  bool
}

// marker is a bind marker: ? or :name. idx numbers markers from 0 in the
// order they appear.
type marker struct {
	idx  int
	name string
}

// collLit is a collection literal: [a, b], {a, b} or {k: v}. For a map,
// keys and values alternate in elems.
type collLit struct {
	list  bool // [ ... ]
	isMap bool
	elems []term
}

// funcCall is a call of a native function (now(), uuid(), ...).
type funcCall struct {
	name string
	args []term
}

func (*literal) isTerm()  {}
func (*marker) isTerm()   {}
func (*collLit) isTerm()  {}
func (*funcCall) isTerm() {}

// relation is col op value, or col IN (values) when op is "in" (vals, or a
// single marker in val that binds a list).
type relation struct {
	col  string
	op   string // =, !=, <, <=, >, >=, in
	val  term
	vals []term
}

type colDef struct {
	name string
	typ  *cqlType
}

type createKeyspaceStmt struct {
	name        string
	ifNotExists bool
	replication map[string]string
	durable     bool
}

type dropKeyspaceStmt struct {
	name     string
	ifExists bool
}

type createTableStmt struct {
	table       qname
	ifNotExists bool
	cols        []colDef
	pk, ck      []string
	desc        map[string]bool // clustering columns ordered descending
}

type dropTableStmt struct {
	table    qname
	ifExists bool
}

type alterTableAddStmt struct {
	table qname
	cols  []colDef
}

type truncateStmt struct{ table qname }

type useStmt struct{ ks string }

// usingClause holds USING TIMESTAMP and USING TTL; nil terms are absent.
type usingClause struct {
	timestamp term
	ttl       term
}

type insertStmt struct {
	table       qname
	cols        []string
	vals        []term
	ifNotExists bool
	using       usingClause
}

type assignment struct {
	col string
	val term
}

type updateStmt struct {
	table    qname
	using    usingClause
	sets     []assignment
	where    []relation
	conds    []relation
	ifExists bool
}

type deleteStmt struct {
	table    qname
	cols     []string
	using    usingClause
	where    []relation
	conds    []relation
	ifExists bool
}

// selector is one selected column, writetime(col), ttl(col) or count(*).
type selector struct {
	col   string
	fn    string // "", "writetime", "ttl" or "count"
	alias string
}

type selectStmt struct {
	table          qname
	star           bool
	sels           []selector
	where          []relation
	limit          term
	allowFiltering bool
}

// Batch types, as the BATCH message encodes them.
const (
	batchLogged   = 0
	batchUnlogged = 1
	batchCounter  = 2
)

type batchStmt struct {
	typ   byte
	using usingClause
	stmts []any // *insertStmt, *updateStmt, *deleteStmt
}

// parsed is a parsed statement and the number of its bind markers.
type parsed struct {
	stmt    any
	markers int
	names   []string // names of the markers, "" for ?
}
