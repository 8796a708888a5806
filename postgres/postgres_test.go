package postgres_test

import (
	"context"
	"errors"
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

// A webhook sealed with another key (or none) is read, marked, and kept
// as stored until rotated (storetest.UnreadableSecret).
func TestUnreadableSecret(t *testing.T) {
	sealBox, _ := hookd.NewSecretBox([]byte("0123456789abcdef0123456789abcdef"))
	otherBox, _ := hookd.NewSecretBox([]byte("another key, 32 bytes long......"))
	for _, readBox := range []*hookd.SecretBox{nil, otherBox} {
		s := pgtest.OpenEach(t, postgres.Config{Box: sealBox}, postgres.Config{Box: readBox})
		storetest.UnreadableSecret(t, s[0], s[1])
	}
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

func TestListen(t *testing.T) {
	s := open(t, nil, nil).(*postgres.Store)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake, changed := make(chan struct{}, 1), make(chan string, 16)
	go s.Listen(ctx, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}, func(id string) { changed <- id })
	// The first ones cover whatever was queued or changed before listening.
	<-wake
	if id := <-changed; id != "" {
		t.Fatalf("first change %q, want every webhook", id)
	}
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	wantChange := func(what, want string) {
		t.Helper()
		select {
		case id := <-changed:
			if id != want {
				t.Fatalf("%s: told of %q, want %q", what, id, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no change told", what)
		}
	}
	must(s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}))
	for _, id := range []string{"wh_1", "wh_2", "wh_3"} {
		must(s.CreateWebhook(ctx, &hookd.Webhook{ID: id, TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
			Timeout: time.Second, Enabled: true, MaxAttempts: 3, CreatedAt: now, UpdatedAt: now}))
	}
	ev := &hookd.Event{ID: "e1", TenantID: "t", Type: "a.b", Timestamp: now}
	must(ev.BuildPayload([]byte(`{}`), nil))
	if _, err := s.PublishEvent(ctx, ev, []string{"wh_1", "wh_2", "wh_3"}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up after a publish")
	}
	// A manual retry wakes the other processes too, whichever process (an
	// --role api one included) took the request.
	res, err := queue.Claim(ctx, s, queue.ClaimParams{Limit: 3, Lease: time.Minute, Room: func(string, string) (int, time.Duration) { return 3, 0 }})
	must(err)
	claims := map[string]*hookd.Claim{}
	for _, c := range res.Claims {
		claims[c.WebhookID] = c
	}
	c := claims["wh_1"]
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

	// Every change that can stop a delivery another process holds is told,
	// once committed, with its webhook; one that did not commit is not
	// (the next one told is the change after it).
	wh, err := s.GetWebhook(ctx, "t", "wh_1")
	must(err)
	wh.Enabled = false
	if _, err := s.UpdateWebhook(ctx, wh, now.Add(-time.Hour)); !errors.Is(err, hookd.ErrStale) {
		t.Fatalf("stale update: %v", err)
	}
	_, err = s.UpdateWebhook(ctx, wh, wh.UpdatedAt)
	must(err)
	wantChange("disable", "wh_1")
	_, _, err = s.CancelDeliveries(ctx, "t", "wh_2", time.Time{})
	must(err)
	wantChange("cancel", "wh_2")
	c = claims["wh_3"]
	_, err = queue.Record(ctx, s, []*hookd.Outcome{{Lease: c.Lease, WebhookID: c.WebhookID, Status: hookd.StatusFailed,
		Attempt: &hookd.Attempt{Number: 1, StartedAt: now, StatusCode: 410}}}, nil)
	must(err)
	wantChange("410 Gone", "wh_3")
	must(s.DeleteWebhook(ctx, "t", "wh_2"))
	wantChange("delete", "wh_2")
	must(s.DeleteTenant(ctx, "t"))
	wantChange("tenant delete", "wh_1")
	wantChange("tenant delete", "wh_3")
}

// A change's Settle returns only once every other process's listener has
// handled the changes committed before it (its engine told): a process
// slow to take the change's notice holds the Settle, and with it the
// change's answer (an audit saw attempts start in other processes up to
// 16 ms after a cancel or an edit was answered). Without listeners there
// is nothing to wait for.
func TestSettleWaitsForEveryListener(t *testing.T) {
	stores := pgtest.OpenReplicas(t, 2, postgres.Config{})
	a, b := stores[0], stores[1]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := a.Settle(ctx); err != nil {
		t.Fatalf("a settle with no one listening: %v", err)
	}
	now := time.Now()
	if err := a.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	wh := &hookd.Webhook{ID: "wh_1", TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
		Timeout: time.Second, Enabled: true, MaxAttempts: 3, CreatedAt: now, UpdatedAt: now}
	if err := a.CreateWebhook(ctx, wh); err != nil {
		t.Fatal(err)
	}
	listening, entered, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go b.Listen(ctx, func() {}, func(id string) {
		switch id {
		case "":
			close(listening)
		case "wh_1":
			close(entered)
			<-release // b's engine is slow to take the change in
		}
	})
	<-listening
	ev := &hookd.Event{ID: "e1", TenantID: "t", Type: "a.b", Timestamp: now}
	if err := ev.BuildPayload([]byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PublishEvent(ctx, ev, []string{"wh_1"}, nil); err != nil {
		t.Fatal(err)
	}
	if n, _, err := a.CancelDeliveries(ctx, "t", "wh_1", time.Time{}); err != nil || n != 1 {
		t.Fatalf("cancel: %d, %v", n, err)
	}
	settled := make(chan error, 1)
	go func() { settled <- a.Settle(ctx) }()
	<-entered
	select {
	case err := <-settled:
		t.Fatalf("settled (%v) while the other process had not taken the change in", err)
	default:
	}
	close(release)
	select {
	case err := <-settled:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no settle after the other process took the change in")
	}
}
