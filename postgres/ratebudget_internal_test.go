package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/queue"
	"github.com/hookd/hookd/storetest"
)

// A claim passes over a rate-limited webhook whose budget another claim
// holds, instead of waiting for it: an audit froze a worker mid-claim (its
// connection blocked sending a large result, so no idle timeout ended it),
// and every other worker's claims waited on its budget locks, delivering
// nothing for as long as it stayed frozen. The webhook keeps its place and
// keeps its place, and a claim reads the line deeper past it (a claim of 1
// here, behind it, still gets the other webhook's); it is claimed once the
// budget is free; a budget row found missing is made.
func TestHeldRateBudgetPassedOver(t *testing.T) {
	clock := storetest.NewClock()
	s, _ := openInternalWith(t, "budget", Config{Clock: clock.Now})
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := clock.Now()
	must(s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}))
	for _, w := range []struct {
		id   string
		rate int
	}{{"wh_limited", 100}, {"wh_free", 0}} {
		must(s.CreateWebhook(ctx, &hookd.Webhook{ID: w.id, TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"}, RateLimit: w.rate,
			Timeout: time.Second, Enabled: true, MaxAttempts: 1, CreatedAt: now, UpdatedAt: now, Secret: hookd.GenerateSecret(hookd.SchemeStandard)}))
	}
	for i := range 2 {
		ev := &hookd.Event{ID: fmt.Sprint("e", i), TenantID: "t", Type: "a.b", Timestamp: now}
		must(ev.BuildPayload([]byte(`{}`), nil))
		_, err := s.PublishEvent(ctx, ev, []string{"wh_limited", "wh_free"}, nil)
		must(err)
	}
	room := func(string, string) (int, time.Duration) { return 10, time.Millisecond }
	claimed := func(limit int) map[string]int {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		res, err := queue.Claim(cctx, s, queue.ClaimParams{Limit: limit, Lease: time.Minute, Room: room})
		must(err)
		n := map[string]int{}
		for _, c := range res.Claims {
			n[c.WebhookID]++
		}
		return n
	}

	_, err := s.pool.Exec(ctx, `UPDATE due_webhooks SET due_at = due_at - 1000 WHERE webhook_id = 'wh_limited'`) // first in line
	must(err)
	held, err := s.pool.Begin(ctx)
	must(err)
	defer held.Rollback(ctx)
	_, err = held.Exec(ctx, `SELECT 1 FROM rate_budgets WHERE webhook_id = 'wh_limited' FOR UPDATE`)
	must(err)
	if got := claimed(1); got["wh_free"] != 1 || got["wh_limited"] != 0 {
		t.Fatalf("a claim of 1 behind a held budget claimed %v, want wh_free's 1", got)
	}
	if got := claimed(10); got["wh_free"] != 1 || got["wh_limited"] != 0 {
		t.Fatalf("claimed %v beside a held budget, want wh_free's other 1 and none of wh_limited's", got)
	}
	must(held.Rollback(ctx))
	// A burst of a tenth of a second's worth: 10 at 100/s.
	if got := claimed(10); got["wh_limited"] != 2 {
		t.Fatalf("claimed %v once the budget was free, want wh_limited's 2", got)
	}

	_, err = s.pool.Exec(ctx, `DELETE FROM rate_budgets`)
	must(err)
	ev := &hookd.Event{ID: "e-late", TenantID: "t", Type: "a.b", Timestamp: now}
	must(ev.BuildPayload([]byte(`{}`), nil))
	_, err = s.PublishEvent(ctx, ev, []string{"wh_limited"}, nil)
	must(err)
	clock.Advance(time.Second)
	if got := claimed(10); got["wh_limited"] != 1 {
		t.Fatalf("claimed %v with the budget row missing, want wh_limited's 1", got)
	}
	var rows int
	must(s.pool.QueryRow(ctx, `SELECT count(*) FROM rate_budgets WHERE webhook_id = 'wh_limited'`).Scan(&rows))
	if rows != 1 {
		t.Fatalf("%d budget rows, want the one made", rows)
	}
}
