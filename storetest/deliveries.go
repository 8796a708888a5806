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
}
