package schemas

import (
	"errors"
	"strings"
	"testing"
)

// TestCanonicalAndFingerprint: the Parsing Canonical Form and its
// CRC-64-AVRO fingerprint. goavro computes both too; they must agree
// wherever goavro follows the specification (it keeps logical types as
// {"type":"long"}, where the specification says "long").
func TestCanonicalAndFingerprint(t *testing.T) {
	if got := rabin(`"int"`); got != 0x7275d51a3f395c8f {
		t.Errorf(`fingerprint of "int" = %#x, want the specification's 0x7275d51a3f395c8f`, got)
	}
	for _, g := range loadGoldens(t) {
		for _, text := range []string{string(g.Writer), string(g.Reader)} {
			s := mustParse(t, text)
			if strings.Contains(text, "logicalType") {
				continue
			}
			if s.Canonical() != s.codec.CanonicalSchema() {
				t.Errorf("%s: canonical form\n %s\ngoavro's\n %s", g.Name, s.Canonical(), s.codec.CanonicalSchema())
			}
			if s.Fingerprint() != s.codec.Rabin {
				t.Errorf("%s: fingerprint %#x, goavro's %#x", g.Name, s.Fingerprint(), s.codec.Rabin)
			}
		}
	}
	a := mustParse(t, `{"type":"long","logicalType":"timestamp-millis","doc":"x"}`)
	if a.Canonical() != `"long"` {
		t.Errorf("canonical form of a logical long: %s", a.Canonical())
	}
	b := mustParse(t, `{"namespace":"n","type":"record","name":"R","doc":"d","fields":[{"name":"a","type":{"type":"fixed","name":"F","size":2},"default":"xy"},{"name":"b","type":"F","aliases":["c"]}]}`)
	if want := `{"name":"n.R","type":"record","fields":[{"name":"a","type":{"name":"n.F","type":"fixed","size":2}},{"name":"b","type":"n.F"}]}`; b.Canonical() != want {
		t.Errorf("canonical form\n %s\nwant\n %s", b.Canonical(), want)
	}
	if b.String() != `{"namespace":"n","type":"record","name":"R","doc":"d","fields":[{"name":"a","type":{"type":"fixed","name":"F","size":2},"default":"xy"},{"name":"b","type":"F","aliases":["c"]}]}` {
		t.Errorf("String() = %s", b.String())
	}
}

// TestParseErrors: invalid schemas are refused with ErrBadSchema and a
// message that says where.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ schema, want string }{
		{`{`, "unexpected end"},
		{`42`, "a type must be a name"},
		{`"nope"`, `unknown type "nope"`},
		{`{"type":"record","name":"R"}`, `"fields" array`},
		{`{"type":"record","name":"1R","fields":[]}`, "invalid name"},
		{`{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}`, "defined twice"},
		{`{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}`, "/fields/0: default: int default must be a number"},
		{`{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":2147483648}]}`, "out of range"},
		{`{"type":"record","name":"R","fields":[{"name":"a","type":["null","int"],"default":"x"}]}`, "union default fits no branch"},
		{`{"type":"enum","name":"E","symbols":["A","A"]}`, "listed twice"},
		{`{"type":"enum","name":"E","symbols":["A"],"default":"B"}`, "must be one of its symbols"},
		{`{"type":"fixed","name":"F","size":-1}`, "must not be negative"},
		{`{"type":"bytes","logicalType":"decimal","precision":2,"scale":3}`, "scale <= precision"},
		{`{"type":"fixed","name":"F","size":2,"logicalType":"decimal","precision":9}`, "does not fit fixed size 2"},
		{`["int",["null"]]`, "may not contain a union"},
		{`["int","int"]`, "has int twice"},
		{`[{"type":"record","name":"R","fields":[]},"R"]`, "has R twice"},
		{`{"type":"array"}`, `without "items"`},
		{`{"type":"record","name":"int","fields":[]}`, "primitive type name"},
	} {
		_, err := Parse(c.schema)
		if !errors.Is(err, ErrBadSchema) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s): %v, want ErrBadSchema saying %q", c.schema, err, c.want)
		}
	}
}

