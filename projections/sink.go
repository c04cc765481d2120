package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/reckon-dev/reckon/operators"
)

// Sink writes the table outputs of one graph version into the tables of
// that version in a Store. It implements operators.Sink and
// operators.Flusher.
//
// Write buffers; Flush applies the buffer, table by table, through
// Store.Apply. With coalescing (the default), several writes of one key
// between two flushes collapse to the one with the highest version (a
// delete wins a tie), which is the write the store would keep anyway: a
// backfill writes each key once per flush instead of once per event.
// When the buffer holds WithMaxPending writes, Write flushes before it
// returns, so a slow store slows its caller down.
//
// Outputs whose Target is not operators.TargetTable belong to other sinks
// and are ignored; a table output for a table the sink was not created
// with is an error. A failed Flush keeps what it could not apply, so the
// next Flush (or Close) retries it; writes are idempotent.
//
// A Sink is safe for concurrent use; it starts no goroutines. Writes do
// not wait for a flush in progress: Flush takes the buffer and applies it
// while later writes fill the next one. Close flushes, within the context
// of the last Write or Flush, and does not close the store.
type Sink struct {
	store  Store
	tables map[string]string // projection name → table name
	o      options

	// flushMu serializes flushes; it is taken before mu.
	flushMu sync.Mutex

	mu      sync.Mutex
	pending map[string]*pendingTable // by table name
	n       int
	ctx     context.Context // of the last Write or Flush
	closed  bool
}

type pendingTable struct {
	index  map[string]int // encoded key → position in writes (coalescing)
	writes []keyedWrite
}

type keyedWrite struct {
	key string // the encoded primary key (coalescing)
	w   Write
}

// NewSink creates (or reopens) the tables of specs for graph version g in
// store, registered as building when new, and returns a sink writing to
// them. Options: WithCoalescing, WithMaxPending.
func NewSink(ctx context.Context, store Store, g Graph, specs []*operators.TableSpec, opts ...Opt) (*Sink, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	s := &Sink{store: store, tables: map[string]string{}, o: o, pending: map[string]*pendingTable{}, ctx: ctx}
	for _, spec := range specs {
		if spec == nil {
			return nil, fmt.Errorf("%w: nil table spec", ErrSchema)
		}
		if _, dup := s.tables[spec.Name]; dup {
			return nil, fmt.Errorf("%w: table %q is given twice", ErrSchema, spec.Name)
		}
		info, err := store.Create(ctx, spec, g)
		if err != nil {
			return nil, err
		}
		s.tables[spec.Name] = info.Table
	}
	return s, nil
}

// Write buffers the table outputs of outs. When the buffer reaches
// WithMaxPending writes, Write flushes it before it returns.
func (s *Sink) Write(ctx context.Context, outs []operators.Output) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.ctx = ctx
	for i := range outs {
		out := &outs[i]
		if out.Target != operators.TargetTable {
			continue
		}
		table, ok := s.tables[out.Name]
		if !ok {
			s.mu.Unlock()
			return &TableError{Op: "write", Table: out.Name, Err: fmt.Errorf("%w: the sink has no table %q", ErrUnknownTable, out.Name)}
		}
		if out.Kind != operators.Upsert && out.Kind != operators.Delete {
			s.mu.Unlock()
			return &TableError{Op: "write", Table: table, Err: fmt.Errorf("%w: a table output must be an upsert or a delete, not %s", ErrValue, out.Kind)}
		}
		key := out.Key
		if key == "" && s.o.coalesce {
			key, _ = operators.EncodeKey(out.KeyValues)
		}
		s.add(table, key, Write{Key: out.KeyValues, Columns: out.Columns, Values: out.Values, Delete: out.Kind == operators.Delete, Version: out.Version})
	}
	full := s.n >= s.o.maxPending
	s.mu.Unlock()
	if full {
		return s.Flush(ctx)
	}
	return nil
}

// add buffers w, a write of table under the encoded key (used when
// coalescing). The caller holds mu.
func (s *Sink) add(table, key string, w Write) {
	p := s.pending[table]
	if p == nil {
		p = &pendingTable{index: map[string]int{}}
		s.pending[table] = p
	}
	if s.o.coalesce {
		if i, ok := p.index[key]; ok {
			if supersedes(w, p.writes[i].w) {
				p.writes[i].w = w
			}
			return
		}
		p.index[key] = len(p.writes)
	}
	p.writes = append(p.writes, keyedWrite{key: key, w: w})
	s.n++
}

// supersedes says whether a store keeps w rather than old: the higher
// version wins, and at equal versions a delete wins.
func supersedes(w, old Write) bool {
	return w.Version > old.Version || (w.Version == old.Version && w.Delete && !old.Delete)
}

// Flush applies every write buffered before it was called. Writes made
// meanwhile wait for the next Flush.
func (s *Sink) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.ctx = ctx
	s.mu.Unlock()
	return s.flush(ctx)
}

// flush takes the buffer and applies it, table by table; what it could not
// apply goes back to the buffer, beneath the writes made meanwhile. The
// caller holds flushMu, not mu.
func (s *Sink) flush(ctx context.Context) error {
	s.mu.Lock()
	batch := s.pending
	s.pending, s.n = map[string]*pendingTable{}, 0
	s.mu.Unlock()
	names := make([]string, 0, len(batch))
	for name := range batch {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		p := batch[name]
		ws := make([]Write, len(p.writes))
		for j := range p.writes {
			ws[j] = p.writes[j].w
		}
		if err := s.store.Apply(ctx, name, ws); err != nil {
			s.restore(batch, names[i:])
			return err
		}
	}
	return nil
}

// restore puts the tables names of an unapplied batch back into the
// buffer, before the writes made since the batch was taken.
func (s *Sink) restore(batch map[string]*pendingTable, names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	later := s.pending
	s.pending, s.n = map[string]*pendingTable{}, 0
	for _, name := range names {
		for _, kw := range batch[name].writes {
			s.add(name, kw.key, kw.w)
		}
	}
	for name, p := range later {
		for _, kw := range p.writes {
			s.add(name, kw.key, kw.w)
		}
	}
}

// Close flushes what is buffered, within the context of the last Write or
// Flush, and refuses later writes. An error means buffered writes were not
// applied; they are lost with the sink and must be produced again (by
// re-reading the input from the last committed offsets).
func (s *Sink) Close() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ctx := s.ctx
	s.mu.Unlock()
	if err := s.flush(ctx); err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return errors.Join(fmt.Errorf("projections: sink closed with %d writes not applied", s.n), err)
	}
	return nil
}
