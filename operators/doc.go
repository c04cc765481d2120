// Package operators is reckon's operator graph: keyed streams, event time
// and watermarks, the matcher, the reconciler, windows, projections and
// published topics, and the per-task runtime that runs them. It imports
// only the standard library; the Kafka (live) and Parquet (replay) drivers
// feed it the same Records and take its Outputs through the same Sink
// interface, so no operator knows which driver runs it.
//
// # Graphs
//
// A Graph is declared as data — inputs, operators, tables and topics —
// and validated before it runs: Validate reports every problem at once
// (unknown or foreign streams, duplicate names, inputs without key or time,
// matches between inputs not declared co-partitioned, operators applied to
// the wrong kind of stream, field paths missing from the reader schemas,
// type clashes between reconciled fields), each wrapping ErrInvalidGraph.
//
// # Tasks and time
//
// The unit of parallelism is a Task: one partition number across every
// input of the graph. A Task is single-threaded and deterministic; it
// starts no goroutine and never reads the wall clock. Event time comes
// from a field of the record (TimeField) or the Kafka timestamp
// (KafkaTime). An event is late when it is older than the newest event time
// already seen on its own partition minus the input's allowed lateness, so
// lateness never depends on how partitions interleave; late events change
// no state and go to the Late outputs. The task watermark is the oldest of
// its input partitions' newest event times, and timers — match timeouts,
// window ends, state expiry — fire on it. An idle input (MarkIdle, a live
// policy) may let timeouts fire without it, but state is purged only on the
// full watermark, so no event that is not late can miss state it needs.
//
// # Matching and reconciliation
//
// Match pairs left and right events with the same key whose event times
// are at most a window apart. Several candidates are paired greedily in
// tie-break order — event time, then topic, partition and offset — each
// left event taking the earliest free right one. Events closer than the
// window form an episode; a key's outcome is that of its latest decided
// episode (one with a pair, or with an event whose window has passed), so a
// business key reused long after its episode starts a new outcome that
// replaces the old one under the same key. Unmatched events are reported
// when the watermark passes their window, and corrected by a later upsert
// under the same key when a partner arrives that is not late.
//
// Each outcome publishes every view of the key: an upsert of the views it
// has (matched pair, unmatched left, unmatched right) and a delete of the
// others, even of a view the key never had. Whether a view was present
// before depends on the processing order and on restarts: a run that
// crashed after writing a view and resumed from an earlier snapshot may
// never see that view again, and only the unconditional delete removes
// the row it left behind (TestParity fails without it).
//
// Reconcile compares every matched pair with rules (Equal, EqualFields,
// Tolerance, Mapped, Present, Custom) and publishes, for every key with a
// decided outcome, a mismatch record (schema: MismatchSchema):
// status OPEN with typed reasons — MISSING_LEFT, MISSING_RIGHT,
// FIELD_MISMATCH with the field and both values, TOLERANCE_EXCEEDED,
// PRESENCE, CUSTOM, LATE — or RESOLVED, with both sides' provenance, the
// graph name and version. The mismatch stream is a compacted changelog of
// reconciliation state keyed by the match key. A reconciler builds each
// state as a typed Mismatch; published outputs carry it in Output.Mismatch
// and sinks encode its native form (Output.NativeValue), so the Avro-shaped
// map is built once, by the sink, and only for what it writes. Functions
// and paths downstream of a reconciler read it as the record.
//
// # Outputs, versions and parity
//
// Every Output carries a deterministic ID and a write Version, monotonic
// per (Name, Key), derived from the input and never from a clock: for match
// outcomes the newest event time of the episode (milliseconds) shifted left
// by 20 bits, plus twice its event count plus its unpaired timed-out events;
// for windows twice the event count plus one once fired; for event streams
// the input offset plus one.
// Every state a key can pass through has a version below that of its final
// state, so sinks that keep the highest version per key (projection stores
// with write timestamps, compacted topics) converge to the same final rows
// whatever the interleaving of partitions, the batch sizes, and however
// often the process was killed and restarted. TestParity checks this over
// random inputs; the files in testdata/semantics pin down each operator.
//
// # State and recovery
//
// Keyed state lives in the Task. Snapshot encodes it deterministically
// (equal states, equal bytes), with input offsets and watermarks; Restore
// resumes a new Task from it, and records below Offsets are skipped, so a
// driver re-delivers from the snapshot's offsets after a crash, a rebalance
// or a replay→live hand-off.
//
// # Bad input
//
// A record without its key or time field, with a value of the wrong type,
// or rejected by a user function becomes a DeadLetter output carrying a
// *RecordError (topic, partition, offset, operator, and an error wrapping
// ErrNoKey, ErrNoTime, ErrBadKey, ErrFunction, or a *FieldError); the task
// goes on. Nothing panics on user input and nothing is dropped silently.
package operators
