package operators

import (
	"errors"
	"fmt"
)

// ColumnType is the type of a projection column. Projection stores map each
// type to their own (CQL, SQLite) column types.
type ColumnType int

// Column types. The Go value a row carries for each is given in brackets.
const (
	TypeUnknown   ColumnType = iota
	TypeText                 // string
	TypeBigInt               // int64
	TypeInt                  // int32
	TypeDouble               // float64
	TypeBoolean              // bool
	TypeTimestamp            // time.Time (UTC, millisecond precision)
	TypeBlob                 // []byte
	TypeDecimal              // *big.Rat
	TypeUUID                 // string in canonical 8-4-4-4-12 form
	TypeTextList             // []string
	TypeTextMap              // map[string]string
)

var columnTypeNames = [...]string{"unknown", "text", "bigint", "int", "double", "boolean", "timestamp", "blob", "decimal", "uuid", "list<text>", "map<text,text>"}

func (t ColumnType) String() string {
	if t < 0 || int(t) >= len(columnTypeNames) {
		return fmt.Sprintf("ColumnType(%d)", int(t))
	}
	return columnTypeNames[t]
}

// ColumnSpec is one column of a projection table.
type ColumnSpec struct {
	Name string
	Type ColumnType
	// Path is the field path the value is read from (empty when Func is set).
	Path string
	// Func computes the value from the output record instead of a path.
	Func func(View) (any, error)
}

// TableSpec describes a projection table: its name and columns. Build it
// with Table; the graph validates it when the table is projected.
type TableSpec struct {
	Name          string
	PartitionKeys []ColumnSpec
	Clustering    []ColumnSpec
	Values        []ColumnSpec
}

// Table starts the spec of a projection table. Column types default to the
// type the input's reader schema gives the path; declare them with the
// typed methods when there is no schema or the column is computed.
func Table(name string) *TableSpec { return &TableSpec{Name: name} }

// PartitionKey adds partition-key columns, each read from the field path of
// the same name.
func (t *TableSpec) PartitionKey(cols ...string) *TableSpec {
	for _, c := range cols {
		t.PartitionKeys = append(t.PartitionKeys, ColumnSpec{Name: c, Path: c})
	}
	return t
}

// ClusteringKey adds clustering columns, each read from the field path of
// the same name.
func (t *TableSpec) ClusteringKey(cols ...string) *TableSpec {
	for _, c := range cols {
		t.Clustering = append(t.Clustering, ColumnSpec{Name: c, Path: c})
	}
	return t
}

// Columns adds value columns, each read from the field path of the same name.
func (t *TableSpec) Columns(cols ...string) *TableSpec {
	for _, c := range cols {
		t.Values = append(t.Values, ColumnSpec{Name: c, Path: c})
	}
	return t
}

// Column adds a value column named name, read from path, of type typ
// (TypeUnknown: taken from the reader schema).
func (t *TableSpec) Column(name, path string, typ ColumnType) *TableSpec {
	t.Values = append(t.Values, ColumnSpec{Name: name, Path: path, Type: typ})
	return t
}

// Computed adds a value column computed by fn from the output record.
func (t *TableSpec) Computed(name string, typ ColumnType, fn func(View) (any, error)) *TableSpec {
	t.Values = append(t.Values, ColumnSpec{Name: name, Type: typ, Func: fn})
	return t
}

// Typed sets the type of an already declared column.
func (t *TableSpec) Typed(name string, typ ColumnType) *TableSpec {
	for _, cols := range [][]ColumnSpec{t.PartitionKeys, t.Clustering, t.Values} {
		for i := range cols {
			if cols[i].Name == name {
				cols[i].Type = typ
			}
		}
	}
	return t
}

// AllColumns returns the key columns followed by the value columns.
func (t *TableSpec) AllColumns() []ColumnSpec {
	all := make([]ColumnSpec, 0, len(t.PartitionKeys)+len(t.Clustering)+len(t.Values))
	all = append(all, t.PartitionKeys...)
	all = append(all, t.Clustering...)
	return append(all, t.Values...)
}

// KeyColumns returns the primary-key columns: partition key, then clustering.
func (t *TableSpec) KeyColumns() []ColumnSpec {
	return t.AllColumns()[:len(t.PartitionKeys)+len(t.Clustering)]
}

// Validate reports every problem of the spec at once.
func (t *TableSpec) Validate() error {
	var errs []error
	if !ValidName(t.Name) {
		errs = append(errs, fmt.Errorf("table %q: name must match [a-z][a-z0-9_]*", t.Name))
	}
	if len(t.PartitionKeys) == 0 {
		errs = append(errs, fmt.Errorf("table %q: no partition-key column", t.Name))
	}
	seen := map[string]bool{}
	for _, c := range t.AllColumns() {
		switch {
		case !ValidName(c.Name):
			errs = append(errs, fmt.Errorf("table %q: column name %q must match [a-z][a-z0-9_]*", t.Name, c.Name))
		case seen[c.Name]:
			errs = append(errs, fmt.Errorf("table %q: duplicate column %q", t.Name, c.Name))
		}
		seen[c.Name] = true
		if c.Func != nil && c.Type == TypeUnknown {
			errs = append(errs, fmt.Errorf("table %q: computed column %q needs a type", t.Name, c.Name))
		}
		if c.Func == nil && c.Path == "" {
			errs = append(errs, fmt.Errorf("table %q: column %q has neither a path nor a function", t.Name, c.Name))
		}
	}
	for _, c := range t.KeyColumns() {
		if c.Type == TypeTextList || c.Type == TypeTextMap {
			errs = append(errs, fmt.Errorf("table %q: key column %q cannot be a %s", t.Name, c.Name, c.Type))
		}
	}
	return errors.Join(errs...)
}

// ValidName reports whether s can name a table or column unquoted in CQL
// and SQL: [a-z][a-z0-9_]*, at most 48 characters.
func ValidName(s string) bool {
	if s == "" || len(s) > 48 || s[0] < 'a' || s[0] > 'z' {
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
