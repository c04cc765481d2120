package schemas

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mustParse(t testing.TB, avsc string) *Schema {
	t.Helper()
	s, err := Parse(avsc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func paymentSchema(t testing.TB, version string) *Schema {
	t.Helper()
	b, err := os.ReadFile("../examples/payments/schemas/payment-" + version + ".avsc")
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(b))
}

func paymentV1Body(t testing.TB) []byte {
	t.Helper()
	body, err := paymentSchema(t, "v1").AppendBinary(nil, map[string]any{
		"payment_id": "p-1", "merchant_id": "m-7", "amount_minor": int64(12345), "currency": "EUR",
		"status": "CAPTURED", "created_at": time.UnixMilli(1709296200123).UTC(),
		"customer_ref": map[string]any{"string": "c-42"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// mapSource is a SchemaSource over a map, counting calls; err, when set,
// is returned for every id.
type mapSource struct {
	schemas map[int]*Schema
	err     error
	calls   atomic.Int64
}

func (m *mapSource) SchemaByID(_ context.Context, id int) (*Schema, error) {
	m.calls.Add(1)
	if m.err != nil {
		return nil, m.err
	}
	s, ok := m.schemas[id]
	if !ok {
		return nil, fmt.Errorf("registry: id %d: %w", id, ErrUnknownSchema)
	}
	return s, nil
}

func TestFrameRoundTrip(t *testing.T) {
	framed := AppendFrame([]byte("prefix"), 0x01020304, []byte{9, 8})
	if got := framed[6:]; string(got) != "\x00\x01\x02\x03\x04\x09\x08" {
		t.Fatalf("AppendFrame: % x", got)
	}
	id, body, err := ParseFrame(framed[6:])
	if err != nil || id != 0x01020304 || string(body) != "\x09\x08" {
		t.Fatalf("ParseFrame: %d % x %v", id, body, err)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0, 1}, {1, 0, 0, 0, 1}, {0, 0x80, 0, 0, 0}} {
		if _, _, err := ParseFrame(bad); !errors.Is(err, ErrBadHeader) {
			t.Errorf("ParseFrame(% x): %v, want ErrBadHeader", bad, err)
		}
	}
}

func TestDecoder(t *testing.T) {
	v1, v2 := paymentSchema(t, "v1"), paymentSchema(t, "v2")
	other := mustParse(t, `{"type":"record","name":"Payment","namespace":"dev.reckon.payments","fields":[{"name":"payment_id","type":"int"}]}`)
	src := &mapSource{schemas: map[int]*Schema{1: v1, 2: v2, 3: other}}
	dec, err := NewDecoder(src, v2)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body := paymentV1Body(t)

	v, id, err := dec.Decode(ctx, "payments", 3, 77, AppendFrame(nil, 1, body))
	if err != nil || id != 1 {
		t.Fatalf("Decode: id %d, %v", id, err)
	}
	if v["customer_id"].(map[string]any)["string"] != "c-42" || v["channel"] != "WEB" || v["risk_score"] != nil {
		t.Errorf("resolved value %v", v)
	}
	for range 10 {
		if _, _, err := dec.Decode(ctx, "payments", 3, 78, AppendFrame(nil, 1, body)); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source called %d times for one writer id, want 1", n)
	}

	cases := []struct {
		name   string
		framed []byte
		want   error
		id     int
	}{
		{"bad header", []byte{1, 2}, ErrBadHeader, 0},
		{"unknown id", AppendFrame(nil, 99, body), ErrUnknownSchema, 99},
		{"truncated body", AppendFrame(nil, 1, body[:10]), ErrBadBody, 1},
		{"trailing bytes", AppendFrame(nil, 1, append(body[:len(body):len(body)], 0)), ErrBadBody, 1},
		{"unresolvable writer", AppendFrame(nil, 3, []byte{2}), ErrUnresolvable, 3},
	}
	for _, c := range cases {
		_, id, err := dec.Decode(ctx, "payments", 5, 123, c.framed)
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want a *DecodeError wrapping %v", c.name, err, c.want)
			continue
		}
		if de.Topic != "payments" || de.Partition != 5 || de.Offset != 123 || de.SchemaID != c.id || id != c.id {
			t.Errorf("%s: coordinates %+v (id %d)", c.name, de, id)
		}
	}
}

// TestDecoderInfrastructureError: a source failure that is not
// ErrUnknownSchema is not a bad record, and is not cached.
func TestDecoderInfrastructureError(t *testing.T) {
	v1 := paymentSchema(t, "v1")
	down := errors.New("registry: 503 service unavailable")
	src := &mapSource{schemas: map[int]*Schema{1: v1}, err: down}
	dec, err := NewDecoder(src, v1)
	if err != nil {
		t.Fatal(err)
	}
	framed := AppendFrame(nil, 1, paymentV1Body(t))
	_, _, err = dec.Decode(context.Background(), "payments", 0, 1, framed)
	var de *DecodeError
	if !errors.Is(err, down) || errors.As(err, &de) {
		t.Fatalf("got %v, want the source error and no *DecodeError", err)
	}
	src.err = nil
	if _, _, err := dec.Decode(context.Background(), "payments", 0, 1, framed); err != nil {
		t.Fatalf("after the registry recovered: %v", err)
	}
}

func TestNewDecoderRefusesNonRecordReader(t *testing.T) {
	if _, err := NewDecoder(&mapSource{}, mustParse(t, `"string"`)); err == nil {
		t.Fatal("NewDecoder accepted a string reader schema")
	}
}

// TestDecoderConcurrent decodes from several goroutines with several writer
// ids (run it with -race).
func TestDecoderConcurrent(t *testing.T) {
	v1, v2 := paymentSchema(t, "v1"), paymentSchema(t, "v2")
	src := &mapSource{schemas: map[int]*Schema{1: v1, 2: v1, 3: v1}}
	dec, err := NewDecoder(src, v2)
	if err != nil {
		t.Fatal(err)
	}
	body := paymentV1Body(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := 1 + (g+i)%3
				v, got, err := dec.Decode(context.Background(), "t", 0, int64(i), AppendFrame(nil, id, body))
				if err != nil || got != id || v["payment_id"] != "p-1" {
					errs <- fmt.Errorf("goroutine %d: %v %d %v", g, v, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHugeBlockCount: a datum claiming a 2^31-item array block (or map
// block) is refused with ErrBadBody before goavro allocates for it.
func TestHugeBlockCount(t *testing.T) {
	for _, schema := range []string{
		`{"type":"array","items":"long"}`,
		`{"type":"array","items":"null"}`,
		`{"type":"map","values":"string"}`,
		`{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":{"type":"record","name":"E","fields":[]}}}]}`,
	} {
		s := mustParse(t, schema)
		res, err := NewResolver(s, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, count := range []int64{1 << 31, 1<<31 - 1, 1 << 40, -(1 << 31)} {
			body := appendLong(nil, count)
			if count < 0 {
				body = appendLong(body, 4)
			}
			body = append(body, 2, 4, 6, 8, 0)
			var before, after runtimeMem
			before.read()
			_, err := res.Decode(body)
			after.read()
			if !errors.Is(err, ErrBadBody) {
				t.Errorf("%s, count %d: %v, want ErrBadBody", schema, count, err)
			}
			if grew := after.total - before.total; grew > 1<<20 {
				t.Errorf("%s, count %d: allocated %d bytes", schema, count, grew)
			}
		}
	}
}

func appendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// TestZeroWidthItemsBounded: arrays of zero-width items are legal, up to
// MaxZeroWidthItems per datum.
func TestZeroWidthItemsBounded(t *testing.T) {
	s := mustParse(t, `{"type":"array","items":"null"}`)
	res, err := NewResolver(s, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := res.Decode(append(appendLong(nil, 1000), 0))
	if err != nil || len(v.([]any)) != 1000 {
		t.Fatalf("1000 nulls: %v", err)
	}
	if _, err := res.Decode(append(appendLong(nil, MaxZeroWidthItems+1), 0)); !errors.Is(err, ErrBadBody) {
		t.Fatalf("%d nulls: %v, want ErrBadBody", MaxZeroWidthItems+1, err)
	}
}

// TestDeepRecursionBounded: a recursive schema's datum nested deeper than
// the walk allows is refused, not a stack overflow.
func TestDeepRecursionBounded(t *testing.T) {
	s := mustParse(t, `{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`)
	res, err := NewResolver(s, s)
	if err != nil {
		t.Fatal(err)
	}
	deep := make([]byte, 0, 100001)
	for range 100000 {
		deep = append(deep, 2)
	}
	deep = append(deep, 0)
	if _, err := res.Decode(deep); !errors.Is(err, ErrBadBody) {
		t.Fatalf("100000 levels: %v, want ErrBadBody", err)
	}
	if _, err := res.Decode([]byte{2, 2, 0}); err != nil {
		t.Fatalf("3 levels: %v", err)
	}
}

// runtimeMem reads the bytes allocated so far.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
