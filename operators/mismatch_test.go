package operators

import (
	"reflect"
	"testing"
	"time"
)

// The view of a mismatch answers every path as its native record does.
func TestMismatchViewMatchesNative(t *testing.T) {
	l, r := "500", "499"
	m := &Mismatch{ID: OutputID{1, 2}, Key: "p1", Graph: "payments", GraphVersion: 3, Reconciler: "amounts", Status: Open,
		Reasons:   []Reason{{Kind: FieldMismatch, Field: "amount_minor", Left: &l, Right: &r}},
		Left:      []Provenance{{Topic: "payments", Partition: 0, Offset: 7, Time: time.Date(2026, 1, 1, 9, 0, 0, 1, time.UTC)}},
		Right:     []Provenance{{Topic: "ledger", Partition: 0, Offset: 9, Time: time.Date(2026, 1, 1, 9, 1, 0, 0, time.UTC)}},
		EventTime: time.Date(2026, 1, 1, 9, 1, 0, 123456789, time.UTC)}
	native := m.Native()
	for _, path := range []string{"id", "key", "graph", "graph_version", "reconciler", "status", "reasons", "left", "right", "event_time", "nope"} {
		p, err := ParsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		want, wantOK := p.Lookup(native)
		got, gotOK := (&mismatchView{m: *m}).lookup(p)
		if gotOK != wantOK || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: view gives %#v (%v), native record %#v (%v)", path, got, gotOK, want, wantOK)
		}
	}
	if native["event_time"] != time.Date(2026, 1, 1, 9, 1, 0, 123000000, time.UTC) {
		t.Errorf("event_time %v is not truncated to milliseconds", native["event_time"])
	}
}
