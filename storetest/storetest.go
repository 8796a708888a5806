// Package storetest is the conformance suite of hookd.Store: every storage
// engine runs it, so that the API and the delivery engine can rely on one
// behaviour whatever the database.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// NewStore opens an empty store for one test; the suite closes it.
type NewStore func(t *testing.T) hookd.Store

// Run runs the whole suite.
func Run(t *testing.T, newStore NewStore) {
	tests := map[string]func(*testing.T, hookd.Store){
		"AdminKey":             testAdminKey,
		"Tenants":              testTenants,
		"APIKeys":              testAPIKeys,
		"EventTypes":           testEventTypes,
		"Webhooks":             testWebhooks,
		"WebhookListPaging":    testWebhookListPaging,
		"Publish":              testPublish,
		"PublishIdempotent":    testPublishIdempotent,
		"PublishConcurrent":    testPublishConcurrent,
		"ListEventsCursor":     testListEventsCursor,
		"DisableFailsWaiting":  testDisableFailsWaiting,
		"DeleteTenantCascades": testDeleteTenantCascades,
		"PublishManyWebhooks":  testPublishManyWebhooks,
		"Queue":                testQueue,
		"RateBudget":           testRateBudget,
		"TestDelivery":         testTestDelivery,
		"ConsoleSessions":      testConsoleSessions,
		"StatsSeries":          testStatsSeries,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)

func ctx() context.Context { return context.Background() }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func testAdminKey(t *testing.T, s hookd.Store) {
	_, err := s.AdminKeyHash(ctx())
	wantErr(t, err, hookd.ErrNotFound)
	must(t, s.SetAdminKeyHash(ctx(), hookd.HashKey("a")))
	must(t, s.SetAdminKeyHash(ctx(), hookd.HashKey("b")))
	h, err := s.AdminKeyHash(ctx())
	must(t, err)
	if string(h) != string(hookd.HashKey("b")) {
		t.Fatal("admin key hash not replaced")
	}
}

func tenant(t *testing.T, s hookd.Store, id string) *hookd.Tenant {
	t.Helper()
	tn := &hookd.Tenant{ID: id, Name: "Tenant " + id, CreatedAt: base}
	must(t, s.CreateTenant(ctx(), tn))
	return tn
}

func testTenants(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	tenant(t, s, "globex")
	wantErr(t, s.CreateTenant(ctx(), &hookd.Tenant{ID: "acme", Name: "again", CreatedAt: base}), hookd.ErrConflict)
	got, err := s.GetTenant(ctx(), "acme")
	must(t, err)
	if got.Name != "Tenant acme" || !got.CreatedAt.Equal(base) {
		t.Fatalf("GetTenant = %+v", got)
	}
	got.Name = "Acme Inc."
	must(t, s.UpdateTenant(ctx(), got))
	got, _ = s.GetTenant(ctx(), "acme")
	if got.Name != "Acme Inc." {
		t.Fatalf("name not updated: %q", got.Name)
	}
	list, total, err := s.ListTenants(ctx(), hookd.Page{Limit: 1, Offset: 1})
	must(t, err)
	if total != 2 || len(list) != 1 || list[0].ID != "globex" {
		t.Fatalf("ListTenants = %d %+v", total, list)
	}
	wantErr(t, s.UpdateTenant(ctx(), &hookd.Tenant{ID: "nope", Name: "x"}), hookd.ErrNotFound)
	must(t, s.DeleteTenant(ctx(), "globex"))
	wantErr(t, s.DeleteTenant(ctx(), "globex"), hookd.ErrNotFound)
	_, err = s.GetTenant(ctx(), "globex")
	wantErr(t, err, hookd.ErrNotFound)
}

func testAPIKeys(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	k := &hookd.APIKey{ID: hookd.NewID(hookd.PrefixKey, base), TenantID: "acme", Name: "ci", Hash: hookd.HashKey("secret-1"), CreatedAt: base}
	must(t, s.CreateAPIKey(ctx(), k))
	got, err := s.APIKeyByHash(ctx(), hookd.HashKey("secret-1"))
	must(t, err)
	if got.ID != k.ID || got.TenantID != "acme" || got.Name != "ci" {
		t.Fatalf("APIKeyByHash = %+v", got)
	}
	_, err = s.APIKeyByHash(ctx(), hookd.HashKey("other"))
	wantErr(t, err, hookd.ErrNotFound)
	list, err := s.ListAPIKeys(ctx(), "acme")
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("ListAPIKeys = %d", len(list))
	}
	wantErr(t, s.DeleteAPIKey(ctx(), "other-tenant", k.ID), hookd.ErrNotFound)
	must(t, s.DeleteAPIKey(ctx(), "acme", k.ID))
	_, err = s.APIKeyByHash(ctx(), hookd.HashKey("secret-1"))
	wantErr(t, err, hookd.ErrNotFound)
}

