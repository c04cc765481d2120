package projections

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// CassandraConfig configures the Cassandra store. The zero value of a
// setting means its default. ParseStoreURL fills one from a
// cassandra:// URL; the keys named in errors are the URL's.
type CassandraConfig struct {
	// Hosts are the contact points, "host" or "host:port". Required.
	Hosts []string
	// Port is the native-protocol port of hosts given without one.
	// Default: 9042.
	Port int
	// Keyspace holds the projection tables and the catalog; it is created
	// with Replication when absent, and never dropped. Required.
	Keyspace string
	// LocalDC is the data center whose nodes coordinate requests; nodes of
	// other data centers are used only when none of it is up. Default:
	// none (every node is treated alike; set it on multi-DC clusters).
	LocalDC string
	// Consistency of reads and writes. Default: LOCAL_QUORUM.
	Consistency string
	// SerialConsistency of the lightweight transactions that move the live
	// pointer. Default: LOCAL_SERIAL.
	SerialConsistency string
	// Replication of the keyspace when reckon creates it. Default:
	// SimpleStrategy with replication factor 1 (a development setting:
	// production keyspaces use NetworkTopologyStrategy).
	Replication Replication
	// Username and Password authenticate with PasswordAuthenticator when
	// Username is set.
	Username string
	Password string
	// TLS, when enabled, encrypts connections and verifies the server's
	// certificate and host name.
	TLS TLSConfig
	// Timeout of one request. Default: 10s.
	Timeout time.Duration
	// ConnectTimeout of a connection's setup. Default: 10s.
	ConnectTimeout time.Duration
	// NumConns is the number of connections per host. Default: 2.
	NumConns int
	// MaxInFlight bounds the statements (single writes or batches) the
	// store has in flight at once, over all concurrent Apply calls;
	// further ones wait. Default: 32.
	MaxInFlight int
	// Retries is how many times a failed idempotent statement is retried
	// (timeouts, unavailable, overloaded, lost connections). Default: 5.
	Retries int
	// RetryMin and RetryMax bound the exponential backoff between retries
	// (with jitter). Defaults: 100ms and 5s.
	RetryMin time.Duration
	RetryMax time.Duration
}

// Replication is the replication of a keyspace reckon creates.
type Replication struct {
	// Class is SimpleStrategy or NetworkTopologyStrategy.
	Class string
	// Factor is the replication factor of SimpleStrategy.
	Factor int
	// DataCenters maps each data center to its replication factor
	// (NetworkTopologyStrategy).
	DataCenters map[string]int
}

// TLSConfig configures TLS connections to Cassandra. Host verification is
// always on.
type TLSConfig struct {
	Enabled bool
	// CAFile is a PEM file of the CAs that sign the servers' certificates
	// (default: the system roots).
	CAFile string
	// CertFile and KeyFile are the client certificate and key, for
	// clusters that require client authentication.
	CertFile string
	KeyFile  string
	// ServerName overrides the name verified in the server certificates
	// (default: the host dialed).
	ServerName string
}

