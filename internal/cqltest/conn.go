package cqltest

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

const (
	opEvent               = 0x0C
	passwordAuthenticator = "org.apache.cassandra.auth.PasswordAuthenticator"
)

// conn is one client connection. Its reader goroutine (serve) answers
// requests in order; a Delay fault answers from a goroutine of its own,
// which serve waits for before it returns.
type conn struct {
	s  *Server
	nc net.Conn

	wmu sync.Mutex // serializes frame writes

	mu       sync.Mutex
	keyspace string
	started  bool // STARTUP answered with READY or AUTH_SUCCESS
	authing  bool // waiting for AUTH_RESPONSE
	events   map[string]bool

	done      chan struct{} // closed by shutdown
	closeOnce sync.Once
	delayed   sync.WaitGroup
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{s: s, nc: nc, events: map[string]bool{}, done: make(chan struct{})}
}

// shutdown closes the connection; serve then returns.
func (c *conn) shutdown() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.nc.Close()
	})
}

func (c *conn) serve() {
	log := c.s.log.With("remote", c.nc.RemoteAddr().String())
	log.Debug("cqltest: connection opened")
	defer func() {
		c.shutdown()
		c.delayed.Wait()
		log.Debug("cqltest: connection closed")
	}()
	br := bufio.NewReader(c.nc)
	for {
		h, body, err := readFrame(br)
		if err != nil {
			var ce *cqlError
			if errors.As(err, &ce) {
				c.send(h.stream, opError, ce.encode())
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				log.Debug("cqltest: read failed", "err", err)
			}
			return
		}
		if h.version != protoVersion {
			// Answer in the client's version so that it can read the error
			// and try a lower one, as Cassandra does.
			e := protoErr("Invalid or unsupported protocol version (%d); supported versions are (4/v4)", h.version&0x7f)
			c.sendVersion(h.version&0x7f, h.stream, opError, e.encode())
			return
		}
		if !c.handle(h, body) {
			return
		}
	}
}

func (c *conn) send(stream int16, op byte, body []byte) {
	c.sendVersion(protoVersion, stream, op, body)
}

func (c *conn) sendVersion(version byte, stream int16, op byte, body []byte) {
	frame := encodeFrame(version, stream, op, body)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.nc.Write(frame); err != nil {
		c.s.log.Debug("cqltest: write failed", "err", err)
	}
}

func (c *conn) sendError(stream int16, err error) {
	var ce *cqlError
	if !errors.As(err, &ce) {
		ce = &cqlError{code: codeServer, msg: err.Error()}
	}
	c.send(stream, opError, ce.encode())
}

func (c *conn) registered(event string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events[event]
}

func (c *conn) currentKeyspace() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keyspace
}

// handle answers one request; false closes the connection.
func (c *conn) handle(h header, body []byte) bool {
	r := &reader{b: body}
	if h.flags&flagCompress != 0 {
		c.sendError(h.stream, protoErr("compression was not negotiated"))
		return true
	}
	if h.flags&flagPayload != 0 {
		r.bytesMap()
	}
	c.mu.Lock()
	started, authing := c.started, c.authing
	c.mu.Unlock()
	switch {
	case h.op == opOptions:
		var w writer
		m := map[string][]string{
			"CQL_VERSION":       {cqlVersion},
			"COMPRESSION":       {},
			"PROTOCOL_VERSIONS": {"4/v4"},
		}
		w.stringMultiMap(m, []string{"COMPRESSION", "CQL_VERSION", "PROTOCOL_VERSIONS"})
		c.send(h.stream, opSupported, w.b)
		return true
	case h.op == opStartup && !started && !authing:
		return c.startup(h, r)
	case h.op == opAuthResponse && authing:
		return c.authResponse(h, r)
	case !started:
		c.sendError(h.stream, protoErr("unexpected message 0x%02X, expecting STARTUP, OPTIONS or AUTH_RESPONSE", h.op))
		return true
	}
	switch h.op {
	case opRegister:
		events := r.stringList()
		if r.err != nil {
			c.sendError(h.stream, protoErr("%v", r.err))
			return true
		}
		c.mu.Lock()
		for _, e := range events {
			c.events[e] = true
		}
		c.mu.Unlock()
		c.send(h.stream, opReady, nil)
	case opQuery:
		return c.query(h, r)
	case opPrepare:
		c.prepare(h, r)
	case opExecute:
		return c.execute(h, r)
	case opBatch:
		return c.batch(h, r)
	default:
		c.sendError(h.stream, protoErr("unexpected message 0x%02X", h.op))
	}
	return true
}

