// Package live is reckon's Kafka driver: it runs an operators.Graph as a
// member of a consumer group, decodes its inputs through the schema
// registry, writes table outputs to a projections sink, publishes topic
// outputs and dead letters through an idempotent producer (or in Kafka
// transactions, see Exactly-once delivery), and keeps each task's state
// in a compacted changelog topic so that a crash or a rebalance resumes
// exactly where the last checkpoint left off.
//
//	d, err := live.New(g, cfg, live.WithMetrics(reg), live.WithLogger(log))
//	go http.ListenAndServe(addr, d.Handler()) // /healthz, /readyz, /metrics
//	err = d.Run(ctx)                          // blocks until ctx ends
//
// # Start-up
//
// Run first checks that every input topic exists and that co-partitioned
// inputs have equal partition counts (*CoPartitionError otherwise);
// creates the dead-letter topic, the changelog (compacted) and missing
// output topics when Topics.Create allows it (*TopicError otherwise);
// registers the schema of every output topic under <topic>-value; and runs
// the schema gate (schemas.Gate) of each input's reader schema against
// the writer schemas of its subject (a *schemas.GateError stops the
// start). Outages met meanwhile (broker or registry unreachable) are
// retried with backoff.
//
// Inputs are read with isolation level read_committed in both delivery
// modes: records that a transactional producer upstream aborted are not
// events.
//
// # Tasks and the group
//
// A task is one partition number across every input. The group uses
// reckon's own cooperative balancer ("reckon-tasks"): it assigns whole
// partition numbers — a member that owns payments/3 owns
// ledger-entries/3 — keeps each member's numbers where it can (sticky),
// evens out the load, and moves a number in two rounds (revoked from its
// owner first, assigned to the new one in the next), so no task ever runs
// on two members at once. Static membership (Kafka.InstanceID) lets a
// restarted member take its tasks back without a rebalance.
//
// When a task's partitions are assigned, its newest committed snapshot
// is read from the changelog (key <graph>/v<version>/<partition>, in the
// changelog partition of the task's number, header reckon.fingerprint;
// read with isolation level read_committed, up to the last stable
// offset) and restored, and consumption of its partitions starts at the
// snapshot's offsets, which are authoritative over the group's committed
// offsets.
// Without a snapshot a task starts at the beginning of its partitions.
// A snapshot taken by another graph fingerprint under the same graph
// version stops the run (*SnapshotError): new logic needs a new version.
//
// A snapshot is the task's whole state. One larger than the changelog
// record limit (DefaultChangelogRecordBytes, under Kafka's default
// max.message.bytes; WithChangelogRecordBytes) is written as chunk
// records keyed <key>/<slot>/<i> followed by a manifest under the task's
// key (headers reckon.snapshot.chunks and reckon.snapshot.slot, value the
// SHA-256 of the snapshot). Consecutive chunked snapshots of a task
// alternate between slots a and b, so a checkpoint that fails half-way
// never overwrites the chunks of the last committed manifest, even in a
// compacted topic; restore reads the chunks before the manifest and
// checks the digest. A topic that refuses a record for its size stops the
// run with an error naming max.message.bytes and the record limit.
//
// # Goroutines
//
// Run owns every goroutine it starts and has ended them all when it
// returns: the poll loop (Run's own goroutine), one runner per task, and
// one checkpointer (at-least-once delivery only: with exactly-once the
// poll loop checkpoints); franz-go's clients run their own, closed before
// Run returns. The poll loop only fetches and dispatches; each runner
// decodes, processes and routes the records of its task, so decoding is
// spread over tasks and runs while other tasks wait on sinks. A runner's
// queue is short: a slow sink slows fetching down.
//
// # Checkpoints
//
// With at-least-once delivery (the default), every CommitInterval, when
// partitions are revoked and at shutdown, a checkpoint runs in this
// order:
//
//  1. every runner snapshots its task after the records dispatched to it
//     so far (taking the outputs they caused first);
//  2. the sink is flushed (operators.Flusher) and the producer's
//     acknowledgements awaited: every output of those records is durable;
//  3. the snapshots are written to the changelog and acknowledged;
//  4. the offsets after the last record each task handled are committed.
//
// Offsets are therefore committed only after every output of the records
// before them is durable. A crash anywhere re-processes from the last
// snapshot: projection writes carry the output's Version as write
// timestamp and published records carry their deterministic id
// (HeaderID) and version (HeaderVersion), so re-processing converges to
// the same final state; consumers of a published topic may see a record
// again and deduplicate by id.
//
// # Exactly-once delivery
//
// With Config.Delivery exactly-once, one franz-go GroupTransactSession
// is both the group consumer (isolation level read_committed) and the
// producer, with the transactional id <group>-<instance id> (or
// <group>-<random> without Kafka.InstanceID). Before it polls, Run loads
// its producer id, which fences a previous member with the same id and
// aborts the transaction that member left open, and begins a
// transaction. Runners produce published records and dead letters into
// the open transaction. Every CommitInterval the poll loop itself
// checkpoints, between two polls and before it allows a rebalance (the
// session forbids polling while a transaction begins or ends):
//
//  1. every runner snapshots its task, after the records dispatched to it;
//  2. the sink is flushed: projection writes stay outside the
//     transaction, idempotent by write version, durable before it ends;
//  3. the snapshots of the tasks that moved (or published) are produced
//     into the transaction;
//  4. the session ends the transaction with a commit: it flushes, commits
//     the offsets in the transaction (TxnOffsetCommit; they are set to
//     the snapshots' offsets, which differ from the fetched ones only
//     after a fatal error left records unhandled) and commits;
//  5. the next transaction begins.
//
// Published records, dead letters, snapshots and offsets are therefore
// visible together or not at all; a read_committed consumer of a
// published topic sees every record once.
//
// A rebalance that revokes partitions, or losing them, makes the session
// abort the open transaction at its end (the session's guarantee; the
// revoke callback cannot end it, as the session holds its lock while the
// callback runs, and the revoked tasks are stopped without a
// checkpoint). The poll loop ends the transaction right after its next
// poll returns (within a CommitInterval). An aborted transaction also
// undoes the work of the tasks that stay, so they are rewound: stopped,
// restored from their last committed snapshot, and consumption moved
// back to its offsets (the session moves it to the committed offsets,
// which are the same). The new owner of a
// revoked task starts it in AdjustFetchOffsetsFn rather than on
// assignment, that is after the group's offsets were fetched as stable
// (KIP-447: no transaction of the previous owner still pending), so the
// snapshot it restores is final. A crashed member's open transaction is
// aborted when its successor with the same transactional id starts, or
// by the broker after the transaction timeout (twice CommitInterval, at
// least 40s); until then read_committed consumers wait at its first
// offset. The transaction timeout also bounds an outage met inside a
// transaction (a store or registry down while records are handled): past
// it the broker aborts the transaction, and the session either recovers
// (the checkpoint counts as aborted and the tasks rewind) or fails.
// Errors that end a transaction are not retried: Run stops with an
// ErrTransaction, and a restart resumes from the last committed
// checkpoint. A produce error aborts the transaction and stops Run with
// its *ProduceError. At shutdown the last transaction is committed (or
// aborted after a produce error) before the member leaves the group.
//
// The delivery mode can change between runs of a group: snapshots and
// offsets mean the same in both. Moving to exactly-once, what an
// at-least-once member published after its last snapshot may be
// published once more (with the same ids), as after any at-least-once
// crash.
//
// # Errors
//
// Bad input never stops the run and is never dropped: a value that does
// not decode (*schemas.DecodeError: bad header, unknown schema id, bad
// body, unresolvable), a record the graph rejects and a late record
// (*operators.RecordError) go to the dead-letter topic with the raw key,
// value and headers, plus Kafka Connect's __connect.errors.* headers
// (topic, partition, offset, exception class and message) and reckon's
// (HeaderSchemaID, HeaderReason); reckon_live_dead_letters_total{reason}
// counts them. With FailFast, Run stops with that typed error instead
// (see Config.FailFast).
//
// Infrastructure errors — registry, broker or store unavailable — are
// retried with backoff and make Ready false while they last (a franz-go
// hook follows the broker exchanges, the registry client's backoff
// reports registry outages); they never dead-letter a record. Errors that
// waiting cannot fix stop Run: bad credentials, a missing topic, a
// produce the broker refused for good (*ProduceError: its output is not
// durable, so nothing more is committed), a snapshot that does not
// restore. A fatal error stops processing at once, but the final
// checkpoint of what was processed and leaving the group still run,
// within the grace period.
//
// # Shutdown
//
// When ctx ends, Run stops polling, lets each runner finish what it was
// given, checkpoints every task, and leaves the group, within
// ShutdownGrace (ErrGraceExpired otherwise). It then closes the sink (and
// the store it opened, if any).
//
// # Operability
//
// Handler serves /healthz (the poll loop is alive), /readyz (start-up
// done, tasks assigned and restored, no dependency failing) and /metrics:
// the reckon_live_* metrics (records in and out, consumer lag per
// partition, watermark delay, state keys and bytes per task, published
// reconciliation states by status, dead letters by reason, flush and
// commit latency, retries by dependency, checkpoints, restore time) and
// franz-go's client metrics (kprom, reckon_kafka_consumer_* and
// reckon_kafka_producer_*). Logs go to the slog.Logger given; payloads
// and secrets are never logged.
package live
