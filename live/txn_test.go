package live_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
)

// txnConfig is e.config with exactly-once delivery.
func (e *env) txnConfig(group string) live.Config {
	cfg := e.config(group)
	cfg.Delivery = live.DeliveryExactlyOnce
	return cfg
}

// checkExactlyOnce checks what a read_committed consumer sees of the
// mismatch and dead-letter topics: the reference's final states, every
// mismatch record once (no id twice) and every dead letter once. It
// returns how many records the topics hold from aborted transactions
// (seen only at read_uncommitted).
func (e *env) checkExactlyOnce(ex expected, group string) (aborted int) {
	t := e.t
	t.Helper()
	if dups := e.checkMismatches(ex); dups != 0 {
		t.Errorf("%d mismatch records published twice in committed transactions", dups)
	}
	dl := e.topicRecords(group + "-dead-letters")
	if got, distinct := len(dl), countDistinct(dl); got != ex.deadLetters || distinct != ex.deadLetters {
		t.Errorf("%d dead letters (%d distinct), want each of the %d once", got, distinct, ex.deadLetters)
	}
	for _, topic := range []string{payments.TopicMismatches, group + "-dead-letters"} {
		aborted += len(e.readTopic(topic, kgo.ReadUncommitted())) - len(e.topicRecords(topic))
	}
	return aborted
}

// TestTxnEndToEnd runs the dataset through a driver with exactly-once
// delivery in two halves, stopping it in between. The first run has a
// commit interval longer than the test: its one transaction is the one
// shutdown commits. The second run restores every task from the
// committed changelog. The final projections and mismatch states equal
// the reference run, and a read_committed consumer sees every published
// record and every dead letter exactly once.
func TestTxnEndToEnd(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	g, ex := referenceRun(t, ds)
	cfg := e.txnConfig("txn-e2e")
	half := len(ds.Events[payments.TopicPayments][0]) / 2
	e.produce(ds, 0, half)
	adm := kadm.NewClient(e.kafka())
	first := cfg
	first.CommitInterval = live.MaxTxnCommitInterval
	reg := prometheus.NewRegistry()
	r := e.start(g, first, live.WithMetrics(reg))
	in := float64(totalEnd(t, adm))
	waitFor(t, "the first run to take every record in", 20*time.Second, r.done, func() (bool, error) {
		return metric(t, reg, "reckon_live_records_in_total", "", "") == in, nil
	})
	if ok, err := e.caughtUp(adm, cfg.Kafka.Group); err != nil || ok {
		t.Fatalf("offsets committed before the first checkpoint (caught up %v, %v)", ok, err)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ok, err := e.caughtUp(adm, cfg.Kafka.Group); err != nil || !ok {
		t.Fatalf("shutdown did not commit every offset it handled (caught up %v, %v)", ok, err)
	}
	if n := metric(t, reg, "reckon_live_checkpoints_total", "result", "ok"); n != 1 {
		t.Errorf("%v transactions committed, want 1 (at shutdown)", n)
	}
	e.produce(ds, half, -1)
	reg = prometheus.NewRegistry()
	e.runToEnd(g, cfg, live.WithMetrics(reg))
	if n := metric(t, reg, "reckon_live_restore_seconds", "", ""); n == 0 {
		t.Error("the second run restored no task")
	}
	e.checkTables(g, ex)
	aborted := e.checkExactlyOnce(ex, cfg.Kafka.Group)
	t.Logf("%d records of aborted transactions", aborted)
}

// TestTxnRebalance runs three members with exactly-once delivery over six
// partitions: one alone, two more joining while data arrives, the first
// leaving mid-way. A revocation aborts the open transaction of the member
// that loses tasks, which rewinds its tasks to their last committed
// snapshots; a read_committed consumer still sees every record once.
func TestTxnRebalance(t *testing.T) {
	e := newEnv(t, 6)
	// No static membership (a static member does not leave the group
	// when it stops): each member's transactional id is random.
	cfg := e.txnConfig("txn-rebalance")
	g, ex, regs := e.rebalance(cfg)
	e.checkTables(g, ex)
	aborted := e.checkExactlyOnce(ex, cfg.Kafka.Group)
	var rolledBack float64
	for _, reg := range regs {
		rolledBack += metric(t, reg, "reckon_live_checkpoints_total", "result", "aborted")
	}
	t.Logf("%v transactions aborted by rebalances, %d records of aborted transactions", rolledBack, aborted)
	if rolledBack == 0 {
		t.Error("no revocation aborted a transaction: the test did not exercise the rewind")
	}
}

// TestTxnCrash is TestCrash with exactly-once delivery: a driver process
// is killed with SIGKILL at random points and restarted (with the same
// instance id, so the same transactional id: the new member fences the
// dead one and aborts its open transaction). Besides the final state
// equal to the reference run, a read_committed consumer of the mismatch
// topic sees no reckon.id twice and nothing of an aborted transaction,
// and every dead letter once.
func TestTxnCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses; skipped with -short")
	}
	forEachChunking(t, testTxnCrash)
}

