package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func init() {
	for name, fn := range map[string]func(*testing.T, hookd.Store, *Clock){
		"PruneFinishedOnly":          testPruneFinishedOnly,
		"PruneInBatches":             testPruneInBatches,
		"PruneKeepsCanceledInFlight": testPruneKeepsCanceledInFlight,
		"PruneKeepsStatistics":       testPruneKeepsStatistics,
		"DeletedWebhookTakesRollups": testDeletedWebhookTakesRollups,
	} {
		timed[name] = fn
	}
}

// publishNow publishes event id to the webhooks, stamped with the clock's
// time as publish stamps it.
func publishNow(t *testing.T, s hookd.Store, clock *Clock, id string, webhooks ...string) {
	t.Helper()
	ev := event("acme", id, "a.b")
	ev.Timestamp = clock.Now()
	_, err := s.PublishEvent(ctx(), ev, webhooks, nil)
	must(t, err)
}

func byEvent(cs []*hookd.Claim) map[string]*hookd.Claim {
	m := map[string]*hookd.Claim{}
	for _, c := range cs {
		m[c.EventID] = c
	}
	return m
}

func prune(t *testing.T, s hookd.Store, p hookd.PruneParams) *hookd.PruneResult {
	t.Helper()
	res, err := s.PruneEvents(ctx(), p)
	must(t, err)
	return res
}

// Pruning removes the finished events created before the cut, with their
// deliveries and attempts, and keeps one with a delivery being sent, one
// waiting, and those created after the cut.
func testPruneFinishedOnly(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	for _, id := range []string{"ok", "failed", "sending"} {
		publishNow(t, s, clock, id, "wh_a")
	}
	c := byEvent(claim(t, s, 10, nil).Claims)
	record(t, s, outcome(c["ok"], hookd.StatusSuccess, clock.Now()), outcome(c["failed"], hookd.StatusFailed, clock.Now()))
	publishNow(t, s, clock, "waiting", "wh_a")
	clock.Advance(time.Hour)
	cut := clock.Now()
	publishNow(t, s, clock, "new", "wh_a")
	record(t, s, outcome(byEvent(claim(t, s, 10, nil).Claims)["new"], hookd.StatusSuccess, clock.Now()))

	res := prune(t, s, hookd.PruneParams{Before: cut, Limit: 10})
	// The FAILED outcome also published a delivery.exhausted event, which
	// no webhook takes: finished at once, it goes too.
	if res.Events != 3 || res.Deliveries != 2 || res.Attempts != 2 || !res.Done {
		t.Fatalf("pruned %+v, want the three finished old events, two with one delivery and attempt each", res)
	}
	for id, gone := range map[string]bool{"ok": true, "failed": true, "sending": false, "waiting": false, "new": false} {
		_, err := s.GetEvent(ctx(), "acme", id)
		if gone != (err != nil) {
			t.Errorf("event %s: err %v, want gone %v", id, err, gone)
		}
	}
	if _, err := s.GetDelivery(ctx(), "acme", c["ok"].DeliveryID); err == nil {
		t.Error("a pruned event's delivery is still there")
	}
	if res := prune(t, s, hookd.PruneParams{Before: cut, Limit: 10}); res.Events != 0 {
		t.Fatalf("pruned again: %+v", res)
	}
}

// A delivery canceled while its attempt is in flight keeps its event until
// the attempt's lease ends: its outcome is still to be recorded.
func testPruneKeepsCanceledInFlight(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publishNow(t, s, clock, "sending", "wh_a")
	one(t, s)
	if _, sending, err := s.CancelDeliveries(ctx(), "acme", "wh_a", clock.Now().Add(time.Second)); err != nil || sending != 1 {
		t.Fatalf("cancel: %d sending, %v", sending, err)
	}
	clock.Advance(time.Second)
	if res := prune(t, s, hookd.PruneParams{Before: clock.Now(), Limit: 10}); res.Events != 0 {
		t.Fatalf("pruned a canceled delivery's event while its attempt is in flight: %+v", res)
	}
	clock.Advance(lease)
	if res := prune(t, s, hookd.PruneParams{Before: clock.Now(), Limit: 10}); res.Events != 1 || res.Deliveries != 1 {
		t.Fatalf("once the lease is over: pruned %+v, want the event and its delivery", res)
	}
}

// Batches go through the history Limit events at a time, Next carrying on
// where the last stopped, and Done once an event is not old enough.
func testPruneInBatches(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	for _, id := range []string{"e1", "e2", "e3", "e4", "e5"} {
		publishNow(t, s, clock, id, "wh_a")
	}
	var outs []*hookd.Outcome
	for _, c := range claim(t, s, 10, nil).Claims {
		outs = append(outs, outcome(c, hookd.StatusSuccess, clock.Now()))
	}
	record(t, s, outs...)
	clock.Advance(time.Hour)
	cut := clock.Now()
	publishNow(t, s, clock, "new", "wh_a")
	p := hookd.PruneParams{Before: cut, Limit: 2}
	var got []int
	for range 10 {
		res := prune(t, s, p)
		got = append(got, res.Events)
		if res.Done {
			break
		}
		p.After = res.Next
	}
	if !reflect.DeepEqual(got, []int{2, 2, 1}) {
		t.Fatalf("batches pruned %v, want [2 2 1] and done", got)
	}
	if _, err := s.GetEvent(ctx(), "acme", "new"); err != nil {
		t.Fatal(err)
	}
}

