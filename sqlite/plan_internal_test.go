package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The publish's delivery inserts read each listed webhook by its id. Left
// to itself, SQLite's planner walked every webhook of the tenant and
// scanned the list for each (the tenant's index first): a publish to one
// webhook of a tenant with a thousand read a thousand, ten times slower
// (BenchmarkPublish/fanout=1/of-1000-webhooks).
func TestPublishReadsOnlyListedWebhooks(t *testing.T) {
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "hookd.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name, query string
		params      int
	}{
		{"insertDeliveries", insertDeliveries, 8},
		{"insertLeased", insertLeased, 7},
	} {
		args := make([]any, tc.params)
		for i := range args {
			args[i] = `{"wh_a":"dlv_a"}`
		}
		rows, err := s.wdb.Query(`EXPLAIN QUERY PLAN `+tc.query, args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if len(plan) < 2 || !strings.HasPrefix(plan[0], "SCAN j") || !strings.Contains(plan[1], "SEARCH w") || !strings.Contains(plan[1], "id=?") {
			t.Errorf("%s: the listed webhooks are not the outer loop, each webhook read by id:\n%s", tc.name, strings.Join(plan, "\n"))
		}
	}
}
