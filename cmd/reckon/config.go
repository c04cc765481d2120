package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
	"github.com/reckon-dev/reckon/operators"
	"github.com/reckon-dev/reckon/projections"
)

// config is the configuration of `reckon run` and `reckon dev`: the live
// driver's settings (live.Config, at the top level of the YAML file) and
// the command's own.
type config struct {
	live.Config `yaml:",inline"`
	Graph       graphConfig `yaml:"graph"`
	HTTP        httpConfig  `yaml:"http"`
	Log         logConfig   `yaml:"log"`
}

type graphConfig struct {
	Name    string `yaml:"name"`
	Version int    `yaml:"version"`
}

type httpConfig struct {
	Addr string `yaml:"addr"`
}

type logConfig struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

// settings documents every key of config: its flag, default and meaning.
// Defaults in parentheses are derived by the live driver and are not set
// by the CLI. The README's settings table is generated from this list
// (TestREADMESettings), and a test checks that the list names every field
// of config and that the driver's own defaults agree with it.
func settings() []setting {
	return []setting{
		{key: "kafka.brokers", flag: "brokers", def: "127.0.0.1:9092", doc: "seed brokers, host:port, comma-separated"},
		{key: "kafka.client_id", flag: "client-id", def: live.DefaultClientID, doc: "client id in broker logs and quotas"},
		{key: "kafka.group", flag: "group", def: "(reckon-<graph.name>)", doc: "consumer group"},
		{key: "kafka.instance_id", flag: "instance-id", def: "(none)", doc: "static membership: a restarted member with the same id keeps its partitions; with delivery exactly-once, also the transactional id <kafka.group>-<instance_id>"},
		{key: "kafka.sasl.mechanism", flag: "sasl-mechanism", def: "(none)", doc: "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{key: "kafka.sasl.user", flag: "sasl-user", def: "(none)", doc: "SASL user"},
		{key: "kafka.sasl.password", def: "(none)", doc: "SASL password (secret: environment or file only)"},
		{key: "kafka.sasl.password_file", flag: "sasl-password-file", def: "(none)", doc: "file holding the SASL password"},
		{key: "kafka.tls.enabled", flag: "tls", def: "false", doc: "TLS to the brokers"},
		{key: "kafka.tls.ca_file", flag: "tls-ca", def: "(system roots)", doc: "PEM file of the CAs to trust"},
		{key: "kafka.tls.cert_file", flag: "tls-cert", def: "(none)", doc: "client certificate (PEM) for mutual TLS, with key_file"},
		{key: "kafka.tls.key_file", flag: "tls-key", def: "(none)", doc: "client key (PEM) for mutual TLS, with cert_file"},
		{key: "kafka.tls.insecure_skip_verify", def: "false", doc: "skip server certificate verification (tests only)"},
		{key: "registry.url", flag: "registry", def: defaultRegistryURL, doc: "schema registry URL"},
		{key: "registry.user", flag: "registry-user", def: "(none)", doc: "registry basic-auth user"},
		{key: "registry.password", def: "(none)", doc: "registry basic-auth password (secret: environment or file only)"},
		{key: "registry.password_file", flag: "registry-password-file", def: "(none)", doc: "file holding the registry password"},
		{key: "store", flag: "store", def: projections.DefaultStoreURL, doc: "projection store: sqlite:PATH or cassandra://HOST[,HOST…]/KEYSPACE"},
		{key: "cassandra.password", def: "(the store URL's)", doc: "password of a cassandra:// store (secret: environment or file only)"},
		{key: "cassandra.password_file", flag: "cassandra-password-file", def: "(none)", doc: "file holding the Cassandra password"},
		{key: "topics.dead_letters", flag: "dead-letter-topic", def: "(<kafka.group>-dead-letters)", doc: "dead-letter topic"},
		{key: "topics.changelog", flag: "changelog-topic", def: "(<kafka.group>-changelog)", doc: "state changelog topic (compacted)"},
		{key: "topics.create", flag: "create-topics", def: "false", doc: "create missing internal and output topics"},
		{key: "topics.replication_factor", def: "-1", doc: "replication factor of created topics (-1: the broker's default)"},
		{key: "fail_fast", flag: "fail-fast", def: "false", doc: "stop on a bad record instead of dead-lettering it"},
		{key: "compatibility", flag: "compatibility", def: live.DefaultCompatibility, doc: "level of the start-up schema gate"},
		{key: "commit_interval", flag: "commit-interval", def: live.DefaultCommitInterval.String(), doc: "how often outputs are made durable and offsets committed"},
		{key: "idle_timeout", flag: "idle-timeout", def: live.DefaultIdleTimeout.String(), doc: "an input partition silent this long is idle (negative: never)"},
		{key: "shutdown_grace", flag: "shutdown-grace", def: live.DefaultShutdownGrace.String(), doc: "time allowed for the final checkpoint on SIGTERM"},
		{key: "max_poll_records", flag: "max-poll-records", def: fmt.Sprint(live.DefaultMaxPollRecords), doc: "records per poll at most"},
		{key: "delivery", flag: "delivery", def: live.DefaultDelivery, doc: "at-least-once (consumers deduplicate by reckon.id) or exactly-once (outputs, changelog and offsets in one Kafka transaction per checkpoint; consumers read committed)"},
		{key: "graph.name", flag: "graph", def: payments.GraphName, doc: "the graph to run; payments (examples/payments) is the only built-in graph"},
		{key: "graph.version", flag: "graph-version", def: "2", doc: "the graph version; projection tables are named NAME_vVERSION"},
		{key: "http.addr", flag: "http-addr", def: "127.0.0.1:9464", doc: "address of /metrics, /healthz and /readyz (empty: no HTTP server)"},
		{key: "log.format", flag: "log-format", def: "text", doc: "log format on stderr: text or json"},
		{key: "log.level", flag: "log-level", def: "info", doc: "log level: debug, info, warn or error"},
	}
}

// configFlags are the flags of the commands that read a config.
type configFlags struct {
	file string
	fs   *pflag.FlagSet
}

func (f *configFlags) add(cmd *cobra.Command) {
	f.fs = cmd.Flags()
	f.fs.StringVar(&f.file, "config", "", "YAML file of settings (default $RECKON_CONFIG; see the README's settings table)")
	addFlags(f.fs, &config{}, settings())
}

// load reads the effective configuration: defaults, then the file, then
// RECKON_… variables, then flags. Every problem is reported at once as a
// usage error (exit 2).
func (f *configFlags) load() (*config, error) {
	file := f.file
	if file == "" {
		file = os.Getenv("RECKON_CONFIG")
	}
	cfg := &config{}
	l := &loader{settings: settings(), lookup: os.LookupEnv}
	if err := l.load(cfg, file, f.fs); err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	var ps []problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, problem{key: key, msg: fmt.Sprintf(format, args...)})
	}
	if cfg.Graph.Name != payments.GraphName {
		bad("graph.name", "%q is not a built-in graph: use %s", cfg.Graph.Name, payments.GraphName)
	}
	if cfg.Graph.Version < 1 {
		bad("graph.version", "%d is not a version: use a positive number", cfg.Graph.Version)
	}
	if cfg.Log.Format != "text" && cfg.Log.Format != "json" {
		bad("log.format", "%q: use text or json", cfg.Log.Format)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		bad("log.level", "%q: use debug, info, warn or error", cfg.Log.Level)
	}
	if err := cfg.Config.Validate(); err != nil {
		var ce *live.ConfigError
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				bad(p.Key, "%s", p.Problem)
			}
		} else {
			bad("config", "%v", err)
		}
	}
	if len(ps) > 0 {
		return nil, &exitError{code: 2, err: &configError{problems: ps}}
	}
	return cfg, nil
}

