// Package cqltest is an in-memory, single-node Cassandra for tests. It
// speaks the CQL native protocol v4 well enough for the gocql driver
// (github.com/apache/cassandra-gocql-driver/v2) to connect with a
// token-aware, DC-aware host policy, read the cluster and schema metadata,
// prepare statements and run reckon's projection store against it.
//
//	s, err := cqltest.New()            // listens on 127.0.0.1:<free port>
//	defer s.Close()
//	c := gocql.NewCluster(s.Host())
//	c.Port, c.ProtoVersion = s.Port(), 4
//
// # Protocol
//
// OPTIONS/SUPPORTED, STARTUP/READY (compression is never offered),
// AUTHENTICATE/AUTH_RESPONSE/AUTH_SUCCESS with PasswordAuthenticator when
// WithCredentials is given, REGISTER (SCHEMA_CHANGE events are pushed after
// each schema change; topology and status events never happen), QUERY,
// PREPARE, EXECUTE and BATCH with values (positional or named), paging
// (page size and paging state), default timestamps, skip-metadata, and
// custom payloads (ignored). Other protocol versions are refused with a
// protocol error so that a negotiating driver falls back to v4.
//
// # Metadata
//
// system.local (data center "datacenter1", rack "rack1", one token, the
// Murmur3Partitioner, release version 4.1.0, host id, schema version that
// changes with each schema change, cluster name "cqltest"), system.peers
// and system.peers_v2 (empty), and system_schema.keyspaces, tables, columns,
// types, functions, aggregates, views, indexes and triggers as the driver
// queries them. The system keyspaces are read-only.
//
// # Statements
//
//   - CREATE KEYSPACE [IF NOT EXISTS] ... WITH replication = {...}
//     [AND durable_writes = ...] (SimpleStrategy, NetworkTopologyStrategy),
//     DROP KEYSPACE [IF EXISTS], USE.
//   - CREATE TABLE [IF NOT EXISTS] with PRIMARY KEY ((pk1, pk2), ck1, ...),
//     PRIMARY KEY (pk, ck) or an inline PRIMARY KEY column, WITH CLUSTERING
//     ORDER BY (...) (other table properties are accepted and ignored);
//     DROP TABLE [IF EXISTS]; ALTER TABLE ... ADD col type [, ...];
//     TRUNCATE.
//   - INSERT INTO t (cols) VALUES (...) [IF NOT EXISTS] [USING TIMESTAMP t].
//   - UPDATE t [USING TIMESTAMP t] SET c = v, ... WHERE <full primary key>
//     [IF EXISTS | IF c op v AND ...].
//   - DELETE [c, ...] FROM t [USING TIMESTAMP t] WHERE <full primary key, or
//     the partition key alone> [IF EXISTS | IF c op v AND ...].
//   - SELECT * | c [AS a], writetime(c), ttl(c) | COUNT(*) FROM t
//     [WHERE ...] [LIMIT n] [ALLOW FILTERING]. WHERE takes =, IN, <, <=, >,
//     >= relations ANDed together, with Cassandra's rules: the partition key
//     fully restricted by = or IN (or not at all), clustering columns as a
//     prefix whose last one may be a range, regular columns and everything
//     else only with ALLOW FILTERING.
//   - BEGIN [UNLOGGED] BATCH ... APPLY BATCH, and BATCH messages mixing
//     prepared ids and query strings. A batch is applied atomically (all or
//     nothing), logged or not.
//   - Values: bind markers (? and :name), literals of every supported type,
//     collection literals, now(), uuid(), toTimestamp(now()) and
//     currentTimestamp().
//
// Types: ascii, text/varchar, bigint, int, smallint, tinyint, varint,
// double, float, decimal, boolean, timestamp, date, time, blob, uuid,
// timeuuid, inet, and list, set and map of them (frozen or not).
//
// # Semantics
//
// Writes follow Cassandra's last-write-wins rules per cell: a write with an
// older timestamp than the stored cell loses; a row or partition deletion
// at timestamp T hides every cell and row marker written at or before T; on
// equal timestamps a deletion wins over a value, and between two values the
// greater one by unsigned byte comparison wins. INSERT writes a row marker,
// UPDATE does not (a row that only UPDATE wrote disappears when its cells
// are deleted). The write timestamp is USING TIMESTAMP, else the client's
// default timestamp (gocql sends one unless DefaultTimestamp is false), else
// the server clock (WithClock), in microseconds.
//
// Lightweight transactions (INSERT ... IF NOT EXISTS, UPDATE/DELETE ... IF
// EXISTS or IF conditions, and batches of them on one partition) are
// linearizable: every statement runs under one lock. They answer a row
// whose first column is [applied]; when not applied and the row exists,
// it also carries the existing row (IF [NOT] EXISTS) or the columns of the
// conditions, as Cassandra does. A failed conditional batch answers
// [applied] alone. Their writes take the server clock's timestamp; USING
// TIMESTAMP is refused with them, as in Cassandra.
//
// Full scans return partitions in partition key order (not token order) and
// rows in clustering order. Paging states are opaque and stay valid across
// writes: a page resumes after the last row of the previous one.
//
// # Errors
//
// Requests fail with the protocol's error codes: syntax error (0x2000) for
// text the parser cannot read or statements it does not support (the
// message names them), invalid (0x2200), already exists (0x2400), config
// (0x2300), unauthorized (0x2100) for writes to system keyspaces, bad
// credentials (0x0100), protocol error (0x000A), and unprepared (0x2500)
// for an unknown prepared id, after which the driver prepares again (see
// ForgetPrepared). Nothing a client sends makes the server panic.
//
// # Fault injection
//
// Inject adds a Fault that hits matching requests (by CQL substring, or
// every write) before they are applied: WriteTimeout (0x1100, with write
// type SIMPLE, BATCH, UNLOGGED_BATCH or CAS; optionally applied first),
// ReadTimeout (0x1200), Unavailable (0x1000), Overloaded (0x1001),
// DropConnection (the TCP connection is closed without an answer) and
// Delay (executed and answered late, from a timer owned by the
// connection). Requests and Stats count requests, fault hits, prepares,
// UNPREPARED answers and ready connections, so a test can assert how often
// a client retried or wait until the driver has reconnected. A single node means that retry
// policies that move to the next host (gocql's SimpleRetryPolicy) find no
// other host: retry on the same host to see a retry succeed.
//
// # Not supported
//
// TTLs (USING TTL other than 0; ttl() is always null), counters, static
// columns, user-defined types, tuples, vectors, durations, secondary
// indexes, materialized views, functions and aggregates other than those
// above, GROUP BY, ORDER BY, PER PARTITION LIMIT, DISTINCT, JSON, token()
// relations, multi-column relations, CONTAINS, range deletions, element
// updates of collections (c = c + ..., c[k] = ...), ALTER other than ADD,
// compression, protocol versions other than 4, and multiple nodes. Collections
// are stored as one cell: writing one replaces it whole, and two writes with
// the same timestamp do not merge their elements.
//
// # Goroutines
//
// New starts the accept loop; each connection has a reader goroutine, and
// each delayed answer a goroutine of its connection. Close closes the
// listener and every connection and waits for all of them to end.
package cqltest
