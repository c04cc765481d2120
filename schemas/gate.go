package schemas

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// A HistorySource lists every writer schema of a subject, oldest first.
// Client is one.
type HistorySource interface {
	History(ctx context.Context, subject string) ([]SubjectVersion, error)
}

// WriterSchema is a schema that data was written with, and where the gate
// found it.
type WriterSchema struct {
	// Origin says where the schema comes from, for the report: a registry
	// subject and version, or an archive file.
	Origin string
	// ID is the schema's registry id, 0 if it has none.
	ID int
	// Version is the subject version of a registry schema, 0 for others;
	// the gate's Incompatibility values carry it.
	Version int
	Schema  *Schema
}

// GateProblem is one writer schema the reader cannot handle at the level,
// with every reason.
type GateProblem struct {
	Writer            WriterSchema
	Incompatibilities []Incompatibility
}

// GateReport is what Gate checked and found.
type GateReport struct {
	Subject  string
	Level    Level
	Checked  []WriterSchema
	Problems []GateProblem
}

// GateError is the error Gate returns when the reader is incompatible with
// at least one writer schema; it wraps ErrIncompatible and reads as the
// full report, one incompatibility per line.
type GateError struct {
	Report *GateReport
}

func (e *GateError) Error() string {
	r := e.Report
	var b strings.Builder
	fmt.Fprintf(&b, "schemas: reader schema is incompatible (%s) with %d of %d writer schemas of subject %q:",
		r.Level, len(r.Problems), len(r.Checked), r.Subject)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "\n  %s", p.Writer.Origin)
		if p.Writer.ID != 0 {
			fmt.Fprintf(&b, " (id %d)", p.Writer.ID)
		}
		b.WriteString(":")
		for _, in := range p.Incompatibilities {
			fmt.Fprintf(&b, "\n    %s: %s: %s: %s", in.Direction, in.Path, in.Kind, in.Reason)
		}
	}
	return b.String()
}

func (e *GateError) Unwrap() error { return ErrIncompatible }

// Gate is the start-up compatibility gate: it checks the graph's reader
// schema against the writer schemas of subject in src, and against extra
// writer schemas found elsewhere (an archive's files), at level, with Check
// and the reader as the candidate. Transitive levels check every version of
// the subject; the others only its latest version; NONE checks nothing.
// Extra writers are always checked (except at NONE): their data exists.
//
// The report lists every writer checked. When any is incompatible, the
// error is a *GateError that lists every incompatibility. A subject the
// registry does not have has no history and passes; a registry that cannot
// be reached is a *RegistryError wrapping ErrUnavailable, and there is no
// report.
func Gate(ctx context.Context, src HistorySource, subject string, reader *Schema, level Level, extra ...WriterSchema) (*GateReport, error) {
	history, err := src.History(ctx, subject)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	report := &GateReport{Subject: subject, Level: level}
	if level == None {
		return report, nil
	}
	if !transitive(level) && len(history) > 1 {
		history = history[len(history)-1:]
	}
	for _, sv := range history {
		report.Checked = append(report.Checked, WriterSchema{
			Origin:  fmt.Sprintf("subject %q version %d", sv.Subject, sv.Version),
			ID:      sv.ID,
			Version: sv.Version,
			Schema:  sv.Schema,
		})
	}
	report.Checked = append(report.Checked, extra...)
	for _, w := range report.Checked {
		problems := Check(level, reader, []*Schema{w.Schema})
		for i := range problems {
			problems[i].Version = w.Version
		}
		if len(problems) > 0 {
			report.Problems = append(report.Problems, GateProblem{Writer: w, Incompatibilities: problems})
		}
	}
	if len(report.Problems) > 0 {
		return report, &GateError{Report: report}
	}
	return report, nil
}

// transitive reports whether level checks against every earlier schema.
func transitive(level Level) bool {
	switch level {
	case BackwardTransitive, ForwardTransitive, FullTransitive:
		return true
	}
	return false
}
