package projections

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The typed errors below wrap one of them; test for a
// class with errors.Is and read the coordinates with errors.As.
var (
	// ErrUnknownTable: the table is not in the catalog.
	ErrUnknownTable = errors.New("projections: unknown table")
	// ErrUnknownVersion: the projection has no such version.
	ErrUnknownVersion = errors.New("projections: unknown version")
	// ErrStatus: the version's status does not allow the operation.
	ErrStatus = errors.New("projections: wrong status")
	// ErrNoLive: the projection has no live version.
	ErrNoLive = errors.New("projections: no live version")
	// ErrNoPrevious: rollback found no version that was live before.
	ErrNoPrevious = errors.New("projections: no previous live version")
	// ErrFingerprint: a version is already built by another graph fingerprint.
	ErrFingerprint = errors.New("projections: fingerprint differs")
	// ErrValue: a value does not fit its column.
	ErrValue = errors.New("projections: bad value")
	// ErrSchema: a table exists with columns that conflict with the spec.
	ErrSchema = errors.New("projections: schema conflict")
	// ErrConfig: a store configuration is invalid.
	ErrConfig = errors.New("projections: invalid configuration")
	// ErrConflict: the live pointer kept changing under a concurrent
	// promote or rollback.
	ErrConflict = errors.New("projections: concurrent pointer change")
	// ErrClosed: the store or sink is closed.
	ErrClosed = errors.New("projections: closed")
)

// TableError reports an operation on a table that failed, and which.
type TableError struct {
	Op    string // "create", "apply", "get", "scan"
	Table string
	Err   error
}

func (e *TableError) Error() string {
	return fmt.Sprintf("projections: %s %s: %v", e.Op, e.Table, e.Err)
}

func (e *TableError) Unwrap() error { return e.Err }

// VersionError reports a catalog operation on a projection version that
// failed: unknown version, no live version, no previous version, a
// fingerprint mismatch or a storage failure.
type VersionError struct {
	Op         string // "create", "ready", "promote", "rollback", "resolve"
	Projection string
	Version    int // 0 when the operation names no version
	Err        error
}

func (e *VersionError) Error() string {
	if e.Version == 0 {
		return fmt.Sprintf("projections: %s %s: %v", e.Op, e.Projection, e.Err)
	}
	return fmt.Sprintf("projections: %s %s v%d: %v", e.Op, e.Projection, e.Version, e.Err)
}

func (e *VersionError) Unwrap() error { return e.Err }

// StatusError reports an operation refused because of a version's status.
type StatusError struct {
	Op         string
	Projection string
	Version    int
	Status     Status // the status the version has
	Want       Status // the status the operation needs
}

func (e *StatusError) Error() string {
	why := ""
	switch {
	case e.Op == "promote" && e.Status == StatusBuilding:
		why = "; its backfill has not completed: mark it ready first"
	case e.Op == "promote" && e.Status == StatusLive:
		why = "; it is already live"
	case e.Op == "promote" && e.Status == StatusRetired:
		why = "; it was live before: use rollback to return to it"
	}
	return fmt.Sprintf("projections: cannot %s %s v%d: status is %s, want %s%s",
		e.Op, e.Projection, e.Version, e.Status, e.Want, why)
}

func (e *StatusError) Unwrap() error { return ErrStatus }

// ValueError reports a value that does not fit its column.
type ValueError struct {
	Table  string
	Column string
	Type   string // the column type
	Value  any
	Reason string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("projections: table %s column %s (%s): %s (got %T)", e.Table, e.Column, e.Type, e.Reason, e.Value)
}

func (e *ValueError) Unwrap() error { return ErrValue }

// ConfigError lists every problem of a store configuration: each names
// the setting and how to fix it.
type ConfigError struct {
	Problems []ConfigProblem
}

// ConfigProblem is one invalid setting.
type ConfigProblem struct {
	Key     string // the setting, as spelled in the store URL
	Problem string
	Fix     string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("projections: invalid store configuration:")
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s (%s)", p.Key, p.Problem, p.Fix)
	}
	return b.String()
}

func (e *ConfigError) Unwrap() error { return ErrConfig }
