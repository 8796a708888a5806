package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/queue"
)

func init() {
	for name, fn := range map[string]func(*testing.T, hookd.Store, *Clock){
		"HealthFollowsAttempts":         testHealthFollowsAttempts,
		"GoneDisablesAtOnce":            testGoneDisablesAtOnce,
		"KeptNeverDisabled":             testKeptNeverDisabled,
		"FailingDisabledAfter":          testFailingDisabledAfter,
		"FailingNotDisabledEarly":       testFailingNotDisabledEarly,
		"FailingDisabledWithoutTraffic": testFailingDisabledWithoutTraffic,
		"ReenabledStartsHealthy":        testReenabledStartsHealthy,
		"DisabledOnceByTwoRecords":      testDisabledOnceByTwoRecords,
		"QueueDepth":                    testQueueDepth,
		"GoneThenSuccessStays":          testGoneThenSuccessStays,
		"CancelDeliveries":              testCancelDeliveries,
		"CanceledWhileSentSucceeds":     testCanceledWhileSentSucceeds,
		"CanceledWhileSentNotExhausted": testCanceledWhileSentNotExhausted,
		"OlderSuccessKeepsStreak":       testOlderSuccessKeepsStreak,
		"OlderSuccessNotRecovered":      testOlderSuccessNotRecovered,
		"OlderSuccessKeepsExhausted":    testOlderSuccessKeepsExhausted,
		"FailureBeforeSuccessIgnored":   testFailureBeforeSuccessIgnored,
		"GoneBeforeReenableIgnored":     testGoneBeforeReenableIgnored,
		"DisableAnnounced":              testDisableAnnounced,
		"OperatorToldOnceOfItself":      testOperatorToldOnceOfItself,
		"ExhaustedOncePerStreak":        testExhaustedOncePerStreak,
		"NoteSuccessesSkipsFailing":     testNoteSuccessesSkipsFailing,
		"NoteSuccessesKeepsLatest":      testNoteSuccessesKeepsLatest,
		"RecoveryAfterNotedSuccess":     testRecoveryAfterNotedSuccess,
	} {
		timed[name] = fn
	}
}

func health(t *testing.T, s hookd.Store, id string) (*hookd.Webhook, hookd.Health) {
	t.Helper()
	w, err := s.GetWebhook(ctx(), "acme", id)
	must(t, err)
	return w, w.Health
}

func failed(c *hookd.Claim, status hookd.DeliveryStatus, code int, at time.Time) *hookd.Outcome {
	return &hookd.Outcome{Lease: c.Lease, WebhookID: c.WebhookID, EventID: c.EventID, EventType: c.EventType, Status: status, Attempt: att(false, code, at)}
}

// Failures extend a streak from its first; a success ends it.
func testHealthFollowsAttempts(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	if _, h := health(t, s, "wh_a"); h.Status() != hookd.HealthUnknown {
		t.Fatalf("new webhook: %+v", h)
	}
	publish(t, s, "e", 3, "wh_a")
	res := claim(t, s, 10, nil)
	t0 := clock.Now()
	record(t, s, failed(res.Claims[0], hookd.StatusRetrying, 500, t0), failed(res.Claims[1], hookd.StatusRetrying, 500, t0.Add(time.Second)))
	_, h := health(t, s, "wh_a")
	if h.Status() != hookd.HealthFailing || h.ConsecutiveFailures != 2 || !h.FailingSince.Equal(t0) || !h.LastSuccessAt.IsZero() {
		t.Fatalf("after two failures: %+v", h)
	}
	clock.Advance(time.Minute)
	t1 := clock.Now()
	record(t, s, outcome(res.Claims[2], hookd.StatusSuccess, t1))
	_, h = health(t, s, "wh_a")
	if h.Status() != hookd.HealthHealthy || h.ConsecutiveFailures != 0 || !h.FailingSince.IsZero() || !h.LastSuccessAt.Equal(t1) {
		t.Fatalf("after a success: %+v", h)
	}
}

// noteSuccesses runs NoteSuccesses in a transaction of its own.
func noteSuccesses(t *testing.T, s hookd.Store, at time.Time, webhooks ...string) []string {
	t.Helper()
	p := &hookd.NoteSuccessesParams{}
	for _, id := range webhooks {
		p.Updates = append(p.Updates, hookd.HealthUpdate{WebhookID: id, Succeeded: true, LastSuccessAt: at})
	}
	var noted []string
	must(t, s.QueueTx(ctx(), func(tx hookd.QueueTx) error {
		var err error
		noted, err = tx.NoteSuccesses(ctx(), p)
		return err
	}))
	return noted
}

