package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// A setting is one key of the configuration: a leaf field of the config
// struct, named by its yaml tags joined with dots. Every setting is read,
// in increasing precedence, from its default, the YAML file (--config),
// the environment variable RECKON_<KEY> (dots as underscores, upper case)
// (an empty variable counts as unset) and its flag, if it has one. A setting ending in "password" is a secret:
// it has no flag (a flag shows in process lists), `reckon config show`
// prints it as ***, and its value may come from a file named by the
// setting <key>_file instead.
type setting struct {
	key  string
	flag string // "" when the setting has no flag
	def  string // the default, as documented
	doc  string
}

// secretSuffix ends the key of every secret setting.
const secretSuffix = "password"

// fileSuffix turns a secret's key into the key of the file holding it.
const fileSuffix = "_file"

func (s setting) env() string {
	return "RECKON_" + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

// problem is one invalid setting: where it was given, the key, what is
// wrong and how to fix it.
type problem struct {
	source string // "--flag", "RECKON_…", "FILE:LINE", or "" for the whole configuration
	key    string
	msg    string
}

func (p problem) String() string {
	if p.source == "" {
		return p.key + ": " + p.msg
	}
	return fmt.Sprintf("%s (%s): %s", p.source, p.key, p.msg)
}

// configError lists every problem of a configuration at once.
type configError struct{ problems []problem }

func (e *configError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// fields returns the settable leaf fields of the struct v points to, by
// dotted key. Fields tagged yaml:",inline" lend their fields to the
// parent's level.
func fields(v reflect.Value) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if opts == "inline" {
				walk(v.Field(i), prefix)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(v.Field(i), prefix+name+".")
				continue
			}
			out[prefix+name] = v.Field(i)
		}
	}
	walk(v.Elem(), "")
	return out
}

// set parses s into the field f, or returns what is wrong and the fix.
func set(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration: use a number with a unit, such as 500ms, 30s or 1m", s)
		}
		f.SetInt(int64(d))
		return nil
	case []string:
		var items []string
		for it := range strings.SplitSeq(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		f.Set(reflect.ValueOf(items))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a boolean: use true or false", s)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer of %d bits: use a whole number", s, f.Type().Bits())
		}
		f.SetInt(n)
	default:
		return fmt.Errorf("settings of type %s cannot be set", f.Type())
	}
	return nil
}

// get formats the field f as set reads it back.
func get(f reflect.Value) string {
	switch v := f.Interface().(type) {
	case time.Duration:
		return v.String()
	case []string:
		return strings.Join(v, ",")
	}
	return fmt.Sprint(f.Interface())
}

// loader reads a configuration struct from its settings' sources.
type loader struct {
	settings []setting
	lookup   func(string) (string, bool) // the environment
	problems []problem
	secrets  map[string]string // secret key → file to read it from
}

func (l *loader) bad(source, key, format string, args ...any) {
	l.problems = append(l.problems, problem{source: source, key: key, msg: fmt.Sprintf(format, args...)})
}

// load fills cfg (a pointer to a config struct) from the defaults, file
// (when not ""), the environment and the changed flags of fs, then reads
// secrets from their files. It reports every problem at once.
func (l *loader) load(cfg any, file string, fs *pflag.FlagSet) error {
	fv := fields(reflect.ValueOf(cfg))
	l.secrets = map[string]string{}
	apply := func(source, key, value string) {
		if base, ok := strings.CutSuffix(key, fileSuffix); ok && strings.HasSuffix(base, secretSuffix) {
			if _, ok := fv[base]; ok {
				l.secrets[base] = value
				return
			}
		}
		f, ok := fv[key]
		if !ok {
			l.bad(source, key, "unknown setting: %s", suggest(key, l.settings))
			return
		}
		if err := set(f, value); err != nil {
			l.bad(source, key, "%v", err)
		}
	}
	for _, s := range l.settings {
		if s.def != "" && !strings.HasPrefix(s.def, "(") {
			apply("default", s.key, s.def)
		}
	}
	if file != "" {
		l.file(file, apply)
	}
	for _, s := range l.settings {
		if v, ok := l.lookup(s.env()); ok && v != "" {
			apply(s.env(), s.key, v)
		}
	}
	if fs != nil {
		for _, s := range l.settings {
			if s.flag != "" && fs.Changed(s.flag) {
				apply("--"+s.flag, s.key, fs.Lookup(s.flag).Value.String())
			}
		}
	}
	for key, path := range l.secrets {
		if fv[key].String() != "" {
			l.bad("", key, "set both directly and from a file: keep one of %s and %s", key, key+fileSuffix)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			l.bad("", key+fileSuffix, "cannot read the secret: %v (name a readable file)", err)
			continue
		}
		fv[key].SetString(strings.TrimRight(string(b), "\r\n"))
	}
	if len(l.problems) > 0 {
		return &configError{problems: l.problems}
	}
	return nil
}

