package live_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/internal/cqltest"
	"github.com/reckon-dev/reckon/live"
	"github.com/reckon-dev/reckon/operators"
	"github.com/reckon-dev/reckon/projections"
	"github.com/reckon-dev/reckon/schemas"
)

func dataset() *payments.Dataset {
	return payments.Generate(payments.GeneratorConfig{Payments: 600, Partitions: 4, Interval: 3 * time.Minute})
}

// TestEndToEnd produces the reference dataset (v1 and v2 writers
// interleaved) to the broker, runs the driver until the group has
// committed every input offset, and compares the SQLite projections and
// the final state of every mismatch key with a reference run of the
// operators over the same records.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	e.produce(ds, 0, -1)
	g, ex := referenceRun(t, ds)
	e.runToEnd(g, e.config("e2e"))
	e.checkTables(g, ex)
	e.checkMismatches(ex)
	if n := len(e.topicRecords("e2e-dead-letters")); n != ex.deadLetters {
		t.Errorf("%d dead letters, want %d (late records)", n, ex.deadLetters)
	}
}

// TestCassandraStore runs the payments graph into a Cassandra store (the
// in-memory CQL server, with password authentication) whose password
// comes from cassandra.password, not from the store URL: the rows equal
// the reference run. A wrong password stops the run at start-up with the
// store's error.
func TestCassandraStore(t *testing.T) {
	srv, err := cqltest.New(cqltest.WithCredentials("reckon", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e := newEnv(t, 4)
	ds := dataset()
	e.produce(ds, 0, -1)
	g, ex := referenceRun(t, ds)
	cfg := e.config("cassandra")
	cfg.Store = fmt.Sprintf("cassandra://reckon@%s:%d/reckon_live", srv.Host(), srv.Port())
	cfg.Cassandra.Password = "s3cret"
	e.runToEnd(g, cfg)
	got, err := projections.Open(context.Background(), cfg.Store, projections.WithPassword("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	e.checkTablesIn(g, ex, got)

	cfg.Kafka.Group, cfg.Cassandra.Password = "cassandra-wrong", "wrong"
	err = live.Run(context.Background(), g, cfg)
	if err == nil || !strings.Contains(err.Error(), "projections store") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: Run returned %v; want the store's error, without the password", err)
	}
}

// TestInputsReadCommitted: records of an aborted transaction on an input
// topic (an upstream that writes transactionally) are not events, in the
// default at-least-once delivery too: the final state equals the
// reference run, which never sees them.
func TestInputsReadCommitted(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	half := len(ds.Events[payments.TopicPayments][0]) / 2
	// The aborted record and the abort marker take two offsets.
	ex := reference(t, g, ds, gap{payments.TopicPayments, 0, int64(half), 2})
	e.produce(ds, 0, half)
	ctx := context.Background()
	up := e.kafka(kgo.TransactionalID("upstream"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := up.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	// A second copy of a payment: processed, it would change the state.
	rec := &kgo.Record{Topic: payments.TopicPayments, Partition: 0, Value: e.encode(ds.Events[payments.TopicPayments][0][0])}
	if err := up.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := up.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	e.produce(ds, half, -1)
	e.runToEnd(g, e.config("read-committed"))
	e.checkTables(g, ex)
	e.checkMismatches(ex)
}

// TestRestart stops the driver after the first half of every partition and
// starts it again, with the same group, after the second half arrives: the
// second run restores every task from the changelog and resumes at its
// offsets, so the final state equals the reference run, and no output is
// published twice (nothing was re-processed).
func TestRestart(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	g, ex := referenceRun(t, ds)
	cfg := e.config("restart")
	half := len(ds.Events[payments.TopicPayments][0]) / 2
	e.produce(ds, 0, half)
	e.runToEnd(g, cfg)
	e.produce(ds, half, -1)
	reg := prometheus.NewRegistry()
	e.runToEnd(g, cfg, live.WithMetrics(reg))
	if n := metric(t, reg, "reckon_live_restore_seconds", "", ""); n == 0 {
		t.Error("the second run restored no task")
	}
	e.checkTables(g, ex)
	if dups := e.checkMismatches(ex); dups != 0 {
		t.Errorf("%d mismatch records published twice after a clean restart", dups)
	}
	if n := len(e.topicRecords(cfg.Kafka.Group + "-dead-letters")); n != ex.deadLetters {
		t.Errorf("%d dead letters, want %d", n, ex.deadLetters)
	}
}

// TestPoisonRecords appends undecodable records to the inputs (bad magic
// byte, short header, unknown schema id, truncated body, a writer schema
// that does not resolve to the reader): each goes
// to the dead-letter topic with its raw bytes, its coordinates and its
// reason in Kafka Connect's headers and reckon's, the counters match, and
// the run goes on to process everything else.
func TestPoisonRecords(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	half := len(ds.Events[payments.TopicPayments][0]) / 2
	ex := reference(t, g, ds, gap{payments.TopicPayments, 0, int64(half), 3}, gap{payments.TopicPayments, 1, int64(half), 2})
	e.produce(ds, 0, half)
	good := e.encode(ds.Events[payments.TopicPayments][0][0])
	rogue := mustParse(t, `{"type":"record","name":"Rogue","fields":[{"name":"x","type":"int"}]}`)
	rogueID, err := e.client.Register(context.Background(), "rogue-value", rogue)
	if err != nil {
		t.Fatal(err)
	}
	rogueBody, err := rogue.AppendBinary(nil, map[string]any{"x": 1})
	if err != nil {
		t.Fatal(err)
	}
	poison := map[string][]byte{
		"unresolvable":     schemas.AppendFrame(nil, rogueID, rogueBody),
		"bad-header/magic": append([]byte{1}, good[1:]...),
		"bad-header/short": {0, 0},
		"unknown-schema":   schemas.AppendFrame(nil, 9999, good[5:]),
		"bad-body":         good[:len(good)/2],
	}
	names := slices.Sorted(maps.Keys(poison))
	for i, name := range names {
		e.produceRaw(payments.TopicPayments, int32(i%2), poison[name])
	}
	e.produce(ds, half, -1)
	reg := prometheus.NewRegistry()
	cfg := e.config("poison")
	e.runToEnd(g, cfg, live.WithMetrics(reg))
	e.checkTables(g, ex)
	e.checkMismatches(ex)

	reasons := map[string]int{}
	seen := map[string]bool{}
	for _, r := range e.topicRecords(cfg.Kafka.Group + "-dead-letters") {
		reason := header(r, live.HeaderReason)
		reasons[reason]++
		if reason == "late" {
			continue
		}
		if header(r, live.HeaderConnectTopic) != payments.TopicPayments || header(r, live.HeaderConnectOffset) == "" ||
			header(r, live.HeaderConnectPartition) == "" || header(r, live.HeaderConnectClass) != "*schemas.DecodeError" ||
			header(r, live.HeaderConnectMessage) == "" {
			t.Errorf("dead letter %q lacks its Kafka Connect headers: %v", reason, r.Headers)
		}
		for _, name := range names {
			if bytes.Equal(r.Value, poison[name]) && strings.HasPrefix(name, reason) {
				seen[name] = true
			}
		}
		if reason == "unknown-schema" && header(r, live.HeaderSchemaID) != "9999" {
			t.Errorf("unknown-schema dead letter has schema id %q, want 9999", header(r, live.HeaderSchemaID))
		}
	}
	for _, name := range names {
		if !seen[name] {
			t.Errorf("poison record %s is not on the dead-letter topic with its raw bytes and reason", name)
		}
	}
	want := map[string]int{"bad-header": 2, "unknown-schema": 1, "bad-body": 1, "unresolvable": 1, "late": ex.deadLetters}
	if !maps.Equal(reasons, want) {
		t.Errorf("dead letters by reason %v, want %v", reasons, want)
	}
	for reason, n := range want {
		if got := metric(t, reg, "reckon_live_dead_letters_total", "reason", reason); got != float64(n) {
			t.Errorf("dead_letters_total{reason=%q} = %v, want %d", reason, got, n)
		}
	}
}

// TestFailFast stops at the first undecodable record with its typed
// error, after committing the records before it (and not it).
func TestFailFast(t *testing.T) { testFailFast(t, live.DeliveryAtLeastOnce) }

// TestTxnFailFast is TestFailFast with exactly-once delivery: the final
// transaction commits the offsets the task handled, not those the poll
// loop fetched (the bad record and what follows it).
func TestTxnFailFast(t *testing.T) { testFailFast(t, live.DeliveryExactlyOnce) }

func testFailFast(t *testing.T, delivery string) {
	e := newEnv(t, 1)
	evs := dataset().Events[payments.TopicLedger][0]
	e.produceRaw(payments.TopicLedger, 0, e.encode(evs[0]), e.encode(evs[1]), e.encode(evs[2]), []byte{0, 0})
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	e.produceRaw(payments.TopicLedger, 0, e.encode(evs[4])) // fetched with the bad record
	cfg := e.config("failfast")
	cfg.FailFast = true
	cfg.Delivery = delivery
	r := e.start(g, cfg)
	var de *schemas.DecodeError
	select {
	case err := <-r.done:
		if !errors.As(err, &de) || !errors.Is(err, schemas.ErrBadHeader) || de.Topic != payments.TopicLedger || de.Offset != 3 {
			t.Fatalf("Run returned %v, want a *schemas.DecodeError at %s/0@3 wrapping ErrBadHeader", err, payments.TopicLedger)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop at the bad record")
	}
	offsets, err := kadm.NewClient(e.kafka()).FetchOffsets(context.Background(), cfg.Kafka.Group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offsets.Lookup(payments.TopicLedger, 0); !ok || o.At != 3 {
		t.Errorf("committed %s/0 offset %v, want 3: the records before the bad one, not it", payments.TopicLedger, o.At)
	}
}

// TestStartupChecks: a missing input topic and co-partitioned inputs with
// different partition counts stop the start with typed errors.
func TestStartupChecks(t *testing.T) {
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("CoPartition", func(t *testing.T) {
		e := newEnv(t, 4, kfake.SeedTopics(3, payments.TopicLedger))
		err := live.Run(context.Background(), g, e.config("copart"), live.WithLogger(quiet()))
		var ce *live.CoPartitionError
		if !errors.As(err, &ce) || ce.Partitions[payments.TopicPayments] != 4 || ce.Partitions[payments.TopicLedger] != 3 {
			t.Fatalf("Run returned %v, want a *CoPartitionError with 4 and 3 partitions", err)
		}
	})
	t.Run("MissingTopic", func(t *testing.T) {
		e := newEnv(t, 2)
		cfg := e.config("missing")
		cfg.Topics.Create = false
		err := live.Run(context.Background(), g, cfg, live.WithLogger(quiet()))
		var te *live.TopicError
		if !errors.As(err, &te) || !errors.Is(err, live.ErrMissingTopic) ||
			!slices.Equal(te.Topics, []string{"missing-dead-letters", "missing-changelog"}) {
			t.Fatalf("Run returned %v, want a *TopicError naming the dead-letter and changelog topics", err)
		}
	})
}

// TestRebalance runs three members of one group over six partitions: a
// first member alone, two more joining while data arrives, the first
// leaving mid-way. Tasks move between members whole (every input's
// partition with the same number) after a checkpoint, and the new owner
// resumes from the snapshot: the final state equals the reference run and
// no output is published twice.
func TestRebalance(t *testing.T) {
	e := newEnv(t, 6)
	g, ex, _ := e.rebalance(e.config("rebalance"))
	e.checkTables(g, ex)
	if dups := e.checkMismatches(ex); dups != 0 {
		t.Errorf("%d mismatch records published twice: a task was re-processed after moving", dups)
	}
}

// rebalance is the scenario of TestRebalance, over six partitions: it
// returns the graph, the reference state and the members' metrics.
func (e *env) rebalance(cfg live.Config) (*operators.Graph, expected, []*prometheus.Registry) {
	t := e.t
	t.Helper()
	ds := payments.Generate(payments.GeneratorConfig{Payments: 900, Partitions: 6, Interval: 3 * time.Minute})
	g, ex := referenceRun(t, ds)
	// Short heartbeats notice rebalances sooner; a short fetch wait lets a
	// member add partitions it is given without waiting out a long poll
	// on the ones it had.
	fast := live.WithKafkaOpts(kgo.HeartbeatInterval(50*time.Millisecond), kgo.FetchMaxWait(100*time.Millisecond))
	third := len(ds.Events[payments.TopicPayments][0]) / 3
	adm := kadm.NewClient(e.kafka())
	caughtUp := func() (bool, error) { return e.caughtUp(adm, cfg.Kafka.Group) }

	e.produce(ds, 0, third)
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry(), prometheus.NewRegistry()}
	a := e.start(g, cfg, fast, live.WithMetrics(regs[0]))
	waitFor(t, "the first member to catch up", 20*time.Second, a.done, caughtUp)
	b := e.start(g, cfg, fast, live.WithMetrics(regs[1]))
	c := e.start(g, cfg, fast, live.WithMetrics(regs[2]))
	e.produce(ds, third, 2*third)
	waitFor(t, "every member to run two tasks", 20*time.Second, b.done, func() (bool, error) {
		for _, reg := range regs {
			if metric(t, reg, "reckon_live_tasks", "", "") != 2 {
				return false, nil
			}
		}
		return true, nil
	})
	if err := a.stop(t); err != nil {
		t.Fatalf("first member: %v", err)
	}
	e.produce(ds, 2*third, -1)
	waitFor(t, "the remaining members to catch up", 20*time.Second, c.done, caughtUp)
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := c.stop(t); err != nil {
		t.Fatal(err)
	}
	return g, ex, regs
}

// TestRegistryOutage starts the driver while the schema registry is down:
// start-up is retried with backoff and the driver is not ready; once the
// registry is back it runs to the same state as the reference, and the
// outage dead-letters nothing.
func TestRegistryOutage(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	g, ex := referenceRun(t, ds)
	e.produce(ds, 0, -1)
	addr := strings.TrimPrefix(e.registry, "http://")
	e.stopRegistry()
	cfg := e.config("outage")
	reg := prometheus.NewRegistry()
	r := e.start(g, cfg, live.WithMetrics(reg))
	waitFor(t, "start-up to be retried", 20*time.Second, r.done, func() (bool, error) {
		return metric(t, reg, "reckon_live_retries_total", "dependency", "registry") >= 2, nil
	})
	if r.d.Ready() {
		t.Error("ready while the registry is down")
	}
	e.serveRegistry(addr)
	adm := kadm.NewClient(e.kafka())
	waitFor(t, "the group to catch up", 20*time.Second, r.done, func() (bool, error) { return e.caughtUp(adm, cfg.Kafka.Group) })
	if !r.d.Ready() {
		t.Error("not ready after the registry came back")
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	e.checkTables(g, ex)
	e.checkMismatches(ex)
	if n := len(e.topicRecords(cfg.Kafka.Group + "-dead-letters")); n != ex.deadLetters {
		t.Errorf("%d dead letters, want %d (the late records only)", n, ex.deadLetters)
	}
}

// TestWrongCredentials: a broker that refuses the SASL credentials stops
// the start at once with the broker's error, instead of retrying forever.
// (kfake closes the connection on bad credentials; a Kafka broker answers
// SASL_AUTHENTICATION_FAILED, which a control function plays here.)
func TestWrongCredentials(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", "reckon", "right"),
		kfake.SeedTopics(1, payments.TopicPayments, payments.TopicLedger, payments.TopicMismatches))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := live.Config{
		Kafka:    live.KafkaConfig{Brokers: c.ListenAddrs(), SASL: live.SASLConfig{Mechanism: "PLAIN", User: "reckon", Password: "wrong"}},
		Registry: live.RegistryConfig{URL: "http://127.0.0.1:1"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = live.Run(ctx, g, cfg, live.WithLogger(quiet()))
	if !errors.Is(err, kerr.SaslAuthenticationFailed) || ctx.Err() != nil {
		t.Fatalf("Run returned %v, want SASL_AUTHENTICATION_FAILED at once", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestGraphVersions shares one group and changelog between graph
// versions: version 3 runs after version 2 (its tasks find no snapshot of
// their own and start from the beginning), then version 2 resumes from
// its own snapshots although version 3 wrote the partitions' last
// records and committed newer offsets. A graph with version 2's name and
// version but other logic is refused with a *SnapshotError.
func TestGraphVersions(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	v2, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	v3, err := payments.Graph(3)
	if err != nil {
		t.Fatal(err)
	}
	ex := reference(t, v2, ds)
	cfg := e.config("versions")
	half := len(ds.Events[payments.TopicPayments][0]) / 2
	e.produce(ds, 0, half)
	e.runToEnd(v2, cfg)
	e.produce(ds, half, -1)
	e.runToEnd(v3, cfg)

	other := operators.NewGraph(payments.GraphName, 2)
	pay := other.Input(payments.TopicPayments, operators.KeyField("payment_id"), operators.TimeField("created_at"),
		operators.ReaderSchema(payments.PaymentV2))
	led := other.Input(payments.TopicLedger, operators.KeyField("payment_id"), operators.TimeField("booked_at"),
		operators.ReaderSchema(payments.LedgerV2))
	other.CoPartition(payments.TopicPayments, payments.TopicLedger)
	other.Project(pay, operators.Table("payments_seen").PartitionKey("payment_id").Columns("amount_minor"))
	other.Project(led, operators.Table("ledger_seen").PartitionKey("entry_id").Columns("amount_minor"))
	if err := other.Validate(); err != nil {
		t.Fatal(err)
	}
	err = live.Run(context.Background(), other, cfg, live.WithLogger(quiet()))
	var se *live.SnapshotError
	if !errors.As(err, &se) || !errors.Is(err, live.ErrSnapshot) {
		t.Fatalf("Run with other logic under version 2 returned %v, want a *SnapshotError", err)
	}

	// Version 2 again: it must re-process the second half from its own
	// snapshots, whatever version 3 committed.
	reg := prometheus.NewRegistry()
	r := e.start(v2, cfg, live.WithMetrics(reg))
	second := 0
	for _, parts := range ds.Events {
		for _, evs := range parts {
			second += max(0, len(evs)-half)
		}
	}
	waitFor(t, "version 2 to process the second half", 20*time.Second, r.done, func() (bool, error) {
		return metric(t, reg, "reckon_live_records_in_total", "", "") >= float64(second), nil
	})
	adm := kadm.NewClient(e.kafka())
	waitFor(t, "the group to catch up", 20*time.Second, r.done, func() (bool, error) { return e.caughtUp(adm, cfg.Kafka.Group) })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, reg, "reckon_live_records_in_total", "", ""); got != float64(second) {
		t.Errorf("version 2 consumed %v records on its return, want the %d of the second half", got, second)
	}
	e.checkTables(v2, ex)
	e.checkMismatchesOf(ex, 2)
}

// TestBrokerOutage drops every connection to the broker for a while: the
// driver reports not ready, waits the outage out without dead-lettering
// anything, is ready again once the broker answers, and ends in the
// reference state.
func TestBrokerOutage(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	g, ex := referenceRun(t, ds)
	half := len(ds.Events[payments.TopicPayments][0]) / 2
	e.produce(ds, 0, half)
	cfg := e.config("outage")
	r := e.start(g, cfg)
	adm := kadm.NewClient(e.kafka())
	waitFor(t, "the first half", 20*time.Second, r.done, func() (bool, error) {
		ok, err := e.caughtUp(adm, cfg.Kafka.Group)
		return ok && r.d.Ready(), err
	})
	var down atomic.Bool
	down.Store(true)
	e.cluster.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if !down.Load() {
			e.cluster.DropControl()
			return nil, nil, false
		}
		e.cluster.KeepControl()
		return nil, errors.New("broker unreachable"), true
	})
	waitFor(t, "the driver to report not ready", 20*time.Second, r.done, func() (bool, error) { return !r.d.Ready(), nil })
	if !r.d.Healthy() {
		t.Error("not healthy during a broker outage: the poll loop is alive")
	}
	down.Store(false)
	e.produce(ds, half, -1)
	waitFor(t, "the driver to catch up after the outage", 20*time.Second, r.done, func() (bool, error) {
		ok, err := e.caughtUp(adm, cfg.Kafka.Group)
		return ok && r.d.Ready(), err
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	e.checkTables(g, ex)
	e.checkMismatches(ex)
	if n := len(e.topicRecords(cfg.Kafka.Group + "-dead-letters")); n != ex.deadLetters {
		t.Errorf("%d dead letters, want %d (the late records only)", n, ex.deadLetters)
	}
}
