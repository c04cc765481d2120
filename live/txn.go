package live

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// transactionalID is the member's transactional id with exactly-once
// delivery: <group>-<instance id>, stable across restarts so that a
// restarted member fences its predecessor, or <group>-<random> without
// static membership.
func (d *Driver) transactionalID() string {
	if d.cfg.Kafka.InstanceID != "" {
		return d.cfg.Kafka.Group + "-" + d.cfg.Kafka.InstanceID
	}
	return d.cfg.Kafka.Group + "-" + rand.Text()
}

// exactlyOnce reports whether checkpoints are transactions.
func (d *Driver) exactlyOnce() bool { return d.cfg.Delivery == DeliveryExactlyOnce }

// session creates the group transact session of exactly-once delivery,
// fences the previous holder of the transactional id (aborting the
// transaction it left open) and begins the first transaction.
func (r *run) session(ctx context.Context, groupOpts []kgo.Opt) error {
	d := r.d
	txid := d.transactionalID()
	opts := append(append([]kgo.Opt{}, r.base...), groupOpts...)
	opts = append(opts,
		kgo.TransactionalID(txid),
		kgo.TransactionTimeout(max(40*time.Second, 2*d.cfg.CommitInterval)),
		kgo.RecordPartitioner(partitioner{changelog: d.cfg.Topics.Changelog}),
		kgo.WithHooks(d.kpromC, d.kpromP, &d.kafka),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("live: transact session: %w", err)
	}
	r.sess = sess
	r.consumer = sess.Client()
	r.producer = sess.Client()
	err = d.retry(ctx, "kafka", func() error {
		_, _, err := r.producer.ProducerID(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: transactional id %s: %w", ErrTransaction, txid, err)
	}
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("%w: begin: %w", ErrTransaction, err)
	}
	r.txOpen = true
	d.log.Info("exactly-once delivery", "transactional_id", txid)
	return nil
}

// transaction is a checkpoint of exactly-once delivery, prepared.
type transaction struct {
	byP map[int32]*runner
	// changed are the snapshots written to the changelog, by partition,
	// and slots the chunk slots they were written in.
	changed map[int32]snapshot
	slots   map[int32]byte
}

// transact checkpoints every task this member runs in one transaction:
// the outputs produced since the last one, the snapshots and the offsets
// commit together, or none of them. It runs on the poll loop, between
// polls (the session forbids polling while a transaction begins or
// ends); an aborted transaction rewinds every task to its last committed
// snapshot.
func (r *run) transact(ctx context.Context) error {
	r.cpMu.Lock()
	r.mu.Lock()
	rs := r.runnerList()
	r.mu.Unlock()
	tx, err := r.prepare(ctx, rs)
	// The session's revoke callback holds the session's lock while
	// revoked waits for cpMu, and ending needs that lock: end without
	// cpMu.
	r.cpMu.Unlock()
	if err != nil {
		return r.abort(ctx, err)
	}
	return r.end(ctx, tx, false)
}

// prepare takes the snapshots of rs, makes the projection writes durable
// (they are idempotent and stay outside the transaction) and produces
// into the transaction the snapshots of the tasks that moved. The caller
// holds cpMu.
func (r *run) prepare(ctx context.Context, rs []*runner) (*transaction, error) {
	tx := &transaction{byP: map[int32]*runner{}, changed: map[int32]snapshot{}, slots: map[int32]byte{}}
	if len(rs) == 0 {
		return tx, nil
	}
	snaps, err := r.snapshots(rs)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := r.durable(ctx); err != nil {
		return nil, err
	}
	r.d.m.flushSeconds.Observe(time.Since(start).Seconds())
	for _, ru := range rs {
		tx.byP[ru.p] = ru
	}
	for _, s := range snaps {
		if maps.Equal(s.next, tx.byP[s.p].committed) && !s.dirty {
			continue // nothing new since the last checkpoint
		}
		tx.changed[s.p] = s
		recs, slot := r.snapshotRecords(s, tx.byP[s.p].slot)
		tx.slots[s.p] = slot
		for _, rec := range recs {
			if err := r.produce(rec); err != nil {
				return nil, err
			}
		}
	}
	return tx, nil
}

// end ends the open transaction, committing it with the offsets of the
// snapshots in tx, and begins the next one unless final. The commit
// fails over to an abort when a rebalance took partitions meanwhile;
// then every task is rewound to its last committed snapshot.
func (r *run) end(ctx context.Context, tx *transaction, final bool) error {
	d := r.d
	if !r.txOpen || len(tx.changed) == 0 && r.inTxn.Load() == 0 && !r.mustEnd.Load() {
		return nil // no transaction, or nothing in it
	}
	// The offsets committed are the snapshots' (what the tasks
	// handled), not the session's (what the poll loop fetched): they
	// differ only after a fatal error, when runners drop what is queued.
	offsets := map[string]map[int32]int64{}
	for p, s := range tx.changed {
		for t, o := range s.next {
			if offsets[t] == nil {
				offsets[t] = map[int32]int64{}
			}
			offsets[t][p] = o
		}
	}
	ectx := kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		setTxnOffsets(req, offsets)
		return nil
	})
	how := kgo.TryCommit
	if r.produced.Load() != nil {
		how = kgo.TryAbort
	}
	start := time.Now()
	committed, err := r.sess.End(ectx, how)
	r.txOpen = false
	r.inTxn.Store(0)
	r.mustEnd.Store(false)
	if err != nil {
		d.m.checkpoints.WithLabelValues("failed").Inc()
		return fmt.Errorf("%w: end: %w", ErrTransaction, err)
	}
	if pe := r.produced.Load(); pe != nil {
		d.m.checkpoints.WithLabelValues("failed").Inc()
		return pe
	}
	if committed {
		d.m.commitSeconds.Observe(time.Since(start).Seconds())
		d.m.checkpoints.WithLabelValues("ok").Inc()
		for p, s := range tx.changed {
			tx.byP[p].committed = s.next
			tx.byP[p].slot = tx.slots[p]
		}
	} else {
		d.m.checkpoints.WithLabelValues("aborted").Inc()
		d.log.Info("transaction aborted (a rebalance took partitions, or the group refused its offsets); tasks rewind to their last committed snapshot")
		if !final {
			r.rewind(ctx)
		}
	}
	if final {
		return nil
	}
	if err := r.sess.Begin(); err != nil {
		return fmt.Errorf("%w: begin: %w", ErrTransaction, err)
	}
	r.txOpen = true
	return nil
}

