package cqltest

import (
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// newServer starts a server that the test closes.
func newServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// cluster returns a driver configuration for s as reckon uses it: protocol
// v4, token-aware over DC-aware round robin.
func cluster(s *Server) *gocql.ClusterConfig {
	c := gocql.NewCluster(s.Host())
	c.Port = s.Port()
	c.ProtoVersion = 4
	c.Consistency = gocql.LocalQuorum
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy("datacenter1"), gocql.ShuffleReplicas())
	c.Timeout = 5 * time.Second
	c.ConnectTimeout = 5 * time.Second
	c.NumConns = 2
	c.Logger = gocql.NewLogger(gocql.LogLevelNone)
	return c
}

func connect(t *testing.T, c *gocql.ClusterConfig) *gocql.Session {
	t.Helper()
	sess, err := c.CreateSession()
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	t.Cleanup(sess.Close)
	return sess
}

func exec(t *testing.T, sess *gocql.Session, stmt string, args ...any) {
	t.Helper()
	if err := sess.Query(stmt, args...).Exec(); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// setup starts a server, connects and creates keyspace ks.
func setup(t *testing.T, opts ...Option) (*Server, *gocql.Session) {
	t.Helper()
	s := newServer(t, opts...)
	sess := connect(t, cluster(s))
	exec(t, sess, "CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
	return s, sess
}

func TestConnectAndPreparedRoundTrip(t *testing.T) {
	s, sess := setup(t)
	exec(t, sess, `CREATE TABLE ks.kv (pk text, ck bigint, v text, n int, PRIMARY KEY ((pk), ck))`)
	for i := range 3 {
		exec(t, sess, "INSERT INTO ks.kv (pk, ck, v, n) VALUES (?, ?, ?, ?)", "a", int64(i), "v", i*10)
	}
	var v string
	var n int
	if err := sess.Query("SELECT v, n FROM ks.kv WHERE pk = ? AND ck = ?", "a", int64(2)).Scan(&v, &n); err != nil {
		t.Fatalf("select: %v", err)
	}
	if v != "v" || n != 20 {
		t.Fatalf("got v=%q n=%d, want v n=20", v, n)
	}
	rows := s.Rows("ks", "kv")
	if len(rows) != 3 || rows[0]["ck"] != int64(0) || rows[2]["n"] != int32(20) {
		t.Fatalf("Rows = %v", rows)
	}
}

func TestProtocolNegotiationFallsBackToV4(t *testing.T) {
	s := newServer(t)
	c := cluster(s)
	c.ProtoVersion = 0 // the driver tries its newest version first
	sess := connect(t, c)
	// The session works once the driver has stepped down to v4.
	exec(t, sess, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
}
