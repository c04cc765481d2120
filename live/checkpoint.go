package live

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reckon-dev/reckon/operators"
)

// HeaderFingerprint is set on changelog records: the graph fingerprint
// the snapshot was taken with.
const HeaderFingerprint = "reckon.fingerprint"

// snapshotKey is a task's changelog key.
func (r *run) snapshotKey(p int32) string {
	return fmt.Sprintf("%s/v%d/%d", r.d.g.Name(), r.d.g.Version(), p)
}

// checkpointAll checkpoints every task this member runs.
func (r *run) checkpointAll(ctx context.Context) error {
	r.cpMu.Lock()
	defer r.cpMu.Unlock()
	r.mu.Lock()
	rs := r.runnerList()
	r.mu.Unlock()
	return r.checkpoint(ctx, rs)
}

// checkpoint makes the work of runners durable, in the order that keeps
// the commit honest: (1) snapshot every task after the records dispatched
// to it so far, (2) flush the sink and wait for the producer's
// acknowledgements, so every output of those records is durable, (3)
// write the snapshots to the changelog and wait for them, (4) commit the
// offsets after the last record each task handled. A runner that has
// stopped is snapshotted directly. The caller holds cpMu, so no runner
// of rs is stopped meanwhile.
func (r *run) checkpoint(ctx context.Context, rs []*runner) error {
	if len(rs) == 0 {
		return nil
	}
	d := r.d
	snaps, err := r.snapshots(rs)
	if err != nil {
		d.m.checkpoints.WithLabelValues("failed").Inc()
		return err
	}
	start := time.Now()
	if err := r.durable(ctx); err != nil {
		d.m.checkpoints.WithLabelValues("failed").Inc()
		return err
	}
	d.m.flushSeconds.Observe(time.Since(start).Seconds())

	byP := map[int32]*runner{}
	for _, ru := range rs {
		byP[ru.p] = ru
	}
	var records []*kgo.Record
	offsets := map[string]map[int32]kgo.EpochOffset{}
	slots := map[int32]byte{}
	for _, s := range snaps {
		ru := byP[s.p]
		if maps.Equal(s.next, ru.committed) {
			continue // nothing new since the last checkpoint
		}
		recs, slot := r.snapshotRecords(s, ru.slot)
		records = append(records, recs...)
		slots[s.p] = slot
		for t, o := range s.next {
			if offsets[t] == nil {
				offsets[t] = map[int32]kgo.EpochOffset{}
			}
			offsets[t][s.p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
	}
	if len(records) == 0 {
		return nil
	}
	if err := d.retry(ctx, "changelog", func() error { return r.producer.ProduceSync(ctx, records...).FirstErr() }); err != nil {
		d.m.checkpoints.WithLabelValues("failed").Inc()
		if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
			err = fmt.Errorf("live: changelog %s refuses a snapshot record of up to %d bytes: raise the topic's max.message.bytes, or lower the record limit (live.WithChangelogRecordBytes): %w",
				d.cfg.Topics.Changelog, d.o.changelogRecordBytes, err)
		}
		return err
	}
	for p, slot := range slots {
		byP[p].slot = slot // the manifest is durable
	}
	start = time.Now()
	if err := d.retry(ctx, "commit", func() error { return r.commit(ctx, offsets) }); err != nil {
		d.m.checkpoints.WithLabelValues("failed").Inc()
		return err
	}
	d.m.commitSeconds.Observe(time.Since(start).Seconds())
	d.m.checkpoints.WithLabelValues("ok").Inc()
	for _, s := range snaps {
		byP[s.p].committed = s.next
	}
	return nil
}

// snapshots asks every runner of rs for a snapshot after the records
// dispatched to it so far (a runner that has stopped is snapshotted
// directly), and returns the first snapshot error.
func (r *run) snapshots(rs []*runner) ([]snapshot, error) {
	snaps := make([]snapshot, 0, len(rs))
	replies := make(chan snapshot, len(rs))
	asked := 0
	for _, ru := range rs {
		select {
		case <-ru.done:
			snaps = append(snaps, ru.snapshot())
		default:
			ru.in <- work{snap: replies}
			asked++
		}
	}
	for range asked {
		snaps = append(snaps, <-replies)
	}
	for _, s := range snaps {
		if s.err != nil {
			return nil, s.err
		}
	}
	return snaps, nil
}

// durable flushes the sink (retrying outages) and waits for every
// produced record's acknowledgement.
func (r *run) durable(ctx context.Context) error {
	if f, ok := r.sink.(operators.Flusher); ok {
		if err := r.d.retry(ctx, "sink", func() error { return f.Flush(ctx) }); err != nil {
			return err
		}
	}
	if err := r.producer.Flush(ctx); err != nil {
		return err
	}
	if pe := r.produced.Load(); pe != nil {
		return pe
	}
	return nil
}

// errRebalancing: a commit refused because the group is rebalancing or
// this member was fenced; the snapshots already hold the offsets, so the
// commit waits for the next checkpoint (retrying here would hold up the
// revocation that the rebalance waits for).
var errRebalancing = errors.New("live: commit refused while the group rebalances")

// commit commits offsets for the group.
func (r *run) commit(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var cerr error
	r.consumer.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				err := kerr.ErrorForCode(p.ErrorCode)
				switch {
				case err == nil || cerr != nil:
				case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.RebalanceInProgress),
					errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.FencedInstanceID):
					cerr = fmt.Errorf("%w: %s/%d: %w", errRebalancing, t.Topic, p.Partition, err)
				default:
					cerr = fmt.Errorf("commit %s/%d: %w", t.Topic, p.Partition, err)
				}
			}
		}
	})
	return cerr
}

