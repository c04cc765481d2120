package cqltest

import (
	"maps"
	"slices"
	"strconv"
)

const (
	simpleStrategy   = "org.apache.cassandra.locator.SimpleStrategy"
	topologyStrategy = "org.apache.cassandra.locator.NetworkTopologyStrategy"
	localStrategy    = "org.apache.cassandra.locator.LocalStrategy"
)

// ddl executes a schema statement. Callers hold d.mu.
func (d *db) ddl(stmt any, curKs string) (*result, error) {
	var ev schemaEvent
	switch s := stmt.(type) {
	case *createKeyspaceStmt:
		if isSystemKeyspace(s.name) {
			return nil, &cqlError{code: codeAlreadyExists, msg: "keyspace " + s.name + " already exists", keyspace: s.name}
		}
		if _, ok := d.keyspaces[s.name]; ok {
			if s.ifNotExists {
				return voidResult(), nil
			}
			return nil, &cqlError{code: codeAlreadyExists, msg: "keyspace " + s.name + " already exists", keyspace: s.name}
		}
		repl, err := replication(s.replication)
		if err != nil {
			return nil, err
		}
		d.keyspaces[s.name] = &keyspace{name: s.name, replication: repl, durable: s.durable, tables: map[string]*table{}}
		ev = schemaEvent{change: "CREATED", target: "KEYSPACE", ks: s.name}
	case *dropKeyspaceStmt:
		if _, ok := d.keyspaces[s.name]; !ok {
			if s.ifExists {
				return voidResult(), nil
			}
			return nil, &cqlError{code: codeConfig, msg: "cannot drop non existing keyspace '" + s.name + "'"}
		}
		delete(d.keyspaces, s.name)
		maps.DeleteFunc(d.prepared, func(_ string, pl *plan) bool { return pl.ks == s.name })
		ev = schemaEvent{change: "DROPPED", target: "KEYSPACE", ks: s.name}
	case *createTableStmt:
		k, err := d.userKeyspace(s.table.ks, curKs)
		if err != nil {
			return nil, err
		}
		if _, ok := k.tables[s.table.name]; ok {
			if s.ifNotExists {
				return voidResult(), nil
			}
			return nil, &cqlError{code: codeAlreadyExists, msg: "table " + k.name + "." + s.table.name + " already exists", keyspace: k.name, table: s.table.name}
		}
		if err := checkTable(s); err != nil {
			return nil, err
		}
		k.tables[s.table.name] = newTable(k.name, s.table.name, randomUUID(), s.cols, s.pk, s.ck, s.desc)
		ev = schemaEvent{change: "CREATED", target: "TABLE", ks: k.name, table: s.table.name}
	case *dropTableStmt:
		k, err := d.userKeyspace(s.table.ks, curKs)
		if err != nil {
			return nil, err
		}
		if _, ok := k.tables[s.table.name]; !ok {
			if s.ifExists {
				return voidResult(), nil
			}
			return nil, invalidErr("table '%s.%s' doesn't exist", k.name, s.table.name)
		}
		delete(k.tables, s.table.name)
		d.forgetTable(k.name, s.table.name)
		ev = schemaEvent{change: "DROPPED", target: "TABLE", ks: k.name, table: s.table.name}
	case *alterTableAddStmt:
		t, err := d.userTable(s.table, curKs)
		if err != nil {
			return nil, err
		}
		for _, c := range s.cols {
			if _, dup := t.byName[c.name]; dup {
				return nil, invalidErr("column with name '%s' already exists", c.name)
			}
		}
		for _, c := range s.cols {
			t.addColumn(c)
		}
		ev = schemaEvent{change: "UPDATED", target: "TABLE", ks: t.ks, table: t.name}
	case *truncateStmt:
		t, err := d.userTable(s.table, curKs)
		if err != nil {
			return nil, err
		}
		t.parts = map[string]*partition{}
		return voidResult(), nil
	default:
		return nil, invalidErr("unsupported statement")
	}
	d.schemaVersion = randomUUID()
	var w writer
	w.int(resultSchemaChange)
	ev.encode(&w)
	return &result{body: w.b, event: &ev}, nil
}

