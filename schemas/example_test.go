package schemas_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/reckon-dev/reckon/schemas"
)

const writerV1 = `{"type": "record", "name": "Payment", "namespace": "dev.reckon.payments", "fields": [
  {"name": "payment_id", "type": "string"},
  {"name": "amount_minor", "type": "int"},
  {"name": "customer_ref", "type": ["null", "string"], "default": null}
]}`

const readerV2 = `{"type": "record", "name": "Payment", "namespace": "dev.reckon.payments", "fields": [
  {"name": "payment_id", "type": "string"},
  {"name": "amount_minor", "type": "long"},
  {"name": "customer_id", "aliases": ["customer_ref"], "type": ["null", "string"], "default": null},
  {"name": "channel", "type": "string", "default": "WEB"}
]}`

func ExampleParse() {
	s, err := schemas.Parse(`{"type": "enum", "name": "Status", "namespace": "dev.reckon", "symbols": ["OPEN", "RESOLVED"], "doc": "ignored"}`)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Name())
	fmt.Println(s.Canonical())
	fmt.Printf("%#016x\n", s.Fingerprint())

	_, err = schemas.Parse(`{"type": "record", "name": "R", "fields": [{"name": "a", "type": "Missing"}]}`)
	fmt.Println(errors.Is(err, schemas.ErrBadSchema), err)
	// Output:
	// dev.reckon.Status
	// {"name":"dev.reckon.Status","type":"enum","symbols":["OPEN","RESOLVED"]}
	// 0x854e6f5bd54e6039
	// true schemas: bad schema: /fields/0/type: unknown type "Missing"
}

func ExampleNewResolver() {
	w, _ := schemas.Parse(writerV1)
	r, _ := schemas.Parse(readerV2)
	res, err := schemas.NewResolver(w, r)
	if err != nil {
		panic(err)
	}
	body, _ := w.AppendBinary(nil, map[string]any{"payment_id": "p-1", "amount_minor": 250, "customer_ref": map[string]any{"string": "c-9"}})
	v, err := res.Decode(body)
	if err != nil {
		panic(err)
	}
	line, _ := r.AppendJSON(nil, v)
	fmt.Println(string(line))
	// Output:
	// {"payment_id":"p-1","amount_minor":250,"customer_id":"c-9","channel":"WEB"}
}

func ExampleNewResolver_incompatible() {
	w, _ := schemas.Parse(writerV1)
	r, _ := schemas.Parse(`{"type": "record", "name": "Payment", "namespace": "dev.reckon.payments", "fields": [
	  {"name": "payment_id", "type": "int"},
	  {"name": "settled", "type": "boolean"}
	]}`)
	_, err := schemas.NewResolver(w, r)
	fmt.Println(errors.Is(err, schemas.ErrUnresolvable))
	fmt.Println(err)
	// Output:
	// true
	// schemas: writer schema does not resolve to reader schema:
	//   /fields/payment_id: type_mismatch: reader type int cannot read writer type string
	//   /fields/settled: reader_field_missing_default_value: reader field settled has no default and the writer lacks it
}

func ExampleCheck() {
	v1, _ := schemas.Parse(writerV1)
	v2, _ := schemas.Parse(readerV2)
	level, _ := schemas.ParseLevel("full")
	for _, inc := range schemas.Check(level, v2, []*schemas.Schema{v1}) {
		fmt.Println(inc)
	}
	fmt.Println(len(schemas.Check(schemas.Backward, v2, []*schemas.Schema{v1})))
	// Output:
	// forward vs version 1: /fields/amount_minor: type_mismatch: reader type int cannot read writer type long
	// 0
}

func ExampleCanRead() {
	old, _ := schemas.Parse(`{"type": "enum", "name": "Status", "symbols": ["OPEN", "RESOLVED"]}`)
	grown, _ := schemas.Parse(`{"type": "enum", "name": "Status", "symbols": ["OPEN", "RESOLVED", "ESCALATED"]}`)
	fmt.Println(schemas.CanRead(grown, old))
	fmt.Println(schemas.CanRead(old, grown))
	// Output:
	// []
	// [/symbols: missing_enum_symbols: reader enum Status lacks writer symbols ESCALATED and has no default]
}

// source is a SchemaSource over a map, as a registry client would be.
type source map[int]*schemas.Schema

func (s source) SchemaByID(_ context.Context, id int) (*schemas.Schema, error) {
	if sc, ok := s[id]; ok {
		return sc, nil
	}
	return nil, fmt.Errorf("registry: schema %d: %w", id, schemas.ErrUnknownSchema)
}

func ExampleDecoder_Decode() {
	w, _ := schemas.Parse(writerV1)
	r, _ := schemas.Parse(readerV2)
	dec, err := schemas.NewDecoder(source{7: w}, r)
	if err != nil {
		panic(err)
	}
	body, _ := w.AppendBinary(nil, map[string]any{"payment_id": "p-1", "amount_minor": 250, "customer_ref": nil})
	v, id, err := dec.Decode(context.Background(), "payments", 2, 1041, schemas.AppendFrame(nil, 7, body))
	fmt.Println(id, v["amount_minor"], v["customer_id"], v["channel"], err)

	// A record framed with an id the registry does not know is a bad
	// record, with its coordinates.
	_, _, err = dec.Decode(context.Background(), "payments", 2, 1042, schemas.AppendFrame(nil, 8, body))
	var de *schemas.DecodeError
	fmt.Println(errors.As(err, &de), errors.Is(err, schemas.ErrUnknownSchema), de.Offset)
	fmt.Println(err)
	// Output:
	// 7 250 <nil> WEB <nil>
	// true true 1042
	// schemas: decode payments/2@1042 (schema id 8): registry: schema 8: schemas: unknown schema id
}

func ExampleParseFrame() {
	framed := schemas.AppendFrame(nil, 42, []byte{0x02, 0x61})
	id, body, err := schemas.ParseFrame(framed)
	fmt.Println(id, body, err)
	_, _, err = schemas.ParseFrame([]byte{1, 0, 0, 0, 42})
	fmt.Println(errors.Is(err, schemas.ErrBadHeader), err)
	// Output:
	// 42 [2 97] <nil>
	// true schemas: bad wire-format header: magic byte 0x1, want 0
}

func ExampleSchema_AppendJSON() {
	s, _ := schemas.Parse(`{"type": "record", "name": "E", "fields": [
	  {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
	  {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
	  {"name": "raw", "type": ["null", "bytes"]}
	]}`)
	body, _ := s.AppendBinary(nil, map[string]any{
		"at": time.UnixMilli(1709296200123), "amount": mustRat("-12.5"), "raw": map[string]any{"bytes": []byte("hi")},
	})
	res, _ := schemas.NewResolver(s, s)
	v, _ := res.Decode(body)
	line, _ := s.AppendJSON(nil, v)
	fmt.Println(string(line))
	// Output:
	// {"at":"2024-03-01T12:30:00.123Z","amount":"-12.50","raw":"aGk="}
}

func mustRat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}
