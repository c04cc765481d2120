package schemas

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"
)

// AppendJSON appends native, a value of this schema in goavro's native
// form, to dst as plain JSON for people and tools: unions unwrapped to
// their value, records with their fields in schema order, map keys sorted,
// timestamps in RFC 3339 (UTC), dates as 2006-01-02, times of day as
// 15:04:05.000000, decimals as strings with the schema's scale, bytes and
// fixed in standard base64, NaN and infinities as the strings "NaN",
// "Infinity" and "-Infinity".
func (s *Schema) AppendJSON(dst []byte, native any) ([]byte, error) {
	return appendJSON(dst, s.root, native)
}

func appendJSON(dst []byte, n *node, v any) ([]byte, error) {
	bad := func() ([]byte, error) {
		return dst, fmt.Errorf("schemas: %T is not a native %s", v, n.describe())
	}
	if n.kind == kUnion {
		if v == nil {
			return append(dst, "null"...), nil
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return bad()
		}
		for k, x := range m {
			for _, b := range n.branches {
				if b.unionName() == k {
					return appendJSON(dst, b, x)
				}
			}
		}
		return bad()
	}
	switch n.logical {
	case lDecimal:
		r, ok := v.(*big.Rat)
		if !ok {
			return bad()
		}
		return strconv.AppendQuote(dst, r.FloatString(n.scale)), nil
	case lTimestampMillis, lTimestampMicros:
		t, ok := v.(time.Time)
		if !ok {
			return bad()
		}
		return strconv.AppendQuote(dst, t.UTC().Format(time.RFC3339Nano)), nil
	case lDate:
		t, ok := v.(time.Time)
		if !ok {
			return bad()
		}
		return strconv.AppendQuote(dst, t.UTC().Format(time.DateOnly)), nil
	case lTimeMillis, lTimeMicros:
		d, ok := v.(time.Duration)
		if !ok {
			return bad()
		}
		return strconv.AppendQuote(dst, time.Time{}.Add(d).Format("15:04:05.000000")), nil
	}
	switch n.kind {
	case kNull:
		if v != nil {
			return bad()
		}
		return append(dst, "null"...), nil
	case kBoolean:
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		return strconv.AppendBool(dst, b), nil
	case kInt:
		i, ok := v.(int32)
		if !ok {
			return bad()
		}
		return strconv.AppendInt(dst, int64(i), 10), nil
	case kLong:
		i, ok := v.(int64)
		if !ok {
			return bad()
		}
		return strconv.AppendInt(dst, i, 10), nil
	case kFloat, kDouble:
		var f float64
		bits := 64
		switch x := v.(type) {
		case float32:
			f, bits = float64(x), 32
		case float64:
			f = x
		default:
			return bad()
		}
		switch {
		case math.IsNaN(f):
			return append(dst, `"NaN"`...), nil
		case math.IsInf(f, 1):
			return append(dst, `"Infinity"`...), nil
		case math.IsInf(f, -1):
			return append(dst, `"-Infinity"`...), nil
		}
		return strconv.AppendFloat(dst, f, 'g', -1, bits), nil
	case kString, kEnum:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		return appendJSONString(dst, s), nil
	case kBytes, kFixed:
		b, ok := v.([]byte)
		if !ok {
			return bad()
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"'), nil
	case kArray:
		s, ok := v.([]any)
		if !ok {
			return bad()
		}
		dst = append(dst, '[')
		for i, x := range s {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, n.items, x); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case kMap:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendJSONString(dst, k), ':')
			var err error
			if dst, err = appendJSON(dst, n.values, m[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case kRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		dst = append(dst, '{')
		for i, f := range n.fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendJSONString(dst, f.name), ':')
			var err error
			if dst, err = appendJSON(dst, f.typ, m[f.name]); err != nil {
				return dst, fmt.Errorf("field %s: %w", f.name, err)
			}
		}
		return append(dst, '}'), nil
	}
	return bad()
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
