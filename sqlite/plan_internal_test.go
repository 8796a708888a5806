package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

// explain returns the query plan of query, one line per step.
func explain(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.wdb.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}

func openPlan(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "hookd.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Saving a webhook sets no key column: SQLite checks every table that
// references webhooks when an UPDATE sets one, even to its own value,
// counting each referencing row (every delivery of the webhook, twice; the
// roll-ups): a second a save for a busy webhook.
func TestWebhookUpdateSetsNoKey(t *testing.T) {
	if !strings.HasPrefix(sqlrow.WebhookCols, webhookKeyCols) {
		t.Fatalf("sqlrow.WebhookCols no longer begins with %q", webhookKeyCols)
	}
	s := openPlan(t)
	args := make([]any, sqlrow.WebhookColCount-2+8)
	plan := strings.Join(explain(t, s, webhookUpdate, args...), "\n")
	for _, child := range []string{"deliveries", "stats_hourly", "due_webhooks", "rate_budgets", "SCAN"} {
		if strings.Contains(plan, child) {
			t.Fatalf("a webhook's update reads %s:\n%s", child, plan)
		}
	}
}

// Deleting a webhook deletes its roll-ups through an index (migration
// 0021), not by scanning them.
func TestWebhookDeleteReadsItsRollups(t *testing.T) {
	s := openPlan(t)
	if plan := strings.Join(explain(t, s, `DELETE FROM webhooks WHERE tenant_id = ? AND id = ?`, "t", "wh"), "\n"); strings.Contains(plan, "SCAN stats_hourly") {
		t.Fatalf("a webhook's delete scans the roll-ups:\n%s", plan)
	}
}

// A tenant's statistics read the roll-ups of their window alone, webhook
// by webhook, not every hour the tenant has.
func TestRollupsReadTheirWindow(t *testing.T) {
	s := openPlan(t)
	now := time.Now()
	q, args := sqlrow.RollupSQL(hookd.StatsQuery{TenantID: "t", Since: now.Add(-24 * time.Hour), Until: now}, question)
	attempts, deliveries, sargs := sqlrow.SeriesSQL(hookd.SeriesQuery{TenantID: "t", Since: now.Add(-24 * time.Hour), Step: time.Hour, Buckets: 24},
		num)
	for _, c := range []struct {
		query string
		args  []any
	}{{q, args}, {attempts, sargs}, {deliveries, sargs}} {
		for _, step := range explain(t, s, c.query, c.args...) {
			if strings.Contains(step, "stats_hourly") && !strings.Contains(step, "webhook_id=? AND hour>") {
				t.Fatalf("a roll-up read not by webhook and hour: %q in\n%s", step, c.query)
			}
		}
	}
}

// The publish's delivery inserts read each listed webhook by its id. Left
// to itself, SQLite's planner walked every webhook of the tenant and
// scanned the list for each (the tenant's index first): a publish to one
// webhook of a tenant with a thousand read a thousand, ten times slower
// (BenchmarkPublish/fanout=1/of-1000-webhooks).
func TestPublishReadsOnlyListedWebhooks(t *testing.T) {
	s := openPlan(t)
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
		plan := explain(t, s, tc.query, args...)
		if len(plan) < 2 || !strings.HasPrefix(plan[0], "SCAN j") || !strings.Contains(plan[1], "SEARCH w") || !strings.Contains(plan[1], "id=?") {
			t.Errorf("%s: the listed webhooks are not the outer loop, each webhook read by id:\n%s", tc.name, strings.Join(plan, "\n"))
		}
	}
	// Whether a listed webhook has a delivery due: a seek of its queue.
	if plan := strings.Join(explain(t, s, waitingFor, `{"wh_a":"dlv_a"}`, 0), "\n"); !strings.Contains(plan, "deliveries_queue (webhook_id=? AND next_attempt_at<?)") {
		t.Errorf("waitingFor does not seek deliveries_queue:\n%s", plan)
	}
}

