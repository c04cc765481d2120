package live

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/operators"
	"github.com/reckon-dev/reckon/schemas"
)

// runner owns one task: a goroutine that decodes the records of its
// partition number, processes them and hands the outputs to the sink and
// the producer, in order. The poll loop feeds it through in; checkpoints
// ask it for snapshots through the same channel, so a snapshot follows
// every record dispatched before it.
type runner struct {
	r    *run
	p    int32
	task *operators.Task
	in   chan work
	done chan struct{}
	// next is, per input topic, the offset after the last record handled
	// (processed or dead-lettered): what a checkpoint commits. Only the
	// runner's goroutine writes it.
	next map[string]int64
	// start is next when the task was restored, where consumption starts;
	// read by the group's offset adjustment.
	start    map[string]int64
	lastSeen map[string]time.Time
	idle     map[string]bool
	// committed is what the last checkpoint committed, to skip idle ones.
	committed map[string]int64
	// slot is the chunk slot of the task's last committed snapshot, when
	// it was written in chunks (0: it was not).
	slot byte
	// routed: outputs went to a topic since the last snapshot (timers can
	// publish without a new input offset).
	routed bool
	// outs is the buffer the task's outputs are taken into; tables holds
	// the table outputs of the batch being handled, written to the sink
	// at its end.
	outs, tables []operators.Output
	out          map[string]prometheus.Counter // records_out_total series by target
}

type work struct {
	recs []*kgo.Record
	snap chan<- snapshot
}

// snapshot is a task's state at a checkpoint.
type snapshot struct {
	p     int32
	state []byte
	next  map[string]int64
	// dirty: the task published since its previous snapshot.
	dirty bool
	err   error
}

func newRunner(r *run, p int32, task *operators.Task) *runner {
	now := r.d.o.now()
	ru := &runner{r: r, p: p, task: task, in: make(chan work, 4), done: make(chan struct{}),
		next: task.Offsets(), start: task.Offsets(), lastSeen: map[string]time.Time{}, idle: map[string]bool{}, committed: map[string]int64{},
		out: map[string]prometheus.Counter{}}
	for _, t := range r.top.inputs {
		ru.lastSeen[t] = now
	}
	return ru
}

// loop runs until in is closed, then closes done.
func (ru *runner) loop(ctx context.Context) {
	defer close(ru.done)
	for w := range ru.in {
		if w.snap != nil {
			w.snap <- ru.snapshot()
			continue
		}
		if ctx.Err() != nil {
			continue // draining after a fatal error: handle nothing more
		}
		if err := ru.handle(ctx, w.recs); err != nil {
			ru.r.fail(err)
		}
	}
}

func (ru *runner) snapshot() snapshot {
	ru.markIdle()
	// Checkpoints run to the end of the grace period, fatal error or not.
	ru.outs = ru.task.AppendOutputs(ru.outs[:0])
	if err := ru.route(ru.r.hard, nil, ru.outs); err != nil {
		return snapshot{p: ru.p, err: err}
	}
	if err := ru.writeTables(ru.r.hard); err != nil {
		return snapshot{p: ru.p, err: err}
	}
	dirty := ru.routed
	ru.routed = false
	next := maps.Clone(ru.next)
	if !dirty && maps.Equal(next, ru.committed) {
		// Nothing new since the last checkpoint, which will not write
		// this one: an idle task is not encoded again and again.
		return snapshot{p: ru.p, next: next}
	}
	state, err := ru.task.Snapshot()
	d := ru.r.d
	part := strconv.Itoa(int(ru.p))
	d.m.stateKeys.WithLabelValues(part).Set(float64(ru.task.StateKeys()))
	d.m.stateBytes.WithLabelValues(part).Set(float64(len(state)))
	if wm := ru.task.Watermark(); !wm.IsZero() {
		d.m.watermarkDelay.WithLabelValues(part).Set(d.o.now().Sub(wm).Seconds())
	}
	return snapshot{p: ru.p, state: state, next: next, dirty: dirty, err: err}
}

// markIdle marks inputs that delivered nothing for IdleTimeout idle.
func (ru *runner) markIdle() {
	d := ru.r.d
	if d.cfg.IdleTimeout < 0 {
		return
	}
	now := d.o.now()
	for t, seen := range ru.lastSeen {
		idle := now.Sub(seen) >= d.cfg.IdleTimeout
		if idle != ru.idle[t] {
			ru.idle[t] = idle
			// The topic is an input of the graph: MarkIdle cannot fail.
			_ = ru.task.MarkIdle(t, idle)
		}
	}
}

