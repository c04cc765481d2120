package cqltest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"
)

// statements seed the parser fuzzer and the frame fuzzer.
var statements = []string{
	"CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} AND durable_writes = false",
	"CREATE TABLE IF NOT EXISTS ks.t (p text, c bigint, v map<text, text>, l list<int>, s set<uuid>, PRIMARY KEY ((p), c)) WITH CLUSTERING ORDER BY (c DESC) AND comment = 'x'",
	"CREATE TABLE ks.u (id uuid PRIMARY KEY, d decimal, f frozen<list<blob>>)",
	"ALTER TABLE ks.t ADD (x int, y text)",
	"DROP TABLE IF EXISTS ks.u",
	"USE \"ks\"",
	"TRUNCATE ks.t",
	"INSERT INTO ks.t (p, c, v) VALUES (?, ?, ?) USING TIMESTAMP ? IF NOT EXISTS",
	"INSERT INTO t (p, c, l, s) VALUES ('a', -1, [1, 2], {123e4567-e89b-12d3-a456-426614174000}) USING TTL 0",
	"UPDATE ks.t USING TIMESTAMP 5 SET v = {'k': 'v'}, x = :x WHERE p = :p AND c = 1 IF x = 3 AND y != null",
	"DELETE x, y FROM ks.t USING TIMESTAMP ? WHERE p = ? AND c = ? IF EXISTS",
	"DELETE FROM ks.t WHERE p = 'a'",
	"SELECT * FROM ks.t WHERE p IN ('a', 'b') AND c >= 1 AND c < 10 LIMIT ? ALLOW FILTERING",
	"SELECT p AS q, writetime(x), ttl(y), count(*) FROM ks.t",
	"SELECT COUNT(1) FROM system.local WHERE key = 'local'",
	"BEGIN UNLOGGED BATCH USING TIMESTAMP 3 INSERT INTO ks.t (p, c) VALUES ('b', 2); DELETE FROM ks.t WHERE p = 'b' AND c = 3; APPLY BATCH;",
	"SELECT * FROM system_schema.columns WHERE keyspace_name = ?",
	"INSERT INTO ks.t (p, c, x) VALUES ('n', 1, -0x1) -- comment\n",
	"/* c */ SELECT x FROM ks.t WHERE p = $$a'b$$ AND c = 0xff",
	"SELECT * FROM ks.t WHERE token(p) > 0",
	"UPDATE ks.t SET l = l + [1] WHERE p = 'a' AND c = 1",
	"INSERT INTO ks.t (p, c, v) VALUES ('a', 1, {'a': 1.5e10, 'b': NaN, 'c': -Infinity})",
	"'unterminated",
	"\"\"",
	"SELECT",
}

func FuzzParse(f *testing.F) {
	for _, s := range statements {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		ps, err := parse(src)
		if err != nil {
			var ce *cqlError
			if !errors.As(err, &ce) || ce.code != codeSyntax {
				t.Fatalf("parse(%q) error %v is not a syntax error", src, err)
			}
			return
		}
		if ps.stmt == nil || ps.markers != len(ps.names) {
			t.Fatalf("parse(%q) = %+v", src, ps)
		}
	})
}

// frame builds a request frame.
func frame(version, flags byte, stream int16, op byte, body []byte) []byte {
	b := []byte{version, flags, 0, 0, op, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:4], uint16(stream))
	binary.BigEndian.PutUint32(b[5:9], uint32(len(body)))
	return append(b, body...)
}

func startupFrame() []byte {
	var w writer
	w.short(1)
	w.string("CQL_VERSION")
	w.string("3.0.0")
	return frame(4, 0, 0, opStartup, w.b)
}

// queryBody builds a QUERY body with values, paging and a timestamp.
func queryBody(stmt string, values ...[]byte) []byte {
	var w writer
	w.int(int32(len(stmt)))
	w.b = append(w.b, stmt...)
	w.short(0x0006) // LOCAL_QUORUM
	w.byte(qfValues | qfPageSize | qfDefaultTimestamp)
	w.short(uint16(len(values)))
	for _, v := range values {
		w.bytes(v)
	}
	w.int(2)
	w.b = binary.BigEndian.AppendUint64(w.b, 1234)
	return w.b
}

