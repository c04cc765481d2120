package operators_test

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/operators"
)

// TestSemantics pins down the matcher, reconciler, windows and watermarks
// in testdata/*.txt. Regenerate after a reviewed change with
// go test ./operators -run TestSemantics -rewrite.
//
// Commands:
//
//	graph match within=10m lateness=5m [rlateness=…] [rules=r1,r2]
//	graph window shape=tumbling|sliding|session size=… slide=… gap=… lateness=…
//	  rules: equal:F  equalfields:L:R  tolerance:F:ABS:REL  mapped:L:R
//	         present:left|right:F  custom:nonneg
//	process            one record a line: TOPIC[/PARTITION] KEY HH:MM field=value…
//	idle TOPIC on|off  mark an input idle
//	snapshot / restore snapshot the task, or replace it by a new task
//	                   restored from the last snapshot
//	state              watermark, state keys and offsets
func TestSemantics(t *testing.T) {
	datadriven.Walk(t, "testdata/semantics", func(t *testing.T, path string) {
		var d driver
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			return d.run(t, td)
		})
	})
}

type driver struct {
	g       *operators.Graph
	tasks   map[int32]*operators.Task
	offsets map[string]int64
	snaps   map[int32][]byte
}

var day = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const ddLeft = `{"type":"record","name":"L","fields":[
 {"name":"id","type":"string"},
 {"name":"amount","type":"long"},
 {"name":"fee","type":["null","double"],"default":null},
 {"name":"currency","type":"string","default":"EUR"},
 {"name":"status","type":"string","default":"CAPTURED"},
 {"name":"meta","type":["null",{"type":"record","name":"Meta","fields":[{"name":"ref","type":["null","string"],"default":null}]}],"default":null},
 {"name":"price","type":["null",{"type":"bytes","logicalType":"decimal","precision":12,"scale":4}],"default":null},
 {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`

const ddRight = `{"type":"record","name":"R","fields":[
 {"name":"id","type":"string"},
 {"name":"amount","type":"long"},
 {"name":"fee","type":["null","double"],"default":null},
 {"name":"currency","type":"string","default":"EUR"},
 {"name":"dir","type":"string","default":"CREDIT"},
 {"name":"meta","type":["null","Meta_R"],"default":null},
 {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`

func (d *driver) run(t *testing.T, td *datadriven.TestData) string {
	switch td.Cmd {
	case "graph":
		g, err := ddGraph(td)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		d.g, d.tasks, d.offsets, d.snaps = g, map[int32]*operators.Task{}, map[string]int64{}, map[int32][]byte{}
		return "ok\n"
	case "process":
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			rec, err := d.record(line)
			if err != nil {
				t.Fatalf("%s: %v", td.Pos, err)
			}
			task := d.task(t, rec.Partition)
			if err := task.Process(rec); err != nil {
				out = append(out, "error: "+err.Error())
				continue
			}
			out = append(out, renderOutputs(task.Outputs())...)
		}
		return lines(out)
	case "idle":
		var topic, on string
		td.ScanArgs(t, "topic", &topic)
		td.ScanArgs(t, "on", &on)
		var out []string
		for _, p := range sortedParts(d.tasks) {
			task := d.tasks[p]
			if err := task.MarkIdle(topic, on == "true"); err != nil {
				out = append(out, "error: "+err.Error())
			}
			out = append(out, renderOutputs(task.Outputs())...)
		}
		return lines(out)
	case "snapshot":
		var out []string
		for _, p := range sortedParts(d.tasks) {
			snap, err := d.tasks[p].Snapshot()
			if err != nil {
				out = append(out, "error: "+err.Error())
				continue
			}
			d.snaps[p] = snap
			out = append(out, fmt.Sprintf("partition %d: %d keys", p, d.tasks[p].StateKeys()))
		}
		return lines(out)
	case "restore":
		var out []string
		for _, p := range sortedParts(d.tasks) {
			task, err := d.g.NewTask(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := task.Restore(d.snaps[p]); err != nil {
				out = append(out, "error: "+err.Error())
				continue
			}
			d.tasks[p] = task
			for topic, off := range task.Offsets() {
				d.offsets[fmt.Sprintf("%s/%d", topic, p)] = off
			}
			out = append(out, fmt.Sprintf("partition %d: restored, %d keys, offsets %v", p, task.StateKeys(), task.Offsets()))
		}
		return lines(out)
	case "state":
		var out []string
		for _, p := range sortedParts(d.tasks) {
			task := d.tasks[p]
			wm := "none"
			if w := task.Watermark(); !w.IsZero() {
				wm = clock(w)
			}
			s := task.Stats()
			out = append(out, fmt.Sprintf("partition %d: watermark %s, %d keys, offsets %v, records %d, late %d, dead letters %d, redelivered %d",
				p, wm, task.StateKeys(), task.Offsets(), s.Records, s.Late, s.DeadLetters, s.Redelivered))
		}
		return lines(out)
	}
	t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	return ""
}

