package payments

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/reckon-dev/reckon/operators"
)

// GeneratorConfig sets the shape of generated traffic. Zero fields take the
// defaults named on each.
type GeneratorConfig struct {
	// Seed makes the traffic reproducible (default 1).
	Seed uint64
	// Payments is how many payments to generate (default 1000).
	Payments int
	// FirstPayment numbers the first payment (default 0): payment ids are
	// pay-NNNNNNNN and ledger entry ids led-NNNNNNNN from it, so that
	// successive datasets can carry distinct ids.
	FirstPayment int
	// Partitions of both topics (default 4).
	Partitions int32
	// Start is the event time of the first payment (default 2026-01-01 UTC).
	Start time.Time
	// Interval is the mean event-time gap between payments (default 100ms).
	Interval time.Duration
	// Merchants is the number of merchants (default 50).
	Merchants int
	// V2From is the fraction of the run after which writers use schema v2
	// (default 0.5: the first half is written with v1, the rest with v2).
	V2From float64
	// Discrepancies is the fraction of payments with an injected problem
	// (default 0.1), spread over: missing ledger entry, orphan ledger
	// entry, amount difference, currency difference, wrong direction,
	// duplicate payment event, late ledger entry.
	Discrepancies float64
}

func (c *GeneratorConfig) defaults() {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Payments == 0 {
		c.Payments = 1000
	}
	if c.Partitions == 0 {
		c.Partitions = 4
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if c.Interval == 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Merchants == 0 {
		c.Merchants = 50
	}
	if c.V2From == 0 {
		c.V2From = 0.5
	}
	if c.Discrepancies == 0 {
		c.Discrepancies = 0.1
	}
}

// Event is one generated record: its topic and partition, the writer
// schema version it is written with, and its value in that writer's shape
// (WriterValue, for encoders) and in the reader (v2) shape (Value, for
// feeding a graph directly).
type Event struct {
	Topic       string
	Partition   int32
	Key         string
	Writer      int
	WriterValue map[string]any
	Value       map[string]any
	Time        time.Time
	// Arrival orders events within a partition: the order a producer sends
	// them in (event time plus transport jitter).
	Arrival time.Time
}

// Dataset is generated traffic, per topic and partition in arrival order.
type Dataset struct {
	Partitions int32
	Events     map[string][][]Event
}

// Records returns the dataset as operator records, per topic and
// partition, with offsets numbered from 0 in arrival order.
func (d *Dataset) Records() map[string][][]operators.Record {
	out := map[string][][]operators.Record{}
	for topic, parts := range d.Events {
		out[topic] = make([][]operators.Record, len(parts))
		for p, evs := range parts {
			recs := make([]operators.Record, len(evs))
			for i, e := range evs {
				recs[i] = operators.Record{Topic: topic, Partition: int32(p), Offset: int64(i),
					Key: []byte(e.Key), Timestamp: e.Arrival, Value: e.Value}
			}
			out[topic][p] = recs
		}
	}
	return out
}

// Len returns the number of events in the dataset.
func (d *Dataset) Len() int {
	n := 0
	for _, parts := range d.Events {
		for _, evs := range parts {
			n += len(evs)
		}
	}
	return n
}

// PartitionOf returns the partition of a payment id (both topics are
// partitioned by payment_id).
func PartitionOf(paymentID string, partitions int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(paymentID))
	return int32(h.Sum32() % uint32(partitions))
}