func (c *conn) startup(h header, r *reader) bool {
	opts := r.stringMap()
	if r.err != nil {
		c.sendError(h.stream, protoErr("malformed STARTUP: %v", r.err))
		return true
	}
	if comp := opts["COMPRESSION"]; comp != "" {
		c.sendError(h.stream, protoErr("unknown compression algorithm %q", comp))
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.cfg.auth {
		c.authing = true
		var w writer
		w.string(passwordAuthenticator)
		c.send(h.stream, opAuthenticate, w.b)
		return true
	}
	c.started = true
	c.send(h.stream, opReady, nil)
	return true
}

// authResponse checks a PLAIN SASL token: [authzid] NUL user NUL password.
func (c *conn) authResponse(h header, r *reader) bool {
	token := r.bytes()
	parts := bytes.Split(token, []byte{0})
	ok := false
	var user []byte
	if r.err == nil && len(parts) == 3 {
		user = parts[1]
		okUser := subtle.ConstantTimeCompare(user, []byte(c.s.cfg.user)) == 1
		okPass := subtle.ConstantTimeCompare(parts[2], []byte(c.s.cfg.pass)) == 1
		ok = okUser && okPass
	}
	if !ok {
		c.s.authFailures.Add(1)
		c.sendError(h.stream, &cqlError{code: codeBadCredentials,
			msg: "Provided username " + string(user) + " and/or password are incorrect"})
		return true
	}
	c.mu.Lock()
	c.authing, c.started = false, true
	c.mu.Unlock()
	var w writer
	w.bytes(nil)
	c.send(h.stream, opAuthSuccess, w.b)
	return true
}

// readParams reads the <query_parameters> of QUERY and EXECUTE.
func readParams(r *reader) (*params, error) {
	p := &params{consistency: r.short(), defaultTS: noTS}
	flags := r.byte()
	if flags&qfValues != 0 {
		n := int(r.short())
		for i := 0; i < n && r.err == nil; i++ {
			if flags&qfNames != 0 {
				p.names = append(p.names, r.string())
			}
			v, unset := r.value()
			p.values = append(p.values, value{b: v, unset: unset})
		}
	}
	p.skipMeta = flags&qfSkipMetadata != 0
	if flags&qfPageSize != 0 {
		p.pageSize = r.int()
	}
	if flags&qfPagingState != 0 {
		// An empty paging state is no paging state, as in Cassandra.
		if ps := r.bytes(); len(ps) > 0 {
			p.pagingState = ps
		}
	}
	if flags&qfSerialConsistency != 0 {
		r.short()
	}
	if flags&qfDefaultTimestamp != 0 {
		p.defaultTS = r.long()
	}
	if r.err != nil {
		return nil, protoErr("malformed query parameters: %v", r.err)
	}
	return p, nil
}

// prepareQuery parses and analyzes a statement in the current keyspace.
func (c *conn) prepareQuery(src string) (*plan, error) {
	ps, err := parse(src)
	if err != nil {
		return nil, err
	}
	d := c.s.db
	d.mu.Lock()
	defer d.mu.Unlock()
	pl, err := d.analyze(src, ps, c.currentKeyspace())
	if err != nil {
		return nil, err
	}
	for i, sp := range pl.specs {
		if sp.typ == nil {
			return nil, invalidErr("cannot infer the type of bind marker %d", i)
		}
	}
	return pl, nil
}

func info(pls ...*plan) reqInfo {
	var ri reqInfo
	for _, pl := range pls {
		ri.texts = append(ri.texts, pl.src)
		ri.write = ri.write || pl.write
		ri.read = ri.read || pl.readOnly
		ri.user = ri.user || (pl.ks != "" && !isSystemKeyspace(pl.ks))
	}
	return ri
}

func (c *conn) query(h header, r *reader) bool {
	src := r.longString()
	p, err := readParams(r)
	if err != nil {
		c.sendError(h.stream, err)
		return true
	}
	pl, err := c.prepareQuery(src)
	if err != nil {
		c.sendError(h.stream, err)
		return true
	}
	return c.dispatch(h, p, info(pl), writeType(pl), func() (*result, error) {
		return c.s.db.run(pl, p, c.currentKeyspace())
	})
}

func (c *conn) prepare(h header, r *reader) {
	src := r.longString()
	if r.err != nil {
		c.sendError(h.stream, protoErr("malformed PREPARE: %v", r.err))
		return
	}
	pl, err := c.prepareQuery(src)
	if err != nil {
		c.sendError(h.stream, err)
		return
	}
	id := preparedID(c.currentKeyspace(), src)
	d := c.s.db
	d.mu.Lock()
	d.prepared[string(id)] = pl
	d.mu.Unlock()
	c.s.prepares.Add(1)
	c.send(h.stream, opResult, preparedBody(id, pl))
}

// preparedBody is the RESULT Prepared message for pl.
func preparedBody(id []byte, pl *plan) []byte {
	var w writer
	w.int(resultPrepared)
	w.shortBytes(id)
	global := len(pl.specs) > 0
	for _, sp := range pl.specs {
		global = global && sp.ks == pl.specs[0].ks && sp.table == pl.specs[0].table
	}
	flags := int32(0)
	if global {
		flags = mfGlobalTableSpec
	}
	w.int(flags)
	w.int(int32(len(pl.specs)))
	w.int(int32(len(pl.pkIdx)))
	for _, i := range pl.pkIdx {
		w.short(uint16(i))
	}
	if global {
		w.string(pl.specs[0].ks)
		w.string(pl.specs[0].table)
	}
	for _, sp := range pl.specs {
		if !global {
			w.string(sp.ks)
			w.string(sp.table)
		}
		w.string(sp.name)
		sp.typ.writeOption(&w)
	}
	if pl.readOnly {
		writeRowsMetadata(&w, pl.result, nil, false)
	} else {
		w.int(mfNoMetadata)
		w.int(0)
	}
	return w.b
}

func (c *conn) lookupPrepared(id []byte) *plan {
	d := c.s.db
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.prepared[string(id)]
}

func (c *conn) unprepared(stream int16, id []byte) {
	c.s.unprepared.Add(1)
	c.sendError(stream, &cqlError{code: codeUnprepared, msg: "prepared statement was not found", id: id})
}

func (c *conn) execute(h header, r *reader) bool {
	id := bytes.Clone(r.shortBytes())
	p, err := readParams(r)
	if err != nil {
		c.sendError(h.stream, err)
		return true
	}
	pl := c.lookupPrepared(id)
	if pl == nil {
		c.unprepared(h.stream, id)
		return true
	}
	return c.dispatch(h, p, info(pl), writeType(pl), func() (*result, error) {
		return c.s.db.run(pl, p, c.currentKeyspace())
	})
}

func writeType(pl *plan) string {
	if pl.lwt {
		return "CAS"
	}
	if b, ok := pl.stmt.(*batchStmt); ok {
		if b.typ == batchUnlogged {
			return "UNLOGGED_BATCH"
		}
		return "BATCH"
	}
	return "SIMPLE"
}

func (c *conn) batch(h header, r *reader) bool {
	typ := r.byte()
	n := int(r.short())
	type entry struct {
		pl   *plan
		vals []value
		id   []byte
	}
	var entries []entry
	for i := 0; i < n && r.err == nil; i++ {
		var e entry
		var src string
		switch kind := r.byte(); kind {
		case 0:
			src = r.longString()
		case 1:
			e.id = bytes.Clone(r.shortBytes())
		default:
			c.sendError(h.stream, protoErr("invalid query kind %d in BATCH", kind))
			return true
		}
		nv := int(r.short())
		for j := 0; j < nv && r.err == nil; j++ {
			v, unset := r.value()
			e.vals = append(e.vals, value{b: v, unset: unset})
		}
		if r.err == nil && e.id == nil {
			pl, err := c.prepareQuery(src)
			if err != nil {
				c.sendError(h.stream, err)
				return true
			}
			e.pl = pl
		}
		entries = append(entries, e)
	}
	p := &params{consistency: r.short(), defaultTS: noTS}
	flags := r.byte()
	if flags&qfSerialConsistency != 0 {
		r.short()
	}
	if flags&qfDefaultTimestamp != 0 {
		p.defaultTS = r.long()
	}
	if r.err != nil {
		c.sendError(h.stream, protoErr("malformed BATCH: %v", r.err))
		return true
	}
	if typ > batchUnlogged {
		c.sendError(h.stream, invalidErr("unsupported batch type %d (counter batches are not supported)", typ))
		return true
	}
	var pls []*plan
	for i := range entries {
		if entries[i].id != nil {
			if entries[i].pl = c.lookupPrepared(entries[i].id); entries[i].pl == nil {
				c.unprepared(h.stream, entries[i].id)
				return true
			}
		}
		pl := entries[i].pl
		switch pl.stmt.(type) {
		case *insertStmt, *updateStmt, *deleteStmt:
		default:
			c.sendError(h.stream, invalidErr("invalid statement in batch: only UPDATE, INSERT and DELETE statements are allowed"))
			return true
		}
		pls = append(pls, pl)
	}
	wt := "BATCH"
	if typ == batchUnlogged {
		wt = "UNLOGGED_BATCH"
	}
	for _, pl := range pls {
		if pl.lwt {
			wt = "CAS"
		}
	}
	return c.dispatch(h, p, info(pls...), wt, func() (*result, error) {
		d := c.s.db
		d.mu.Lock()
		defer d.mu.Unlock()
		var bs []boundStmt
		lwt := false
		for _, e := range entries {
			vals, err := e.pl.bound(&params{values: e.vals})
			if err != nil {
				return nil, err
			}
			bs = append(bs, boundStmt{stmt: e.pl.stmt, ev: &evaluator{d: d, vals: vals}, pl: e.pl})
			lwt = lwt || e.pl.lwt
		}
		return d.write(bs, usingClause{}, p.defaultTS, lwt)
	})
}

// dispatch runs a request through the injected faults, then executes and
// answers it; false closes the connection.
func (c *conn) dispatch(h header, p *params, ri reqInfo, wt string, exec func() (*result, error)) bool {
	if ri.user {
		c.s.requests.Add(1)
	}
	f := c.s.faults.take(ri)
	if f == nil {
		c.finish(h, exec)
		return true
	}
	c.s.faultHits[f.Kind].Add(1)
	c.s.log.Debug("cqltest: injecting fault", "kind", f.Kind, "stream", h.stream)
	switch f.Kind {
	case DropConnection:
		return false
	case Delay:
		timer := time.NewTimer(f.Delay)
		c.delayed.Go(func() {
			defer timer.Stop()
			select {
			case <-timer.C:
				c.finish(h, exec)
			case <-c.done:
			}
		})
		return true
	case WriteTimeout:
		if f.Applied {
			if res, err := exec(); err == nil && res.event != nil {
				c.s.broadcast(*res.event)
			}
		}
		c.sendError(h.stream, &cqlError{code: codeWriteTimeout, consistency: p.consistency, received: 0, blockFor: 1, writeType: wt,
			msg: "Operation timed out - received only 0 responses."})
	case ReadTimeout:
		c.sendError(h.stream, &cqlError{code: codeReadTimeout, consistency: p.consistency, received: 0, blockFor: 1,
			msg: "Operation timed out - received only 0 responses."})
	case Unavailable:
		c.sendError(h.stream, &cqlError{code: codeUnavailable, consistency: p.consistency, required: 1, alive: 0,
			msg: "Cannot achieve consistency level"})
	case Overloaded:
		c.sendError(h.stream, &cqlError{code: codeOverloaded, msg: "Server is in overloaded state. Cannot accept more requests at this point"})
	}
	return true
}

func (c *conn) finish(h header, exec func() (*result, error)) {
	res, err := exec()
	if err != nil {
		c.sendError(h.stream, err)
		return
	}
	if res.setKeyspace != "" {
		c.mu.Lock()
		c.keyspace = res.setKeyspace
		c.mu.Unlock()
	}
	c.send(h.stream, opResult, res.body)
	if res.event != nil {
		c.s.broadcast(*res.event)
	}
}
