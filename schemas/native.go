package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"
)

// This file converts between goavro's native forms: a field default (JSON)
// into the native value of its type, logical values into the raw value of
// their underlying type and back, and promotions between primitives.

var epoch = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// defaultNative converts a default written in the schema's JSON into the
// native value of type n, as goavro would decode it. Union defaults match
// the first branch, as the specification (1.11) says; a later branch is
// accepted when the first does not fit, as 1.12 allows.
func defaultNative(n *node, def any) (any, error) {
	switch n.kind {
	case kNull:
		if def != nil {
			return nil, errors.New("null default must be null")
		}
		return nil, nil
	case kBoolean:
		b, ok := def.(bool)
		if !ok {
			return nil, fmt.Errorf("boolean default must be true or false, not %s", jsonKind(def))
		}
		return b, nil
	case kInt, kLong:
		num, ok := def.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s default must be a number, not %s", n.kind, jsonKind(def))
		}
		i, err := num.Int64()
		if err != nil {
			return nil, fmt.Errorf("%s default %s is not an integer", n.kind, num)
		}
		if n.kind == kInt {
			if i < math.MinInt32 || i > math.MaxInt32 {
				return nil, fmt.Errorf("int default %d out of range", i)
			}
			return fromRaw(n, int32(i))
		}
		return fromRaw(n, i)
	case kFloat, kDouble:
		num, ok := def.(json.Number)
		if !ok {
			// NaN and infinities may be written as strings.
			s, isStr := def.(string)
			f, ok2 := map[string]float64{"NaN": math.NaN(), "Infinity": math.Inf(1), "-Infinity": math.Inf(-1)}[s]
			if !isStr || !ok2 {
				return nil, fmt.Errorf("%s default must be a number, not %s", n.kind, jsonKind(def))
			}
			if n.kind == kFloat {
				return float32(f), nil
			}
			return f, nil
		}
		f, err := num.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s default %s: %v", n.kind, num, err)
		}
		if n.kind == kFloat {
			return float32(f), nil
		}
		return f, nil
	case kString:
		s, ok := def.(string)
		if !ok {
			return nil, fmt.Errorf("string default must be a string, not %s", jsonKind(def))
		}
		return s, nil
	case kBytes, kFixed:
		s, ok := def.(string)
		if !ok {
			return nil, fmt.Errorf("%s default must be a string, not %s", n.kind, jsonKind(def))
		}
		// Each code point 0-255 is one byte.
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 255 {
				return nil, fmt.Errorf("%s default has code point %U above U+00FF", n.kind, r)
			}
			b = append(b, byte(r))
		}
		if n.kind == kFixed && len(b) != n.size {
			return nil, fmt.Errorf("fixed default has %d bytes, want %d", len(b), n.size)
		}
		return fromRaw(n, b)
	case kEnum:
		s, ok := def.(string)
		if !ok {
			return nil, fmt.Errorf("enum default must be a string, not %s", jsonKind(def))
		}
		if _, ok := n.symbolIndex[s]; !ok {
			return nil, fmt.Errorf("enum default %q is not a symbol of %s", s, n.fullName)
		}
		return s, nil
	case kArray:
		list, ok := def.([]any)
		if !ok {
			return nil, fmt.Errorf("array default must be an array, not %s", jsonKind(def))
		}
		out := make([]any, len(list))
		for i, e := range list {
			v, err := defaultNative(n.items, e)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	case kMap:
		m, ok := def.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("map default must be an object, not %s", jsonKind(def))
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			v, err := defaultNative(n.values, e)
			if err != nil {
				return nil, fmt.Errorf("value %q: %w", k, err)
			}
			out[k] = v
		}
		return out, nil
	case kRecord:
		m, ok := def.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record default must be an object, not %s", jsonKind(def))
		}
		out := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			e, ok := m[f.name]
			if !ok {
				if !f.hasDefault {
					return nil, fmt.Errorf("record default lacks field %q, which has no default", f.name)
				}
				e = f.def
			}
			v, err := defaultNative(f.typ, e)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.name, err)
			}
			out[f.name] = v
		}
		return out, nil
	case kUnion:
		var firstErr error
		for _, b := range n.branches {
			v, err := defaultNative(b, def)
			if err == nil {
				if b.kind == kNull {
					return nil, nil
				}
				return map[string]any{b.unionName(): v}, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return nil, fmt.Errorf("union default fits no branch: %w", firstErr)
	}
	return nil, fmt.Errorf("unknown type %s", n.kind)
}

// cloneNative deep-copies the mutable parts of a native value (maps,
// slices, byte slices, decimals), so that a default handed out for one
// record is never shared with another.
func cloneNative(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = cloneNative(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = cloneNative(e)
		}
		return out
	case []byte:
		return append([]byte(nil), t...)
	case *big.Rat:
		return new(big.Rat).Set(t)
	}
	return v
}

