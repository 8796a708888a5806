package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func init() {
	timed["CountTenantDeliveries"] = testCountTenantDeliveries
}

// CountTenantDeliveries counts what ListTenantDeliveries lists, whatever
// its cursor and limit.
func testCountTenantDeliveries(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	publish(t, s, "e", 3, "wh_a", "wh_b")
	res := claim(t, s, 1, nil)
	record(t, s, outcome(res.Claims[0], hookd.StatusFailed, clock.Now()))
	clock.Advance(lease) // the others fall due again, PENDING
	for _, q := range []hookd.TenantDeliveryQuery{
		{},
		{WebhookID: "wh_a"},
		{Status: hookd.StatusFailed},
		{Status: hookd.StatusPending, WebhookID: "wh_b"},
		{EventID: "e00001"},
		{Since: base.Add(time.Hour)},
		{Until: base.Add(time.Hour)},
	} {
		q.TenantID, q.Limit = "acme", 100
		list, err := s.ListTenantDeliveries(ctx(), q)
		must(t, err)
		q.Limit, q.BeforeAt, q.BeforeID = 1, base.Add(time.Hour), "dlv_~" // ignored by the count
		n, err := s.CountTenantDeliveries(ctx(), q)
		must(t, err)
		if n != len(list) {
			t.Errorf("%+v: counted %d, listed %d", q, n, len(list))
		}
	}
	if n, _ := s.CountTenantDeliveries(ctx(), hookd.TenantDeliveryQuery{TenantID: "acme", Status: hookd.StatusFailed}); n != 1 {
		t.Fatalf("FAILED: %d, want 1", n)
	}
	// An event's deliveries, alone or with another filter; another
	// tenant's event of the same id is not this tenant's.
	for _, q := range []hookd.TenantDeliveryQuery{{EventID: "e00001"}, {EventID: "e00001", WebhookID: "wh_b"}, {EventID: "nope"}} {
		q.TenantID, q.Limit = "acme", 100
		want := 2
		switch {
		case q.EventID == "nope":
			want = 0
		case q.WebhookID != "":
			want = 1
		}
		list, err := s.ListTenantDeliveries(ctx(), q)
		must(t, err)
		if len(list) != want {
			t.Fatalf("%+v: %d deliveries, want %d", q, len(list), want)
		}
		for _, d := range list {
			if d.EventID != q.EventID || (q.WebhookID != "" && d.WebhookID != q.WebhookID) {
				t.Fatalf("%+v: listed %+v", q, d)
			}
		}
	}
	if list, _ := s.ListTenantDeliveries(ctx(), hookd.TenantDeliveryQuery{TenantID: "other", EventID: "e00001", Limit: 100}); len(list) != 0 {
		t.Fatalf("another tenant listed %d deliveries of acme's event", len(list))
	}
}

func init() {
	timed["SavedResponses"] = testSavedResponses
}

// A saved answer is found within its window, the first one wins, and
// saving drops the answers older than the window.
func testSavedResponses(t *testing.T, s hookd.Store, clock *Clock) {
	now := clock.Now()
	must(t, s.SaveResponse(ctx(), "POST /a", "k1", &hookd.SavedResponse{Status: 201, Body: []byte(`{"id":"1"}`), CreatedAt: now}, 12*time.Hour))
	must(t, s.SaveResponse(ctx(), "POST /a", "k1", &hookd.SavedResponse{Status: 500, Body: []byte(`{}`), CreatedAt: now}, 12*time.Hour))
	got, err := s.SavedResponse(ctx(), "POST /a", "k1", now.Add(-time.Hour))
	must(t, err)
	if got.Status != 201 || string(got.Body) != `{"id":"1"}` {
		t.Fatalf("saved: %d %s", got.Status, got.Body)
	}
	wantErr(t, errOf(s.SavedResponse(ctx(), "POST /b", "k1", now.Add(-time.Hour))), hookd.ErrNotFound)
	wantErr(t, errOf(s.SavedResponse(ctx(), "POST /a", "k1", now.Add(time.Second))), hookd.ErrNotFound)
	later := now.Add(13 * time.Hour)
	must(t, s.SaveResponse(ctx(), "POST /a", "k2", &hookd.SavedResponse{Status: 202, Body: []byte(`{}`), CreatedAt: later}, 12*time.Hour))
	wantErr(t, errOf(s.SavedResponse(ctx(), "POST /a", "k1", time.Time{})), hookd.ErrNotFound)
}

func init() {
	timed["ReserveResponse"] = testReserveResponse
}

