// Package teststore opens the store under a test of the API or the
// console: SQLite in a temporary file, or a fresh PostgreSQL schema (from
// HOOKD_TEST_POSTGRES) when the test runs as a subtest of TestOnPostgres,
// the way both packages rerun their tests on the second engine.
package teststore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/postgres"
	"github.com/hookd/hookd/postgres/pgtest"
	"github.com/hookd/hookd/sqlite"
)

// Open returns the test's store; it is closed when the test ends.
func Open(t testing.TB) hookd.Store {
	t.Helper()
	if strings.HasPrefix(t.Name(), "TestOnPostgres/") {
		return pgtest.Open(t, postgres.Config{})
	}
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "hookd.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
