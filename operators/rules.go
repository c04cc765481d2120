package operators

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"strconv"
	"time"
)

// ReasonKind classifies a reconciliation problem.
type ReasonKind uint8

// Reason kinds. Their String form is the symbol of the mismatch record's
// ReasonKind enum.
const (
	MissingLeft ReasonKind = iota + 1
	MissingRight
	FieldMismatch
	ToleranceExceeded
	Presence
	CustomReason
	LateEvent
)

var reasonNames = [...]string{"", "MISSING_LEFT", "MISSING_RIGHT", "FIELD_MISMATCH", "TOLERANCE_EXCEEDED", "PRESENCE", "CUSTOM", "LATE"}

func (k ReasonKind) String() string {
	if int(k) < len(reasonNames) && k > 0 {
		return reasonNames[k]
	}
	return fmt.Sprintf("ReasonKind(%d)", uint8(k))
}

// Reason is one reconciliation problem of a key.
type Reason struct {
	Kind ReasonKind
	// Field names the rule's field (left path, or "left→right" paths).
	Field string
	// Left and Right are both sides' values in canonical text (nil: absent).
	Left, Right *string
	Detail      string
}

// Side names one input of a match.
type Side uint8

// Sides.
const (
	Left Side = iota + 1
	Right
)

func (s Side) String() string {
	if s == Left {
		return "left"
	}
	return "right"
}

// Rule is a reconciliation rule applied to every matched pair. Build rules
// with Equal, EqualFields, Tolerance, Mapped, Present and Custom.
type Rule interface {
	describe() string
	// paths returns the field paths the rule reads on each side, with what
	// the rule needs of their types.
	paths() []rulePath
	check(l, r View) *Reason
}

type ruleNeed uint8

const (
	needAny ruleNeed = iota
	needNumeric
	needText
)

type rulePath struct {
	side Side
	path string
	need ruleNeed
	// pair is the index of the path on the other side whose type must be
	// comparable (-1: none).
	pair int
}

type equalRule struct {
	left, right  string
	lpath, rpath Path
}

// Equal requires the field at path to be equal on both sides.
func Equal(path string) Rule { return EqualFields(path, path) }

// EqualFields requires left's leftPath to equal right's rightPath.
func EqualFields(leftPath, rightPath string) Rule {
	l, _ := ParsePath(leftPath) // Validate reports bad paths
	r, _ := ParsePath(rightPath)
	return equalRule{left: leftPath, right: rightPath, lpath: l, rpath: r}
}

func (r equalRule) describe() string { return "equal(" + r.left + "," + r.right + ")" }
func (r equalRule) paths() []rulePath {
	return []rulePath{{Left, r.left, needAny, 1}, {Right, r.right, needAny, 0}}
}
func (r equalRule) field() string {
	if r.left == r.right {
		return r.left
	}
	return r.left + "→" + r.right
}

func (r equalRule) check(l, rv View) *Reason {
	a, aok := r.lpath.Lookup(l.m)
	b, bok := r.rpath.Lookup(rv.m)
	if aok == bok && valuesEqual(a, b) {
		return nil
	}
	return &Reason{Kind: FieldMismatch, Field: r.field(), Left: textOf(a, aok), Right: textOf(b, bok)}
}

type toleranceRule struct {
	left, right string
	abs, rel    *big.Rat
	absF, relF  float64
}

// Tolerance requires the numeric field at path to differ between the sides
// by at most abs, or by at most rel times the larger magnitude. Integers
// (minor units) and decimals are compared exactly.
func Tolerance(path string, abs, rel float64) Rule { return ToleranceFields(path, path, abs, rel) }

// ToleranceFields is Tolerance with different field paths per side.
func ToleranceFields(leftPath, rightPath string, abs, rel float64) Rule {
	a, r := new(big.Rat), new(big.Rat)
	if a.SetFloat64(abs) == nil {
		a.SetInt64(0)
	}
	if r.SetFloat64(rel) == nil {
		r.SetInt64(0)
	}
	return toleranceRule{left: leftPath, right: rightPath, abs: a, rel: r, absF: abs, relF: rel}
}

func (r toleranceRule) describe() string {
	return fmt.Sprintf("tolerance(%s,%s,%g,%g)", r.left, r.right, r.absF, r.relF)
}
func (r toleranceRule) paths() []rulePath {
	return []rulePath{{Left, r.left, needNumeric, -1}, {Right, r.right, needNumeric, -1}}
}

func (r toleranceRule) check(l, rv View) *Reason {
	field := r.left
	if r.left != r.right {
		field = r.left + "→" + r.right
	}
	a, aok := l.Get(r.left)
	b, bok := rv.Get(r.right)
	if a == nil && b == nil {
		return nil // absent or null on both sides agrees
	}
	x, xok := asRat(a)
	y, yok := asRat(b)
	if !xok || !yok {
		return &Reason{Kind: FieldMismatch, Field: field, Left: textOf(a, aok), Right: textOf(b, bok), Detail: "not a number"}
	}
	diff := new(big.Rat).Sub(x, y)
	diff.Abs(diff)
	if diff.Cmp(r.abs) <= 0 {
		return nil
	}
	mag := new(big.Rat).Abs(x)
	if ym := new(big.Rat).Abs(y); ym.Cmp(mag) > 0 {
		mag = ym
	}
	if diff.Cmp(mag.Mul(mag, r.rel)) <= 0 {
		return nil
	}
	return &Reason{Kind: ToleranceExceeded, Field: field, Left: textOf(a, true), Right: textOf(b, true),
		Detail: "difference " + differenceText(diff, a, b)}
}

