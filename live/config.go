package live

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/reckon-dev/reckon/schemas"
)

// Config is the live driver's configuration: plain data that reckon's CLI
// fills from a YAML file, RECKON_… environment variables and flags. The
// yaml tag of each field, joined with dots, is the key Validate names in
// its messages (kafka.brokers, registry.url, …). Zero values take the
// defaults documented on each field.
type Config struct {
	Kafka    KafkaConfig    `yaml:"kafka"`
	Registry RegistryConfig `yaml:"registry"`
	// Store is the projections store URL (see projections.Open):
	// sqlite:PATH or cassandra://HOST/KEYSPACE. Default
	// projections.DefaultStoreURL. Ignored when WithSink is given.
	Store string `yaml:"store"`
	// Cassandra holds the password of a cassandra:// Store, so that it
	// need not be in the URL.
	Cassandra CassandraConfig `yaml:"cassandra"`
	Topics    TopicsConfig    `yaml:"topics"`
	// FailFast stops Run at the first bad record with its typed error: a
	// *schemas.DecodeError (the record is not dead-lettered, and a restart
	// meets it again) or an *operators.RecordError (the graph has taken
	// the record in: it is dead-lettered, then the run stops). Late
	// records do not stop the run. Default false.
	FailFast bool `yaml:"fail_fast"`
	// Compatibility is the level at which the start-up gate checks each
	// input's reader schema against the writer schemas of its subject.
	// Default BACKWARD_TRANSITIVE (the reader reads every writer).
	Compatibility string `yaml:"compatibility"`
	// CommitInterval is how often a checkpoint makes outputs durable,
	// writes task snapshots to the changelog and commits offsets.
	// Default 1s.
	CommitInterval time.Duration `yaml:"commit_interval"`
	// IdleTimeout marks an input partition idle (operators.Task.MarkIdle)
	// when it delivered nothing for this long, so match timeouts can fire
	// without it. Default 30s; negative disables idleness.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ShutdownGrace bounds the final checkpoint and leaving the group once
	// Run's context ends. Default 30s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// MaxPollRecords caps the records one poll returns. Default 10000.
	MaxPollRecords int `yaml:"max_poll_records"`
	// Delivery is how published outputs reach their consumers:
	// DeliveryAtLeastOnce (an idempotent producer; after a crash a
	// record may be published again with the same HeaderID, and
	// consumers deduplicate by it) or DeliveryExactlyOnce (each
	// checkpoint is one Kafka transaction holding the published
	// records, the dead letters, the task snapshots and the consumed
	// offsets; consumers read with isolation level read_committed and
	// see every record once). Projection writes are idempotent in both.
	// Exactly-once needs Kafka 2.5 or later (KIP-447) and a
	// CommitInterval of at most MaxTxnCommitInterval; see
	// KafkaConfig.InstanceID for the transactional id. Default
	// at-least-once.
	Delivery string `yaml:"delivery"`
}

// CassandraConfig is the secret of a Cassandra projections store.
type CassandraConfig struct {
	// Password is a secret: never logged; String redacts it. It overrides
	// a password in the Store URL. Default none.
	Password string `yaml:"password"`
}

// Delivery modes (Config.Delivery).
const (
	DeliveryAtLeastOnce = "at-least-once"
	DeliveryExactlyOnce = "exactly-once"
)

// KafkaConfig says how to reach Kafka.
type KafkaConfig struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string `yaml:"brokers"`
	// ClientID names the client in broker logs and quotas. Default "reckon".
	ClientID string `yaml:"client_id"`
	// Group is the consumer group. Default "reckon-<graph name>".
	Group string `yaml:"group"`
	// InstanceID turns on static membership (KIP-345): a restarted member
	// with the same id gets its partitions back without a rebalance.
	// With Delivery exactly-once it also names the member's transactional
	// id, <group>-<instance id>, so that a restarted member fences its
	// predecessor and aborts the transaction it left open at once
	// (without it, the transactional id is <group>-<random>, and a
	// crashed member's open transaction lasts until the broker's
	// transaction timeout). Default none.
	InstanceID string     `yaml:"instance_id"`
	SASL       SASLConfig `yaml:"sasl"`
	TLS        TLSConfig  `yaml:"tls"`
}

