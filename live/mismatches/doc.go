// Package mismatches reads a reconciliation-mismatch topic: the keyed,
// compacted changelog of reconciliation state that reckon's reconcilers
// publish (see DESIGN.md, contract 6). It is how teams subscribe to
// reconciliation results; `reckon mismatches tail` prints what Tail reads.
//
// # What Tail reads
//
// Tail consumes every partition of the topic from a position (the
// beginning, the end, or the first record at or after a time) without a
// consumer group: it commits nothing and changes nothing on the broker.
// Values are Confluent-framed Avro; each is decoded through a
// schemas.Decoder into the reader schema the caller gives (the payments
// graph's is payments.Mismatch). Unless Config.Follow is set, Tail takes
// the end offsets of every partition when it starts and returns once it has
// read up to them; with Follow it reads until its context is cancelled.
// Records are read committed (isolation level read_committed): those of
// an aborted transaction are never returned, and the end offsets are the
// last stable offsets, so an open transaction neither shows nor holds
// Tail up (TestTailReadsCommitted).
//
// # Errors
//
// A record whose value cannot be decoded is not skipped silently: it is
// handed to the callback with Mismatch.Err set to the *schemas.DecodeError
// (which carries its coordinates), and Tail goes on. A topic that does not
// exist is ErrUnknownTopic. Broker and registry failures are returned.
//
// # Goroutines
//
// Tail runs on the caller's goroutine and closes the Kafka client it
// opens before it returns; the client's own goroutines end with it.
package mismatches
