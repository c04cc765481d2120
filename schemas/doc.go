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
// # Concurrency
//
// Schema, Resolver and Decoder are immutable after construction (the
// Decoder's cache is concurrency-safe) and start no goroutines.
package schemas
