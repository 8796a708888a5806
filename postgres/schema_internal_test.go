package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// openInternal opens a store in a schema of its own for a test of the
// package's insides (pgtest, which opens the others, imports the package),
// dropped when the test ends; the test is skipped without
// HOOKD_TEST_POSTGRES.
func openInternal(t *testing.T, name string) (*Store, string) {
	t.Helper()
	return openInternalWith(t, name, Config{})
}

// openInternalWith is openInternal with cfg, its URL and Schema filled in.
func openInternalWith(t *testing.T, name string, cfg Config) (*Store, string) {
	t.Helper()
	url := os.Getenv("HOOKD_TEST_POSTGRES")
	if url == "" {
		t.Skip("HOOKD_TEST_POSTGRES is not set")
	}
	schema := fmt.Sprintf("hookd_test_%s_%d_%d", name, os.Getpid(), time.Now().UnixNano()%1e9)
	cfg.URL, cfg.Schema = url, schema
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		if err := DropSchema(context.Background(), url, schema); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return s, schema
}

// Every reference leads an index of its table (a partial one does not
// count): a deleted parent row looks up its children by it, and without
// one a tenant's or a key's delete scanned the whole child table.
func TestReferencesIndexed(t *testing.T) {
	s, schema := openInternal(t, "refs")
	ctx := context.Background()
	rows, err := s.pool.Query(ctx, `
		SELECT c.conrelid::regclass::text, a.attname, cardinality(c.conkey),
			EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1] AND i.indpred IS NULL)
		FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
		WHERE c.contype = 'f' AND c.connamespace = $1::regnamespace`, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, column string
		var columns int
		var indexed bool
		if err := rows.Scan(&table, &column, &columns, &indexed); err != nil {
			t.Fatal(err)
		}
		n++
		if columns > 1 {
			t.Fatalf("%s: a reference of several columns; check them all here", table)
		}
		if !indexed {
			t.Errorf("%s(%s) references another table and leads no index", table, column)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 16 {
		t.Fatalf("found %d references; the query no longer finds them", n)
	}
}

// A database a newer hookd migrated (a version this binary lacks) is used,
// as a rolling upgrade's old processes use it, with a warning that says so.
func TestSchemaAheadWarned(t *testing.T) {
	s, _ := openInternal(t, "ahead")
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	s.log = slog.New(slog.NewTextHandler(&log, nil))
	if err := s.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "schema is newer than this hookd's") || !strings.Contains(log.String(), "schemaVersion=9999") {
		t.Fatalf("log: %s", log.String())
	}
}
