package cqltest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"net"
	"slices"
	"time"
	"unicode/utf8"

	"gopkg.in/inf.v0"
)

// kind is a CQL type's option id in the native protocol.
type kind uint16

const (
	kAscii     kind = 0x0001
	kBigint    kind = 0x0002
	kBlob      kind = 0x0003
	kBoolean   kind = 0x0004
	kCounter   kind = 0x0005
	kDecimal   kind = 0x0006
	kDouble    kind = 0x0007
	kFloat     kind = 0x0008
	kInt       kind = 0x0009
	kTimestamp kind = 0x000B
	kUUID      kind = 0x000C
	kVarchar   kind = 0x000D
	kVarint    kind = 0x000E
	kTimeUUID  kind = 0x000F
	kInet      kind = 0x0010
	kDate      kind = 0x0011
	kTime      kind = 0x0012
	kSmallint  kind = 0x0013
	kTinyint   kind = 0x0014
	kList      kind = 0x0020
	kMap       kind = 0x0021
	kSet       kind = 0x0022
)

// cqlType is a CQL data type: a native type, or a collection of them.
type cqlType struct {
	kind   kind
	elem   *cqlType // element of a list or set, key of a map
	value  *cqlType // value of a map
	frozen bool
}

// nativeTypes maps the CQL names of native types to their kinds.
var nativeTypes = map[string]kind{
	"ascii": kAscii, "bigint": kBigint, "blob": kBlob, "boolean": kBoolean,
	"counter": kCounter, "decimal": kDecimal, "double": kDouble, "float": kFloat,
	"int": kInt, "timestamp": kTimestamp, "uuid": kUUID, "varchar": kVarchar,
	"text": kVarchar, "varint": kVarint, "timeuuid": kTimeUUID, "inet": kInet,
	"date": kDate, "time": kTime, "smallint": kSmallint, "tinyint": kTinyint,
}

var (
	typeText      = &cqlType{kind: kVarchar}
	typeBigint    = &cqlType{kind: kBigint}
	typeInt       = &cqlType{kind: kInt}
	typeBoolean   = &cqlType{kind: kBoolean}
	typeUUID      = &cqlType{kind: kUUID}
	typeInet      = &cqlType{kind: kInet}
	typeDouble    = &cqlType{kind: kDouble}
	typeBlob      = &cqlType{kind: kBlob}
	typeTextSet   = &cqlType{kind: kSet, elem: typeText}
	typeTextList  = &cqlType{kind: kList, elem: typeText, frozen: true}
	typeTextMap   = &cqlType{kind: kMap, elem: typeText, value: typeText, frozen: true}
	typeTextBlobs = &cqlType{kind: kMap, elem: typeText, value: typeBlob, frozen: true}
)

func (t *cqlType) isCollection() bool {
	return t.kind == kList || t.kind == kSet || t.kind == kMap
}

// String returns the type as CQL writes it, as system_schema.columns shows it.
func (t *cqlType) String() string {
	var s string
	switch t.kind {
	case kList:
		s = "list<" + t.elem.String() + ">"
	case kSet:
		s = "set<" + t.elem.String() + ">"
	case kMap:
		s = "map<" + t.elem.String() + ", " + t.value.String() + ">"
	case kVarchar:
		s = "text"
	default:
		for name, k := range nativeTypes {
			if k == t.kind && name != "varchar" {
				s = name
			}
		}
	}
	if t.frozen && t.isCollection() {
		return "frozen<" + s + ">"
	}
	return s
}

// writeOption writes t as a protocol [option].
func (t *cqlType) writeOption(w *writer) {
	w.short(uint16(t.kind))
	switch t.kind {
	case kList, kSet:
		t.elem.writeOption(w)
	case kMap:
		t.elem.writeOption(w)
		t.value.writeOption(w)
	}
}

// fixedSize is the encoded size of fixed-width kinds, 0 for the others.
func fixedSize(k kind) int {
	switch k {
	case kBigint, kCounter, kDouble, kTimestamp, kTime:
		return 8
	case kInt, kFloat, kDate:
		return 4
	case kSmallint:
		return 2
	case kTinyint, kBoolean:
		return 1
	case kUUID, kTimeUUID:
		return 16
	}
	return 0
}