func eventType(t *testing.T, s hookd.Store, name string, schema string) *hookd.EventType {
	t.Helper()
	et := &hookd.EventType{Name: name, Description: "about " + name, CreatedAt: base, UpdatedAt: base}
	if schema != "" {
		et.Schema = json.RawMessage(schema)
	}
	must(t, s.CreateEventType(ctx(), et))
	return et
}

func testEventTypes(t *testing.T, s hookd.Store) {
	eventType(t, s, "invocation.completed", `{"type":"object"}`)
	eventType(t, s, "flow_completed", "")
	wantErr(t, s.CreateEventType(ctx(), &hookd.EventType{Name: "flow_completed", CreatedAt: base, UpdatedAt: base}), hookd.ErrConflict)
	et, err := s.GetEventType(ctx(), "invocation.completed")
	must(t, err)
	if string(et.Schema) != `{"type":"object"}` || et.Archived {
		t.Fatalf("GetEventType = %+v", et)
	}
	et.Archived = true
	et.Schema = nil
	et.UpdatedAt = base.Add(time.Hour)
	must(t, s.UpdateEventType(ctx(), et))
	et, _ = s.GetEventType(ctx(), "invocation.completed")
	if !et.Archived || et.Schema != nil || !et.UpdatedAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("after update = %+v", et)
	}
	list, err := s.ListEventTypes(ctx())
	must(t, err)
	if len(list) != 2 || list[0].Name != "flow_completed" {
		t.Fatalf("ListEventTypes = %+v", list)
	}
	_, err = s.GetEventType(ctx(), "nope")
	wantErr(t, err, hookd.ErrNotFound)
}

func webhook(tenantID, id string) *hookd.Webhook {
	return &hookd.Webhook{
		ID: id, TenantID: tenantID, Name: "hook " + id, URL: "https://example.com/" + id,
		Events: []string{"*"}, Timeout: hookd.DefaultTimeout, Enabled: true, SSLVerification: true,
		MaxAttempts: 8, Secret: hookd.GenerateSecret(hookd.SchemeStandard), CreatedAt: base, UpdatedAt: base,
	}
}