func lines(out []string) string {
	if len(out) == 0 {
		return "(no outputs)\n"
	}
	return strings.Join(out, "\n") + "\n"
}

func sortedParts(m map[int32]*operators.Task) []int32 {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func (d *driver) task(t *testing.T, p int32) *operators.Task {
	if d.tasks[p] == nil {
		task, err := d.g.NewTask(p)
		if err != nil {
			t.Fatal(err)
		}
		d.tasks[p] = task
	}
	return d.tasks[p]
}

// record parses "TOPIC[/P][@OFFSET] KEY HH:MM field=value…". A key of "-"
// leaves the key field out; "@OFFSET" re-delivers an offset.
func (d *driver) record(line string) (*operators.Record, error) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return nil, fmt.Errorf("want TOPIC KEY HH:MM …, got %q", line)
	}
	topic, part := f[0], int32(0)
	offset := int64(-1)
	if i := strings.IndexByte(topic, '@'); i >= 0 {
		n, err := strconv.ParseInt(topic[i+1:], 10, 64)
		if err != nil {
			return nil, err
		}
		topic, offset = topic[:i], n
	}
	if i := strings.IndexByte(topic, '/'); i >= 0 {
		n, err := strconv.Atoi(topic[i+1:])
		if err != nil {
			return nil, err
		}
		topic, part = topic[:i], int32(n)
	}
	at, err := parseClock(f[2])
	if err != nil {
		return nil, err
	}
	v := map[string]any{"at": at}
	if f[1] != "-" {
		v["id"] = f[1]
	}
	for _, kv := range f[3:] {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("bad field %q", kv)
		}
		if k == "ref" {
			k = "meta"
		}
		v[k] = parseValue(k, val)
	}
	pk := fmt.Sprintf("%s/%d", topic, part)
	if offset < 0 {
		offset = d.offsets[pk]
	}
	if offset >= d.offsets[pk] {
		d.offsets[pk] = offset + 1
	}
	return &operators.Record{Topic: topic, Partition: part, Offset: offset, Value: v}, nil
}

// parseClock reads HH:MM (day one) or D+HH:MM (later days) as an event time.
func parseClock(s string) (time.Time, error) {
	days := 0
	if i := strings.IndexByte(s, '+'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return time.Time{}, err
		}
		days, s = n, s[i+1:]
	}
	c, err := time.Parse("15:04", s)
	if err != nil {
		return time.Time{}, err
	}
	return day.AddDate(0, 0, days).Add(time.Duration(c.Hour())*time.Hour + time.Duration(c.Minute())*time.Minute), nil
}

func clock(t time.Time) string {
	days := int(t.Sub(day) / (24 * time.Hour))
	if t.Before(day) {
		return t.Format(time.RFC3339)
	}
	if days == 0 {
		return t.Format("15:04")
	}
	return fmt.Sprintf("%d+%s", days, t.Format("15:04"))
}