// SASLConfig is Kafka authentication. An empty Mechanism disables SASL.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Default none.
	Mechanism string `yaml:"mechanism"`
	User      string `yaml:"user"`
	// Password is a secret: never logged; String redacts it.
	Password string `yaml:"password"`
}

// TLSConfig is TLS to the brokers.
type TLSConfig struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of CAs to trust instead of the system pool.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate (mutual TLS); both or
	// neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// InsecureSkipVerify disables server certificate verification (tests
	// only). Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// RegistryConfig says how to reach the schema registry.
type RegistryConfig struct {
	// URL of a Confluent-compatible schema registry. Required.
	URL  string `yaml:"url"`
	User string `yaml:"user"`
	// Password is a secret: never logged; String redacts it.
	Password string `yaml:"password"`
}

// TopicsConfig names reckon's internal topics.
type TopicsConfig struct {
	// DeadLetters receives records that cannot be decoded or that the
	// graph rejects. Default "<group>-dead-letters".
	DeadLetters string `yaml:"dead_letters"`
	// Changelog receives task snapshots (a compacted topic, one key per
	// task). Default "<group>-changelog".
	Changelog string `yaml:"changelog"`
	// Create creates the internal topics, and the graph's output topics,
	// when they are missing, with the input partition count; the
	// changelog and the output topics (keyed changelogs of state) are
	// compacted. Default false: a missing topic stops the start.
	Create bool `yaml:"create"`
	// ReplicationFactor of created topics. Default -1 (the broker's
	// default).
	ReplicationFactor int16 `yaml:"replication_factor"`
}

// Defaults.
const (
	DefaultClientID       = "reckon"
	DefaultCommitInterval = time.Second
	DefaultIdleTimeout    = 30 * time.Second
	DefaultShutdownGrace  = 30 * time.Second
	DefaultMaxPollRecords = 10000
	DefaultCompatibility  = "BACKWARD_TRANSITIVE"
	DefaultDelivery       = DeliveryAtLeastOnce
	// MaxTxnCommitInterval bounds CommitInterval with exactly-once
	// delivery: transactions time out after twice the commit interval
	// (at least 40s), within the broker's default limit of 15 minutes
	// (transaction.max.timeout.ms).
	MaxTxnCommitInterval = 5 * time.Minute
)

// ErrConfig is wrapped by every *ConfigError.
var ErrConfig = errors.New("live: invalid configuration")

// ConfigProblem is one invalid setting.
type ConfigProblem struct {
	Key     string // dotted yaml key, e.g. kafka.brokers
	Problem string
}

// ConfigError lists every invalid setting of a Config.
type ConfigError struct {
	Problems []ConfigProblem
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("live: invalid configuration:")
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", p.Key, p.Problem)
	}
	return b.String()
}

func (e *ConfigError) Unwrap() error { return ErrConfig }

// withDefaults returns c with every zero field set to its default; group
// defaults from the graph name.
func (c Config) withDefaults(graph string) Config {
	if c.Kafka.ClientID == "" {
		c.Kafka.ClientID = DefaultClientID
	}
	if c.Kafka.Group == "" {
		c.Kafka.Group = "reckon-" + graph
	}
	if c.Topics.DeadLetters == "" {
		c.Topics.DeadLetters = c.Kafka.Group + "-dead-letters"
	}
	if c.Topics.Changelog == "" {
		c.Topics.Changelog = c.Kafka.Group + "-changelog"
	}
	if c.Topics.ReplicationFactor == 0 {
		c.Topics.ReplicationFactor = -1
	}
	if c.Compatibility == "" {
		c.Compatibility = DefaultCompatibility
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = DefaultMaxPollRecords
	}
	if c.Delivery == "" {
		c.Delivery = DefaultDelivery
	}
	return c
}

