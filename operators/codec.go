package operators

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"
)

// The value codec is a deterministic binary encoding of goavro's native
// values (and of the column values of projection rows): map entries are
// written in key order, so equal values always encode to equal bytes. It
// backs state snapshots, output ids and keys, and byte-for-byte parity.

const (
	tagNil byte = iota
	tagFalse
	tagTrue
	tagInt64
	tagInt32
	tagInt
	tagFloat64
	tagFloat32
	tagString
	tagBytes
	tagMap
	tagArray
	tagTime
	tagRat
	tagStrings
	tagStringMap
)

// ErrCodec reports bytes that are not a valid encoding, or a value of a
// type the codec does not know.
var ErrCodec = errors.New("operators: value codec")

// AppendValue appends the deterministic encoding of v to dst.
func AppendValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, tagNil), nil
	case bool:
		if x {
			return append(dst, tagTrue), nil
		}
		return append(dst, tagFalse), nil
	case int64:
		return binary.AppendVarint(append(dst, tagInt64), x), nil
	case int32:
		return binary.AppendVarint(append(dst, tagInt32), int64(x)), nil
	case int:
		return binary.AppendVarint(append(dst, tagInt), int64(x)), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(dst, tagFloat64), math.Float64bits(x)), nil
	case float32:
		return binary.BigEndian.AppendUint32(append(dst, tagFloat32), math.Float32bits(x)), nil
	case string:
		return appendString(append(dst, tagString), x), nil
	case []byte:
		return appendString(append(dst, tagBytes), string(x)), nil
	case time.Time:
		return binary.AppendVarint(append(dst, tagTime), x.UnixNano()), nil
	case *big.Rat:
		if x == nil {
			return append(dst, tagNil), nil
		}
		dst = appendString(append(dst, tagRat), x.Num().String())
		return appendString(dst, x.Denom().String()), nil
	case []string:
		dst = binary.AppendUvarint(append(dst, tagStrings), uint64(len(x)))
		for _, s := range x {
			dst = appendString(dst, s)
		}
		return dst, nil
	case map[string]string:
		dst = binary.AppendUvarint(append(dst, tagStringMap), uint64(len(x)))
		for _, k := range sortedKeys(x) {
			dst = appendString(appendString(dst, k), x[k])
		}
		return dst, nil
	case []any:
		dst = binary.AppendUvarint(append(dst, tagArray), uint64(len(x)))
		var err error
		for _, e := range x {
			if dst, err = AppendValue(dst, e); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case map[string]any:
		dst = binary.AppendUvarint(append(dst, tagMap), uint64(len(x)))
		var err error
		for _, k := range sortedKeys(x) {
			dst = appendString(dst, k)
			if dst, err = AppendValue(dst, x[k]); err != nil {
				return nil, err
			}
		}
		return dst, nil
	}
	return nil, fmt.Errorf("%w: cannot encode a %T", ErrCodec, v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// ReadValue decodes one value from b and returns the rest of b.
func ReadValue(b []byte) (any, []byte, error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: unexpected end", ErrCodec)
	}
	tag, b := b[0], b[1:]
	switch tag {
	case tagNil:
		return nil, b, nil
	case tagFalse:
		return false, b, nil
	case tagTrue:
		return true, b, nil
	case tagInt64, tagInt32, tagInt, tagTime:
		n, k := binary.Varint(b)
		if k <= 0 {
			return nil, nil, fmt.Errorf("%w: bad varint", ErrCodec)
		}
		switch tag {
		case tagInt32:
			return int32(n), b[k:], nil
		case tagInt:
			return int(n), b[k:], nil
		case tagTime:
			return time.Unix(0, n).UTC(), b[k:], nil
		}
		return n, b[k:], nil
	case tagFloat64:
		if len(b) < 8 {
			return nil, nil, fmt.Errorf("%w: short double", ErrCodec)
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), b[8:], nil
	case tagFloat32:
		if len(b) < 4 {
			return nil, nil, fmt.Errorf("%w: short float", ErrCodec)
		}
		return math.Float32frombits(binary.BigEndian.Uint32(b)), b[4:], nil
	case tagString:
		s, rest, err := readString(b)
		return s, rest, err
	case tagBytes:
		s, rest, err := readString(b)
		return []byte(s), rest, err
	case tagRat:
		num, rest, err := readString(b)
		if err != nil {
			return nil, nil, err
		}
		den, rest, err := readString(rest)
		if err != nil {
			return nil, nil, err
		}
		r, ok := new(big.Rat).SetString(num + "/" + den)
		if !ok {
			return nil, nil, fmt.Errorf("%w: bad decimal", ErrCodec)
		}
		return r, rest, nil
	case tagStrings, tagStringMap, tagArray, tagMap:
		return readContainer(tag, b)
	}
	return nil, nil, fmt.Errorf("%w: unknown tag %d", ErrCodec, tag)
}

func readContainer(tag byte, b []byte) (any, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, nil, fmt.Errorf("%w: bad length", ErrCodec)
	}
	b = b[k:]
	var err error
	switch tag {
	case tagStrings:
		out := make([]string, n)
		for i := range out {
			if out[i], b, err = readString(b); err != nil {
				return nil, nil, err
			}
		}
		return out, b, nil
	case tagStringMap:
		out := make(map[string]string, n)
		for range n {
			var key, val string
			if key, b, err = readString(b); err != nil {
				return nil, nil, err
			}
			if val, b, err = readString(b); err != nil {
				return nil, nil, err
			}
			out[key] = val
		}
		return out, b, nil
	case tagArray:
		out := make([]any, n)
		for i := range out {
			if out[i], b, err = ReadValue(b); err != nil {
				return nil, nil, err
			}
		}
		return out, b, nil
	}
	out := make(map[string]any, n)
	for range n {
		var key string
		if key, b, err = readString(b); err != nil {
			return nil, nil, err
		}
		if out[key], b, err = ReadValue(b); err != nil {
			return nil, nil, err
		}
	}
	return out, b, nil
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, fmt.Errorf("%w: bad string length", ErrCodec)
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

// EncodeKey encodes primary-key values into the string used as
// Output.Key for tables.
func EncodeKey(vals []any) (string, error) {
	b, err := appendKey(nil, vals)
	return string(b), err
}

// appendKey appends the encoding of EncodeKey to b.
func appendKey(b []byte, vals []any) ([]byte, error) {
	var err error
	for _, v := range vals {
		if b, err = AppendValue(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}
