package cqltest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// cqlVersion is the CQL version the server reports.
const cqlVersion = "3.4.6"

// Option configures a Server.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	addr        string
	logger      *slog.Logger
	user, pass  string
	auth        bool
	clock       func() time.Time
	dataCenter  string
	rack        string
	clusterName string
	version     string
}

// ErrInvalidOption is wrapped by the errors New returns for options it
// cannot use.
var ErrInvalidOption = errors.New("cqltest: invalid option")

// validate reports every unusable option at once.
func (c *config) validate() error {
	var errs []error
	bad := func(msg string) { errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidOption, msg)) }
	if c.addr == "" {
		bad("WithAddr needs an address")
	}
	if c.logger == nil {
		bad("WithLogger needs a logger")
	}
	if c.clock == nil {
		bad("WithClock needs a clock")
	}
	if c.auth && c.user == "" {
		bad("WithCredentials needs a user name")
	}
	if c.dataCenter == "" {
		bad("WithDataCenter needs a name")
	}
	return errors.Join(errs...)
}

// WithAddr sets the TCP address to listen on. Default "127.0.0.1:0" (a free
// port on the loopback interface).
func WithAddr(addr string) Option { return optionFunc(func(c *config) { c.addr = addr }) }

// WithLogger sets where the server logs connections and failed requests, at
// debug level. Default: a logger that discards everything.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.logger = l }) }

// WithCredentials makes the server require PasswordAuthenticator
// authentication with this user and password. Default: no authentication.
func WithCredentials(user, password string) Option {
	return optionFunc(func(c *config) { c.user, c.pass, c.auth = user, password, true })
}

// WithClock sets the clock of server-side write timestamps (writes without
// USING TIMESTAMP and without a client default timestamp, and lightweight
// transactions) and of now(). Default time.Now.
func WithClock(clock func() time.Time) Option { return optionFunc(func(c *config) { c.clock = clock }) }

// WithDataCenter sets the data center system.local reports. Default
// "datacenter1".
func WithDataCenter(dc string) Option { return optionFunc(func(c *config) { c.dataCenter = dc }) }

// Server is an in-memory Cassandra node speaking the CQL native protocol v4.
// Its methods are safe for concurrent use.
type Server struct {
	ln     net.Listener
	db     *db
	cfg    config
	log    *slog.Logger
	faults faults

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup // the accept loop and every connection

	connections  atomic.Int64
	requests     atomic.Int64
	prepares     atomic.Int64
	unprepared   atomic.Int64
	authFailures atomic.Int64
	faultHits    [Delay + 1]atomic.Int64
}

// New starts a server listening on WithAddr's address. Close stops it.
func New(opts ...Option) (*Server, error) {
	cfg := config{
		addr:        "127.0.0.1:0",
		logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock:       time.Now,
		dataCenter:  "datacenter1",
		rack:        "rack1",
		clusterName: "cqltest",
		version:     "4.1.0",
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("cqltest: listen: %w", err)
	}
	tcp := ln.Addr().(*net.TCPAddr)
	ip := tcp.IP
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	s := &Server{
		ln:    ln,
		cfg:   cfg,
		log:   cfg.logger,
		conns: map[*conn]struct{}{},
	}
	s.db = newDB(cfg.clock, nodeInfo{
		addr:        []byte(ip),
		port:        tcp.Port,
		clusterName: cfg.clusterName,
		dataCenter:  cfg.dataCenter,
		rack:        cfg.rack,
		version:     cfg.version,
		hostID:      randomUUID(),
		tokens:      []string{"-9223372036854775808"},
		partitioner: "org.apache.cassandra.dht.Murmur3Partitioner",
	})
	s.wg.Go(s.accept)
	return s, nil
}

// Addr returns the address the server listens on, "host:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host returns the IP address the server listens on.
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port returns the TCP port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening, closes every connection and returns once every
// goroutine of the server (the accept loop, each connection's reader and
// its delayed answers) has ended. Delayed answers not yet sent are dropped.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.shutdown()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Debug("cqltest: accept failed", "err", err)
			}
			return
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Go(func() {
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		})
		s.mu.Unlock()
		s.connections.Add(1)
	}
}

