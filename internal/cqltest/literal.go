package cqltest

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/big"
	"net"
	"strconv"
	"strings"
	"time"

	"gopkg.in/inf.v0"
)

// encodeLiteral serializes a CQL constant as a value of typ.
func encodeLiteral(l *literal, typ *cqlType) ([]byte, error) {
	bad := func() error {
		return invalidErr("invalid %s constant (%s) for a %s value", literalKind(l), l.text, typ)
	}
	if l.kind == tIdent && l.text == "null" {
		return nil, nil
	}
	switch l.kind {
	case tString:
		switch typ.kind {
		case kVarchar:
			return []byte(l.text), nil
		case kAscii:
			b := []byte(l.text)
			return b, typ.validate(b)
		case kTimestamp:
			ms, err := parseTimestamp(l.text)
			if err != nil {
				return nil, invalidErr("unable to parse a timestamp from %q", l.text)
			}
			return binary.BigEndian.AppendUint64(nil, uint64(ms)), nil
		case kDate:
			d, err := time.Parse("2006-01-02", l.text)
			if err != nil {
				return nil, invalidErr("unable to parse a date from %q", l.text)
			}
			days := d.Unix()/86400 + 1<<31
			return binary.BigEndian.AppendUint32(nil, uint32(days)), nil
		case kInet:
			ip := net.ParseIP(l.text)
			if ip == nil {
				return nil, invalidErr("unable to parse an inet address from %q", l.text)
			}
			if v4 := ip.To4(); v4 != nil {
				return []byte(v4), nil
			}
			return []byte(ip), nil
		case kUUID, kTimeUUID:
			return encodeLiteral(&literal{kind: tUUID, text: l.text}, typ)
		}
	case tInt:
		if l.kind == tInt && (typ.kind == kDouble || typ.kind == kFloat || typ.kind == kDecimal) {
			return encodeLiteral(&literal{kind: tFloat, text: l.text, neg: l.neg}, typ)
		}
		n, ok := new(big.Int).SetString(l.text, 10)
		if !ok {
			return nil, bad()
		}
		if l.neg {
			n.Neg(n)
		}
		bits := map[kind]int{kBigint: 64, kCounter: 64, kTimestamp: 64, kTime: 64, kInt: 32, kSmallint: 16, kTinyint: 8}
		if typ.kind == kVarint {
			return varintBytes(n), nil
		}
		b, ok := bits[typ.kind]
		if !ok {
			return nil, bad()
		}
		if !n.IsInt64() || n.Int64() < -(1<<(b-1)) || n.Int64() > 1<<(b-1)-1 {
			return nil, invalidErr("%s is out of range for a %s value", n, typ)
		}
		out := binary.BigEndian.AppendUint64(nil, uint64(n.Int64()))
		return out[8-b/8:], nil
	case tFloat:
		switch typ.kind {
		case kDouble, kFloat:
			f, err := strconv.ParseFloat(l.text, 64)
			if err != nil {
				return nil, bad()
			}
			if l.neg {
				f = -f
			}
			return encodeFloat(f, typ), nil
		case kDecimal:
			text := l.text
			if l.neg {
				text = "-" + text
			}
			d, ok := new(inf.Dec).SetString(strings.ToLower(text))
			if !ok {
				return nil, bad()
			}
			return encodeDecimal(d), nil
		}
	case tIdent:
		switch {
		case typ.kind == kBoolean && (l.text == "true" || l.text == "false"):
			if l.text == "true" {
				return []byte{1}, nil
			}
			return []byte{0}, nil
		case (typ.kind == kDouble || typ.kind == kFloat) && l.text == "nan":
			return encodeFloat(math.NaN(), typ), nil
		case (typ.kind == kDouble || typ.kind == kFloat) && l.text == "infinity":
			sign := 1
			if l.neg {
				sign = -1
			}
			return encodeFloat(math.Inf(sign), typ), nil
		}
	case tUUID:
		if typ.kind != kUUID && typ.kind != kTimeUUID {
			return nil, bad()
		}
		u, err := hex.DecodeString(strings.ReplaceAll(l.text, "-", ""))
		if err != nil || len(u) != 16 {
			return nil, invalidErr("invalid UUID %q", l.text)
		}
		return u, typ.validate(u)
	case tHex:
		if typ.kind != kBlob {
			return nil, bad()
		}
		if len(l.text)%2 != 0 {
			return nil, invalidErr("hex string 0x%s has an odd length", l.text)
		}
		b, err := hex.DecodeString(l.text)
		if err != nil {
			return nil, invalidErr("invalid hex string 0x%s", l.text)
		}
		return b, nil
	}
	return nil, bad()
}

func literalKind(l *literal) string {
	switch l.kind {
	case tString:
		return "STRING"
	case tInt:
		return "INTEGER"
	case tFloat:
		return "FLOAT"
	case tUUID:
		return "UUID"
	case tHex:
		return "HEX"
	}
	return "BOOLEAN"
}

func encodeFloat(f float64, typ *cqlType) []byte {
	if typ.kind == kFloat {
		return binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(f)))
	}
	return binary.BigEndian.AppendUint64(nil, math.Float64bits(f))
}

func encodeDecimal(d *inf.Dec) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(int32(d.Scale())))
	return append(b, varintBytes(d.UnscaledBig())...)
}

// parseTimestamp parses the timestamp literal formats Cassandra accepts
// (a subset: ISO 8601 with optional time, fraction and zone).
func parseTimestamp(s string) (int64, error) {
	layouts := []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999Z0700",
		"2006-01-02 15:04:05.999Z07:00",
		"2006-01-02 15:04:05.999Z0700",
		"2006-01-02 15:04:05.999",
		"2006-01-02T15:04:05.999",
		"2006-01-02 15:04Z0700",
		"2006-01-02 15:04",
		"2006-01-02",
	}
	var err error
	for _, l := range layouts {
		var t time.Time
		if t, err = time.Parse(l, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, err
}

// randomUUID returns a version 4 UUID.
func randomUUID() [16]byte {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// timeUUID returns a version 1 UUID for t with a random clock sequence
// and node.
func timeUUID(t time.Time) [16]byte {
	const gregorianOffset = 0x01B21DD213814000 // 100ns intervals from 1582-10-15 to 1970-01-01
	ts := uint64(t.UnixNano()/100) + gregorianOffset
	u := randomUUID()
	binary.BigEndian.PutUint32(u[0:4], uint32(ts))
	binary.BigEndian.PutUint16(u[4:6], uint16(ts>>32))
	binary.BigEndian.PutUint16(u[6:8], uint16(ts>>48)&0x0fff|0x1000)
	return u
}
