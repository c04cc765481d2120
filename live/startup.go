package live

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/operators"
	"github.com/reckon-dev/reckon/projections"
	"github.com/reckon-dev/reckon/schemas"
)

// ErrNoReaderSchema: an input of the graph declares no reader schema
// (operators.ReaderSchema); the live driver decodes every input with one.
var ErrNoReaderSchema = errors.New("live: input declares no reader schema")

// topology is what the start-up checks learned: inputs with their
// decoders and partition counts, outputs with their registered schemas.
type topology struct {
	inputs     []string
	decoders   map[string]*schemas.Decoder
	partitions map[string]int32 // per input
	tasks      int32            // partition numbers: the largest input count
	outputs    map[string]output
}

type output struct {
	schema *schemas.Schema
	id     int
	// mismatch: the schema is operators.MismatchSchema (same canonical
	// form), so reconciliation states are encoded without the codec.
	mismatch bool
}

// start runs the start-up checks and opens the clients and the sink.
// Infrastructure failures are retried with backoff until ctx ends; typed
// problems (missing topics, partition counts, incompatible schemas, bad
// credentials) stop the start.
func (r *run) start(ctx context.Context) error {
	d := r.d
	var top *topology
	err := d.retry(ctx, "startup", func() error {
		var err error
		top, err = r.check(ctx)
		return err
	})
	if errors.Is(err, kerr.SaslAuthenticationFailed) {
		return fmt.Errorf("live: Kafka refused the SASL credentials of user %q (check kafka.sasl.mechanism, kafka.sasl.user and kafka.sasl.password): %w",
			d.cfg.Kafka.SASL.User, err)
	}
	if err != nil {
		return err
	}
	r.top = top
	r.sink = d.o.sink
	if r.sink == nil {
		url := d.cfg.Store
		if url == "" {
			url = projections.DefaultStoreURL
		}
		store, err := projections.Open(ctx, url, projections.WithPassword(d.cfg.Cassandra.Password))
		if err != nil {
			return fmt.Errorf("live: open projections store %s: %w", projections.RedactURL(url), err)
		}
		r.closers = append(r.closers, store.Close)
		var specs []*operators.TableSpec
		for _, t := range d.g.Tables() {
			specs = append(specs, t.Spec)
		}
		sink, err := projections.NewSink(ctx, store, projections.Graph{Name: d.g.Name(), Version: d.g.Version(), Fingerprint: d.g.Fingerprint()}, specs)
		if err != nil {
			return fmt.Errorf("live: projections sink: %w", err)
		}
		r.sink = sink
	}
	r.closers = append(r.closers, r.sink.Close)
	if d.exactlyOnce() {
		return nil // the transact session produces (see loop)
	}
	producer, err := kgo.NewClient(append(slices.Clone(r.base),
		kgo.RecordPartitioner(partitioner{changelog: d.cfg.Topics.Changelog}),
		kgo.WithHooks(d.kpromP, &d.kafka),
	)...)
	if err != nil {
		return fmt.Errorf("live: producer: %w", err)
	}
	r.producer = producer
	r.closers = append(r.closers, func() error { producer.Close(); return nil })
	return nil
}

