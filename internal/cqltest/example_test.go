package cqltest_test

import (
	"errors"
	"fmt"
	"log"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/reckon-dev/reckon/internal/cqltest"
)

// session connects the driver to s as reckon does.
func session(s *cqltest.Server) *gocql.Session {
	c := gocql.NewCluster(s.Host())
	c.Port = s.Port()
	c.ProtoVersion = 4
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy("datacenter1"), gocql.ShuffleReplicas())
	c.Logger = gocql.NewLogger(gocql.LogLevelNone)
	sess, err := c.CreateSession()
	if err != nil {
		log.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
		"CREATE TABLE ks.status (id text PRIMARY KEY, state text)",
	} {
		if err := sess.Query(stmt).Exec(); err != nil {
			log.Fatal(err)
		}
	}
	return sess
}

func Example() {
	s, err := cqltest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	sess := session(s)
	defer sess.Close()

	ins := "INSERT INTO ks.status (id, state) VALUES (?, ?) USING TIMESTAMP ?"
	for _, w := range []struct {
		state string
		ts    int64
	}{{"captured", 20}, {"pending", 10}} { // the older write loses
		if err := sess.Query(ins, "p1", w.state, w.ts).Exec(); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(s.Rows("ks", "status"))
	// Output: [map[id:p1 state:captured]]
}

func ExampleServer_Inject() {
	s, err := cqltest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	sess := session(s)
	defer sess.Close()

	remove := s.Inject(cqltest.Fault{Kind: cqltest.WriteTimeout, Match: "ks.status", Times: 1})
	defer remove()
	err = sess.Query("INSERT INTO ks.status (id, state) VALUES (?, ?)", "p1", "captured").Exec()
	var wt *gocql.RequestErrWriteTimeout
	if errors.As(err, &wt) {
		fmt.Println("write timeout:", wt.WriteType)
	}
	fmt.Println(len(s.Rows("ks", "status")), "rows;", s.Stats().Faults)
	// Output:
	// write timeout: SIMPLE
	// 0 rows; map[WriteTimeout:1]
}

func ExampleNew_invalidOption() {
	_, err := cqltest.New(cqltest.WithAddr(""))
	fmt.Println(errors.Is(err, cqltest.ErrInvalidOption), err)
	// Output: true cqltest: invalid option: WithAddr needs an address
}