// mutable reports whether cloneNative would copy anything in v.
func mutable(v any) bool {
	switch v.(type) {
	case map[string]any, []any, []byte, *big.Rat:
		return true
	}
	return false
}

// toRaw converts the native value of a logical type into the native value
// of its underlying type (time.Time to int64 milliseconds, *big.Rat to
// two's-complement bytes, …).
func toRaw(n *node, v any) (any, error) {
	switch n.logical {
	case lTimestampMillis:
		if t, ok := v.(time.Time); ok {
			return t.UnixMilli(), nil
		}
	case lTimestampMicros:
		if t, ok := v.(time.Time); ok {
			return t.UnixMicro(), nil
		}
	case lDate:
		if t, ok := v.(time.Time); ok {
			sec := t.Unix()
			days := sec / 86400
			if sec%86400 < 0 {
				days--
			}
			return int32(days), nil
		}
	case lTimeMillis:
		if d, ok := v.(time.Duration); ok {
			return int32(d / time.Millisecond), nil
		}
	case lTimeMicros:
		if d, ok := v.(time.Duration); ok {
			return int64(d / time.Microsecond), nil
		}
	case lDecimal:
		if r, ok := v.(*big.Rat); ok {
			return decimalBytes(n, r)
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("%T is not a native %s", v, n.describe())
}

// decimalBytes encodes r as the two's-complement big-endian unscaled value
// of decimal n (sign-extended to the size of a fixed).
func decimalBytes(n *node, r *big.Rat) ([]byte, error) {
	unscaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(pow10(n.scale)))
	if !unscaled.IsInt() {
		return nil, fmt.Errorf("decimal %s has more than %d fractional digits", r.FloatString(n.scale+2), n.scale)
	}
	i := unscaled.Num()
	var b []byte
	switch i.Sign() {
	case 0:
		b = []byte{0}
	case 1:
		b = i.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
	default:
		// -i in two's complement: invert the bits of (|i| - 1).
		m := new(big.Int).Sub(new(big.Int).Neg(i), big.NewInt(1))
		b = m.Bytes()
		for k := range b {
			b[k] = ^b[k]
		}
		if len(b) == 0 || b[0]&0x80 == 0 {
			b = append([]byte{0xff}, b...)
		}
	}
	if n.kind == kFixed {
		if len(b) > n.size {
			return nil, fmt.Errorf("decimal %s does not fit %d bytes", r.FloatString(n.scale), n.size)
		}
		pad := byte(0)
		if b[0]&0x80 != 0 {
			pad = 0xff
		}
		out := make([]byte, n.size)
		for k := range n.size - len(b) {
			out[k] = pad
		}
		copy(out[n.size-len(b):], b)
		b = out
	}
	return b, nil
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// fromRaw converts a value of the underlying type of n into n's native
// value, as goavro decodes it.
func fromRaw(n *node, v any) (any, error) {
	switch n.logical {
	case lTimestampMillis:
		if i, ok := v.(int64); ok {
			return time.UnixMilli(i).UTC(), nil
		}
	case lTimestampMicros:
		if i, ok := v.(int64); ok {
			return time.UnixMicro(i).UTC(), nil
		}
	case lDate:
		if i, ok := v.(int32); ok {
			return epoch.AddDate(0, 0, int(i)), nil
		}
	case lTimeMillis:
		if i, ok := v.(int32); ok {
			return time.Duration(i) * time.Millisecond, nil
		}
	case lTimeMicros:
		if i, ok := v.(int64); ok {
			return time.Duration(i) * time.Microsecond, nil
		}
	case lDecimal:
		if b, ok := v.([]byte); ok {
			i := new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				i.Sub(i, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
			}
			return new(big.Rat).SetFrac(i, pow10(n.scale)), nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("%T is not a raw %s", v, n.describe())
}

// promotable reports whether a writer primitive of kind w can be read as
// kind r (the specification's promotions, or the same kind).
func promotable(w, r kind) bool {
	if w == r {
		return true
	}
	switch w {
	case kInt:
		return r == kLong || r == kFloat || r == kDouble
	case kLong:
		return r == kFloat || r == kDouble
	case kFloat:
		return r == kDouble
	case kString:
		return r == kBytes
	case kBytes:
		return r == kString
	}
	return false
}

// promote converts a raw value of kind w into kind r.
func promote(v any, r kind) (any, error) {
	switch x := v.(type) {
	case int32:
		switch r {
		case kLong:
			return int64(x), nil
		case kFloat:
			return float32(x), nil
		case kDouble:
			return float64(x), nil
		}
	case int64:
		switch r {
		case kFloat:
			return float32(x), nil
		case kDouble:
			return float64(x), nil
		}
	case float32:
		if r == kDouble {
			return float64(x), nil
		}
	case string:
		if r == kBytes {
			return []byte(x), nil
		}
	case []byte:
		if r == kString {
			return string(x), nil
		}
	}
	return nil, fmt.Errorf("cannot promote %T to %s", v, r)
}
