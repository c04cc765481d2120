package projections

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/reckon-dev/reckon/operators"
)

// normalize returns v as the canonical Go value of a column of type t
// (see operators.ColumnType), so that every store stores, compares and
// returns the same values:
//
//   - integers of any Go width are accepted when they fit;
//   - timestamps are truncated to the millisecond and returned in UTC;
//   - decimals must have a finite decimal expansion (1/3 is refused);
//   - UUIDs are returned lower case;
//   - empty lists and maps are stored as null (as Cassandra does).
//
// nil stays nil; key columns reject it in checkKey.
func normalize(table string, c Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func(reason string) error {
		return &ValueError{Table: table, Column: c.Name, Type: c.Type.String(), Value: v, Reason: reason}
	}
	switch c.Type {
	case operators.TypeText:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case operators.TypeBigInt:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int32:
			return int64(n), nil
		case int:
			return int64(n), nil
		}
	case operators.TypeInt:
		switch n := v.(type) {
		case int32:
			return n, nil
		case int64:
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, bad("out of the int range")
			}
			return int32(n), nil
		case int:
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, bad("out of the int range")
			}
			return int32(n), nil
		}
	case operators.TypeDouble:
		switch n := v.(type) {
		case float64:
			return n, nil
		case float32:
			return float64(n), nil
		}
	case operators.TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case operators.TypeTimestamp:
		if t, ok := v.(time.Time); ok {
			return time.UnixMilli(t.UnixMilli()).UTC(), nil
		}
	case operators.TypeBlob:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
	case operators.TypeDecimal:
		if r, ok := v.(*big.Rat); ok {
			if r == nil {
				return nil, nil
			}
			if _, ok := decimalScale(r); !ok {
				return nil, bad("has no finite decimal expansion")
			}
			return r, nil
		}
	case operators.TypeUUID:
		if s, ok := v.(string); ok {
			u, err := canonicalUUID(s)
			if err != nil {
				return nil, bad(err.Error())
			}
			return u, nil
		}
	case operators.TypeTextList:
		if l, ok := v.([]string); ok {
			if len(l) == 0 {
				return nil, nil
			}
			return l, nil
		}
	case operators.TypeTextMap:
		if m, ok := v.(map[string]string); ok {
			if len(m) == 0 {
				return nil, nil
			}
			return m, nil
		}
	}
	return nil, bad("wrong Go type")
}

// normalizeKey normalizes the primary-key values of a write.
func normalizeKey(table string, keys []Column, key []any) ([]any, error) {
	if len(key) != len(keys) {
		return nil, &ValueError{Table: table, Column: keys[0].Name, Type: "primary key", Value: key,
			Reason: fmt.Sprintf("%d key values for %d key columns", len(key), len(keys))}
	}
	out := make([]any, len(key))
	for i, c := range keys {
		v, err := normalize(table, c, key[i])
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, &ValueError{Table: table, Column: c.Name, Type: c.Type.String(), Value: key[i], Reason: "a key column cannot be null"}
		}
		out[i] = v
	}
	return out, nil
}

// decimalScale returns the number of fractional digits of r's exact
// decimal expansion; ok is false when it has none (a factor other than 2
// and 5 in the denominator).
func decimalScale(r *big.Rat) (scale int, ok bool) {
	d := new(big.Int).Set(r.Denom())
	var twos, fives int
	two, five, m := big.NewInt(2), big.NewInt(5), new(big.Int)
	for {
		if q, rem := new(big.Int).QuoRem(d, two, m); rem.Sign() == 0 {
			d, twos = q, twos+1
			continue
		}
		break
	}
	for {
		if q, rem := new(big.Int).QuoRem(d, five, m); rem.Sign() == 0 {
			d, fives = q, fives+1
			continue
		}
		break
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		return 0, false
	}
	return max(twos, fives), true
}

// decimalString formats a decimal with its exact expansion ("12.34").
func decimalString(r *big.Rat) string {
	scale, _ := decimalScale(r)
	return r.FloatString(scale)
}

func canonicalUUID(s string) (string, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return "", fmt.Errorf("not a UUID in 8-4-4-4-12 form")
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + 'a' - 'A'
		default:
			return "", fmt.Errorf("not a UUID: bad hex digit %q", c)
		}
	}
	return string(b), nil
}

// positions maps the columns of a store table to positions in the Columns
// of positional writes. Writes of one table share their Columns slice, so
// the mapping is cached per slice (checked by content on every use).
type positions struct {
	mu    sync.Mutex
	names []string
	pos   []int
}

// of returns, for each of cols, its index in names (-1: absent).
func (p *positions) of(cols []Column, names []string) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pos != nil && slices.Equal(p.names, names) {
		return p.pos
	}
	pos := make([]int, len(cols))
	for i, c := range cols {
		pos[i] = slices.Index(names, c.Name)
	}
	p.names, p.pos = names, pos
	return pos
}

// value returns the value w gives column j of a store table, named name;
// pos maps the table's columns into w.Columns (from positions.of).
func (w *Write) value(pos []int, j int, name string) any {
	if w.Columns == nil {
		return w.Row[name]
	}
	if p := pos[j]; p >= 0 && p < len(w.Values) {
		return w.Values[p]
	}
	return nil
}
