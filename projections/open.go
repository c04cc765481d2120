package projections

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultStoreURL is the embedded store reckon uses when none is named.
const DefaultStoreURL = "sqlite:./.reckon/projections.db"

// Open opens the store a URL names:
//
//	sqlite:PATH
//	cassandra://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]…]/KEYSPACE[?KEY=VALUE&…]
//
// See ParseCassandraURL for the keys of a cassandra URL. Options: those
// of OpenSQLite and OpenCassandra, WithCreate and WithPassword.
func Open(ctx context.Context, storeURL string, opts ...Opt) (Store, error) {
	switch {
	case strings.HasPrefix(storeURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(storeURL, "sqlite:"), "//")
		return OpenSQLite(ctx, path, opts...)
	case strings.HasPrefix(storeURL, "cassandra://"):
		o, err := buildOptions(opts)
		if err != nil {
			return nil, err
		}
		cfg, ps := parseCassandraURL(storeURL)
		if o.password != "" {
			cfg.Password = o.password
		}
		if err := validateAll(cfg, ps); err != nil {
			return nil, err
		}
		return OpenCassandra(ctx, cfg, opts...)
	}
	return nil, &ConfigError{Problems: []ConfigProblem{{
		Key: "store", Problem: fmt.Sprintf("%q is not a store URL", RedactURL(storeURL)),
		Fix: "use sqlite:PATH or cassandra://HOST[,HOST…]/KEYSPACE",
	}}}
}

// RedactURL returns storeURL with its password, if any, replaced by
// "xxxxx", for logs and messages.
func RedactURL(storeURL string) string {
	rest, ok := strings.CutPrefix(storeURL, "cassandra://")
	if !ok {
		return storeURL
	}
	at := strings.LastIndex(rest[:indexOr(rest, "/", len(rest))], "@")
	if at < 0 {
		return storeURL
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return storeURL
	}
	return "cassandra://" + user + ":xxxxx" + rest[at:]
}

func indexOr(s, sub string, dflt int) int {
	if i := strings.Index(s, sub); i >= 0 {
		return i
	}
	return dflt
}

// ParseCassandraURL reads a cassandra:// URL into a configuration and
// validates it, reporting every problem at once. Query keys, all optional:
//
//	consistency         LOCAL_QUORUM    reads and writes
//	serial_consistency  LOCAL_SERIAL    promote and rollback transactions
//	local_dc            (none)          the data center to prefer
//	replication         SimpleStrategy  or NetworkTopologyStrategy, for a new keyspace
//	replication_factor  1               SimpleStrategy's factor
//	dc.NAME             -               NetworkTopologyStrategy's factor for NAME
//	tls                 false           true: TLS with host verification
//	tls_ca, tls_cert, tls_key, tls_server_name
//	timeout, connect_timeout            10s
//	num_conns           2               connections per host
//	max_in_flight       32              concurrent statements
//	retries             5
//	retry_min, retry_max                100ms, 5s
//
// The password may be given in the URL, or (better: it stays out of
// shell histories and process lists) set on the returned configuration,
// as reckon's CLI does from RECKON_CASSANDRA_PASSWORD.
func ParseCassandraURL(s string) (CassandraConfig, error) {
	cfg, ps := parseCassandraURL(s)
	return cfg, validateAll(cfg, ps)
}

// validateAll returns the problems ps of parsing cfg and those of
// validating it, sorted by key, as one *ConfigError.
func validateAll(cfg CassandraConfig, ps []ConfigProblem) error {
	var ce *ConfigError
	if err := cfg.Validate(); errors.As(err, &ce) {
		ps = append(ps, ce.Problems...)
	}
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b ConfigProblem) int { return strings.Compare(a.Key, b.Key) })
	return &ConfigError{Problems: ps}
}

