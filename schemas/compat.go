package schemas

import (
	"fmt"
	"strings"
)

// IncompatibilityKind classifies an incompatibility, with the names the
// Avro reference implementations (Java, Python) use.
type IncompatibilityKind string

// The kinds of incompatibility.
const (
	NameMismatch                   IncompatibilityKind = "name_mismatch"
	FixedSizeMismatch              IncompatibilityKind = "fixed_size_mismatch"
	MissingEnumSymbols             IncompatibilityKind = "missing_enum_symbols"
	ReaderFieldMissingDefaultValue IncompatibilityKind = "reader_field_missing_default_value"
	TypeMismatch                   IncompatibilityKind = "type_mismatch"
	MissingUnionBranch             IncompatibilityKind = "missing_union_branch"
)

// Direction says which way a compatibility check read.
type Direction uint8

const (
	// CandidateReads: the candidate schema, as reader, reads data written
	// with a schema of the history (the BACKWARD half of a check).
	CandidateReads Direction = iota
	// HistoryReads: a schema of the history, as reader, reads data written
	// with the candidate (the FORWARD half).
	HistoryReads
)

func (d Direction) String() string {
	if d == HistoryReads {
		return "forward"
	}
	return "backward"
}

// Incompatibility is one reason a reader schema cannot read what a writer
// schema writes.
type Incompatibility struct {
	// Path locates the problem in the reader schema: "/" is the top-level
	// type, then "fields/<name>", "items", "values", "symbols", "name",
	// "size", and union branch positions, for example
	// "/fields/status/symbols".
	Path   string
	Kind   IncompatibilityKind
	Reason string
	// Version is set by Check: the 1-based position in the history (1 is
	// the oldest) of the schema the candidate conflicts with; 0 from
	// CanRead.
	Version int
	// Direction is set by Check: which of the two schemas was the reader.
	Direction Direction
}

func (i Incompatibility) String() string {
	if i.Version == 0 {
		return fmt.Sprintf("%s: %s: %s", i.Path, i.Kind, i.Reason)
	}
	return fmt.Sprintf("%s vs version %d: %s: %s: %s", i.Direction, i.Version, i.Path, i.Kind, i.Reason)
}

// CanRead returns every reason reader cannot read data written with
// writer; none means the writer's data can always be read. It reports the
// incompatibilities that only some datums hit too (an enum symbol the
// reader lacks, a writer union branch the reader cannot read), which
// NewResolver tolerates.
func CanRead(reader, writer *Schema) []Incompatibility {
	c := newCompiler()
	c.compile(writer.root, reader.root, "")
	return c.incs
}

// Level is a compatibility level, as the Confluent schema registry names
// them.
type Level uint8

// The compatibility levels. The zero Level is Backward, the registry's
// default.
const (
	// Backward: the candidate can read data written with the latest schema.
	Backward Level = iota
	// BackwardTransitive: the candidate can read data written with every
	// schema of the history.
	BackwardTransitive
	// Forward: the latest schema can read data written with the candidate.
	Forward
	// ForwardTransitive: every schema of the history can read data written
	// with the candidate.
	ForwardTransitive
	// Full: Backward and Forward.
	Full
	// FullTransitive: BackwardTransitive and ForwardTransitive.
	FullTransitive
	// None: no check.
	None
)

var levelNames = [...]string{"BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// ParseLevel parses a level name as the registry writes it
// ("BACKWARD_TRANSITIVE"), case-insensitively.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("schemas: unknown compatibility level %q (want one of %s)", s, strings.Join(levelNames[:], ", "))
}

// Check returns every incompatibility of candidate with history (oldest
// first) at level: the transitive levels check against every schema of the
// history, the others against the latest only; None and an empty history
// check nothing.
func Check(level Level, candidate *Schema, history []*Schema) []Incompatibility {
	if level == None || len(history) == 0 {
		return nil
	}
	from := len(history) - 1
	if level == BackwardTransitive || level == ForwardTransitive || level == FullTransitive {
		from = 0
	}
	backward := level != Forward && level != ForwardTransitive
	forward := level != Backward && level != BackwardTransitive
	var out []Incompatibility
	for i := from; i < len(history); i++ {
		if backward {
			for _, inc := range CanRead(candidate, history[i]) {
				inc.Version, inc.Direction = i+1, CandidateReads
				out = append(out, inc)
			}
		}
		if forward {
			for _, inc := range CanRead(history[i], candidate) {
				inc.Version, inc.Direction = i+1, HistoryReads
				out = append(out, inc)
			}
		}
	}
	return out
}
