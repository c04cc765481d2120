package live_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
)

// TestFaults runs the driver on three brokers while kfake injects faults:
// dropped connections on fetches, NotLeader answers with leader shuffles,
// offset-commit timeouts, and ambiguous produce timeouts (the broker
// appends the batch but answers REQUEST_TIMED_OUT). The final state equals
// the reference run, and no output is published twice: the idempotent
// producer de-duplicates its retries, and a failed commit is retried at
// the next checkpoint without re-processing anything.
func TestFaults(t *testing.T) {
	e := newEnv(t, 4, kfake.NumBrokers(3))
	ds := dataset()
	g, ex := referenceRun(t, ds)
	half := len(ds.Events[payments.TopicPayments][0]) / 2
	e.produce(ds, 0, half)

	c := e.cluster
	var drops atomic.Int32
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n := drops.Add(1)
		if n%5 != 1 || n > 20 {
			return nil, nil, false // let the broker answer
		}
		return nil, errors.New("connection dropped"), true
	})
	faults := c.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: payments.TopicMismatches, Err: kerr.RequestTimedOut, Count: 3},
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: payments.TopicMismatches, Err: kerr.NotLeaderForPartition, Count: 3},
		kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: payments.TopicLedger, Err: kerr.NotLeaderForPartition, Count: 3},
		kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.RequestTimedOut, Count: 3},
	)
	cfg := e.config("faults")
	// Leader changes are learnt from a metadata refresh, at most every
	// MetadataMinAge (5s by default).
	r := e.start(g, cfg, live.WithKafkaOpts(kgo.MetadataMinAge(50*time.Millisecond)))
	adm := kadm.NewClient(e.kafka())
	waitFor(t, "the faults to be hit", 20*time.Second, r.done, func() (bool, error) { return faults.Hits() >= 6, nil })
	c.ShufflePartitionLeaders()
	e.produce(ds, half, -1)
	c.ShufflePartitionLeaders()
	waitFor(t, "the group to catch up", 20*time.Second, r.done, func() (bool, error) { return e.caughtUp(adm, cfg.Kafka.Group) })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%d faults answered, %d fetches seen", faults.Hits(), drops.Load())
	e.checkTables(g, ex)
	if dups := e.checkMismatches(ex); dups != 0 {
		t.Errorf("%d mismatch records published twice", dups)
	}
}
