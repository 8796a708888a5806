// Package storetest is the conformance suite of hookd.Store: every storage
// engine runs it, so that the API and the delivery engine can rely on one
// behaviour whatever the database.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// NewStore opens an empty store for one test, on the given clock; the
// suite closes it. Every store takes its time from the clock it is given
// (PostgreSQL's included, which otherwise reads the database's), so the
// suite moves time instead of waiting for it.
type NewStore func(t *testing.T, clock hookd.Clock) hookd.Store

// Run runs the whole suite.
func Run(t *testing.T, newStore NewStore) {
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, NewClock().Now)
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
	tests := map[string]func(*testing.T, hookd.Store){
		"AdminKey":                   testAdminKey,
		"Tenants":                    testTenants,
		"APIKeys":                    testAPIKeys,
		"EventTypes":                 testEventTypes,
		"Webhooks":                   testWebhooks,
		"WebhookListPaging":          testWebhookListPaging,
		"WebhookUIDTaken":            testWebhookUIDTaken,
		"Publish":                    testPublish,
		"PublishIdempotent":          testPublishIdempotent,
		"DuplicateAnswersFirstCount": testDuplicateAnswersFirstCount,
		"PublishConcurrent":          testPublishConcurrent,
		"ListEventsCursor":           testListEventsCursor,
		"DisableFailsWaiting":        testDisableFailsWaiting,
		"DeleteTenantCascades":       testDeleteTenantCascades,
		"DeleteDeliveriesSteps":      testDeleteDeliveriesSteps,
		"DeleteEventsSteps":          testDeleteEventsSteps,
		"PublishManyWebhooks":        testPublishManyWebhooks,
		"ConsoleSessions":            testConsoleSessions,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, NewClock().Now)
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
	for name, fn := range timed {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock()
			s := newStore(t, clock.Now)
			t.Cleanup(func() { s.Close() })
			fn(t, s, clock)
		})
	}
}

// cases are the untimed cases kept in other files of the suite.
var cases = map[string]func(*testing.T, hookd.Store){}

// Clock is the stores' clock in the suite: it stands still until a case
// moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock after every time the suite writes (base).
func NewClock() *Clock { return &Clock{t: base.Add(24 * time.Hour)} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)

func ctx() context.Context { return context.Background() }