// check is one attempt at the start-up checks.
func (r *run) check(ctx context.Context) (*topology, error) {
	d := r.d
	cl, err := kgo.NewClient(r.base...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	top := &topology{decoders: map[string]*schemas.Decoder{}, partitions: map[string]int32{}, outputs: map[string]output{}}
	var want []string
	for _, in := range d.g.Inputs() {
		top.inputs = append(top.inputs, in.Topic)
		want = append(want, in.Topic)
	}
	outs := d.g.Topics()
	for _, o := range outs {
		want = append(want, o.Topic)
	}
	internal := []string{d.cfg.Topics.DeadLetters, d.cfg.Topics.Changelog}
	want = append(want, internal...)
	details, err := adm.ListTopics(ctx, want...)
	if err != nil {
		return nil, err
	}
	var missing, missingInputs []string
	for _, t := range want {
		td, ok := details[t]
		if ok && td.Err != nil && !errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("live: describe topic %s: %w", t, td.Err)
		}
		if !ok || td.Err != nil {
			if slices.Contains(top.inputs, t) {
				missingInputs = append(missingInputs, t)
			} else {
				missing = append(missing, t)
			}
			continue
		}
		if slices.Contains(top.inputs, t) {
			top.partitions[t] = int32(len(td.Partitions))
			top.tasks = max(top.tasks, int32(len(td.Partitions)))
		}
	}
	if len(missingInputs) > 0 {
		return nil, &TopicError{Topics: missingInputs, Err: ErrMissingTopic}
	}
	for _, in := range d.g.Inputs() {
		if len(in.CoPartitioned) == 0 {
			continue
		}
		counts := map[string]int32{in.Topic: top.partitions[in.Topic]}
		differ := false
		for _, t := range in.CoPartitioned {
			counts[t] = top.partitions[t]
			differ = differ || counts[t] != counts[in.Topic]
		}
		if differ {
			return nil, &CoPartitionError{Partitions: counts}
		}
	}
	if len(missing) > 0 {
		if !d.cfg.Topics.Create {
			return nil, &TopicError{Topics: missing, Err: ErrMissingTopic}
		}
		for _, t := range missing {
			compact := "compact"
			var configs map[string]*string
			switch {
			case t == d.cfg.Topics.Changelog:
				// Compacted, with hourly segments so that old snapshots are
				// cleaned; restores read the last record of a partition.
				segment := "3600000"
				configs = map[string]*string{"cleanup.policy": &compact, "segment.ms": &segment}
			case t != d.cfg.Topics.DeadLetters:
				// Published topics are keyed changelogs of state (a delete
				// is a tombstone): compacted.
				configs = map[string]*string{"cleanup.policy": &compact}
			}
			resp, err := adm.CreateTopic(ctx, top.tasks, d.cfg.Topics.ReplicationFactor, configs, t)
			if err == nil {
				err = resp.Err
			}
			if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				return nil, fmt.Errorf("live: create topic %s: %w", t, err)
			}
			d.log.Info("created topic", "topic", t, "partitions", top.tasks)
		}
	} else if td := details[d.cfg.Topics.Changelog]; int32(len(td.Partitions)) < top.tasks {
		return nil, fmt.Errorf("%w: changelog %s has %d partitions, fewer than the %d tasks",
			ErrCoPartition, d.cfg.Topics.Changelog, len(td.Partitions), top.tasks)
	}

	ropts := []schemas.ClientOpt{schemas.WithBackoff(func(retry int) time.Duration {
		// The client retries outages itself; this is where the driver
		// learns of them.
		d.m.retries.WithLabelValues("registry").Inc()
		d.registryDown.Store(true)
		return schemas.DefaultBackoff(retry)
	})}
	if d.cfg.Registry.User != "" {
		ropts = append(ropts, schemas.WithBasicAuth(d.cfg.Registry.User, d.cfg.Registry.Password))
	}
	reg, err := schemas.NewClient(d.cfg.Registry.URL, ropts...)
	if err != nil {
		return nil, err
	}
	mismatch, err := schemas.Parse(operators.MismatchSchema)
	if err != nil {
		return nil, err
	}
	for _, o := range outs {
		s, err := schemas.Parse(o.Schema)
		if err != nil {
			return nil, fmt.Errorf("live: schema of output topic %s: %w", o.Topic, err)
		}
		id, err := reg.Register(ctx, o.Topic+"-value", s)
		if err != nil {
			return nil, fmt.Errorf("live: register the schema of %s: %w", o.Topic, err)
		}
		top.outputs[o.Topic] = output{schema: s, id: id, mismatch: s.Canonical() == mismatch.Canonical()}
	}
	level, _ := schemas.ParseLevel(d.cfg.Compatibility) // validated
	var gateErrs []error
	for _, in := range d.g.Inputs() {
		if in.Schema == "" {
			return nil, fmt.Errorf("%w: %s", ErrNoReaderSchema, in.Topic)
		}
		reader, err := schemas.Parse(in.Schema)
		if err != nil {
			return nil, fmt.Errorf("live: reader schema of %s: %w", in.Topic, err)
		}
		if _, err := schemas.Gate(ctx, reg, in.Topic+"-value", reader, level); err != nil {
			var ge *schemas.GateError
			if !errors.As(err, &ge) {
				return nil, err
			}
			gateErrs = append(gateErrs, err)
		}
		dec, err := schemas.NewDecoder(source{c: reg, d: d}, reader)
		if err != nil {
			return nil, fmt.Errorf("live: decoder for %s: %w", in.Topic, err)
		}
		top.decoders[in.Topic] = dec
	}
	if len(gateErrs) > 0 {
		return nil, errors.Join(gateErrs...)
	}
	d.registryDown.Store(false)
	return top, nil
}

