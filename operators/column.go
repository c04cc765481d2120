package operators

import (
	"math/big"
	"time"
)

// convertColumn converts a field value to the Go type of a column (see
// ColumnType). A null or missing value is nil. A value that already has the
// column's type is returned as is, without boxing it again.
func convertColumn(col *ColumnSpec, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case string:
		if col.Type == TypeText || col.Type == TypeUUID {
			return v, nil
		}
	case int64:
		if col.Type == TypeBigInt {
			return v, nil
		}
	case int32:
		if col.Type == TypeInt {
			return v, nil
		}
	case float64:
		if col.Type == TypeDouble {
			return v, nil
		}
	case bool:
		if col.Type == TypeBoolean {
			return v, nil
		}
	case time.Time:
		if col.Type == TypeTimestamp && x.Location() == time.UTC && x.Nanosecond()%int(time.Millisecond) == 0 {
			return v, nil
		}
	}
	bad := func() (any, error) {
		return nil, &FieldError{Path: col.Path, Want: col.Type.String(), Got: v, Err: ErrFieldType}
	}
	switch col.Type {
	case TypeText, TypeUUID:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeBigInt:
		if n, ok := asInt64(v); ok {
			return n, nil
		}
	case TypeInt:
		if n, ok := asInt64(v); ok && n >= -1<<31 && n < 1<<31 {
			return int32(n), nil
		}
	case TypeDouble:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		}
		if n, ok := asInt64(v); ok {
			return float64(n), nil
		}
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case TypeTimestamp:
		if ts, ok := asTime(v); ok {
			return ts.UTC().Truncate(time.Millisecond), nil
		}
	case TypeBlob:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	case TypeDecimal:
		if r, ok := asRat(v); ok {
			return new(big.Rat).Set(r), nil
		}
	case TypeTextList:
		switch x := v.(type) {
		case []string:
			return x, nil
		case []any:
			out := make([]string, len(x))
			for i, e := range x {
				s, ok := unwrap(e).(string)
				if !ok {
					return bad()
				}
				out[i] = s
			}
			return out, nil
		}
	case TypeTextMap:
		switch x := v.(type) {
		case map[string]string:
			return x, nil
		case map[string]any:
			out := make(map[string]string, len(x))
			for k, e := range x {
				s, ok := unwrap(e).(string)
				if !ok {
					return bad()
				}
				out[k] = s
			}
			return out, nil
		}
	}
	return bad()
}
