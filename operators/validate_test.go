package operators_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/operators"
)

// TestValidateReportsEveryProblem builds a graph with one of each mistake
// and checks that Validate reports all of them in one error.
func TestValidateReportsEveryProblem(t *testing.T) {
	other := operators.NewGraph("other", 1)
	foreign := other.Input("x", operators.KafkaKey(), operators.KafkaTime())

	g := operators.NewGraph("bad", 1)
	a := g.Input("a", operators.KeyField("id"), operators.TimeField("at"), operators.ReaderSchema(leftSchema))
	b := g.Input("b", operators.TimeField("at"))              // no key
	c := g.Input("c", operators.KeyField("id"))               // no time
	g.Input("a", operators.KafkaKey(), operators.KafkaTime()) // duplicate input
	d := g.Input("d", operators.KeyField("fee"), operators.TimeField("grp"), operators.ReaderSchema(leftSchema))
	m := g.Match("m", a, b, time.Hour)                           // not co-partitioned
	g.Match("m", a, foreign, 0)                                  // duplicate name, foreign stream, zero window
	g.Reconcile("r", a, operators.Equal("amount"))               // not a matched stream
	g.Reconcile("r2", m.Matched, operators.Equal("nope"))        // unknown field on the left
	w := g.Window("w", m.Matched, operators.Tumbling(time.Hour)) // matched input, no aggregates
	g.Window("w2", a, operators.Count("n"))                      // no shape
	g.FlatMap("f", w, func(operators.Event) ([]map[string]any, error) { return nil, nil })
	g.Project(m.Matched, operators.Table("t").PartitionKey("merchant").ClusteringKey("x"))
	g.Project(c, operators.Table("t"))
	g.Publish(d, "a", "", `{"type":"record"}`)
	g.Map("", nil, nil)

	err := g.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken graph")
	}
	if !errors.Is(err, operators.ErrInvalidGraph) {
		t.Fatalf("error does not wrap ErrInvalidGraph: %v", err)
	}
	want := []string{
		`input "a" declared twice`,
		`input "b": no key: add KeyField(path) or KafkaKey()`,
		`input "c": no event time: add TimeField(path) or KafkaTime()`,
		`input "d": key field "fee" is double; want string, int or long`,
		`input "d": time field "grp" is string; want a timestamp`,
		`duplicate operator name "m"`,
		`match "m": inputs [a b] are not declared co-partitioned`,
		`stream "x" belongs to another graph`,
		`reconcile "r": needs the Matched stream of a Match, got an events stream`,
		`reconcile "r2": equal(nope,nope): left field "nope" is not in the reader schema`,
		`window "w": needs an event stream, got a matched stream`,
		`window "w2": no window shape: add Tumbling, Sliding or Session`,
		`window "w": no aggregates`,
		`flat-map "f": needs an event stream, got a changelog stream`,
		`table "t" projected twice`,
		`table "t": rows of match "m" are keyed by the match key`,
		`table "t": no partition-key column`,
		`topic "a" is both an input and a published output`,
		`map operator has no name`,
		`map "": unknown stream (nil)`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing problem %q", w)
		}
	}
	if t.Failed() {
		t.Logf("got:\n%s", msg)
	}
}

func TestNewTaskNeedsValidation(t *testing.T) {
	g := operators.NewGraph("g", 1)
	g.Input("a", operators.KafkaKey(), operators.KafkaTime())
	if _, err := g.NewTask(0); !errors.Is(err, operators.ErrNotValidated) {
		t.Fatalf("NewTask before Validate: %v", err)
	}
}

func TestPublishKeyField(t *testing.T) {
	const schema = `{"type":"record","name":"E","fields":[{"name":"id","type":"string"},{"name":"account","type":["null","string"]},{"name":"n","type":"double"}]}`
	bad := operators.NewGraph("g", 1)
	in := bad.Input("events", operators.KeyField("id"), operators.KafkaTime(), operators.ReaderSchema(schema))
	bad.Publish(in, "by-n", "n", schema)
	bad.Publish(in, "by-nope", "nope", schema)
	err := bad.Validate()
	for _, want := range []string{`publish "by-n": key field "n" is double`, `publish "by-nope": key field "nope" is not in the stream's schema`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: want %q in %v", want, err)
		}
	}

	g := operators.NewGraph("g", 1)
	in = g.Input("events", operators.KeyField("id"), operators.KafkaTime(), operators.ReaderSchema(schema))
	g.Publish(in, "by-account", "account", schema)
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	task, _ := g.NewTask(0)
	ts := time.Unix(100, 0)
	_ = task.Process(&operators.Record{Topic: "events", Offset: 0, Timestamp: ts,
		Value: map[string]any{"id": "e1", "account": map[string]any{"string": "acct-7"}, "n": 1.0}})
	_ = task.Process(&operators.Record{Topic: "events", Offset: 1, Timestamp: ts,
		Value: map[string]any{"id": "e2", "account": nil, "n": 2.0}})
	outs := task.Outputs()
	if len(outs) != 2 || outs[0].Key != "acct-7" || outs[0].Name != "by-account" {
		t.Fatalf("first output: %+v", outs)
	}
	var re *operators.RecordError
	if outs[1].Kind != operators.DeadLetter || !errors.As(outs[1].Err, &re) || re.Class() != "no-key" || re.Offset != 1 {
		t.Fatalf("a null key must be a dead letter: %+v", outs[1])
	}
}