// source is the decoders' schema source: the registry client, noting when
// the registry answers again after an outage.
type source struct {
	c *schemas.Client
	d *Driver
}

func (s source) SchemaByID(ctx context.Context, id int) (*schemas.Schema, error) {
	sc, err := s.c.SchemaByID(ctx, id)
	if err == nil || errors.Is(err, schemas.ErrUnknownSchema) {
		s.d.registryDown.Store(false)
	}
	return sc, err
}

// permanent reports whether a start-up or checkpoint error is a problem
// to report rather than an outage to wait out.
func permanent(err error) bool {
	var (
		te  *TopicError
		ce  *CoPartitionError
		cfg *ConfigError
		ke  *kerr.Error
	)
	switch {
	case errors.As(err, &te), errors.As(err, &ce), errors.As(err, &cfg),
		errors.Is(err, ErrCoPartition), errors.Is(err, ErrNoReaderSchema), errors.Is(err, ErrProduce),
		errors.Is(err, ErrSnapshot), errors.Is(err, ErrTransaction),
		errors.Is(err, schemas.ErrIncompatible), errors.Is(err, schemas.ErrUnauthorized),
		errors.Is(err, schemas.ErrBadSchema), errors.Is(err, schemas.ErrInvalidSchema),
		errors.Is(err, schemas.ErrBadRequest):
		return true
	case errors.As(err, &ke):
		// Authentication and authorization do not heal by waiting.
		return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.TopicAuthorizationFailed) ||
			errors.Is(err, kerr.GroupAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) ||
			errors.Is(err, kerr.TransactionalIDAuthorizationFailed) ||
			errors.Is(err, kerr.InvalidReplicationFactor) || errors.Is(err, kerr.PolicyViolation) ||
			// A record the topic refuses for its size is refused again.
			errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge)
	}
	return false
}

// retry calls fn until it succeeds, fails permanently or ctx ends,
// backing off between attempts; while it fails the driver is not ready.
func (d *Driver) retry(ctx context.Context, dep string, fn func() error) error {
	backoff := 50 * time.Millisecond
	counted := false
	defer func() {
		if counted {
			d.down.Add(-1)
		}
	}()
	for {
		err := fn()
		if err == nil || permanent(err) || errors.Is(err, errRebalancing) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("live: %s: %w (last error: %w)", dep, context.Cause(ctx), err)
		}
		if !counted {
			counted = true
			d.down.Add(1)
		}
		d.m.retries.WithLabelValues(dep).Inc()
		d.log.Warn("dependency failing, retrying", "dependency", dep, "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("live: %s: %w (last error: %w)", dep, context.Cause(ctx), err)
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// partitioner sends changelog records to the partition they name (the
// task's) and other records by key hash, as Kafka's Java client does.
type partitioner struct{ changelog string }

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.changelog {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return kgo.StickyKeyPartitioner(nil).ForTopic(topic)
}
