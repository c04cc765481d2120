package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/operators"
	"github.com/reckon-dev/reckon/projections"
)

// seedStore builds a SQLite store with three versions of payment_status:
// v1 live, v2 ready (one row changed, one added, one removed), v3 building.
func seedStore(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "projections.db")
	clock := func() time.Time { return time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC) }
	s, err := projections.OpenSQLite(ctx, path, projections.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	spec := operators.Table("payment_status").PartitionKey("payment_id").Typed("payment_id", operators.TypeText).
		Column("status", "status", operators.TypeText).Column("amount_minor", "amount_minor", operators.TypeBigInt)
	rows := map[int][][]any{
		1: {{"p1", "CAPTURED", int64(100)}, {"p2", "CAPTURED", int64(250)}, {"p3", "REFUNDED", int64(75)}},
		2: {{"p1", "CAPTURED", int64(100)}, {"p2", "SETTLED", int64(250)}, {"p4", "AUTHORIZED", int64(990)}},
		3: {{"p1", "CAPTURED", int64(100)}},
	}
	for v := 1; v <= 3; v++ {
		info, err := s.Create(ctx, spec, projections.Graph{Name: "payments", Version: v, Fingerprint: "sha256:abc" + string(rune('0'+v))})
		if err != nil {
			t.Fatal(err)
		}
		var ws []projections.Write
		for _, r := range rows[v] {
			ws = append(ws, projections.Write{Key: []any{r[0]}, Row: map[string]any{"status": r[1], "amount_minor": r[2]}, Version: 1})
		}
		if err := s.Apply(ctx, info.Table, ws); err != nil {
			t.Fatal(err)
		}
		if v < 3 {
			if _, err := s.MarkReady(ctx, "payment_status", v, projections.SourceRange{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Promote(ctx, "payment_status", 1); err != nil {
		t.Fatal(err)
	}
	return "sqlite:" + path
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestProjectionsList(t *testing.T) {
	store := seedStore(t)
	out, errOut, code := runCLI(t, "projections", "list", "--store", store)
	want := `PROJECTION      VERSION  STATUS    ROWS  GRAPH     FINGERPRINT  UPDATED
payment_status  v1       live      3     payments  sha256:abc1  2025-05-01T12:00:00Z
payment_status  v2       ready     3     payments  sha256:abc2  2025-05-01T12:00:00Z
payment_status  v3       building  0     payments  sha256:abc3  2025-05-01T12:00:00Z
live: payment_status -> payment_status_v1
`
	if code != 0 || out != want {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	// RECKON_STORE names the store when --store does not.
	t.Setenv("RECKON_STORE", store)
	out, _, code = runCLI(t, "projections", "list", "--format", "json")
	var got struct {
		Versions []projections.VersionInfo
		Live     map[string]int
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if len(got.Versions) != 3 || got.Live["payment_status"] != 1 || got.Versions[1].Status != projections.StatusReady || len(got.Versions[0].Columns) != 3 {
		t.Errorf("json: %+v", got)
	}
}

func TestProjectionsDiff(t *testing.T) {
	store := seedStore(t)
	out, errOut, code := runCLI(t, "projections", "diff", "payment_status", "--from", "v1", "--to", "v2", "--store", store)
	want := `payment_status v1 -> v2
rows       3 -> 3
added      1
removed    1
changed    1
unchanged  1
added keys (first 1): p4
removed keys (first 1): p3
changed rows (first 1):
  p2
    status: CAPTURED -> SETTLED
`
	if code != 0 || out != want {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	out, _, code = runCLI(t, "projections", "diff", "payment_status", "--from", "1", "--to", "2", "--format", "json", "--sample", "0", "--store", store)
	var rep projections.DiffReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if rep.Added != 1 || rep.Removed != 1 || rep.Changed != 1 || rep.Unchanged != 1 || rep.ChangedRows != nil {
		t.Errorf("json: %+v", rep)
	}
	_, errOut, code = runCLI(t, "projections", "diff", "payment_status", "--from", "v1", "--to", "v9", "--store", store)
	if code != 1 || !strings.Contains(errOut, "payment_status v9: projections: unknown version") {
		t.Errorf("unknown version: exit %d, %q", code, errOut)
	}
}

func TestPromoteRollback(t *testing.T) {
	store := seedStore(t)
	_, errOut, code := runCLI(t, "promote", "payment_status", "--version", "v3", "--store", store)
	if code != 1 || !strings.Contains(errOut, "cannot promote payment_status v3: status is building, want ready; its backfill has not completed") {
		t.Fatalf("promoting a building version: exit %d, %q", code, errOut)
	}
	_, errOut, code = runCLI(t, "promote", "payment_status", "--version", "v1", "--store", store)
	if code != 1 || !strings.Contains(errOut, "status is live, want ready; it is already live") {
		t.Fatalf("promoting the live version: exit %d, %q", code, errOut)
	}
	out, errOut, code := runCLI(t, "promote", "payment_status", "--version", "2", "--store", store)
	if code != 0 || out != "payment_status: v2 is live (v1 retired)\n" {
		t.Fatalf("promote: exit %d, %q %q", code, out, errOut)
	}
	out, _, _ = runCLI(t, "projections", "list", "--store", store)
	if !strings.Contains(out, "v1       retired") || !strings.Contains(out, "v2       live") || !strings.Contains(out, "live: payment_status -> payment_status_v2") {
		t.Errorf("list after promote:\n%s", out)
	}
	out, errOut, code = runCLI(t, "rollback", "payment_status", "--store", store)
	if code != 0 || out != "payment_status: v1 is live again (v2 retired)\n" {
		t.Fatalf("rollback: exit %d, %q %q", code, out, errOut)
	}
	_, errOut, code = runCLI(t, "rollback", "payment_status", "--store", store)
	if code != 1 || !strings.Contains(errOut, "no previous live version") {
		t.Errorf("second rollback: exit %d, %q", code, errOut)
	}
}
