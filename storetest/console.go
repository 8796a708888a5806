package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func testConsoleSessions(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	now := base
	link, linkHash := hookd.NewToken()
	cs := &hookd.ConsoleSession{ID: hookd.NewID(hookd.PrefixConsoleSession, now), TenantID: "acme", ReadOnly: true,
		LinkHash: linkHash, ExpiresAt: now.Add(time.Hour), CreatedAt: now}
	must(t, s.CreateConsoleSession(ctx(), cs))

	// A link is not a session until it is used.
	_, err := s.ConsoleSessionByToken(ctx(), linkHash, now)
	wantErr(t, err, hookd.ErrNotFound)
	_, err = s.RedeemPortalLink(ctx(), linkHash, hookd.HashKey("c"), now.Add(time.Hour))
	wantErr(t, err, hookd.ErrNotFound) // expired at that time

	cookie, cookieHash := hookd.NewToken()
	got, err := s.RedeemPortalLink(ctx(), hookd.HashKey(link), cookieHash, now.Add(time.Minute))
	must(t, err)
	if got.ID != cs.ID || got.TenantID != "acme" || !got.ReadOnly || got.LinkHash != nil || !got.ExpiresAt.Equal(cs.ExpiresAt) {
		t.Fatalf("redeemed = %+v", got)
	}
	// The link is used up.
	_, err = s.RedeemPortalLink(ctx(), linkHash, hookd.HashKey("other"), now.Add(time.Minute))
	wantErr(t, err, hookd.ErrNotFound)

	got, err = s.ConsoleSessionByToken(ctx(), hookd.HashKey(cookie), now.Add(time.Minute))
	must(t, err)
	if got.ID != cs.ID || got.KeyID != "" {
		t.Fatalf("by token = %+v", got)
	}
	_, err = s.ConsoleSessionByToken(ctx(), cookieHash, cs.ExpiresAt)
	wantErr(t, err, hookd.ErrNotFound)

	// An operator session has no tenant; making it sweeps expired ones.
	_, opHash := hookd.NewToken()
	later := now.Add(2 * time.Hour)
	op := &hookd.ConsoleSession{ID: hookd.NewID(hookd.PrefixConsoleSession, later), TokenHash: opHash, ExpiresAt: later.Add(time.Hour), CreatedAt: later}
	must(t, s.CreateConsoleSession(ctx(), op))
	wantErr(t, s.DeleteConsoleSession(ctx(), cs.ID), hookd.ErrNotFound)
	got, err = s.ConsoleSessionByToken(ctx(), opHash, later)
	must(t, err)
	if got.TenantID != "" {
		t.Fatalf("operator session = %+v", got)
	}
	must(t, s.DeleteConsoleSession(ctx(), op.ID))
	_, err = s.ConsoleSessionByToken(ctx(), opHash, later)
	wantErr(t, err, hookd.ErrNotFound)

	// A key's session ends with the key, and every session with its tenant.
	key := &hookd.APIKey{ID: hookd.NewID(hookd.PrefixKey, later), TenantID: "acme", Name: "k", Hash: hookd.HashKey("k"), CreatedAt: later}
	must(t, s.CreateAPIKey(ctx(), key))
	_, keyHash := hookd.NewToken()
	must(t, s.CreateConsoleSession(ctx(), &hookd.ConsoleSession{ID: hookd.NewID(hookd.PrefixConsoleSession, later), TenantID: "acme",
		KeyID: key.ID, TokenHash: keyHash, ExpiresAt: later.Add(time.Hour), CreatedAt: later}))
	got, err = s.ConsoleSessionByToken(ctx(), keyHash, later)
	must(t, err)
	if got.KeyID != key.ID {
		t.Fatalf("key session = %+v", got)
	}
	must(t, s.DeleteAPIKey(ctx(), "acme", key.ID))
	_, err = s.ConsoleSessionByToken(ctx(), keyHash, later)
	wantErr(t, err, hookd.ErrNotFound)

	_, tHash := hookd.NewToken()
	must(t, s.CreateConsoleSession(ctx(), &hookd.ConsoleSession{ID: hookd.NewID(hookd.PrefixConsoleSession, later), TenantID: "acme",
		TokenHash: tHash, ExpiresAt: later.Add(time.Hour), CreatedAt: later}))
	must(t, s.DeleteTenant(ctx(), "acme"))
	_, err = s.ConsoleSessionByToken(ctx(), tHash, later)
	wantErr(t, err, hookd.ErrNotFound)
	// A session for a tenant that does not exist cannot be made.
	if err := s.CreateConsoleSession(ctx(), &hookd.ConsoleSession{ID: "cs_x", TenantID: "nobody", TokenHash: hookd.HashKey("x"),
		ExpiresAt: later.Add(time.Hour), CreatedAt: later}); err == nil {
		t.Fatal("made a session for a missing tenant")
	}
}