// NoteSuccesses sets a healthy webhook's last success and leaves a
// failing one alone (its recovery is UpdateHealth's).
func testNoteSuccessesSkipsFailing(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	publish(t, s, "e", 1, "wh_b")
	t0 := clock.Now()
	record(t, s, failed(claim(t, s, 1, nil).Claims[0], hookd.StatusRetrying, 500, t0))
	clock.Advance(time.Minute)
	t1 := clock.Now()
	if noted := noteSuccesses(t, s, t1, "wh_a", "wh_b"); len(noted) != 1 || noted[0] != "wh_a" {
		t.Fatalf("noted %v, want the healthy wh_a only", noted)
	}
	if _, h := health(t, s, "wh_a"); h.Status() != hookd.HealthHealthy || !h.LastSuccessAt.Equal(t1) {
		t.Fatalf("wh_a: %+v", h)
	}
	if _, h := health(t, s, "wh_b"); h.Status() != hookd.HealthFailing || h.ConsecutiveFailures != 1 || !h.FailingSince.Equal(t0) || !h.LastSuccessAt.IsZero() {
		t.Fatalf("wh_b: %+v", h)
	}
}

// An older success (recorded late) does not move the last success back.
func testNoteSuccessesKeepsLatest(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	t0 := clock.Now()
	noteSuccesses(t, s, t0.Add(time.Second), "wh_a")
	if noted := noteSuccesses(t, s, t0, "wh_a"); len(noted) != 1 {
		t.Fatalf("noted %v: the webhook is still healthy", noted)
	}
	if _, h := health(t, s, "wh_a"); !h.LastSuccessAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("last success %v, want the later one", h.LastSuccessAt)
	}
}

// A success on a failing webhook still ends its streak and tells the
// tenant, however many successes on healthy webhooks share its record.
func testRecoveryAfterNotedSuccess(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	publish(t, s, "e", 2, "wh_a", "wh_b")
	res := claim(t, s, 10, nil)
	byWebhook := map[string][]*hookd.Claim{}
	for _, c := range res.Claims {
		byWebhook[c.WebhookID] = append(byWebhook[c.WebhookID], c)
	}
	record(t, s, failed(byWebhook["wh_b"][0], hookd.StatusRetrying, 500, clock.Now()))
	clock.Advance(time.Minute)
	t1 := clock.Now()
	record(t, s, outcome(byWebhook["wh_a"][0], hookd.StatusSuccess, t1), outcome(byWebhook["wh_b"][1], hookd.StatusSuccess, t1))
	for _, id := range []string{"wh_a", "wh_b"} {
		if _, h := health(t, s, id); h.Status() != hookd.HealthHealthy || h.ConsecutiveFailures != 0 || !h.LastSuccessAt.Equal(t1) {
			t.Fatalf("%s after a success: %+v", id, h)
		}
	}
	evs := eventsOf(t, s, hookd.EventWebhookRecovered)
	if len(evs) != 1 || !strings.Contains(string(evs[0].Payload), `"webhookId":"wh_b"`) {
		t.Fatalf("recovered events %+v, want one for wh_b", evs)
	}
}

// A 410 Gone disables the webhook in the transaction that records it: its
// waiting deliveries end FAILED, and hookd's audit entry says why.
func testGoneDisablesAtOnce(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 2, "wh_a")
	c := claim(t, s, 1, nil).Claims[0]
	rec := record(t, s, failed(c, hookd.StatusFailed, 410, clock.Now()))
	if len(rec.Disabled) != 1 || rec.Disabled[0] != (hookd.DisabledWebhook{WebhookID: "wh_a", TenantID: "acme", Reason: hookd.DisabledGone, DeliveryID: c.DeliveryID}) {
		t.Fatalf("disabled %+v", rec.Disabled)
	}
	w, _ := health(t, s, "wh_a")
	if w.Enabled || w.DisabledReason != hookd.DisabledGone || !w.DisabledAt.Equal(clock.Now()) {
		t.Fatalf("webhook %+v", w)
	}
	waiting, _, _ := s.ListDeliveries(ctx(), hookd.DeliveryQuery{TenantID: "acme", WebhookID: "wh_a", Status: hookd.StatusFailed, Limit: 10})
	if len(waiting) != 2 {
		t.Fatalf("FAILED deliveries %d, want the gone one and the waiting one", len(waiting))
	}
	log, err := s.ListAudit(ctx(), hookd.AuditQuery{TenantID: "acme", Limit: 10})
	must(t, err)
	if len(log) != 1 || log[0].Actor.Type != hookd.ActorHookd || log[0].Action != hookd.AuditWebhookDisabled || log[0].Changes["disabledReason"].To != hookd.DisabledGone {
		t.Fatalf("audit %+v", log)
	}
}

