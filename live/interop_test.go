package live_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/internal/testenv"
	"github.com/reckon-dev/reckon/live"
)

// TestKcatProducer: records produced by kcat (librdkafka), each value a
// file holding the Confluent-framed Avro body, are consumed like any
// other: the final state equals the reference run; and kcat reads back
// from the mismatch topic the records reckon published.
func TestKcatProducer(t *testing.T) {
	kcat := testenv.Tool(t, "kcat")
	e := newEnv(t, 4)
	ds := payments.Generate(payments.GeneratorConfig{Payments: 150, Partitions: 4, Interval: 30 * time.Minute})
	g, ex := referenceRun(t, ds)
	dir := t.TempDir()
	for _, topic := range []string{payments.TopicPayments, payments.TopicLedger} {
		for p, evs := range ds.Events[topic] {
			if len(evs) == 0 {
				continue
			}
			files := make([]string, len(evs))
			for i, ev := range evs {
				files[i] = filepath.Join(dir, fmt.Sprintf("%s-%d-%05d.bin", topic, p, i))
				if err := os.WriteFile(files[i], e.encode(ev), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// With file arguments, kcat sends each file as one message, in order.
			args := append([]string{"-P", "-b", strings.Join(e.brokers, ","), "-t", topic, "-p", fmt.Sprint(p)}, files...)
			if out, err := exec.Command(kcat, args...).CombinedOutput(); err != nil {
				t.Fatalf("kcat: %v\n%s", err, out)
			}
		}
	}
	e.runToEnd(g, e.config("kcat"))
	e.checkTables(g, ex)
	e.checkMismatches(ex)

	// What kcat reads from the mismatch topic agrees with what reckon
	// published: the same keys with the same ids and versions.
	out, err := exec.Command(kcat, "-C", "-e", "-q", "-b", strings.Join(e.brokers, ","), "-t", payments.TopicMismatches,
		"-f", "%k %h\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	fromKcat := strings.Split(strings.TrimSpace(string(out)), "\n")
	var fromGo []string
	for _, r := range e.topicRecords(payments.TopicMismatches) {
		fromGo = append(fromGo, fmt.Sprintf("%s %s=%s,%s=%s", r.Key, live.HeaderID, header(r, live.HeaderID), live.HeaderVersion, header(r, live.HeaderVersion)))
	}
	slices.Sort(fromKcat)
	slices.Sort(fromGo)
	if !slices.Equal(fromKcat, fromGo) {
		t.Errorf("kcat reads %d records, reckon published %d; first of each: %q, %q", len(fromKcat), len(fromGo), fromKcat[:1], fromGo[:1])
	}
}

// TestPythonProducer: records produced by python3-confluent-kafka, the
// values encoded by python3-avro and framed by hand, are consumed like
// any other: the final state equals the reference run.
func TestPythonProducer(t *testing.T) {
	python := testenv.Python(t, "confluent_kafka", "avro")
	e := newEnv(t, 4)
	ds := payments.Generate(payments.GeneratorConfig{Payments: 150, Partitions: 4, Interval: 30 * time.Minute})
	g, ex := referenceRun(t, ds)
	lines, _ := e.recordLines(ds)
	file := filepath.Join(t.TempDir(), "records.jsonl")
	if err := os.WriteFile(file, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(python, "testdata/produce.py", strings.Join(e.brokers, ","), file).CombinedOutput(); err != nil {
		t.Fatalf("produce.py: %v\n%s", err, out)
	}
	e.runToEnd(g, e.config("python"))
	e.checkTables(g, ex)
	e.checkMismatches(ex)
}

// TestKafkajsProducer: records produced by kafkajs, the values encoded
// and framed by @kafkajs/confluent-schema-registry (avsc) with the ids it
// got by registering their writer schemas with reckon's registry, are
// consumed like any other: the final state equals the reference run, and
// the only dead letters are the late records.
func TestKafkajsProducer(t *testing.T) {
	node := testenv.Tool(t, "node")
	dir := filepath.Join("..", "schemas", "testdata", "node")
	for _, pkg := range []string{"kafkajs", "@kafkajs/confluent-schema-registry"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			testenv.Missing(t, "the npm packages of schemas/testdata/node (npm ci there)")
		}
	}
	e := newEnv(t, 4)
	ds := payments.Generate(payments.GeneratorConfig{Payments: 150, Partitions: 4, Interval: 30 * time.Minute})
	g, ex := referenceRun(t, ds)
	lines, n := e.recordLines(ds)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "produce.js", e.registry, strings.Join(e.brokers, ","))
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(lines)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("produce.js: %v\n%s", err, stderr.Bytes())
	}
	var res struct {
		Produced int
		IDs      []int
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("produce.js printed %q: %v", out, err)
	}
	if res.Produced != n {
		t.Fatalf("produce.js produced %d records, want %d", res.Produced, n)
	}
	// Registering the writer schemas again found the ids reckon's client got.
	want := slices.Sorted(maps.Values(e.ids))
	if !slices.Equal(res.IDs, want) {
		t.Errorf("the Node registry client got schema ids %v, want %v", res.IDs, want)
	}
	cfg := e.config("kafkajs")
	e.runToEnd(g, cfg)
	e.checkTables(g, ex)
	e.checkMismatches(ex)
	if n := len(e.topicRecords(cfg.Kafka.Group + "-dead-letters")); n != ex.deadLetters {
		t.Errorf("%d dead letters, want %d (the late records only)", n, ex.deadLetters)
	}
}

// recordLines writes the events of every input of ds as JSON lines, in
// arrival order within each partition, for the producers of other
// clients: {"topic", "partition", "key", "id", "subject", "schema",
// "value"}, the value in plainAvro's form. It returns the lines and
// their number.
func (e *env) recordLines(ds *payments.Dataset) ([]byte, int) {
	e.t.Helper()
	var lines bytes.Buffer
	enc := json.NewEncoder(&lines)
	n := 0
	for _, topic := range []string{payments.TopicPayments, payments.TopicLedger} {
		for p, evs := range ds.Events[topic] {
			for _, ev := range evs {
				key := fmt.Sprintf("%s/v%d", ev.Topic, ev.Writer)
				value := map[string]any{}
				for k, v := range ev.WriterValue {
					value[k] = plainAvro(v)
				}
				if err := enc.Encode(map[string]any{"topic": topic, "partition": p, "key": ev.Key,
					"id": e.ids[key], "subject": topic + "-value", "schema": e.writers[key].String(), "value": value}); err != nil {
					e.t.Fatal(err)
				}
				n++
			}
		}
	}
	return lines.Bytes(), n
}

// plainAvro converts a field of goavro's native form to the plain form
// python3-avro and avsc take: unions unwrapped, timestamps as epoch
// milliseconds.
func plainAvro(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UnixMilli()
	case map[string]any: // a union branch (the payments records nest no record)
		for _, inner := range x {
			return plainAvro(inner)
		}
	}
	return v
}
