package live

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/operators"
)

// Header keys of published records.
const (
	// HeaderID carries Output.ID in hex: consumers deduplicate by it.
	HeaderID = "reckon.id"
	// HeaderVersion carries Output.Version in decimal.
	HeaderVersion = "reckon.version"
	// HeaderSchemaID and HeaderReason are set on dead letters: the writer
	// schema id from the record's header (0 if unreadable) and the reason
	// class (bad-header, unknown-schema, bad-body, unresolvable, or an
	// operators.RecordError class such as no-key or late).
	HeaderSchemaID = "reckon.schema.id"
	HeaderReason   = "reckon.reason"
)

// Kafka Connect's dead-letter headers, which tools and people know.
const (
	HeaderConnectTopic     = "__connect.errors.topic"
	HeaderConnectPartition = "__connect.errors.partition"
	HeaderConnectOffset    = "__connect.errors.offset"
	HeaderConnectClass     = "__connect.errors.exception.class.name"
	HeaderConnectMessage   = "__connect.errors.exception.message"
)

// publish encodes a topic output with its registered schema, framed, and
// produces it (a Delete is a tombstone).
func (r *run) publish(o *operators.Output) error {
	out := r.top.outputs[o.Name]
	rec := &kgo.Record{Topic: o.Name, Key: []byte(o.Key), Headers: []kgo.RecordHeader{
		{Key: HeaderID, Value: []byte(o.ID.String())},
		{Key: HeaderVersion, Value: strconv.AppendInt(nil, o.Version, 10)},
	}}
	if o.Kind == operators.Upsert {
		b := []byte{0, byte(out.id >> 24), byte(out.id >> 16), byte(out.id >> 8), byte(out.id)}
		if o.Mismatch != nil && out.mismatch {
			b = o.Mismatch.AppendAvro(b)
		} else {
			var err error
			if b, err = out.schema.AppendBinary(b, o.NativeValue()); err != nil {
				// The graph built a value its own schema refuses: a bug in
				// the graph, not in the input.
				return &ProduceError{Topic: o.Name, Err: err}
			}
		}
		rec.Value = b
		// Reconciliation states are counted by status and reason.
		if m := o.Mismatch; m != nil {
			r.d.m.mismatchStates.WithLabelValues(o.Name, m.Status.String()).Inc()
			for i := range m.Reasons {
				r.d.m.reasons.WithLabelValues(o.Name, m.Reasons[i].Kind.String()).Inc()
			}
		}
	}
	return r.produce(rec)
}

// deadLetter produces the raw record kr to the dead-letter topic with
// headers saying where it came from and why it was rejected.
func (r *run) deadLetter(kr *kgo.Record, schemaID int, class string, cause error) error {
	d := r.d
	rec := &kgo.Record{Topic: d.cfg.Topics.DeadLetters, Key: kr.Key, Value: kr.Value}
	rec.Headers = append(rec.Headers, kr.Headers...)
	rec.Headers = append(rec.Headers,
		kgo.RecordHeader{Key: HeaderConnectTopic, Value: []byte(kr.Topic)},
		kgo.RecordHeader{Key: HeaderConnectPartition, Value: strconv.AppendInt(nil, int64(kr.Partition), 10)},
		kgo.RecordHeader{Key: HeaderConnectOffset, Value: strconv.AppendInt(nil, kr.Offset, 10)},
		kgo.RecordHeader{Key: HeaderConnectClass, Value: []byte(errorClassName(cause))},
		kgo.RecordHeader{Key: HeaderConnectMessage, Value: []byte(cause.Error())},
		kgo.RecordHeader{Key: HeaderSchemaID, Value: strconv.AppendInt(nil, int64(schemaID), 10)},
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(class)},
	)
	d.m.deadLetters.WithLabelValues(class).Inc()
	d.log.Debug("dead letter", "topic", kr.Topic, "partition", kr.Partition, "offset", kr.Offset, "reason", class)
	return r.produce(rec)
}

// produce hands rec to the idempotent producer (with exactly-once
// delivery, into the open transaction), under the hard context: a
// fatal error elsewhere does not fail records already handed over. A
// record the producer gives up on is remembered; the next checkpoint
// fails with it, so its offsets are never committed.
func (r *run) produce(rec *kgo.Record) error {
	if pe := r.produced.Load(); pe != nil {
		return pe
	}
	if r.sess != nil {
		r.inTxn.Add(1)
	}
	r.producer.Produce(r.hard, rec, func(rec *kgo.Record, err error) {
		if err != nil {
			r.produced.CompareAndSwap(nil, &ProduceError{Topic: rec.Topic, Err: err})
		}
	})
	return nil
}
