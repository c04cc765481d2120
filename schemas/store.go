package schemas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// ErrCorruptStore reports a registry log that cannot be replayed: a record
// other than the last one is unreadable. A torn last record (a crash during
// an append) is not corruption; it is dropped on open.
var ErrCorruptStore = errors.New("schemas: corrupt registry log")

// ErrStoreLocked reports a registry log that another process already has open.
var ErrStoreLocked = errors.New("schemas: registry log in use by another process")

// ErrStoreClosed reports a use of a Store after Close.
var ErrStoreClosed = errors.New("schemas: registry store closed")

// EventKind names what an Event records.
type EventKind string

// The kinds of Event a Registry writes.
const (
	// EventSchema registers schema ID as Version of Subject.
	EventSchema EventKind = "schema"
	// EventDelete deletes Versions of Subject: softly (they stay readable by
	// id and with ?deleted=true) or, when Permanent, for good.
	EventDelete EventKind = "delete"
	// EventConfig sets the compatibility Level of Subject, or the global
	// level when Subject is empty; an empty Level clears a subject's level.
	EventConfig EventKind = "config"
)

// An Event is one change to a registry. A Registry is the result of applying
// its events in order, so a Store that returns the same events returns the
// same ids, versions and levels after a restart.
type Event struct {
	Kind      EventKind `json:"kind"`
	Subject   string    `json:"subject,omitempty"`
	Version   int       `json:"version,omitempty"`
	ID        int       `json:"id,omitempty"`
	Schema    string    `json:"schema,omitempty"`
	Versions  []int     `json:"versions,omitempty"`
	Permanent bool      `json:"permanent,omitempty"`
	Level     string    `json:"level,omitempty"`
}

// A Store keeps a registry's events durably and in order. The embedded
// registry uses a FileStore; a store over a compacted _schemas topic fits
// the same interface.
type Store interface {
	// Load calls fn with every stored event, oldest first, and stops at the
	// first error fn returns.
	Load(ctx context.Context, fn func(Event) error) error
	// Append stores e durably: when it returns nil, a restart sees e.
	Append(ctx context.Context, e Event) error
	// Close releases the store; later calls return ErrStoreClosed.
	Close() error
}

// StoreError reports a problem with the registry log at Path, at 1-based
// Line when one line is to blame.
type StoreError struct {
	Path string
	Line int
	Err  error
}

func (e *StoreError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// FileStore is a Store in one append-only file of JSON lines, one Event per
// line. Every Append is written with a single write and fsynced before it
// returns. Opening the file takes an exclusive lock on it (where the
// platform has flock) so that two registries never share one log.
type FileStore struct {
	path string

	mu     sync.Mutex
	f      *os.File
	events []Event // read at open, then appended
	torn   int64
}

// StoreFile is the name of the registry log that OpenRegistry keeps in its
// directory.
const StoreFile = "schemas.log"

// OpenFileStore opens or creates the registry log at path. A torn last line
// (no newline, or unreadable) is cut off and counted in Torn; an unreadable
// line before the last one is a *StoreError wrapping ErrCorruptStore, and
// the file is left untouched.
func OpenFileStore(path string) (*FileStore, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, &StoreError{Path: path, Err: err}
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, &StoreError{Path: path, Err: err}
	}
	s := &FileStore{path: path, f: f}
	if err := s.recover(); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, &StoreError{Path: path, Err: err}
	}
	return s, nil
}

// recover reads every complete event and cuts off a torn tail.
func (s *FileStore) recover() error {
	data, err := io.ReadAll(s.f)
	if err != nil {
		return &StoreError{Path: s.path, Err: err}
	}
	var good int64 // length of the prefix that holds whole, readable events
	line := 0
	for len(data[good:]) > 0 {
		line++
		rest := data[good:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			break // no newline: the last append was torn
		}
		var e Event
		if err := json.Unmarshal(rest[:nl], &e); err != nil || e.Kind == "" {
			if int64(nl+1) == int64(len(rest)) {
				break // an unreadable last line: torn as well
			}
			if err == nil {
				err = errors.New("event without a kind")
			}
			return &StoreError{Path: s.path, Line: line, Err: fmt.Errorf("%w: %v", ErrCorruptStore, err)}
		}
		s.events = append(s.events, e)
		good += int64(nl + 1)
	}
	s.torn = int64(len(data)) - good
	if s.torn > 0 {
		if err := s.f.Truncate(good); err != nil {
			return &StoreError{Path: s.path, Err: err}
		}
		if err := s.f.Sync(); err != nil {
			return &StoreError{Path: s.path, Err: err}
		}
	}
	if _, err := s.f.Seek(good, io.SeekStart); err != nil {
		return &StoreError{Path: s.path, Err: err}
	}
	return nil
}

// Path returns the file the store writes.
func (s *FileStore) Path() string { return s.path }

// Torn returns how many bytes of a torn last line OpenFileStore cut off
// (0 when the log ended cleanly).
func (s *FileStore) Torn() int64 { return s.torn }

// Load calls fn with every event: those read when the store was opened,
// then those appended since.
func (s *FileStore) Load(ctx context.Context, fn func(Event) error) error {
	s.mu.Lock()
	if s.f == nil {
		s.mu.Unlock()
		return ErrStoreClosed
	}
	events := slices.Clip(s.events)
	s.mu.Unlock()
	return loadEvents(ctx, events, fn)
}

// Append writes e as one line and fsyncs the file.
func (s *FileStore) Append(ctx context.Context, e Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := json.Marshal(e)
	if err != nil {
		return &StoreError{Path: s.path, Err: err}
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ErrStoreClosed
	}
	if _, err := s.f.Write(line); err != nil {
		return &StoreError{Path: s.path, Err: err}
	}
	if err := s.f.Sync(); err != nil {
		return &StoreError{Path: s.path, Err: err}
	}
	e.Versions = slices.Clone(e.Versions)
	s.events = append(s.events, e)
	return nil
}

// Close closes the file and releases its lock.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ErrStoreClosed
	}
	err := s.f.Close()
	s.f = nil
	s.events = nil
	if err != nil {
		return &StoreError{Path: s.path, Err: err}
	}
	return nil
}

// syncDir makes a newly created file's directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// MemoryStore is a Store that keeps events in memory only: a registry on it
// forgets everything when the process ends. Tests and examples use it.
type MemoryStore struct {
	mu     sync.Mutex
	events []Event
	closed bool
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Load calls fn with every appended event.
func (s *MemoryStore) Load(ctx context.Context, fn func(Event) error) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrStoreClosed
	}
	events := slices.Clip(s.events)
	s.mu.Unlock()
	return loadEvents(ctx, events, fn)
}

// Append keeps e.
func (s *MemoryStore) Append(ctx context.Context, e Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStoreClosed
	}
	e.Versions = slices.Clone(e.Versions)
	s.events = append(s.events, e)
	return nil
}

// Close marks the store closed.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStoreClosed
	}
	s.closed = true
	return nil
}

// loadEvents calls fn with each event in order, stopping at the first error
// or when ctx ends.
func loadEvents(ctx context.Context, events []Event, fn func(Event) error) error {
	for _, e := range events {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
