package operators_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/reckon-dev/reckon/operators"
)

// tb is what the harness needs of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// store is a sink model that keeps, per target and key, the output with the
// highest version, as projection stores and compacted topics do. Two
// outputs with the same version but different contents are recorded: two
// incomparable intermediate states may share a version (a later, higher
// version replaces both), but the final version of a key must never have
// been written with another content, or sinks could keep the wrong one.
type store struct {
	rows      map[string]storedRow
	side      map[string]bool // dead letters and late records, by provenance
	conflicts map[string][]int64
}

type storedRow struct {
	version int64
	deleted bool
	content []byte
}

func newStore() *store {
	return &store{rows: map[string]storedRow{}, side: map[string]bool{}, conflicts: map[string][]int64{}}
}

// finalConflicts lists keys whose final version was written with two
// contents.
func (s *store) finalConflicts() []string {
	var out []string
	for id, versions := range s.conflicts {
		if slices.Contains(versions, s.rows[id].version) {
			out = append(out, fmt.Sprintf("%s: final version %d written with two contents", id, s.rows[id].version))
		}
	}
	slices.Sort(out)
	return out
}

func (s *store) write(t tb, outs []operators.Output) {
	t.Helper()
	for _, o := range outs {
		switch o.Kind {
		case operators.DeadLetter, operators.Late:
			s.side[fmt.Sprintf("%v %s: %v", o.Kind, o.Key, o.Err)] = true
			continue
		}
		id := fmt.Sprintf("%d/%s/%q", o.Target, o.Name, o.Key)
		var content []byte
		var err error
		switch {
		case o.Kind == operators.Delete:
		case o.Target == operators.TargetTable:
			content, err = operators.AppendValue(nil, o.Row())
		default:
			content, err = operators.AppendValue(nil, o.NativeValue())
		}
		if err != nil {
			t.Fatalf("encode output: %v", err)
		}
		old, ok := s.rows[id]
		switch {
		case !ok || o.Version > old.version:
			s.rows[id] = storedRow{version: o.Version, deleted: o.Kind == operators.Delete, content: content}
		case o.Version == old.version && (old.deleted != (o.Kind == operators.Delete) || !bytes.Equal(old.content, content)):
			s.conflicts[id] = append(s.conflicts[id], o.Version)
		}
	}
}

// state encodes the live rows (deletes and versions left out) and the side
// outputs, sorted, as the bytes parity compares.
func (s *store) state() []byte {
	ids := make([]string, 0, len(s.rows))
	for id, r := range s.rows {
		if !r.deleted {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var b []byte
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = binary.AppendUvarint(b, uint64(len(s.rows[id].content)))
		b = append(b, s.rows[id].content...)
	}
	side := make([]string, 0, len(s.side))
	for k := range s.side {
		side = append(side, k)
	}
	sort.Strings(side)
	return append(b, strings.Join(side, "\n")...)
}

// describe renders the live rows for failure messages.
func (s *store) describe() string {
	var lines []string
	for id, r := range s.rows {
		if r.deleted {
			continue
		}
		v, _, _ := operators.ReadValue(r.content)
		lines = append(lines, fmt.Sprintf("%s v%d %v", id, r.version, v))
	}
	for k := range s.side {
		lines = append(lines, "side "+k)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// input is the per-partition input of a run: records per topic and
// partition, in offset order.
type input map[string]map[int32][]operators.Record

// schedule decides, at each step, which partition delivers next and how
// many records; the reference run passes nil for a fixed round-robin.
type schedule interface {
	// next picks one of n candidates.
	next(n int) int
	// batch picks how many records (≥1) to deliver at once.
	batch() int
	// snapshot reports whether to snapshot now; crash whether to crash.
	snapshot() bool
	crash() bool
}

type cursor struct {
	topic string
	part  int32
	pos   int
}

// run drives one task per partition over in, as a driver would: deliver
// batches, take outputs into the store, snapshot, crash and restore.
func run(t tb, g *operators.Graph, in input, sch schedule, st *store) {
	t.Helper()
	parts := map[int32]bool{}
	for _, byPart := range in {
		for p := range byPart {
			parts[p] = true
		}
	}
	type taskRun struct {
		task *operators.Task
		snap []byte
	}
	tasks := map[int32]*taskRun{}
	var curs []*cursor
	topics := make([]string, 0, len(in))
	for topic := range in {
		topics = append(topics, topic)
	}
	sort.Strings(topics)
	for p := range parts {
		task, err := g.NewTask(p)
		if err != nil {
			t.Fatal(err)
		}
		tasks[p] = &taskRun{task: task}
	}
	plist := make([]int32, 0, len(parts))
	for p := range parts {
		plist = append(plist, p)
	}
	slices.Sort(plist)
	for _, p := range plist {
		for _, topic := range topics {
			curs = append(curs, &cursor{topic: topic, part: p})
		}
	}
	restart := func(p int32) {
		tr := tasks[p]
		task, err := g.NewTask(p)
		if err != nil {
			t.Fatal(err)
		}
		if tr.snap != nil {
			if err := task.Restore(tr.snap); err != nil {
				t.Fatalf("restore: %v", err)
			}
		}
		tr.task = task
		offs := task.Offsets()
		for _, c := range curs {
			if c.part == p {
				c.pos = int(offs[c.topic])
			}
		}
	}
	rr := 0
	for {
		var open []*cursor
		for _, c := range curs {
			if c.pos < len(in[c.topic][c.part]) {
				open = append(open, c)
			}
		}
		if len(open) == 0 {
			break
		}
		var c *cursor
		n := 1
		if sch == nil {
			c = open[rr%len(open)]
			rr++
		} else {
			c = open[sch.next(len(open))]
			n = sch.batch()
		}
		tr := tasks[c.part]
		recs := in[c.topic][c.part]
		for i := 0; i < n && c.pos < len(recs); i++ {
			if err := tr.task.Process(&recs[c.pos]); err != nil {
				t.Fatalf("process: %v", err)
			}
			c.pos++
		}
		if sch == nil {
			st.write(t, tr.task.Outputs())
			continue
		}
		if sch.crash() {
			// Outputs not yet taken were never durable.
			restart(c.part)
			continue
		}
		st.write(t, tr.task.Outputs())
		if sch.snapshot() {
			snap, err := tr.task.Snapshot()
			if err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			tr.snap = snap
		}
	}
	for _, tr := range tasks {
		st.write(t, tr.task.Outputs())
	}
}
