package cqltest

import (
	"crypto/md5"
	"strings"
	"sync"
	"time"
)

// db is the server's catalog, data and prepared statements. One mutex
// serializes every statement, so each statement and each batch is atomic
// and lightweight transactions are linearizable.
type db struct {
	mu            sync.Mutex
	keyspaces     map[string]*keyspace
	schemaVersion [16]byte
	prepared      map[string]*plan
	clock         func() time.Time
	lastTS        int64
	node          nodeInfo
}

// nodeInfo is what system.local says about the node.
type nodeInfo struct {
	addr        []byte // IPv4 or IPv6 bytes of the listen address
	port        int
	clusterName string
	dataCenter  string
	rack        string
	version     string
	hostID      [16]byte
	tokens      []string
	partitioner string
}

// schemaEvent is a schema change, as RESULT and EVENT messages report it.
type schemaEvent struct {
	change string // CREATED, UPDATED, DROPPED
	target string // KEYSPACE, TABLE
	ks     string
	table  string
}

func (e schemaEvent) encode(w *writer) {
	w.string(e.change)
	w.string(e.target)
	w.string(e.ks)
	if e.target != "KEYSPACE" {
		w.string(e.table)
	}
}

func newDB(clock func() time.Time, node nodeInfo) *db {
	return &db{
		keyspaces:     map[string]*keyspace{},
		schemaVersion: randomUUID(),
		prepared:      map[string]*plan{},
		clock:         clock,
		node:          node,
	}
}

// timestamp returns a server-side write timestamp in microseconds, strictly
// increasing. Callers hold mu.
func (d *db) timestamp() int64 {
	ts := d.clock().UnixMicro()
	if ts <= d.lastTS {
		ts = d.lastTS + 1
	}
	d.lastTS = ts
	return ts
}

// isSystemKeyspace reports whether ks is one of the read-only virtual
// keyspaces.
func isSystemKeyspace(ks string) bool {
	return ks == "system" || ks == "system_schema" || strings.HasPrefix(ks, "system_")
}

// lookup returns the user table ks.name, or an invalid-request error.
func (d *db) lookup(ks, name string) (*table, error) {
	if ks == "" {
		return nil, invalidErr("no keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
	}
	if isSystemKeyspace(ks) {
		if t := d.systemTable(ks, name); t != nil {
			return t, nil
		}
		return nil, invalidErr("table %s.%s does not exist", ks, name)
	}
	k, ok := d.keyspaces[ks]
	if !ok {
		return nil, invalidErr("keyspace %s does not exist", ks)
	}
	t, ok := k.tables[name]
	if !ok {
		return nil, invalidErr("table %s.%s does not exist", ks, name)
	}
	return t, nil
}

// preparedID is the id of a prepared statement: the MD5 of its keyspace and
// text, as Cassandra computes it.
func preparedID(ks, src string) []byte {
	sum := md5.Sum([]byte(ks + src))
	return sum[:]
}
