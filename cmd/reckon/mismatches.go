package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live/devstack"
	"github.com/reckon-dev/reckon/live/mismatches"
	"github.com/reckon-dev/reckon/schemas"
)

// newMismatchesCmd is "reckon mismatches": the reconciliation results.
func newMismatchesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mismatches",
		Short: "Read the reconciliation-mismatch topic",
	}
	cmd.AddCommand(newMismatchesTailCmd())
	return cmd
}

func newMismatchesTailCmd() *cobra.Command {
	var reg registryFlags
	var brokers, topic, from, format string
	var reasons []string
	var follow, openOnly bool
	cmd := &cobra.Command{
		Use:   "tail [--brokers ADDR] [--registry URL] [--topic T] [--from beginning|end|TIME] [--follow] [--format text|json] [--reason R] [--open-only]",
		Short: "Print the reconciliation states of the mismatch topic, one per line",
		Long: `Read the mismatch topic (a compacted changelog of reconciliation state,
keyed by the reconciled key), decode each value through the schema registry
(Confluent-framed Avro, read as the payments graph's Mismatch schema) and
print one mismatch per line: a readable line (key, status, reasons with the
field and both values, provenance) or, with --format json, one JSON object
per line with the record's coordinates and the decoded value.

It reads every partition from --from (the beginning, the end, or the first
record at or after an RFC 3339 time) and exits at the end offsets it found
when it started, or with --follow keeps reading until interrupted (exit 0).
It reads committed records only (isolation level read_committed: nothing
of an open or aborted transaction, as reckon run publishes with delivery
exactly-once), joins no consumer group and commits nothing. --reason (repeatable) keeps
mismatches with a reason of that kind (MISSING_LEFT, MISSING_RIGHT,
FIELD_MISMATCH, TOLERANCE_EXCEEDED, PRESENCE, CUSTOM, LATE); --open-only
keeps open ones. A record that does not decode is reported on stderr with
its coordinates, and the tail goes on. The defaults point at "reckon dev".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: use text or json", format)}
			}
			start, err := mismatches.ParseFrom(from)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--from: %w", err)}
			}
			reader, err := schemas.Parse(payments.Mismatch)
			if err != nil {
				return err
			}
			c, _, cancel, err := reg.client(cmd.Context())
			if err != nil {
				return err
			}
			cancel() // --timeout bounds each registry call, not the tail
			dec, err := schemas.NewDecoder(boundedSource{c, reg.timeout}, reader)
			if err != nil {
				return err
			}
			if brokers == "" {
				brokers = os.Getenv("RECKON_KAFKA_BROKERS")
			}
			if brokers == "" {
				brokers = devstack.DefaultKafkaAddr
			}
			cfg := mismatches.Config{
				Brokers: strings.Split(brokers, ","), Topic: topic, From: start, Follow: follow,
				Reasons: reasons, OpenOnly: openOnly, Decoder: dec,
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			var line []byte
			err = mismatches.Tail(cmd.Context(), cfg, func(m *mismatches.Mismatch) error {
				if m.Err != nil {
					out.Flush()
					fmt.Fprintf(cmd.ErrOrStderr(), "reckon: skipped: %v\n", m.Err)
					return nil
				}
				if format == "json" {
					line, err = appendMismatchJSON(line[:0], reader, m)
				} else {
					line = appendMismatchText(line[:0], m)
				}
				if err != nil {
					return err
				}
				out.Write(append(line, '\n'))
				if follow {
					return out.Flush()
				}
				return nil
			})
			return err
		},
	}
	reg.add(cmd.Flags())
	cmd.Flags().StringVar(&brokers, "brokers", "", "seed brokers, host:port, comma-separated (default $RECKON_KAFKA_BROKERS, else "+devstack.DefaultKafkaAddr+")")
	cmd.Flags().StringVar(&topic, "topic", mismatches.DefaultTopic, "the mismatch topic")
	cmd.Flags().StringVar(&from, "from", "beginning", "where to start: beginning, end, or an RFC 3339 time")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep reading past the end until interrupted")
	cmd.Flags().StringVar(&format, "format", "text", "output: text (a readable line) or json (JSON lines)")
	cmd.Flags().StringArrayVar(&reasons, "reason", nil, "keep mismatches with a reason of this kind (repeatable)")
	cmd.Flags().BoolVar(&openOnly, "open-only", false, "keep open mismatches only")
	return cmd
}

// appendMismatchJSON appends m as one JSON object: its coordinates and
// its value as plain JSON (null for a tombstone).
func appendMismatchJSON(dst []byte, reader *schemas.Schema, m *mismatches.Mismatch) ([]byte, error) {
	dst = append(dst, `{"topic":`...)
	dst, _ = appendJSONValue(dst, m.Topic)
	dst = fmt.Appendf(dst, `,"partition":%d,"offset":%d,"timestamp":`, m.Partition, m.Offset)
	dst, _ = appendJSONValue(dst, m.Timestamp.UTC().Format(time.RFC3339Nano))
	dst = append(dst, `,"key":`...)
	dst, _ = appendJSONValue(dst, string(m.Key))
	dst = fmt.Appendf(dst, `,"schema_id":%d,"value":`, m.SchemaID)
	if m.Value == nil {
		dst = append(dst, "null"...)
	} else {
		var err error
		if dst, err = reader.AppendJSON(dst, m.Value); err != nil {
			return dst, fmt.Errorf("%s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
	}
	return append(dst, '}'), nil
}

func appendJSONValue(dst []byte, v string) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(dst, b...), err
}

// appendMismatchText appends m as a readable line:
//
//	pay-1 OPEN FIELD_MISMATCH amount_minor 1200≠1250; LATE  left payments/1@7 right ledger-entries/1@9  (p1@3 payments v2)
func appendMismatchText(dst []byte, m *mismatches.Mismatch) []byte {
	dst = append(dst, m.Key...)
	if m.Value == nil {
		return fmt.Appendf(dst, " DELETED  (p%d@%d)", m.Partition, m.Offset)
	}
	dst = append(dst, ' ')
	dst = append(dst, m.Status()...)
	for i, r := range m.Reasons() {
		if i == 0 {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, "; "...)
		}
		dst = append(dst, r.Kind...)
		if r.Field != "" {
			dst = fmt.Appendf(dst, " %s %s≠%s", r.Field, orNull(r.Left), orNull(r.Right))
		}
		if r.Detail != "" {
			dst = fmt.Appendf(dst, " (%s)", r.Detail)
		}
	}
	for _, side := range []string{"left", "right"} {
		dst = append(dst, "  "...)
		dst = append(dst, side...)
		srcs := m.Sources(side)
		if len(srcs) == 0 {
			dst = append(dst, " -"...)
		}
		for _, s := range srcs {
			dst = fmt.Appendf(dst, " %s/%d@%d", s.Topic, s.Partition, s.Offset)
		}
	}
	graph, _ := m.Value["graph"].(string)
	version, _ := m.Value["graph_version"].(int32)
	return fmt.Appendf(dst, "  (p%d@%d %s v%d)", m.Partition, m.Offset, graph, version)
}

func orNull(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// boundedSource bounds each registry call of a long tail by --timeout.
type boundedSource struct {
	c       *schemas.Client
	timeout time.Duration
}

func (b boundedSource) SchemaByID(ctx context.Context, id int) (*schemas.Schema, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.c.SchemaByID(ctx, id)
}
