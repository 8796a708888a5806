package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// A delete step, and a cancel, take the webhook's row lock before any of
// its deliveries, as a record or a disable does: one of those holding the
// webhook and some of its deliveries makes the step wait, not deadlock with
// it. (A cancel that did not deadlocked with records under load: an
// audit saw 8 in 29 cancels, two of them answered 500 having cancelled
// nothing.)
func TestDeleteStepLocksWebhookFirst(t *testing.T) {
	s, _ := openInternal(t, "delete")
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	must(s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}))
	must(s.CreateWebhook(ctx, &hookd.Webhook{ID: "wh_1", TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
		Timeout: time.Second, Enabled: true, MaxAttempts: 1, CreatedAt: now, UpdatedAt: now, Secret: hookd.GenerateSecret(hookd.SchemeStandard)}))
	for i := range 5 {
		ev := &hookd.Event{ID: fmt.Sprint("e", i), TenantID: "t", Type: "a.b", Timestamp: now}
		must(ev.BuildPayload([]byte(`{}`), nil))
		_, err := s.PublishEvent(ctx, ev, []string{"wh_1"}, nil)
		must(err)
	}
	var middle string
	must(s.pool.QueryRow(ctx, `SELECT id FROM deliveries ORDER BY id OFFSET 2 LIMIT 1`).Scan(&middle))

	for _, tc := range []struct {
		name string
		step func() error
	}{
		{"cancel", func() error { // first: the deletes leave nothing to cancel
			n, _, err := s.CancelDeliveries(ctx, "t", "wh_1", time.Time{})
			if err == nil && n != 5 {
				err = fmt.Errorf("cancelled %d, want 5", n)
			}
			return err
		}},
		{"deliveries", func() error {
			_, _, err := s.DeleteDeliveries(ctx, hookd.DeleteDeliveriesParams{TenantID: "t", WebhookID: "wh_1", Until: now.Add(time.Hour), Limit: 200})
			return err
		}},
		{"events", func() error {
			_, _, err := s.DeleteEvents(ctx, hookd.DeleteEventsParams{TenantID: "t", Until: now.Add(time.Hour), Limit: 200})
			return err
		}},
	} {
		step := tc.step
		t.Run(tc.name, func(t *testing.T) {
			// What a disable does: the webhook, then its deliveries, one
			// first here, the rest once the step waits.
			tx, err := s.pool.Begin(ctx)
			must(err)
			defer tx.Rollback(ctx)
			_, err = tx.Exec(ctx, `SELECT 1 FROM webhooks WHERE id = 'wh_1' FOR NO KEY UPDATE`)
			must(err)
			_, err = tx.Exec(ctx, `UPDATE deliveries SET updated_at = updated_at + 1 WHERE id = $1`, middle)
			must(err)
			done := make(chan error, 1)
			go func() { done <- step() }()
			for waiting := 0; waiting == 0; time.Sleep(5 * time.Millisecond) { // until the step waits on tx
				must(s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()
					AND (query LIKE 'DELETE FROM %' OR query LIKE 'SELECT 1 FROM webhooks WHERE %tenant_id%' OR query LIKE 'UPDATE deliveries d SET status = ''CANCELED''%')`).Scan(&waiting))
			}
			_, err = tx.Exec(ctx, `UPDATE deliveries SET updated_at = updated_at + 1 WHERE webhook_id = 'wh_1'`)
			must(err)
			must(tx.Commit(ctx))
			if err := <-done; err != nil {
				t.Fatalf("the step: %v", err)
			}
		})
	}
	var left int
	must(s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries`).Scan(&left))
	if left != 0 {
		t.Fatalf("%d deliveries left", left)
	}
}