func parseCassandraURL(s string) (CassandraConfig, []ConfigProblem) {
	var cfg CassandraConfig
	var ps []ConfigProblem
	add := func(key, problem, fix string) { ps = append(ps, ConfigProblem{Key: key, Problem: problem, Fix: fix}) }
	rest, ok := strings.CutPrefix(s, "cassandra://")
	if !ok {
		return cfg, []ConfigProblem{{Key: "store", Problem: "not a cassandra:// URL", Fix: "use cassandra://HOST[,HOST…]/KEYSPACE"}}
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	hostPart, keyspace, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(hostPart, "@"); at >= 0 {
		user, pass, _ := strings.Cut(hostPart[:at], ":")
		var err error
		if cfg.Username, err = url.PathUnescape(user); err != nil {
			add("username", "bad escaping", "percent-encode special characters")
		}
		if cfg.Password, err = url.PathUnescape(pass); err != nil {
			add("password", "bad escaping", "percent-encode special characters")
		}
		hostPart = hostPart[at+1:]
	}
	if hostPart != "" {
		cfg.Hosts = strings.Split(hostPart, ",")
	}
	cfg.Keyspace = keyspace
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		add("query", err.Error(), "write KEY=VALUE pairs separated by &")
	}
	str := func(key string, dst *string) {
		if v, ok := q[key]; ok {
			*dst = v[len(v)-1]
		}
	}
	integer := func(key string, dst *int) {
		if v, ok := q[key]; ok {
			n, err := strconv.Atoi(v[len(v)-1])
			if err != nil {
				add(key, fmt.Sprintf("%q is not an integer", v[len(v)-1]), "use a whole number")
				return
			}
			*dst = n
		}
	}
	duration := func(key string, dst *time.Duration) {
		if v, ok := q[key]; ok {
			d, err := time.ParseDuration(v[len(v)-1])
			if err != nil {
				add(key, fmt.Sprintf("%q is not a duration", v[len(v)-1]), "use a Go duration such as 500ms or 10s")
				return
			}
			*dst = d
		}
	}
	known := map[string]bool{}
	for _, k := range []string{"consistency", "serial_consistency", "local_dc", "replication", "replication_factor", "tls",
		"tls_ca", "tls_cert", "tls_key", "tls_server_name", "timeout", "connect_timeout", "num_conns", "max_in_flight",
		"retries", "retry_min", "retry_max", "port"} {
		known[k] = true
	}
	str("consistency", &cfg.Consistency)
	cfg.Consistency = strings.ToUpper(cfg.Consistency)
	str("serial_consistency", &cfg.SerialConsistency)
	cfg.SerialConsistency = strings.ToUpper(cfg.SerialConsistency)
	str("local_dc", &cfg.LocalDC)
	str("replication", &cfg.Replication.Class)
	integer("replication_factor", &cfg.Replication.Factor)
	integer("port", &cfg.Port)
	if v, ok := q["tls"]; ok {
		b, err := strconv.ParseBool(v[len(v)-1])
		if err != nil {
			add("tls", fmt.Sprintf("%q is not a boolean", v[len(v)-1]), "use tls=true or tls=false")
		}
		cfg.TLS.Enabled = b
	}
	str("tls_ca", &cfg.TLS.CAFile)
	str("tls_cert", &cfg.TLS.CertFile)
	str("tls_key", &cfg.TLS.KeyFile)
	str("tls_server_name", &cfg.TLS.ServerName)
	duration("timeout", &cfg.Timeout)
	duration("connect_timeout", &cfg.ConnectTimeout)
	integer("num_conns", &cfg.NumConns)
	integer("max_in_flight", &cfg.MaxInFlight)
	integer("retries", &cfg.Retries)
	duration("retry_min", &cfg.RetryMin)
	duration("retry_max", &cfg.RetryMax)
	for key, v := range q {
		if dc, ok := strings.CutPrefix(key, "dc."); ok {
			n, err := strconv.Atoi(v[len(v)-1])
			if err != nil {
				add(key, fmt.Sprintf("%q is not an integer", v[len(v)-1]), "use a replication factor such as 3")
				continue
			}
			if cfg.Replication.DataCenters == nil {
				cfg.Replication.DataCenters = map[string]int{}
			}
			cfg.Replication.DataCenters[dc] = n
			continue
		}
		if !known[key] {
			add(key, "unknown setting", "see the keys documented for cassandra:// URLs in the README")
		}
	}
	return cfg, ps
}