func testWebhooks(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	w := webhook("acme", "wh_1")
	w.Headers = map[string]string{"X-Team": "blue"}
	w.Channels = []string{"eu", "us"}
	w.Filter = `data.amount > 10`
	w.RateLimit = 5
	w.Description = "desc"
	w.Metadata = map[string]string{"owner": "me"}
	w.Signature = &hookd.Signature{Scheme: hookd.SchemeHMACSHA256, Header: "X-Sig", Content: "{timestamp}.{body}", Encoding: "hex"}
	w.PreviousSecret = "whsec_old"
	w.PreviousSecretExpiresAt = base.Add(time.Hour)
	w.Timeout = 5 * time.Second
	must(t, s.CreateWebhook(ctx(), w))
	got, err := s.GetWebhook(ctx(), "acme", "wh_1")
	must(t, err)
	a, _ := json.Marshal(w)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Fatalf("round trip:\n got %s\nwant %s", b, a)
	}
	if got.Secret != w.Secret || got.PreviousSecret != "whsec_old" || !got.PreviousSecretExpiresAt.Equal(w.PreviousSecretExpiresAt) {
		t.Fatalf("secrets not kept: %+v", got)
	}
	_, err = s.GetWebhook(ctx(), "other", "wh_1")
	wantErr(t, err, hookd.ErrNotFound)

	got.Name = "renamed"
	got.Channels = nil
	got.Filter = ""
	got.UpdatedAt = base.Add(time.Minute)
	must(t, s.UpdateWebhook(ctx(), got))
	again, _ := s.GetWebhook(ctx(), "acme", "wh_1")
	if again.Name != "renamed" || again.Channels != nil || again.Filter != "" || !again.UpdatedAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("after update = %+v", again)
	}
	wantErr(t, s.UpdateWebhook(ctx(), webhook("acme", "wh_missing")), hookd.ErrNotFound)

	w2 := webhook("acme", "wh_2")
	w2.Enabled = false
	must(t, s.CreateWebhook(ctx(), w2))
	enabled, err := s.EnabledWebhooks(ctx(), "acme")
	must(t, err)
	if len(enabled) != 1 || enabled[0].ID != "wh_1" {
		t.Fatalf("EnabledWebhooks = %v", enabled)
	}
	must(t, s.DeleteWebhook(ctx(), "acme", "wh_1"))
	wantErr(t, s.DeleteWebhook(ctx(), "acme", "wh_1"), hookd.ErrNotFound)
}

func testWebhookListPaging(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	tenant(t, s, "other")
	for i := 0; i < 7; i++ {
		w := webhook("acme", fmt.Sprintf("wh_%02d", i))
		w.Enabled = i%2 == 0
		must(t, s.CreateWebhook(ctx(), w))
	}
	must(t, s.CreateWebhook(ctx(), webhook("other", "wh_other")))
	list, total, err := s.ListWebhooks(ctx(), hookd.WebhookQuery{TenantID: "acme", Page: hookd.Page{Limit: 3, Offset: 3}})
	must(t, err)
	if total != 7 || len(list) != 3 || list[0].ID != "wh_03" {
		t.Fatalf("page = %d %v", total, ids(list))
	}
	yes := true
	list, total, err = s.ListWebhooks(ctx(), hookd.WebhookQuery{TenantID: "acme", Enabled: &yes, Page: hookd.Page{Limit: 50}})
	must(t, err)
	if total != 4 || len(list) != 4 {
		t.Fatalf("active = %d %v", total, ids(list))
	}
}

func ids(ws []*hookd.Webhook) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

func event(tenantID, id, typ string) *hookd.Event {
	ev := &hookd.Event{ID: id, TenantID: tenantID, Type: typ, Timestamp: base}
	if err := ev.BuildPayload(json.RawMessage(`{"n": 1}`), nil); err != nil {
		panic(err)
	}
	return ev
}

func testPublish(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_a")))
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_b")))
	off := webhook("acme", "wh_off")
	off.Enabled = false
	must(t, s.CreateWebhook(ctx(), off))

	ev := event("acme", "evt_1", "a.b")
	ev.Channels = []string{"eu"}
	res, err := s.PublishEvent(ctx(), ev, []string{"wh_a", "wh_b", "wh_off", "wh_gone"})
	must(t, err)
	if res.Duplicate || res.Deliveries != 2 {
		t.Fatalf("PublishEvent = %+v, want 2 deliveries (disabled and missing webhooks skipped)", res)
	}
	got, err := s.GetEvent(ctx(), "acme", "evt_1")
	must(t, err)
	if string(got.Payload) != string(ev.Payload) || got.Type != "a.b" || !got.Timestamp.Equal(base) || len(got.Channels) != 1 {
		t.Fatalf("GetEvent = %+v", got)
	}
	ds, err := s.ListEventDeliveries(ctx(), "acme", "evt_1")
	must(t, err)
	if len(ds) != 2 {
		t.Fatalf("deliveries = %d", len(ds))
	}
	for _, d := range ds {
		if d.Status != hookd.StatusPending || d.Attempts != 0 || d.EventID != "evt_1" || d.EventType != "a.b" || d.NextAttemptAt.IsZero() {
			t.Fatalf("delivery = %+v", d)
		}
	}
	_, err = s.GetEvent(ctx(), "other", "evt_1")
	wantErr(t, err, hookd.ErrNotFound)

	// An event with no webhooks is still stored.
	res, err = s.PublishEvent(ctx(), event("acme", "evt_2", "a.b"), nil)
	must(t, err)
	if res.Deliveries != 0 {
		t.Fatalf("deliveries = %d", res.Deliveries)
	}
}

