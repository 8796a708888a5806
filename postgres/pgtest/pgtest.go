// Package pgtest opens PostgreSQL stores for tests: each in a schema of its
// own on the server HOOKD_TEST_POSTGRES names, dropped when the test ends,
// so tests run in parallel on one database. Without the variable the test
// is skipped (.ci/run sets it).
package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/postgres"
)

var schemaN atomic.Int64

// Open opens a store as cfg says, with URL and Schema filled in.
func Open(t testing.TB, cfg postgres.Config) *postgres.Store {
	t.Helper()
	return OpenReplicas(t, 1, cfg)[0]
}

// OpenReplicas opens n stores on one schema, as n processes would on one
// database: they share rows and notices, not memory.
func OpenReplicas(t testing.TB, n int, cfg postgres.Config) []*postgres.Store {
	t.Helper()
	cfgs := make([]postgres.Config, n)
	for i := range cfgs {
		cfgs[i] = cfg
	}
	return OpenEach(t, cfgs...)
}

// OpenEach opens a store for each config on one schema, as processes
// configured differently (another encryption key, say) would on one
// database.
func OpenEach(t testing.TB, cfgs ...postgres.Config) []*postgres.Store {
	t.Helper()
	url := os.Getenv("HOOKD_TEST_POSTGRES")
	if url == "" {
		t.Skip("HOOKD_TEST_POSTGRES is not set")
	}
	schema := fmt.Sprintf("hookd_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaN.Add(1))
	t.Cleanup(func() {
		if err := postgres.DropSchema(context.Background(), url, schema); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	stores := make([]*postgres.Store, len(cfgs))
	for i, cfg := range cfgs {
		cfg.URL, cfg.Schema = url, schema
		if cfg.MaxConns == 0 {
			cfg.MaxConns = 4
		}
		s, err := postgres.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() }) // before the schema's drop: cleanups run last first
		stores[i] = s
	}
	return stores
}