// assigned notes the partitions this member now owns and starts the
// tasks whose partitions of every input it owns, each restored from the
// changelog first. With exactly-once delivery the tasks start later, in
// adjustOffsets: after the group's committed offsets were fetched as
// stable, that is once no transaction of a previous owner is pending.
func (r *run) assigned(ctx context.Context, _ *kgo.Client, added map[string][]int32) {
	r.mu.Lock()
	for t, ps := range added {
		if r.owned[t] == nil {
			r.owned[t] = map[int32]bool{}
		}
		for _, p := range ps {
			r.owned[t][p] = true
		}
	}
	if r.sess != nil {
		if len(r.readyLocked()) == 0 {
			r.d.started.Store(true)
		}
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	r.startReady(ctx)
}

// readyLocked returns the tasks whose partitions of every input this
// member owns and that neither run nor are being restored. The caller
// holds mu.
func (r *run) readyLocked() []int32 {
	var ready []int32
	for p := range r.top.tasks {
		if r.runners[p] != nil || r.restoring[p] {
			continue
		}
		all := true
		for _, t := range r.top.inputs {
			if p < r.top.partitions[t] && !r.owned[t][p] {
				all = false
			}
		}
		if all {
			ready = append(ready, p)
		}
	}
	return ready
}

// startReady restores and starts the tasks readyLocked names.
func (r *run) startReady(ctx context.Context) {
	r.mu.Lock()
	ready := r.readyLocked()
	for _, p := range ready {
		r.restoring[p] = true
	}
	r.mu.Unlock()
	r.startTasks(ctx, ready)
}

// startTasks restores the tasks of ps (marked restoring) from the
// changelog and starts a runner for each that this member still owns. It
// returns the runners started; a failure is fatal to the run.
func (r *run) startTasks(ctx context.Context, ps []int32) []*runner {
	d := r.d
	defer func() {
		r.mu.Lock()
		for _, p := range ps {
			delete(r.restoring, p)
		}
		r.mu.Unlock()
	}()
	if len(ps) == 0 {
		d.started.Store(true)
		return nil
	}
	start := time.Now()
	var states map[int32]restored
	err := d.retry(ctx, "changelog", func() error {
		var err error
		states, err = r.restore(ctx, ps)
		return err
	})
	if err != nil {
		r.fail(err)
		return nil
	}
	d.m.restoreSeconds.Observe(time.Since(start).Seconds())
	r.mu.Lock()
	defer r.mu.Unlock()
	var started []*runner
	for _, p := range ps {
		owned := true
		for _, t := range r.top.inputs {
			if p < r.top.partitions[t] && !r.owned[t][p] {
				owned = false
			}
		}
		if !owned || r.runners[p] != nil {
			continue // revoked meanwhile
		}
		task, err := d.g.NewTask(p)
		if err == nil && states[p].state != nil {
			if rerr := task.Restore(states[p].state); rerr != nil {
				err = &SnapshotError{Topic: d.cfg.Topics.Changelog, Partition: p, Key: r.snapshotKey(p), Err: rerr}
			}
		}
		if err != nil {
			r.fail(err)
			return started
		}
		ru := newRunner(r, p, task)
		ru.committed = maps.Clone(ru.next)
		ru.slot = states[p].slot
		r.runners[p] = ru
		started = append(started, ru)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			ru.loop(r.stop)
		}()
		d.log.Info("task started", "partition", p, "restored", states[p].state != nil, "offsets", ru.next)
	}
	d.m.tasks.Set(float64(len(r.runners)))
	d.started.Store(true)
	return started
}

