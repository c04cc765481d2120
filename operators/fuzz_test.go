package operators_test

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/operators"
)

// FuzzReadValue: no input panics; every failure wraps ErrCodec; whatever
// decodes re-encodes to the bytes it was read from.
func FuzzReadValue(f *testing.F) {
	for _, v := range []any{
		nil, true, int64(-3), int32(7), 3, 1.5, float32(2.5), "s", []byte{1, 2},
		time.Unix(5, 0).UTC(), big.NewRat(1, 3), []string{"a"}, map[string]string{"k": "v"},
		[]any{int64(1), "x"}, map[string]any{"a": map[string]any{"long": int64(1)}},
	} {
		b, err := operators.AppendValue(nil, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0b, 0xff, 0xff, 0xff, 0xff, 0x0f}) // an array claiming 2^32 items
	f.Fuzz(func(t *testing.T, b []byte) {
		v, rest, err := operators.ReadValue(b)
		if err != nil {
			if !errors.Is(err, operators.ErrCodec) {
				t.Fatalf("error %v does not wrap ErrCodec", err)
			}
			return
		}
		again, err := operators.AppendValue(nil, v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		used := b[:len(b)-len(rest)]
		if v, ok := v.(*big.Rat); ok && v != nil {
			// A rational reads in lowest terms; only its value must survive.
			w, _, err := operators.ReadValue(again)
			if err != nil || w.(*big.Rat).Cmp(v) != 0 {
				t.Fatalf("rational did not round-trip: %v", err)
			}
			return
		}
		if m, ok := v.(map[string]any); ok && len(m) > 1 || isStringMap(v) {
			return // duplicate keys in the input collapse; order is canonical
		}
		if !bytes.Equal(again, used) && !containsMapOrRat(v) {
			t.Fatalf("round trip changed bytes:\n%x\n%x", used, again)
		}
	})
}

func isStringMap(v any) bool { _, ok := v.(map[string]string); return ok }

func containsMapOrRat(v any) bool {
	switch x := v.(type) {
	case map[string]any, map[string]string, *big.Rat:
		return true
	case []any:
		for _, e := range x {
			if containsMapOrRat(e) {
				return true
			}
		}
	}
	return false
}

// FuzzRestore: a snapshot from anywhere never panics a task; every failure
// wraps ErrBadSnapshot or ErrCodec; a restored task snapshots to the same
// bytes it was restored from.
func FuzzRestore(f *testing.F) {
	g := parityGraph(f)
	task, err := g.NewTask(0)
	if err != nil {
		f.Fatal(err)
	}
	for i, at := range []int{0, 5, 3, 20} {
		for _, topic := range []string{"left", "right"} {
			v := map[string]any{"id": "p0-k1", "grp": "g", "amount": int64(97), "fee": 0.5,
				"status": "CAPTURED", "dir": "CREDIT", "at": base.Add(time.Duration(at) * time.Minute)}
			if topic == "left" {
				v["id"] = map[string]any{"string": "p0-k1"}
			}
			_ = task.Process(&operators.Record{Topic: topic, Offset: int64(i), Value: v})
		}
	}
	task.Outputs()
	snap, err := task.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	f.Add(snap[:len(snap)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		task, err := g.NewTask(0)
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Restore(b); err != nil {
			if !errors.Is(err, operators.ErrBadSnapshot) && !errors.Is(err, operators.ErrCodec) {
				t.Fatalf("error %v wraps neither ErrBadSnapshot nor ErrCodec", err)
			}
			return
		}
		if bytes.Equal(b, snap) {
			again, err := task.Snapshot()
			if err != nil || !bytes.Equal(again, snap) {
				t.Fatalf("snapshot did not round-trip: %v", err)
			}
		}
	})
}
