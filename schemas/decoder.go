package schemas

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// SchemaSource finds writer schemas by registry id. The registry client
// implements it. An error wrapping ErrUnknownSchema means the id is not
// registered (the record is bad); any other error is an infrastructure
// failure (registry unreachable, 5xx) that the caller retries, never a bad
// record.
type SchemaSource interface {
	SchemaByID(ctx context.Context, id int) (*Schema, error)
}

// Decoder decodes Confluent-framed Avro values into one reader schema, for
// the drivers. It asks its source for each writer schema id once, compiles
// one Resolver per id, and keeps both, so after warm-up a record costs no
// source call. A Decoder is safe for concurrent use; two goroutines that
// meet a new id at once may both ask the source.
type Decoder struct {
	src    SchemaSource
	reader *Schema
	byID   sync.Map // int → *decoderEntry
}

// decoderEntry is the outcome of compiling one writer id: a resolver, or
// the resolution error every record of that id gets.
type decoderEntry struct {
	res *Resolver
	err error
}

// NewDecoder returns a Decoder reading values as reader, which must be a
// record schema.
func NewDecoder(src SchemaSource, reader *Schema) (*Decoder, error) {
	if src == nil {
		return nil, errors.New("schemas: NewDecoder: nil SchemaSource")
	}
	if reader == nil || reader.root.kind != kRecord {
		return nil, errors.New("schemas: NewDecoder: the reader schema must be a record")
	}
	return &Decoder{src: src, reader: reader}, nil
}

// Reader returns the reader schema.
func (d *Decoder) Reader() *Schema { return d.reader }

// Decode decodes framed, the value of the record at topic/partition@offset,
// into the reader schema and returns it with the writer schema id.
//
// A bad record fails with a *DecodeError (carrying the coordinates) that
// wraps ErrBadHeader, ErrUnknownSchema, ErrBadBody or ErrUnresolvable. An
// error from the source that does not wrap ErrUnknownSchema is returned
// wrapped but is not a *DecodeError: it is an infrastructure failure, and
// the record must be retried rather than dead-lettered.
func (d *Decoder) Decode(ctx context.Context, topic string, partition int32, offset int64, framed []byte) (value map[string]any, schemaID int, err error) {
	id, body, err := ParseFrame(framed)
	if err != nil {
		return nil, 0, &DecodeError{Topic: topic, Partition: partition, Offset: offset, Err: err}
	}
	bad := func(err error) error {
		return &DecodeError{Topic: topic, Partition: partition, Offset: offset, SchemaID: id, Err: err}
	}
	e, err := d.entry(ctx, id)
	if err != nil {
		if errors.Is(err, ErrUnknownSchema) {
			return nil, id, bad(err)
		}
		return nil, id, fmt.Errorf("schemas: fetch writer schema %d: %w", id, err)
	}
	if e.err != nil {
		return nil, id, bad(e.err)
	}
	v, err := e.res.Decode(body)
	if err != nil {
		return nil, id, bad(err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, id, bad(fmt.Errorf("%w: decoded %T, not a record", ErrBadBody, v))
	}
	return m, id, nil
}

// entry returns the compiled resolver for writer id, asking the source on
// the first use. Source errors are not cached: an id unknown now may be
// registered later, and infrastructure failures pass.
func (d *Decoder) entry(ctx context.Context, id int) (*decoderEntry, error) {
	if e, ok := d.byID.Load(id); ok {
		return e.(*decoderEntry), nil
	}
	w, err := d.src.SchemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("%w: source returned no schema for id %d", ErrUnknownSchema, id)
	}
	e := &decoderEntry{}
	e.res, e.err = NewResolver(w, d.reader)
	got, _ := d.byID.LoadOrStore(id, e)
	return got.(*decoderEntry), nil
}
