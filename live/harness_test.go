package live_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
	"github.com/reckon-dev/reckon/operators"
	"github.com/reckon-dev/reckon/projections"
	"github.com/reckon-dev/reckon/schemas"
)

// env is a Kafka broker (kfake over TCP) and a schema registry (the
// embedded one over HTTP) for one test.
type env struct {
	t        testing.TB
	cluster  *kfake.Cluster
	brokers  []string
	registry string
	client   *schemas.Client
	ids      map[string]int             // "<topic>/v<N>" → schema id
	writers  map[string]*schemas.Schema // "<topic>/v<N>" → schema
	dir      string
	reg      *schemas.Registry
	// stopRegistry stops serving the registry (a registry outage).
	stopRegistry func()
	// chunk, when set, is the changelog record limit of the drivers the
	// test starts (live.WithChangelogRecordBytes).
	chunk int
}

// serveRegistry serves the registry on addr until stopRegistry or the
// end of the test.
func (e *env) serveRegistry(addr string) {
	t := e.t
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := e.reg.Run(ctx, ln); err != nil {
			t.Errorf("registry: %v", err)
		}
	}()
	var once sync.Once
	e.stopRegistry = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(e.stopRegistry)
	e.registry = "http://" + ln.Addr().String()
}

func newEnv(t testing.TB, partitions int32, opts ...kfake.Opt) *env {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		kfake.SeedTopics(partitions, payments.TopicPayments, payments.TopicLedger, payments.TopicMismatches)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &env{t: t, cluster: c, brokers: c.ListenAddrs(), dir: t.TempDir(), ids: map[string]int{}, writers: map[string]*schemas.Schema{}}

	reg, err := schemas.OpenRegistry(context.Background(), e.dir, schemas.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	e.reg = reg
	t.Cleanup(func() { reg.Close() })
	e.serveRegistry("127.0.0.1:0")
	e.client, err = schemas.NewClient(e.registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		topic  string
		v      int
		schema string
	}{
		{payments.TopicPayments, 1, payments.PaymentV1}, {payments.TopicPayments, 2, payments.PaymentV2},
		{payments.TopicLedger, 1, payments.LedgerV1}, {payments.TopicLedger, 2, payments.LedgerV2},
	} {
		key := fmt.Sprintf("%s/v%d", s.topic, s.v)
		e.writers[key] = mustParse(t, s.schema)
		id, err := e.client.Register(context.Background(), s.topic+"-value", e.writers[key])
		if err != nil {
			t.Fatal(err)
		}
		e.ids[key] = id
	}
	return e
}

// quiet is the drivers' logger in tests: silent, unless RECKON_TEST_LOG
// is set (then text on stderr, to follow a failing test).
func quiet() *slog.Logger {
	if os.Getenv("RECKON_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func mustParse(t testing.TB, avsc string) *schemas.Schema {
	t.Helper()
	s, err := schemas.Parse(avsc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// config is a driver configuration for the env, with a short commit
// interval and an SQLite store in the test's directory.
func (e *env) config(group string) live.Config {
	return live.Config{
		Kafka:          live.KafkaConfig{Brokers: e.brokers, Group: group},
		Registry:       live.RegistryConfig{URL: e.registry},
		Store:          "sqlite:" + filepath.Join(e.dir, "projections.db"),
		Topics:         live.TopicsConfig{Create: true},
		CommitInterval: 100 * time.Millisecond,
		IdleTimeout:    -1, // replay-like results: timeouts only on the full watermark
	}
}

func (e *env) kafka(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.brokers...)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

// encode frames an event's writer value with its writer schema's id.
func (e *env) encode(ev payments.Event) []byte {
	key := fmt.Sprintf("%s/v%d", ev.Topic, ev.Writer)
	body, err := e.writers[key].AppendBinary(nil, ev.WriterValue)
	if err != nil {
		e.t.Fatal(err)
	}
	return schemas.AppendFrame(nil, e.ids[key], body)
}

// produce writes the events of ds with offsets in [from, to) of every
// partition (to < 0: to the end), in arrival order.
func (e *env) produce(ds *payments.Dataset, from, to int) {
	e.t.Helper()
	cl := e.kafka(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for _, topic := range []string{payments.TopicPayments, payments.TopicLedger} {
		for p, evs := range ds.Events[topic] {
			hi := len(evs)
			if to >= 0 && to < hi {
				hi = to
			}
			for i := from; i < hi; i++ {
				ev := evs[i]
				recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Key: []byte(ev.Key),
					Value: e.encode(ev), Timestamp: ev.Arrival})
			}
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// produceRaw appends raw values to a partition of an input topic.
func (e *env) produceRaw(topic string, p int32, values ...[]byte) {
	e.t.Helper()
	cl := e.kafka(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte("poison"), Value: v})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// caughtUp reports whether the group has committed the end offset of
// every input partition.
func (e *env) caughtUp(adm *kadm.Client, group string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, payments.TopicPayments, payments.TopicLedger)
	if err != nil {
		return false, err
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false, err
	}
	done := true
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(o.Topic, o.Partition)
		if o.Offset > 0 && (!ok || c.At < o.Offset) {
			done = false
		}
	})
	return done, nil
}

// waitFor polls cond every 20ms until it holds, or fails the test after
// the deadline (or when the driver stopped early).
func waitFor(t testing.TB, what string, deadline time.Duration, stopped <-chan error, cond func() (bool, error)) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for {
		ok, err := cond()
		if err == nil && ok {
			return
		}
		select {
		case err := <-stopped:
			t.Fatalf("waiting for %s: the driver stopped: %v", what, err)
		case <-timeout:
			t.Fatalf("waiting for %s: not after %s (last error: %v)", what, deadline, err)
		case <-tick.C:
		}
	}
}

// running is a driver started on a goroutine.
type running struct {
	d      *live.Driver
	cancel context.CancelFunc
	// done receives what Run returned (once); exited is closed after, so
	// that the cleanup waits for Run whoever took its result.
	done   chan error
	exited chan struct{}
}

func (e *env) start(g *operators.Graph, cfg live.Config, opts ...live.Opt) *running {
	e.t.Helper()
	base := []live.Opt{live.WithLogger(quiet())}
	if e.chunk > 0 {
		base = append(base, live.WithChangelogRecordBytes(e.chunk))
	}
	d, err := live.New(g, cfg, append(base, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, cancel: cancel, done: make(chan error, 1), exited: make(chan struct{})}
	go func() {
		r.done <- d.Run(ctx)
		close(r.exited)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-r.exited
	})
	return r
}

// stop cancels the driver and returns what Run returned.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel")
	}
	return nil
}