func parseValue(field, s string) any {
	switch {
	case s == "null":
		return nil
	case field == "fee":
		f, _ := strconv.ParseFloat(s, 64)
		return map[string]any{"double": f}
	case field == "amount":
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	case field == "price":
		r, _ := new(big.Rat).SetString(s)
		return r
	case field == "meta":
		return map[string]any{"Meta": map[string]any{"ref": map[string]any{"string": s}}}
	case strings.HasPrefix(s, "int:"):
		n, _ := strconv.ParseInt(s[4:], 10, 64)
		return n
	}
	return s
}

func ddGraph(td *datadriven.TestData) (*operators.Graph, error) {
	arg := func(name, def string) string {
		for _, a := range td.CmdArgs {
			if a.Key == name && len(a.Vals) > 0 {
				return strings.Join(a.Vals, ",")
			}
		}
		return def
	}
	dur := func(name, def string) time.Duration {
		d, err := time.ParseDuration(arg(name, def))
		if err != nil {
			panic(fmt.Sprintf("%s: bad %s: %v", td.Pos, name, err))
		}
		return d
	}
	kind := ""
	if len(td.CmdArgs) > 0 {
		kind = td.CmdArgs[0].Key
	}
	g := operators.NewGraph("semantics", 1)
	switch kind {
	case "match":
		l := g.Input("left", operators.KeyField("id"), operators.TimeField("at"),
			operators.AllowedLateness(dur("lateness", "5m")), operators.ReaderSchema(ddLeft))
		r := g.Input("right", operators.KeyField("id"), operators.TimeField("at"),
			operators.AllowedLateness(dur("rlateness", arg("lateness", "5m"))),
			operators.ReaderSchema(strings.Replace(ddRight, `"Meta_R"`, ddMetaR, 1)))
		if arg("copartition", "yes") == "yes" {
			g.CoPartition("left", "right")
		}
		m := g.Match("lr", l, r, dur("within", "10m"))
		var rules []operators.Rule
		for _, spec := range strings.Split(arg("rules", "equal:amount"), ",") {
			rules = append(rules, ddRule(spec))
		}
		rec := g.Reconcile("rec", m.Matched, rules...)
		g.Publish(rec.Mismatches, "mismatches", "", payments.Mismatch)
		g.Project(m.Matched, operators.Table("matched").PartitionKey("id").
			Columns("amount", "pairs").Column("right_amount", "right.amount", 0).Column("right_at", "right.at", 0))
		g.Project(m.UnmatchedLeft, operators.Table("unmatched_left").PartitionKey("key").Columns("amount", "unmatched"))
		g.Project(m.UnmatchedRight, operators.Table("unmatched_right").PartitionKey("key").Columns("amount", "unmatched"))
	case "window":
		in := g.Input("events", operators.KeyField("id"), operators.TimeField("at"),
			operators.AllowedLateness(dur("lateness", "5m")), operators.ReaderSchema(ddLeft))
		var shape operators.WindowShape
		switch arg("shape", "tumbling") {
		case "tumbling":
			shape = operators.Tumbling(dur("size", "30m"))
		case "sliding":
			shape = operators.Sliding(dur("size", "30m"), dur("slide", "10m"))
		case "session":
			shape = operators.Session(dur("gap", "15m"))
		}
		w := g.Window("w", in, shape, operators.GroupBy("currency"),
			operators.Count("n"), operators.Sum("total", "amount"), operators.Sum("fees", "fee"),
			operators.Sum("prices", "price"), operators.Min("lo", "amount"), operators.Max("hi", "amount"))
		g.Project(w, operators.Table("windows").PartitionKey("currency").ClusteringKey("window_start", "partition").
			Columns("window_end", "n", "total", "fees", "prices", "lo", "hi"))
	default:
		return nil, fmt.Errorf("unknown graph kind %q", kind)
	}
	return g, g.Validate()
}