func testTxnCrash(t *testing.T, chunk int) {
	e := newEnv(t, 4)
	e.chunk = chunk
	ds := payments.Generate(payments.GeneratorConfig{Payments: 3000, Partitions: 4, Interval: time.Minute})
	g, ex := referenceRun(t, ds)
	cfg := e.txnConfig("txn-crash")
	cfg.Kafka.InstanceID = "child"
	// Transactions stay open long enough for kills to land inside.
	cfg.CommitInterval = 250 * time.Millisecond
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	const kills = 6
	adm := kadm.NewClient(e.kafka())
	var published int64 // the mismatch topic's end before the child starts
	before := func(int) { published = totalEnd(t, adm, payments.TopicMismatches) }
	random := killWithin(t, rng, 250*time.Millisecond)
	e.crashRounds(ds, cfg, kills, before, func(i int, exited <-chan error) {
		if i%2 == 0 {
			random(i, exited)
			return
		}
		// As soon as it publishes: inside a transaction, most likely
		// before it ends.
		deadline := time.After(10 * time.Second)
		for totalEnd(t, adm, payments.TopicMismatches) == published {
			select {
			case err := <-exited:
				t.Fatalf("child %d exited before it published: %v", i, err)
			case <-deadline:
				t.Fatalf("child %d published nothing in 10s", i)
			default:
			}
		}
	})
	waitStart := time.Now()
	e.runToEnd(g, cfg, live.WithKafkaOpts(kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(100*time.Millisecond)))
	t.Logf("%d kills; the final run caught up in %s", kills, time.Since(waitStart).Round(time.Millisecond))
	e.checkTables(g, ex)
	aborted := e.checkExactlyOnce(ex, cfg.Kafka.Group)
	t.Logf("%d records of aborted transactions (left open by a killed member)", aborted)
	if aborted == 0 {
		t.Error("no kill left a transaction open: the test did not exercise aborts")
	}
	e.checkChunked(cfg)
}

// TestTxnRestoreReadsCommitted puts snapshots that do not restore into
// the changelog inside an aborted transaction (partition 0) and inside a
// transaction left open (partition 1), as a member killed or fenced in the
// middle of a checkpoint leaves them: restore reads committed records
// only, so the driver never sees them and runs to the reference state.
func TestTxnRestoreReadsCommitted(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	g, ex := referenceRun(t, ds)
	cfg := e.txnConfig("txn-restore")
	changelog := cfg.Kafka.Group + "-changelog"
	adm := kadm.NewClient(e.kafka())
	if _, err := adm.CreateTopic(context.Background(), 4, -1, nil, changelog); err != nil {
		t.Fatal(err)
	}
	bogus := func(p int32) *kgo.Record {
		return &kgo.Record{Topic: changelog, Partition: p, Key: fmt.Appendf(nil, "%s/v%d/%d", g.Name(), g.Version(), p),
			Value: []byte("not a snapshot"), Headers: []kgo.RecordHeader{{Key: live.HeaderFingerprint, Value: []byte(g.Fingerprint())}}}
	}
	ctx := context.Background()
	for p, commit := range map[int32]*kgo.TransactionEndTry{0: new(kgo.TryAbort), 1: nil} {
		cl := e.kafka(kgo.TransactionalID(fmt.Sprintf("zombie-%d", p)), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, bogus(p)).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if commit != nil {
			if err := cl.EndTransaction(ctx, *commit); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.produce(ds, 0, -1)
	e.runToEnd(g, cfg)
	e.checkTables(g, ex)
	e.checkExactlyOnce(ex, cfg.Kafka.Group)
}

// TestTxnZombieFenced starts a second member with the first one's
// instance id, hence its transactional id, while the first still has a
// transaction open with the outputs of half the dataset: the second
// fences the first (its open transaction is aborted, and it can commit
// nothing more) and takes its tasks over. The first stops with an error;
// a read_committed consumer sees every record once.
func TestTxnZombieFenced(t *testing.T) {
	e := newEnv(t, 4)
	ds := dataset()
	g, ex := referenceRun(t, ds)
	cfg := e.txnConfig("txn-zombie")
	cfg.Kafka.InstanceID = "member"
	half := len(ds.Events[payments.TopicPayments][0]) / 2
	e.produce(ds, 0, half)
	adm := kadm.NewClient(e.kafka())
	zcfg := cfg
	zcfg.CommitInterval = live.MaxTxnCommitInterval // its transaction stays open
	zreg := prometheus.NewRegistry()
	zombie := e.start(g, zcfg, live.WithMetrics(zreg))
	in := float64(totalEnd(t, adm))
	waitFor(t, "the first member to take every record in and publish", 20*time.Second, zombie.done, func() (bool, error) {
		return metric(t, zreg, "reckon_live_records_in_total", "", "") == in && totalEnd(t, adm, payments.TopicMismatches) > 0, nil
	})
	e.produce(ds, half, -1)
	e.runToEnd(g, cfg)
	err := zombie.stop(t)
	t.Logf("the fenced member stopped with: %v", err)
	if err == nil {
		t.Error("the fenced member stopped without an error")
	}
	if n := metric(t, zreg, "reckon_live_checkpoints_total", "result", "ok"); n != 0 {
		t.Errorf("the fenced member committed %v transactions, want 0", n)
	}
	e.checkTables(g, ex)
	aborted := e.checkExactlyOnce(ex, cfg.Kafka.Group)
	if aborted == 0 {
		t.Error("nothing of the fenced member's transaction was aborted")
	}
}