// revoked stops the tasks that lost a partition; when the partitions were
// revoked (not lost), it checkpoints them first, so the next owner
// resumes exactly after them.
func (r *run) revoked(ctx context.Context, _ *kgo.Client, lost map[string][]int32, commit bool) {
	if r.sess != nil && len(lost) > 0 {
		// The open transaction holds outputs of the tasks that leave:
		// the session aborts it at its end, which must come soon.
		r.mustEnd.Store(true)
	}
	r.cpMu.Lock()
	defer r.cpMu.Unlock()
	r.mu.Lock()
	var stop []*runner
	for t, ps := range lost {
		for _, p := range ps {
			r.d.m.lag.DeleteLabelValues(t, strconv.Itoa(int(p)))
			delete(r.owned[t], p)
			if ru := r.runners[p]; ru != nil {
				stop = append(stop, ru)
				delete(r.runners, p)
				part := strconv.Itoa(int(p))
				r.d.m.stateKeys.DeleteLabelValues(part)
				r.d.m.stateBytes.DeleteLabelValues(part)
				r.d.m.watermarkDelay.DeleteLabelValues(part)
			}
		}
	}
	r.d.m.tasks.Set(float64(len(r.runners)))
	r.mu.Unlock()
	stopRunners(stop)
	if !commit {
		return
	}
	if err := r.checkpoint(ctx, stop); err != nil {
		if permanent(err) {
			r.fail(err)
			return
		}
		r.d.log.Warn("checkpoint of revoked tasks failed; the next owner re-processes from the last one", "err", err)
	}
}

// stopRunners closes the runners' queues and waits until they have
// handled what was queued.
func stopRunners(rs []*runner) {
	for _, ru := range rs {
		close(ru.in)
	}
	for _, ru := range rs {
		<-ru.done
	}
}