const ddMetaR = `{"type":"record","name":"MetaR","fields":[{"name":"ref","type":["null","string"],"default":null}]}`

func ddRule(spec string) operators.Rule {
	p := strings.Split(spec, ":")
	num := func(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f }
	switch p[0] {
	case "equal":
		return operators.Equal(p[1])
	case "equalfields":
		return operators.EqualFields(p[1], p[2])
	case "tolerance":
		return operators.Tolerance(p[1], num(p[2]), num(p[3]))
	case "mapped":
		return operators.Mapped(p[1], p[2], map[string]string{"CAPTURED": "CREDIT", "REFUNDED": "DEBIT"})
	case "present":
		side := operators.Left
		if p[1] == "right" {
			side = operators.Right
		}
		return operators.Present(side, p[2])
	case "custom":
		return operators.Custom("nonneg", func(l, r operators.View) (bool, string) {
			a, _ := l.Int64("amount")
			b, _ := r.Int64("amount")
			if a < 0 || b < 0 {
				return false, "negative amount"
			}
			return true, ""
		})
	}
	panic("unknown rule " + spec)
}

// renderOutputs writes outputs one a line, compactly and deterministically.
func renderOutputs(outs []operators.Output) []string {
	var out []string
	for _, o := range outs {
		var b strings.Builder
		fmt.Fprintf(&b, "%s ", o.Kind)
		switch o.Target {
		case operators.TargetTable:
			key := make([]string, len(o.KeyValues))
			for i, k := range o.KeyValues {
				key[i] = render(k)
			}
			fmt.Fprintf(&b, "table %s [%s] %s", o.Name, strings.Join(key, " "), renderVersion(o.Version))
			if row := o.Row(); row != nil {
				fmt.Fprintf(&b, " %s", render(row))
			}
		case operators.TargetTopic:
			fmt.Fprintf(&b, "topic %s %s %s", o.Name, o.Key, renderVersion(o.Version))
			if v := o.NativeValue(); v != nil {
				fmt.Fprintf(&b, " %s", renderMismatch(v))
			}
		default:
			fmt.Fprintf(&b, "%s: %v", o.Key, o.Err)
		}
		out = append(out, b.String())
	}
	return out
}

// renderVersion shows an episode version as newest event time + count.
func renderVersion(v int64) string {
	if v < 1<<20 {
		return fmt.Sprintf("v%d", v)
	}
	return fmt.Sprintf("v[%s+%d]", clock(time.UnixMilli(v>>20).UTC()), v&(1<<20-1))
}

func renderMismatch(v map[string]any) string {
	if _, ok := v["reasons"]; !ok {
		return render(v)
	}
	var reasons []string
	for _, r := range v["reasons"].([]any) {
		m := r.(map[string]any)
		s := m["kind"].(string)
		if f := unwrapped(m["field"]); f != nil {
			s += " " + f.(string)
		}
		if m["left_value"] != nil || m["right_value"] != nil {
			s += fmt.Sprintf(" %s≠%s", render(unwrapped(m["left_value"])), render(unwrapped(m["right_value"])))
		}
		if d := m["detail"].(string); d != "" {
			s += " (" + d + ")"
		}
		reasons = append(reasons, s)
	}
	provs := func(k string) string {
		var ps []string
		for _, p := range v[k].([]any) {
			m := p.(map[string]any)
			ps = append(ps, fmt.Sprintf("%s/%d@%d", m["topic"], m["partition"], m["offset"]))
		}
		return strings.Join(ps, " ")
	}
	return fmt.Sprintf("%s [%s] left=[%s] right=[%s] at=%s", v["status"], strings.Join(reasons, "; "),
		provs("left"), provs("right"), clock(v["event_time"].(time.Time)))
}

func unwrapped(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, x := range m {
			return x
		}
	}
	return v
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case time.Time:
		return clock(x)
	case *big.Rat:
		return x.FloatString(4)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + render(x[k])
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	return fmt.Sprint(v)
}