// validate reports whether v is a well-formed serialized value of t. A nil v
// (null) and an empty v (an "empty" value, as Cassandra allows for
// non-collection types) are valid.
func (t *cqlType) validate(v []byte) error {
	if len(v) == 0 {
		return nil
	}
	if n := fixedSize(t.kind); n != 0 && len(v) != n {
		return invalidErr("expected %d bytes for a %s value, got %d", n, t, len(v))
	}
	switch t.kind {
	case kAscii:
		for _, c := range v {
			if c >= 0x80 {
				return invalidErr("invalid ASCII byte 0x%02x in ascii value", c)
			}
		}
	case kVarchar:
		if !utf8.Valid(v) {
			return invalidErr("invalid UTF-8 in text value")
		}
	case kDecimal:
		if len(v) < 4 {
			return invalidErr("expected at least 4 bytes for a decimal value, got %d", len(v))
		}
	case kInet:
		if len(v) != 4 && len(v) != 16 {
			return invalidErr("expected 4 or 16 bytes for an inet value, got %d", len(v))
		}
	case kTimeUUID:
		if v[6]>>4 != 1 {
			return invalidErr("unsupported UUID version %d for a timeuuid value", v[6]>>4)
		}
	case kList, kSet, kMap:
		elems, err := splitCollection(t, v)
		if err != nil {
			return err
		}
		for i, e := range elems {
			et := t.elem
			if t.kind == kMap && i%2 == 1 {
				et = t.value
			}
			if e == nil {
				return invalidErr("null is not supported inside collections")
			}
			if err := et.validate(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitCollection returns the elements of a serialized collection; for a
// map, keys and values alternate.
func splitCollection(t *cqlType, v []byte) ([][]byte, error) {
	r := reader{b: v}
	n := r.int()
	if n < 0 {
		return nil, invalidErr("negative element count in %s value", t)
	}
	per := 1
	if t.kind == kMap {
		per = 2
	}
	var out [][]byte
	for i := 0; i < int(n)*per && r.err == nil; i++ {
		e := r.bytes()
		out = append(out, e)
	}
	if r.err != nil {
		return nil, invalidErr("malformed %s value", t)
	}
	if len(r.b) != 0 {
		return nil, invalidErr("%d trailing bytes after %s value", len(r.b), t)
	}
	return out, nil
}

// joinCollection serializes the elements of a collection of n entries.
func joinCollection(n int, elems [][]byte) []byte {
	var w writer
	w.int(int32(n))
	for _, e := range elems {
		w.bytes(e)
	}
	return w.b
}

// normalizeCollection sorts and deduplicates the elements of a set and the
// keys of a map, as Cassandra stores them. An empty collection that is not
// frozen is null.
func normalizeCollection(t *cqlType, v []byte) []byte {
	if v == nil || !t.isCollection() {
		return v
	}
	elems, err := splitCollection(t, v)
	if err != nil {
		return v
	}
	if len(elems) == 0 && !t.frozen {
		return nil
	}
	switch t.kind {
	case kSet:
		slices.SortStableFunc(elems, func(a, b []byte) int { return t.elem.compare(a, b) })
		elems = slices.CompactFunc(elems, func(a, b []byte) bool { return t.elem.compare(a, b) == 0 })
		return joinCollection(len(elems), elems)
	case kMap:
		type pair struct{ k, v []byte }
		pairs := make([]pair, 0, len(elems)/2)
		for i := 0; i+1 < len(elems); i += 2 {
			pairs = append(pairs, pair{elems[i], elems[i+1]})
		}
		slices.SortStableFunc(pairs, func(a, b pair) int { return t.elem.compare(a.k, b.k) })
		var flat [][]byte
		for i, p := range pairs {
			if i+1 < len(pairs) && t.elem.compare(p.k, pairs[i+1].k) == 0 {
				continue // the last value for a key wins
			}
			flat = append(flat, p.k, p.v)
		}
		return joinCollection(len(flat)/2, flat)
	}
	return v
}

// compare orders two serialized values of t as Cassandra orders them in
// primary keys; null and empty values sort first.
func (t *cqlType) compare(a, b []byte) int {
	switch {
	case len(a) == 0 || len(b) == 0:
		return cmpInt(len(a), len(b))
	}
	switch t.kind {
	case kBigint, kCounter, kTimestamp, kTime, kInt, kSmallint, kTinyint:
		return cmpInt64(signedInt(a), signedInt(b))
	case kDate:
		return cmpInt64(int64(binary.BigEndian.Uint32(a)), int64(binary.BigEndian.Uint32(b)))
	case kDouble, kFloat:
		x, y := floatOf(a), floatOf(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case kVarint:
		return bigIntOf(a).Cmp(bigIntOf(b))
	case kDecimal:
		return decimalOf(a).Cmp(decimalOf(b))
	case kTimeUUID:
		if c := cmpInt64(uuidTime(a), uuidTime(b)); c != 0 {
			return c
		}
	}
	return bytes.Compare(a, b)
}

func cmpInt(a, b int) int { return cmpInt64(int64(a), int64(b)) }

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func signedInt(v []byte) int64 {
	var n int64
	if len(v) > 0 && v[0]&0x80 != 0 {
		n = -1
	}
	for _, c := range v {
		n = n<<8 | int64(c)
	}
	return n
}

func floatOf(v []byte) float64 {
	if len(v) == 4 {
		return float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(v))
}

// bigIntOf decodes a two's-complement big-endian varint.
func bigIntOf(v []byte) *big.Int {
	n := new(big.Int).SetBytes(v)
	if len(v) > 0 && v[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(v)*8)))
	}
	return n
}

// varintBytes encodes n as a minimal two's-complement big-endian varint.
func varintBytes(n *big.Int) []byte {
	switch n.Sign() {
	case 0:
		return []byte{0}
	case 1:
		b := n.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// two's complement of a negative number: 2^(8k) + n for the least k
	// that keeps the sign bit set.
	k := len(n.Bytes()) + 1
	b := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), uint(8*k)), n).Bytes()
	for len(b) < k {
		b = append([]byte{0xff}, b...)
	}
	for len(b) > 1 && b[0] == 0xff && b[1]&0x80 != 0 {
		b = b[1:]
	}
	return b
}