// file reads the YAML file into apply, leaf by leaf.
func (l *loader) file(file string, apply func(source, key, value string)) {
	b, err := os.ReadFile(file)
	if err != nil {
		l.bad(file, "--config", "%v (name a readable YAML file)", err)
		return
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return // an empty file sets nothing
		}
		l.bad(file, "--config", "not YAML: %v", err)
		return
	}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := prefix + k.Value
			source := fmt.Sprintf("%s:%d", file, k.Line)
			switch v.Kind {
			case yaml.MappingNode:
				walk(v, key+".")
			case yaml.SequenceNode:
				var items []string
				for _, it := range v.Content {
					items = append(items, it.Value)
				}
				apply(source, key, strings.Join(items, ","))
			case yaml.ScalarNode:
				if v.Tag == "!!null" {
					continue
				}
				apply(source, key, v.Value)
			default:
				l.bad(source, key, "expected a value, a list or a mapping")
			}
		}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		l.bad(file, "--config", "the file must be a YAML mapping of settings")
		return
	}
	walk(root, "")
}

// suggest names the fix for an unknown key: the nearest known keys, or the
// known keys under the same prefix.
func suggest(key string, settings []setting) string {
	var near []string
	for _, s := range settings {
		if editDistance(key, s.key) <= 2 {
			near = append(near, s.key)
		}
	}
	if len(near) > 0 {
		return "did you mean " + strings.Join(near, " or ") + "?"
	}
	return "see `reckon config show` and the settings table in the README for the known keys"
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// addFlags adds the flag of every setting that has one to fs. A flag
// keeps the text it is given; load parses it as the setting does. Boolean
// settings take no value (--fail-fast) or one (--fail-fast=false).
func addFlags(fs *pflag.FlagSet, cfg any, settings []setting) {
	fv := fields(reflect.ValueOf(cfg))
	for _, s := range settings {
		f, ok := fv[s.key]
		if s.flag == "" || !ok {
			if base, isFile := strings.CutSuffix(s.key, fileSuffix); s.flag != "" && isFile && strings.HasSuffix(base, secretSuffix) {
				fs.Var(&flagValue{typ: "file"}, s.flag, s.usage())
			}
			continue
		}
		v := &flagValue{typ: flagType(f)}
		fs.Var(v, s.flag, s.usage())
		if v.typ == "bool" {
			fs.Lookup(s.flag).NoOptDefVal = "true"
		}
	}
}

func (s setting) usage() string {
	usage := s.doc + " (" + s.key + ", $" + s.env() + ")"
	if s.def != "" {
		usage += "; default " + s.def
	}
	return usage
}

// flagValue holds a setting's flag as typed, for load to parse.
type flagValue struct{ typ, s string }

func (v *flagValue) String() string     { return v.s }
func (v *flagValue) Set(s string) error { v.s = s; return nil }
func (v *flagValue) Type() string       { return v.typ }

// flagType names the type of field f in flag help.
func flagType(f reflect.Value) string {
	switch f.Interface().(type) {
	case time.Duration:
		return "duration"
	case []string:
		return "list"
	}
	switch f.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int16, reflect.Int32, reflect.Int64:
		return "int"
	}
	return "string"
}

// redacted returns a copy of the struct cfg points to with every secret
// that is set replaced by ***, for printing.
func redacted[T any](cfg *T) *T {
	c := *cfg
	for key, f := range fields(reflect.ValueOf(&c)) {
		if strings.HasSuffix(key, secretSuffix) && f.Kind() == reflect.String && f.String() != "" {
			f.SetString("***")
		}
	}
	return &c
}

// settingsTable renders the settings as the Markdown table of the README.
func settingsTable(settings []setting) string {
	var b strings.Builder
	b.WriteString("| key | environment | flag | default | meaning |\n|---|---|---|---|---|\n")
	for _, s := range settings {
		flag := ""
		if s.flag != "" {
			flag = "`--" + s.flag + "`"
		}
		def := s.def
		if inner, ok := strings.CutPrefix(def, "("); ok && strings.Contains(inner, "<") {
			def = "(`" + strings.TrimSuffix(inner, ")") + "`)"
		} else if def != "" && !ok {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n", s.key, s.env(), flag, def, s.doc)
	}
	return b.String()
}
