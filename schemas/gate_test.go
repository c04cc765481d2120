package schemas

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// historyFunc is a HistorySource made of a function.
type historyFunc func(ctx context.Context, subject string) ([]SubjectVersion, error)

func (f historyFunc) History(ctx context.Context, subject string) ([]SubjectVersion, error) {
	return f(ctx, subject)
}

func TestGate(t *testing.T) {
	_, base := newTestRegistry(t)
	c := newTestClient(t, base)
	ctx := context.Background()
	for _, avsc := range []string{avscA1, avscA2} {
		if _, err := c.Register(ctx, "a-value", mustParse(t, avsc)); err != nil {
			t.Fatal(err)
		}
	}
	archived := WriterSchema{Origin: "archive topic=a/part-0-0-9.parquet", Schema: mustParse(t, avscB)}

	for _, tc := range []struct {
		name     string
		subject  string
		reader   string
		level    Level
		extra    []WriterSchema
		checked  int
		problems []int // subject versions (0: an extra writer) with problems
	}{
		{name: "compatible reader", subject: "a-value", reader: avscA2, level: BackwardTransitive, checked: 2},
		{name: "reader needs a field no writer has", subject: "a-value", reader: avscA3, level: BackwardTransitive, checked: 2, problems: []int{1, 2}},
		{name: "non-transitive level checks the latest only", subject: "a-value", reader: avscA3, level: Backward, checked: 1, problems: []int{2}},
		{name: "NONE checks nothing", subject: "a-value", reader: avscA3, level: None, extra: []WriterSchema{archived}},
		{name: "archive writers are checked too", subject: "a-value", reader: avscA2, level: Backward, extra: []WriterSchema{archived}, checked: 2, problems: []int{0}},
		{name: "a subject without history passes", subject: "new-value", reader: avscA3, level: FullTransitive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			report, err := Gate(ctx, c, tc.subject, mustParse(t, tc.reader), tc.level, tc.extra...)
			if report == nil {
				t.Fatalf("no report; error %v", err)
			}
			if len(report.Checked) != tc.checked {
				t.Errorf("checked %d writer schemas, want %d", len(report.Checked), tc.checked)
			}
			var got []int
			for _, p := range report.Problems {
				got = append(got, p.Writer.Version)
				if len(p.Incompatibilities) == 0 {
					t.Errorf("problem with %s lists no incompatibility", p.Writer.Origin)
				}
				for _, in := range p.Incompatibilities {
					if in.Version != p.Writer.Version {
						t.Errorf("incompatibility %v names version %d, want %d", in, in.Version, p.Writer.Version)
					}
				}
			}
			if !slices.Equal(got, tc.problems) {
				t.Errorf("problems with versions %v, want %v", got, tc.problems)
			}
			var ge *GateError
			if len(tc.problems) == 0 {
				if err != nil {
					t.Errorf("Gate = %v, want nil", err)
				}
				return
			}
			if !errors.As(err, &ge) || !errors.Is(err, ErrIncompatible) || ge.Report != report {
				t.Fatalf("Gate = %v, want a *GateError wrapping ErrIncompatible", err)
			}
			for _, p := range report.Problems {
				if !strings.Contains(err.Error(), p.Writer.Origin) {
					t.Errorf("report does not name %s:\n%v", p.Writer.Origin, err)
				}
			}
		})
	}
}

// A registry that cannot answer stops the gate with its error, not with a
// report.
func TestGateRegistryDown(t *testing.T) {
	down := &RegistryError{Op: "list versions", Subject: "a-value", Err: ErrUnavailable}
	src := historyFunc(func(context.Context, string) ([]SubjectVersion, error) { return nil, down })
	report, err := Gate(context.Background(), src, "a-value", mustParse(t, avscA1), Backward)
	if report != nil || !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrIncompatible) {
		t.Errorf("Gate = %v, %v; want no report and ErrUnavailable", report, err)
	}
}
