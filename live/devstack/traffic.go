package devstack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/schemas"
)

// DefaultRate is Traffic's default rate in events per second.
const DefaultRate = 300

// DefaultInterval is Traffic's default event-time gap between payments.
const DefaultInterval = time.Minute

// roundPayments is how many payments one generated round holds.
const roundPayments = 2000

// Traffic produces the payments generator's traffic (examples/payments:
// v1 and v2 writers, injected discrepancies) to the reference topics as
// Confluent-framed Avro, at a steady rate, in rounds of generated data
// with fresh payment ids, until its context ends.
type Traffic struct {
	// Brokers to produce to (required).
	Brokers []string
	// IDs are the writer schema ids (required; see Stack.Setup).
	IDs WriterIDs
	// Rate is events per second (default DefaultRate).
	Rate int
	// Partitions of the input topics (default DefaultPartitions).
	Partitions int32
	// Interval is the mean event-time gap between payments (default
	// DefaultInterval). Event time runs ahead of the wall clock: at the
	// default rate a day of it passes in about ten seconds, so that match
	// windows close and missing ledger entries, late entries and their
	// corrections show while one watches.
	Interval time.Duration
	// Now is the clock that dates the generated events (default
	// time.Now). Payment ids are numbered from its microseconds, so that
	// a restarted stack never reuses one.
	Now func() time.Time

	produced atomic.Int64
}

// Produced returns how many events Run has had acknowledged.
func (t *Traffic) Produced() int64 { return t.produced.Load() }

// Run produces until ctx ends, then flushes what it sent and returns nil,
// or returns the first produce error.
func (t *Traffic) Run(ctx context.Context) error {
	if len(t.Brokers) == 0 || len(t.IDs) == 0 {
		return errors.New("devstack: Traffic needs Brokers and IDs")
	}
	rate := t.Rate
	if rate <= 0 {
		rate = DefaultRate
	}
	parts := t.Partitions
	if parts == 0 {
		parts = DefaultPartitions
	}
	now := t.Now
	if now == nil {
		now = time.Now
	}
	writers := map[string][2]*schemas.Schema{}
	for topic, texts := range map[string][2]string{
		payments.TopicPayments: {payments.PaymentV1, payments.PaymentV2},
		payments.TopicLedger:   {payments.LedgerV1, payments.LedgerV2},
	} {
		var pair [2]*schemas.Schema
		for i, text := range texts {
			s, err := schemas.Parse(text)
			if err != nil {
				return fmt.Errorf("devstack: %w", err)
			}
			pair[i] = s
		}
		writers[topic] = pair
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(t.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	defer cl.Close()

	var failed atomic.Pointer[error]
	onAck := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
			return
		}
		t.produced.Add(1)
	}
	start := now()
	eventStart, err := resume(ctx, cl, start)
	if err != nil {
		return err
	}
	interval := t.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	first := int(start.UnixMicro())
	// Records handed to the client are delivered even when ctx ends.
	bg := context.WithoutCancel(ctx)
	var queue []payments.Event
	sent := 0
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := cl.Flush(fctx); err != nil {
				return fmt.Errorf("devstack: traffic: flush: %w", err)
			}
			return nil
		case <-tick.C:
		}
		if err := failed.Load(); err != nil {
			return fmt.Errorf("devstack: traffic: produce: %w", *err)
		}
		due := int(now().Sub(start).Seconds()*float64(rate)) - sent
		for ; due > 0; due-- {
			if len(queue) == 0 {
				queue = round(first, parts, eventStart, interval)
				first += roundPayments
				eventStart = eventStart.Add(roundPayments * interval)
			}
			e := queue[0]
			queue = queue[1:]
			w := writers[e.Topic][e.Writer-1]
			body, err := w.AppendBinary(nil, e.WriterValue)
			if err != nil {
				return fmt.Errorf("devstack: traffic: encode %s: %w", e.Key, err)
			}
			value := schemas.AppendFrame(nil, t.IDs[e.Topic][e.Writer-1], body)
			cl.Produce(bg, &kgo.Record{Topic: e.Topic, Partition: e.Partition, Key: []byte(e.Key), Value: value, Timestamp: e.Arrival}, onAck)
			sent++
		}
	}
}

// resume returns the event time to start from: now, or, when the input
// topics hold records from an earlier run whose event time ran ahead of
// the clock, just after the newest of them, so that a restarted stack's
// traffic is not all late.
func resume(ctx context.Context, cl *kgo.Client, now time.Time) (time.Time, error) {
	listed, err := kadm.NewClient(cl).ListMaxTimestampOffsets(ctx, payments.TopicPayments, payments.TopicLedger)
	if err != nil {
		return now, fmt.Errorf("devstack: traffic: newest records: %w", err)
	}
	start := now
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset >= 0 {
			if t := time.UnixMilli(o.Timestamp).Add(time.Minute); t.After(start) {
				start = t
			}
		}
	})
	return start, nil
}

// round generates one round of traffic, every topic and partition merged
// in arrival order.
func round(first int, parts int32, start time.Time, interval time.Duration) []payments.Event {
	d := payments.Generate(payments.GeneratorConfig{
		Seed: uint64(first), Payments: roundPayments, FirstPayment: first,
		Partitions: parts, Start: start, Interval: interval,
	})
	var all []payments.Event
	for _, topic := range []string{payments.TopicPayments, payments.TopicLedger} {
		for _, evs := range d.Events[topic] {
			all = append(all, evs...)
		}
	}
	slices.SortStableFunc(all, func(a, b payments.Event) int { return a.Arrival.Compare(b.Arrival) })
	return all
}
