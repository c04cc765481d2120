package schemas

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinels that a *RegistryError wraps, one per way a caller reacts. Route
// with errors.Is; ErrUnknownSchema (an id the registry does not have) is the
// only one that makes a record bad.
var (
	// ErrUnavailable: the registry could not be reached or failed
	// (connection refused, timeout, 5xx). Retry later; never a bad record.
	ErrUnavailable = errors.New("schemas: registry unavailable")
	// ErrNotFound: the subject or version does not exist (40401, 40402,
	// and the soft-deleted and unconfigured variants 40404–40408).
	ErrNotFound = errors.New("schemas: subject or version not found")
	// ErrIncompatible: a schema breaks the compatibility level (409), or
	// the start-up gate found writer schemas the reader cannot handle.
	ErrIncompatible = errors.New("schemas: incompatible schema")
	// ErrInvalidSchema: the registry refused the schema itself (42201).
	ErrInvalidSchema = errors.New("schemas: invalid schema")
	// ErrBadRequest: the registry refused the request (an invalid version
	// or level, an unsupported operation, a malformed body).
	ErrBadRequest = errors.New("schemas: bad registry request")
	// ErrUnauthorized: the registry refused the credentials (401, 403).
	ErrUnauthorized = errors.New("schemas: registry refused credentials")
)

// Confluent Schema Registry error codes (the "error_code" of an error
// body). A five-digit code's first three digits are its HTTP status.
const (
	codeSubjectNotFound       = 40401
	codeVersionNotFound       = 40402
	codeSchemaNotFound        = 40403
	codeSubjectSoftDeleted    = 40404
	codeSubjectNotSoftDeleted = 40405
	codeVersionSoftDeleted    = 40406
	codeVersionNotSoftDeleted = 40407
	codeSubjectLevelNotSet    = 40408
	codeIncompatible          = 409
	codeInvalidSchema         = 42201
	codeInvalidVersion        = 42202
	codeInvalidLevel          = 42203
	codeBackend               = 50001
	codeUnauthorized          = 401
	codeNotFound              = 404
	codeBadRequest            = 400
)

// RegistryError reports a failed registry operation: what was asked (Op and
// the Subject, Version or ID it names), what the registry answered (HTTP
// Status and Confluent error Code, 0 when no answer came) and Message, and
// wraps one of the sentinels above (or ErrUnknownSchema) as Err. Both the
// Client and the embedded Registry report failures this way.
type RegistryError struct {
	Op      string
	Subject string
	Version int
	ID      int
	Status  int
	Code    int
	Message string
	Err     error
}

func (e *RegistryError) Error() string {
	var b strings.Builder
	b.WriteString("schemas: registry ")
	b.WriteString(e.Op)
	if e.Subject != "" {
		fmt.Fprintf(&b, " subject %q", e.Subject)
	}
	if e.Version != 0 {
		fmt.Fprintf(&b, " version %d", e.Version)
	}
	if e.ID != 0 {
		fmt.Fprintf(&b, " id %d", e.ID)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, ": error %d", e.Code)
	} else if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(" (")
		b.WriteString(e.Err.Error())
		b.WriteString(")")
	}
	return b.String()
}

func (e *RegistryError) Unwrap() error { return e.Err }

// sentinelFor classifies a registry answer: its HTTP status and, when the
// body had one, its Confluent error code.
func sentinelFor(status, code int) error {
	switch code {
	case codeSchemaNotFound:
		return ErrUnknownSchema
	case codeSubjectNotFound, codeVersionNotFound, codeSubjectSoftDeleted,
		codeVersionSoftDeleted, codeSubjectLevelNotSet:
		return ErrNotFound
	case codeIncompatible:
		return ErrIncompatible
	case codeInvalidSchema:
		return ErrInvalidSchema
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrUnauthorized
	case status >= 500, status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return ErrUnavailable
	case status == http.StatusNotFound:
		return ErrNotFound
	}
	return ErrBadRequest
}

// httpStatus is the HTTP status a Confluent error code travels with.
func httpStatus(code int) int {
	if code >= 10000 {
		return code / 100
	}
	return code
}