func testPublishIdempotent(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	tenant(t, s, "other")
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_a")))
	first := event("acme", "order-42", "a.b")
	_, err := s.PublishEvent(ctx(), first, []string{"wh_a"})
	must(t, err)
	second := event("acme", "order-42", "c.d")
	res, err := s.PublishEvent(ctx(), second, []string{"wh_a"})
	must(t, err)
	if !res.Duplicate || res.Event.Type != "a.b" || res.Deliveries != 1 {
		t.Fatalf("second publish = %+v", res)
	}
	ds, _ := s.ListEventDeliveries(ctx(), "acme", "order-42")
	if len(ds) != 1 {
		t.Fatalf("deliveries = %d, want 1", len(ds))
	}
	// Keys are per tenant.
	res, err = s.PublishEvent(ctx(), event("other", "order-42", "a.b"), nil)
	must(t, err)
	if res.Duplicate {
		t.Fatal("other tenant's event counted as duplicate")
	}
}

func testPublishConcurrent(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_a")))
	const n = 64
	var wg sync.WaitGroup
	var mu sync.Mutex
	dups, created := 0, 0
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Half share one idempotency key; the rest are distinct.
			id := fmt.Sprintf("evt_%d", i)
			if i%2 == 0 {
				id = "same"
			}
			res, err := s.PublishEvent(ctx(), event("acme", id, "a.b"), []string{"wh_a"})
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			if res.Duplicate {
				dups++
			} else {
				created++
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if created != n/2+1 || dups != n/2-1 {
		t.Fatalf("created %d, duplicates %d; want %d and %d", created, dups, n/2+1, n/2-1)
	}
	ds, _ := s.ListEventDeliveries(ctx(), "acme", "same")
	if len(ds) != 1 {
		t.Fatalf("deliveries of the shared key = %d, want 1", len(ds))
	}
}

func testListEventsCursor(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	for i := 0; i < 5; i++ {
		typ := "a.b"
		if i%2 == 1 {
			typ = "c.d"
		}
		_, err := s.PublishEvent(ctx(), event("acme", fmt.Sprintf("e%d", i), typ), nil)
		must(t, err)
	}
	page1, err := s.ListEvents(ctx(), hookd.EventQuery{TenantID: "acme", Limit: 2})
	must(t, err)
	if len(page1) != 2 || page1[0].ID != "e4" || page1[1].ID != "e3" {
		t.Fatalf("page1 = %v", evIDs(page1))
	}
	page2, err := s.ListEvents(ctx(), hookd.EventQuery{TenantID: "acme", Limit: 2, Before: page1[1].Seq})
	must(t, err)
	if len(page2) != 2 || page2[0].ID != "e2" {
		t.Fatalf("page2 = %v", evIDs(page2))
	}
	typed, err := s.ListEvents(ctx(), hookd.EventQuery{TenantID: "acme", Type: "c.d", Limit: 10})
	must(t, err)
	if len(typed) != 2 || typed[0].ID != "e3" {
		t.Fatalf("typed = %v", evIDs(typed))
	}
}

func evIDs(es []*hookd.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func testDisableFailsWaiting(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	w := webhook("acme", "wh_a")
	must(t, s.CreateWebhook(ctx(), w))
	_, err := s.PublishEvent(ctx(), event("acme", "e1", "a.b"), []string{"wh_a"})
	must(t, err)
	w.Enabled = false
	w.UpdatedAt = base.Add(time.Minute)
	must(t, s.UpdateWebhook(ctx(), w))
	ds, _ := s.ListEventDeliveries(ctx(), "acme", "e1")
	if len(ds) != 1 || ds[0].Status != hookd.StatusFailed || ds[0].LastError == "" {
		t.Fatalf("after disable: %+v", ds[0])
	}
}

func testDeleteTenantCascades(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_a")))
	must(t, s.CreateAPIKey(ctx(), &hookd.APIKey{ID: "key_1", TenantID: "acme", Name: "k", Hash: hookd.HashKey("k"), CreatedAt: base}))
	_, err := s.PublishEvent(ctx(), event("acme", "e1", "a.b"), []string{"wh_a"})
	must(t, err)
	must(t, s.DeleteTenant(ctx(), "acme"))
	_, err = s.APIKeyByHash(ctx(), hookd.HashKey("k"))
	wantErr(t, err, hookd.ErrNotFound)
	_, err = s.GetWebhook(ctx(), "acme", "wh_a")
	wantErr(t, err, hookd.ErrNotFound)
	_, err = s.GetEvent(ctx(), "acme", "e1")
	wantErr(t, err, hookd.ErrNotFound)
	// The id is free again, with nothing left under it.
	tenant(t, s, "acme")
	ds, err := s.ListEventDeliveries(ctx(), "acme", "e1")
	must(t, err)
	if len(ds) != 0 {
		t.Fatalf("deliveries survived tenant deletion: %d", len(ds))
	}
}

func testPublishManyWebhooks(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	var hooks []string
	for i := 0; i < 1200; i++ {
		w := webhook("acme", fmt.Sprintf("wh_%04d", i))
		must(t, s.CreateWebhook(ctx(), w))
		hooks = append(hooks, w.ID)
	}
	res, err := s.PublishEvent(ctx(), event("acme", "e1", "a.b"), hooks)
	must(t, err)
	if res.Deliveries != 1200 {
		t.Fatalf("deliveries = %d, want 1200", res.Deliveries)
	}
}

func claim(t *testing.T, s hookd.Store, now time.Time, limit int, room func(string) (int, time.Duration)) *hookd.ClaimResult {
	t.Helper()
	if room == nil {
		room = func(string) (int, time.Duration) { return 1000, time.Second }
	}
	res, err := s.ClaimDeliveries(ctx(), hookd.ClaimParams{Now: now, Lease: time.Minute, Limit: limit, Room: room})
	must(t, err)
	return res
}

// A rate-limited webhook's budget is spent by claims and kept in the
// store, so that concurrent claimers (replicas) share one budget.
func testRateBudget(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	limited, free := webhook("acme", "wh_r"), webhook("acme", "wh_f")
	limited.RateLimit = 20 // a request every 50ms, bursts of 2
	must(t, s.CreateWebhook(ctx(), limited))
	must(t, s.CreateWebhook(ctx(), free))
	for i := 0; i < 16; i++ {
		_, err := s.PublishEvent(ctx(), event("acme", fmt.Sprintf("e%d", i), "a.b"), []string{"wh_r", "wh_f"})
		must(t, err)
	}
	now := hookd.Truncate(time.Now().Add(time.Second))
	count := func(res *hookd.ClaimResult) map[string]int {
		n := map[string]int{}
		for _, c := range res.Claims {
			n[c.WebhookID]++
		}
		return n
	}
	if n := count(claim(t, s, now, 100, nil)); n["wh_r"] != 2 || n["wh_f"] != 16 {
		t.Fatalf("first claim took %v, want wh_r's burst of 2 and all 16 of wh_f", n)
	}
	// Concurrent claims at one instant share the refilled burst of 2, round
	// after round.
	for round := 0; round < 4; round++ {
		now = now.Add(10 * time.Second)
		var mu sync.Mutex
		total := map[string]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := s.ClaimDeliveries(ctx(), hookd.ClaimParams{Now: now, Lease: time.Minute, Limit: 1,
					Room: func(string) (int, time.Duration) { return 100, time.Second }})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for w, n := range count(res) {
					total[w] += n
				}
			}()
		}
		close(start)
		wg.Wait()
		if total["wh_r"] != 2 {
			t.Fatalf("round %d: concurrent claims took %d of the rate-limited webhook's rows, want its burst of 2", round, total["wh_r"])
		}
	}
	// Nothing more until the next 50ms step; NextDue says when.
	res := claim(t, s, now.Add(time.Millisecond), 100, nil)
	if n := count(res); n["wh_r"] != 0 {
		t.Fatalf("claimed %d over budget", n["wh_r"])
	}
	if want := now.Add(50 * time.Millisecond); !res.NextDue.Equal(want) {
		t.Fatalf("NextDue = %v, want %v (the budget's next step)", res.NextDue, want)
	}
	if n := count(claim(t, s, now.Add(50*time.Millisecond), 100, nil)); n["wh_r"] != 1 {
		t.Fatalf("at the next step claimed %d, want 1", n["wh_r"])
	}
	// An idle second refills the burst, and no more.
	if n := count(claim(t, s, now.Add(2*time.Second), 100, nil)); n["wh_r"] != 2 {
		t.Fatalf("after a pause claimed %d, want the burst of 2", n["wh_r"])
	}
}