// adjustOffsets starts each newly assigned input partition at its task's
// snapshot offsets, which are authoritative over the group's committed
// offsets (those may be newer than a snapshot a fenced member wrote late,
// or older after a crash between snapshot and commit).
func (r *run) adjustOffsets(_ context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	if r.sess != nil {
		// Exactly-once: the group's offsets are stable now (no
		// transaction of a previous owner pending), so its last
		// committed snapshots are final.
		r.startReady(r.hard)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, ps := range assigned {
		for p := range ps {
			ru := r.runners[p]
			if ru == nil {
				continue
			}
			if o := ru.start[t]; o > 0 {
				ps[p] = kgo.NewOffset().At(o)
			} else {
				ps[p] = kgo.NewOffset().AtStart()
			}
		}
	}
	return assigned, nil
}

// restore returns the newest committed snapshot of each task of ps that
// has one. The changelog is read with isolation level read_committed, up
// to its last stable offset: snapshots of a transaction that is open or
// was aborted are never restored. The last data record of a task's
// changelog partition is usually its newest snapshot (followed by a
// transaction marker with exactly-once delivery), so restore reads the
// last two records first, and reads a partition from its start only when
// they hold no snapshot of this graph version.
func (r *run) restore(ctx context.Context, ps []int32) (map[int32]restored, error) {
	d := r.d
	topic := d.cfg.Topics.Changelog
	cl, err := kgo.NewClient(r.base...)
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	cl.Close()
	if err != nil {
		return nil, err
	}
	if err := ends.Error(); err != nil {
		return nil, err
	}
	until := map[int32]int64{}
	tail := map[int32]kgo.Offset{}
	for _, p := range ps {
		o, ok := ends.Lookup(topic, p)
		if !ok {
			return nil, fmt.Errorf("live: changelog %s has no partition %d", topic, p)
		}
		if o.Offset > 0 {
			until[p] = o.Offset
			tail[p] = kgo.NewOffset().At(max(0, o.Offset-2))
		}
	}
	found, err := r.scan(ctx, tail, until)
	if err != nil {
		return nil, err
	}
	full := map[int32]kgo.Offset{}
	for p := range until {
		if found[p] == nil {
			full[p] = kgo.NewOffset().AtStart()
		}
	}
	more, err := r.scan(ctx, full, until)
	if err != nil {
		return nil, err
	}
	maps.Copy(found, more)
	fp := d.g.Fingerprint()
	states := map[int32]restored{}
	for p, rec := range found {
		for _, h := range rec.Headers {
			if h.Key == HeaderFingerprint && string(h.Value) != fp {
				return nil, &SnapshotError{Topic: topic, Partition: p, Key: string(rec.Key),
					Err: fmt.Errorf("taken by graph fingerprint %s, this graph is %s: give the new logic a new graph version", h.Value, fp)}
			}
		}
		_, slot, chunked, err := manifest(rec)
		if err != nil {
			return nil, &SnapshotError{Topic: topic, Partition: p, Key: string(rec.Key), Err: err}
		}
		if !chunked {
			states[p] = restored{state: rec.Value}
			continue
		}
		state, err := r.assemble(ctx, rec)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, &SnapshotError{Topic: topic, Partition: p, Key: string(rec.Key), Err: err}
		}
		states[p] = restored{state: state, slot: slot}
	}
	return states, nil
}

// restored is a task's newest committed snapshot, and the chunk slot it
// was written in (0: whole).
type restored struct {
	state []byte
	slot  byte
}

// scan reads changelog partitions from the offsets in from up to the end
// offsets in until, and returns the last record with each task's key.
func (r *run) scan(ctx context.Context, from map[int32]kgo.Offset, until map[int32]int64) (map[int32]*kgo.Record, error) {
	found := map[int32]*kgo.Record{}
	err := r.scanRange(ctx, from, until, func(rec *kgo.Record) {
		if string(rec.Key) == r.snapshotKey(rec.Partition) {
			found[rec.Partition] = rec
		}
	})
	if err != nil {
		return nil, err
	}
	return found, nil
}

// scanRange calls fn with every data record of the changelog partitions
// in from, from their offset there up to the end offset in until. It reads
// committed records, and keeps transaction markers (which take offsets
// too) to see where a partition ends.
func (r *run) scanRange(ctx context.Context, from map[int32]kgo.Offset, until map[int32]int64, fn func(*kgo.Record)) error {
	if len(from) == 0 {
		return nil
	}
	topic := r.d.cfg.Topics.Changelog
	cl, err := kgo.NewClient(append(slices.Clone(r.base),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return err
	}
	defer cl.Close()
	want := maps.Clone(from)
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(rec *kgo.Record) {
			if _, ok := want[rec.Partition]; !ok {
				return
			}
			if !rec.Attrs.IsControl() {
				fn(rec)
			}
			if rec.Offset >= until[rec.Partition]-1 {
				delete(want, rec.Partition)
			}
		})
	}
	return nil
}