// A kept webhook (the operator's) is never disabled: a 410 and failures
// past DisableFailingSince, with a delivery out of attempts, only change
// its health.
func testKeptNeverDisabled(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	now := clock.Now()
	var res *hookd.HealthResult
	must(t, s.QueueTx(ctx(), func(tx hookd.QueueTx) error {
		var err error
		res, err = tx.UpdateHealth(ctx(), &hookd.UpdateHealthParams{Now: now, DisableFailingSince: now, Updates: []hookd.HealthUpdate{
			{WebhookID: "wh_a", Failures: 3, FirstFailureAt: now.Add(-time.Hour), Exhausted: true, Gone: true, Kept: true}}})
		return err
	}))
	if len(res.Disabled) != 0 {
		t.Fatalf("disabled %+v", res.Disabled)
	}
	if w, h := health(t, s, "wh_a"); !w.Enabled || h.ConsecutiveFailures != 3 {
		t.Fatalf("webhook enabled %v, health %+v", w.Enabled, h)
	}
	// The policy keeps the operator's webhook: its receiver's 410 does
	// not switch off every tenant's alerts.
	must(t, s.CreateWebhook(ctx(), webhook("acme", hookd.OperatorWebhook)))
	publish(t, s, "op", 1, hookd.OperatorWebhook)
	c := claim(t, s, 1, nil).Claims[0]
	if rec := record(t, s, failed(c, hookd.StatusFailed, 410, clock.Now())); len(rec.Disabled) != 0 {
		t.Fatalf("the operator's webhook disabled: %+v", rec.Disabled)
	}
	if w, _ := health(t, s, hookd.OperatorWebhook); !w.Enabled {
		t.Fatal("the operator's webhook disabled")
	}
}

var disableAfter = queue.Policy{DisableAfter: time.Hour}

// Failing for DisableAfter with a delivery out of attempts disables.
func testFailingDisabledAfter(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 2, "wh_a")
	res := claim(t, s, 10, nil)
	_, err := disableAfter.Record(ctx(), s, []*hookd.Outcome{failed(res.Claims[0], hookd.StatusFailed, 500, clock.Now())}, nil)
	must(t, err)
	clock.Advance(time.Hour)
	rec, err := disableAfter.Record(ctx(), s, []*hookd.Outcome{failed(res.Claims[1], hookd.StatusRetrying, 500, clock.Now())}, nil)
	must(t, err)
	w, h := health(t, s, "wh_a")
	if len(rec.Disabled) != 1 || w.Enabled || w.DisabledReason != hookd.DisabledFailing || h.ConsecutiveFailures != 2 {
		t.Fatalf("after an hour of failures: %+v, %+v, %+v", rec.Disabled, w, h)
	}
}

// Not before DisableAfter, and not without a delivery out of attempts.
func testFailingNotDisabledEarly(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	publish(t, s, "e", 2, "wh_a", "wh_b")
	res := claim(t, s, 10, nil)
	var a, b []*hookd.Claim
	for _, c := range res.Claims {
		if c.WebhookID == "wh_a" {
			a = append(a, c)
		} else {
			b = append(b, c)
		}
	}
	// wh_a: out of attempts, but failing for less than the hour.
	_, err := disableAfter.Record(ctx(), s, []*hookd.Outcome{failed(a[0], hookd.StatusFailed, 500, clock.Now())}, nil)
	must(t, err)
	// wh_b: failing for the hour, but every delivery still has attempts.
	_, err = disableAfter.Record(ctx(), s, []*hookd.Outcome{failed(b[0], hookd.StatusRetrying, 500, clock.Now())}, nil)
	must(t, err)
	clock.Advance(59 * time.Minute)
	rec, err := disableAfter.Record(ctx(), s, []*hookd.Outcome{failed(a[1], hookd.StatusRetrying, 500, clock.Now())}, nil)
	must(t, err)
	if len(rec.Disabled) != 0 {
		t.Fatalf("disabled before the hour: %+v", rec.Disabled)
	}
	clock.Advance(2 * time.Minute)
	rec, err = disableAfter.Record(ctx(), s, []*hookd.Outcome{failed(b[1], hookd.StatusRetrying, 500, clock.Now())}, nil)
	must(t, err)
	if len(rec.Disabled) != 0 {
		t.Fatalf("disabled with every delivery still retrying: %+v", rec.Disabled)
	}
}

