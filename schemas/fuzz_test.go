package schemas

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/reckon-dev/reckon/operators"
)

// FuzzParseFrame: no input panics; a failure wraps ErrBadHeader; a success
// re-frames to the same bytes.
func FuzzParseFrame(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{0, 0x7f, 0xff, 0xff, 0xff, 2, 4})
	f.Add([]byte{0, 0x80, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, body, err := ParseFrame(b)
		if err != nil {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("error %v does not wrap ErrBadHeader", err)
			}
			return
		}
		if got := AppendFrame(nil, id, body); string(got) != string(b) {
			t.Fatalf("AppendFrame(ParseFrame(% x)) = % x", b, got)
		}
	})
}

// FuzzDecode: whatever the framed bytes, the Decoder never panics and
// every failure is a *DecodeError wrapping one of the four sentinels.
func FuzzDecode(f *testing.F) {
	v1, v2 := paymentSchema(f, "v1"), paymentSchema(f, "v2")
	mismatch := mustParse(f, operators.MismatchSchema)
	src := &mapSource{schemas: map[int]*Schema{1: v1, 2: v2, 3: mismatch}}
	dec, err := NewDecoder(src, v2)
	if err != nil {
		f.Fatal(err)
	}
	body := paymentV1Body(f)
	f.Add(AppendFrame(nil, 1, body))
	f.Add(AppendFrame(nil, 2, body))
	f.Add(AppendFrame(nil, 3, body))
	f.Add(AppendFrame(nil, 9, body))
	f.Add(AppendFrame(nil, 1, body[:len(body)-3]))
	f.Add(AppendFrame(nil, 1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, framed []byte) {
		v, _, err := dec.Decode(context.Background(), "t", 1, 2, framed)
		if err == nil {
			if v == nil {
				t.Fatal("nil value without error")
			}
			if _, err := v2.AppendBinary(nil, v); err != nil {
				t.Fatalf("decoded value is not the reader's native form: %v", err)
			}
			return
		}
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("error %v is not a *DecodeError", err)
		}
		if !errors.Is(err, ErrBadHeader) && !errors.Is(err, ErrUnknownSchema) && !errors.Is(err, ErrBadBody) && !errors.Is(err, ErrUnresolvable) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
	})
}

// FuzzResolve: any pair of schema texts and any body: Parse fails with
// ErrBadSchema or succeeds; NewResolver fails with ErrUnresolvable or
// compiles; Decode fails with ErrBadBody or ErrUnresolvable, or returns a
// value the reader schema encodes and renders as JSON. Nothing panics.
// The seeds are golden pairs with their datums.
func FuzzResolve(f *testing.F) {
	for i, g := range loadGoldens(f) {
		if i%3 != 0 {
			continue
		}
		for _, d := range g.Data[:1] {
			body, _ := hex.DecodeString(d.Hex)
			f.Add(string(g.Writer), string(g.Reader), body)
		}
	}
	f.Fuzz(func(t *testing.T, writer, reader string, body []byte) {
		w, errW := Parse(writer)
		r, errR := Parse(reader)
		for _, err := range []error{errW, errR} {
			if err != nil && !errors.Is(err, ErrBadSchema) {
				t.Fatalf("Parse error %v does not wrap ErrBadSchema", err)
			}
		}
		if errW != nil || errR != nil {
			return
		}
		_ = CanRead(r, w)
		res, err := NewResolver(w, r)
		if err != nil {
			if !errors.Is(err, ErrUnresolvable) {
				t.Fatalf("NewResolver error %v does not wrap ErrUnresolvable", err)
			}
			return
		}
		v, err := res.Decode(body)
		if err != nil {
			if !errors.Is(err, ErrBadBody) && !errors.Is(err, ErrUnresolvable) {
				t.Fatalf("Decode error %v wraps neither ErrBadBody nor ErrUnresolvable", err)
			}
			return
		}
		if _, err := r.AppendBinary(nil, v); err != nil {
			t.Fatalf("resolved value %#v is not the reader's native form: %v", v, err)
		}
		if _, err := r.AppendJSON(nil, v); err != nil {
			t.Fatalf("AppendJSON: %v", err)
		}
	})
}