// runToEnd runs the driver until the group has committed every input
// offset, then stops it.
func (e *env) runToEnd(g *operators.Graph, cfg live.Config, opts ...live.Opt) *live.Driver {
	e.t.Helper()
	r := e.start(g, cfg, opts...)
	adm := kadm.NewClient(e.kafka())
	waitFor(e.t, "the group to commit every input offset", 20*time.Second, r.done, func() (bool, error) {
		return e.caughtUp(adm, cfg.Kafka.Group)
	})
	if err := r.stop(e.t); err != nil {
		e.t.Fatalf("Run: %v", err)
	}
	return r.d
}

// gap is n records produced before the dataset's offset at of a
// partition (poison records the reference run does not see).
type gap struct {
	topic     string
	partition int32
	at, n     int64
}

// expected is the reference run: the dataset's records fed to tasks
// directly, keeping the highest version per key of every output.
type expected struct {
	tables      map[string]map[string]operators.Output // table → key → output
	mismatches  map[string]operators.Output            // key → output
	deadLetters int                                    // dead letters and late records
}

// referenceRun builds the reference graph (version 2) and its expected
// final state over ds.
func referenceRun(t testing.TB, ds *payments.Dataset) (*operators.Graph, expected) {
	t.Helper()
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	return g, reference(t, g, ds)
}

