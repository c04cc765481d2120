package projections

import (
	"context"
	"time"

	"github.com/reckon-dev/reckon/operators"
)

// Store is a projection store: versioned projection tables plus the
// catalog of their versions and the live pointer of each projection.
//
// Every write carries a write timestamp (the Output's Version). A store
// keeps, per primary key, the write with the highest timestamp; a delete at
// timestamp V hides every write at a timestamp ≤ V, and a later upsert
// (timestamp > V) recreates the row. Retried, re-ordered and replayed
// writes therefore converge to the same rows.
//
// Apply returns when its writes are stored with the store's durability
// (SQLite: committed; Cassandra: acknowledged at the configured
// consistency). Buffering and coalescing live in Sink, which flushes
// through Apply.
//
// Stores are safe for concurrent use.
type Store interface {
	// Create creates the table <spec.Name>_v<g.Version> when it is absent,
	// adds value columns the spec gained (the only migration: a column is
	// never dropped nor retyped), and registers the version in the catalog
	// with status building when it is not registered yet. Registering the
	// same version with another fingerprint fails with ErrFingerprint.
	Create(ctx context.Context, spec *operators.TableSpec, g Graph) (VersionInfo, error)
	// Apply stores writes into table (a name returned in VersionInfo.Table).
	// When it fails, some writes may have been stored (SQLite: none;
	// Cassandra: each partition's batch is all or nothing, but partitions
	// are written independently); applying the same writes again converges.
	Apply(ctx context.Context, table string, writes []Write) error
	// Get reads the row with the given primary-key values (in key-column
	// order); ok is false when there is no row (or it was deleted).
	Get(ctx context.Context, table string, key []any) (row Row, ok bool, err error)
	// Scan calls fn for every row of table, in no particular order; it
	// stops at the first error fn returns and returns it.
	Scan(ctx context.Context, table string, fn func(Row) error) error

	// MarkReady moves a building version to ready, recording its source
	// range and counting its rows. Marking a ready version again updates
	// both; any other status is refused with a *StatusError.
	MarkReady(ctx context.Context, projection string, version int, src SourceRange) (VersionInfo, error)
	// Versions lists the versions of projection (every projection when
	// projection is ""), ordered by projection then version.
	Versions(ctx context.Context, projection string) ([]VersionInfo, error)
	// Promote atomically moves the live pointer of projection to version,
	// which must be ready; the previously live version becomes retired.
	Promote(ctx context.Context, projection string, version int) error
	// Rollback atomically moves the live pointer back to the version that
	// was live before the current one; the current one becomes retired.
	Rollback(ctx context.Context, projection string) (version int, err error)
	// Resolve returns the table and version the live pointer of
	// projection designates. Readers call it (or read the pointer the
	// same way) before querying.
	Resolve(ctx context.Context, projection string) (table string, version int, err error)

	// Close releases the store's connections and ends its goroutines.
	Close() error
}

// Graph identifies the graph version that builds a projection version.
type Graph struct {
	Name string
	// Version is the graph version; projection tables are named
	// <projection>_v<Version>.
	Version int
	// Fingerprint identifies the graph's logic; a version is built by one
	// fingerprint only.
	Fingerprint string
}

// Write is one versioned change of a row.
type Write struct {
	// Key holds the primary-key values in key-column order.
	Key []any
	// Row holds the value columns (key columns may be present too);
	// columns absent from Row are written as null. Ignored for deletes.
	Row map[string]any
	// Columns and Values give the row positionally instead of Row (which
	// is then ignored): Values[i] is the value of the column named
	// Columns[i]; table columns not in Columns are written as null. Sinks
	// pass operators outputs this way, without building a map; writes of
	// one table should share one Columns slice, and must not modify it.
	Columns []string
	Values  []any
	// Delete removes the row instead of upserting it.
	Delete bool
	// Version is the write timestamp: monotonic per key.
	Version int64
}

// Row is a stored row: every column by name, null columns as nil.
type Row map[string]any

// Status is the status of a projection version.
type Status string

// Statuses of a projection version. A version is created building, marked
// ready when its backfill is complete, becomes live when promoted and
// retired when another version replaces it.
const (
	StatusBuilding Status = "building"
	StatusReady    Status = "ready"
	StatusLive     Status = "live"
	StatusRetired  Status = "retired"
)

// VersionInfo is the catalog entry of one projection version.
type VersionInfo struct {
	Projection string
	Version    int
	// Table is the name of the version's table: <Projection>_v<Version>.
	Table       string
	Status      Status
	GraphName   string
	Fingerprint string
	Source      SourceRange
	// Rows is the row count recorded by MarkReady (0 before).
	Rows    int64
	Created time.Time
	Updated time.Time
	// Columns describes the table's columns.
	Columns []Column
}

// Column is one column of a stored table.
type Column struct {
	Name string               `json:"name"`
	Type operators.ColumnType `json:"type"`
	// Kind is "partition", "clustering" or "value".
	Kind string `json:"kind"`
}

// SourceRange says which input a version was built from.
type SourceRange struct {
	Offsets []PartitionRange `json:"offsets,omitempty"`
	// From and To bound the event times of the input (zero when unknown).
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// PartitionRange is the range of offsets read from one input partition.
type PartitionRange struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	First     int64  `json:"first"`
	Last      int64  `json:"last"`
}