// Generate produces a deterministic dataset of realistic traffic.
func Generate(cfg GeneratorConfig) *Dataset {
	cfg.defaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	d := &Dataset{Partitions: cfg.Partitions, Events: map[string][][]Event{
		TopicPayments: make([][]Event, cfg.Partitions),
		TopicLedger:   make([][]Event, cfg.Partitions),
	}}
	currencies := []string{"EUR", "EUR", "EUR", "USD", "USD", "GBP", "SEK"}
	channels := []string{"WEB", "POS", "API"}
	now := cfg.Start
	for i := range cfg.Payments {
		now = now.Add(time.Duration(rng.ExpFloat64() * float64(cfg.Interval)))
		id := fmt.Sprintf("pay-%08d", cfg.FirstPayment+i)
		part := PartitionOf(id, cfg.Partitions)
		writer := 1
		if float64(i) >= cfg.V2From*float64(cfg.Payments) {
			writer = 2
		}
		status := "CAPTURED"
		switch r := rng.Float64(); {
		case r < 0.04:
			status = "FAILED"
		case r < 0.06:
			status = "AUTHORIZED"
		case r < 0.14:
			status = "REFUNDED"
		}
		created := now.Truncate(time.Millisecond)
		amount := int64(100 + rng.IntN(50000))
		currency := currencies[rng.IntN(len(currencies))]
		pay := map[string]any{
			"payment_id":   id,
			"merchant_id":  fmt.Sprintf("m-%03d", rng.IntN(cfg.Merchants)),
			"amount_minor": amount,
			"currency":     currency,
			"status":       status,
			"created_at":   created,
		}
		var customer any
		if rng.IntN(3) > 0 {
			customer = fmt.Sprintf("cus-%06d", rng.IntN(100000))
		}
		channel := channels[rng.IntN(len(channels))]
		entry := map[string]any{
			"entry_id":     fmt.Sprintf("led-%08d", cfg.FirstPayment+i),
			"payment_id":   id,
			"amount_minor": amount,
			"currency":     currency,
			"direction":    StatusDirection[status],
			"booked_at":    created.Add(time.Duration(1+rng.IntN(7200)) * time.Second),
		}
		account := fmt.Sprintf("acct-%03d", rng.IntN(20))
		if StatusDirection[status] == "" {
			entry = nil // failed and authorized payments book nothing
		}
		late := false
		dup := false
		if entry != nil && rng.Float64() < cfg.Discrepancies {
			switch rng.IntN(7) {
			case 0:
				entry = nil // missing ledger entry
			case 1:
				pay = nil // orphan ledger entry
			case 2:
				entry["amount_minor"] = amount + int64(1+rng.IntN(500))
			case 3:
				entry["currency"] = "CHF"
			case 4:
				if entry["direction"] == "CREDIT" {
					entry["direction"] = "DEBIT"
				} else {
					entry["direction"] = "CREDIT"
				}
			case 5:
				dup = true
			case 6:
				late = true
			}
		}
		jitter := func() time.Duration { return time.Duration(rng.IntN(30000)) * time.Millisecond }
		if pay != nil {
			e := paymentEvent(pay, writer, customer, channel, part)
			e.Arrival = created.Add(jitter())
			d.add(e)
			if dup {
				e2 := paymentEvent(pay, writer, customer, channel, part)
				e2.Arrival = e.Arrival.Add(time.Duration(1+rng.IntN(600)) * time.Second)
				d.add(e2)
			}
		}
		if entry != nil {
			e := ledgerEvent(entry, writer, account, part)
			e.Arrival = e.Time.Add(jitter())
			if late {
				// Sent three hours after it was booked: behind the
				// allowed lateness of its partition.
				e.Arrival = e.Time.Add(3 * time.Hour)
			}
			d.add(e)
		}
	}
	for _, parts := range d.Events {
		for _, evs := range parts {
			slices.SortStableFunc(evs, func(a, b Event) int { return a.Arrival.Compare(b.Arrival) })
		}
	}
	return d
}

func (d *Dataset) add(e Event) {
	d.Events[e.Topic][e.Partition] = append(d.Events[e.Topic][e.Partition], e)
}

func paymentEvent(pay map[string]any, writer int, customer any, channel string, part int32) Event {
	reader := clone(pay)
	reader["customer_id"] = union("string", customer)
	w := clone(pay)
	if writer == 1 {
		reader["channel"] = "WEB" // v1 writers have no channel: the reader default
		reader["risk_score"] = nil
		w["customer_ref"] = union("string", customer)
	} else {
		reader["channel"] = channel
		reader["risk_score"] = nil
		w["customer_id"] = union("string", customer)
		w["channel"] = channel
		w["risk_score"] = nil
	}
	return Event{Topic: TopicPayments, Partition: part, Key: pay["payment_id"].(string), Writer: writer,
		WriterValue: w, Value: reader, Time: pay["created_at"].(time.Time)}
}

func ledgerEvent(entry map[string]any, writer int, account string, part int32) Event {
	reader := clone(entry)
	reader["ledger_account"] = account
	reader["batch_id"] = nil
	w := clone(entry)
	if writer == 1 {
		w["account"] = account
	} else {
		w["ledger_account"] = account
		w["batch_id"] = nil
	}
	return Event{Topic: TopicLedger, Partition: part, Key: entry["payment_id"].(string), Writer: writer,
		WriterValue: w, Value: reader, Time: entry["booked_at"].(time.Time)}
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+3)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// union wraps a value in goavro's native union form (nil stays null).
func union(branch string, v any) any {
	if v == nil {
		return nil
	}
	return map[string]any{branch: v}
}