func FuzzFrames(f *testing.F) {
	s, err := New()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })

	start := startupFrame()
	f.Add(start)
	f.Add(frame(5, 0, 0, opOptions, nil))
	f.Add(frame(4, flagCompress, 0, opOptions, nil))
	f.Add(append(start, frame(4, 0, 1, opQuery, []byte{0, 0})...))
	f.Add(append(start, frame(4, 0, 1, opRegister, []byte{0, 1, 0, 5})...))
	for i, stmt := range statements {
		seq := append([]byte{}, start...)
		seq = append(seq, frame(4, 0, int16(i), opQuery, queryBody(stmt, []byte("a"), nil, []byte{0, 0, 0, 0, 0, 0, 0, 1}))...)
		var w writer
		w.int(int32(len(stmt)))
		w.b = append(w.b, stmt...)
		seq = append(seq, frame(4, 0, 2, opPrepare, w.b)...)
		f.Add(seq)
	}
	var exe writer
	exe.shortBytes(preparedID("", statements[7]))
	exe.b = append(exe.b, queryBody("")[4:]...)
	f.Add(append(start, frame(4, 0, 3, opExecute, exe.b)...))
	var batch writer
	batch.byte(batchLogged)
	batch.short(2)
	batch.byte(0)
	batch.int(int32(len(statements[7])))
	batch.b = append(batch.b, statements[7]...)
	batch.short(1)
	batch.bytes([]byte("x"))
	batch.byte(1)
	batch.shortBytes([]byte{1, 2, 3})
	batch.short(0)
	batch.short(1)
	batch.byte(qfDefaultTimestamp)
	batch.b = binary.BigEndian.AppendUint64(batch.b, 99)
	f.Add(append(start, frame(4, 0, 4, opBatch, batch.b)...))

	f.Fuzz(func(t *testing.T, data []byte) {
		// serve returns at the end of the input: a hang fails the fuzzer
		// by its timeout, a panic by crashing it.
		c := newConn(s, &scriptConn{r: bytes.NewReader(data)})
		c.serve()
	})
}

// scriptConn is a connection whose client sends a fixed byte sequence and
// ignores the answers.
type scriptConn struct {
	r *bytes.Reader
	w bytes.Buffer // the answers
}

func (c *scriptConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// answers runs a scripted connection and returns the frames the server
// answered with.
func answers(t *testing.T, s *Server, script ...[]byte) []header {
	t.Helper()
	sc := &scriptConn{r: bytes.NewReader(bytes.Join(script, nil))}
	newConn(s, sc).serve()
	var out []header
	for sc.w.Len() > 0 {
		h, body, err := readFrame(&sc.w)
		if err != nil {
			t.Fatalf("answer %d: %v", len(out), err)
		}
		if h.op == opError {
			r := reader{b: body}
			h.length = r.int() // the error code, for the assertions
		}
		out = append(out, h)
	}
	return out
}

func TestRawFrames(t *testing.T) {
	s := newServer(t)
	got := answers(t, s, frame(5, 0, 7, opOptions, nil))
	if len(got) != 1 || got[0].version != 0x85 || got[0].op != opError || got[0].length != int32(codeProtocol) || got[0].stream != 7 {
		t.Fatalf("v5 request: answers %+v, want a v5 protocol error", got)
	}
	var use writer
	use.int(6)
	use.b = append(use.b, "USE ks"...)
	use.short(1)
	use.byte(0)
	got = answers(t, s,
		frame(4, 0, 1, opQuery, queryBody("SELECT * FROM system.local")),
		frame(4, 0, 2, opOptions, nil),
		startupFrame(),
		frame(4, 0, 3, opQuery, queryBody(statements[0])),
		frame(4, 0, 4, opQuery, queryBody(statements[1])),
		frame(4, 0, 5, opQuery, queryBody("INSERT INTO ks.t (p, c) VALUES (?, ?)", []byte("a"), []byte{0, 0, 0, 0, 0, 0, 0, 1})),
		frame(4, 0, 6, opQuery, queryBody("INSERT INTO ks.t (p, c) VALUES (?, ?)", []byte("a"))),
		frame(4, 0, 7, opQuery, use.b),
		frame(4, 0, 8, opBatch, []byte{9}),
		frame(4, flagCompress, 9, opOptions, nil),
		frame(4, 0, 10, 0x7f, nil),
	)
	want := []struct {
		op   byte
		code errCode
	}{
		{opError, codeProtocol}, {opSupported, 0}, {opReady, 0}, {opResult, 0}, {opResult, 0},
		{opResult, 0}, {opError, codeInvalid}, {opResult, 0}, {opError, codeProtocol},
		{opError, codeProtocol}, {opError, codeProtocol},
	}
	if len(got) != len(want) {
		t.Fatalf("%d answers, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].op != w.op || (w.op == opError && got[i].length != int32(w.code)) || got[i].version != 0x84 {
			t.Errorf("answer %d = %+v, want op 0x%02x code 0x%04x", i, got[i], w.op, w.code)
		}
	}
	if rows := s.Rows("ks", "t"); len(rows) != 1 || rows[0]["p"] != "a" || rows[0]["c"] != int64(1) {
		t.Fatalf("rows = %v", rows)
	}
}
