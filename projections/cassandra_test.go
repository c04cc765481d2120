package projections

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/reckon-dev/reckon/internal/cqltest"
	"github.com/reckon-dev/reckon/operators"
)

const testKeyspace = "reckon_test"

func newCQLServer(t testing.TB) *cqltest.Server {
	t.Helper()
	srv, err := cqltest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// fastRetries keeps retry backoff short in tests.
func serverConfig(srv *cqltest.Server) CassandraConfig {
	return CassandraConfig{
		Hosts: []string{srv.Host()}, Port: srv.Port(), Keyspace: testKeyspace,
		Timeout: 5 * time.Second, ConnectTimeout: 5 * time.Second,
		RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond,
	}
}

func openCassandraT(t testing.TB, cfg CassandraConfig) *Cassandra {
	t.Helper()
	s, err := OpenCassandra(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCassandraConformance(t *testing.T) {
	srv := newCQLServer(t)
	storeSuite(t, func(t *testing.T) Store { return openCassandraT(t, serverConfig(srv)) })
}

// TestCassandraClusterConformance runs the suite against a real cluster
// when RECKON_CASSANDRA_HOSTS names one (host[:port],…), with
// RECKON_CASSANDRA_KEYSPACE (default reckon_conformance),
// RECKON_CASSANDRA_USERNAME and RECKON_CASSANDRA_PASSWORD.
func TestCassandraClusterConformance(t *testing.T) {
	hosts := os.Getenv("RECKON_CASSANDRA_HOSTS")
	if hosts == "" {
		t.Skip("RECKON_CASSANDRA_HOSTS is not set: no real cluster to test against")
	}
	cfg := CassandraConfig{
		Hosts: strings.Split(hosts, ","), Keyspace: os.Getenv("RECKON_CASSANDRA_KEYSPACE"),
		Username: os.Getenv("RECKON_CASSANDRA_USERNAME"), Password: os.Getenv("RECKON_CASSANDRA_PASSWORD"),
		Consistency: "LOCAL_ONE", Timeout: 30 * time.Second,
	}
	if cfg.Keyspace == "" {
		cfg.Keyspace = "reckon_conformance"
	}
	storeSuite(t, func(t *testing.T) Store { return openCassandraT(t, cfg) })
}

func TestCassandraWritesCQL(t *testing.T) {
	srv := newCQLServer(t)
	s := openCassandraT(t, serverConfig(srv))
	name := uniqueName(t, "wire")
	table := create(t, s, paymentSpec(name), 1)
	apply(t, s, table, payment("p1", 7, "CAPTURED"), payment("p2", 3, "AUTHORIZED"))
	rows := srv.Rows(testKeyspace, table)
	if len(rows) != 2 || rows[0]["status"] != "CAPTURED" || rows[1]["amount_minor"] != int64(300) {
		t.Fatalf("rows on the server: %v", rows)
	}
	// The write timestamp is the version: an upsert stamped 7 is what an
	// INSERT USING TIMESTAMP 6 loses to.
	sess := s.session
	if err := sess.Query("INSERT INTO " + testKeyspace + "." + table + " (payment_id, status) VALUES ('p1', 'OLD') USING TIMESTAMP 6").Exec(); err != nil {
		t.Fatal(err)
	}
	var wt int64
	if err := sess.Query("SELECT writetime(status) FROM " + testKeyspace + "." + table + " WHERE payment_id = 'p1'").Scan(&wt); err != nil {
		t.Fatal(err)
	}
	if r, _ := get(t, s, table, "p1"); r["status"] != "CAPTURED" || wt != 7 {
		t.Fatalf("writetime %d, row %v", wt, r)
	}
	// The catalog and pointer are plain tables an application can read.
	if _, err := s.MarkReady(context.Background(), name, 1, SourceRange{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Promote(context.Background(), name, 1); err != nil {
		t.Fatal(err)
	}
	var live int
	if err := sess.Query("SELECT live FROM "+testKeyspace+".reckon_live WHERE projection = ?", name).Scan(&live); err != nil || live != 1 {
		t.Fatalf("reckon_live: %d %v", live, err)
	}
}

func TestCassandraFaults(t *testing.T) {
	ctx := context.Background()
	srv := newCQLServer(t)
	s := openCassandraT(t, serverConfig(srv))
	name := uniqueName(t, "faults")
	table := create(t, s, paymentSpec(name), 1)
	batch := func(v int64) []Write {
		var ws []Write
		for i := range 6 {
			ws = append(ws, payment(fmt.Sprint("p", i), v, fmt.Sprint("S", v)))
		}
		return ws
	}
	check := func(t *testing.T, v int64) {
		t.Helper()
		rows := scanAll(t, s, table)
		if len(rows) != 6 {
			t.Fatalf("%d rows, want 6", len(rows))
		}
		for _, r := range rows {
			if r["status"] != fmt.Sprint("S", v) {
				t.Fatalf("row %v, want version %d", r, v)
			}
		}
	}
	for i, kind := range []cqltest.FaultKind{cqltest.WriteTimeout, cqltest.Unavailable, cqltest.Overloaded, cqltest.DropConnection} {
		t.Run("retried/"+kind.String(), func(t *testing.T) {
			v := int64(i + 1)
			before := srv.Stats().Faults[kind]
			remove := srv.Inject(cqltest.Fault{Kind: kind, Match: table, Times: 3})
			defer remove()
			if err := s.Apply(ctx, table, batch(v)); err != nil {
				t.Fatalf("Apply under %d transient %s: %v", 3, kind, err)
			}
			if hits := srv.Stats().Faults[kind] - before; hits != 3 {
				t.Errorf("%d requests hit the fault, want 3", hits)
			}
			check(t, v)
		})
	}
	t.Run("applied write timeout converges", func(t *testing.T) {
		remove := srv.Inject(cqltest.Fault{Kind: cqltest.WriteTimeout, Match: table, Times: 2, Applied: true})
		defer remove()
		if err := s.Apply(ctx, table, batch(10)); err != nil {
			t.Fatal(err)
		}
		check(t, 10)
	})
	t.Run("outlasting retries is returned", func(t *testing.T) {
		remove := srv.Inject(cqltest.Fault{Kind: cqltest.WriteTimeout, Match: table})
		err := s.Apply(ctx, table, batch(20))
		remove()
		var te *TableError
		var wt *gocql.RequestErrWriteTimeout
		if !errors.As(err, &te) || te.Table != table || !errors.As(err, &wt) {
			t.Fatalf("Apply under a persistent write timeout: %v, want a *TableError wrapping the write timeout", err)
		}
		// Some partitions may have been written before the failure was
		// known; redelivered after the fault, the writes converge.
		if err := s.Apply(ctx, table, batch(20)); err != nil {
			t.Fatal(err)
		}
		check(t, 20)
	})
	t.Run("no partial batch", func(t *testing.T) {
		name := uniqueName(t, "partial")
		spec := paymentSpec(name).ClusteringKey("seq").Typed("seq", operators.TypeBigInt)
		table := create(t, s, spec, 1)
		var ws []Write
		for i := range 8 {
			w := payment("acct", 1, "A")
			w.Key = append(w.Key, int64(i))
			ws = append(ws, w)
		}
		remove := srv.Inject(cqltest.Fault{Kind: cqltest.Unavailable, Match: table})
		err := s.Apply(ctx, table, ws)
		remove()
		var un *gocql.RequestErrUnavailable
		if !errors.As(err, &un) {
			t.Fatalf("Apply: %v, want the unavailable error", err)
		}
		if n := len(srv.Rows(testKeyspace, table)); n != 0 {
			t.Fatalf("%d rows of a failed single-partition batch were applied", n)
		}
		apply(t, s, table, ws...)
		if n := len(srv.Rows(testKeyspace, table)); n != 8 {
			t.Fatalf("%d rows after redelivery, want 8", n)
		}
	})
	t.Run("slow responses", func(t *testing.T) {
		remove := srv.Inject(cqltest.Fault{Kind: cqltest.Delay, Match: table, Times: 2, Delay: 50 * time.Millisecond})
		defer remove()
		if err := s.Apply(ctx, table, batch(30)); err != nil {
			t.Fatal(err)
		}
		check(t, 30)
	})
	t.Run("cancelled context", func(t *testing.T) {
		remove := srv.Inject(cqltest.Fault{Kind: cqltest.Unavailable, Match: table})
		defer remove()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Apply(cctx, table, batch(40)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Apply with a cancelled context: %v", err)
		}
	})
	t.Run("read retried", func(t *testing.T) {
		remove := srv.Inject(cqltest.Fault{Kind: cqltest.ReadTimeout, Match: table, Times: 2})
		defer remove()
		if r, ok := get(t, s, table, "p0"); !ok || r["status"] != "S30" {
			t.Fatalf("Get under read timeouts: %v %v", r, ok)
		}
	})
}

// One partition's writes go out as batches: the server sees one request
// per planned group, not one per write.
func TestCassandraBatchesPerPartition(t *testing.T) {
	srv := newCQLServer(t)
	s := openCassandraT(t, serverConfig(srv))
	name := uniqueName(t, "batch")
	spec := paymentSpec(name).ClusteringKey("seq").Typed("seq", operators.TypeBigInt)
	table := create(t, s, spec, 1)
	var ws []Write
	for i := range 200 {
		w := payment(fmt.Sprint("p", i%2), 1, "A")
		w.Key = append(w.Key, int64(i))
		ws = append(ws, w)
	}
	before := srv.Requests()
	apply(t, s, table, ws...)
	requests := srv.Requests() - before
	if requests < 2 || requests > 10 {
		t.Errorf("200 writes to 2 partitions took %d requests, want a few batches", requests)
	}
	if n := len(srv.Rows(testKeyspace, table)); n != 200 {
		t.Errorf("%d rows on the server, want 200", n)
	}
}

func TestCassandraAuthAndTLSConfig(t *testing.T) {
	ctx := context.Background()
	srv, err := cqltest.New(cqltest.WithCredentials("reckon", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := serverConfig(srv)
	cfg.Username, cfg.Password = "reckon", "s3cret"
	s := openCassandraT(t, cfg)
	create(t, s, paymentSpec(uniqueName(t, "auth")), 1)

	cfg.Password = "wrong"
	if _, err := OpenCassandra(ctx, cfg); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v (must fail, and not show the password)", err)
	}
	cfg.Password = "s3cret"
	cfg.TLS = TLSConfig{Enabled: true, CAFile: filepath.Join(t.TempDir(), "missing.pem"), CertFile: "c.pem"}
	_, err = OpenCassandra(ctx, cfg)
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Key != "tls_cert" {
		t.Errorf("tls_cert without tls_key: %v", err)
	}
	cfg.TLS.CertFile = ""
	_, err = OpenCassandra(ctx, cfg)
	if !errors.As(err, &ce) || ce.Problems[0].Key != "tls_ca" {
		t.Errorf("unreadable CA file: %v", err)
	}
}