// TestParseNames: namespaces, references and aliases as the specification
// resolves them.
func TestParseNames(t *testing.T) {
	s := mustParse(t, `{"type":"record","name":"a.b.R","namespace":"ignored","aliases":["Old","x.Older"],"fields":[
		{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}},
		{"name":"e2","type":"E"},
		{"name":"e3","type":"a.b.E"},
		{"name":"f","type":{"type":"fixed","name":"F","namespace":"","size":1}},
		{"name":"f2","type":"F"}
	]}`)
	if s.root.fullName != "a.b.R" || strings.Join(s.root.aliases, ",") != "a.b.Old,x.Older" {
		t.Errorf("name %s aliases %v", s.root.fullName, s.root.aliases)
	}
	e := s.root.fieldIndex["e"].typ
	if e.fullName != "a.b.E" || s.root.fieldIndex["e2"].typ != e || s.root.fieldIndex["e3"].typ != e {
		t.Error("references to E do not resolve to its definition")
	}
	if f := s.root.fieldIndex["f"].typ; f.fullName != "F" || s.root.fieldIndex["f2"].typ != f {
		t.Errorf("fixed in the null namespace: %s", f.fullName)
	}
}

func TestParseLevel(t *testing.T) {
	for _, l := range []Level{Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive, None} {
		got, err := ParseLevel(strings.ToLower(l.String()))
		if err != nil || got != l {
			t.Errorf("ParseLevel(%s) = %v, %v", l, got, err)
		}
	}
	if _, err := ParseLevel("SIDEWAYS"); err == nil {
		t.Error("ParseLevel accepted SIDEWAYS")
	}
}

// TestCheckLevels: which schemas of the history each level checks, and in
// which direction.
func TestCheckLevels(t *testing.T) {
	rec := func(fields string) *Schema {
		return mustParse(t, `{"type":"record","name":"R","fields":[`+fields+`]}`)
	}
	// v1 has a; v2 adds b with a default; v3 drops a (a had no default).
	v1 := rec(`{"name":"a","type":"int"}`)
	v2 := rec(`{"name":"a","type":"int"},{"name":"b","type":"string","default":""}`)
	v3 := rec(`{"name":"b","type":"string","default":""}`)
	// The candidate widens a to long (v1 and v2 cannot read it) and requires
	// c, which no writer has.
	cand := rec(`{"name":"a","type":"long"},{"name":"b","type":"string","default":""},{"name":"c","type":"long"}`)
	history := []*Schema{v1, v2, v3}
	type key struct {
		version int
		dir     Direction
	}
	for _, c := range []struct {
		level Level
		want  []key
	}{
		{None, nil},
		{Backward, []key{{3, CandidateReads}, {3, CandidateReads}}},
		{Forward, []key{}},
		{Full, []key{{3, CandidateReads}, {3, CandidateReads}}},
		{BackwardTransitive, []key{{1, CandidateReads}, {2, CandidateReads}, {3, CandidateReads}, {3, CandidateReads}}},
		{ForwardTransitive, []key{{1, HistoryReads}, {2, HistoryReads}}},
		{FullTransitive, []key{{1, CandidateReads}, {1, HistoryReads}, {2, CandidateReads}, {2, HistoryReads}, {3, CandidateReads}, {3, CandidateReads}}},
	} {
		incs := Check(c.level, cand, history)
		var got []key
		for _, inc := range incs {
			got = append(got, key{inc.Version, inc.Direction})
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %v", c.level, incs)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v", c.level, incs)
				break
			}
		}
	}
	if incs := Check(Full, cand, nil); incs != nil {
		t.Errorf("empty history: %v", incs)
	}
}
