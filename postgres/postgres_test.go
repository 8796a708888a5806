package postgres_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/postgres"
	"github.com/hookd/hookd/postgres/pgtest"
	"github.com/hookd/hookd/queue"
	"github.com/hookd/hookd/storetest"
)

// open returns a store in a schema of its own (pgtest).
func open(t *testing.T, box *hookd.SecretBox, clock hookd.Clock) hookd.Store {
	return pgtest.Open(t, postgres.Config{Box: box, Clock: clock})
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock hookd.Clock) hookd.Store { return open(t, nil, clock) })
}

func TestConformanceEncrypted(t *testing.T) {
	box, err := hookd.NewSecretBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T, clock hookd.Clock) hookd.Store { return open(t, box, clock) })
}

func TestMigrateTwice(t *testing.T) {
	url := os.Getenv("HOOKD_TEST_POSTGRES")
	if url == "" {
		t.Skip("HOOKD_TEST_POSTGRES is not set")
	}
	schema := fmt.Sprintf("hookd_test_migrate_%d", os.Getpid())
	ctx := context.Background()
	defer postgres.DropSchema(ctx, url, schema)
	for i := 0; i < 2; i++ {
		s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		s.Close()
	}
}

func TestWakeups(t *testing.T) {
	s := open(t, nil, nil).(*postgres.Store)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := s.Wakeups(ctx)
	<-wake // the first one covers whatever was queued before listening
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}))
	must(s.CreateWebhook(ctx, &hookd.Webhook{ID: "wh_1", TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
		Timeout: time.Second, Enabled: true, MaxAttempts: 1, CreatedAt: now, UpdatedAt: now}))
	ev := &hookd.Event{ID: "e1", TenantID: "t", Type: "a.b", Timestamp: now}
	must(ev.BuildPayload([]byte(`{}`), nil))
	if _, err := s.PublishEvent(ctx, ev, []string{"wh_1"}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up after a publish")
	}
	// A manual retry wakes the other processes too, whichever process (an
	// --role api one included) took the request.
	res, err := queue.Claim(ctx, s, queue.ClaimParams{Limit: 1, Lease: time.Minute, Room: func(string) (int, time.Duration) { return 1, 0 }})
	must(err)
	c := res.Claims[0]
	_, err = queue.Record(ctx, s, []*hookd.Outcome{{Lease: c.Lease, WebhookID: c.WebhookID, Status: hookd.StatusFailed,
		Attempt: &hookd.Attempt{Number: 1, StartedAt: now, StatusCode: 500}}}, nil)
	must(err)
	for drained := false; !drained; {
		select {
		case <-wake:
		default:
			drained = true
		}
	}
	must(s.RetryDelivery(ctx, "t", c.DeliveryID))
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up after a manual retry")
	}
}
