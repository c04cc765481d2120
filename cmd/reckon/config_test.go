package main

import (
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/reckon-dev/reckon/examples/payments"
	"github.com/reckon-dev/reckon/live"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the README's settings table")

// TestSettingsNameEveryField checks that the settings list documents every
// field of config, and nothing else (password files aside).
func TestSettingsNameEveryField(t *testing.T) {
	var keys []string
	for k := range fields(reflect.ValueOf(&config{})) {
		keys = append(keys, k)
	}
	var documented []string
	for _, s := range settings() {
		if strings.HasSuffix(s.key, secretSuffix+fileSuffix) {
			if !slices.ContainsFunc(settings(), func(o setting) bool { return o.key+fileSuffix == s.key }) {
				t.Errorf("%s: no secret setting %s", s.key, strings.TrimSuffix(s.key, fileSuffix))
			}
			continue
		}
		documented = append(documented, s.key)
	}
	slices.Sort(keys)
	slices.Sort(documented)
	if !slices.Equal(keys, documented) {
		t.Errorf("config fields %q\nbut settings document %q", keys, documented)
	}
}

// TestSettingDefaultsAreTheDrivers checks the documented defaults against
// those the live driver applies to settings the CLI leaves unset.
func TestSettingDefaultsAreTheDrivers(t *testing.T) {
	g, err := payments.Graph(2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := live.New(g, live.Config{Kafka: live.KafkaConfig{Brokers: []string{"b:1"}}, Registry: live.RegistryConfig{URL: "http://r"}})
	if err != nil {
		t.Fatal(err)
	}
	eff := fields(reflect.ValueOf(&config{Config: d.Config()}))
	derived := map[string]string{
		"kafka.group":         "reckon-payments",
		"topics.dead_letters": "reckon-payments-dead-letters",
		"topics.changelog":    "reckon-payments-changelog",
	}
	for _, s := range settings() {
		f, ok := eff[s.key]
		if !ok || s.key == "kafka.brokers" || s.key == "registry.url" || s.key == "store" || strings.HasPrefix(s.key, "graph.") ||
			strings.HasPrefix(s.key, "http.") || strings.HasPrefix(s.key, "log.") {
			continue // not the driver's, or the CLI's own default (the dev stack)
		}
		want := s.def
		if w, ok := derived[s.key]; ok {
			want = w
		} else if strings.HasPrefix(want, "(") {
			want = ""
		}
		if got := get(f); got != want {
			t.Errorf("%s: the driver's default is %q, the settings say %q", s.key, got, s.def)
		}
	}
}

// TestREADMESettings checks that the README's settings table is the one
// the settings list renders; -rewrite updates it.
func TestREADMESettings(t *testing.T) {
	const begin, end = "<!-- settings: begin (go test ./cmd/reckon -run TestREADMESettings -rewrite) -->\n", "<!-- settings: end -->\n"
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no settings table between %q and %q", begin, end)
	}
	want := readme[:i+len(begin)] + settingsTable(settings()) + readme[j:]
	if want == readme {
		return
	}
	if *rewrite {
		if err := os.WriteFile("../../README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's settings table is out of date: run go test ./cmd/reckon -run TestREADMESettings -rewrite")
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "", 3}, {"kafka.brokerz", "kafka.brokers", 1}, {"group", "kafka.group", 6}, {"flaw", "lawn", 2}} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
