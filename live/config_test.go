package live_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
)

func TestConfigValidate(t *testing.T) {
	valid := live.Config{
		Kafka:    live.KafkaConfig{Brokers: []string{"127.0.0.1:9092"}},
		Registry: live.RegistryConfig{URL: "http://127.0.0.1:8081"},
	}
	if err := valid.Validate(); err != nil {
		t.Fatalf("a minimal configuration: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*live.Config)
		keys []string
	}{
		{"no brokers", func(c *live.Config) { c.Kafka.Brokers = nil }, []string{"kafka.brokers"}},
		{"broker without port", func(c *live.Config) { c.Kafka.Brokers = []string{"kafka"} }, []string{"kafka.brokers[0]"}},
		{"SASL user without mechanism", func(c *live.Config) { c.Kafka.SASL.User = "u" }, []string{"kafka.sasl.mechanism"}},
		{"SCRAM without credentials", func(c *live.Config) { c.Kafka.SASL.Mechanism = "SCRAM-SHA-512" },
			[]string{"kafka.sasl.user", "kafka.sasl.password"}},
		{"TLS settings without TLS", func(c *live.Config) { c.Kafka.TLS.CAFile = "ca.pem" }, []string{"kafka.tls.enabled"}},
		{"certificate without key", func(c *live.Config) { c.Kafka.TLS = live.TLSConfig{Enabled: true, CertFile: "c.pem"} },
			[]string{"kafka.tls.cert_file"}},
		{"registry user without password", func(c *live.Config) { c.Registry.User = "u" }, []string{"registry.user"}},
		{"no registry", func(c *live.Config) { c.Registry.URL = "" }, []string{"registry.url"}},
		{"same internal topics", func(c *live.Config) { c.Topics.DeadLetters, c.Topics.Changelog = "x", "x" },
			[]string{"topics.changelog"}},
		{"negative durations", func(c *live.Config) { c.CommitInterval, c.ShutdownGrace = -time.Second, -time.Second },
			[]string{"commit_interval", "shutdown_grace"}},
		{"bad level", func(c *live.Config) { c.Compatibility = "SOMETIMES" }, []string{"compatibility"}},
		{"bad delivery", func(c *live.Config) { c.Delivery = "exactly-twice" }, []string{"delivery"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.edit(&c)
			err := c.Validate()
			var ce *live.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, live.ErrConfig) {
				t.Fatalf("Validate returned %v, want a *ConfigError", err)
			}
			var keys []string
			for _, p := range ce.Problems {
				keys = append(keys, p.Key)
			}
			if !slices.Equal(keys, tc.keys) {
				t.Errorf("problems with keys %v, want %v", keys, tc.keys)
			}
		})
	}
}

// TestConfigDelivery: at-least-once is the default; both modes are
// valid; anything else is an error naming the key and both modes.
func TestConfigDelivery(t *testing.T) {
	c := live.Config{
		Kafka:    live.KafkaConfig{Brokers: []string{"127.0.0.1:9092"}},
		Registry: live.RegistryConfig{URL: "http://127.0.0.1:8081"},
	}
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := live.New(g, c)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Config().Delivery; got != live.DeliveryAtLeastOnce {
		t.Errorf("default delivery %q, want %q", got, live.DeliveryAtLeastOnce)
	}
	for _, mode := range []string{live.DeliveryAtLeastOnce, live.DeliveryExactlyOnce} {
		c.Delivery = mode
		if err := c.Validate(); err != nil {
			t.Errorf("delivery %q: %v", mode, err)
		}
	}
	c.CommitInterval = live.MaxTxnCommitInterval + time.Second
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "commit_interval: at most 5m0s with delivery exactly-once") {
		t.Errorf("a commit interval over %s with exactly-once: got %v", live.MaxTxnCommitInterval, err)
	}
	c.Delivery = live.DeliveryAtLeastOnce
	if err := c.Validate(); err != nil {
		t.Errorf("a long commit interval with at-least-once: %v", err)
	}
	c.CommitInterval = 0
	c.Delivery = "transactional"
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), `delivery: "transactional" is not a delivery mode: use at-least-once or exactly-once`) {
		t.Errorf("delivery %q: got %v", c.Delivery, err)
	}
}

func TestConfigStringRedactsSecrets(t *testing.T) {
	c := live.Config{
		Kafka:    live.KafkaConfig{SASL: live.SASLConfig{Mechanism: "PLAIN", User: "reckon", Password: "kafka-secret"}},
		Registry: live.RegistryConfig{URL: "http://r", User: "reckon", Password: "registry-secret"},
	}
	s := c.String()
	if strings.Contains(s, "secret") || !strings.Contains(s, "reckon") {
		t.Errorf("String() = %s: secrets shown or user missing", s)
	}
}