func decimalOf(v []byte) *inf.Dec {
	scale := int32(binary.BigEndian.Uint32(v[:4]))
	return inf.NewDecBig(bigIntOf(v[4:]), inf.Scale(scale))
}

// uuidTime returns the 60-bit timestamp of a version 1 UUID.
func uuidTime(u []byte) int64 {
	low := int64(binary.BigEndian.Uint32(u[0:4]))
	mid := int64(binary.BigEndian.Uint16(u[4:6]))
	hi := int64(binary.BigEndian.Uint16(u[6:8]) & 0x0fff)
	return hi<<48 | mid<<32 | low
}

// decode returns a serialized value of t as a Go value, as Rows documents.
func (t *cqlType) decode(v []byte) any {
	if v == nil {
		return nil
	}
	if len(v) == 0 && !t.isCollection() && t.kind != kVarchar && t.kind != kAscii && t.kind != kBlob {
		return nil
	}
	switch t.kind {
	case kAscii, kVarchar:
		return string(v)
	case kBigint, kCounter, kTime:
		return signedInt(v)
	case kInt:
		return int32(signedInt(v))
	case kSmallint:
		return int16(signedInt(v))
	case kTinyint:
		return int8(signedInt(v))
	case kBoolean:
		return v[0] != 0
	case kDouble:
		return floatOf(v)
	case kFloat:
		return float32(floatOf(v))
	case kTimestamp:
		return time.UnixMilli(signedInt(v)).UTC()
	case kDate:
		days := int64(binary.BigEndian.Uint32(v)) - 1<<31
		return time.Unix(days*86400, 0).UTC()
	case kBlob:
		return slices.Clone(v)
	case kDecimal:
		return decimalOf(v)
	case kVarint:
		return bigIntOf(v)
	case kUUID, kTimeUUID:
		var u [16]byte
		copy(u[:], v)
		return u
	case kInet:
		return net.IP(slices.Clone(v))
	case kList, kSet:
		elems, _ := splitCollection(t, v)
		out := make([]any, 0, len(elems))
		for _, e := range elems {
			out = append(out, t.elem.decode(e))
		}
		return out
	case kMap:
		elems, _ := splitCollection(t, v)
		out := make(map[any]any, len(elems)/2)
		for i := 0; i+1 < len(elems); i += 2 {
			k := t.elem.decode(elems[i])
			if b, ok := k.([]byte); ok {
				k = string(b)
			}
			out[mapKey(k)] = t.value.decode(elems[i+1])
		}
		return out
	}
	return slices.Clone(v)
}

// mapKey makes a decoded map key comparable.
func mapKey(k any) any {
	switch k := k.(type) {
	case *big.Int:
		return k.String()
	case *inf.Dec:
		return k.String()
	case net.IP:
		return k.String()
	case []any:
		return fmt.Sprint(k)
	}
	return k
}
