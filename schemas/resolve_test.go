package schemas

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestNestedAndTopLevelRecordsAgree: a record resolves the same whether it
// is the top-level type (decoded field by field into the reader's map) or
// nested (goavro's map converted in place, or rebuilt when the reader has
// more fields than a small map holds). The goldens cover both paths for
// small records; this covers the rebuild with renames, drops, defaults,
// conversions and a writer field read twice.
func TestNestedAndTopLevelRecordsAgree(t *testing.T) {
	var wf, rf []string
	for i := range 8 {
		wf = append(wf, fmt.Sprintf(`{"name":"w%d","type":"int"}`, i))
	}
	rf = append(rf,
		`{"name":"w0","type":"int"}`,
		`{"name":"w1","type":"long"}`,                    // promoted
		`{"name":"r2","aliases":["w2"],"type":"double"}`, // renamed and promoted
		`{"name":"w3","type":"int"}`,
		`{"name":"again","aliases":["w3"],"type":"long"}`, // w3 read twice
		`{"name":"w5","type":"int"}`,
		`{"name":"d1","type":{"type":"array","items":"int"},"default":[1,2]}`,
		`{"name":"d2","type":["null","string"],"default":null}`,
		`{"name":"d3","type":"string","default":"x"}`,
	) // w4, w6, w7 dropped
	rec := func(name string, fields []string) string {
		return `{"type":"record","name":"` + name + `","fields":[` + strings.Join(fields, ",") + `]}`
	}
	wTop, rTop := mustParse(t, rec("R", wf)), mustParse(t, rec("R", rf))
	wNest := mustParse(t, `{"type":"record","name":"Outer","fields":[{"name":"in","type":`+rec("R", wf)+`}]}`)
	rNest := mustParse(t, `{"type":"record","name":"Outer","fields":[{"name":"in","type":`+rec("R", rf)+`}]}`)
	value := map[string]any{}
	for i := range 8 {
		value[fmt.Sprintf("w%d", i)] = int32(i * 10)
	}
	top, err := NewResolver(wTop, rTop)
	if err != nil {
		t.Fatal(err)
	}
	nest, err := NewResolver(wNest, rNest)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := wTop.AppendBinary(nil, value)
	gotTop, err := top.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	nbody, _ := wNest.AppendBinary(nil, map[string]any{"in": value})
	gotNest, err := nest.Decode(nbody)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"w0": int32(0), "w1": int64(10), "r2": float64(20), "w3": int32(30), "again": int64(30), "w5": int32(50),
		"d1": []any{int32(1), int32(2)}, "d2": nil, "d3": "x",
	}
	if !reflect.DeepEqual(gotTop, want) {
		t.Errorf("top-level: %#v", gotTop)
	}
	if in := gotNest.(map[string]any)["in"]; !reflect.DeepEqual(in, want) {
		t.Errorf("nested: %#v", in)
	}
	// Defaults are fresh per datum: changing one result leaves the next alone.
	gotTop.(map[string]any)["d1"].([]any)[0] = int32(99)
	again, _ := top.Decode(body)
	if again.(map[string]any)["d1"].([]any)[0] != int32(1) {
		t.Error("a default array is shared between datums")
	}
}
