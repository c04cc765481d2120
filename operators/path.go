package operators

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Sentinel errors for field access; FieldError wraps one of them.
var (
	ErrMissingField = errors.New("operators: missing field")
	ErrFieldType    = errors.New("operators: field has the wrong type")
)

// FieldError reports a field path that could not be read as asked.
type FieldError struct {
	Path string
	Want string // the type asked for
	Got  any    // the value found (nil when missing)
	Err  error  // ErrMissingField or ErrFieldType
}

func (e *FieldError) Error() string {
	if errors.Is(e.Err, ErrMissingField) {
		return fmt.Sprintf("field %q: missing", e.Path)
	}
	return fmt.Sprintf("field %q: want %s, got %T", e.Path, e.Want, e.Got)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Path is a compiled field path such as "payment.amount_minor": record
// field names separated by dots. Nullable and other unions in goavro's
// native form ({"long": 5}, {"com.acme.Meta": {…}}) are unwrapped on the
// way; a union branch is recognized by its type name (see avroTypeName).
type Path struct {
	raw   string
	parts []string
}

// ParsePath compiles a dotted field path.
func ParsePath(s string) (Path, error) {
	if s == "" {
		return Path{}, errors.New("empty field path")
	}
	parts := strings.Split(s, ".")
	for _, p := range parts {
		if p == "" {
			return Path{}, fmt.Errorf("field path %q has an empty segment", s)
		}
	}
	return Path{raw: s, parts: parts}, nil
}

func (p Path) String() string { return p.raw }

// Lookup returns the value at the path, unwrapped from unions; ok is false
// when a segment is missing. A null value is found with v == nil, ok true.
func (p Path) Lookup(m map[string]any) (v any, ok bool) {
	var cur any = m
	for _, part := range p.parts {
		rec, isMap := unwrap(cur).(map[string]any)
		if !isMap {
			return nil, false
		}
		if cur, ok = rec[part]; !ok {
			// A union of a named record: {"Name": {…fields}}.
			if inner, one := onlyMap(rec); one {
				if cur, ok = inner[part]; ok {
					continue
				}
			}
			return nil, false
		}
	}
	return unwrap(cur), true
}

// unwrap removes goavro's union wrapper: a map with one entry whose key is
// an Avro type name (a primitive, or a dotted full name of a named type).
func unwrap(v any) any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return v
	}
	for k, inner := range m {
		if avroTypeName(k) {
			return unwrap(inner)
		}
	}
	return v
}

func onlyMap(m map[string]any) (map[string]any, bool) {
	if len(m) != 1 {
		return nil, false
	}
	for _, v := range m {
		inner, ok := v.(map[string]any)
		return inner, ok
	}
	return nil, false
}

// avroTypeName reports whether a union branch key names a type: a
// primitive, a full name with a namespace, or a capitalized name (Avro
// named types are capitalized by convention, record fields are not).
func avroTypeName(s string) bool {
	switch s {
	case "null", "boolean", "int", "long", "float", "double", "bytes", "string",
		"array", "map", "record", "enum", "fixed":
		return true
	}
	return strings.Contains(s, ".") || (s != "" && s[0] >= 'A' && s[0] <= 'Z')
}

// View reads an event value through field paths with typed accessors.
// Accessors return a *FieldError when the field is missing or of another
// type; numeric accessors convert between Avro's int and long, float and
// double, as schema resolution would.
type View struct {
	m map[string]any
}

// NewView returns a view over a decoded value.
func NewView(m map[string]any) View { return View{m: m} }

// Map returns the underlying value.
func (v View) Map() map[string]any { return v.m }

// Get returns the value at path, unwrapped from unions.
func (v View) Get(path string) (any, bool) {
	if path != "" && !strings.Contains(path, ".") {
		x, ok := v.m[path]
		if !ok {
			return Path{parts: []string{path}}.Lookup(v.m) // a named-record union
		}
		return unwrap(x), true
	}
	p, err := ParsePath(path)
	if err != nil {
		return nil, false
	}
	return p.Lookup(v.m)
}

func (v View) get(path, want string) (any, error) {
	x, ok := v.Get(path)
	if !ok || x == nil {
		return nil, &FieldError{Path: path, Want: want, Err: ErrMissingField}
	}
	return x, nil
}

// String reads a string (or an Avro enum symbol).
func (v View) String(path string) (string, error) {
	x, err := v.get(path, "string")
	if err != nil {
		return "", err
	}
	if s, ok := x.(string); ok {
		return s, nil
	}
	return "", &FieldError{Path: path, Want: "string", Got: x, Err: ErrFieldType}
}

// Int64 reads an int or long.
func (v View) Int64(path string) (int64, error) {
	x, err := v.get(path, "long")
	if err != nil {
		return 0, err
	}
	if n, ok := asInt64(x); ok {
		return n, nil
	}
	return 0, &FieldError{Path: path, Want: "long", Got: x, Err: ErrFieldType}
}

// Float64 reads a float, double, int or long.
func (v View) Float64(path string) (float64, error) {
	x, err := v.get(path, "double")
	if err != nil {
		return 0, err
	}
	switch n := x.(type) {
	case float64:
		return n, nil
	case float32:
		return float64(n), nil
	}
	if n, ok := asInt64(x); ok {
		return float64(n), nil
	}
	return 0, &FieldError{Path: path, Want: "double", Got: x, Err: ErrFieldType}
}

// Bool reads a boolean.
func (v View) Bool(path string) (bool, error) {
	x, err := v.get(path, "boolean")
	if err != nil {
		return false, err
	}
	if b, ok := x.(bool); ok {
		return b, nil
	}
	return false, &FieldError{Path: path, Want: "boolean", Got: x, Err: ErrFieldType}
}

// Time reads a timestamp (goavro's time.Time for timestamp-millis/micros
// and date) or a long of milliseconds since the epoch.
func (v View) Time(path string) (time.Time, error) {
	x, err := v.get(path, "timestamp")
	if err != nil {
		return time.Time{}, err
	}
	if t, ok := asTime(x); ok {
		return t, nil
	}
	return time.Time{}, &FieldError{Path: path, Want: "timestamp", Got: x, Err: ErrFieldType}
}

// Decimal reads a decimal (goavro's *big.Rat), or an int or long.
func (v View) Decimal(path string) (*big.Rat, error) {
	x, err := v.get(path, "decimal")
	if err != nil {
		return nil, err
	}
	if r, ok := asRat(x); ok {
		return r, nil
	}
	return nil, &FieldError{Path: path, Want: "decimal", Got: x, Err: ErrFieldType}
}

func asInt64(x any) (int64, bool) {
	switch n := x.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int:
		return int64(n), true
	}
	return 0, false
}

func asTime(x any) (time.Time, bool) {
	switch t := x.(type) {
	case time.Time:
		return t, true
	case int64:
		return time.UnixMilli(t).UTC(), true
	}
	return time.Time{}, false
}

func asRat(x any) (*big.Rat, bool) {
	switch n := x.(type) {
	case *big.Rat:
		return n, n != nil
	case float64:
		r := new(big.Rat)
		return r, r.SetFloat64(n) != nil
	case float32:
		r := new(big.Rat)
		return r, r.SetFloat64(float64(n)) != nil
	}
	if i, ok := asInt64(x); ok {
		return new(big.Rat).SetInt64(i), true
	}
	return nil, false
}
