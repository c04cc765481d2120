// Package schemas owns reckon's Avro: parsed schemas, the Confluent wire
// format, writer→reader resolution, compatibility checks, and the decoder
// the drivers use.
//
// # Schemas
//
// Parse reads an Avro schema (JSON) into a *Schema: goavro's codec for the
// binary encoding plus reckon's model of names, aliases, defaults and
// logical types. Values are in goavro's native form: records
// map[string]any, arrays []any, maps map[string]any, unions nil or
// map[string]any{branch: value} (the branch named as goavro names it:
// "string", "long.timestamp-millis", "bytes.decimal", a full type name),
// enums string, bytes and fixed []byte, timestamp-millis/micros and date
// time.Time (UTC), decimal *big.Rat, time-millis/micros time.Duration.
//
// # Wire format
//
// AppendFrame and ParseFrame handle the Confluent framing: magic byte 0,
// the schema id as 4 big-endian bytes, the Avro body.
//
// # Resolution
//
// NewResolver compiles a writer/reader pair once, following the Avro
// specification's Schema Resolution: fields matched by name or reader
// alias, writer fields the reader lacks skipped, reader fields the writer
// lacks filled from their defaults, the promotions int→long/float/double,
// long→float/double, float→double, string↔bytes, enum symbols the reader
// lacks read as its default, unions on either or both sides (a writer type
// goes to the first reader branch it matches), named types matched by
// unqualified name or reader alias, and logical types converted through
// their underlying types. Decode decodes with goavro's codec for the writer
// and converts the result in place; it does not walk the schemas per datum.
//
// Decoding is bounded: before goavro sees a datum whose writer schema has
// arrays, maps or recursion, a walk checks that no block claims more items
// than the bytes left can hold (MaxZeroWidthItems for zero-width items) and
// that nesting stays under a fixed depth, so a datum claiming a 2^31-item
// block fails with ErrBadBody without allocating. goavro's package-level
// limits are left alone.
//
// # Errors
//
// Bad input is a typed error, never a panic. Parse errors wrap
// ErrBadSchema. A record that cannot be decoded is a *DecodeError with
// topic, partition, offset and schema id, wrapping ErrBadHeader,
// ErrUnknownSchema, ErrBadBody or ErrUnresolvable. A pair that cannot
// resolve at all is a *ResolveError listing every Incompatibility. A
// SchemaSource failure that is not ErrUnknownSchema is infrastructure: the
// Decoder returns it without making it a *DecodeError.
//
// # Compatibility
//
// CanRead lists every reason a reader cannot read a writer's data, with a
// path into the reader schema; Check applies a registry Level (BACKWARD,
// FORWARD, FULL, their _TRANSITIVE forms, NONE) to a candidate and a
// history. Logical types do not take part, as in the reference
// implementations.
//
// # Registry client
//
// Client talks to a Confluent-compatible schema registry through
// github.com/riferrei/srclient (basic auth, TLS) and is the Decoder's
// SchemaSource: writer schemas are cached by id, so after warm-up a record
// costs no HTTP call, and concurrent misses for one id share one request.
// It registers schemas (Register), looks up subjects and versions, and
// lists a subject's History. Every call is bounded by its context.
// Infrastructure failures (refused connections, timeouts, 5xx) are retried
// with exponential backoff (WithBackoff) until the context ends and wrap
// ErrUnavailable: never a bad record. An id the registry answers 40403 for
// is asked again a few times (WithUnknownIDRetries), then wraps
// ErrUnknownSchema, and is remembered as unknown for a while.
//
// # Start-up gate
//
// Gate checks a graph's reader schema against the writer schemas of a
// subject's history (and any found elsewhere, such as an archive) before a
// run or replay starts, and returns a *GateError listing every
// incompatibility of every writer.
//
// # Embedded registry
//
// Registry serves the Confluent Schema Registry REST API that clients use
// (subjects, versions, ids, lookups, compatibility tests, levels, soft and
// permanent deletes) with Confluent's error codes, for Avro schemas. Ids
// are global and stable: a schema keeps its first id under every subject
// and across restarts. Registration enforces the subject's level with
// Check. Every change is an Event appended to a Store before it is
// acknowledged; OpenRegistry keeps them in a FileStore, an fsynced file of
// JSON lines whose torn last line (a crash mid-append) is dropped on open.
// Run serves on a listener until its context ends.
//
// Registry and client failures are *RegistryError values carrying the
// operation, subject, version or id, and the registry's answer, wrapping
// ErrUnavailable, ErrUnknownSchema, ErrNotFound, ErrIncompatible,
// ErrInvalidSchema, ErrBadRequest or ErrUnauthorized.
//
// # Concurrency
//
// Schema, Resolver and Decoder are immutable after construction (the
// Decoder's cache is concurrency-safe) and start no goroutines. Client and
// Registry are safe for concurrent use; a Client starts no goroutines, and
// Registry.Run has ended every goroutine it started when it returns.
package schemas
