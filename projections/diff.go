package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/reckon-dev/reckon/operators"
)

// DiffReport compares two versions of a projection, row by row by
// primary key.
type DiffReport struct {
	Projection string `json:"projection"`
	From       int    `json:"from"`
	To         int    `json:"to"`
	FromRows   int64  `json:"from_rows"`
	ToRows     int64  `json:"to_rows"`
	// Added counts keys only in To, Removed keys only in From, Changed
	// keys in both with different values, Unchanged the rest.
	Added     int64 `json:"added"`
	Removed   int64 `json:"removed"`
	Changed   int64 `json:"changed"`
	Unchanged int64 `json:"unchanged"`
	// ColumnsAdded and ColumnsRemoved compare the two tables' columns.
	ColumnsAdded   []string `json:"columns_added,omitempty"`
	ColumnsRemoved []string `json:"columns_removed,omitempty"`
	// Samples: the first keys in key order, at most the sample size asked.
	AddedKeys   []string    `json:"added_keys,omitempty"`
	RemovedKeys []string    `json:"removed_keys,omitempty"`
	ChangedRows []RowChange `json:"changed_rows,omitempty"`
}

// RowChange is a changed row: its key and the columns that differ.
type RowChange struct {
	Key     string         `json:"key"`
	Columns []ColumnChange `json:"columns"`
}

// ColumnChange is one column's value in both versions, formatted as text
// (null as "null").
type ColumnChange struct {
	Column string `json:"column"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// Diff compares version from with version to of projection, scanning both
// tables; it keeps a hash per row of from in memory, and up to sample keys
// of each kind.
func Diff(ctx context.Context, s Store, projection string, from, to, sample int) (*DiffReport, error) {
	vs, err := s.Versions(ctx, projection)
	if err != nil {
		return nil, err
	}
	find := func(v int) (VersionInfo, error) {
		i := slices.IndexFunc(vs, func(x VersionInfo) bool { return x.Version == v })
		if i < 0 {
			return VersionInfo{}, &VersionError{Op: "diff", Projection: projection, Version: v, Err: ErrUnknownVersion}
		}
		return vs[i], nil
	}
	a, errA := find(from)
	b, errB := find(to)
	if err := errors.Join(errA, errB); err != nil {
		return nil, err
	}
	rep := &DiffReport{Projection: projection, From: from, To: to}
	rep.ColumnsAdded, rep.ColumnsRemoved = columnDelta(a.Columns, b.Columns)

	keyCols := keyColumns(a.Columns)
	keyOf := func(r Row) (string, error) {
		vals := make([]any, len(keyCols))
		for i, c := range keyCols {
			vals[i] = r[c.Name]
		}
		return operators.EncodeKey(vals)
	}
	hashes := map[string]uint64{}
	err = s.Scan(ctx, a.Table, func(r Row) error {
		k, err := keyOf(r)
		if err != nil {
			return err
		}
		h, err := rowHash(r)
		hashes[k] = h
		rep.FromRows++
		return err
	})
	if err != nil {
		return nil, err
	}
	var added, changed []string
	err = s.Scan(ctx, b.Table, func(r Row) error {
		rep.ToRows++
		k, err := keyOf(r)
		if err != nil {
			return err
		}
		h, err := rowHash(r)
		if err != nil {
			return err
		}
		old, ok := hashes[k]
		switch {
		case !ok:
			rep.Added++
			added = keepSmallest(added, k, sample)
		case old != h:
			rep.Changed++
			changed = keepSmallest(changed, k, sample)
		default:
			rep.Unchanged++
		}
		delete(hashes, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var removed []string
	for k := range hashes {
		rep.Removed++
		removed = keepSmallest(removed, k, sample)
	}
	for _, k := range added {
		rep.AddedKeys = append(rep.AddedKeys, formatKey(k))
	}
	for _, k := range removed {
		rep.RemovedKeys = append(rep.RemovedKeys, formatKey(k))
	}
	for _, k := range changed {
		vals := decodeKey(k)
		ra, _, err := s.Get(ctx, a.Table, vals)
		if err != nil {
			return nil, err
		}
		rb, _, err := s.Get(ctx, b.Table, vals)
		if err != nil {
			return nil, err
		}
		rep.ChangedRows = append(rep.ChangedRows, RowChange{Key: formatKey(k), Columns: changedColumns(ra, rb)})
	}
	return rep, nil
}

// keepSmallest adds k to the sorted sample keys if it is among the n smallest.
func keepSmallest(keys []string, k string, n int) []string {
	if n <= 0 {
		return keys
	}
	i, _ := slices.BinarySearch(keys, k)
	if i >= n {
		return keys
	}
	keys = slices.Insert(keys, i, k)
	if len(keys) > n {
		keys = keys[:n]
	}
	return keys
}

func rowHash(r Row) (uint64, error) {
	m := make(map[string]any, len(r))
	for k, v := range r {
		if v != nil {
			m[k] = v
		}
	}
	b, err := operators.AppendValue(nil, m)
	if err != nil {
		return 0, err
	}
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64(), nil
}

func columnDelta(a, b []Column) (added, removed []string) {
	has := func(cs []Column, name string) bool {
		return slices.ContainsFunc(cs, func(c Column) bool { return c.Name == name })
	}
	for _, c := range b {
		if !has(a, c.Name) {
			added = append(added, c.Name)
		}
	}
	for _, c := range a {
		if !has(b, c.Name) {
			removed = append(removed, c.Name)
		}
	}
	return added, removed
}

func changedColumns(a, b Row) []ColumnChange {
	names := map[string]bool{}
	for k := range a {
		names[k] = true
	}
	for k := range b {
		names[k] = true
	}
	var out []ColumnChange
	for _, n := range slices.Sorted(maps.Keys(names)) {
		fa, fb := FormatValue(a[n]), FormatValue(b[n])
		if fa != fb {
			out = append(out, ColumnChange{Column: n, From: fa, To: fb})
		}
	}
	return out
}

func decodeKey(k string) []any {
	var vals []any
	b := []byte(k)
	for len(b) > 0 {
		v, rest, err := operators.ReadValue(b)
		if err != nil {
			break
		}
		vals = append(vals, v)
		b = rest
	}
	return vals
}

func formatKey(k string) string {
	vals := decodeKey(k)
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = FormatValue(v)
	}
	return strings.Join(parts, "/")
}

// FormatValue formats a column value as text: strings as they are, times
// in RFC 3339 with milliseconds, decimals exactly, blobs in hex, lists and
// maps in JSON-like brackets, null as "null".
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	case *big.Rat:
		return decimalString(x)
	case []byte:
		return fmt.Sprintf("0x%x", x)
	case []string:
		return fmt.Sprintf("%q", x)
	case map[string]string:
		keys := slices.Sorted(maps.Keys(x))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%q: %q", k, x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}
