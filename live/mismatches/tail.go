package mismatches

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/schemas"
)

// DefaultTopic is the mismatch topic of the reference graph.
const DefaultTopic = "reconciliation-mismatches"

// ErrUnknownTopic: the mismatch topic does not exist on the cluster.
var ErrUnknownTopic = errors.New("mismatches: unknown topic")

// From is where Tail starts reading: the beginning of every partition, its
// end, or the first record at or after a time. The zero value is the
// beginning.
type From struct {
	end  bool
	time time.Time
}

// Beginning, End and At name the start positions.
var (
	Beginning = From{}
	End       = From{end: true}
)

// At starts at the first record whose timestamp is at or after t.
func At(t time.Time) From { return From{time: t} }

// ParseFrom reads "beginning", "end" or an RFC 3339 time.
func ParseFrom(s string) (From, error) {
	switch s {
	case "beginning":
		return Beginning, nil
	case "end":
		return End, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return From{}, fmt.Errorf("mismatches: from %q: use beginning, end or an RFC 3339 time such as 2026-01-02T15:04:05Z", s)
	}
	return At(t), nil
}

func (f From) String() string {
	switch {
	case f.end:
		return "end"
	case f.time.IsZero():
		return "beginning"
	}
	return f.time.Format(time.RFC3339Nano)
}

// Config says what Tail reads.
type Config struct {
	// Brokers are the bootstrap brokers (required).
	Brokers []string
	// Topic is the mismatch topic (default DefaultTopic).
	Topic string
	// From is where to start (default Beginning).
	From From
	// Follow keeps reading past the end offsets Tail found at its start,
	// until the context is cancelled (default false: return at them).
	Follow bool
	// Reasons, when not empty, keeps only the mismatches with a reason of
	// one of these kinds (such as FIELD_MISMATCH; matched without regard
	// to case).
	Reasons []string
	// OpenOnly keeps only the mismatches whose status is OPEN.
	OpenOnly bool
	// Decoder decodes the values (required): a registry-backed decoder
	// with the mismatch reader schema.
	Decoder *schemas.Decoder
	// ClientOpts are added to the Kafka client's options (SASL, TLS, …).
	ClientOpts []kgo.Opt
}

// Mismatch is one record of the mismatch topic.
type Mismatch struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       []byte
	// SchemaID is the writer schema id of the value.
	SchemaID int
	// Value is the decoded reconciliation state, in the reader schema; nil
	// for a tombstone (a deleted key) and for a record that did not decode.
	Value map[string]any
	// Err is the *schemas.DecodeError of a value that did not decode.
	Err error
}

// Status returns the mismatch's status (OPEN or RESOLVED), or "" when it
// has no value.
func (m *Mismatch) Status() string {
	s, _ := m.Value["status"].(string)
	return s
}

// Reason is one reason of a mismatch.
type Reason struct {
	Kind string
	// Field names the field a FIELD_MISMATCH or TOLERANCE_EXCEEDED is
	// about, or is "".
	Field string
	// Left and Right are both sides' values as the reconciler printed
	// them; nil when a side has none.
	Left, Right *string
	Detail      string
}

// Reasons returns the mismatch's reasons.
func (m *Mismatch) Reasons() []Reason {
	items, _ := m.Value["reasons"].([]any)
	out := make([]Reason, 0, len(items))
	for _, it := range items {
		r, _ := it.(map[string]any)
		kind, _ := r["kind"].(string)
		detail, _ := r["detail"].(string)
		field := optString(r["field"])
		reason := Reason{Kind: kind, Left: optString(r["left_value"]), Right: optString(r["right_value"]), Detail: detail}
		if field != nil {
			reason.Field = *field
		}
		out = append(out, reason)
	}
	return out
}

// Source is the provenance of one side of a mismatch.
type Source struct {
	Topic     string
	Partition int32
	Offset    int64
	EventTime time.Time
}

// Sources returns the provenance of side "left" or "right".
func (m *Mismatch) Sources(side string) []Source {
	items, _ := m.Value[side].([]any)
	out := make([]Source, 0, len(items))
	for _, it := range items {
		s, _ := it.(map[string]any)
		topic, _ := s["topic"].(string)
		part, _ := s["partition"].(int32)
		off, _ := s["offset"].(int64)
		et, _ := s["event_time"].(time.Time)
		out = append(out, Source{Topic: topic, Partition: part, Offset: off, EventTime: et})
	}
	return out
}

// optString reads an Avro ["null","string"] union in goavro's native form.
func optString(v any) *string {
	switch v := v.(type) {
	case string:
		return &v
	case map[string]any:
		if s, ok := v["string"].(string); ok {
			return &s
		}
	}
	return nil
}

