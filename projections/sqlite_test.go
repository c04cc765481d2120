package projections

import (
	"context"
	"fmt"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/internal/testenv"
)

func openSQLiteT(t *testing.T) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "projections.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestSQLiteConformance(t *testing.T) {
	storeSuite(t, func(t *testing.T) Store { return openSQLiteT(t) })
}

// The SQLite file is readable with the sqlite3 shell: plain column types,
// the live rows through the view named after the projection, tombstones
// and write times in the documented hidden columns.
func TestSQLiteReadableWithShell(t *testing.T) {
	sqlite3 := testenv.Tool(t, "sqlite3")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "projections.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	spec := everyTypeSpec("payment_status")
	for v := 1; v <= 2; v++ {
		info := create(t, s, spec, v)
		apply(t, s, info, Write{Key: []any{"p1"}, Version: 5, Row: map[string]any{
			"c_text": fmt.Sprint("v", v), "c_bigint": int64(1250), "c_int": int32(3), "c_double": 0.5, "c_boolean": true,
			"c_timestamp": time.Date(2025, 3, 1, 9, 30, 0, 250_000_000, time.UTC), "c_blob": []byte("hi"),
			"c_decimal": big.NewRat(1999, 100), "c_uuid": "0f8fad5b-d9cb-469f-a165-70867728950e",
			"c_list": []string{"a", "b"}, "c_map": map[string]string{"k": "v"},
		}}, Write{Key: []any{"p2"}, Version: 6, Delete: true})
		if _, err := s.MarkReady(ctx, "payment_status", v, SourceRange{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Promote(ctx, "payment_status", 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	query := func(sql string) string {
		t.Helper()
		out, err := exec.Command(sqlite3, "-separator", "|", path, sql).CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3 %q: %v\n%s", sql, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	got := query(`SELECT id, c_text, c_bigint, c_int, c_double, c_boolean, c_timestamp, hex(c_blob), c_decimal, c_uuid, c_list, c_map FROM payment_status`)
	want := `p1|v2|1250|3|0.5|1|2025-03-01T09:30:00.250Z|6869|19.99|0f8fad5b-d9cb-469f-a165-70867728950e|["a","b"]|{"k":"v"}`
	if got != want {
		t.Errorf("the live view:\n got %s\nwant %s", got, want)
	}
	if got := query(`SELECT id, _reckon_writetime, _reckon_deleted FROM payment_status_v1 ORDER BY id`); got != "p1|5|0\np2|6|1" {
		t.Errorf("hidden columns: %q", got)
	}
	if got := query(`SELECT typeof(c_bigint), typeof(c_double), typeof(c_timestamp), typeof(c_blob) FROM payment_status_v2 WHERE id = 'p1'`); got != "integer|real|text|blob" {
		t.Errorf("column types: %q", got)
	}
	if got := query(`SELECT live FROM reckon_live WHERE projection = 'payment_status'`); got != "2" {
		t.Errorf("reckon_live: %q", got)
	}
	if got := query(`SELECT version, state, row_count FROM reckon_versions ORDER BY version`); got != "1|ready|1\n2|ready|1" {
		t.Errorf("reckon_versions: %q", got)
	}
}