// withDefaults returns c with every unset setting at its default.
func (c CassandraConfig) withDefaults() CassandraConfig {
	if c.Port == 0 {
		c.Port = 9042
	}
	if c.Consistency == "" {
		c.Consistency = "LOCAL_QUORUM"
	}
	if c.SerialConsistency == "" {
		c.SerialConsistency = "LOCAL_SERIAL"
	}
	if c.Replication.Class == "" && c.Replication.Factor == 0 && len(c.Replication.DataCenters) == 0 {
		c.Replication = Replication{Class: "SimpleStrategy", Factor: 1}
	}
	if c.Replication.Class == "" && len(c.Replication.DataCenters) > 0 {
		c.Replication.Class = "NetworkTopologyStrategy"
	}
	if c.Replication.Class == "" {
		c.Replication.Class = "SimpleStrategy"
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.NumConns == 0 {
		c.NumConns = 2
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 32
	}
	if c.Retries == 0 {
		c.Retries = 5
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 5 * time.Second
	}
	return c
}

// Validate reports every problem of the configuration (after defaults)
// at once, as a *ConfigError.
func (c CassandraConfig) Validate() error {
	c = c.withDefaults()
	var ps []ConfigProblem
	add := func(key, problem, fix string) { ps = append(ps, ConfigProblem{Key: key, Problem: problem, Fix: fix}) }
	if len(c.Hosts) == 0 {
		add("hosts", "no contact point", "name at least one host: cassandra://host1,host2/keyspace")
	}
	for _, h := range c.Hosts {
		if strings.TrimSpace(h) == "" {
			add("hosts", "an empty host name", "remove the extra comma")
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		add("port", fmt.Sprintf("%d is not a TCP port", c.Port), "use 1-65535 (Cassandra's default is 9042)")
	}
	if !validName(c.Keyspace) {
		add("keyspace", fmt.Sprintf("%q is not a valid keyspace name", c.Keyspace), "use [a-z][a-z0-9_]*, at most 48 characters: cassandra://host/keyspace")
	}
	if cl, err := gocql.ParseConsistencyWrapper(c.Consistency); err != nil || cl == gocql.Serial || cl == gocql.LocalSerial {
		add("consistency", fmt.Sprintf("%q is not a read/write consistency level", c.Consistency), "use ONE, LOCAL_ONE, QUORUM, LOCAL_QUORUM, EACH_QUORUM or ALL")
	}
	if cl, err := gocql.ParseConsistencyWrapper(c.SerialConsistency); err != nil || (cl != gocql.Serial && cl != gocql.LocalSerial) {
		add("serial_consistency", fmt.Sprintf("%q is not a serial consistency level", c.SerialConsistency), "use SERIAL or LOCAL_SERIAL")
	}
	switch c.Replication.Class {
	case "SimpleStrategy":
		if c.Replication.Factor < 1 {
			add("replication_factor", fmt.Sprintf("%d replicas", c.Replication.Factor), "use at least 1")
		}
		if len(c.Replication.DataCenters) > 0 {
			add("replication", "SimpleStrategy takes no per-data-center factors", "use replication=NetworkTopologyStrategy with dc.NAME=N, or drop the dc.* keys")
		}
	case "NetworkTopologyStrategy":
		if len(c.Replication.DataCenters) == 0 {
			add("replication", "NetworkTopologyStrategy needs a factor per data center", "add dc.NAME=N for each data center, e.g. dc.dc1=3")
		}
		for _, dc := range slices.Sorted(maps.Keys(c.Replication.DataCenters)) {
			if n := c.Replication.DataCenters[dc]; n < 1 {
				add("dc."+dc, fmt.Sprintf("%d replicas", n), "use at least 1")
			}
			if !validDCName(dc) {
				add("dc."+dc, "not a data center name", "use letters, digits, '-', '_' and '.'")
			}
		}
		if c.Replication.Factor != 0 {
			add("replication_factor", "NetworkTopologyStrategy takes factors per data center", "use dc.NAME=N instead")
		}
	default:
		add("replication", fmt.Sprintf("unknown class %q", c.Replication.Class), "use SimpleStrategy or NetworkTopologyStrategy")
	}
	if c.Password != "" && c.Username == "" {
		add("username", "a password without a user name", "set the user name too")
	}
	if !c.TLS.Enabled && (c.TLS.CAFile != "" || c.TLS.CertFile != "" || c.TLS.KeyFile != "" || c.TLS.ServerName != "") {
		add("tls", "TLS settings given but TLS is off", "add tls=true")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		add("tls_cert", "a client certificate needs both tls_cert and tls_key", "give both files, or neither")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"timeout", c.Timeout}, {"connect_timeout", c.ConnectTimeout}, {"retry_min", c.RetryMin}, {"retry_max", c.RetryMax}} {
		if d.v < 0 {
			add(d.key, fmt.Sprintf("negative duration %s", d.v), "use a positive duration such as 10s")
		}
	}
	if c.RetryMax < c.RetryMin {
		add("retry_max", fmt.Sprintf("%s is below retry_min %s", c.RetryMax, c.RetryMin), "raise retry_max or lower retry_min")
	}
	for _, n := range []struct {
		key string
		v   int
	}{{"num_conns", c.NumConns}, {"max_in_flight", c.MaxInFlight}, {"retries", c.Retries}} {
		if n.v < 0 {
			add(n.key, fmt.Sprintf("%d is negative", n.v), "use a positive number")
		}
	}
	if len(ps) > 0 {
		return &ConfigError{Problems: ps}
	}
	return nil
}

func validDCName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// replicationCQL renders the replication map of CREATE KEYSPACE.
func (r Replication) replicationCQL() string {
	if r.Class == "SimpleStrategy" {
		return fmt.Sprintf("{'class': 'SimpleStrategy', 'replication_factor': %d}", r.Factor)
	}
	parts := []string{"'class': 'NetworkTopologyStrategy'"}
	for _, dc := range slices.Sorted(maps.Keys(r.DataCenters)) {
		parts = append(parts, fmt.Sprintf("'%s': %s", dc, strconv.Itoa(r.DataCenters[dc])))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
