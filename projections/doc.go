// Package projections owns reckon's projection tables and their versions:
// a Store interface with two implementations — Cassandra (through the
// gocql driver, github.com/apache/cassandra-gocql-driver/v2) and embedded
// SQLite (modernc.org/sqlite, pure Go) — a Sink that writes a graph's
// table outputs into them, promotion and rollback of versions, and Diff.
//
// # Writes converge
//
// Every write carries a write timestamp: the Output's Version, derived
// from the input and monotonic per key. A store keeps, per primary key,
// the write with the highest timestamp; a delete at timestamp V hides the
// writes at timestamps ≤ V (a delete wins a tie), and an upsert above V
// recreates the row. Retried, re-ordered, duplicated and replayed writes
// therefore converge to the same rows, and an old replay never overwrites
// newer rows. There are no counters. Cassandra applies the rule itself
// (USING TIMESTAMP, tombstones); SQLite keeps the timestamp and the
// tombstone in two hidden columns, _reckon_writetime and _reckon_deleted.
//
// # Versions and the live pointer
//
// A projection is a table per graph version, <name>_v<N>. The catalog
// table reckon_versions records each version's build state (building or
// ready), graph name and fingerprint, source range (offsets per partition
// and event-time range), row count and times; the table reckon_live holds
// one pointer row per projection: the live version, the versions live
// before it, the retired ones, and an epoch. Promote and Rollback change
// the pointer row atomically (Cassandra: a lightweight transaction that
// compares the epoch; SQLite: one transaction), so every status changes at
// once, and of concurrent promotes of one version exactly one succeeds.
// Readers resolve the pointer (Resolve, or the same query in their own
// code) and read the table it names; SQLite also keeps a view named after
// the projection over the live table's rows.
//
// # Errors
//
// Errors are typed and carry coordinates: *TableError (operation, table),
// *VersionError (operation, projection, version), *StatusError (a status
// that does not allow the operation, and why), *ValueError (table, column,
// value), *ConfigError (every invalid setting, each with its fix). Each
// wraps a sentinel (ErrUnknownTable, ErrUnknownVersion, ErrStatus,
// ErrNoLive, ErrNoPrevious, ErrFingerprint, ErrValue, ErrSchema,
// ErrConfig, ErrConflict, ErrClosed) for errors.Is. Infrastructure errors
// from Cassandra are retried with backoff and, when they outlast the
// retries, returned wrapped (never swallowed).
//
// # Time
//
// Writes are stamped with their version, never with the clock. The
// catalog's created and updated times come from the store's clock
// (WithClock), read only by catalog operations.
//
// # Goroutines
//
// A Sink starts no goroutine. The SQLite store starts none beyond
// database/sql's. The Cassandra store's Apply runs up to MaxInFlight
// statements on goroutines it waits for before returning. Close stops
// the driver's own goroutines (connection readers, reconnection, event
// handling): gocql signals them and closes their connections but does not
// wait, so they exit shortly after Close returns.
package projections