// Validate reports every invalid setting at once, as a *ConfigError
// naming each key. Zero values are valid where a default exists.
func (c Config) Validate() error {
	var ps []ConfigProblem
	add := func(key, format string, args ...any) {
		ps = append(ps, ConfigProblem{Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	if len(c.Kafka.Brokers) == 0 {
		add("kafka.brokers", "required (host:port, at least one)")
	}
	for i, b := range c.Kafka.Brokers {
		if !strings.Contains(b, ":") {
			add(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port", b)
		}
	}
	switch c.Kafka.SASL.Mechanism {
	case "":
		if c.Kafka.SASL.User != "" || c.Kafka.SASL.Password != "" {
			add("kafka.sasl.mechanism", "required when a SASL user or password is set (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.Kafka.SASL.User == "" {
			add("kafka.sasl.user", "required with SASL %s", c.Kafka.SASL.Mechanism)
		}
		if c.Kafka.SASL.Password == "" {
			add("kafka.sasl.password", "required with SASL %s", c.Kafka.SASL.Mechanism)
		}
	default:
		add("kafka.sasl.mechanism", "%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.Kafka.SASL.Mechanism)
	}
	t := c.Kafka.TLS
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify) {
		add("kafka.tls.enabled", "must be true when other kafka.tls settings are given")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		add("kafka.tls.cert_file", "cert_file and key_file go together")
	}
	if c.Registry.URL == "" {
		add("registry.url", "required")
	} else if !strings.HasPrefix(c.Registry.URL, "http://") && !strings.HasPrefix(c.Registry.URL, "https://") {
		add("registry.url", "%q is not an http(s) URL", c.Registry.URL)
	}
	if (c.Registry.User == "") != (c.Registry.Password == "") {
		add("registry.user", "user and password go together")
	}
	if c.Compatibility != "" {
		if _, err := schemas.ParseLevel(c.Compatibility); err != nil {
			add("compatibility", "%q is not a compatibility level (BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FULL, …, NONE)", c.Compatibility)
		}
	}
	if c.Topics.DeadLetters != "" && c.Topics.DeadLetters == c.Topics.Changelog {
		add("topics.changelog", "must differ from topics.dead_letters")
	}
	if c.Topics.ReplicationFactor < -1 {
		add("topics.replication_factor", "must be -1 (broker default) or positive")
	}
	if c.CommitInterval < 0 {
		add("commit_interval", "must be positive")
	}
	if c.ShutdownGrace < 0 {
		add("shutdown_grace", "must be positive")
	}
	if c.MaxPollRecords < 0 {
		add("max_poll_records", "must be positive")
	}
	switch c.Delivery {
	case "", DeliveryAtLeastOnce:
	case DeliveryExactlyOnce:
		if c.CommitInterval > MaxTxnCommitInterval {
			add("commit_interval", "at most %s with delivery %s (a transaction stays open for a commit interval)", MaxTxnCommitInterval, DeliveryExactlyOnce)
		}
	default:
		add("delivery", "%q is not a delivery mode: use %s or %s", c.Delivery, DeliveryAtLeastOnce, DeliveryExactlyOnce)
	}
	if len(ps) > 0 {
		return &ConfigError{Problems: ps}
	}
	return nil
}

// String prints the configuration with secrets redacted.
func (c Config) String() string {
	if c.Kafka.SASL.Password != "" {
		c.Kafka.SASL.Password = "xxxxx"
	}
	if c.Registry.Password != "" {
		c.Registry.Password = "xxxxx"
	}
	if c.Cassandra.Password != "" {
		c.Cassandra.Password = "xxxxx"
	}
	type plain Config // no String method: no recursion
	return fmt.Sprintf("%+v", plain(c))
}