type mappedRule struct {
	left, right  string
	lpath, rpath Path
	mapping      map[string]string
}

// Mapped requires right's rightPath to equal mapping[left's leftPath], for
// enums and codes that differ between systems (CAPTURED ↔ CREDIT).
func Mapped(leftPath, rightPath string, mapping map[string]string) Rule {
	m := make(map[string]string, len(mapping))
	for k, v := range mapping {
		m[k] = v
	}
	l, _ := ParsePath(leftPath)
	r, _ := ParsePath(rightPath)
	return mappedRule{left: leftPath, right: rightPath, lpath: l, rpath: r, mapping: m}
}

func (r mappedRule) describe() string {
	return fmt.Sprintf("mapped(%s,%s,%v)", r.left, r.right, sortedPairs(r.mapping))
}
func (r mappedRule) paths() []rulePath {
	return []rulePath{{Left, r.left, needText, -1}, {Right, r.right, needText, -1}}
}

func sortedPairs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return out
}

func (r mappedRule) check(l, rv View) *Reason {
	a, aok := r.lpath.Lookup(l.m)
	b, bok := r.rpath.Lookup(rv.m)
	as, _ := a.(string)
	bs, _ := b.(string)
	want, mapped := r.mapping[as]
	if aok && bok && a != nil && b != nil && mapped && want == bs {
		return nil
	}
	field := r.left + "→" + r.right
	switch {
	case !aok || !bok || a == nil || b == nil:
		if !aok && !bok {
			return nil
		}
		return &Reason{Kind: FieldMismatch, Field: field, Left: textOf(a, aok), Right: textOf(b, bok), Detail: "missing value"}
	case !mapped:
		return &Reason{Kind: FieldMismatch, Field: field, Left: textOf(a, aok), Right: textOf(b, bok), Detail: "no mapping for " + strconv.Quote(as)}
	case want != bs:
		return &Reason{Kind: FieldMismatch, Field: field, Left: textOf(a, aok), Right: textOf(b, bok), Detail: "want " + strconv.Quote(want)}
	}
	return nil
}

type presentRule struct {
	side Side
	path string
}

// Present requires the field at path to be present and not null on side.
func Present(side Side, path string) Rule { return presentRule{side, path} }

func (r presentRule) describe() string { return "present(" + r.side.String() + "," + r.path + ")" }
func (r presentRule) paths() []rulePath {
	return []rulePath{{r.side, r.path, needAny, -1}}
}

func (r presentRule) check(l, rv View) *Reason {
	v := l
	if r.side == Right {
		v = rv
	}
	if x, ok := v.Get(r.path); ok && x != nil {
		return nil
	}
	return &Reason{Kind: Presence, Field: r.path, Detail: r.side.String() + " value missing"}
}

type customRule struct {
	name string
	fn   func(left, right View) (ok bool, detail string)
}

// Custom is a rule written in Go: fn reports whether the pair agrees and,
// if not, why. It must be deterministic (no clock, no randomness).
func Custom(name string, fn func(left, right View) (ok bool, detail string)) Rule {
	return customRule{name, fn}
}

func (r customRule) describe() string  { return "custom(" + r.name + ")" }
func (r customRule) paths() []rulePath { return nil }
func (r customRule) check(l, rv View) *Reason {
	if ok, detail := r.fn(l, rv); !ok {
		return &Reason{Kind: CustomReason, Field: r.name, Detail: detail}
	}
	return nil
}

// valuesEqual compares two field values; numbers compare by value across
// int, long and decimal, times by instant.
func valuesEqual(a, b any) bool {
	if x, ok := asInt64(a); ok {
		if y, ok := asInt64(b); ok {
			return x == y
		}
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	}
	if x, ok := asRat(a); ok {
		if y, ok := asRat(b); ok {
			return x.Cmp(y) == 0
		}
		return false
	}
	ea, err1 := AppendValue(nil, a)
	eb, err2 := AppendValue(nil, b)
	return err1 == nil && err2 == nil && string(ea) == string(eb)
}

// textOf renders a field value canonically for mismatch records.
func textOf(v any, present bool) *string {
	if !present || v == nil {
		return nil
	}
	s := valueText(v)
	return &s
}

func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case *big.Rat:
		return ratText(x)
	}
	return fmt.Sprint(v)
}

// differenceText renders a difference exactly, except between floats,
// whose exact binary value would only confuse: those read as a double.
func differenceText(diff *big.Rat, a, b any) string {
	_, af := a.(float64)
	_, bf := b.(float64)
	if af || bf {
		f, _ := diff.Float64()
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return ratText(diff)
}

// ratText writes a rational exactly: as a decimal when it has a finite
// decimal expansion, else as num/den.
func ratText(r *big.Rat) string {
	d := new(big.Int).Set(r.Denom())
	digits := 0
	for _, p := range []int64{2, 5} {
		bp, m, n := big.NewInt(p), new(big.Int), 0
		for {
			q, rem := new(big.Int).QuoRem(d, bp, m)
			if rem.Sign() != 0 {
				break
			}
			d, n = q, n+1
		}
		digits = max(digits, n)
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		return r.RatString()
	}
	return r.FloatString(digits)
}
