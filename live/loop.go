package live

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrGraceExpired is the cause of a shutdown that outlasted
// Config.ShutdownGrace.
var ErrGraceExpired = errors.New("live: shutdown grace period expired")

// errUnowned: the consumer delivered records of a partition number whose
// task does not run here (a balancer defect, never bad input).
var errUnowned = errors.New("live: records for a partition number this member does not run")

// loop consumes until ctx ends or the run fails, then shuts down.
func (r *run) loop(ctx context.Context) error {
	d := r.d
	// Three contexts: poll ends the poll loop (ctx's end, or a fatal
	// error); stop ends processing (a fatal error); hard ends what must
	// finish for a clean shutdown — produce, checkpoint, leave — and only
	// the grace period ends it.
	hard, hardCancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop, stopCancel := context.WithCancelCause(hard)
	poll, pollCancel := context.WithCancelCause(ctx)
	r.hard, r.stop = hard, stop
	r.cancel = func(err error) { pollCancel(err); stopCancel(err) }
	defer hardCancel(nil)
	defer stopCancel(nil)
	defer pollCancel(nil)

	groupOpts := []kgo.Opt{
		kgo.ConsumerGroup(d.cfg.Kafka.Group),
		kgo.ConsumeTopics(r.top.inputs...),
		kgo.Balancers(newTaskBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Inputs written by transactional producers (an exactly-once
		// reckon upstream, say): only committed records are events.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, added map[string][]int32) {
			r.assigned(hard, cl, added)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
			// With exactly-once delivery the open transaction aborts
			// instead: nothing to checkpoint here.
			r.revoked(hard, cl, lost, !d.exactlyOnce())
		}),
		kgo.OnPartitionsLost(func(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
			r.revoked(hard, cl, lost, false)
		}),
		kgo.AdjustFetchOffsetsFn(r.adjustOffsets),
	}
	if d.cfg.Kafka.InstanceID != "" {
		groupOpts = append(groupOpts, kgo.InstanceID(d.cfg.Kafka.InstanceID))
	}
	if d.exactlyOnce() {
		// One client consumes and produces in transactions; the poll
		// loop checkpoints (see transact).
		if err := r.session(poll, groupOpts); err != nil {
			if r.sess != nil {
				r.sess.Close()
			}
			if ctx.Err() != nil && !permanent(err) {
				d.log.Info("stopped during start-up", "err", err)
				return nil
			}
			return err
		}
	} else {
		cl, err := kgo.NewClient(append(slices.Clone(r.base), append(groupOpts, kgo.WithHooks(d.kpromC, &d.kafka))...)...)
		if err != nil {
			return fmt.Errorf("live: consumer: %w", err)
		}
		r.consumer = cl
		r.checkpointer(poll, hard)
	}
	cl := r.consumer

	d.alive.Store(true)
	d.log.Info("consuming", "topics", r.top.inputs, "tasks", r.top.tasks, "delivery", d.cfg.Delivery)
	next := time.Now().Add(d.cfg.CommitInterval) // the next transaction's end
	for poll.Err() == nil {
		pctx, cancel := poll, context.CancelFunc(func() {})
		if r.sess != nil {
			pctx, cancel = context.WithDeadline(poll, next)
		}
		fetches := cl.PollRecords(pctx, d.cfg.MaxPollRecords)
		cancel()
		if poll.Err() != nil {
			cl.AllowRebalance()
			break
		}
		var fatal error
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			if permanent(err) || errors.Is(err, kerr.SaslAuthenticationFailed) {
				fatal = err
			}
			d.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		if fatal != nil {
			cl.AllowRebalance()
			r.fail(fatal)
			break
		}
		r.mu.Lock()
		fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if len(ftp.Records) == 0 || fatal != nil {
				return
			}
			ru := r.runners[ftp.Partition]
			if ru == nil {
				fatal = fmt.Errorf("%w: %s/%d", errUnowned, ftp.Topic, ftp.Partition)
				return
			}
			last := ftp.Records[len(ftp.Records)-1].Offset
			end := ftp.LastStableOffset // read_committed reads up to it
			d.m.lag.WithLabelValues(ftp.Topic, strconv.Itoa(int(ftp.Partition))).Set(float64(max(0, end-last-1)))
			ru.in <- work{recs: ftp.Records}
		})
		r.mu.Unlock()
		if fatal == nil && r.sess != nil && (!time.Now().Before(next) || r.mustEnd.Load()) {
			// Before AllowRebalance: no rebalance interleaves with
			// the records just dispatched.
			fatal = r.transact(hard)
			next = time.Now().Add(d.cfg.CommitInterval)
		}
		cl.AllowRebalance()
		if fatal != nil {
			r.fail(fatal)
		}
	}
	d.alive.Store(false)
	d.started.Store(false)
	return r.shutdown(ctx, hard, hardCancel)
}

