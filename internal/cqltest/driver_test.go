package cqltest

import (
	"errors"
	"fmt"
	"math/big"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"gopkg.in/inf.v0"
)

func TestEveryTypeRoundTrips(t *testing.T) {
	s, sess := setup(t)
	exec(t, sess, `CREATE TABLE ks.types (
		id text PRIMARY KEY, a ascii, vc varchar, bi bigint, i int, si smallint, ti tinyint,
		vi varint, d double, f float, dec decimal, b boolean, ts timestamp, dt date, tm time,
		bl blob, u uuid, tu timeuuid, ip inet, lt list<text>, st set<text>, mt map<text, text>,
		li list<int>, mib frozen<map<int, blob>>)`)

	ts := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	u := gocql.MustRandomUUID()
	tu := gocql.UUIDFromTime(ts)
	vi, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	want := map[string]any{
		"id": "row1", "a": "ascii", "vc": "välue", "bi": int64(-1 << 40), "i": 42, "si": int16(-7), "ti": int8(3),
		"vi": vi, "d": 3.25, "f": float32(1.5), "dec": inf.NewDec(-12345, 3), "b": true, "ts": ts,
		"dt": time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "tm": 13*time.Hour + 5*time.Second,
		"bl": []byte{0, 1, 0xff}, "u": u, "tu": tu, "ip": net.ParseIP("10.1.2.3").To4(),
		"lt": []string{"b", "a", "b"}, "st": []string{"z", "x"}, "mt": map[string]string{"k": "v", "a": "b"},
		"li": []int{3, 1}, "mib": map[int][]byte{2: {2}, 1: {1}},
	}
	cols := []string{"id", "a", "vc", "bi", "i", "si", "ti", "vi", "d", "f", "dec", "b", "ts", "dt", "tm", "bl", "u", "tu", "ip", "lt", "st", "mt", "li", "mib"}
	args := make([]any, len(cols))
	marks := make([]string, len(cols))
	for i, c := range cols {
		args[i], marks[i] = want[c], "?"
	}
	exec(t, sess, fmt.Sprintf("INSERT INTO ks.types (%s) VALUES (%s)", join(cols), join(marks)), args...)

	got := map[string]any{}
	if err := sess.Query("SELECT * FROM ks.types WHERE id = ?", "row1").MapScan(got); err != nil {
		t.Fatalf("select: %v", err)
	}
	want["st"] = []string{"x", "z"} // sets come back sorted
	for _, c := range cols {
		if !equalValue(got[c], want[c]) {
			t.Errorf("column %s: got %#v (%T), want %#v (%T)", c, got[c], got[c], want[c], want[c])
		}
	}

	// The inspection API decodes the same row.
	rows := s.Rows("ks", "types")
	if len(rows) != 1 {
		t.Fatalf("Rows: %d rows", len(rows))
	}
	r := rows[0]
	if r["vc"] != "välue" || r["i"] != int32(42) || r["ts"] != ts || r["u"] != [16]byte(u) || !slices.Equal(r["bl"].([]byte), []byte{0, 1, 0xff}) {
		t.Errorf("Rows()[0] = %v", r)
	}
	if fmt.Sprint(r["st"]) != "[x z]" || fmt.Sprint(r["mt"]) != "map[a:b k:v]" || r["vi"].(*big.Int).Cmp(vi) != 0 {
		t.Errorf("Rows()[0] collections = %v %v %v", r["st"], r["mt"], r["vi"])
	}
}