// A webhook out of attempts with nothing more to send is disabled when
// its time is up, though no attempt is recorded then; once, announced and
// audited as a record's disable; and one still retrying is not.
func testFailingDisabledWithoutTraffic(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	ops := webhook("acme", "wh_ops")
	ops.Events = []string{"hookd.webhook.disabled"}
	must(t, s.CreateWebhook(ctx(), ops))
	publish(t, s, "e", 2, "wh_a", "wh_b")
	res := claim(t, s, 10, nil)
	var outcomes []*hookd.Outcome
	outOfAttempts := ""
	for _, c := range res.Claims {
		if c.WebhookID == "wh_a" && outOfAttempts == "" {
			outcomes, outOfAttempts = append(outcomes, failed(c, hookd.StatusFailed, 500, clock.Now())), c.DeliveryID
		} else if c.WebhookID == "wh_b" {
			outcomes = append(outcomes, failed(c, hookd.StatusRetrying, 500, clock.Now()))
		}
	}
	_, err := disableAfter.Record(ctx(), s, outcomes, nil)
	must(t, err)
	sweep := func() *queue.Recorded {
		t.Helper()
		rec, err := disableAfter.DisableFailing(ctx(), s)
		must(t, err)
		return rec
	}
	if rec := sweep(); len(rec.Disabled) != 0 {
		t.Fatalf("disabled at once: %+v", rec.Disabled)
	}
	clock.Advance(59 * time.Minute)
	if rec := sweep(); len(rec.Disabled) != 0 {
		t.Fatalf("disabled before the hour: %+v", rec.Disabled)
	}
	clock.Advance(2 * time.Minute)
	rec := sweep()
	// It names the delivery that ran out of attempts, kept with the streak
	// (the contract logs every disable with its delivery).
	if len(rec.Disabled) != 1 || rec.Disabled[0].WebhookID != "wh_a" || rec.Disabled[0].Reason != hookd.DisabledFailing ||
		rec.Disabled[0].DeliveryID != outOfAttempts {
		t.Fatalf("after the hour: %+v, want it to name %s", rec.Disabled, outOfAttempts)
	}
	// wh_a's other delivery, still waiting, ends with it.
	if rec.FailedWithDisabled != 1 || rec.Created != 1 {
		t.Fatalf("ended %d waiting deliveries, made %d; want 1 and 1 (to wh_ops)", rec.FailedWithDisabled, rec.Created)
	}
	w, h := health(t, s, "wh_a")
	if w.Enabled || w.DisabledReason != hookd.DisabledFailing || h.ConsecutiveFailures != 1 {
		t.Fatalf("wh_a %+v, %+v", w, h)
	}
	if w, _ := health(t, s, "wh_b"); !w.Enabled {
		t.Fatal("wh_b, every delivery still retrying, was disabled")
	}
	if evs := eventsOf(t, s, hookd.EventWebhookDisabled); len(evs) != 1 {
		t.Fatalf("%d disabled events", len(evs))
	}
	log, err := s.ListAudit(ctx(), hookd.AuditQuery{TenantID: "acme", Limit: 10})
	must(t, err)
	if len(log) != 1 || log[0].Actor.Type != hookd.ActorHookd || log[0].Changes["disabledReason"].To != hookd.DisabledFailing {
		t.Fatalf("audit %+v", log)
	}
	if rec := sweep(); len(rec.Disabled) != 0 || rec.Created != 0 {
		t.Fatalf("disabled again: %+v", rec)
	}
}

// A webhook a user enables again starts with a clean record.
func testReenabledStartsHealthy(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	record(t, s, failed(c, hookd.StatusFailed, 410, clock.Now()))
	w, _ := health(t, s, "wh_a")
	read := w.UpdatedAt
	w.Enabled, w.DisabledReason, w.DisabledAt = true, "", time.Time{}
	w.UpdatedAt = read.Add(time.Second)
	must(t, errOf(s.UpdateWebhook(ctx(), w, read)))
	w, h := health(t, s, "wh_a")
	if !w.Enabled || w.DisabledReason != "" || h.ConsecutiveFailures != 0 || !h.FailingSince.IsZero() {
		t.Fatalf("re-enabled: %+v %+v", w, h)
	}
	// An edit that leaves it enabled keeps its record.
	publish(t, s, "f", 1, "wh_a")
	clock.Advance(lease)
	record(t, s, failed(one(t, s), hookd.StatusRetrying, 500, clock.Now()))
	read = w.UpdatedAt
	w.Name, w.UpdatedAt = "renamed", read.Add(time.Second)
	must(t, errOf(s.UpdateWebhook(ctx(), w, read)))
	if _, h = health(t, s, "wh_a"); h.ConsecutiveFailures != 1 {
		t.Fatalf("an edit reset the health: %+v", h)
	}
}

// Two records that both find the webhook gone disable it once: one audit
// entry, whichever process records second.
func testDisabledOnceByTwoRecords(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 2, "wh_a")
	res := claim(t, s, 10, nil)
	r1 := record(t, s, failed(res.Claims[0], hookd.StatusFailed, 410, clock.Now()))
	r2 := record(t, s, failed(res.Claims[1], hookd.StatusFailed, 410, clock.Now()))
	if len(r1.Disabled)+len(r2.Disabled) != 1 {
		t.Fatalf("disabled %d times", len(r1.Disabled)+len(r2.Disabled))
	}
	if log, _ := s.ListAudit(ctx(), hookd.AuditQuery{TenantID: "acme", Limit: 10}); len(log) != 1 {
		t.Fatalf("%d audit entries", len(log))
	}
}