// handle decodes and processes a batch of one input partition.
func (ru *runner) handle(ctx context.Context, recs []*kgo.Record) error {
	d := ru.r.d
	if len(recs) == 0 {
		return nil
	}
	topic := recs[0].Topic
	ru.lastSeen[topic] = d.o.now()
	if ru.idle[topic] {
		ru.idle[topic] = false
		_ = ru.task.MarkIdle(topic, false)
	}
	dec := ru.r.top.decoders[topic]
	d.m.recordsIn.WithLabelValues(topic).Add(float64(len(recs)))
	for _, kr := range recs {
		value, id, derr := dec.Decode(ctx, kr.Topic, kr.Partition, kr.Offset, kr.Value)
		var de *schemas.DecodeError
		if derr != nil && !errors.As(derr, &de) {
			// The registry is unreachable: wait for it; never a dead letter.
			err := d.retry(ctx, "registry", func() error {
				value, id, derr = dec.Decode(ctx, kr.Topic, kr.Partition, kr.Offset, kr.Value)
				if errors.As(derr, &de) {
					return nil // a bad record after all
				}
				return derr
			})
			if err != nil {
				return err
			}
		}
		if derr != nil {
			if d.cfg.FailFast {
				return derr
			}
			if err := ru.r.deadLetter(kr, de.SchemaID, decodeClass(de), derr); err != nil {
				return err
			}
			ru.next[topic] = kr.Offset + 1
			continue
		}
		rec := &operators.Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key,
			Timestamp: kr.Timestamp, SchemaID: id, Value: value}
		if len(kr.Headers) > 0 {
			rec.Headers = make([]operators.Header, len(kr.Headers))
			for i, h := range kr.Headers {
				rec.Headers[i] = operators.Header{Key: h.Key, Value: h.Value}
			}
		}
		if err := ru.task.Process(rec); err != nil {
			return fmt.Errorf("live: task %d: %w", ru.p, err)
		}
		ru.next[topic] = kr.Offset + 1
		ru.outs = ru.task.AppendOutputs(ru.outs[:0])
		o := ru.outs
		// Route now, while kr (the raw record of dead letters) is at hand.
		if err := ru.route(ctx, kr, o); err != nil {
			return err
		}
		if d.cfg.FailFast {
			// The task has taken the record in; its dead letter is
			// written, and the run stops on it.
			for i := range o {
				if o[i].Kind == operators.DeadLetter {
					return o[i].Err
				}
			}
		}
	}
	return ru.writeTables(ctx)
}

// route hands outputs to the sink (tables) and the producer (topics, dead
// letters, late records). raw is the input record behind dead letters
// and late outputs, when known.
func (ru *runner) route(ctx context.Context, raw *kgo.Record, outs []operators.Output) error {
	if len(outs) == 0 {
		return nil
	}
	r := ru.r
	for i := range outs {
		o := &outs[i]
		switch o.Target {
		case operators.TargetTable:
			ru.tables = append(ru.tables, *o)
			ru.count(o.Name)
		case operators.TargetTopic:
			if err := r.publish(o); err != nil {
				return err
			}
			ru.routed = true
			ru.count(o.Name)
		case operators.TargetDeadLetters, operators.TargetLate:
			var re *operators.RecordError
			errors.As(o.Err, &re)
			class := "other"
			if re != nil {
				class = re.Class()
			}
			kr := raw
			if kr == nil || o.Record == nil || kr.Offset != o.Record.Offset || kr.Topic != o.Record.Topic {
				kr = &kgo.Record{}
				if len(o.Provenance) > 0 {
					p := o.Provenance[0]
					kr = &kgo.Record{Topic: p.Topic, Partition: p.Partition, Offset: p.Offset}
				}
			}
			schemaID := 0
			if o.Record != nil {
				schemaID = o.Record.SchemaID
			}
			if err := r.deadLetter(kr, schemaID, class, o.Err); err != nil {
				return err
			}
			ru.routed = true
		}
	}
	return nil
}

// writeTables hands the table outputs routed since the last call to the
// sink, in one write.
func (ru *runner) writeTables(ctx context.Context) error {
	if len(ru.tables) == 0 {
		return nil
	}
	r := ru.r
	err := r.d.retry(ctx, "sink", func() error { return r.sink.Write(ctx, ru.tables) })
	clear(ru.tables)
	ru.tables = ru.tables[:0]
	return err
}

// count counts an output to a table or topic, through a cache of the
// metric's series.
func (ru *runner) count(target string) {
	c := ru.out[target]
	if c == nil {
		c = ru.r.d.m.recordsOut.WithLabelValues(target)
		ru.out[target] = c
	}
	c.Inc()
}

// decodeClass names a decode failure's reason class.
func decodeClass(de *schemas.DecodeError) string {
	switch {
	case errors.Is(de, schemas.ErrBadHeader):
		return "bad-header"
	case errors.Is(de, schemas.ErrUnknownSchema):
		return "unknown-schema"
	case errors.Is(de, schemas.ErrBadBody):
		return "bad-body"
	case errors.Is(de, schemas.ErrUnresolvable):
		return "unresolvable"
	}
	return "other"
}

// errorClassName names the Go type of err's outermost typed error, the
// Kafka Connect exception-class header.
func errorClassName(err error) string {
	var de *schemas.DecodeError
	var re *operators.RecordError
	switch {
	case errors.As(err, &de):
		return reflect.TypeOf(de).String()
	case errors.As(err, &re):
		return reflect.TypeOf(re).String()
	}
	return reflect.TypeOf(err).String()
}
