// Package devstack is the one-machine stack behind `reckon dev`
// (DESIGN.md, contract 13): franz-go's in-process Kafka broker (kfake)
// speaking the real protocol on a local port and keeping its data in a
// directory, reckon's embedded schema registry, the topics and schemas of
// the reference payments graph (examples/payments), a paced producer of
// its traffic, and a monitor that summarizes what the live driver did. The
// live driver itself runs through the same code as `reckon run`; only the
// endpoints differ.
//
// # Persistence
//
// The broker's state (topics, records, committed offsets) is kept under
// Config.Dir/kafka through kfake's DataDir: written continuously and
// fully on Close, reloaded on Open. A process killed without Close may
// lose the records of its last moments (kfake syncs on segment roll and
// shutdown, like Kafka's default), never the directory's consistency.
// The registry appends and fsyncs every change to Config.Dir/registry.
//
// # Goroutines
//
// Open starts the broker's goroutines; Run serves the registry until its
// context ends and then closes the broker and the registry, so that every
// goroutine of the stack has ended when Run returns. Close does the same
// for a stack whose Run was never called. Traffic.Run and Monitor.Run
// block and own their goroutines.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/schemas"
)

// Defaults of Config.
const (
	DefaultDir          = ".reckon"
	DefaultKafkaAddr    = "127.0.0.1:9092"
	DefaultRegistryAddr = "127.0.0.1:8081"
	DefaultPartitions   = 4
)

// Config says where the stack listens and keeps its state. Zero fields
// take the defaults named on each.
type Config struct {
	// Dir is the state root (default DefaultDir): the broker's data in
	// Dir/kafka, the registry's in Dir/registry.
	Dir string
	// KafkaAddr is the broker's listen address (default DefaultKafkaAddr;
	// port 0 picks a free port).
	KafkaAddr string
	// RegistryAddr is the registry's listen address (default
	// DefaultRegistryAddr; port 0 picks a free port).
	RegistryAddr string
	// Partitions of the reference topics when they are created (default
	// DefaultPartitions).
	Partitions int32
	// Logger receives the stack's logs (default: none).
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.KafkaAddr == "" {
		c.KafkaAddr = DefaultKafkaAddr
	}
	if c.RegistryAddr == "" {
		c.RegistryAddr = DefaultRegistryAddr
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Stack is an open dev stack.
type Stack struct {
	cfg       Config
	cluster   *kfake.Cluster
	reg       *schemas.Registry
	regLn     net.Listener
	closeOnce sync.Once
	closeErr  error
}

// Open starts the broker on cfg.KafkaAddr (reloading its data from
// cfg.Dir/kafka) and opens the registry in cfg.Dir/registry, listening on
// cfg.RegistryAddr; Run serves it.
func Open(ctx context.Context, cfg Config) (*Stack, error) {
	cfg.defaults()
	for _, d := range []string{"kafka", "registry"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
	}
	s := &Stack{cfg: cfg}
	var err error
	s.cluster, err = kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.DataDir(filepath.Join(cfg.Dir, "kafka")),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, cfg.KafkaAddr) }),
	)
	if err != nil {
		return nil, fmt.Errorf("devstack: broker on %s: %w", cfg.KafkaAddr, err)
	}
	s.reg, err = schemas.OpenRegistry(ctx, filepath.Join(cfg.Dir, "registry"), schemas.WithLogger(cfg.Logger))
	if err != nil {
		s.cluster.Close()
		return nil, fmt.Errorf("devstack: %w", err)
	}
	s.regLn, err = net.Listen("tcp", cfg.RegistryAddr)
	if err != nil {
		s.cluster.Close()
		s.reg.Close()
		return nil, fmt.Errorf("devstack: registry on %s: %w", cfg.RegistryAddr, err)
	}
	return s, nil
}

// Brokers returns the broker's address, for Kafka clients (and kcat -b).
func (s *Stack) Brokers() []string { return s.cluster.ListenAddrs() }

// RegistryURL returns the registry's URL.
func (s *Stack) RegistryURL() string { return "http://" + s.regLn.Addr().String() }

// Run serves the registry until ctx ends, then closes the stack.
func (s *Stack) Run(ctx context.Context) error {
	err := s.reg.Run(ctx, s.regLn)
	return errors.Join(err, s.Close())
}

// Close closes the broker, which persists its state, and the registry. It
// may be called more than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		s.regLn.Close() // already closed when Run served it
		s.cluster.Close()
		s.closeErr = s.reg.Close()
	})
	return s.closeErr
}

// Topic is a topic of the reference graph.
type Topic struct {
	Name       string
	Partitions int32
	Compacted  bool
}

// Topics returns the reference graph's topics: its two inputs and the
// mismatch topic (compacted), each with partitions partitions.
func Topics(partitions int32) []Topic {
	return []Topic{
		{Name: payments.TopicPayments, Partitions: partitions},
		{Name: payments.TopicLedger, Partitions: partitions},
		{Name: payments.TopicMismatches, Partitions: partitions, Compacted: true},
	}
}

// WriterIDs are the registry ids of the reference writer schemas, by topic
// and writer version (index 0 for v1, 1 for v2).
type WriterIDs map[string][2]int

// Setup creates the reference topics that are missing and registers the
// reference schemas (v1, then v2, of each input; the mismatch schema),
// returning the writers' ids. It is idempotent.
func (s *Stack) Setup(ctx context.Context) (WriterIDs, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers()...))
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, t := range Topics(s.cfg.Partitions) {
		var configs map[string]*string
		if t.Compacted {
			compact := "compact"
			configs = map[string]*string{"cleanup.policy": &compact}
		}
		resp, err := adm.CreateTopic(ctx, t.Partitions, -1, configs, t.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("devstack: create topic %s: %w", t.Name, err)
		}
	}
	c, err := schemas.NewClient(s.RegistryURL())
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	ids := WriterIDs{}
	for _, sub := range []struct {
		topic   string
		writers [2]string
	}{
		{payments.TopicPayments, [2]string{payments.PaymentV1, payments.PaymentV2}},
		{payments.TopicLedger, [2]string{payments.LedgerV1, payments.LedgerV2}},
		{payments.TopicMismatches, [2]string{payments.Mismatch, payments.Mismatch}},
	} {
		var pair [2]int
		for i, text := range sub.writers {
			sch, err := schemas.Parse(text)
			if err != nil {
				return nil, fmt.Errorf("devstack: %w", err)
			}
			if pair[i], err = c.Register(ctx, sub.topic+"-value", sch); err != nil {
				return nil, fmt.Errorf("devstack: register %s-value: %w", sub.topic, err)
			}
		}
		ids[sub.topic] = pair
	}
	return ids, nil
}