// QueueDepth counts the due deliveries that are not being sent and finds
// the oldest due time among them.
func testQueueDepth(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	if d, err := s.QueueDepth(ctx()); err != nil || d.Due != 0 || !d.OldestDue.IsZero() {
		t.Fatalf("empty queue: %+v %v", d, err)
	}
	t0 := clock.Now()
	publish(t, s, "a", 3, "wh_a")
	clock.Advance(time.Second)
	publish(t, s, "b", 2, "wh_b")
	if d, err := s.QueueDepth(ctx()); err != nil || d.Due != 5 || !d.OldestDue.Equal(t0) {
		t.Fatalf("five due: %+v %v (want oldest %v)", d, err, t0)
	}
	claim(t, s, 3, nil) // being sent: not due
	if d, err := s.QueueDepth(ctx()); err != nil || d.Due != 2 {
		t.Fatalf("after a claim of 3: %+v %v", d, err)
	}
	// A webhook the engine has no room for (its concurrency or its rate
	// limit) is put off by the claim; its deliveries are still due, and
	// waiting: a backlog behind a slow endpoint is what the gauge is for.
	claim(t, s, 10, func(string, string) (int, time.Duration) { return 0, time.Minute })
	if d, err := s.QueueDepth(ctx()); err != nil || d.Due != 2 || !d.OldestDue.Equal(t0.Add(time.Second)) {
		t.Fatalf("put off for lack of room: %+v %v", d, err)
	}
}

func eventsOf(t *testing.T, s hookd.Store, typ string) []*hookd.Event {
	t.Helper()
	list, err := s.ListEvents(ctx(), hookd.EventQuery{TenantID: "acme", Type: typ, Limit: 100})
	must(t, err)
	return list
}

// A webhook hookd disables is announced, in the same transaction, to the
// tenant's webhooks that subscribe to hookd's own events (not to "*").
func testDisableAnnounced(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_all")
	ops := webhook("acme", "wh_ops")
	ops.Events = []string{"hookd.*"}
	must(t, s.CreateWebhook(ctx(), ops))
	publish(t, s, "e", 1, "wh_a")
	c := claim(t, s, 10, nil).Claims[0]
	if rec := record(t, s, failed(c, hookd.StatusFailed, 410, clock.Now())); rec.Created != 1 {
		t.Fatalf("the record says it made %d deliveries, want the one to wh_ops", rec.Created)
	}
	evs := eventsOf(t, s, hookd.EventWebhookDisabled)
	if len(evs) != 1 {
		t.Fatalf("%d disabled events", len(evs))
	}
	var body struct {
		Data map[string]any `json:"data"`
	}
	must(t, json.Unmarshal(evs[0].Payload, &body))
	if body.Data["webhookId"] != "wh_a" || body.Data["reason"] != "gone" || body.Data["url"] != "https://example.com/wh_a" || body.Data["name"] != "hook wh_a" {
		t.Fatalf("event data %v", body.Data)
	}
	ds, _ := s.ListEventDeliveries(ctx(), "acme", evs[0].ID)
	if len(ds) != 1 || ds[0].WebhookID != "wh_ops" || ds[0].Status != hookd.StatusPending {
		t.Fatalf("deliveries %+v", ds)
	}
	// It goes out like any delivery: the next claim takes it.
	if res := claim(t, s, 10, nil); len(res.Claims) != 1 || res.Claims[0].EventType != hookd.EventWebhookDisabled {
		t.Fatalf("claimed %+v", res.Claims)
	}
}

// The operator's webhook is told of every tenant's webhooks, its tenant in
// the metadata, and once of its own: one event, not a second copy as if
// it were a tenant's.
func testOperatorToldOnceOfItself(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	must(t, s.CreateTenant(ctx(), &hookd.Tenant{ID: hookd.OperatorTenant, Name: "operator", CreatedAt: base}))
	op := webhook(hookd.OperatorTenant, hookd.OperatorWebhook)
	op.Events = []string{"hookd.*"}
	must(t, s.CreateWebhook(ctx(), op))
	publish(t, s, "e", 1, "wh_a")
	c := claim(t, s, 10, nil).Claims[0]
	if rec := record(t, s, failed(c, hookd.StatusFailed, 410, clock.Now())); rec.Created != 1 {
		t.Fatalf("a tenant's disable made %d deliveries, want 1 (the operator's copy)", rec.Created)
	}
	told := claim(t, s, 10, nil).Claims
	if len(told) != 1 || told[0].WebhookID != hookd.OperatorWebhook {
		t.Fatalf("claimed %+v", told)
	}
	// The operator's webhook fails that delivery out of attempts: it is
	// told so, once.
	o := failed(told[0], hookd.StatusFailed, 500, clock.Now())
	if rec := record(t, s, o); rec.Created != 1 {
		t.Fatalf("the operator webhook's own exhausted delivery made %d deliveries, want 1", rec.Created)
	}
	for typ, want := range map[string]map[any]string{
		hookd.EventWebhookDisabled:   {"wh_a": "acme"},
		hookd.EventDeliveryExhausted: {hookd.OperatorWebhook: hookd.OperatorTenant},
	} {
		list, err := s.ListEvents(ctx(), hookd.EventQuery{TenantID: hookd.OperatorTenant, Type: typ, Limit: 10})
		must(t, err)
		if len(list) != 1 {
			t.Fatalf("the operator's tenant holds %d %s events, want 1", len(list), typ)
		}
		var body struct {
			Data     map[string]any    `json:"data"`
			Metadata map[string]string `json:"metadata"`
		}
		must(t, json.Unmarshal(list[0].Payload, &body))
		if tenant, ok := want[body.Data["webhookId"]]; !ok || body.Metadata["tenantId"] != tenant {
			t.Fatalf("%s event %s", typ, list[0].Payload)
		}
	}
}