// One event's deliveries (the console's search by event id) are read
// through the event's seq, not every delivery of the tenant.
func TestEventDeliveriesReadByEvent(t *testing.T) {
	s := openPlan(t)
	q := hookd.TenantDeliveryQuery{TenantID: "t", EventID: "evt_1", Limit: 50}
	where, args := sqlrow.TenantDeliveriesWhere(q, question)
	for _, query := range []string{
		`SELECT ` + sqlrow.DeliveryCols + ` FROM deliveries WHERE ` + where + ` ORDER BY created_at DESC, id DESC LIMIT 50`,
		`SELECT count(*) FROM deliveries WHERE ` + where,
	} {
		if plan := explain(t, s, query, args...); len(plan) == 0 || !strings.Contains(plan[0], "deliveries_event (event_seq=?)") {
			t.Fatalf("an event's deliveries not read by its seq:\n%s", strings.Join(plan, "\n"))
		}
	}
}

// A tenant's deliveries: one webhook's are read through the webhook's
// index, and a page after a cursor seeks to it instead of reading every
// newer delivery.
func TestTenantDeliveriesSeek(t *testing.T) {
	s := openPlan(t)
	now := time.Now()
	for _, tc := range []struct {
		q    hookd.TenantDeliveryQuery
		want string
	}{
		{hookd.TenantDeliveryQuery{TenantID: "t", WebhookID: "wh"}, "deliveries_webhook (webhook_id=?)"},
		{hookd.TenantDeliveryQuery{TenantID: "t", WebhookID: "wh", Status: hookd.StatusPending}, "deliveries_queue (webhook_id=?)"},
		{hookd.TenantDeliveryQuery{TenantID: "t", BeforeAt: now, BeforeID: "dlv_x"}, "(tenant_id=? AND created_at<?)"},
	} {
		where, args := sqlrow.TenantDeliveriesWhere(tc.q, question)
		plan := explain(t, s, `SELECT `+sqlrow.DeliveryCols+` FROM deliveries WHERE `+where+` ORDER BY created_at DESC, id DESC LIMIT 50`, args...)
		if len(plan) == 0 || !strings.Contains(plan[0], tc.want) {
			t.Errorf("%+v: want %s, plan:\n%s", tc.q, tc.want, strings.Join(plan, "\n"))
		}
	}
}

// A replay's span reads the events from just before its window, not every
// event of the tenant.
func TestReplaySpanStartsNearItsWindow(t *testing.T) {
	s := openPlan(t)
	plan := explain(t, s, sqlrow.ReplaySpanSQL(num), "t", 1, 0)
	if len(plan) == 0 || !strings.Contains(plan[0], "seq>?") {
		t.Fatalf("a replay's span does not start near its window:\n%s", strings.Join(plan, "\n"))
	}
}

// Several event types are read type by type through their index, not by
// walking the tenant's events until a page of them turns up.
func TestEventsOfSeveralTypesReadByType(t *testing.T) {
	s := openPlan(t)
	where, args := sqlrow.EventsWhere(hookd.EventQuery{TenantID: "t", Types: []string{"a.b", "c.d"}, Limit: 50}, question)
	plan := explain(t, s, `SELECT `+sqlrow.EventCols+` FROM events WHERE `+where+` ORDER BY seq DESC LIMIT 50`, args...)
	if n := strings.Count(strings.Join(plan, "\n"), "events_tenant_type_seq (tenant_id=? AND type=?)"); n != 2 {
		t.Fatalf("%d reads by type, want 2:\n%s", n, strings.Join(plan, "\n"))
	}
}