func (c *Config) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("mismatches: no brokers: name at least one"))
	}
	if c.Decoder == nil {
		errs = append(errs, errors.New("mismatches: no decoder: give one with the mismatch reader schema"))
	}
	return errors.Join(errs...)
}

// keep reports whether m passes the filters of c. Records that did not
// decode always pass: they are reported, never dropped silently.
func (c *Config) keep(m *Mismatch) bool {
	if m.Err != nil {
		return true
	}
	if c.OpenOnly && m.Status() != "OPEN" {
		return false
	}
	if len(c.Reasons) == 0 {
		return true
	}
	for _, r := range m.Reasons() {
		if slices.ContainsFunc(c.Reasons, func(want string) bool { return strings.EqualFold(want, r.Kind) }) {
			return true
		}
	}
	return false
}

// Tail reads the mismatch topic as cfg says and calls fn with every
// mismatch that passes cfg's filters, in offset order within a partition.
// It returns nil at the end offsets it found when it started, or, with
// Follow, when ctx is cancelled; an error from fn stops it and is
// returned.
func Tail(ctx context.Context, cfg Config, fn func(*Mismatch) error) error {
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) take offsets too; seeing
		// them tells when a partition has reached its end offset.
		kgo.KeepControlRecords(),
	}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("mismatches: %w", err)
	}
	defer cl.Close()

	starts, ends, err := positions(ctx, kadm.NewClient(cl), cfg.Topic, cfg.From)
	if err != nil {
		return err
	}
	pending := map[int32]int64{} // partition → end offset still to reach
	consume := map[int32]kgo.Offset{}
	for p, start := range starts {
		consume[p] = kgo.NewOffset().At(start)
		if start < ends[p] {
			pending[p] = ends[p]
		}
	}
	if !cfg.Follow && len(pending) == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: consume})

	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			if cfg.Follow {
				return nil
			}
			return ctx.Err()
		}
		for _, fe := range fetches.Errors() {
			return fmt.Errorf("mismatches: fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			if !r.Attrs.IsControl() {
				m, err := decode(ctx, cfg.Decoder, r)
				if err != nil {
					return err
				}
				if cfg.keep(m) {
					if err := fn(m); err != nil {
						return err
					}
				}
			}
			if end, ok := pending[r.Partition]; ok && r.Offset+1 >= end {
				delete(pending, r.Partition)
			}
		}
		if !cfg.Follow && len(pending) == 0 {
			return nil
		}
	}
}

// decode decodes one record. A bad value is returned in Mismatch.Err; an
// error is an infrastructure failure (the registry is unreachable).
func decode(ctx context.Context, dec *schemas.Decoder, r *kgo.Record) (*Mismatch, error) {
	m := &Mismatch{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key}
	if r.Value == nil {
		return m, nil
	}
	v, id, err := dec.Decode(ctx, r.Topic, r.Partition, r.Offset, r.Value)
	m.SchemaID = id
	var de *schemas.DecodeError
	switch {
	case errors.As(err, &de):
		m.Err = de
	case err != nil:
		return nil, fmt.Errorf("mismatches: %w", err)
	}
	m.Value = v
	return m, nil
}

// positions returns the start and end offsets of every partition of topic:
// ends are the last stable offsets (read committed), starts those from
// names.
func positions(ctx context.Context, adm *kadm.Client, topic string, from From) (starts, ends map[int32]int64, err error) {
	endList, err := adm.ListCommittedOffsets(ctx, topic)
	if err := listed(topic, endList, err); err != nil {
		return nil, nil, err
	}
	var startList kadm.ListedOffsets
	switch {
	case from.end:
		startList = endList
	case from.time.IsZero():
		startList, err = adm.ListStartOffsets(ctx, topic)
	default:
		startList, err = adm.ListOffsetsAfterMilli(ctx, from.time.UnixMilli(), topic)
	}
	if err := listed(topic, startList, err); err != nil {
		return nil, nil, err
	}
	starts, ends = map[int32]int64{}, map[int32]int64{}
	for p, o := range endList[topic] {
		ends[p] = o.Offset
	}
	for p, o := range startList[topic] {
		starts[p] = o.Offset
	}
	return starts, ends, nil
}

// listed returns the first error of a listing of topic.
func listed(topic string, l kadm.ListedOffsets, err error) error {
	if err != nil {
		return fmt.Errorf("mismatches: list offsets of %s: %w", topic, err)
	}
	if len(l[topic]) == 0 {
		return fmt.Errorf("%w %q", ErrUnknownTopic, topic)
	}
	for _, o := range l[topic] {
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("%w %q", ErrUnknownTopic, topic)
		}
		if o.Err != nil {
			return fmt.Errorf("mismatches: list offsets of %s/%d: %w", topic, o.Partition, o.Err)
		}
	}
	return nil
}