// hookd.delivery.exhausted once per failing streak, and recovered when
// the streak ends.
func testExhaustedOncePerStreak(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 4, "wh_a")
	cs := claim(t, s, 10, nil).Claims
	ex := func(c *hookd.Claim) *hookd.Outcome { return failed(c, hookd.StatusFailed, 500, clock.Now()) }
	record(t, s, ex(cs[0]))
	clock.Advance(time.Second)
	record(t, s, ex(cs[1])) // the same streak: no second alert
	if evs := eventsOf(t, s, hookd.EventDeliveryExhausted); len(evs) != 1 || !strings.Contains(string(evs[0].Payload), cs[0].DeliveryID) ||
		!strings.Contains(string(evs[0].Payload), `"lastStatusCode":500`) || !strings.Contains(string(evs[0].Payload), `"eventId":"`+cs[0].EventID) {
		t.Fatalf("exhausted events %d: %s", len(evs), evs[0].Payload)
	}
	clock.Advance(time.Second)
	record(t, s, outcome(cs[2], hookd.StatusSuccess, clock.Now()))
	if evs := eventsOf(t, s, hookd.EventWebhookRecovered); len(evs) != 1 {
		t.Fatalf("%d recovered events", len(evs))
	}
	clock.Advance(time.Second)
	record(t, s, ex(cs[3])) // a new streak
	if evs := eventsOf(t, s, hookd.EventDeliveryExhausted); len(evs) != 2 {
		t.Fatalf("%d exhausted events after a new streak", len(evs))
	}
	// A manual attempt's failure is not a delivery out of attempts.
	_, h := health(t, s, "wh_a")
	if h.ConsecutiveFailures != 1 {
		t.Fatalf("health %+v", h)
	}
}

// A 410 followed, in the same batch, by a success is not a gone endpoint:
// the last answer counts.
func testGoneThenSuccessStays(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 2, "wh_a")
	cs := claim(t, s, 10, nil).Claims
	t0 := clock.Now()
	rec := record(t, s, failed(cs[0], hookd.StatusFailed, 410, t0), outcome(cs[1], hookd.StatusSuccess, t0.Add(time.Second)))
	if w, h := health(t, s, "wh_a"); len(rec.Disabled) != 0 || !w.Enabled || h.Status() != hookd.HealthHealthy {
		t.Fatalf("after 410 then 200: disabled %v, %+v", rec.Disabled, h)
	}
}

// Replicas record in any order: a success older than the stored streak's
// start does not end it, nor move the last success back.
func testOlderSuccessKeepsStreak(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 3, "wh_a")
	cs := claim(t, s, 10, nil).Claims
	t0 := clock.Now()
	record(t, s, outcome(cs[0], hookd.StatusSuccess, t0.Add(time.Second)))
	record(t, s, failed(cs[1], hookd.StatusRetrying, 500, t0.Add(3*time.Second)))
	record(t, s, outcome(cs[2], hookd.StatusSuccess, t0.Add(2*time.Second))) // recorded late
	_, h := health(t, s, "wh_a")
	if h.Status() != hookd.HealthFailing || h.ConsecutiveFailures != 1 || !h.FailingSince.Equal(t0.Add(3*time.Second)) || !h.LastSuccessAt.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("after an older success recorded late: %+v", h)
	}
}

// A success older than the stored streak (a slow attempt recorded late)
// does not end it, so it announces no recovery; the next real one does,
// once.
func testOlderSuccessNotRecovered(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 3, "wh_a")
	cs := claim(t, s, 10, nil).Claims
	t0 := clock.Now()
	record(t, s, failed(cs[1], hookd.StatusRetrying, 500, t0.Add(3*time.Second)))
	record(t, s, outcome(cs[0], hookd.StatusSuccess, t0.Add(time.Second)))
	if _, h := health(t, s, "wh_a"); h.Status() != hookd.HealthFailing {
		t.Fatalf("after an older success: %+v", h)
	}
	if n := len(eventsOf(t, s, hookd.EventWebhookRecovered)); n != 0 {
		t.Fatalf("%d hookd.webhook.recovered for a success older than the streak", n)
	}
	record(t, s, outcome(cs[2], hookd.StatusSuccess, t0.Add(4*time.Second)))
	if n := len(eventsOf(t, s, hookd.EventWebhookRecovered)); n != 1 {
		t.Fatalf("%d hookd.webhook.recovered after the streak ended", n)
	}
}