func testQueue(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	a, b := webhook("acme", "wh_a"), webhook("acme", "wh_b")
	must(t, s.CreateWebhook(ctx(), a))
	must(t, s.CreateWebhook(ctx(), b))
	for i := 0; i < 3; i++ {
		_, err := s.PublishEvent(ctx(), event("acme", fmt.Sprintf("e%d", i), "a.b"), []string{"wh_a", "wh_b"})
		must(t, err)
	}
	now := hookd.Truncate(time.Now().Add(time.Second))

	// wh_a has room for one; the rest of its due rows are deferred.
	res := claim(t, s, now, 10, func(w string) (int, time.Duration) {
		if w == "wh_a" {
			return 1, 10 * time.Second
		}
		return 10, time.Second
	})
	perHook := map[string]int{}
	for _, c := range res.Claims {
		perHook[c.WebhookID]++
		if len(c.Payload) == 0 || c.EventType != "a.b" || c.Attempts != 0 || c.Manual || c.WebhookUpdatedAt.IsZero() {
			t.Fatalf("claim = %+v", c)
		}
	}
	if perHook["wh_a"] != 1 || perHook["wh_b"] != 3 {
		t.Fatalf("claimed per webhook = %v, want wh_a 1, wh_b 3", perHook)
	}
	// Leased and deferred rows are not due again now.
	if again := claim(t, s, now, 10, nil); len(again.Claims) != 0 {
		t.Fatalf("claimed %d leased or deferred rows again", len(again.Claims))
	}
	if res.NextDue.IsZero() || !res.NextDue.After(now) {
		t.Fatalf("NextDue = %v", res.NextDue)
	}
	// Deferred rows fall due after the deferral, leased ones after the lease.
	if n := len(claim(t, s, now.Add(11*time.Second), 10, nil).Claims); n != 2 {
		t.Fatalf("after the deferral claimed %d, want wh_a's other 2", n)
	}
	if n := len(claim(t, s, now.Add(2*time.Minute), 10, nil).Claims); n != 6 {
		t.Fatalf("after the lease claimed %d, want all 6 (nothing was recorded)", n)
	}

	// Record: one success, one retry, one failure, one release.
	later := now.Add(3 * time.Minute)
	cl := claim(t, s, later, 10, nil).Claims
	if len(cl) != 6 {
		t.Fatalf("claimed %d", len(cl))
	}
	att := func(ok bool, code int) *hookd.Attempt {
		return &hookd.Attempt{StartedAt: later, Duration: 20 * time.Millisecond, StatusCode: code, Success: ok,
			Error: map[bool]string{false: "HTTP 500"}[ok], RequestHeaders: map[string]string{"Webhook-Id": "x"},
			ResponseHeaders: map[string]string{"X-A": "b"}, ResponseBody: []byte("body")}
	}
	next := later.Add(time.Hour)
	must(t, s.RecordAttempts(ctx(), []*hookd.AttemptResult{
		{DeliveryID: cl[0].DeliveryID, Attempt: att(true, 200), Status: hookd.StatusSuccess},
		{DeliveryID: cl[1].DeliveryID, Attempt: att(false, 500), Status: hookd.StatusRetrying, NextAttemptAt: next},
		{DeliveryID: cl[2].DeliveryID, Attempt: att(false, 500), Status: hookd.StatusFailed},
		{DeliveryID: cl[3].DeliveryID, Release: true, NextAttemptAt: later},
		{DeliveryID: "dlv_deleted_meanwhile", Attempt: att(true, 200), Status: hookd.StatusSuccess},
	}))
	d0, err := s.GetDelivery(ctx(), "acme", cl[0].DeliveryID)
	must(t, err)
	if d0.Delivery.Status != hookd.StatusSuccess || d0.Delivery.Attempts != 1 || d0.Delivery.LastStatusCode != 200 ||
		len(d0.Attempts) != 1 || d0.Attempts[0].Number != 1 || string(d0.Attempts[0].ResponseBody) != "body" ||
		d0.Attempts[0].RequestHeaders["Webhook-Id"] != "x" || d0.Delivery.ResponseTime != 20*time.Millisecond || len(d0.Payload) == 0 {
		t.Fatalf("success = %+v %+v", d0.Delivery, d0.Attempts)
	}
	d1, _ := s.GetDelivery(ctx(), "acme", cl[1].DeliveryID)
	if d1.Delivery.Status != hookd.StatusRetrying || !d1.Delivery.NextAttemptAt.Equal(next) || d1.Delivery.LastError != "HTTP 500" {
		t.Fatalf("retrying = %+v", d1.Delivery)
	}
	d3, _ := s.GetDelivery(ctx(), "acme", cl[3].DeliveryID)
	if d3.Delivery.Attempts != 0 || len(d3.Attempts) != 0 {
		t.Fatalf("a released delivery counted an attempt: %+v", d3.Delivery)
	}
	// The released one is due at once; the retrying one at its time.
	if c := claim(t, s, later, 10, nil).Claims; len(c) != 1 || c[0].DeliveryID != cl[3].DeliveryID {
		t.Fatalf("after release claimed %v", c)
	}
	// At the retry time: the retry, the 2 never recorded, and the released
	// one claimed just above (its lease has run out too).
	if c := claim(t, s, next, 10, nil).Claims; len(c) != 4 {
		t.Fatalf("at the retry time claimed %d", len(c))
	}

	// Failed list, manual retry, retry-all-failed.
	failed, total, err := s.ListFailedDeliveries(ctx(), "acme", hookd.Page{Limit: 10})
	must(t, err)
	if total != 1 || failed[0].ID != cl[2].DeliveryID {
		t.Fatalf("failed = %d %v", total, failed)
	}
	must(t, s.RetryDelivery(ctx(), "acme", cl[2].DeliveryID, next))
	wantErr(t, s.RetryDelivery(ctx(), "other", cl[2].DeliveryID, next), hookd.ErrNotFound)
	c := claim(t, s, next, 10, nil).Claims
	if len(c) != 1 || !c[0].Manual || c[0].Attempts != 1 {
		t.Fatalf("manual retry claim = %+v", c)
	}
	must(t, s.RecordAttempts(ctx(), []*hookd.AttemptResult{{DeliveryID: c[0].DeliveryID, Attempt: att(false, 500), Status: hookd.StatusFailed}}))
	dd, _ := s.GetDelivery(ctx(), "acme", c[0].DeliveryID)
	if dd.Delivery.Attempts != 2 || len(dd.Attempts) != 2 || dd.Attempts[1].Number != 2 {
		t.Fatalf("after manual attempt: %+v", dd.Delivery)
	}
	wid := dd.Delivery.WebhookID
	n, err := s.RetryFailed(ctx(), "acme", wid, next)
	must(t, err)
	if n != 1 {
		t.Fatalf("RetryFailed = %d", n)
	}

	// Listing by webhook: newest first, status filter, cursor.
	list, total, err := s.ListDeliveries(ctx(), hookd.DeliveryQuery{TenantID: "acme", WebhookID: "wh_a", Limit: 2})
	must(t, err)
	if total != 3 || len(list) != 2 || list[0].ID < list[1].ID {
		t.Fatalf("list = %d %v", total, list)
	}
	rest, total, err := s.ListDeliveries(ctx(), hookd.DeliveryQuery{TenantID: "acme", WebhookID: "wh_a", Limit: 10, Before: list[1].ID})
	must(t, err)
	if total != -1 || len(rest) != 1 {
		t.Fatalf("after cursor = %d %v", total, rest)
	}
	ok, total, _ := s.ListDeliveries(ctx(), hookd.DeliveryQuery{TenantID: "acme", WebhookID: cl[0].WebhookID, Status: hookd.StatusSuccess, Limit: 10})
	if total != 1 || len(ok) != 1 {
		t.Fatalf("SUCCESS filter = %d", total)
	}

	// Stats count attempts (by start time) and deliveries (by creation).
	st, err := s.Stats(ctx(), hookd.StatsQuery{TenantID: "acme"})
	must(t, err)
	if st.TotalDeliveries != 4 || st.SuccessfulDeliveries != 1 || st.FailedDeliveries != 3 || st.SuccessRate != 0.25 ||
		st.AverageResponseTimeMs != 20 || st.ByStatus[hookd.StatusSuccess] != 1 {
		t.Fatalf("stats = %+v", st)
	}
	st, _ = s.Stats(ctx(), hookd.StatsQuery{TenantID: "acme", Since: later.Add(time.Second)})
	if st.TotalDeliveries != 0 || st.SuccessRate != 0 {
		t.Fatalf("stats after = %+v", st)
	}

	// A disabled webhook's due rows end FAILED at the claim.
	b.Enabled = false
	b.UpdatedAt = base.Add(time.Hour)
	must(t, s.UpdateWebhook(ctx(), b))
	failedB, _, _ := s.ListDeliveries(ctx(), hookd.DeliveryQuery{TenantID: "acme", WebhookID: "wh_b", Status: hookd.StatusFailed, Limit: 10})
	for _, d := range failedB {
		if d.LastError == "" {
			t.Fatalf("disabled delivery without a reason: %+v", d)
		}
	}
}

func testTestDelivery(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_a")))
	ev := event("acme", "evt_test", "webhook.test")
	d, err := s.CreateTestDelivery(ctx(), ev, "wh_a", time.Now().Add(time.Minute))
	must(t, err)
	if d.Status != hookd.StatusPending || d.EventID != "evt_test" {
		t.Fatalf("test delivery = %+v", d)
	}
	// Leased to the caller: no worker takes it.
	if c := claim(t, s, time.Now(), 10, nil).Claims; len(c) != 0 {
		t.Fatalf("a worker claimed the test delivery")
	}
	_, err = s.CreateTestDelivery(ctx(), event("acme", "evt_test2", "webhook.test"), "wh_missing", time.Now())
	wantErr(t, err, hookd.ErrNotFound)
}