func reference(t testing.TB, g *operators.Graph, ds *payments.Dataset, gaps ...gap) expected {
	t.Helper()
	ex := expected{tables: map[string]map[string]operators.Output{}, mismatches: map[string]operators.Output{}}
	recs := ds.Records()
	for _, gp := range gaps {
		for i := range recs[gp.topic][gp.partition] {
			if r := &recs[gp.topic][gp.partition][i]; r.Offset >= gp.at {
				r.Offset += gp.n
			}
		}
	}
	keep := func(m map[string]operators.Output, o operators.Output) {
		if old, ok := m[o.Key]; !ok || o.Version > old.Version || (o.Version == old.Version && o.Kind == operators.Delete) {
			m[o.Key] = o
		}
	}
	for p := range ds.Partitions {
		task, err := g.NewTask(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{payments.TopicPayments, payments.TopicLedger} {
			for i := range recs[topic][p] {
				if err := task.Process(&recs[topic][p][i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, o := range task.Outputs() {
			switch o.Target {
			case operators.TargetTable:
				if ex.tables[o.Name] == nil {
					ex.tables[o.Name] = map[string]operators.Output{}
				}
				keep(ex.tables[o.Name], o)
			case operators.TargetTopic:
				keep(ex.mismatches, o)
			default:
				ex.deadLetters++
			}
		}
	}
	return ex
}

// checkTables compares the rows of the run's SQLite store with the
// reference outputs (see checkTablesIn).
func (e *env) checkTables(g *operators.Graph, ex expected) {
	e.t.Helper()
	got, err := projections.Open(context.Background(), "sqlite:"+filepath.Join(e.dir, "projections.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer got.Close()
	e.checkTablesIn(g, ex, got)
}

// checkTablesIn compares the rows of got with the reference outputs,
// written through a projections sink into a fresh SQLite store.
func (e *env) checkTablesIn(g *operators.Graph, ex expected, got projections.Store) {
	t := e.t
	t.Helper()
	ctx := context.Background()
	want, err := projections.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "want.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	var specs []*operators.TableSpec
	for _, ti := range g.Tables() {
		specs = append(specs, ti.Spec)
	}
	pg := projections.Graph{Name: g.Name(), Version: g.Version(), Fingerprint: g.Fingerprint()}
	sink, err := projections.NewSink(ctx, want, pg, specs)
	if err != nil {
		t.Fatal(err)
	}
	var outs []operators.Output
	for _, m := range ex.tables {
		for _, o := range m {
			outs = append(outs, o)
		}
	}
	if err := sink.Write(ctx, outs); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ti := range g.Tables() {
		w, g := scan(t, want, ti.Table), scan(t, got, ti.Table)
		if len(w) == 0 {
			t.Fatalf("table %s: the reference run has no rows", ti.Table)
		}
		if !reflect.DeepEqual(w, g) {
			t.Errorf("table %s: %d rows, want %d; first difference: %s", ti.Table, len(g), len(w), firstDiff(w, g))
		}
	}
}

func scan(t testing.TB, s projections.Store, table string) []string {
	t.Helper()
	var rows []string
	err := s.Scan(context.Background(), table, func(r projections.Row) error {
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b bytes.Buffer
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%#v ", k, r[k])
		}
		rows = append(rows, b.String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(rows)
	return rows
}

func firstDiff(want, got []string) string {
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			return fmt.Sprintf("\n got %s\nwant %s", got[i], want[i])
		}
	}
	return "one is a prefix of the other"
}

// topicRecords reads every committed record of a topic from the start
// (isolation level read_committed: records of open or aborted
// transactions are not returned).
func (e *env) topicRecords(topic string) []*kgo.Record {
	e.t.Helper()
	return e.readTopic(topic, kgo.ReadCommitted())
}

// readTopic reads every record of a topic from the start, at an
// isolation level. Transaction markers take offsets too: they are read
// to see where a partition ends, and left out.
func (e *env) readTopic(topic string, level kgo.IsolationLevel) []*kgo.Record {
	t := e.t
	t.Helper()
	adm := kadm.NewClient(e.kafka())
	list := adm.ListEndOffsets
	if level == kgo.ReadCommitted() {
		list = adm.ListCommittedOffsets // the last stable offsets
	}
	ends, err := list(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	cl := e.kafka(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(level), kgo.KeepControlRecords())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (still waiting for partitions %v)", topic, ctx.Err(), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if end, ok := want[r.Partition]; ok && r.Offset >= end-1 {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// checkMismatches compares the final state of every key of the mismatch
// topic (its highest version; the last record of the key must carry it)
// with the reference, byte for byte.
func (e *env) checkMismatches(ex expected) (dups int) {
	e.t.Helper()
	return e.checkMismatchesOf(ex, 0)
}

// checkMismatchesOf is checkMismatches over the records of one graph
// version (every record when version is 0).
func (e *env) checkMismatchesOf(ex expected, version int) (dups int) {
	t := e.t
	t.Helper()
	schema := mustParse(t, payments.Mismatch)
	type state struct {
		version int64
		id      string
		value   []byte
	}
	final := map[string]state{}
	last := map[string]int64{}
	ids := map[string]bool{}
	for _, r := range e.topicRecords(payments.TopicMismatches) {
		if version != 0 && mustDecode(t, e.client, r.Value)["graph_version"] != int32(version) {
			continue
		}
		v, err := strconv.ParseInt(header(r, live.HeaderVersion), 10, 64)
		if err != nil {
			t.Fatalf("record without a version header: %v", err)
		}
		id := header(r, live.HeaderID)
		if ids[id] {
			dups++
		}
		ids[id] = true
		k := string(r.Key)
		last[k] = v
		if s, ok := final[k]; !ok || v >= s.version {
			final[k] = state{version: v, id: id, value: r.Value}
		}
	}
	if len(final) != len(ex.mismatches) {
		t.Errorf("%d keys on the mismatch topic, want %d", len(final), len(ex.mismatches))
	}
	for k, o := range ex.mismatches {
		s, ok := final[k]
		if !ok {
			t.Errorf("key %s: missing from the mismatch topic", k)
			continue
		}
		body, err := schema.AppendBinary(nil, o.NativeValue())
		if err != nil {
			t.Fatal(err)
		}
		id, got, err := schemas.ParseFrame(s.value)
		if err != nil {
			t.Fatalf("key %s: %v", k, err)
		}
		if s.version != o.Version || s.id != o.ID.String() || !bytes.Equal(got, body) || id == 0 {
			gv, _ := schema.AppendJSON(nil, mustDecode(t, e.client, s.value))
			wv, _ := schema.AppendJSON(nil, o.NativeValue())
			t.Errorf("key %s: final state version %d id %s differs from the reference (version %d id %s):\n got %s\nwant %s", k, s.version, s.id, o.Version, o.ID, gv, wv)
		}
		if last[k] != s.version {
			t.Errorf("key %s: last record has version %d, below the highest %d", k, last[k], s.version)
		}
	}
	t.Logf("mismatch topic: %d keys, %d redelivered duplicates (deduplicated by id)", len(final), dups)
	return dups
}

// metric returns the value of a counter (summed over series matching the
// label, all series when label is "") or a histogram's sample count.
func metric(t testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func mustDecode(t testing.TB, c *schemas.Client, framed []byte) map[string]any {
	t.Helper()
	dec, err := schemas.NewDecoder(c, mustParse(t, payments.Mismatch))
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := dec.Decode(context.Background(), payments.TopicMismatches, 0, 0, framed)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