// errOf is a call's error, for must and wantErr.
func errOf[T any](_ T, err error) error { return err }

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
	if got.Name != "Tenant acme" || !got.CreatedAt.Equal(base) || got.Metadata != nil || !got.UpdatedAt.Equal(base) {
		t.Fatalf("GetTenant = %+v", got)
	}
	got.Name, got.Metadata, got.UpdatedAt = "Acme Inc.", map[string]string{"plan": "pro"}, base.Add(time.Minute)
	must(t, s.UpdateTenant(ctx(), got))
	got, _ = s.GetTenant(ctx(), "acme")
	if got.Name != "Acme Inc." || got.Metadata["plan"] != "pro" || !got.UpdatedAt.Equal(base.Add(time.Minute)) || !got.CreatedAt.Equal(base) {
		t.Fatalf("not updated: %+v", got)
	}
	list, total, err := s.ListTenants(ctx(), hookd.TenantQuery{Page: hookd.Page{Limit: 1, Offset: 1}})
	must(t, err)
	if total != 2 || len(list) != 1 || list[0].ID != "globex" {
		t.Fatalf("ListTenants = %d %+v", total, list)
	}
	if first, _, _ := s.ListTenants(ctx(), hookd.TenantQuery{Page: hookd.Page{Limit: 1}}); first[0].Metadata["plan"] != "pro" {
		t.Fatalf("listed without its metadata: %+v", first[0])
	}
	// By cursor: after a tenant, by creation time then id (both made at
	// base here: the id decides).
	must(t, s.CreateTenant(ctx(), &hookd.Tenant{ID: "early", Name: "Early", CreatedAt: base.Add(-time.Hour)}))
	for _, tc := range []struct {
		at   time.Time
		id   string
		want string
	}{{base, "acme", "[globex]"}, {base.Add(-time.Hour), "early", "[acme globex]"}, {base, "globex", "[]"}, {base.Add(-time.Hour), "zzz", "[acme globex]"}} {
		list, total, err := s.ListTenants(ctx(), hookd.TenantQuery{AfterCreatedAt: tc.at, AfterID: tc.id, Page: hookd.Page{Limit: 5}})
		must(t, err)
		var got []string
		for _, tn := range list {
			got = append(got, tn.ID)
		}
		if total != 3 || fmt.Sprint(got) != tc.want && !(len(got) == 0 && tc.want == "[]") {
			t.Fatalf("after %s at %s: %d %v, want %s", tc.id, tc.at, total, got, tc.want)
		}
	}
	// Newest first, and by cursor the ones made before it.
	for _, tc := range []struct {
		at   time.Time
		id   string
		want string
	}{{time.Time{}, "", "[globex acme early]"}, {base, "globex", "[acme early]"}, {base, "acme", "[early]"}, {base.Add(-time.Hour), "early", "[]"}} {
		list, _, err := s.ListTenants(ctx(), hookd.TenantQuery{AfterCreatedAt: tc.at, AfterID: tc.id, Newest: true, Page: hookd.Page{Limit: 5}})
		must(t, err)
		var got []string
		for _, tn := range list {
			got = append(got, tn.ID)
		}
		if fmt.Sprint(got) != tc.want && !(len(got) == 0 && tc.want == "[]") {
			t.Fatalf("newest first after %q: %v, want %s", tc.id, got, tc.want)
		}
	}
	must(t, s.DeleteTenant(ctx(), "early"))
	got.Metadata = nil
	must(t, s.UpdateTenant(ctx(), got))
	if got, _ = s.GetTenant(ctx(), "acme"); got.Metadata != nil {
		t.Fatalf("metadata not cleared: %+v", got.Metadata)
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
	if !et.Archived || et.Schema != nil || !et.UpdatedAt.Equal(base.Add(time.Hour)) || !et.CreatedAt.Equal(base) {
		t.Fatalf("after update = %+v", et)
	}
	// What Svix's API keeps: set, read back, cleared.
	et.Deprecated, et.FeatureFlag, et.GroupName = true, "beta", "users"
	must(t, s.UpdateEventType(ctx(), et))
	if got, _ := s.GetEventType(ctx(), "invocation.completed"); !got.Deprecated || got.FeatureFlag != "beta" || got.GroupName != "users" {
		t.Fatalf("Svix's fields not kept: %+v", got)
	}
	must(t, s.CreateEventType(ctx(), &hookd.EventType{Name: "svix.made", Deprecated: true, FeatureFlag: "f", GroupName: "g", CreatedAt: base, UpdatedAt: base}))
	if got, _ := s.GetEventType(ctx(), "svix.made"); !got.Deprecated || got.FeatureFlag != "f" || got.GroupName != "g" {
		t.Fatalf("Svix's fields not made: %+v", got)
	}
	et.Deprecated, et.FeatureFlag, et.GroupName = false, "", ""
	must(t, s.UpdateEventType(ctx(), et))
	if got, _ := s.GetEventType(ctx(), "invocation.completed"); got.Deprecated || got.FeatureFlag != "" || got.GroupName != "" {
		t.Fatalf("Svix's fields not cleared: %+v", got)
	}
	list, err := s.ListEventTypes(ctx())
	must(t, err)
	var names []string
	for _, et := range list {
		names = append(names, et.Name)
	}
	// hookd's own types are in every catalog, from the migrations.
	if want := "flow_completed hookd.delivery.exhausted hookd.webhook.disabled hookd.webhook.recovered invocation.completed svix.made"; strings.Join(names, " ") != want {
		t.Fatalf("ListEventTypes = %v, want %s", names, want)
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
	w.PreviousSecrets = []hookd.OldSecret{{Secret: "whsec_old", ExpiresAt: base.Add(time.Hour)}, {Secret: "whsec_older", ExpiresAt: base.Add(time.Minute)}}
	w.Timeout = 5 * time.Second
	must(t, s.CreateWebhook(ctx(), w))
	got, err := s.GetWebhook(ctx(), "acme", "wh_1")
	must(t, err)
	a, _ := json.Marshal(w)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Fatalf("round trip:\n got %s\nwant %s", b, a)
	}
	if got.Secret != w.Secret || len(got.PreviousSecrets) != 2 || got.PreviousSecrets[1].Secret != "whsec_older" || !got.PreviousSecrets[1].ExpiresAt.Equal(w.PreviousSecrets[1].ExpiresAt) {
		t.Fatalf("secrets not kept: %+v", got)
	}
	_, err = s.GetWebhook(ctx(), "other", "wh_1")
	wantErr(t, err, hookd.ErrNotFound)

	got.Name = "renamed"
	got.Channels = nil
	got.Filter = ""
	got.UpdatedAt = base.Add(time.Minute)
	must(t, errOf(s.UpdateWebhook(ctx(), got, base)))
	again, _ := s.GetWebhook(ctx(), "acme", "wh_1")
	if again.Name != "renamed" || again.Channels != nil || again.Filter != "" || !again.UpdatedAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("after update = %+v", again)
	}
	wantErr(t, errOf(s.UpdateWebhook(ctx(), webhook("acme", "wh_missing"), base)), hookd.ErrNotFound)

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

