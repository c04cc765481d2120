package cqltest

import (
	"strconv"
	"strings"
)

// parse parses one statement of the supported CQL subset. Errors are
// *cqlError with the syntax error code; a statement outside the subset is
// reported by name.
func parse(src string) (*parsed, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	stmt, err := p.statement()
	if err != nil {
		return nil, err
	}
	p.acceptPunct(";")
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "unexpected %s after the end of the statement", describe(t))
	}
	return &parsed{stmt: stmt, markers: len(p.names), names: p.names}, nil
}

// parser is a recursive-descent parser over the tokens of one statement.
type parser struct {
	toks  []token
	i     int
	names []string // bind markers seen so far
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isKw(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == kw
}

func (p *parser) acceptKw(kw string) bool {
	if p.isKw(kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKw(kws ...string) error {
	for _, kw := range kws {
		if !p.acceptKw(kw) {
			t := p.peek()
			return p.errAt(t, "expected %s, found %s", strings.ToUpper(kw), describe(t))
		}
	}
	return nil
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) acceptPunct(s string) bool {
	if p.isPunct(s) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectPunct(s string) error {
	if !p.acceptPunct(s) {
		t := p.peek()
		return p.errAt(t, "expected %q, found %s", s, describe(t))
	}
	return nil
}

func (p *parser) errAt(t token, format string, args ...any) error {
	e := syntaxErr(format, args...)
	e.msg = "line 1:" + strconv.Itoa(t.pos) + " " + e.msg
	return e
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of statement"
	case tString:
		return "string literal"
	case tQIdent:
		return "\"" + t.text + "\""
	}
	return "'" + t.text + "'"
}

// ident reads an identifier: an unquoted word (lower-cased) or a quoted one.
func (p *parser) ident(what string) (string, error) {
	t := p.peek()
	if t.kind == tIdent || t.kind == tQIdent {
		p.i++
		return t.text, nil
	}
	return "", p.errAt(t, "expected %s, found %s", what, describe(t))
}

func (p *parser) qualifiedName() (qname, error) {
	first, err := p.ident("a table name")
	if err != nil {
		return qname{}, err
	}
	if p.acceptPunct(".") {
		second, err := p.ident("a table name")
		if err != nil {
			return qname{}, err
		}
		return qname{ks: first, name: second}, nil
	}
	return qname{name: first}, nil
}

func (p *parser) statement() (any, error) {
	t := p.peek()
	if t.kind != tIdent {
		return nil, p.errAt(t, "expected a statement, found %s", describe(t))
	}
	switch t.text {
	case "select":
		p.i++
		return p.selectStmt()
	case "insert":
		p.i++
		return p.insertStmt()
	case "update":
		p.i++
		return p.updateStmt()
	case "delete":
		p.i++
		return p.deleteStmt()
	case "begin":
		p.i++
		return p.batchStmt()
	case "create":
		p.i++
		return p.createStmt()
	case "drop":
		p.i++
		return p.dropStmt()
	case "alter":
		p.i++
		return p.alterStmt()
	case "use":
		p.i++
		ks, err := p.ident("a keyspace name")
		if err != nil {
			return nil, err
		}
		return &useStmt{ks: ks}, nil
	case "truncate":
		p.i++
		p.acceptKw("table")
		name, err := p.qualifiedName()
		if err != nil {
			return nil, err
		}
		return &truncateStmt{table: name}, nil
	}
	return nil, p.errAt(t, "unsupported statement %s", strings.ToUpper(t.text))
}

func (p *parser) ifNotExists() (bool, error) {
	if !p.acceptKw("if") {
		return false, nil
	}
	return true, p.expectKw("not", "exists")
}

func (p *parser) ifExists() (bool, error) {
	if !p.acceptKw("if") {
		return false, nil
	}
	return true, p.expectKw("exists")
}

func (p *parser) createStmt() (any, error) {
	switch {
	case p.acceptKw("keyspace"), p.acceptKw("schema"):
		return p.createKeyspace()
	case p.acceptKw("table"), p.acceptKw("columnfamily"):
		return p.createTable()
	}
	t := p.peek()
	return nil, p.errAt(t, "unsupported statement CREATE %s", strings.ToUpper(t.text))
}

func (p *parser) createKeyspace() (any, error) {
	s := &createKeyspaceStmt{durable: true}
	var err error
	if s.ifNotExists, err = p.ifNotExists(); err != nil {
		return nil, err
	}
	if s.name, err = p.ident("a keyspace name"); err != nil {
		return nil, err
	}
	if err := p.expectKw("with"); err != nil {
		return nil, err
	}
	for {
		prop, err := p.ident("a keyspace property")
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct("="); err != nil {
			return nil, err
		}
		switch prop {
		case "replication":
			m, err := p.constMap()
			if err != nil {
				return nil, err
			}
			s.replication = m
		case "durable_writes":
			t := p.next()
			if t.kind != tIdent || (t.text != "true" && t.text != "false") {
				return nil, p.errAt(t, "durable_writes must be true or false")
			}
			s.durable = t.text == "true"
		default:
			return nil, p.errAt(p.toks[p.i-2], "unsupported keyspace property %s", prop)
		}
		if !p.acceptKw("and") {
			break
		}
	}
	if s.replication == nil {
		return nil, syntaxErr("missing mandatory replication strategy class")
	}
	return s, nil
}

// constMap reads a map literal of constants, as keyspace options use.
func (p *parser) constMap() (map[string]string, error) {
	if err := p.expectPunct("{"); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for !p.acceptPunct("}") {
		if len(m) > 0 {
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
		}
		k, err := p.constant()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(":"); err != nil {
			return nil, err
		}
		v, err := p.constant()
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}

func (p *parser) constant() (string, error) {
	t := p.next()
	switch t.kind {
	case tString, tInt, tFloat, tIdent:
		return t.text, nil
	}
	return "", p.errAt(t, "expected a constant, found %s", describe(t))
}

func (p *parser) createTable() (any, error) {
	s := &createTableStmt{desc: map[string]bool{}}
	var err error
	if s.ifNotExists, err = p.ifNotExists(); err != nil {
		return nil, err
	}
	if s.table, err = p.qualifiedName(); err != nil {
		return nil, err
	}
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	for {
		if p.isKw("primary") {
			p.i++
			if err := p.expectKw("key"); err != nil {
				return nil, err
			}
			if s.pk != nil {
				return nil, syntaxErr("multiple PRIMARY KEY definitions in table %s", s.table)
			}
			if err := p.primaryKey(s); err != nil {
				return nil, err
			}
		} else {
			name, err := p.ident("a column name")
			if err != nil {
				return nil, err
			}
			typ, err := p.typ()
			if err != nil {
				return nil, err
			}
			if p.isKw("static") {
				return nil, p.errAt(p.peek(), "unsupported STATIC column %s", name)
			}
			s.cols = append(s.cols, colDef{name: name, typ: typ})
			if p.acceptKw("primary") {
				if err := p.expectKw("key"); err != nil {
					return nil, err
				}
				if s.pk != nil {
					return nil, syntaxErr("multiple PRIMARY KEY definitions in table %s", s.table)
				}
				s.pk = []string{name}
			}
		}
		if p.acceptPunct(")") {
			break
		}
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("with") {
		if err := p.tableOptions(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) primaryKey(s *createTableStmt) error {
	if err := p.expectPunct("("); err != nil {
		return err
	}
	if p.acceptPunct("(") {
		for {
			name, err := p.ident("a partition key column")
			if err != nil {
				return err
			}
			s.pk = append(s.pk, name)
			if p.acceptPunct(")") {
				break
			}
			if err := p.expectPunct(","); err != nil {
				return err
			}
		}
	} else {
		name, err := p.ident("a partition key column")
		if err != nil {
			return err
		}
		s.pk = []string{name}
	}
	for p.acceptPunct(",") {
		name, err := p.ident("a clustering column")
		if err != nil {
			return err
		}
		s.ck = append(s.ck, name)
	}
	return p.expectPunct(")")
}

func (p *parser) tableOptions(s *createTableStmt) error {
	for {
		switch {
		case p.acceptKw("clustering"):
			if err := p.expectKw("order", "by"); err != nil {
				return err
			}
			if err := p.expectPunct("("); err != nil {
				return err
			}
			for {
				name, err := p.ident("a clustering column")
				if err != nil {
					return err
				}
				switch {
				case p.acceptKw("desc"):
					s.desc[name] = true
				case p.acceptKw("asc"):
				default:
					return p.errAt(p.peek(), "expected ASC or DESC, found %s", describe(p.peek()))
				}
				if p.acceptPunct(")") {
					break
				}
				if err := p.expectPunct(","); err != nil {
					return err
				}
			}
		case p.acceptKw("compact"):
			if err := p.expectKw("storage"); err != nil {
				return err
			}
			return p.errAt(p.peek(), "unsupported COMPACT STORAGE")
		default:
			// Other table properties (compaction, comment, ...) are accepted and
			// ignored: they change nothing in memory.
			if _, err := p.ident("a table property"); err != nil {
				return err
			}
			if err := p.expectPunct("="); err != nil {
				return err
			}
			if p.isPunct("{") {
				if _, err := p.constMap(); err != nil {
					return err
				}
			} else if _, err := p.constant(); err != nil {
				return err
			}
		}
		if !p.acceptKw("and") {
			return nil
		}
	}
}

// typ reads a CQL type name.
func (p *parser) typ() (*cqlType, error) {
	t := p.peek()
	name, err := p.ident("a type")
	if err != nil {
		return nil, err
	}
	if k, ok := nativeTypes[name]; ok && t.kind == tIdent {
		if k == kCounter {
			return nil, p.errAt(t, "unsupported type counter")
		}
		return &cqlType{kind: k}, nil
	}
	switch name {
	case "frozen":
		if err := p.expectPunct("<"); err != nil {
			return nil, err
		}
		inner, err := p.typ()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(">"); err != nil {
			return nil, err
		}
		if !inner.isCollection() {
			return nil, p.errAt(t, "frozen<> is only supported on collections")
		}
		return freeze(inner), nil
	case "list", "set":
		if err := p.expectPunct("<"); err != nil {
			return nil, err
		}
		elem, err := p.typ()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(">"); err != nil {
			return nil, err
		}
		k := kList
		if name == "set" {
			k = kSet
		}
		return &cqlType{kind: k, elem: freeze(elem)}, nil
	case "map":
		if err := p.expectPunct("<"); err != nil {
			return nil, err
		}
		key, err := p.typ()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
		val, err := p.typ()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(">"); err != nil {
			return nil, err
		}
		return &cqlType{kind: kMap, elem: freeze(key), value: freeze(val)}, nil
	}
	return nil, p.errAt(t, "unsupported type %s (user types, tuples, vectors and durations are not supported)", name)
}

// freeze returns t frozen; element types of collections are always frozen.
func freeze(t *cqlType) *cqlType {
	if !t.isCollection() || t.frozen {
		return t
	}
	c := *t
	c.frozen = true
	return &c
}

func (p *parser) dropStmt() (any, error) {
	switch {
	case p.acceptKw("table"), p.acceptKw("columnfamily"):
		ifExists, err := p.ifExists()
		if err != nil {
			return nil, err
		}
		name, err := p.qualifiedName()
		if err != nil {
			return nil, err
		}
		return &dropTableStmt{table: name, ifExists: ifExists}, nil
	case p.acceptKw("keyspace"), p.acceptKw("schema"):
		ifExists, err := p.ifExists()
		if err != nil {
			return nil, err
		}
		name, err := p.ident("a keyspace name")
		if err != nil {
			return nil, err
		}
		return &dropKeyspaceStmt{name: name, ifExists: ifExists}, nil
	}
	t := p.peek()
	return nil, p.errAt(t, "unsupported statement DROP %s", strings.ToUpper(t.text))
}

func (p *parser) alterStmt() (any, error) {
	if !p.acceptKw("table") && !p.acceptKw("columnfamily") {
		t := p.peek()
		return nil, p.errAt(t, "unsupported statement ALTER %s", strings.ToUpper(t.text))
	}
	name, err := p.qualifiedName()
	if err != nil {
		return nil, err
	}
	if !p.acceptKw("add") {
		t := p.peek()
		return nil, p.errAt(t, "unsupported ALTER TABLE %s (only ADD is supported)", strings.ToUpper(t.text))
	}
	s := &alterTableAddStmt{table: name}
	paren := p.acceptPunct("(")
	for {
		col, err := p.ident("a column name")
		if err != nil {
			return nil, err
		}
		typ, err := p.typ()
		if err != nil {
			return nil, err
		}
		s.cols = append(s.cols, colDef{name: col, typ: typ})
		if !paren || !p.acceptPunct(",") {
			break
		}
	}
	if paren {
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) using(u *usingClause) error {
	if !p.acceptKw("using") {
		return nil
	}
	for {
		switch {
		case p.acceptKw("timestamp"):
			t, err := p.term()
			if err != nil {
				return err
			}
			u.timestamp = t
		case p.acceptKw("ttl"):
			t, err := p.term()
			if err != nil {
				return err
			}
			u.ttl = t
		default:
			return p.errAt(p.peek(), "expected TIMESTAMP or TTL, found %s", describe(p.peek()))
		}
		if !p.acceptKw("and") {
			return nil
		}
	}
}

func (p *parser) insertStmt() (any, error) {
	if err := p.expectKw("into"); err != nil {
		return nil, err
	}
	s := &insertStmt{}
	var err error
	if s.table, err = p.qualifiedName(); err != nil {
		return nil, err
	}
	if p.isKw("json") {
		return nil, p.errAt(p.peek(), "unsupported INSERT JSON")
	}
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	for {
		col, err := p.ident("a column name")
		if err != nil {
			return nil, err
		}
		s.cols = append(s.cols, col)
		if p.acceptPunct(")") {
			break
		}
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
	}
	if err := p.expectKw("values"); err != nil {
		return nil, err
	}
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	for {
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		s.vals = append(s.vals, t)
		if p.acceptPunct(")") {
			break
		}
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
	}
	if len(s.vals) != len(s.cols) {
		return nil, syntaxErr("unmatched column names/values: %d columns, %d values", len(s.cols), len(s.vals))
	}
	if s.ifNotExists, err = p.ifNotExists(); err != nil {
		return nil, err
	}
	if err := p.using(&s.using); err != nil {
		return nil, err
	}
	if !s.ifNotExists {
		if s.ifNotExists, err = p.ifNotExists(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) updateStmt() (any, error) {
	s := &updateStmt{}
	var err error
	if s.table, err = p.qualifiedName(); err != nil {
		return nil, err
	}
	if err := p.using(&s.using); err != nil {
		return nil, err
	}
	if err := p.expectKw("set"); err != nil {
		return nil, err
	}
	for {
		col, err := p.ident("a column name")
		if err != nil {
			return nil, err
		}
		if p.isPunct("[") {
			return nil, p.errAt(p.peek(), "unsupported update of a collection element of %s", col)
		}
		if err := p.expectPunct("="); err != nil {
			return nil, err
		}
		if t := p.peek(); (t.kind == tIdent || t.kind == tQIdent) && t.text == col &&
			p.peekAt(1).kind == tPunct && (p.peekAt(1).text == "+" || p.peekAt(1).text == "-") {
			return nil, p.errAt(t, "unsupported collection or counter update %s = %s %s ...", col, col, p.peekAt(1).text)
		}
		v, err := p.term()
		if err != nil {
			return nil, err
		}
		if p.isPunct("+") || p.isPunct("-") {
			return nil, p.errAt(p.peek(), "unsupported collection update of %s", col)
		}
		s.sets = append(s.sets, assignment{col: col, val: v})
		if !p.acceptPunct(",") {
			break
		}
	}
	if s.where, err = p.where(); err != nil {
		return nil, err
	}
	if s.ifExists, s.conds, err = p.conditions(); err != nil {
		return nil, err
	}
	return s, nil
}

func (p *parser) deleteStmt() (any, error) {
	s := &deleteStmt{}
	for !p.isKw("from") {
		col, err := p.ident("a column name or FROM")
		if err != nil {
			return nil, err
		}
		if p.isPunct("[") {
			return nil, p.errAt(p.peek(), "unsupported deletion of a collection element of %s", col)
		}
		s.cols = append(s.cols, col)
		if !p.acceptPunct(",") {
			break
		}
	}
	if err := p.expectKw("from"); err != nil {
		return nil, err
	}
	var err error
	if s.table, err = p.qualifiedName(); err != nil {
		return nil, err
	}
	if err := p.using(&s.using); err != nil {
		return nil, err
	}
	if s.where, err = p.where(); err != nil {
		return nil, err
	}
	if s.ifExists, s.conds, err = p.conditions(); err != nil {
		return nil, err
	}
	return s, nil
}

// where reads a mandatory WHERE clause.
func (p *parser) where() ([]relation, error) {
	if err := p.expectKw("where"); err != nil {
		return nil, err
	}
	return p.relations()
}

func (p *parser) relations() ([]relation, error) {
	var rels []relation
	for {
		r, err := p.relation()
		if err != nil {
			return nil, err
		}
		rels = append(rels, r)
		if !p.acceptKw("and") {
			return rels, nil
		}
	}
}

func (p *parser) relation() (relation, error) {
	t := p.peek()
	if p.isPunct("(") {
		return relation{}, p.errAt(t, "unsupported multi-column relation")
	}
	if t.kind == tIdent && t.text == "token" && p.peekAt(1).kind == tPunct && p.peekAt(1).text == "(" {
		return relation{}, p.errAt(t, "unsupported token() relation")
	}
	col, err := p.ident("a column name")
	if err != nil {
		return relation{}, err
	}
	if p.acceptKw("in") {
		r := relation{col: col, op: "in"}
		if p.peek().kind == tMarker || p.peek().kind == tNamed {
			r.val, err = p.term()
			return r, err
		}
		if err := p.expectPunct("("); err != nil {
			return relation{}, err
		}
		for !p.acceptPunct(")") {
			if len(r.vals) > 0 {
				if err := p.expectPunct(","); err != nil {
					return relation{}, err
				}
			}
			v, err := p.term()
			if err != nil {
				return relation{}, err
			}
			r.vals = append(r.vals, v)
		}
		return r, nil
	}
	op := p.peek()
	if op.kind != tPunct {
		return relation{}, p.errAt(op, "unsupported operator %s", describe(op))
	}
	switch op.text {
	case "=", "!=", "<", "<=", ">", ">=":
	default:
		return relation{}, p.errAt(op, "unsupported operator %s", describe(op))
	}
	p.i++
	v, err := p.term()
	if err != nil {
		return relation{}, err
	}
	return relation{col: col, op: op.text, val: v}, nil
}

// conditions reads an optional IF EXISTS or IF cond AND ... clause.
func (p *parser) conditions() (ifExists bool, conds []relation, err error) {
	if !p.acceptKw("if") {
		return false, nil, nil
	}
	if p.acceptKw("exists") {
		return true, nil, nil
	}
	conds, err = p.relations()
	return false, conds, err
}

func (p *parser) selectStmt() (any, error) {
	s := &selectStmt{}
	if p.isKw("json") || p.isKw("distinct") {
		return nil, p.errAt(p.peek(), "unsupported SELECT %s", strings.ToUpper(p.peek().text))
	}
	if p.acceptPunct("*") {
		s.star = true
	} else {
		for {
			sel, err := p.selector()
			if err != nil {
				return nil, err
			}
			s.sels = append(s.sels, sel)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if err := p.expectKw("from"); err != nil {
		return nil, err
	}
	var err error
	if s.table, err = p.qualifiedName(); err != nil {
		return nil, err
	}
	if p.acceptKw("where") {
		if s.where, err = p.relations(); err != nil {
			return nil, err
		}
	}
	if p.isKw("group") || p.isKw("order") {
		return nil, p.errAt(p.peek(), "unsupported %s BY", strings.ToUpper(p.peek().text))
	}
	if p.isKw("per") {
		return nil, p.errAt(p.peek(), "unsupported PER PARTITION LIMIT")
	}
	if p.acceptKw("limit") {
		if s.limit, err = p.term(); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("allow") {
		if err := p.expectKw("filtering"); err != nil {
			return nil, err
		}
		s.allowFiltering = true
	}
	return s, nil
}

func (p *parser) selector() (selector, error) {
	t := p.peek()
	name, err := p.ident("a column name")
	if err != nil {
		return selector{}, err
	}
	sel := selector{col: name}
	if t.kind == tIdent && p.acceptPunct("(") {
		switch name {
		case "count":
			if !p.acceptPunct("*") {
				if n := p.next(); n.kind != tInt || n.text != "1" {
					return selector{}, p.errAt(n, "unsupported count argument %s", describe(n))
				}
			}
			sel = selector{fn: "count", col: "*"}
		case "writetime", "ttl":
			col, err := p.ident("a column name")
			if err != nil {
				return selector{}, err
			}
			sel = selector{fn: name, col: col}
		default:
			return selector{}, p.errAt(t, "unsupported function %s in selection", name)
		}
		if err := p.expectPunct(")"); err != nil {
			return selector{}, err
		}
	}
	if p.acceptKw("as") {
		if sel.alias, err = p.ident("an alias"); err != nil {
			return selector{}, err
		}
	}
	return sel, nil
}

func (p *parser) batchStmt() (any, error) {
	s := &batchStmt{typ: batchLogged}
	switch {
	case p.acceptKw("unlogged"):
		s.typ = batchUnlogged
	case p.acceptKw("counter"):
		return nil, p.errAt(p.peek(), "unsupported COUNTER BATCH")
	}
	if err := p.expectKw("batch"); err != nil {
		return nil, err
	}
	if err := p.using(&s.using); err != nil {
		return nil, err
	}
	for !p.acceptKw("apply") {
		t := p.peek()
		var st any
		var err error
		switch {
		case p.acceptKw("insert"):
			st, err = p.insertStmt()
		case p.acceptKw("update"):
			st, err = p.updateStmt()
		case p.acceptKw("delete"):
			st, err = p.deleteStmt()
		default:
			return nil, p.errAt(t, "expected INSERT, UPDATE, DELETE or APPLY BATCH in a batch, found %s", describe(t))
		}
		if err != nil {
			return nil, err
		}
		s.stmts = append(s.stmts, st)
		p.acceptPunct(";")
	}
	return s, p.expectKw("batch")
}

// term reads a value: a literal, a bind marker, a collection or a function.
func (p *parser) term() (term, error) {
	t := p.next()
	switch t.kind {
	case tMarker:
		p.names = append(p.names, "")
		return &marker{idx: len(p.names) - 1}, nil
	case tNamed:
		p.names = append(p.names, t.text)
		return &marker{idx: len(p.names) - 1, name: t.text}, nil
	case tString, tInt, tFloat, tUUID, tHex:
		return &literal{kind: t.kind, text: t.text}, nil
	case tIdent:
		switch t.text {
		case "true", "false", "null", "nan", "infinity":
			return &literal{kind: tIdent, text: t.text}, nil
		}
		if p.acceptPunct("(") {
			f := &funcCall{name: t.text}
			for !p.acceptPunct(")") {
				if len(f.args) > 0 {
					if err := p.expectPunct(","); err != nil {
						return nil, err
					}
				}
				a, err := p.term()
				if err != nil {
					return nil, err
				}
				f.args = append(f.args, a)
			}
			return f, nil
		}
	case tPunct:
		switch t.text {
		case "-":
			n := p.next()
			if n.kind == tInt || n.kind == tFloat || (n.kind == tIdent && (n.text == "nan" || n.text == "infinity")) {
				return &literal{kind: n.kind, text: n.text, neg: true}, nil
			}
			return nil, p.errAt(n, "expected a number after '-', found %s", describe(n))
		case "[":
			return p.collection(&collLit{list: true}, "]")
		case "{":
			return p.collection(&collLit{}, "}")
		}
	}
	return nil, p.errAt(t, "expected a value, found %s", describe(t))
}

func (p *parser) collection(c *collLit, closing string) (term, error) {
	for !p.acceptPunct(closing) {
		if len(c.elems) > 0 {
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
		}
		v, err := p.term()
		if err != nil {
			return nil, err
		}
		c.elems = append(c.elems, v)
		if !c.list && (c.isMap || len(c.elems) == 1) && p.acceptPunct(":") {
			c.isMap = true
			v, err := p.term()
			if err != nil {
				return nil, err
			}
			c.elems = append(c.elems, v)
		} else if c.isMap {
			return nil, p.errAt(p.peek(), "expected ':' in a map literal, found %s", describe(p.peek()))
		}
	}
	return c, nil
}
