package operators

import (
	"context"
	"encoding/hex"
	"fmt"
)

// OutputKind says what a sink must do with an Output.
type OutputKind uint8

// Output kinds.
const (
	// Upsert writes Row (projections) or Value (topics) under Key.
	Upsert OutputKind = iota + 1
	// Delete removes Key; it carries a Version like an upsert so that a
	// delete never wins over a newer write.
	Delete
	// DeadLetter reports an input record that the graph rejected.
	DeadLetter
	// Late reports an input record that arrived after its partition's
	// allowed lateness; it did not change any state.
	Late
)

func (k OutputKind) String() string {
	switch k {
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	case DeadLetter:
		return "dead-letter"
	case Late:
		return "late"
	}
	return fmt.Sprintf("OutputKind(%d)", uint8(k))
}

// TargetKind names the kind of destination of an Output.
type TargetKind uint8

// Target kinds.
const (
	// TargetTable is a projection table declared with Graph.Project.
	TargetTable TargetKind = iota + 1
	// TargetTopic is a topic declared with Graph.Publish.
	TargetTopic
	// TargetDeadLetters is the graph's dead-letter output.
	TargetDeadLetters
	// TargetLate is the graph's late side output.
	TargetLate
)

// Output is one change the graph asks a sink to make durable.
//
// Outputs with the same Target and Key form a changelog: a sink keeps the
// one with the highest Version. Versions are derived from the input, never
// from the wall clock, so re-processing the same input after a crash, a
// retry or a replay produces the same (ID, Version) pairs and converges.
type Output struct {
	Target TargetKind
	Name   string // table or topic name
	Kind   OutputKind
	// Key identifies the row or message key: for tables, the primary-key
	// values encoded with EncodeKey; for topics, the message key.
	Key string
	// KeyValues holds the primary-key column values in table order (tables only).
	KeyValues []any
	// Columns names the columns of a table row (tables only): keys first,
	// in TableSpec.AllColumns order. It is shared: do not modify it.
	Columns []string
	// Values holds the value of each column of Columns (table upserts
	// only); Values[:len(KeyValues)] are the key values.
	Values []any
	// Value is the record published to a topic, in goavro's native form;
	// nil when Mismatch is set. Sinks encode NativeValue.
	Value map[string]any
	// Mismatch is set instead of Value on the outputs of a reconciler
	// published as they come: the typed reconciliation state.
	Mismatch *Mismatch
	// Version is the write version: monotonic per (Name, Key), usable as a
	// Cassandra write timestamp.
	Version int64
	// ID is a deterministic id of this output, the same on every run
	// that produces it.
	ID OutputID
	// Provenance lists the input records behind the output.
	Provenance []Provenance
	// Record and Err are set for DeadLetter and Late outputs.
	Record *Record
	Err    error
}

// Row returns a table row by column name (nil for a delete).
func (o *Output) Row() map[string]any {
	if o.Values == nil {
		return nil
	}
	row := make(map[string]any, len(o.Columns))
	for i, name := range o.Columns {
		row[name] = o.Values[i]
	}
	return row
}

// NativeValue returns the record published to a topic in goavro's native
// form: Value, or the native form of Mismatch.
func (o *Output) NativeValue() map[string]any {
	if o.Mismatch != nil {
		return o.Mismatch.Native()
	}
	return o.Value
}

// OutputID identifies an output: a hash of the graph, target, key, kind and
// version.
type OutputID [16]byte

// String returns the id in hex.
func (id OutputID) String() string { return hex.EncodeToString(id[:]) }

// Sink makes outputs durable. Write may buffer; a Sink that buffers also
// implements Flusher, and drivers flush it before committing offsets.
// Close flushes what is buffered and releases resources; it returns within
// the deadline of ctx passed to the last Write or Flush.
type Sink interface {
	Write(ctx context.Context, outs []Output) error
	Close() error
}

// Flusher is implemented by sinks that buffer writes.
type Flusher interface {
	Flush(ctx context.Context) error
}