// forgetTable drops the prepared statements on a dropped table, as
// Cassandra does; executing them again answers UNPREPARED.
func (d *db) forgetTable(ks, name string) {
	maps.DeleteFunc(d.prepared, func(_ string, pl *plan) bool { return pl.ks == ks && pl.table == name })
}

// userTable returns an existing table of a user keyspace.
func (d *db) userTable(q qname, curKs string) (*table, error) {
	k, err := d.userKeyspace(q.ks, curKs)
	if err != nil {
		return nil, err
	}
	t, ok := k.tables[q.name]
	if !ok {
		return nil, invalidErr("table '%s.%s' doesn't exist", k.name, q.name)
	}
	return t, nil
}

func (d *db) userKeyspace(ks, curKs string) (*keyspace, error) {
	if ks == "" {
		ks = curKs
	}
	if ks == "" {
		return nil, invalidErr("no keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
	}
	if isSystemKeyspace(ks) {
		return nil, &cqlError{code: codeUnauthorized, msg: "system keyspace " + ks + " is not user-modifiable"}
	}
	k, ok := d.keyspaces[ks]
	if !ok {
		return nil, invalidErr("keyspace %s does not exist", ks)
	}
	return k, nil
}

// replication validates keyspace replication options and returns them with
// the strategy class spelled in full, as system_schema shows it.
func replication(opts map[string]string) (map[string]string, error) {
	out := maps.Clone(opts)
	class := opts["class"]
	switch {
	case class == "SimpleStrategy" || class == simpleStrategy:
		out["class"] = simpleStrategy
		rf, ok := opts["replication_factor"]
		if !ok {
			return nil, &cqlError{code: codeConfig, msg: "SimpleStrategy requires a replication_factor strategy option"}
		}
		if n, err := strconv.Atoi(rf); err != nil || n < 0 {
			return nil, &cqlError{code: codeConfig, msg: "replication factor must be a non-negative integer; found " + rf}
		}
		for k := range opts {
			if k != "class" && k != "replication_factor" {
				return nil, &cqlError{code: codeConfig, msg: "unrecognized strategy option {" + k + "} passed to SimpleStrategy"}
			}
		}
	case class == "NetworkTopologyStrategy" || class == topologyStrategy:
		out["class"] = topologyStrategy
		for k, v := range opts {
			if k == "class" {
				continue
			}
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return nil, &cqlError{code: codeConfig, msg: "replication factor must be a non-negative integer; found " + v}
			}
		}
	case class == "":
		return nil, &cqlError{code: codeConfig, msg: "missing replication strategy class"}
	default:
		return nil, &cqlError{code: codeConfig, msg: "unable to find replication strategy class '" + class + "'"}
	}
	return out, nil
}

// checkTable validates a CREATE TABLE.
func checkTable(s *createTableStmt) error {
	if len(s.pk) == 0 {
		return invalidErr("no PRIMARY KEY specified for table %s (exactly one required)", s.table.name)
	}
	defs := map[string]*cqlType{}
	for _, c := range s.cols {
		if _, dup := defs[c.name]; dup {
			return invalidErr("multiple definition of identifier %s", c.name)
		}
		defs[c.name] = c.typ
	}
	key := map[string]bool{}
	for _, n := range append(append([]string{}, s.pk...), s.ck...) {
		typ, ok := defs[n]
		if !ok {
			return invalidErr("unknown definition %s referenced in PRIMARY KEY", n)
		}
		if key[n] {
			return invalidErr("duplicate column %s in PRIMARY KEY", n)
		}
		key[n] = true
		if typ.isCollection() && !typ.frozen {
			return invalidErr("invalid non-frozen collection type %s for PRIMARY KEY component %s", typ, n)
		}
	}
	for n := range s.desc {
		if !slices.Contains(s.ck, n) {
			return invalidErr("only clustering key columns can be defined in CLUSTERING ORDER directive: %s", n)
		}
	}
	return nil
}
