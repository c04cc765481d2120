package live_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
)

// Validate reports every invalid setting at once, each by its key.
func ExampleConfig_Validate() {
	cfg := live.Config{
		Kafka:         live.KafkaConfig{SASL: live.SASLConfig{Mechanism: "SCRAM-SHA-1", User: "reckon"}},
		Registry:      live.RegistryConfig{URL: "localhost:8081"},
		Compatibility: "SIDEWAYS",
	}
	err := cfg.Validate()
	fmt.Println(errors.Is(err, live.ErrConfig))
	fmt.Println(err)
	// Output:
	// true
	// live: invalid configuration:
	//   kafka.brokers: required (host:port, at least one)
	//   kafka.sasl.mechanism: "SCRAM-SHA-1" is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	//   registry.url: "localhost:8081" is not an http(s) URL
	//   compatibility: "SIDEWAYS" is not a compatibility level (BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FULL, …, NONE)
}

// New applies the defaults; Config returns the effective configuration,
// and String redacts secrets.
func ExampleNew() {
	g, err := payments.Graph(2)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := live.New(g, live.Config{
		Kafka:    live.KafkaConfig{Brokers: []string{"127.0.0.1:9092"}, SASL: live.SASLConfig{Mechanism: "PLAIN", User: "reckon", Password: "s3cret"}},
		Registry: live.RegistryConfig{URL: "http://127.0.0.1:8081"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := d.Config()
	fmt.Println(cfg.Kafka.Group, cfg.Topics.DeadLetters, cfg.Topics.Changelog)
	fmt.Println(cfg.CommitInterval, cfg.ShutdownGrace, cfg.Compatibility)
	fmt.Println(d.Ready())
	fmt.Println(len(cfg.String()) > 0, !strings.Contains(cfg.String(), "s3cret"))
	// Output:
	// reckon-payments reckon-payments-dead-letters reckon-payments-changelog
	// 1s 30s BACKWARD_TRANSITIVE
	// false
	// true true
}