// An older success recorded late beside a delivery out of attempts does
// not make the streak's exhausted told again.
func testOlderSuccessKeepsExhausted(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 3, "wh_a")
	cs := claim(t, s, 10, nil).Claims
	t0 := clock.Now()
	record(t, s, failed(cs[1], hookd.StatusFailed, 500, t0.Add(2*time.Second)))
	record(t, s, outcome(cs[0], hookd.StatusSuccess, t0.Add(time.Second)), failed(cs[2], hookd.StatusFailed, 500, t0.Add(3*time.Second)))
	if _, h := health(t, s, "wh_a"); !h.FailingSince.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("the streak restarted: %+v", h)
	}
	if n := len(eventsOf(t, s, hookd.EventDeliveryExhausted)); n != 1 {
		t.Fatalf("one streak, %d hookd.delivery.exhausted", n)
	}
}

// A failure that started before the webhook's last success (a slow attempt
// that timed out while later ones succeeded) starts no streak, so
// --disable-after does not count from before that success; the delivery
// it ended out of attempts is told of all the same, once.
func testFailureBeforeSuccessIgnored(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 2, "wh_a")
	cs := claim(t, s, 10, nil).Claims
	t0 := clock.Now()
	clock.Advance(6 * time.Second)
	record(t, s, outcome(cs[1], hookd.StatusSuccess, t0.Add(5*time.Second)))
	o := failed(cs[0], hookd.StatusFailed, 0, t0.Add(time.Second))
	rec, err := queue.Policy{DisableAfter: 3 * time.Second}.Record(ctx(), s, []*hookd.Outcome{o}, nil)
	must(t, err)
	w, h := health(t, s, "wh_a")
	if !w.Enabled || len(rec.Disabled) != 0 || h.Status() != hookd.HealthHealthy {
		t.Fatalf("a failure older than the last success: enabled %v, %+v", w.Enabled, h)
	}
	// The delivery it ended is FAILED all the same, and told of.
	if d := detail(t, s, cs[0].DeliveryID); d.Delivery.Status != hookd.StatusFailed {
		t.Fatalf("its delivery: %s", d.Delivery.Status)
	}
	if evs := eventsOf(t, s, hookd.EventDeliveryExhausted); len(evs) != 1 || !strings.Contains(string(evs[0].Payload), cs[0].DeliveryID) {
		t.Fatalf("%d hookd.delivery.exhausted for a delivery out of attempts on a healthy webhook", len(evs))
	}
}

// A 410 from an attempt that started before a user enabled the webhook
// again (sent before hookd disabled it, answered late) does not undo the
// user's enable; one that started after it disables as ever.
func testGoneBeforeReenableIgnored(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 3, "wh_a")
	cs := claim(t, s, 10, nil).Claims
	t0 := clock.Now()
	record(t, s, failed(cs[0], hookd.StatusFailed, 410, t0.Add(2*time.Second)))
	clock.Advance(5 * time.Second)
	w, _ := health(t, s, "wh_a")
	if w.Enabled {
		t.Fatal("a 410 did not disable")
	}
	read := w.UpdatedAt
	w.Enabled, w.DisabledReason, w.DisabledAt = true, "", time.Time{}
	w.Touch(clock.Now())
	must(t, errOf(s.UpdateWebhook(ctx(), w, read)))
	clock.Advance(time.Second)
	if rec := record(t, s, failed(cs[1], hookd.StatusFailed, 410, t0.Add(time.Second))); len(rec.Disabled) != 0 {
		t.Fatalf("disabled again by an attempt older than the enable: %+v", rec.Disabled)
	}
	if w, h := health(t, s, "wh_a"); !w.Enabled || h.ConsecutiveFailures != 0 {
		t.Fatalf("after the old 410: enabled %v, %+v", w.Enabled, h)
	}
	if rec := record(t, s, failed(cs[2], hookd.StatusFailed, 410, clock.Now())); len(rec.Disabled) != 1 {
		t.Fatalf("a 410 after the enable: %+v", rec.Disabled)
	}
}

// A delivery cancelled while being sent whose last attempt fails stays
// CANCELED: not out of attempts, so no hookd.delivery.exhausted. One
// cancelled while held and released unsent is due never again.
func testCanceledWhileSentNotExhausted(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 2, "wh_a")
	cs := claim(t, s, 10, nil).Claims
	if n, sending, err := s.CancelDeliveries(ctx(), "acme", "wh_a", time.Time{}); err != nil || n != 2 || sending != 2 {
		t.Fatalf("canceled %d (sending %d) %v", n, sending, err)
	}
	o := failed(cs[0], hookd.StatusFailed, 500, clock.Now())
	if rec := record(t, s, o); len(rec.Canceled) != 1 {
		t.Fatalf("recorded %+v", rec)
	}
	if d := detail(t, s, cs[0].DeliveryID); d.Delivery.Status != hookd.StatusCanceled {
		t.Fatalf("after its last attempt failed: %s", d.Delivery.Status)
	}
	if evs := eventsOf(t, s, hookd.EventDeliveryExhausted); len(evs) != 0 {
		t.Fatalf("a cancelled delivery announced as exhausted: %d events", len(evs))
	}
	if _, h := health(t, s, "wh_a"); h.ConsecutiveFailures != 1 {
		t.Fatalf("its failed attempt is not in the health: %+v", h)
	}
	if rec := release(t, s, cs[1]); len(rec.Released) != 1 || len(rec.ReleasedCanceled) != 1 || rec.ReleasedCanceled[0] != cs[1].DeliveryID {
		t.Fatalf("released %+v", rec)
	}
	if d := detail(t, s, cs[1].DeliveryID); d.Delivery.Status != hookd.StatusCanceled || !d.Delivery.NextAttemptAt.IsZero() {
		t.Fatalf("released after its cancel: %s, next %v", d.Delivery.Status, d.Delivery.NextAttemptAt)
	}
	clock.Advance(lease)
	if res := claim(t, s, 10, nil); len(res.Claims) != 0 {
		t.Fatalf("claimed %d cancelled deliveries", len(res.Claims))
	}
}

