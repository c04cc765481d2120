package cqltest

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// FaultKind is the failure a Fault injects.
type FaultKind int

const (
	// WriteTimeout answers with a write timeout error (0x1100). The write is
	// applied first when Fault.Applied is set, as Cassandra may have done.
	WriteTimeout FaultKind = iota + 1
	// ReadTimeout answers with a read timeout error (0x1200).
	ReadTimeout
	// Unavailable answers with an unavailable error (0x1000).
	Unavailable
	// Overloaded answers with an overloaded error (0x1001).
	Overloaded
	// DropConnection closes the TCP connection without answering.
	DropConnection
	// Delay executes the request and answers it Fault.Delay late; other
	// requests on the connection are answered meanwhile.
	Delay
)

func (k FaultKind) String() string {
	switch k {
	case WriteTimeout:
		return "WriteTimeout"
	case ReadTimeout:
		return "ReadTimeout"
	case Unavailable:
		return "Unavailable"
	case Overloaded:
		return "Overloaded"
	case DropConnection:
		return "DropConnection"
	case Delay:
		return "Delay"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault is a failure injected into the requests (QUERY, EXECUTE and BATCH
// messages) that match it. Requests on the system keyspaces never match, so
// the driver's own metadata queries are not disturbed.
type Fault struct {
	Kind FaultKind
	// Match selects requests whose CQL text (or the text of any statement of
	// a batch) contains Match, ignoring case. An empty Match selects every
	// write (INSERT, UPDATE, DELETE, BATCH), or every SELECT for ReadTimeout.
	Match string
	// Times is how many matching requests the fault hits; 0 means every one
	// until the fault is removed.
	Times int
	// Delay is how late a Delay fault answers; it must be positive.
	Delay time.Duration
	// Applied makes a WriteTimeout apply the write before answering with
	// the error.
	Applied bool
}

func (f Fault) validate() error {
	if f.Kind < WriteTimeout || f.Kind > Delay {
		return fmt.Errorf("cqltest: unknown fault kind %d", int(f.Kind))
	}
	if f.Times < 0 {
		return fmt.Errorf("cqltest: fault Times must not be negative, got %d", f.Times)
	}
	if f.Kind == Delay && f.Delay <= 0 {
		return fmt.Errorf("cqltest: a Delay fault needs a positive Delay, got %v", f.Delay)
	}
	return nil
}

// reqInfo describes a request for fault matching.
type reqInfo struct {
	texts []string
	write bool
	read  bool
	user  bool // targets a user keyspace
}

type activeFault struct {
	Fault
	left int // hits left, or -1 for unlimited
}

// faults holds the injected faults, first injected first matched.
type faults struct {
	mu   sync.Mutex
	list []*activeFault
}

func (fs *faults) add(f Fault) func() {
	a := &activeFault{Fault: f, left: f.Times}
	if f.Times == 0 {
		a.left = -1
	}
	fs.mu.Lock()
	fs.list = append(fs.list, a)
	fs.mu.Unlock()
	return func() { fs.remove(a) }
}

func (fs *faults) remove(a *activeFault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, x := range fs.list {
		if x == a {
			fs.list = append(fs.list[:i], fs.list[i+1:]...)
			return
		}
	}
}

// take returns the first fault that matches req and counts the hit; nil if
// none matches.
func (fs *faults) take(req reqInfo) *Fault {
	if !req.user {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, a := range fs.list {
		if !a.matches(req) {
			continue
		}
		if a.left > 0 {
			a.left--
			if a.left == 0 {
				fs.list = append(fs.list[:i], fs.list[i+1:]...)
			}
		}
		f := a.Fault
		return &f
	}
	return nil
}

func (a *activeFault) matches(req reqInfo) bool {
	if a.Match == "" {
		if a.Kind == ReadTimeout {
			return req.read
		}
		return req.write
	}
	m := strings.ToLower(a.Match)
	for _, t := range req.texts {
		if strings.Contains(strings.ToLower(t), m) {
			return true
		}
	}
	return false
}
