package operators

import (
	"errors"
	"fmt"
)

// Sentinels for records the graph rejects; a RecordError wraps one of them
// (or a FieldError, or a user function's error).
var (
	// ErrNoKey: the input's key field is missing or null.
	ErrNoKey = errors.New("operators: record has no key")
	// ErrNoTime: the input's time field is missing, null or not a timestamp.
	ErrNoTime = errors.New("operators: record has no event time")
	// ErrBadKey: the key field is not a string, int or long.
	ErrBadKey = errors.New("operators: key has the wrong type")
	// ErrFunction: a Map or FlatMap function returned an error.
	ErrFunction = errors.New("operators: function failed")
	// ErrLate: the record arrived after its partition's allowed lateness.
	ErrLate = errors.New("operators: late record")
)

// Errors a driver can cause; they are returned by Task methods, never
// routed to dead letters.
var (
	ErrUnknownInput   = errors.New("operators: record from a topic the graph does not read")
	ErrWrongPartition = errors.New("operators: record from another task's partition")
	ErrNotValidated   = errors.New("operators: graph not validated")
	ErrBadSnapshot    = errors.New("operators: bad snapshot")
	ErrPendingOutputs = errors.New("operators: outputs not taken before snapshot")
)

// RecordError reports an input record the graph rejected, and where it is.
// It reaches drivers in DeadLetter and Late outputs.
type RecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Operator is the name of the operator that rejected the record (the
	// topic for input problems).
	Operator string
	Err      error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s/%d@%d: %s: %v", e.Topic, e.Partition, e.Offset, e.Operator, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Class names the kind of problem for dead-letter headers and metrics:
// no-key, no-time, bad-key, function, late, field-type, missing-field or
// other.
func (e *RecordError) Class() string {
	switch {
	case errors.Is(e.Err, ErrNoKey):
		return "no-key"
	case errors.Is(e.Err, ErrNoTime):
		return "no-time"
	case errors.Is(e.Err, ErrBadKey):
		return "bad-key"
	case errors.Is(e.Err, ErrFunction):
		return "function"
	case errors.Is(e.Err, ErrLate):
		return "late"
	case errors.Is(e.Err, ErrFieldType):
		return "field-type"
	case errors.Is(e.Err, ErrMissingField):
		return "missing-field"
	}
	return "other"
}