// The statements run once an event, once an outcome or once a claimed
// webhook build no ephemeral table: SQLite collects a RETURNING clause's
// rows (and an IN list's, and an INSERT's that selects from its own table)
// in one, a B-tree with a pager and page cache of its own, opened and freed
// each run. Once an outcome it cost ~1 % of hookd's CPU at full load and a
// fifth of BenchmarkClaimRecord's time.
func TestDeliveryPathOpensNoEphemeralTable(t *testing.T) {
	s := openPlan(t)
	for _, tc := range []struct {
		name, query string
		params      int
	}{
		{"insertEvent", insertEvent, 9},
		{"insertDeliveries", insertDeliveries, 8},
		{"insertLeased", insertLeased, 7},
		{"waitingFor", waitingFor, 2},
		{"leasedBack", leasedBack, 1},
		{"markPublished", markPublished, 1},
		{"dueOf", dueOf, 3},
		{"leaseOne", leaseOne, 2},
		{"claimRead", claimRead, 1},
		{"insertAttempt", insertAttempt, 11},
		{"updateDelivery", updateDelivery, 8},
		{"updateCanceled", updateCanceled, 8},
		{"releaseLease", releaseLease, 3},
		{"releaseCanceled", releaseCanceled, 3},
		{"noteSuccess", noteSuccess, 2},
	} {
		rows, err := s.wdb.Query(`EXPLAIN `+tc.query, make([]any, tc.params)...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var ops []string
		for rows.Next() {
			var addr int
			var op string
			var p1, p2, p3, p4, p5, comment any
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
		}
		rows.Close()
		if slices.Contains(ops, "OpenEphemeral") || slices.Contains(ops, "OpenAutoindex") {
			t.Errorf("%s opens an ephemeral table: %v", tc.name, ops)
		}
	}
}

// Every reference leads an index of its table (a partial one does not
// count): a deleted parent row looks up its children by it, and without
// one a tenant's or a key's delete scanned the whole child table.
func TestReferencesIndexed(t *testing.T) {
	s := openPlan(t)
	rows, err := s.wdb.Query(`SELECT m.name, f."from", f.seq FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	type ref struct{ table, column string }
	var refs []ref
	for rows.Next() {
		var r ref
		var seq int
		if err := rows.Scan(&r.table, &r.column, &seq); err != nil {
			t.Fatal(err)
		}
		if seq > 0 {
			t.Fatalf("%s: a reference of several columns; check them all here", r.table)
		}
		refs = append(refs, r)
	}
	rows.Close()
	if len(refs) < 16 {
		t.Fatalf("found %d references; the query no longer finds them", len(refs))
	}
	for _, r := range refs {
		var n int
		err := s.wdb.QueryRow(`SELECT count(*) FROM pragma_index_list(?) l, pragma_index_info(l.name) i
			WHERE l.partial = 0 AND i.seqno = 0 AND i.name = ?`, r.table, r.column).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s(%s) references another table and leads no index", r.table, r.column)
		}
	}
}

// The engine's look for failing webhooks to disable reads the few rows of
// its partial index, not every webhook.
func TestFailingWebhooksIndexed(t *testing.T) {
	s := openPlan(t)
	plan := strings.Join(explain(t, s, failingWebhooks, int64(1), 100), "\n")
	if !strings.Contains(plan, "webhooks_failing") {
		t.Fatalf("plan:\n%s", plan)
	}
}

// A delete step reads the webhook's deliveries after its cursor, in id
// order, through the webhook's index: never the tenant's whole range.
func TestDeleteStepReadsTheWebhooksDeliveries(t *testing.T) {
	s := openPlan(t)
	plan := strings.Join(explain(t, s, sqlrow.DeleteDeliveriesSQL(question),
		sqlrow.DeleteDeliveriesArgs(hookd.DeleteDeliveriesParams{TenantID: "t", WebhookID: "wh_1", After: "dlv_1", Until: time.Now(), Limit: 200})...), "\n")
	if !strings.Contains(plan, "deliveries_webhook (webhook_id=? AND id>?)") || strings.Contains(plan, "deliveries_tenant") {
		t.Fatalf("a delete step's plan:\n%s", plan)
	}
}
