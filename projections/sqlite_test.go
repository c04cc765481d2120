package projections

import (
	"context"
	"path/filepath"
	"testing"
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