// A delivery cancelled while being sent whose attempt succeeds is
// SUCCESS: it was delivered.
func testCanceledWhileSentSucceeds(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	sending := one(t, s)
	if n, inFlight, err := s.CancelDeliveries(ctx(), "acme", "wh_a", time.Time{}); err != nil || n != 1 || inFlight != 1 {
		t.Fatalf("canceled %d (sending %d) %v", n, inFlight, err)
	}
	if rec := record(t, s, outcome(sending, hookd.StatusSuccess, clock.Now())); len(rec.Written) != 1 || len(rec.Canceled) != 0 {
		t.Fatalf("recorded %+v", rec)
	}
	if d := detail(t, s, sending.DeliveryID); d.Delivery.Status != hookd.StatusSuccess || len(d.Attempts) != 1 {
		t.Fatalf("after its successful attempt: %s, %d attempts", d.Delivery.Status, len(d.Attempts))
	}
}

// CancelDeliveries ends waiting deliveries CANCELED, those created after
// before aside, and writes its audit entry only when it changed something.
// One being sent is CANCELED too, but keeps its lease: its attempt's
// outcome is recorded, and a failure leaves it CANCELED, never retried.
func testCancelDeliveries(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 3, "wh_a")
	sending := claim(t, s, 1, nil).Claims[0] // a live lease: being sent
	clock.Advance(time.Second)
	cut := clock.Now()
	clock.Advance(time.Second)
	later := publish(t, s, "f", 1, "wh_a")
	c, _ := audited(hookd.AuditDeliveriesCanceled, hookd.AuditTarget{Type: "webhook", ID: "wh_a"})
	n, inFlight, err := s.CancelDeliveries(c, "acme", "wh_a", cut)
	must(t, err)
	if n != 3 || inFlight != 1 {
		t.Fatalf("canceled %d (sending %d), want the three created before the cut, the one being sent with them", n, inFlight)
	}
	// Still being sent: a retry by hand waits for its attempt.
	wantErr(t, s.RetryDelivery(ctx(), "acme", sending.DeliveryID), hookd.ErrConflict)
	if d := detail(t, s, sending.DeliveryID); d.Delivery.Status != hookd.StatusCanceled {
		t.Fatalf("the one being sent: %s", d.Delivery.Status)
	}
	ds, _ := s.ListEventDeliveries(ctx(), "acme", later[0])
	if ds[0].Status != hookd.StatusPending {
		t.Fatalf("the later one: %s", ds[0].Status)
	}
	// Its attempt ends: recorded, and still CANCELED, not RETRYING.
	if rec := record(t, s, failed(sending, hookd.StatusRetrying, 500, clock.Now())); len(rec.Written) != 1 || len(rec.Canceled) != 1 {
		t.Fatalf("the attempt of the one being sent was not recorded, or not as cancelled: %+v", rec)
	}
	if d := detail(t, s, sending.DeliveryID); d.Delivery.Status != hookd.StatusCanceled || len(d.Attempts) != 1 || !d.Delivery.NextAttemptAt.IsZero() {
		t.Fatalf("after its failed attempt: %s, %d attempts, next %v", d.Delivery.Status, len(d.Attempts), d.Delivery.NextAttemptAt)
	}
	// Not due, and not claimed.
	clock.Advance(lease)
	if res := claim(t, s, 10, nil); len(res.Claims) != 1 || res.Claims[0].EventID != later[0] {
		t.Fatalf("claimed %d after the cancel, want the later one alone", len(res.Claims))
	}
	if st, _ := s.Stats(ctx(), hookd.StatsQuery{TenantID: "acme"}); st.ByStatus[hookd.StatusCanceled] != 3 {
		t.Fatalf("stats %v", st.ByStatus)
	}
	c, _ = audited(hookd.AuditDeliveriesCanceled, hookd.AuditTarget{Type: "webhook", ID: "wh_a"})
	if n, _, err := s.CancelDeliveries(c, "acme", "wh_a", cut); err != nil || n != 0 {
		t.Fatalf("again: %d %v", n, err)
	}
	if log, _ := s.ListAudit(ctx(), hookd.AuditQuery{TenantID: "acme", Limit: 10}); len(log) != 1 {
		t.Fatalf("%d audit entries: one cancel changed something", len(log))
	}
}
