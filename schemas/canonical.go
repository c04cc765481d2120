package schemas

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Canonical returns the schema's Parsing Canonical Form, as the Avro
// specification defines it: full names, only the attributes that matter
// for reading (type, name, fields, symbols, items, values, size), in that
// order, no whitespace. Two schemas with the same canonical form read and
// write the same bytes.
func (s *Schema) Canonical() string { return s.canonical }

// Fingerprint returns the CRC-64-AVRO (Rabin) fingerprint of the canonical
// form, the one Avro's single-object encoding uses.
func (s *Schema) Fingerprint() uint64 { return rabin(s.canonical) }

func canonicalForm(root *node) string {
	var b strings.Builder
	writeCanonical(&b, root, map[*node]bool{})
	return b.String()
}

func writeCanonical(b *strings.Builder, n *node, defined map[*node]bool) {
	quote := func(s string) {
		q, _ := json.Marshal(s)
		b.Write(q)
	}
	if n.kind.named() && defined[n] {
		quote(n.fullName)
		return
	}
	switch n.kind {
	case kUnion:
		b.WriteByte('[')
		for i, br := range n.branches {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, br, defined)
		}
		b.WriteByte(']')
	case kRecord:
		defined[n] = true
		b.WriteString(`{"name":`)
		quote(n.fullName)
		b.WriteString(`,"type":"record","fields":[`)
		for i, f := range n.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"name":`)
			quote(f.name)
			b.WriteString(`,"type":`)
			writeCanonical(b, f.typ, defined)
			b.WriteByte('}')
		}
		b.WriteString("]}")
	case kEnum:
		defined[n] = true
		b.WriteString(`{"name":`)
		quote(n.fullName)
		b.WriteString(`,"type":"enum","symbols":[`)
		for i, s := range n.symbols {
			if i > 0 {
				b.WriteByte(',')
			}
			quote(s)
		}
		b.WriteString("]}")
	case kFixed:
		defined[n] = true
		b.WriteString(`{"name":`)
		quote(n.fullName)
		b.WriteString(`,"type":"fixed","size":`)
		b.WriteString(strconv.Itoa(n.size))
		b.WriteByte('}')
	case kArray:
		b.WriteString(`{"type":"array","items":`)
		writeCanonical(b, n.items, defined)
		b.WriteByte('}')
	case kMap:
		b.WriteString(`{"type":"map","values":`)
		writeCanonical(b, n.values, defined)
		b.WriteByte('}')
	default:
		quote(n.kind.String())
	}
}

// rabinTable is the CRC-64-AVRO table of the specification.
var rabinTable = func() (t [256]uint64) {
	const empty = 0xc15d213aa4d7a795
	for i := range t {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (empty & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()

func rabin(s string) uint64 {
	fp := uint64(0xc15d213aa4d7a795)
	for i := 0; i < len(s); i++ {
		fp = (fp >> 8) ^ rabinTable[byte(fp)^s[i]]
	}
	return fp
}