// graph builds the configured graph.
func (c *config) graph() (*operators.Graph, error) {
	return payments.Graph(c.Graph.Version)
}

// logger returns the configured logger writing to w.
func (c *config) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.Log.Level)) // validated by load
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// effective returns the configuration with the driver's defaults applied.
func (c *config) effective() (*config, error) {
	g, err := c.graph()
	if err != nil {
		return nil, err
	}
	d, err := live.New(g, c.Config)
	if err != nil {
		return nil, err
	}
	e := *c
	e.Config = d.Config()
	return &e, nil
}

// newConfigCmd is "reckon config".
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration of reckon run",
	}
	cmd.AddCommand(newConfigShowCmd())
	return cmd
}

func newConfigShowCmd() *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "show [--config FILE] [flags]",
		Short: "Print the effective configuration as YAML, secrets redacted",
		Long: `Print the configuration reckon run would use, as YAML: the defaults,
overridden by the --config file, then by RECKON_… environment variables,
then by flags, with the driver's derived defaults filled in. Secrets
(passwords) are printed as ***, and the password in a store URL as xxxxx.
Invalid settings are reported all at once, each with its key and fix
(exit 2).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			eff, err := cfg.effective()
			if err != nil {
				return err
			}
			out := redacted(eff)
			out.Store = projections.RedactURL(out.Store)
			enc := yaml.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent(2)
			if err := enc.Encode(out); err != nil {
				return err
			}
			return enc.Close()
		},
	}
	cf.add(cmd)
	return cmd
}
