package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/queue"
)

// A claim passes over a rate-limited webhook whose budget another claim
// holds, instead of waiting for it: an audit froze a worker mid-claim (its
// connection blocked sending a large result, so no idle timeout ended it),
// and every other worker's claims waited on its budget locks, delivering
// nothing for as long as it stayed frozen. The webhook keeps its place and
// is claimed once the budget is free; a budget row found missing is made.
func TestHeldRateBudgetPassedOver(t *testing.T) {
	s, _ := openInternal(t, "budget")
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
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
	claimed := func() map[string]int {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		res, err := queue.Claim(cctx, s, queue.ClaimParams{Limit: 10, Lease: time.Minute, Room: room})
		must(err)
		n := map[string]int{}
		for _, c := range res.Claims {
			n[c.WebhookID]++
		}
		return n
	}

	held, err := s.pool.Begin(ctx)
	must(err)
	defer held.Rollback(ctx)
	_, err = held.Exec(ctx, `SELECT 1 FROM rate_budgets WHERE webhook_id = 'wh_limited' FOR UPDATE`)
	must(err)
	if got := claimed(); got["wh_free"] != 2 || got["wh_limited"] != 0 {
		t.Fatalf("claimed %v beside a held budget, want wh_free's 2 and none of wh_limited's", got)
	}
	must(held.Rollback(ctx))
	// A burst of a tenth of a second's worth: 10 at 100/s.
	if got := claimed(); got["wh_limited"] != 2 {
		t.Fatalf("claimed %v once the budget was free, want wh_limited's 2", got)
	}

	_, err = s.pool.Exec(ctx, `DELETE FROM rate_budgets`)
	must(err)
	ev := &hookd.Event{ID: "e-late", TenantID: "t", Type: "a.b", Timestamp: now}
	must(ev.BuildPayload([]byte(`{}`), nil))
	_, err = s.PublishEvent(ctx, ev, []string{"wh_limited"}, nil)
	must(err)
	if got := claimed(); got["wh_limited"] != 1 {
		t.Fatalf("claimed %v with the budget row missing, want wh_limited's 1", got)
	}
	var rows int
	must(s.pool.QueryRow(ctx, `SELECT count(*) FROM rate_budgets WHERE webhook_id = 'wh_limited'`).Scan(&rows))
	if rows != 1 {
		t.Fatalf("%d budget rows, want the one made", rows)
	}
}