func testStatsSeries(t *testing.T, s hookd.Store, clock *Clock) {
	tenant(t, s, "acme")
	tenant(t, s, "globex")
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_a")))
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_b")))
	must(t, s.CreateWebhook(ctx(), webhook("globex", "wh_g")))
	for i := 0; i < 4; i++ {
		_, err := s.PublishEvent(ctx(), event("acme", fmt.Sprintf("e%d", i), "a.b"), []string{"wh_a", "wh_b"}, nil)
		must(t, err)
	}
	_, err := s.PublishEvent(ctx(), event("globex", "g", "a.b"), []string{"wh_g"}, nil)
	must(t, err)

	// The store stamps deliveries with its own clock: the window starts a
	// minute before the first of them, so all fall in the first hour.
	ds, _, err := s.ListDeliveries(ctx(), hookd.DeliveryQuery{TenantID: "acme", WebhookID: "wh_a", Limit: 10})
	must(t, err)
	hour := ds[len(ds)-1].CreatedAt.Add(-time.Minute)
	first := hour.Add(90 * time.Minute) // the second bucket
	clock.Advance(first.Sub(clock.Now()))
	cl := claim(t, s, 100, nil).Claims
	if len(cl) != 9 {
		t.Fatalf("claimed %d", len(cl))
	}
	var results []*hookd.Outcome
	i := -1
	for _, c := range cl {
		if c.WebhookID == "wh_g" {
			continue
		}
		i++
		a := &hookd.Attempt{StartedAt: first, Duration: 7 * time.Millisecond, StatusCode: 200, Success: true}
		status := hookd.StatusSuccess
		switch {
		case i%4 == 1: // a slow failure
			a.Duration, a.StatusCode, a.Success, a.Error, status = 700*time.Millisecond, 500, false, "HTTP 500", hookd.StatusFailed
		case i%4 == 2: // no answer: no response time
			a.Duration, a.StatusCode, a.Success, a.Error, status = 30*time.Second, 0, false, "timeout", hookd.StatusFailed
		}
		results = append(results, &hookd.Outcome{Lease: c.Lease, WebhookID: c.WebhookID, Attempt: a, Status: status})
	}
	record(t, s, results...)

	q := hookd.SeriesQuery{TenantID: "acme", Since: hour, Step: time.Hour, Buckets: 3}
	buckets, err := s.StatsSeries(ctx(), q)
	must(t, err)
	if len(buckets) != 3 || !buckets[0].Start.Equal(hour) || !buckets[2].Start.Equal(hour.Add(2*time.Hour)) {
		t.Fatalf("buckets = %+v", buckets)
	}
	created, tried := buckets[0], buckets[1]
	if n := created.ByStatus[hookd.StatusSuccess] + created.ByStatus[hookd.StatusFailed]; n != 8 || created.Attempts != 0 {
		t.Fatalf("first hour = %+v", created)
	}
	if tried.Attempts != 8 || tried.Successes != created.ByStatus[hookd.StatusSuccess] || tried.ByStatus[hookd.StatusSuccess] != 0 {
		t.Fatalf("second hour = %+v, created %+v", tried, created)
	}
	timeouts := tried.Attempts - tried.Latency.Count()
	if timeouts != 2 || tried.Latency.Counts[hookd.LatencyBin(7*time.Millisecond)] != tried.Successes || tried.Latency.Counts[hookd.LatencyBin(700*time.Millisecond)] != tried.Attempts-tried.Successes-timeouts {
		t.Fatalf("latency bins = %v (%d attempts, %d successes)", tried.Latency, tried.Attempts, tried.Successes)
	}
	if p := tried.Latency.Quantile(0.99); p < 500*time.Millisecond || p > time.Second {
		t.Fatalf("p99 = %v", p)
	}

	q.WebhookID = "wh_a"
	buckets, err = s.StatsSeries(ctx(), q)
	must(t, err)
	if buckets[1].Attempts != 4 || buckets[0].ByStatus[hookd.StatusPending] != 0 {
		t.Fatalf("one webhook = %+v", buckets[1])
	}
	// The window's bounds hold: nothing before Since or from Until on.
	q = hookd.SeriesQuery{TenantID: "acme", Since: hour.Add(time.Hour), Step: 30 * time.Minute, Buckets: 1}
	buckets, err = s.StatsSeries(ctx(), q)
	must(t, err)
	if len(buckets) != 1 || buckets[0].Attempts != 0 || buckets[0].ByStatus[hookd.StatusSuccess] != 0 {
		t.Fatalf("outside the window = %+v", buckets[0])
	}
}
