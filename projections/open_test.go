package projections

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCassandraURL(t *testing.T) {
	cfg, err := ParseCassandraURL("cassandra://app:s%40cret@10.0.0.1,10.0.0.2:9142/payments?consistency=local_one&local_dc=dc1" +
		"&replication=NetworkTopologyStrategy&dc.dc1=3&dc.dc2=2&tls=true&tls_ca=/etc/ca.pem&timeout=2s&max_in_flight=8&retries=2&retry_min=10ms&retry_max=1s")
	if err != nil {
		t.Fatal(err)
	}
	want := CassandraConfig{
		Hosts: []string{"10.0.0.1", "10.0.0.2:9142"}, Keyspace: "payments", LocalDC: "dc1", Consistency: "LOCAL_ONE",
		Replication: Replication{Class: "NetworkTopologyStrategy", DataCenters: map[string]int{"dc1": 3, "dc2": 2}},
		Username:    "app", Password: "s@cret", TLS: TLSConfig{Enabled: true, CAFile: "/etc/ca.pem"},
		Timeout: 2 * time.Second, MaxInFlight: 8, Retries: 2, RetryMin: 10 * time.Millisecond, RetryMax: time.Second,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	if got := cfg.withDefaults().Replication.replicationCQL(); got != "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}" {
		t.Errorf("replication: %s", got)
	}
	d := CassandraConfig{Hosts: []string{"h"}, Keyspace: "k"}.withDefaults()
	if d.Consistency != "LOCAL_QUORUM" || d.SerialConsistency != "LOCAL_SERIAL" || d.Port != 9042 || d.Replication.replicationCQL() != "{'class': 'SimpleStrategy', 'replication_factor': 1}" {
		t.Errorf("defaults: %+v", d)
	}
}

// Every problem of a configuration is reported at once, each naming its
// setting and the fix; the password never appears.
func TestParseCassandraURLProblems(t *testing.T) {
	_, err := ParseCassandraURL("cassandra://u:hunter2@/Bad-Keyspace?consistency=SERIAL&replication=NetworkTopologyStrategy&replication_factor=3&timeout=soon&bogus=1&tls_ca=/x")
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v, want a *ConfigError", err)
	}
	var keys []string
	for _, p := range ce.Problems {
		keys = append(keys, p.Key)
		if p.Fix == "" {
			t.Errorf("problem %+v has no fix", p)
		}
	}
	want := []string{"bogus", "consistency", "hosts", "keyspace", "replication", "replication_factor", "timeout", "tls"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("problems with %v, want %v\n%v", keys, want, err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"cassandra://u:p@h/ks":            "cassandra://u:xxxxx@h/ks",
		"cassandra://u@h/ks":              "cassandra://u@h/ks",
		"cassandra://h1,h2/ks?tls=true":   "cassandra://h1,h2/ks?tls=true",
		"cassandra://u:p@ss@h/ks?x=a@b":   "cassandra://u:xxxxx@h/ks?x=a@b",
		"sqlite:./.reckon/projections.db": "sqlite:./.reckon/projections.db",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "postgres://db/x"); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown scheme: %v", err)
	}
	path := filepath.Join(t.TempDir(), "sub", "p.db")
	if _, err := Open(ctx, "sqlite:"+path, WithCreate(false)); err == nil {
		t.Error("WithCreate(false) opened a store that does not exist")
	}
	s, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, "sqlite:"+path, WithCreate(false))
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	s.Close()
	srv := newCQLServer(t)
	s, err = Open(ctx, "cassandra://"+srv.Addr()+"/opened?retries=1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*Cassandra); !ok {
		t.Errorf("Open returned a %T", s)
	}
	if _, err := Open(ctx, "sqlite:"+path, WithClock(nil), WithMaxPending(-1)); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "WithClock") || !strings.Contains(err.Error(), "WithMaxPending") {
		t.Errorf("invalid options: %v", err)
	}
}
