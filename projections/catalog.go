package projections

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/reckon-dev/reckon/operators"
)

// The catalog is two tables, the same in every store:
//
//	reckon_versions: one row per (projection, version) with the build
//	                 state (building or ready), graph name, fingerprint,
//	                 source range, row count, columns and times;
//	reckon_live:     one row per projection, the live pointer: the live
//	                 version, the stack of versions live before it and the
//	                 retired versions, and an epoch that every change
//	                 increments (the compare-and-set guard).
//
// A version's status is live when the pointer designates it, retired when
// the pointer lists it as retired, and its build state otherwise; a single
// atomic write of the pointer row therefore changes every status at once.

const (
	versionsTable = "reckon_versions"
	liveTable     = "reckon_live"
	// maxTableName is Cassandra's limit on table names.
	maxTableName = 48
)

// TableName returns the name of the table of version of projection.
func TableName(projection string, version int) string {
	return projection + "_v" + strconv.Itoa(version)
}

// checkCreate validates a spec and graph before a table is created.
func checkCreate(spec *operators.TableSpec, g Graph) error {
	if spec == nil {
		return fmt.Errorf("%w: nil table spec", ErrSchema)
	}
	var errs []error
	if err := spec.Validate(); err != nil {
		errs = append(errs, err)
	}
	if spec.Name == versionsTable || spec.Name == liveTable {
		errs = append(errs, fmt.Errorf("table %q: the name is reserved for the catalog", spec.Name))
	}
	if g.Version < 1 {
		errs = append(errs, fmt.Errorf("table %q: graph version %d must be at least 1", spec.Name, g.Version))
	}
	if n := TableName(spec.Name, g.Version); len(n) > maxTableName {
		errs = append(errs, fmt.Errorf("table %q: %s is longer than %d characters", spec.Name, n, maxTableName))
	}
	for _, c := range spec.AllColumns() {
		if c.Type <= operators.TypeUnknown || c.Type > operators.TypeTextMap {
			errs = append(errs, fmt.Errorf("table %q: column %q has no storable type (%s)", spec.Name, c.Name, c.Type))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrSchema, errors.Join(errs...))
	}
	return nil
}

// Column kinds.
const (
	kindPartition  = "partition"
	kindClustering = "clustering"
	kindValue      = "value"
)

func columnsOf(spec *operators.TableSpec) []Column {
	var cols []Column
	for _, c := range spec.PartitionKeys {
		cols = append(cols, Column{Name: c.Name, Type: c.Type, Kind: kindPartition})
	}
	for _, c := range spec.Clustering {
		cols = append(cols, Column{Name: c.Name, Type: c.Type, Kind: kindClustering})
	}
	for _, c := range spec.Values {
		cols = append(cols, Column{Name: c.Name, Type: c.Type, Kind: kindValue})
	}
	return cols
}

// mergeColumns returns the columns of a table that has columns old and
// must now hold the columns of spec: the key columns must be equal, a
// value column keeps its type, new value columns are appended. added lists
// the new ones.
func mergeColumns(table string, old, want []Column) (merged, added []Column, err error) {
	keys := func(cs []Column) []Column {
		return slices.DeleteFunc(slices.Clone(cs), func(c Column) bool { return c.Kind == kindValue })
	}
	if !slices.Equal(keys(old), keys(want)) {
		return nil, nil, &TableError{Op: "create", Table: table, Err: fmt.Errorf(
			"%w: primary key %s differs from the existing %s; build a new graph version",
			ErrSchema, describeColumns(keys(want)), describeColumns(keys(old)))}
	}
	merged = slices.Clone(old)
	for _, c := range want {
		i := slices.IndexFunc(old, func(o Column) bool { return o.Name == c.Name })
		switch {
		case i < 0:
			merged = append(merged, c)
			added = append(added, c)
		case old[i] != c:
			return nil, nil, &TableError{Op: "create", Table: table, Err: fmt.Errorf(
				"%w: column %s is %s %s, the spec says %s %s; build a new graph version",
				ErrSchema, c.Name, old[i].Kind, old[i].Type, c.Kind, c.Type)}
		}
	}
	return merged, added, nil
}

func describeColumns(cs []Column) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + " " + c.Type.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func keyColumns(cs []Column) []Column {
	var out []Column
	for _, c := range cs {
		if c.Kind != kindValue {
			out = append(out, c)
		}
	}
	return out
}

// pointer is the live pointer of one projection.
type pointer struct {
	Live int `json:"live"`
	// History lists the versions that were live before Live, the most
	// recent last; Rollback pops it.
	History []int `json:"history,omitempty"`
	Retired []int `json:"retired,omitempty"`
}

// status returns the status of a version whose build state is built.
func (p pointer) status(version int, built Status) Status {
	switch {
	case p.Live == version:
		return StatusLive
	case slices.Contains(p.Retired, version):
		return StatusRetired
	}
	return built
}

// promote returns the pointer after promoting v, whose status is st.
func (p pointer) promote(projection string, v int, st Status) (pointer, error) {
	if st != StatusReady {
		return p, &StatusError{Op: "promote", Projection: projection, Version: v, Status: st, Want: StatusReady}
	}
	next := pointer{Live: v, History: slices.Clone(p.History), Retired: slices.Clone(p.Retired)}
	if p.Live != 0 {
		next.History = append(next.History, p.Live)
		next.Retired = append(next.Retired, p.Live)
	}
	return next, nil
}

// rollback returns the pointer after a rollback.
func (p pointer) rollback(projection string) (pointer, error) {
	if p.Live == 0 {
		return p, &VersionError{Op: "rollback", Projection: projection, Err: ErrNoLive}
	}
	if len(p.History) == 0 {
		return p, &VersionError{Op: "rollback", Projection: projection, Version: p.Live, Err: ErrNoPrevious}
	}
	prev := p.History[len(p.History)-1]
	next := pointer{Live: prev, History: slices.Clone(p.History[:len(p.History)-1])}
	next.Retired = slices.DeleteFunc(slices.Clone(p.Retired), func(v int) bool { return v == prev })
	next.Retired = append(next.Retired, p.Live)
	return next, nil
}

// validName says whether s is a name reckon uses unquoted in CQL and SQL:
// [a-z][a-z0-9_]*, at most 48 characters.
func validName(s string) bool {
	if s == "" || len(s) > maxTableName || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