// A key is reserved once: again only when its reservation was released or
// abandoned, or its answer expired; a saved answer replaces the
// reservation, and a release never drops an answer.
func testReserveResponse(t *testing.T, s hookd.Store, clock *Clock) {
	now := clock.Now()
	reserve := func(key string, at time.Time) bool {
		t.Helper()
		ok, err := s.ReserveResponse(ctx(), &hookd.ReserveResponseParams{Scope: "POST /m", Key: key, At: at,
			Since: at.Add(-12 * time.Hour), StaleBefore: at.Add(-time.Minute)})
		must(t, err)
		return ok
	}
	if !reserve("k1", now) || reserve("k1", now.Add(time.Second)) {
		t.Fatal("k1 reserved twice, or not at all")
	}
	got, err := s.SavedResponse(ctx(), "POST /m", "k1", now.Add(-time.Hour))
	must(t, err)
	if got.Status != 0 {
		t.Fatalf("a reservation reads as status %d", got.Status)
	}
	must(t, s.SaveResponse(ctx(), "POST /m", "k1", &hookd.SavedResponse{Status: 202, Body: []byte(`{"id":"m"}`), CreatedAt: now}, 12*time.Hour))
	must(t, s.ReleaseResponse(ctx(), "POST /m", "k1", now))
	if got, err = s.SavedResponse(ctx(), "POST /m", "k1", now.Add(-time.Hour)); err != nil || got.Status != 202 || string(got.Body) != `{"id":"m"}` {
		t.Fatalf("after the save and a release: %+v, %v", got, err)
	}
	if reserve("k1", now.Add(time.Hour)) {
		t.Fatal("a key with a kept answer was reserved")
	}
	if !reserve("k1", now.Add(13*time.Hour)) {
		t.Fatal("a key whose answer expired was not reserved")
	}

	if !reserve("k2", now) {
		t.Fatal("k2 not reserved")
	}
	must(t, s.ReleaseResponse(ctx(), "POST /m", "k2", now.Add(time.Second))) // not its reservation
	if reserve("k2", now.Add(2*time.Second)) {
		t.Fatal("another reservation's release freed k2")
	}
	must(t, s.ReleaseResponse(ctx(), "POST /m", "k2", now))
	if !reserve("k2", now.Add(3*time.Second)) {
		t.Fatal("a released key was not reserved again")
	}
	if !reserve("k2", now.Add(2*time.Minute)) {
		t.Fatal("an abandoned reservation was not taken over")
	}
	// The answer of the request whose reservation was taken over does not
	// replace the one that took it over.
	must(t, s.SaveResponse(ctx(), "POST /m", "k2", &hookd.SavedResponse{Status: 202, Body: []byte(`{}`), CreatedAt: now}, 12*time.Hour))
	if got, err := s.SavedResponse(ctx(), "POST /m", "k2", now.Add(-time.Hour)); err != nil || got.Status != 0 {
		t.Fatalf("another's answer replaced the reservation: %+v, %v", got, err)
	}
}

func init() {
	timed["SavedResponseWithoutBody"] = testSavedResponseWithoutBody
}

// An answer without a body (a 204, a 202 with none) is kept like any other.
func testSavedResponseWithoutBody(t *testing.T, s hookd.Store, clock *Clock) {
	now := clock.Now()
	must(t, s.SaveResponse(ctx(), "POST /rotate", "k1", &hookd.SavedResponse{Status: 204, CreatedAt: now}, 12*time.Hour))
	got, err := s.SavedResponse(ctx(), "POST /rotate", "k1", now.Add(-time.Hour))
	must(t, err)
	if got.Status != 204 || len(got.Body) != 0 {
		t.Fatalf("saved: %d %q", got.Status, got.Body)
	}
}

func init() {
	timed["ExpungeAttemptContent"] = testExpungeAttemptContent
}

// Expunging an attempt's content empties its response body and headers
// and nothing else; an attempt that is not there, or is another tenant's, is not
// found.
func testExpungeAttemptContent(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	tenant(t, s, "other")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	record(t, s, outcome(c, hookd.StatusSuccess, clock.Now()))
	wantErr(t, s.ExpungeAttemptContent(ctx(), "other", c.DeliveryID, 1), hookd.ErrNotFound)
	wantErr(t, s.ExpungeAttemptContent(ctx(), "acme", c.DeliveryID, 2), hookd.ErrNotFound)
	wantErr(t, s.ExpungeAttemptContent(ctx(), "acme", "dlv_none", 1), hookd.ErrNotFound)
	if a := detail(t, s, c.DeliveryID).Attempts[0]; string(a.ResponseBody) != "body" {
		t.Fatalf("before: %q", a.ResponseBody)
	}
	must(t, s.ExpungeAttemptContent(ctx(), "acme", c.DeliveryID, 1))
	d := detail(t, s, c.DeliveryID)
	if a := d.Attempts[0]; len(a.ResponseBody) != 0 || len(a.ResponseHeaders) != 0 || a.StatusCode != 200 || a.RequestHeaders["Webhook-Id"] != "x" || d.Delivery.Status != hookd.StatusSuccess {
		t.Fatalf("after: %+v, %+v", a, d.Delivery)
	}
	must(t, s.ExpungeAttemptContent(ctx(), "acme", c.DeliveryID, 1)) // again: still there, still empty
}