// A webhook's uid is unique in its tenant, on an update as on a create:
// taking another's is ErrConflict, and changes nothing.
func testWebhookUIDTaken(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	a, b := webhook("acme", "wh_a"), webhook("acme", "wh_b")
	a.UID, b.UID = "ep-a", "ep-b"
	must(t, s.CreateWebhook(ctx(), a))
	must(t, s.CreateWebhook(ctx(), b))
	b.UID = "ep-a"
	err := errOf(s.UpdateWebhook(ctx(), b, b.UpdatedAt))
	wantErr(t, err, hookd.ErrConflict)
	if errors.Is(err, hookd.ErrStale) {
		t.Fatalf("a taken uid is no stale version (an edit would retry it): %v", err)
	}
	b.UID = "ep-b"
	wantErr(t, errOf(s.UpdateWebhook(ctx(), b, base.Add(-time.Hour))), hookd.ErrStale) // not the version stored
	if id, err := s.WebhookIDByUID(ctx(), "acme", "ep-b"); err != nil || id != "wh_b" {
		t.Fatalf("after the refused update, ep-b is %q, %v", id, err)
	}
	b.UID = "ep-b2"
	must(t, errOf(s.UpdateWebhook(ctx(), b, b.UpdatedAt)))
	if id, err := s.WebhookIDByUID(ctx(), "acme", "ep-b2"); err != nil || id != "wh_b" {
		t.Fatalf("the new uid names %q, %v", id, err)
	}
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
	list, _, err = s.ListWebhooks(ctx(), hookd.WebhookQuery{TenantID: "acme", Newest: true, Page: hookd.Page{Limit: 3, Offset: 1}})
	must(t, err)
	if fmt.Sprint(ids(list)) != "[wh_05 wh_04 wh_03]" {
		t.Fatalf("newest first, from the second: %v", ids(list))
	}
	yes := true
	list, total, err = s.ListWebhooks(ctx(), hookd.WebhookQuery{TenantID: "acme", Enabled: &yes, Page: hookd.Page{Limit: 50}})
	must(t, err)
	if total != 4 || len(list) != 4 {
		t.Fatalf("active = %d %v", total, ids(list))
	}
	// By cursor: after an id in the list's order, the count still whole.
	list, total, err = s.ListWebhooks(ctx(), hookd.WebhookQuery{TenantID: "acme", AfterID: "wh_02", Page: hookd.Page{Limit: 3}})
	must(t, err)
	if total != 7 || fmt.Sprint(ids(list)) != "[wh_03 wh_04 wh_05]" {
		t.Fatalf("after wh_02: %d %v", total, ids(list))
	}
	list, _, err = s.ListWebhooks(ctx(), hookd.WebhookQuery{TenantID: "acme", Newest: true, AfterID: "wh_02", Page: hookd.Page{Limit: 3}})
	must(t, err)
	if fmt.Sprint(ids(list)) != "[wh_01 wh_00]" {
		t.Fatalf("newest first, after wh_02: %v", ids(list))
	}
	list, _, err = s.ListWebhooks(ctx(), hookd.WebhookQuery{TenantID: "acme", Enabled: &yes, AfterID: "wh_02", Page: hookd.Page{Limit: 3}})
	must(t, err)
	if fmt.Sprint(ids(list)) != "[wh_04 wh_06]" {
		t.Fatalf("active, after wh_02: %v", ids(list))
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

// publishTargets makes tenant acme with enabled webhooks wh_a and wh_b and
// a disabled wh_off, which a publish skips.
func publishTargets(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_a")))
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_b")))
	off := webhook("acme", "wh_off")
	off.Enabled = false
	must(t, s.CreateWebhook(ctx(), off))
}

func testPublish(t *testing.T, s hookd.Store) {
	publishTargets(t, s)

	ev := event("acme", "evt_1", "a.b")
	ev.Channels = []string{"eu"}
	res, err := s.PublishEvent(ctx(), ev, []string{"wh_a", "wh_b", "wh_off", "wh_gone"}, nil)
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
	res, err = s.PublishEvent(ctx(), event("acme", "evt_2", "a.b"), nil, nil)
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
	_, err := s.PublishEvent(ctx(), first, []string{"wh_a"}, nil)
	must(t, err)
	second := event("acme", "order-42", "c.d")
	res, err := s.PublishEvent(ctx(), second, []string{"wh_a"}, nil)
	must(t, err)
	if !res.Duplicate || res.Event.Type != "a.b" || res.Deliveries != 1 {
		t.Fatalf("second publish = %+v", res)
	}
	ds, _ := s.ListEventDeliveries(ctx(), "acme", "order-42")
	if len(ds) != 1 {
		t.Fatalf("deliveries = %d, want 1", len(ds))
	}
	// Keys are per tenant.
	res, err = s.PublishEvent(ctx(), event("other", "order-42", "a.b"), nil, nil)
	must(t, err)
	if res.Duplicate {
		t.Fatal("other tenant's event counted as duplicate")
	}
}

// A publish sent again answers how many deliveries the first one created,
// as the first answered: not a count of what the event has now (one of its
// webhooks deleted since), and not of the webhooks it matched (one was
// disabled before the insert).
func testDuplicateAnswersFirstCount(t *testing.T, s hookd.Store) {
	publishTargets(t, s)
	first, err := s.PublishEvent(ctx(), event("acme", "order-1", "a.b"), []string{"wh_a", "wh_b", "wh_off"}, nil)
	must(t, err)
	if first.Deliveries != 2 {
		t.Fatalf("first publish made %d deliveries, want 2", first.Deliveries)
	}
	must(t, s.DeleteWebhook(ctx(), "acme", "wh_b"))
	again, err := s.PublishEvent(ctx(), event("acme", "order-1", "a.b"), []string{"wh_a"}, nil)
	must(t, err)
	if !again.Duplicate || again.Deliveries != 2 {
		t.Fatalf("the repeat answers %+v, want a duplicate with the first's 2 deliveries", again)
	}
	if got, err := s.GetEvent(ctx(), "acme", "order-1"); err != nil || got.DeliveriesCreated != 2 {
		t.Fatalf("the event keeps %d created, %v", got.DeliveriesCreated, err)
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
			res, err := s.PublishEvent(ctx(), event("acme", id, "a.b"), []string{"wh_a"}, nil)
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
		_, err := s.PublishEvent(ctx(), event("acme", fmt.Sprintf("e%d", i), typ), nil, nil)
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
	_, err := s.PublishEvent(ctx(), event("acme", "e1", "a.b"), []string{"wh_a"}, nil)
	must(t, err)
	w.Enabled = false
	w.UpdatedAt = base.Add(time.Minute)
	must(t, errOf(s.UpdateWebhook(ctx(), w, base)))
	ds, _ := s.ListEventDeliveries(ctx(), "acme", "e1")
	if len(ds) != 1 || ds[0].Status != hookd.StatusFailed || ds[0].LastError == "" {
		t.Fatalf("after disable: %+v", ds[0])
	}
}

func testDeleteTenantCascades(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	must(t, s.CreateWebhook(ctx(), webhook("acme", "wh_a")))
	must(t, s.CreateAPIKey(ctx(), &hookd.APIKey{ID: "key_1", TenantID: "acme", Name: "k", Hash: hookd.HashKey("k"), CreatedAt: base}))
	_, err := s.PublishEvent(ctx(), event("acme", "e1", "a.b"), []string{"wh_a"}, nil)
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

// far is after every time the suite stores but those a case sets.
var far = base.Add(365 * 24 * time.Hour)

// steps calls step until it deletes fewer than limit and lists what each
// call deleted.
func steps(t *testing.T, limit int, step func() (int, error)) []int {
	t.Helper()
	var got []int
	for len(got) < 10 {
		n, err := step()
		must(t, err)
		got = append(got, n)
		if n < limit {
			break
		}
	}
	return got
}

// deliveriesOf is how many deliveries each of the tenant's events has.
func deliveriesOf(t *testing.T, s hookd.Store, tenantID string, events ...string) []int {
	t.Helper()
	var got []int
	for _, id := range events {
		ds, err := s.ListEventDeliveries(ctx(), tenantID, id)
		must(t, err)
		got = append(got, len(ds))
	}
	return got
}

// A webhook's deliveries go in steps, each after the last one's cursor,
// with their attempts; another webhook's, and another tenant's, stay.
func testDeleteDeliveriesSteps(t *testing.T, s hookd.Store) {
	setup(t, s, "wh_a", "wh_b")
	tenant(t, s, "globex")
	must(t, s.CreateWebhook(ctx(), webhook("globex", "wh_g")))
	evs := publish(t, s, "e", 5, "wh_a", "wh_b")
	_, err := s.PublishEvent(ctx(), event("globex", "g1", "a.b"), []string{"wh_g"}, nil)
	must(t, err)
	c := claim(t, s, 1, nil).Claims[0] // an attempt goes with its delivery
	record(t, s, outcome(c, hookd.StatusRetrying, base))

	// Nothing created after the delete began (Until) is taken.
	if n, _, err := s.DeleteDeliveries(ctx(), hookd.DeleteDeliveriesParams{TenantID: "acme", WebhookID: "wh_a", Until: base, Limit: 2}); err != nil || n != 0 {
		t.Fatalf("deleted %d created after Until (%v)", n, err)
	}
	after, lasts := "", []string{}
	got := steps(t, 2, func() (int, error) {
		n, last, err := s.DeleteDeliveries(ctx(), hookd.DeleteDeliveriesParams{TenantID: "acme", WebhookID: "wh_a", After: after, Until: far, Limit: 2})
		after, lasts = last, append(lasts, last)
		return n, err
	})
	if fmt.Sprint(got) != "[2 2 1]" {
		t.Fatalf("wh_a's deliveries went %v a step, want [2 2 1]", got)
	}
	if lasts[0] == "" || lasts[0] >= lasts[1] || lasts[1] >= lasts[2] {
		t.Fatalf("cursors %q do not move on", lasts)
	}
	// Past the end: nothing, and the cursor stays.
	if n, last, err := s.DeleteDeliveries(ctx(), hookd.DeleteDeliveriesParams{TenantID: "acme", WebhookID: "wh_a", After: after, Until: far, Limit: 2}); err != nil || n != 0 || last != after {
		t.Fatalf("after the end: %d %q %v", n, last, err)
	}
	if got := deliveriesOf(t, s, "acme", evs...); fmt.Sprint(got) != "[1 1 1 1 1]" {
		t.Fatalf("deliveries left an event %v, want wh_b's alone", got)
	}
	// Another tenant's webhook, named under this tenant, is not touched.
	if n, _, err := s.DeleteDeliveries(ctx(), hookd.DeleteDeliveriesParams{TenantID: "acme", WebhookID: "wh_g", Until: far, Limit: 2}); err != nil || n != 0 {
		t.Fatalf("deleted %d of another tenant's webhook (%v)", n, err)
	}
	if got := deliveriesOf(t, s, "globex", "g1"); fmt.Sprint(got) != "[1]" {
		t.Fatalf("another tenant's deliveries: %v", got)
	}
}

// A tenant's events go in steps, each after the last one's seq, with
// their deliveries and attempts; another tenant's stay.
func testDeleteEventsSteps(t *testing.T, s hookd.Store) {
	setup(t, s, "wh_a")
	tenant(t, s, "globex")
	evs := publish(t, s, "e", 5, "wh_a")
	_, err := s.PublishEvent(ctx(), event("globex", "g1", "a.b"), nil, nil)
	must(t, err)
	c := claim(t, s, 1, nil).Claims[0]
	record(t, s, outcome(c, hookd.StatusRetrying, base))
	// One published after the delete began is left to the tenant's own
	// delete, however the steps go.
	late := event("acme", "late", "a.b")
	late.Timestamp = far.Add(time.Second)
	must(t, errOf(s.PublishEvent(ctx(), late, []string{"wh_a"}, nil)))
	var after int64
	got := steps(t, 2, func() (int, error) {
		n, last, err := s.DeleteEvents(ctx(), hookd.DeleteEventsParams{TenantID: "acme", After: after, Until: far, Limit: 2})
		if n > 0 && last <= after {
			t.Fatalf("cursor %d after %d", last, after)
		}
		after = last
		return n, err
	})
	if fmt.Sprint(got) != "[2 2 1]" {
		t.Fatalf("events went %v a step, want [2 2 1]", got)
	}
	for _, id := range evs {
		_, err := s.GetEvent(ctx(), "acme", id)
		wantErr(t, err, hookd.ErrNotFound)
	}
	if got := deliveriesOf(t, s, "acme", evs...); fmt.Sprint(got) != "[0 0 0 0 0]" {
		t.Fatalf("deliveries left %v", got)
	}
	_, err = s.GetDelivery(ctx(), "acme", c.DeliveryID)
	wantErr(t, err, hookd.ErrNotFound)
	must(t, errOf(s.GetEvent(ctx(), "globex", "g1")))
	must(t, errOf(s.GetEvent(ctx(), "acme", "late")))
	must(t, errOf(s.GetWebhook(ctx(), "acme", "wh_a")))
}

func testPublishManyWebhooks(t *testing.T, s hookd.Store) {
	tenant(t, s, "acme")
	var hooks []string
	for i := 0; i < 1200; i++ {
		w := webhook("acme", fmt.Sprintf("wh_%04d", i))
		must(t, s.CreateWebhook(ctx(), w))
		hooks = append(hooks, w.ID)
	}
	res, err := s.PublishEvent(ctx(), event("acme", "e1", "a.b"), hooks, nil)
	must(t, err)
	if res.Deliveries != 1200 {
		t.Fatalf("deliveries = %d, want 1200", res.Deliveries)
	}
}
