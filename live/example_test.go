package live_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
)

// Validate reports every invalid setting at once, each by its key.
func ExampleConfig_Validate() {
	cfg := live.Config{
		Kafka:         live.KafkaConfig{SASL: live.SASLConfig{Mechanism: "SCRAM-SHA-1", User: "reckon"}},
		Registry:      live.RegistryConfig{URL: "localhost:8081"},
		Compatibility: "SIDEWAYS",
		Delivery:      "exactly-twice",
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
	//   delivery: "exactly-twice" is not a delivery mode: use at-least-once or exactly-once
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
	fmt.Println(cfg.CommitInterval, cfg.ShutdownGrace, cfg.Compatibility, cfg.Delivery)
	fmt.Println(d.Ready())
	fmt.Println(len(cfg.String()) > 0, !strings.Contains(cfg.String(), "s3cret"))
	// Output:
	// reckon-payments reckon-payments-dead-letters reckon-payments-changelog
	// 1s 30s BACKWARD_TRANSITIVE at-least-once
	// false
	// true true
}

// Run checks the topics before it consumes anything: inputs must exist.
func ExampleRun_missingTopics() {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	g, err := payments.Graph(2)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = live.Run(context.Background(), g, live.Config{
		Kafka:    live.KafkaConfig{Brokers: cluster.ListenAddrs()},
		Registry: live.RegistryConfig{URL: "http://127.0.0.1:8081"},
	}, live.WithLogger(slog.New(slog.DiscardHandler)))
	var te *live.TopicError
	fmt.Println(errors.As(err, &te), errors.Is(err, live.ErrMissingTopic))
	fmt.Println(err)
	// Output:
	// true true
	// live: topic does not exist: payments, ledger-entries (create them, or set topics.create for reckon's own topics)
}

// Handler serves the probes and the metrics; before Run, the driver is
// neither healthy nor ready.
func ExampleDriver_Handler() {
	g, err := payments.Graph(2)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := live.New(g, live.Config{
		Kafka:    live.KafkaConfig{Brokers: []string{"127.0.0.1:9092"}},
		Registry: live.RegistryConfig{URL: "http://127.0.0.1:8081"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Println(path, rec.Code, strings.Contains(rec.Body.String(), "reckon_live_tasks 0"))
	}
	// Output:
	// /healthz 503 false
	// /readyz 503 false
	// /metrics 200 true
}
