package devstack

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live/mismatches"
	"github.com/reckon-dev/reckon/schemas"
)

// Stats is one reading of what the stack and the live driver have done.
type Stats struct {
	// Produced is the events the traffic generator had acknowledged.
	Produced int64
	// Consumed is the input records the driver consumed.
	Consumed float64
	// Lag is the driver's consumer lag summed over its input partitions.
	Lag float64
	// Matched is the payment_status rows the driver wrote (one per
	// matched payment and ledger entry, and per later correction).
	Matched float64
	// Open and Resolved count the keys of the mismatch topic by their
	// latest status; Unmatched counts the open ones missing a side.
	Open, Resolved, Unmatched int
	// Reasons counts the open keys by reason kind.
	Reasons map[string]int
	// DeadLetters counts the dead-lettered records by reason class.
	DeadLetters map[string]float64
}

// Monitor follows the mismatch topic from its beginning, keeping each
// key's latest state, and reads the driver's metrics, for Stats.
type Monitor struct {
	// Brokers and Registry locate the stack (required).
	Brokers  []string
	Registry schemas.SchemaSource
	// Metrics is the registry the driver's metrics are in (required).
	Metrics prometheus.Gatherer
	// Traffic, when set, gives Stats.Produced.
	Traffic *Traffic

	mu     sync.Mutex
	states map[string]*mismatches.Mismatch
}

// Run follows the mismatch topic until ctx ends.
func (m *Monitor) Run(ctx context.Context) error {
	reader, err := schemas.Parse(payments.Mismatch)
	if err != nil {
		return err
	}
	dec, err := schemas.NewDecoder(m.Registry, reader)
	if err != nil {
		return err
	}
	cfg := mismatches.Config{Brokers: m.Brokers, Topic: payments.TopicMismatches, Follow: true, Decoder: dec}
	return mismatches.Tail(ctx, cfg, func(mm *mismatches.Mismatch) error {
		if mm.Err != nil {
			return nil // counted by the driver's dead letters, not a state
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.states == nil {
			m.states = map[string]*mismatches.Mismatch{}
		}
		if mm.Value == nil {
			delete(m.states, string(mm.Key))
		} else {
			m.states[string(mm.Key)] = mm
		}
		return nil
	})
}

// Stats returns the current reading.
func (m *Monitor) Stats() (Stats, error) {
	s := Stats{Reasons: map[string]int{}, DeadLetters: map[string]float64{}}
	if m.Traffic != nil {
		s.Produced = m.Traffic.Produced()
	}
	families, err := m.Metrics.Gather()
	if err != nil {
		return s, err
	}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			switch f.GetName() {
			case "reckon_live_records_in_total":
				s.Consumed += mt.GetCounter().GetValue()
			case "reckon_live_consumer_lag":
				s.Lag += mt.GetGauge().GetValue()
			case "reckon_live_records_out_total":
				if label(mt, "target") == "payment_status" {
					s.Matched += mt.GetCounter().GetValue()
				}
			case "reckon_live_dead_letters_total":
				s.DeadLetters[label(mt, "reason")] += mt.GetCounter().GetValue()
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mm := range m.states {
		if mm.Status() != "OPEN" {
			s.Resolved++
			continue
		}
		s.Open++
		missing := false
		for _, r := range mm.Reasons() {
			s.Reasons[r.Kind]++
			missing = missing || r.Kind == "MISSING_LEFT" || r.Kind == "MISSING_RIGHT"
		}
		if missing {
			s.Unmatched++
		}
	}
	return s, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
