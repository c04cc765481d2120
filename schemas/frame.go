package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Sentinels for records that cannot be decoded; a *DecodeError wraps one of
// them. Route on them with errors.Is.
var (
	// ErrBadHeader: the message is not in the Confluent wire format (too
	// short, or its magic byte is not 0).
	ErrBadHeader = errors.New("schemas: bad wire-format header")
	// ErrUnknownSchema: the registry does not know the writer schema id.
	ErrUnknownSchema = errors.New("schemas: unknown schema id")
	// ErrBadBody: the Avro body does not decode with the writer schema
	// (truncated, trailing bytes, out-of-range index, oversized block).
	ErrBadBody = errors.New("schemas: bad avro body")
	// ErrUnresolvable: the writer schema (or the branch or symbol this
	// datum uses) cannot be read with the reader schema.
	ErrUnresolvable = errors.New("schemas: writer schema does not resolve to reader schema")
)

// DecodeError reports a record that could not be decoded, and where it is.
// Err wraps one of ErrBadHeader, ErrUnknownSchema, ErrBadBody or
// ErrUnresolvable.
type DecodeError struct {
	Topic     string
	Partition int32
	Offset    int64
	// SchemaID is the writer schema id from the header, or 0 when the
	// header could not be read.
	SchemaID int
	Err      error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("schemas: decode %s/%d@%d (schema id %d): %v", e.Topic, e.Partition, e.Offset, e.SchemaID, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// frameHeaderLen is the Confluent header: magic byte 0, then the schema id
// as a 4-byte big-endian integer.
const frameHeaderLen = 5

// AppendFrame appends a Confluent wire-format message to dst: magic byte 0,
// schemaID as 4 big-endian bytes, then body (an Avro binary datum).
func AppendFrame(dst []byte, schemaID int, body []byte) []byte {
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(schemaID))
	return append(dst, body...)
}

// ParseFrame splits a Confluent wire-format message into its schema id and
// Avro body; body aliases b. It fails with an error wrapping ErrBadHeader
// when b is shorter than the 5-byte header, its magic byte is not 0, or the
// id is negative.
func ParseFrame(b []byte) (schemaID int, body []byte, err error) {
	if len(b) < frameHeaderLen {
		return 0, nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrBadHeader, len(b), frameHeaderLen)
	}
	if b[0] != 0 {
		return 0, nil, fmt.Errorf("%w: magic byte %#x, want 0", ErrBadHeader, b[0])
	}
	id := binary.BigEndian.Uint32(b[1:frameHeaderLen])
	if id > math.MaxInt32 {
		return 0, nil, fmt.Errorf("%w: negative schema id %d", ErrBadHeader, int32(id))
	}
	return int(id), b[frameHeaderLen:], nil
}