// checkpointer starts the goroutine that checkpoints every
// CommitInterval until poll ends (at-least-once delivery).
func (r *run) checkpointer(poll, hard context.Context) {
	d := r.d
	r.cpWG.Add(1)
	go func() {
		defer r.cpWG.Done()
		t := time.NewTicker(d.cfg.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-poll.Done():
				return
			case <-t.C:
				if err := r.checkpointAll(hard); err != nil {
					if permanent(err) {
						r.fail(err)
						return
					}
					d.log.Warn("checkpoint failed; retrying at the next interval", "err", err)
				}
			}
		}
	}()
}

// shutdown stops the runners, checkpoints them (unless a produce failed:
// then outputs are not durable and nothing is committed; with
// exactly-once delivery the open transaction is aborted), and leaves the
// group, all within the grace period.
func (r *run) shutdown(ctx context.Context, hard context.Context, hardCancel context.CancelCauseFunc) error {
	d := r.d
	fatal := r.fatalErr()
	timer := time.AfterFunc(d.cfg.ShutdownGrace, func() { hardCancel(ErrGraceExpired) })
	defer timer.Stop()
	r.cpWG.Wait()
	r.cpMu.Lock()
	r.mu.Lock()
	rs := r.runnerList()
	r.runners = map[int32]*runner{}
	r.mu.Unlock()
	stopRunners(rs)
	var cpErr error
	commit := !errors.Is(fatal, ErrProduce) && !errors.Is(fatal, ErrSnapshot)
	switch {
	case r.sess != nil:
		var tx *transaction
		if commit && !errors.Is(fatal, ErrTransaction) {
			tx, cpErr = r.prepare(hard, rs)
		}
		r.cpMu.Unlock() // see transact
		switch {
		case errors.Is(fatal, ErrTransaction):
			// The session can end no transaction any more.
		case tx == nil:
			cpErr = r.abort(hard, cpErr)
		default:
			cpErr = r.end(hard, tx, true)
		}
	case commit:
		cpErr = r.checkpoint(hard, rs)
		if errors.Is(cpErr, errRebalancing) {
			// The snapshots hold the offsets; the next owner resumes there.
			d.log.Warn("final commit refused by a rebalance", "err", cpErr)
			cpErr = nil
		}
		r.cpMu.Unlock()
	default:
		r.cpMu.Unlock()
	}
	r.wg.Wait()
	d.m.tasks.Set(0)
	leave, cancel := context.WithCancel(hard)
	defer cancel()
	if err := r.consumer.LeaveGroupContext(leave); err != nil && hard.Err() == nil {
		d.log.Warn("leave group", "err", err)
	}
	r.consumer.Close()
	if fatal != nil {
		return fatal
	}
	if cpErr != nil {
		return fmt.Errorf("live: final checkpoint: %w", cpErr)
	}
	if errors.Is(context.Cause(hard), ErrGraceExpired) {
		return ErrGraceExpired
	}
	d.log.Info("stopped", "cause", context.Cause(ctx))
	return nil
}

func (r *run) runnerList() []*runner {
	rs := make([]*runner, 0, len(r.runners))
	for _, ru := range r.runners {
		rs = append(rs, ru)
	}
	slices.SortFunc(rs, func(a, b *runner) int { return int(a.p - b.p) })
	return rs
}