// Statistics and the charts' series for a period are the same before and
// after its rows are pruned: for all time, for one webhook, for whole-hour
// windows and buckets, and for a window of quiet minutes in a busy hour
// (an hour's totals count only where the whole hour is in the window).
func testPruneKeepsStatistics(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	h0 := clock.Now().Truncate(time.Hour)
	for hour, ids := range [][]string{{"a1", "a2", "a3"}, {"b1", "b2"}} {
		if hour == 1 {
			clock.Advance(h0.Add(time.Hour + 5*time.Minute).Sub(clock.Now()))
		}
		for _, id := range ids {
			publishNow(t, s, clock, id, "wh_a", "wh_b")
		}
		var outs []*hookd.Outcome
		for i, c := range claim(t, s, 20, nil).Claims {
			st := hookd.StatusSuccess
			if i%3 == 1 {
				st = hookd.StatusFailed
			}
			o := outcome(c, st, clock.Now())
			o.Attempt.Duration = time.Duration(10+7*i) * time.Millisecond
			if i%5 == 4 { // no answer: not in the mean response time
				o.Attempt.StatusCode, o.Attempt.Error = 0, "timeout"
			}
			outs = append(outs, o)
		}
		record(t, s, outs...)
	}
	_, _, err := s.CancelDeliveries(ctx(), "acme", "wh_a", time.Time{}) // none waiting: changes nothing
	must(t, err)
	queries := []hookd.StatsQuery{
		{TenantID: "acme"},
		{TenantID: "acme", WebhookID: "wh_b"},
		{TenantID: "acme", Since: h0, Until: h0.Add(time.Hour - time.Microsecond)},
		{TenantID: "acme", WebhookID: "wh_a", Since: h0.Add(time.Hour)},
		{TenantID: "acme", Until: h0.Add(time.Hour - time.Microsecond)},
		// Quiet minutes inside an hour with activity: none before, and
		// none after (the hour's totals are not the window's).
		{TenantID: "acme", Since: h0.Add(90 * time.Minute), Until: h0.Add(100 * time.Minute)},
		{TenantID: "acme", Until: h0.Add(time.Hour)}, // ends where hour 1 starts: not in it
	}
	stats := func() []*hookd.Stats {
		var out []*hookd.Stats
		for _, q := range queries {
			st, err := s.Stats(ctx(), q)
			must(t, err)
			out = append(out, st)
		}
		return out
	}
	series := []hookd.SeriesQuery{
		{TenantID: "acme", Since: h0, Step: time.Hour, Buckets: 3},
		{TenantID: "acme", WebhookID: "wh_a", Since: h0.Add(-2 * time.Hour), Step: 2 * time.Hour, Buckets: 3},
	}
	charts := func() [][]*hookd.SeriesBucket {
		var out [][]*hookd.SeriesBucket
		for _, q := range series {
			b, err := s.StatsSeries(ctx(), q)
			must(t, err)
			out = append(out, b)
		}
		return out
	}
	beforeCharts := charts()
	before := stats()
	if before[0].TotalDeliveries != 10 || before[2].TotalDeliveries != 6 || before[0].ByStatus[hookd.StatusFailed] == 0 {
		t.Fatalf("before: %+v %+v", before[0], before[2])
	}
	clock.Advance(time.Hour)
	if res := prune(t, s, hookd.PruneParams{Before: clock.Now(), Limit: 100}); res.Deliveries != 10 || res.Attempts != 10 {
		t.Fatalf("pruned %+v", res)
	}
	after := stats()
	for i := range queries {
		if !reflect.DeepEqual(before[i], after[i]) {
			t.Errorf("%+v:\nbefore %+v\nafter  %+v", queries[i], before[i], after[i])
		}
	}
	for i, after := range charts() {
		for j := range after {
			if !reflect.DeepEqual(beforeCharts[i][j], after[j]) {
				t.Errorf("%+v bucket %d:\nbefore %+v\nafter  %+v", series[i], j, beforeCharts[i][j], after[j])
			}
		}
	}
	// Pruned again with nothing left: the roll-ups are not added twice.
	prune(t, s, hookd.PruneParams{Before: clock.Now(), Limit: 100})
	if again := stats(); !reflect.DeepEqual(before, again) {
		t.Errorf("after a second pass: %+v", again[0])
	}
}

// A deleted webhook's statistics go with it, pruned or not, as its rows do.
func testDeletedWebhookTakesRollups(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	publishNow(t, s, clock, "e1", "wh_a", "wh_b")
	var outs []*hookd.Outcome
	for _, c := range claim(t, s, 10, nil).Claims {
		outs = append(outs, outcome(c, hookd.StatusSuccess, clock.Now()))
	}
	record(t, s, outs...)
	clock.Advance(time.Hour)
	prune(t, s, hookd.PruneParams{Before: clock.Now(), Limit: 10})
	must(t, s.DeleteWebhook(ctx(), "acme", "wh_a"))
	st, err := s.Stats(ctx(), hookd.StatsQuery{TenantID: "acme"})
	must(t, err)
	if st.TotalDeliveries != 1 || st.ByStatus[hookd.StatusSuccess] != 1 {
		t.Fatalf("after deleting wh_a: %+v", st)
	}
}