// broadcast pushes a schema change event to the connections registered for
// SCHEMA_CHANGE events.
func (s *Server) broadcast(ev schemaEvent) {
	var w writer
	w.string("SCHEMA_CHANGE")
	ev.encode(&w)
	s.mu.Lock()
	targets := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		targets = append(targets, c)
	}
	s.mu.Unlock()
	for _, c := range targets {
		if c.registered("SCHEMA_CHANGE") {
			c.send(-1, opEvent, w.b)
		}
	}
}

// Inject adds a fault and returns the function that removes it. Faults are
// matched in the order they were injected. Inject panics if f is invalid
// (an unknown Kind, a negative Times, a Delay fault without a positive
// Delay): that is a mistake in the test, not in its input.
func (s *Server) Inject(f Fault) (remove func()) {
	if err := f.validate(); err != nil {
		panic(err)
	}
	return s.faults.add(f)
}

// Requests returns how many QUERY, EXECUTE and BATCH messages on user
// keyspaces the server received, including the ones a fault hit and the
// ones answered with an execution error; not counted are those refused
// before execution (syntax errors, unknown tables, UNPREPARED answers).
func (s *Server) Requests() int { return int(s.requests.Load()) }

// Stats are the server's counters.
type Stats struct {
	Connections  int               // TCP connections accepted
	Ready        int               // open connections past STARTUP (and authentication)
	Requests     int               // as Requests returns
	Prepares     int               // PREPARE messages answered with a prepared statement
	Unprepared   int               // EXECUTE or BATCH messages answered with UNPREPARED
	AuthFailures int               // AUTH_RESPONSE messages with wrong credentials
	Faults       map[FaultKind]int // requests hit by an injected fault, by kind
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Connections:  int(s.connections.Load()),
		Requests:     int(s.requests.Load()),
		Prepares:     int(s.prepares.Load()),
		Unprepared:   int(s.unprepared.Load()),
		AuthFailures: int(s.authFailures.Load()),
		Faults:       map[FaultKind]int{},
	}
	s.mu.Lock()
	for c := range s.conns {
		c.mu.Lock()
		if c.started {
			st.Ready++
		}
		c.mu.Unlock()
	}
	s.mu.Unlock()
	for k := WriteTimeout; k <= Delay; k++ {
		if n := s.faultHits[k].Load(); n > 0 {
			st.Faults[k] = int(n)
		}
	}
	return st
}

// ForgetPrepared drops every prepared statement, as a restarted Cassandra
// node would: the next EXECUTE of one is answered with UNPREPARED, and
// the driver prepares it again.
func (s *Server) ForgetPrepared() {
	s.db.mu.Lock()
	clear(s.db.prepared)
	s.db.mu.Unlock()
}

// Rows returns the live rows of keyspace.table sorted by primary key (by
// partition key, then clustering key), each as a map from column name to
// value; nil if the table does not exist. Null columns are present with a
// nil value. Values are: string (ascii, text, varchar), int64 (bigint,
// counter, time), int32 (int), int16 (smallint), int8 (tinyint), float64
// (double), float32 (float), bool (boolean), time.Time in UTC (timestamp,
// date), []byte (blob), *inf.Dec (decimal), *big.Int (varint), [16]byte
// (uuid, timeuuid), net.IP (inet), []any (list, set) and map[any]any (map,
// whose blob, varint, decimal and inet keys are strings).
func (s *Server) Rows(keyspace, table string) []map[string]any {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	t, err := s.db.lookup(keyspace, table)
	if err != nil {
		return nil
	}
	out := []map[string]any{}
	for _, p := range t.sortedPartitions() {
		for _, r := range t.sortedRows(p) {
			if !p.live(r) {
				continue
			}
			m := make(map[string]any, len(t.cols))
			for _, c := range t.cols {
				m[c.name] = c.typ.decode(t.columnValue(p, r, c))
			}
			out = append(out, m)
		}
	}
	return out
}
