package cqltest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// sameHostRetry retries up to n times on the same host: with one node,
// policies that move to the next host have nowhere to go.
type sameHostRetry struct{ n int }

func (r sameHostRetry) Attempt(q gocql.RetryableQuery) bool { return q.Attempts() <= r.n }
func (sameHostRetry) GetRetryType(error) gocql.RetryType    { return gocql.Retry }

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(10 * time.Millisecond)
	}
}

func faultSetup(t *testing.T) (*Server, *gocql.Session) {
	s, sess := setup(t)
	exec(t, sess, "CREATE TABLE ks.f (k text PRIMARY KEY, v int)")
	return s, sess
}

func TestFaultErrorsReachTheDriverTyped(t *testing.T) {
	s, sess := faultSetup(t)
	ins := "INSERT INTO ks.f (k, v) VALUES (?, ?)"

	remove := s.Inject(Fault{Kind: WriteTimeout, Match: "insert into ks.f"})
	err := sess.Query(ins, "a", 1).Exec()
	var wt *gocql.RequestErrWriteTimeout
	if !errors.As(err, &wt) || wt.WriteType != "SIMPLE" || wt.Consistency != gocql.LocalQuorum || wt.BlockFor != 1 {
		t.Fatalf("write timeout: %#v", err)
	}
	err = sess.Batch(gocql.LoggedBatch).Query(ins, "a", 1).Exec()
	if !errors.As(err, &wt) || wt.WriteType != "BATCH" {
		t.Fatalf("batch write timeout: %#v", err)
	}
	_, err = sess.Query(ins+" IF NOT EXISTS", "a", 1).MapScanCAS(map[string]any{})
	if !errors.As(err, &wt) || wt.WriteType != "CAS" {
		t.Fatalf("CAS write timeout: %#v", err)
	}
	remove()
	if rows := s.Rows("ks", "f"); len(rows) != 0 {
		t.Fatalf("a timed out write was applied: %v", rows)
	}

	remove = s.Inject(Fault{Kind: WriteTimeout, Applied: true, Times: 1})
	if err := sess.Query(ins, "b", 2).Exec(); !errors.As(err, &wt) {
		t.Fatalf("applied write timeout: %v", err)
	}
	if rows := s.Rows("ks", "f"); len(rows) != 1 || rows[0]["k"] != "b" {
		t.Fatalf("write timeout with Applied did not apply: %v", rows)
	}
	remove() // a no-op: Times already removed it

	s.Inject(Fault{Kind: ReadTimeout, Times: 1})
	var rt *gocql.RequestErrReadTimeout
	if err := sess.Query("SELECT v FROM ks.f WHERE k = ?", "b").Exec(); !errors.As(err, &rt) {
		t.Fatalf("read timeout: %#v", err)
	}
	s.Inject(Fault{Kind: Unavailable, Times: 1})
	var un *gocql.RequestErrUnavailable
	if err := sess.Query(ins, "c", 3).Exec(); !errors.As(err, &un) || un.Required != 1 || un.Alive != 0 {
		t.Fatalf("unavailable: %#v", err)
	}
	s.Inject(Fault{Kind: Overloaded, Match: "DELETE", Times: 1})
	var ov *gocql.RequestErrOverloaded
	if err := sess.Query("DELETE FROM ks.f WHERE k = ?", "b").Exec(); !errors.As(err, &ov) {
		t.Fatalf("overloaded: %#v", err)
	}
	if rows := s.Rows("ks", "f"); len(rows) != 1 {
		t.Fatalf("failed requests changed data: %v", rows)
	}
	// Once spent, faults no longer match.
	if err := sess.Query(ins, "c", 3).Exec(); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
	got := s.Stats().Faults
	want := map[FaultKind]int{WriteTimeout: 4, ReadTimeout: 1, Unavailable: 1, Overloaded: 1}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("Stats().Faults[%v] = %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

func TestRetryPolicyRetriesThroughFaults(t *testing.T) {
	for _, kind := range []FaultKind{WriteTimeout, Unavailable, Overloaded, DropConnection} {
		t.Run(kind.String(), func(t *testing.T) {
			s, sess := faultSetup(t)
			times := 2
			if kind == DropConnection {
				// Each drop closes one of the pool's two connections; the
				// retry runs on the other one.
				times = 1
				eventually(t, "the control and two pool connections", func() bool { return s.Stats().Ready == 3 })
			}
			s.Inject(Fault{Kind: kind, Match: "ks.f", Times: times})
			before := s.Requests()
			q := sess.Query("INSERT INTO ks.f (k, v) VALUES (?, ?)", "r", 1).Idempotent(true).RetryPolicy(sameHostRetry{n: 3})
			if err := q.Exec(); err != nil {
				t.Fatalf("insert with retries: %v", err)
			}
			if n := s.Requests() - before; n != times+1 {
				t.Fatalf("%d attempts reached the server, want %d", n, times+1)
			}
			if rows := s.Rows("ks", "f"); len(rows) != 1 {
				t.Fatalf("rows = %v", rows)
			}
		})
	}
}

func TestDropConnectionMakesTheDriverReconnect(t *testing.T) {
	s, sess := faultSetup(t)
	before := s.Stats().Connections
	s.Inject(Fault{Kind: DropConnection, Times: 1})
	if err := sess.Query("INSERT INTO ks.f (k, v) VALUES ('d', 1)").Exec(); err == nil {
		t.Fatal("a dropped request succeeded")
	}
	if rows := s.Rows("ks", "f"); len(rows) != 0 {
		t.Fatalf("a dropped write was applied: %v", rows)
	}
	eventually(t, "the driver to open a new connection", func() bool { return s.Stats().Connections > before })
	eventually(t, "a query to succeed again", func() bool {
		return sess.Query("INSERT INTO ks.f (k, v) VALUES ('d', 2)").Exec() == nil
	})
}

func TestDelayAnswersLate(t *testing.T) {
	s, sess := faultSetup(t)
	s.Inject(Fault{Kind: Delay, Delay: 300 * time.Millisecond, Times: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := sess.Query("INSERT INTO ks.f (k, v) VALUES ('late', 1)").ExecContext(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed insert: %v, want the client's deadline", err)
	}
	// Other requests are answered meanwhile.
	if err := sess.Query("INSERT INTO ks.f (k, v) VALUES ('prompt', 1)").Exec(); err != nil {
		t.Fatal(err)
	}
	if rows := s.Rows("ks", "f"); len(rows) != 1 || rows[0]["k"] != "prompt" {
		t.Fatalf("rows before the delay ends: %v", rows)
	}
	eventually(t, "the delayed write", func() bool { return len(s.Rows("ks", "f")) == 2 })

	// Close ends a connection with an answer still pending.
	s.Inject(Fault{Kind: Delay, Delay: time.Hour, Times: 1})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		err := sess.Query("INSERT INTO ks.f (k, v) VALUES ('never', 1)").Exec()
		if err == nil {
			t.Error("a request pending when the server closed succeeded")
		}
	})
	eventually(t, "the second delay to start", func() bool { return s.Stats().Faults[Delay] == 2 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if rows := s.Rows("ks", "f"); len(rows) != 2 {
		t.Fatalf("a dropped delayed write was applied: %v", rows)
	}
}

func TestUnpreparedStatementsAreReprepared(t *testing.T) {
	s, sess := faultSetup(t)
	ins := "INSERT INTO ks.f (k, v) VALUES (?, ?)"
	exec(t, sess, ins, "u", 1)
	prepares := s.Stats().Prepares
	s.ForgetPrepared()
	exec(t, sess, ins, "u", 2)
	b := sess.Batch(gocql.UnloggedBatch)
	b.Query("UPDATE ks.f SET v = ? WHERE k = ?", 3, "u")
	if err := b.Exec(); err != nil {
		t.Fatal(err)
	}
	s.ForgetPrepared()
	if err := sess.Batch(gocql.UnloggedBatch).Query("UPDATE ks.f SET v = ? WHERE k = ?", 4, "u").Exec(); err != nil {
		t.Fatalf("batch after ForgetPrepared: %v", err)
	}
	st := s.Stats()
	if st.Unprepared < 2 || st.Prepares <= prepares+1 {
		t.Fatalf("stats %+v: want UNPREPARED answers and new prepares", st)
	}
	var v int
	if err := sess.Query("SELECT v FROM ks.f WHERE k = 'u'").Scan(&v); err != nil || v != 4 {
		t.Fatalf("v = %d, %v", v, err)
	}
}

func TestAuthentication(t *testing.T) {
	s := newServer(t, WithCredentials("reckon", "s3cret"))
	c := cluster(s)
	c.Authenticator = gocql.PasswordAuthenticator{Username: "reckon", Password: "s3cret"}
	sess := connect(t, c)
	exec(t, sess, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")

	c = cluster(s)
	c.Authenticator = gocql.PasswordAuthenticator{Username: "reckon", Password: "wrong"}
	sess2, err := c.CreateSession()
	if err == nil {
		sess2.Close()
		t.Fatal("a wrong password was accepted")
	}
	// gocql flattens the error into text: it carries the server's message.
	if !strings.Contains(err.Error(), "Provided username reckon and/or password are incorrect") {
		t.Fatalf("wrong password: %v, want the bad credentials error", err)
	}
	if s.Stats().AuthFailures == 0 {
		t.Fatal("no authentication failure counted")
	}
	sess3, err := cluster(s).CreateSession()
	if err == nil {
		sess3.Close()
		t.Fatal("a session without credentials was accepted")
	}
	if !strings.Contains(err.Error(), passwordAuthenticator) {
		t.Fatalf("no credentials: %v, want the authenticator named", err)
	}
}