func join(l []string) string {
	out := ""
	for i, s := range l {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

func equalValue(got, want any) bool {
	switch w := want.(type) {
	case *big.Int:
		g, ok := got.(*big.Int)
		return ok && g.Cmp(w) == 0
	case *inf.Dec:
		g, ok := got.(*inf.Dec)
		return ok && g.Cmp(w) == 0
	case net.IP:
		g, ok := got.(net.IP)
		return ok && g.Equal(w)
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	}
	return reflect.DeepEqual(got, want)
}

func TestLiteralsAndFunctions(t *testing.T) {
	_, sess := setup(t)
	exec(t, sess, `CREATE TABLE ks.lit (id int, ck timestamp, n bigint, d double, b blob, u timeuuid, s set<text>, m map<text, int>, PRIMARY KEY (id, ck)) WITH CLUSTERING ORDER BY (ck DESC) AND comment = 'x'`)
	exec(t, sess, `INSERT INTO ks.lit (id, ck, n, d, b, u, s, m) VALUES (1, '2024-01-02 03:04:05+0000', -5, -1.5e3, 0xCAFE, now(), {'b', 'a'}, {'k': 1})`)
	exec(t, sess, `INSERT INTO ks.lit (id, ck, n) VALUES (1, '2024-01-03', 7)`)
	iter := sess.Query(`SELECT ck, n, d, b, s, m FROM ks.lit WHERE id = 1`).Iter()
	var cks []time.Time
	var ck time.Time
	var n int64
	var d float64
	var b []byte
	var set []string
	var m map[string]int
	for iter.Scan(&ck, &n, &d, &b, &set, &m) {
		cks = append(cks, ck)
		if n == -5 && (d != -1500 || !slices.Equal(b, []byte{0xca, 0xfe}) || !slices.Equal(set, []string{"a", "b"}) || m["k"] != 1) {
			t.Errorf("row = %v %v %v %v %v", n, d, b, set, m)
		}
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	// Clustering order is descending.
	if len(cks) != 2 || !cks[0].After(cks[1]) {
		t.Fatalf("clustering keys %v, want 2 in descending order", cks)
	}
}

// writetime returns the write timestamp of v in ks.lww's row k.
func selectLWW(t *testing.T, sess *gocql.Session, k string) (string, bool) {
	t.Helper()
	var v string
	err := sess.Query("SELECT v FROM ks.lww WHERE k = ?", k).Scan(&v)
	if errors.Is(err, gocql.ErrNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatalf("select %s: %v", k, err)
	}
	return v, true
}

func TestUsingTimestampLastWriteWins(t *testing.T) {
	_, sess := setup(t)
	exec(t, sess, "CREATE TABLE ks.lww (k text PRIMARY KEY, v text, w text)")
	ins := "INSERT INTO ks.lww (k, v) VALUES (?, ?) USING TIMESTAMP ?"

	exec(t, sess, ins, "a", "new", int64(100))
	exec(t, sess, ins, "a", "old", int64(50))
	if v, _ := selectLWW(t, sess, "a"); v != "new" {
		t.Fatalf("older write overwrote a newer one: v = %q", v)
	}
	var wt int64
	if err := sess.Query("SELECT writetime(v) FROM ks.lww WHERE k = 'a'").Scan(&wt); err != nil || wt != 100 {
		t.Fatalf("writetime(v) = %d, %v; want 100", wt, err)
	}

	// A deletion hides what was written at or before it.
	exec(t, sess, "DELETE FROM ks.lww USING TIMESTAMP ? WHERE k = ?", int64(200), "a")
	exec(t, sess, ins, "a", "older than the delete", int64(150))
	exec(t, sess, ins, "a", "same as the delete", int64(200))
	if v, ok := selectLWW(t, sess, "a"); ok {
		t.Fatalf("row visible after deletion: v = %q", v)
	}
	// A newer write resurrects the row, with only what it wrote.
	exec(t, sess, "UPDATE ks.lww USING TIMESTAMP ? SET w = ? WHERE k = ?", int64(300), "w", "a")
	var v, w *string
	if err := sess.Query("SELECT v, w FROM ks.lww WHERE k = 'a'").Scan(&v, &w); err != nil {
		t.Fatal(err)
	}
	if v != nil || w == nil || *w != "w" {
		t.Fatalf("after resurrection v=%v w=%v, want v=null w=w", v, w)
	}

	// Ties: the greater value wins, and a deletion wins over a value.
	exec(t, sess, ins, "b", "x", int64(400))
	exec(t, sess, ins, "b", "y", int64(400))
	exec(t, sess, ins, "b", "a", int64(400))
	if v, _ := selectLWW(t, sess, "b"); v != "y" {
		t.Fatalf("tie between values: v = %q, want the greater one y", v)
	}
	exec(t, sess, "DELETE v FROM ks.lww USING TIMESTAMP 400 WHERE k = 'b'")
	exec(t, sess, ins, "b", "z", int64(400))
	if v, ok := selectLWW(t, sess, "b"); !ok || v != "" {
		t.Fatalf("tie between a deletion and a value: v = %q (row %v), want null", v, ok)
	}

	// Without USING TIMESTAMP the server clock decides when the client sends
	// no default timestamp.
	clock := time.UnixMicro(1_000_000)
	s2 := newServer(t, WithClock(func() time.Time { return clock }))
	c := cluster(s2)
	c.DefaultTimestamp = false
	sess2 := connect(t, c)
	exec(t, sess2, "CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1}")
	exec(t, sess2, "CREATE TABLE ks.lww (k text PRIMARY KEY, v text)")
	exec(t, sess2, ins, "c", "future", int64(5_000_000))
	exec(t, sess2, "INSERT INTO ks.lww (k, v) VALUES ('c', 'now')")
	if err := sess2.Query("SELECT v, writetime(v) FROM ks.lww WHERE k = 'c'").Scan(&v, &wt); err != nil || *v != "future" {
		t.Fatalf("server-clock write at %d beat a later timestamp: v = %v, %v", clock.UnixMicro(), *v, err)
	}
	exec(t, sess2, "INSERT INTO ks.lww (k, v) VALUES ('d', 'now')")
	if err := sess2.Query("SELECT writetime(v) FROM ks.lww WHERE k = 'd'").Scan(&wt); err != nil || wt <= clock.UnixMicro() {
		t.Fatalf("writetime = %d, %v; want past the clock %d (timestamps strictly increase)", wt, err, clock.UnixMicro())
	}
}

func TestPartitionDeleteAndRangeReads(t *testing.T) {
	s, sess := setup(t)
	exec(t, sess, "CREATE TABLE ks.pc (p int, c int, v int, PRIMARY KEY (p, c))")
	for p := range 3 {
		for c := range 5 {
			exec(t, sess, "INSERT INTO ks.pc (p, c, v) VALUES (?, ?, ?) USING TIMESTAMP 10", p, c, p*10+c)
		}
	}
	var cs []int
	iter := sess.Query("SELECT c FROM ks.pc WHERE p = ? AND c >= ? AND c < ?", 1, 1, 4).Iter()
	var c int
	for iter.Scan(&c) {
		cs = append(cs, c)
	}
	if err := iter.Close(); err != nil || !slices.Equal(cs, []int{1, 2, 3}) {
		t.Fatalf("range read = %v, %v", cs, err)
	}
	var n int64
	if err := sess.Query("SELECT COUNT(*) FROM ks.pc WHERE p IN (0, 2)").Scan(&n); err != nil || n != 10 {
		t.Fatalf("count = %d, %v; want 10", n, err)
	}
	exec(t, sess, "DELETE FROM ks.pc USING TIMESTAMP 20 WHERE p = 1")
	if err := sess.Query("SELECT COUNT(*) FROM ks.pc").Scan(&n); err != nil || n != 10 {
		t.Fatalf("count after partition delete = %d, %v; want 10", n, err)
	}
	if err := sess.Query("SELECT COUNT(*) FROM ks.pc WHERE v = 3 ALLOW FILTERING").Scan(&n); err != nil || n != 1 {
		t.Fatalf("filtered count = %d, %v; want 1", n, err)
	}
	if rows := s.Rows("ks", "pc"); len(rows) != 10 || rows[5]["p"] != int32(2) {
		t.Fatalf("Rows = %v", rows)
	}
}

func TestBatchIsAtomic(t *testing.T) {
	s, sess := setup(t)
	exec(t, sess, "CREATE TABLE ks.b (k text, c int, v text, PRIMARY KEY (k, c))")
	for _, typ := range []gocql.BatchType{gocql.LoggedBatch, gocql.UnloggedBatch} {
		k := fmt.Sprint("batch", typ)
		b := sess.Batch(typ)
		b.Query("INSERT INTO ks.b (k, c, v) VALUES (?, ?, ?)", k, 1, "one")
		b.Query("UPDATE ks.b SET v = ? WHERE k = ? AND c = ?", "two", k, 2)
		b.Query("INSERT INTO ks.b (k, c, v) VALUES (?, ?, ?)", k, "not an int", "three")
		if err := b.Exec(); err == nil {
			t.Fatalf("%v batch with a bad statement succeeded", typ)
		}
		if rows := s.Rows("ks", "b"); len(rows) != 0 {
			t.Fatalf("%v batch partly applied: %v", typ, rows)
		}
	}
	b := sess.Batch(gocql.LoggedBatch)
	b.Query("INSERT INTO ks.b (k, c, v) VALUES (?, ?, ?)", "x", 1, "one")
	b.Query("INSERT INTO ks.b (k, c, v) VALUES ('y', 2, 'two')")
	b.Query("DELETE FROM ks.b WHERE k = ? AND c = ?", "x", 7)
	if err := b.Exec(); err != nil {
		t.Fatalf("batch: %v", err)
	}
	exec(t, sess, "BEGIN UNLOGGED BATCH USING TIMESTAMP 1 INSERT INTO ks.b (k, c, v) VALUES ('z', 1, 'q'); UPDATE ks.b SET v = 'r' WHERE k = 'z' AND c = 2; APPLY BATCH")
	if rows := s.Rows("ks", "b"); len(rows) != 4 {
		t.Fatalf("Rows after batches = %v", rows)
	}
	var wt int64
	if err := sess.Query("SELECT writetime(v) FROM ks.b WHERE k = 'z' AND c = 2").Scan(&wt); err != nil || wt != 1 {
		t.Fatalf("batch timestamp: writetime = %d, %v", wt, err)
	}
}

func TestPagingFullScan(t *testing.T) {
	s, sess := setup(t)
	exec(t, sess, "CREATE TABLE ks.pg (p int, c int, v text, PRIMARY KEY (p, c))")
	const parts, perPart = 50, 50
	for p := range parts {
		b := sess.Batch(gocql.UnloggedBatch)
		for c := range perPart {
			b.Query("INSERT INTO ks.pg (p, c, v) VALUES (?, ?, ?)", p, c, "v")
		}
		if err := b.Exec(); err != nil {
			t.Fatal(err)
		}
	}
	before := s.Requests()
	iter := sess.Query("SELECT p, c FROM ks.pg").PageSize(100).Iter()
	var p, c int
	n := 0
	for iter.Scan(&p, &c) {
		if p != n/perPart || c != n%perPart {
			t.Fatalf("row %d is (%d, %d)", n, p, c)
		}
		n++
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if n != parts*perPart {
		t.Fatalf("scanned %d rows, want %d", n, parts*perPart)
	}
	if pages := s.Requests() - before; pages != parts*perPart/100+1 && pages != parts*perPart/100 {
		t.Fatalf("%d requests for %d rows at 100 a page", pages, n)
	}

	// Manual paging with LIMIT: the limit holds across pages.
	var state []byte
	total := 0
	for {
		iter := sess.Query("SELECT c FROM ks.pg WHERE p = 7 LIMIT 33").PageSize(10).PageState(state).Iter()
		total += iter.NumRows()
		state = iter.PageState()
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		if len(state) == 0 {
			break
		}
	}
	if total != 33 {
		t.Fatalf("paged LIMIT 33 returned %d rows", total)
	}
}

func TestLightweightTransactions(t *testing.T) {
	_, sess := setup(t)
	exec(t, sess, "CREATE TABLE ks.live (name text PRIMARY KEY, version int, status text)")

	ins := "INSERT INTO ks.live (name, version, status) VALUES (?, ?, ?) IF NOT EXISTS"
	prev := map[string]any{}
	applied, err := sess.Query(ins, "p", 1, "live").MapScanCAS(prev)
	if err != nil || !applied {
		t.Fatalf("first insert: applied=%v err=%v", applied, err)
	}
	prev = map[string]any{}
	applied, err = sess.Query(ins, "p", 2, "building").MapScanCAS(prev)
	if err != nil || applied || prev["version"] != 1 || prev["status"] != "live" || prev["name"] != "p" {
		t.Fatalf("second insert: applied=%v prev=%v err=%v", applied, prev, err)
	}

	upd := "UPDATE ks.live SET version = ? WHERE name = ? IF version = ?"
	var cur int
	applied, err = sess.Query(upd, 3, "p", 2).ScanCAS(&cur)
	if err != nil || applied || cur != 1 {
		t.Fatalf("update with a stale condition: applied=%v current=%d err=%v", applied, cur, err)
	}
	applied, err = sess.Query(upd, 3, "p", 1).ScanCAS(&cur)
	if err != nil || !applied {
		t.Fatalf("update with a matching condition: applied=%v err=%v", applied, err)
	}
	applied, err = sess.Query("UPDATE ks.live SET status = ? WHERE name = ? IF EXISTS", "x", "missing").ScanCAS()
	if err != nil || applied {
		t.Fatalf("update if exists of a missing row: applied=%v err=%v", applied, err)
	}
	applied, err = sess.Query("DELETE FROM ks.live WHERE name = ? IF EXISTS", "p").ScanCAS()
	if err != nil || !applied {
		t.Fatalf("delete if exists: applied=%v err=%v", applied, err)
	}
	if err := sess.Query("UPDATE ks.live USING TIMESTAMP 5 SET version = 1 WHERE name = 'p' IF EXISTS").Exec(); err == nil {
		t.Fatal("USING TIMESTAMP with a condition was accepted")
	}

	// Concurrent compare-and-set on one key: exactly one wins each round.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 16 {
		wg.Go(func() {
			ok, err := sess.Query(ins, "race", i, "x").MapScanCAS(map[string]any{})
			if err != nil {
				t.Errorf("race insert: %v", err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent IF NOT EXISTS inserts applied, want 1", wins)
	}
}

func TestSchemaMetadataForTokenAwareness(t *testing.T) {
	_, sess := setup(t)
	exec(t, sess, "CREATE TABLE ks.meta (a text, b int, c timeuuid, d map<text, text>, PRIMARY KEY ((a, b), c)) WITH CLUSTERING ORDER BY (c DESC)")
	exec(t, sess, "ALTER TABLE ks.meta ADD e bigint")
	var md *gocql.KeyspaceMetadata
	// The driver refreshes its metadata cache on schema change events,
	// debounced; wait for it with a deadline.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		md, err = sess.KeyspaceMetadata("ks")
		if err == nil && md.Tables["meta"] != nil && md.Tables["meta"].Columns["e"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keyspace metadata never showed ks.meta with column e: %v %v", md, err)
		}
		<-time.After(50 * time.Millisecond)
	}
	if md.StrategyClass != simpleStrategy || md.StrategyOptions["replication_factor"] != "1" {
		t.Errorf("replication = %s %v", md.StrategyClass, md.StrategyOptions)
	}
	tm := md.Tables["meta"]
	if len(tm.PartitionKey) != 2 || tm.PartitionKey[1].Name != "b" || len(tm.ClusteringColumns) != 1 || tm.ClusteringColumns[0].ClusteringOrder != "desc" {
		t.Errorf("table metadata: pk %v ck %v", tm.PartitionKey, tm.ClusteringColumns)
	}
	if typ := tm.Columns["d"].Type.Type(); typ != gocql.TypeMap {
		t.Errorf("column d has type %v", typ)
	}

	// Prepared metadata names the markers that bind the partition key, so
	// the driver can compute a routing key (here composite: a, then b).
	sm, err := sess.StatementMetadata(t.Context(), "SELECT e FROM ks.meta WHERE c = ? AND b = ? AND a = ?", "")
	if err != nil || !slices.Equal(sm.PKBindColumnIndexes, []int{2, 1}) || len(sm.ResultColumns) != 1 || sm.Table != "meta" {
		t.Errorf("statement metadata = %+v, %v; want partition key markers [2 1]", sm, err)
	}
}

func TestErrorsHaveProtocolCodes(t *testing.T) {
	_, sess := setup(t)
	exec(t, sess, "CREATE TABLE ks.e (k text PRIMARY KEY, v int)")
	cases := []struct {
		stmt string
		code int
	}{
		{"SELEC * FROM ks.e", gocql.ErrCodeSyntax},
		{"CREATE FUNCTION f", gocql.ErrCodeSyntax},
		{"SELECT * FROM ks.nope", gocql.ErrCodeInvalid},
		{"SELECT * FROM ks.e WHERE v = 1", gocql.ErrCodeInvalid},
		{"INSERT INTO ks.e (v) VALUES (1)", gocql.ErrCodeInvalid},
		{"CREATE TABLE ks.e (k text PRIMARY KEY)", gocql.ErrCodeAlreadyExists},
		{"CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", gocql.ErrCodeAlreadyExists},
		{"INSERT INTO system.local (key) VALUES ('x')", gocql.ErrCodeUnauthorized},
	}
	for _, tc := range cases {
		err := sess.Query(tc.stmt).Exec()
		var re gocql.RequestError
		if !errors.As(err, &re) || re.Code() != tc.code {
			t.Errorf("%s: error %v, want code 0x%04x", tc.stmt, err, tc.code)
		}
	}
	err := sess.Query("CREATE TABLE ks.e (k text PRIMARY KEY)").Exec()
	var ae *gocql.RequestErrAlreadyExists
	if !errors.As(err, &ae) || ae.Keyspace != "ks" || ae.Table != "e" {
		t.Errorf("already exists error = %#v", err)
	}
}

func TestSessionKeyspaceAndNamedValues(t *testing.T) {
	s := newServer(t)
	sess := connect(t, cluster(s))
	exec(t, sess, "CREATE KEYSPACE \"Ks\" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
	c := cluster(s)
	c.Keyspace = "Ks" // the driver sends USE "Ks" on each connection
	sess = connect(t, c)
	exec(t, sess, "CREATE TABLE t (k text PRIMARY KEY, v int)")
	exec(t, sess, "INSERT INTO t (k, v) VALUES (:k, :v)", gocql.NamedValue("k", "a"), gocql.NamedValue("v", 2))
	var v int
	if err := sess.Query("SELECT v FROM t WHERE k = :k", gocql.NamedValue("k", "a")).Scan(&v); err != nil || v != 2 {
		t.Fatalf("v = %d, %v", v, err)
	}
	if rows := s.Rows("Ks", "t"); len(rows) != 1 || rows[0]["v"] != int32(2) {
		t.Fatalf("rows = %v", rows)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	_, err := New(WithAddr(""), WithClock(nil), WithCredentials("", "x"))
	if !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("New: %v, want ErrInvalidOption", err)
	}
	for _, want := range []string{"WithAddr", "WithClock", "WithCredentials"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestConcurrentRequestsArePipelined(t *testing.T) {
	s, sess := setup(t)
	exec(t, sess, "CREATE TABLE ks.cc (w int, i int, v text, PRIMARY KEY (w, i))")
	const writers, each = 8, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := sess.Query("INSERT INTO ks.cc (w, i, v) VALUES (?, ?, ?)", w, i, "v").Exec(); err != nil {
					t.Errorf("insert %d/%d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if rows := s.Rows("ks", "cc"); len(rows) != writers*each {
		t.Fatalf("%d rows, want %d", len(rows), writers*each)
	}
}

func TestPagingStateSurvivesWrites(t *testing.T) {
	_, sess := setup(t)
	exec(t, sess, "CREATE TABLE ks.ps (p int, c int, PRIMARY KEY (p, c))")
	for c := 0; c < 20; c += 2 {
		exec(t, sess, "INSERT INTO ks.ps (p, c) VALUES (1, ?)", c)
	}
	page := func(state []byte) ([]int, []byte) {
		iter := sess.Query("SELECT c FROM ks.ps WHERE p = 1").PageSize(5).PageState(state).Iter()
		var cs []int
		var c int
		for iter.Scan(&c) {
			cs = append(cs, c)
		}
		next := iter.PageState()
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		return cs, next
	}
	first, state := page(nil)
	if !slices.Equal(first, []int{0, 2, 4, 6, 8}) || len(state) == 0 {
		t.Fatalf("first page %v, state %x", first, state)
	}
	// Rows written before and after the position: only the later ones show.
	exec(t, sess, "INSERT INTO ks.ps (p, c) VALUES (1, 3)")
	exec(t, sess, "INSERT INTO ks.ps (p, c) VALUES (1, 9)")
	exec(t, sess, "DELETE FROM ks.ps WHERE p = 1 AND c = 8")
	second, _ := page(state)
	if !slices.Equal(second, []int{9, 10, 12, 14, 16}) {
		t.Fatalf("second page %v", second)
	}
	if err := sess.Query("SELECT c FROM ks.ps WHERE p = 1").PageState([]byte{9, 9}).Exec(); err == nil {
		t.Fatal("a corrupt paging state was accepted")
	}
}