// abort aborts the open transaction, if any, after cause and returns
// cause.
func (r *run) abort(ctx context.Context, cause error) error {
	if cause != nil {
		r.d.m.checkpoints.WithLabelValues("failed").Inc()
	}
	if !r.txOpen {
		return cause
	}
	r.txOpen = false
	if _, err := r.sess.End(ctx, kgo.TryAbort); err != nil {
		r.d.log.Warn("abort transaction", "err", err)
	}
	r.inTxn.Store(0)
	r.mustEnd.Store(false)
	return cause
}

// setTxnOffsets sets the offsets of req's partitions to those in
// offsets, adding the partitions req lacks.
func setTxnOffsets(req *kmsg.TxnOffsetCommitRequest, offsets map[string]map[int32]int64) {
	for t, ps := range offsets {
		i := slices.IndexFunc(req.Topics, func(rt kmsg.TxnOffsetCommitRequestTopic) bool { return rt.Topic == t })
		if i < 0 {
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = t
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
		}
		rt := &req.Topics[i]
		for p, o := range ps {
			k := slices.IndexFunc(rt.Partitions, func(rp kmsg.TxnOffsetCommitRequestTopicPartition) bool { return rp.Partition == p })
			if k < 0 {
				rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
				rp.Partition = p
				rt.Partitions = append(rt.Partitions, rp)
				k = len(rt.Partitions) - 1
			}
			rt.Partitions[k].Offset = o
			rt.Partitions[k].LeaderEpoch = -1
		}
	}
}

// rewind replaces every task by its last committed snapshot, after an
// aborted transaction, and moves consumption back to the snapshots'
// offsets. It runs on the poll loop.
func (r *run) rewind(ctx context.Context) {
	r.cpMu.Lock()
	r.mu.Lock()
	rs := r.runnerList()
	ps := make([]int32, 0, len(rs))
	for _, ru := range rs {
		delete(r.runners, ru.p)
		r.restoring[ru.p] = true
		ps = append(ps, ru.p)
	}
	r.mu.Unlock()
	stopRunners(rs)
	r.cpMu.Unlock()
	started := r.startTasks(ctx, ps)
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, ru := range started {
		for _, t := range r.top.inputs {
			if ru.p >= r.top.partitions[t] {
				continue
			}
			if offsets[t] == nil {
				offsets[t] = map[int32]kgo.EpochOffset{}
			}
			offsets[t][ru.p] = kgo.EpochOffset{Epoch: -1, Offset: ru.start[t]}
		}
	}
	r.consumer.SetOffsets(offsets)
}
