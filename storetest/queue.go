package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/queue"
)

// timed are the cases that move the stores' clock: the queue's primitives
// and the queue algorithm over them, one behaviour each.
var timed = map[string]func(*testing.T, hookd.Store, *Clock){
	"ClaimLeasesDueDeliveries":           testClaimLeases,
	"LeaseRunsOutAndDeliveryFallsDue":    testLeaseRunsOut,
	"WebhookWithoutRoomIsPassedOver":     testClaimRoom,
	"BacklogDoesNotHideAnotherWebhook":   testBacklogDoesNotHide,
	"ServedWebhookGoesToTheBack":         testRoundRobin,
	"StaleOutcomeChangesNothing":         testStaleOutcome,
	"LateOutcomeNeverUndoesSuccess":      testLateOutcomeAfterSuccess,
	"OutcomeIsRecordedOnce":              testOutcomeRecordedOnce,
	"BatchWritesOnlyCurrentLeases":       testBatchMixesStale,
	"StaleReleaseChangesNothing":         testStaleRelease,
	"ReleaseCountsNoAttempt":             testRelease,
	"ReleaseDueInWaits":                  testReleaseDueIn,
	"ReleasedCountedOnce":                testReleasedCountedOnce,
	"ExtendedLeaseHolds":                 testExtendLease,
	"ExtendRefusedWhenCanceled":          testExtendCanceled,
	"LiveLeasesOnlyHeldAndWaiting":       testLiveLeases,
	"ManualRetryOfLeasedDeliveryRefused": testRetryLeasedRefused,
	"ManualRetryFencesExpiredLease":      testRetryAfterLeaseLost,
	"RetryFailedIsManual":                testRetryFailed,
	"RetryFailedWindow":                  testRetryFailedWindow,
	"ListEventsWindow":                   testListEventsWindow,
	"ListEventsFilters":                  testListEventsFilters,
	"AttemptKeepsItsTrigger":             testAttemptTrigger,
	"OutcomeWithInvalidTextStores":       testOutcomeInvalidText,
	"OneBadOutcomeSinksAlone":            testOneBadOutcome,
	"DisableSparesAttemptsInFlight":      testDisableSparesInFlight,
	"ClaimFailsDisabledWebhooksDue":      testClaimFailsDisabled,
	"RetryFallsDueAtItsTime":             testRetryingFallsDue,
	"IdleWebhookLeavesTheQueue":          testIdleWebhookLeaves,
	"OutcomeOfDeletedWebhookDropped":     testDeletedWebhookOutcome,
	"RateBudget":                         testRateBudget,
	"TestDelivery":                       testTestDelivery,
	"StaleEditRefused":                   testStaleEditRefused,
	"RotationNeverUndone":                testRotationNeverUndone,
	"StatsSeries":                        testStatsSeries,
	"HandoffLeasesToThePublisher":        testHandoffLeases,
	"HandedOffFallsDueWhenLeaseEnds":     testHandoffLeaseRunsOut,
	"HandoffSkipsDisabledWebhook":        testHandoffSkipsDisabled,
	"DuplicatePublishHandsOffNothing":    testHandoffDuplicate,
	"DuplicateOfDeliveredEvent":          testDuplicateOfDelivered,
	"HandoffNeverOvertakesDueDelivery":   testHandoffWaitsItsTurn,
}

const lease = time.Minute

func roomAll(string, string) (int, time.Duration) { return 1000, time.Second }

func claim(t *testing.T, s hookd.Store, limit int, room func(string, string) (int, time.Duration)) *queue.ClaimResult {
	t.Helper()
	if room == nil {
		room = roomAll
	}
	res, err := queue.Claim(ctx(), s, queue.ClaimParams{Limit: limit, Lease: lease, Room: room})
	must(t, err)
	return res
}

// publish stores n events of tenant acme for the webhooks, concurrently
// (as the API does), and returns their IDs.
func publish(t *testing.T, s hookd.Store, prefix string, n int, webhooks ...string) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 128)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%05d", prefix, i)
		wg.Add(1)
		sem <- struct{}{}
		go func(id string) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := s.PublishEvent(ctx(), event("acme", id, "a.b"), webhooks, nil); err != nil {
				errs <- err
			}
		}(ids[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// setup makes tenant acme with the webhooks.
func setup(t *testing.T, s hookd.Store, webhooks ...string) {
	t.Helper()
	tenant(t, s, "acme")
	for _, id := range webhooks {
		must(t, s.CreateWebhook(ctx(), webhook("acme", id)))
	}
}

func att(ok bool, code int, at time.Time) *hookd.Attempt {
	a := &hookd.Attempt{Number: 1, StartedAt: at, Duration: 20 * time.Millisecond, StatusCode: code, Success: ok,
		RequestHeaders: map[string]string{"Webhook-Id": "x"}, ResponseHeaders: map[string]string{"X-A": "b"}, ResponseBody: []byte("body")}
	if !ok {
		a.Error = fmt.Sprintf("HTTP %d", code)
	}
	return a
}

func outcome(c *hookd.Claim, status hookd.DeliveryStatus, at time.Time) *hookd.Outcome {
	return &hookd.Outcome{Lease: c.Lease, WebhookID: c.WebhookID, Status: status, Attempt: att(status == hookd.StatusSuccess, map[bool]int{true: 200, false: 500}[status == hookd.StatusSuccess], at)}
}

func record(t *testing.T, s hookd.Store, outcomes ...*hookd.Outcome) *queue.Recorded {
	t.Helper()
	rec, err := queue.Record(ctx(), s, outcomes, nil)
	must(t, err)
	return rec
}

func detail(t *testing.T, s hookd.Store, id string) *hookd.DeliveryDetail {
	t.Helper()
	d, err := s.GetDelivery(ctx(), "acme", id)
	must(t, err)
	return d
}

// one claims exactly one delivery.
func one(t *testing.T, s hookd.Store) *hookd.Claim {
	t.Helper()
	res := claim(t, s, 10, nil)
	if len(res.Claims) != 1 {
		t.Fatalf("claimed %d, want 1", len(res.Claims))
	}
	return res.Claims[0]
}

func testClaimLeases(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 3, "wh_a")
	res := claim(t, s, 10, nil)
	if len(res.Claims) != 3 || !res.Now.Equal(clock.Now()) {
		t.Fatalf("claimed %d at %v", len(res.Claims), res.Now)
	}
	for _, c := range res.Claims {
		if len(c.Payload) == 0 || c.EventType != "a.b" || c.Attempts != 0 || c.Manual || c.Token <= 0 ||
			c.WebhookUpdatedAt.IsZero() || !c.LeasedUntil.Equal(clock.Now().Add(lease)) {
			t.Fatalf("claim = %+v", c)
		}
	}
	again := claim(t, s, 10, nil)
	if len(again.Claims) != 0 {
		t.Fatalf("claimed %d leased deliveries again", len(again.Claims))
	}
	if !again.NextDue.Equal(clock.Now().Add(lease)) {
		t.Fatalf("NextDue = %v, want the leases' end", again.NextDue)
	}
}

func testLeaseRunsOut(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	first := one(t, s)
	clock.Advance(lease)
	second := one(t, s)
	if second.DeliveryID != first.DeliveryID || second.Token <= first.Token {
		t.Fatalf("after the lease: %+v, first %+v", second.Lease, first.Lease)
	}
}

func testClaimRoom(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	publish(t, s, "e", 3, "wh_a", "wh_b")
	room := func(tenant, w string) (int, time.Duration) {
		if tenant != "acme" {
			t.Errorf("room asked for %s of tenant %q, want acme", w, tenant)
		}
		if w == "wh_a" {
			return 1, 10 * time.Second
		}
		return 10, time.Second
	}
	n := map[string]int{}
	for _, c := range claim(t, s, 10, room).Claims {
		n[c.WebhookID]++
	}
	if n["wh_a"] != 1 || n["wh_b"] != 3 {
		t.Fatalf("claimed %v, want wh_a 1 (its room), wh_b 3", n)
	}
	full := func(_, w string) (int, time.Duration) {
		if w == "wh_a" {
			return 0, 10 * time.Second
		}
		return 10, time.Second
	}
	if got := claim(t, s, 10, full); len(got.Claims) != 0 || !got.NextDue.Equal(clock.Now().Add(10*time.Second)) {
		t.Fatalf("wh_a without room not passed over: claimed %d, next due %v", len(got.Claims), got.NextDue)
	}
	if got := claim(t, s, 10, roomAll); len(got.Claims) != 0 {
		t.Fatalf("claimed %d of a webhook passed over", len(got.Claims))
	}
	clock.Advance(10 * time.Second)
	if got := claim(t, s, 10, roomAll); len(got.Claims) != 2 {
		t.Fatalf("after the wait claimed %d, want wh_a's other 2", len(got.Claims))
	}
}

func testBacklogDoesNotHide(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	publish(t, s, "a", 10_000, "wh_a")
	clock.Advance(time.Second)
	publish(t, s, "b", 1, "wh_b")
	var due []*hookd.DueWebhook
	must(t, s.QueueTx(ctx(), func(tx hookd.QueueTx) error {
		var err error
		due, err = tx.DueWebhooks(ctx(), &hookd.DueWebhooksParams{Now: clock.Now(), Limit: 2})
		return err
	}))
	if len(due) != 2 || due[0].ID != "wh_a" || due[1].ID != "wh_b" {
		t.Fatalf("due webhooks = %v, want wh_a then wh_b", due)
	}
	room := func(string, string) (int, time.Duration) { return 256, 0 }
	n := map[string]int{}
	for _, c := range claim(t, s, 1024, room).Claims {
		n[c.WebhookID]++
	}
	if n["wh_b"] != 1 || n["wh_a"] != 256 {
		t.Fatalf("first claim took %v, want wh_b's 1 and wh_a's room of 256", n)
	}
}

func testRoundRobin(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	publish(t, s, "a", 20, "wh_a")
	clock.Advance(time.Second)
	publish(t, s, "b", 1, "wh_b")
	clock.Advance(time.Second)
	room := func(string, string) (int, time.Duration) { return 5, 0 }
	for _, c := range claim(t, s, 5, room).Claims {
		if c.WebhookID != "wh_a" {
			t.Fatalf("first claim took %s; wh_a fell due first", c.WebhookID)
		}
	}
	// wh_a was served, so it now waits behind wh_b.
	got := claim(t, s, 5, room).Claims
	served := false
	for _, c := range got {
		served = served || c.WebhookID == "wh_b"
	}
	if !served {
		t.Fatal("second claim did not serve wh_b")
	}
}

// expireAndReclaim claims the one delivery, lets the lease run out and
// claims it again: two claims of one delivery, the first stale.
func expireAndReclaim(t *testing.T, s hookd.Store, clock *Clock) (stale, current *hookd.Claim) {
	t.Helper()
	stale = one(t, s)
	clock.Advance(lease)
	current = one(t, s)
	return stale, current
}

func testStaleOutcome(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	old, cur := expireAndReclaim(t, s, clock)
	rec := record(t, s, outcome(old, hookd.StatusSuccess, clock.Now()))
	if rec.Stale != 1 || len(rec.Written) != 0 {
		t.Fatalf("stale outcome: %+v", rec)
	}
	d := detail(t, s, cur.DeliveryID)
	if d.Delivery.Status != hookd.StatusPending || d.Delivery.Attempts != 0 || len(d.Attempts) != 0 {
		t.Fatalf("a stale outcome changed the delivery: %+v, %d attempts", d.Delivery, len(d.Attempts))
	}
	if rec := record(t, s, outcome(cur, hookd.StatusSuccess, clock.Now())); len(rec.Written) != 1 {
		t.Fatalf("current outcome: %+v", rec)
	}
}

func testLateOutcomeAfterSuccess(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	old, cur := expireAndReclaim(t, s, clock)
	record(t, s, outcome(cur, hookd.StatusSuccess, clock.Now()))
	late := outcome(old, hookd.StatusRetrying, clock.Now())
	late.RetryIn = time.Second
	if rec := record(t, s, late); rec.Stale != 1 {
		t.Fatalf("late outcome: %+v", rec)
	}
	d := detail(t, s, cur.DeliveryID)
	if d.Delivery.Status != hookd.StatusSuccess || d.Delivery.Attempts != 1 || !d.Delivery.NextAttemptAt.IsZero() {
		t.Fatalf("a late outcome undid a success: %+v", d.Delivery)
	}
	clock.Advance(time.Hour)
	if n := len(claim(t, s, 10, nil).Claims); n != 0 {
		t.Fatalf("a succeeded delivery was claimed again (%d)", n)
	}
}

func testOutcomeRecordedOnce(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	record(t, s, outcome(c, hookd.StatusSuccess, clock.Now()))
	if rec := record(t, s, outcome(c, hookd.StatusSuccess, clock.Now())); rec.Stale != 1 {
		t.Fatalf("second write of one outcome: %+v", rec)
	}
	if d := detail(t, s, c.DeliveryID); d.Delivery.Attempts != 1 || len(d.Attempts) != 1 {
		t.Fatalf("after two writes of one outcome: %d attempts, %d rows", d.Delivery.Attempts, len(d.Attempts))
	}
}

// One batch holding a stale outcome and a current one writes the current
// one alone, numbered from its own delivery.
func testBatchMixesStale(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 2, "wh_a")
	old := claim(t, s, 10, nil).Claims
	clock.Advance(lease)
	cur := claim(t, s, 10, nil).Claims
	if len(old) != 2 || len(cur) != 2 {
		t.Fatalf("claimed %d, then %d", len(old), len(cur))
	}
	var stale, current *hookd.Claim
	for _, c := range cur {
		if c.DeliveryID == old[0].DeliveryID {
			stale = old[0]
		} else {
			current = c
		}
	}
	rec := record(t, s, outcome(stale, hookd.StatusSuccess, clock.Now()), outcome(current, hookd.StatusFailed, clock.Now()))
	if rec.Stale != 1 || len(rec.Written) != 1 || rec.Written[0] != current.DeliveryID {
		t.Fatalf("batch of a stale and a current outcome: %+v", rec)
	}
	if d := detail(t, s, stale.DeliveryID); d.Delivery.Status != hookd.StatusPending || len(d.Attempts) != 0 {
		t.Fatalf("the stale outcome was written: %+v, %d attempts", d.Delivery, len(d.Attempts))
	}
	if d := detail(t, s, current.DeliveryID); d.Delivery.Status != hookd.StatusFailed || d.Delivery.Attempts != 1 || len(d.Attempts) != 1 || d.Attempts[0].Number != 1 {
		t.Fatalf("the current outcome: %+v, %d attempts", d.Delivery, len(d.Attempts))
	}
}

func release(t *testing.T, s hookd.Store, c *hookd.Claim) *queue.Recorded {
	t.Helper()
	rec, err := queue.Record(ctx(), s, nil, []queue.Release{{Lease: c.Lease, WebhookID: c.WebhookID}})
	must(t, err)
	return rec
}

func testStaleRelease(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	old, cur := expireAndReclaim(t, s, clock)
	if rec := release(t, s, old); rec.Stale != 1 || len(rec.Released) != 0 {
		t.Fatalf("stale release: %+v", rec)
	}
	if n := len(claim(t, s, 10, nil).Claims); n != 0 {
		t.Fatalf("a stale release freed a delivery another claim holds (%d claimed)", n)
	}
	if rec := record(t, s, outcome(cur, hookd.StatusSuccess, clock.Now())); len(rec.Written) != 1 {
		t.Fatalf("the holder's outcome after a stale release: %+v", rec)
	}
}

func testRelease(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	if rec := release(t, s, c); len(rec.Released) != 1 {
		t.Fatalf("release: %+v", rec)
	}
	if d := detail(t, s, c.DeliveryID); d.Delivery.Attempts != 0 || d.Delivery.Status != hookd.StatusPending || len(d.Attempts) != 0 {
		t.Fatalf("a release counted an attempt: %+v", d.Delivery)
	}
	again := one(t, s) // due at once
	if again.DeliveryID != c.DeliveryID || again.Token <= c.Token {
		t.Fatalf("after release claimed %+v", again.Lease)
	}
}

// A release with DueIn (a send cut off mid-attempt) keeps its lease until
// then (to the second, rounded up): a retry by hand meanwhile is refused
// as for one being sent; then it falls due. One without, beside it in the
// batch, is due at once; one a cancel took while held ends CANCELED now.
func testReleaseDueIn(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b", "wh_c")
	publish(t, s, "e1", 1, "wh_a")
	publish(t, s, "e2", 1, "wh_b")
	publish(t, s, "e3", 1, "wh_c")
	cs := claim(t, s, 10, nil).Claims
	if len(cs) != 3 {
		t.Fatalf("claimed %d", len(cs))
	}
	byHook := map[string]*hookd.Claim{}
	for _, c := range cs {
		byHook[c.WebhookID] = c
	}
	later, now, canceled := byHook["wh_a"], byHook["wh_b"], byHook["wh_c"]
	if n, sending, err := s.CancelDeliveries(ctx(), "acme", "wh_c", time.Time{}); err != nil || n != 1 || sending != 1 {
		t.Fatalf("cancel: %d, %d sending, %v", n, sending, err)
	}
	rec, err := queue.Record(ctx(), s, nil, []queue.Release{
		{Lease: later.Lease, WebhookID: later.WebhookID, DueIn: 29*time.Second + time.Millisecond}, // rounded up to 30 s
		{Lease: now.Lease, WebhookID: now.WebhookID},
		{Lease: canceled.Lease, WebhookID: canceled.WebhookID, DueIn: 30 * time.Second},
	})
	must(t, err)
	if len(rec.Released) != 3 || len(rec.ReleasedCanceled) != 1 || rec.ReleasedCanceled[0] != canceled.DeliveryID {
		t.Fatalf("released %+v", rec)
	}
	if d := detail(t, s, canceled.DeliveryID); d.Delivery.Status != hookd.StatusCanceled {
		t.Fatalf("the cancelled one: %+v", d.Delivery)
	}
	if got := claim(t, s, 10, nil).Claims; len(got) != 1 || got[0].DeliveryID != now.DeliveryID {
		t.Fatalf("claimed %+v, want only the one released at once", got)
	}
	clock.Advance(29 * time.Second)
	if n := len(claim(t, s, 10, nil).Claims); n != 0 {
		t.Fatalf("claimed %d before it was due", n)
	}
	wantErr(t, s.RetryDelivery(ctx(), "acme", later.DeliveryID), hookd.ErrConflict)
	// The cancelled one is being sent as long (a retry by hand would send
	// a second copy while its receiver may be at the first), and stays
	// CANCELED.
	wantErr(t, s.RetryDelivery(ctx(), "acme", canceled.DeliveryID), hookd.ErrConflict)
	clock.Advance(2 * time.Second)
	if got := claim(t, s, 10, nil).Claims; len(got) != 1 || got[0].DeliveryID != later.DeliveryID {
		t.Fatalf("claimed %+v once it was due", got)
	}
	if d := detail(t, s, canceled.DeliveryID); d.Delivery.Status != hookd.StatusCanceled {
		t.Fatalf("the cancelled one after its time: %+v", d.Delivery)
	}
	must(t, s.RetryDelivery(ctx(), "acme", canceled.DeliveryID))
}

// Releases beside an outcome that tells of a delivery out of attempts are
// counted once, whether or not the transaction had to run again (SQLite's
// relaxed batch made durable for the operational event).
func testReleasedCountedOnce(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 3, "wh_a")
	cs := claim(t, s, 10, nil).Claims
	o := failed(cs[0], hookd.StatusFailed, 500, clock.Now())
	rec, err := queue.Record(ctx(), s, []*hookd.Outcome{o}, []queue.Release{
		{Lease: cs[1].Lease, WebhookID: cs[1].WebhookID},
		{Lease: cs[2].Lease, WebhookID: cs[2].WebhookID, DueIn: 30 * time.Second}})
	must(t, err)
	if len(rec.Written) != 1 || len(rec.Released) != 2 || rec.Stale != 0 {
		t.Fatalf("an outcome and 2 releases: %+v", rec)
	}
}

func testExtendLease(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	ok, at, err := queue.Extend(ctx(), s, []hookd.Lease{c.Lease}, 5*time.Minute)
	must(t, err)
	if len(ok) != 1 || !at.Equal(clock.Now()) {
		t.Fatalf("extend = %v at %v", ok, at)
	}
	clock.Advance(2 * lease)
	if n := len(claim(t, s, 10, nil).Claims); n != 0 {
		t.Fatalf("claimed %d within an extended lease", n)
	}
	stale := c.Lease
	stale.Token--
	if ok, _, err := queue.Extend(ctx(), s, []hookd.Lease{stale}, time.Hour); err != nil || len(ok) != 0 {
		t.Fatalf("extended a stale lease: %v, %v", ok, err)
	}
}

// A delivery cancelled while held keeps its lease for the attempt being
// sent, but renewing it is refused: one not started yet is not to be sent.
// Its release then ends it CANCELED.
func testExtendCanceled(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	if n, _, err := s.CancelDeliveries(ctx(), "acme", "wh_a", time.Time{}); err != nil || n != 1 {
		t.Fatalf("cancel: %d, %v", n, err)
	}
	if ok, _, err := queue.Extend(ctx(), s, []hookd.Lease{c.Lease}, time.Hour); err != nil || len(ok) != 0 {
		t.Fatalf("extended a cancelled delivery's lease: %v, %v", ok, err)
	}
	release(t, s, c)
	if d := detail(t, s, c.DeliveryID); d.Delivery.Status != hookd.StatusCanceled || d.Delivery.Attempts != 0 || !d.Delivery.NextAttemptAt.IsZero() {
		t.Fatalf("after the release: %+v", d.Delivery)
	}
}

// LiveLeases names the deliveries still held under the given lease and
// still waiting: not one whose lease was taken over, not one cancelled,
// not one whose outcome was recorded.
func testLiveLeases(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	for i := range 3 {
		publish(t, s, fmt.Sprintf("e%d", i), 1, "wh_a")
	}
	publish(t, s, "e3", 1, "wh_b")
	cs := claim(t, s, 10, nil).Claims
	if len(cs) != 4 {
		t.Fatalf("claimed %d, want 4", len(cs))
	}
	byHook := map[string][]*hookd.Claim{}
	for _, c := range cs {
		byHook[c.WebhookID] = append(byHook[c.WebhookID], c)
	}
	a, b := byHook["wh_a"], byHook["wh_b"][0]
	record(t, s, outcome(a[0], hookd.StatusSuccess, clock.Now()))
	if n, _, err := s.CancelDeliveries(ctx(), "acme", "wh_b", time.Time{}); err != nil || n != 1 {
		t.Fatalf("cancel: %d, %v", n, err)
	}
	stale := a[2].Lease
	stale.Token++
	live, err := s.LiveLeases(ctx(), &hookd.LiveLeasesParams{Leases: []hookd.Lease{a[0].Lease, a[1].Lease, stale, b.Lease}})
	must(t, err)
	if len(live) != 1 || live[0] != a[1].DeliveryID {
		t.Fatalf("live = %v, want only %s (held and waiting)", live, a[1].DeliveryID)
	}
	if live, err := s.LiveLeases(ctx(), &hookd.LiveLeasesParams{}); err != nil || len(live) != 0 {
		t.Fatalf("no leases: %v, %v", live, err)
	}
}

func testRetryLeasedRefused(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	wantErr(t, s.RetryDelivery(ctx(), "acme", c.DeliveryID), hookd.ErrConflict)
	wantErr(t, s.RetryDelivery(ctx(), "other", c.DeliveryID), hookd.ErrNotFound)
	if rec := record(t, s, outcome(c, hookd.StatusFailed, clock.Now())); len(rec.Written) != 1 {
		t.Fatalf("the refused retry disturbed the lease: %+v", rec)
	}
	must(t, s.RetryDelivery(ctx(), "acme", c.DeliveryID))
	again := one(t, s)
	if !again.Manual || again.Attempts != 1 {
		t.Fatalf("manual retry claim = %+v", again)
	}
}

func testRetryAfterLeaseLost(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	clock.Advance(lease) // its process died
	must(t, s.RetryDelivery(ctx(), "acme", c.DeliveryID))
	if rec := record(t, s, outcome(c, hookd.StatusSuccess, clock.Now())); rec.Stale != 1 {
		t.Fatalf("the dead process's outcome after a manual retry: %+v", rec)
	}
	if again := one(t, s); !again.Manual {
		t.Fatalf("retry claim = %+v", again)
	}
}

func testRetryFailed(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 2, "wh_a")
	cl := claim(t, s, 10, nil).Claims
	record(t, s, outcome(cl[0], hookd.StatusFailed, clock.Now()), outcome(cl[1], hookd.StatusSuccess, clock.Now()))
	failed, total, err := s.ListFailedDeliveries(ctx(), "acme", hookd.Page{Limit: 10})
	must(t, err)
	if total != 1 || failed[0].ID != cl[0].DeliveryID {
		t.Fatalf("failed = %d %v", total, failed)
	}
	n, err := s.RetryFailed(ctx(), "acme", "wh_a", hookd.Window{})
	must(t, err)
	if n != 1 {
		t.Fatalf("RetryFailed = %d", n)
	}
	if c := one(t, s); !c.Manual || c.DeliveryID != cl[0].DeliveryID {
		t.Fatalf("retry claim = %+v", c)
	}
}

// An attempt of a manual retry is logged as manual; the schedule's are not.
func testAttemptTrigger(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	record(t, s, outcome(c, hookd.StatusFailed, clock.Now()))
	must(t, s.RetryDelivery(ctx(), "acme", c.DeliveryID))
	again := one(t, s)
	o := outcome(again, hookd.StatusSuccess, clock.Now())
	o.Attempt.Number, o.Attempt.Manual = 2, again.Manual
	record(t, s, o)
	as := detail(t, s, c.DeliveryID).Attempts
	if len(as) != 2 || as[0].Manual || !as[1].Manual {
		t.Fatalf("attempts' manual: %v", []bool{as[0].Manual, len(as) > 1 && as[1].Manual})
	}
}

// RetryFailed with a window retries only the FAILED deliveries created in
// it; both ends are inclusive and a zero end is no bound.
func testRetryFailedWindow(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	var made []time.Time
	for i := range 3 {
		publish(t, s, fmt.Sprintf("e%d", i), 1, "wh_a")
		made = append(made, clock.Now())
		clock.Advance(time.Minute)
	}
	cl := claim(t, s, 10, nil).Claims
	var outs []*hookd.Outcome
	for _, c := range cl {
		outs = append(outs, outcome(c, hookd.StatusFailed, clock.Now()))
	}
	record(t, s, outs...)
	for _, tc := range []struct {
		w    hookd.Window
		want int
	}{
		{hookd.Window{Since: made[2].Add(time.Second)}, 0},
		{hookd.Window{Since: made[1], Until: made[1]}, 1},
		{hookd.Window{Until: made[0]}, 1},
		{hookd.Window{Since: made[2]}, 1},
	} {
		n, err := s.RetryFailed(ctx(), "acme", "wh_a", tc.w)
		must(t, err)
		if n != tc.want {
			t.Fatalf("RetryFailed(%+v) = %d, want %d", tc.w, n, tc.want)
		}
	}
	if res := claim(t, s, 10, nil); len(res.Claims) != 3 {
		t.Fatalf("claimed %d manual attempts, want 3", len(res.Claims))
	}
}

func testOutcomeInvalidText(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	o := outcome(c, hookd.StatusFailed, clock.Now())
	o.Attempt.StatusCode = 302
	o.Attempt.Error = "redirect (302) not followed: Location /\xff\xfe\x00x"
	o.Attempt.ResponseHeaders = map[string]string{"X-\xff": "a\x00b\xc3", "Location": "/\xff\xfe\x00x"}
	o.Attempt.ResponseBody = []byte("ok\x00\xff")
	if rec := record(t, s, o); len(rec.Written) != 1 {
		t.Fatalf("outcome with invalid text: %+v", rec)
	}
	d := detail(t, s, c.DeliveryID)
	texts := []string{d.Delivery.LastError, d.Attempts[0].Error, string(d.Attempts[0].ResponseBody)}
	for k, v := range d.Attempts[0].ResponseHeaders {
		texts = append(texts, k, v)
	}
	for _, s := range texts {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Fatalf("stored %q: not clean UTF-8", s)
		}
	}
	if !strings.HasPrefix(d.Delivery.LastError, "redirect (302) not followed: Location /") || d.Attempts[0].ResponseHeaders["Location"] == "" {
		t.Fatalf("stored %q, %v", d.Delivery.LastError, d.Attempts[0].ResponseHeaders)
	}
}

func testOneBadOutcome(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 100, "wh_a")
	cl := claim(t, s, 100, nil).Claims
	if len(cl) != 100 {
		t.Fatalf("claimed %d", len(cl))
	}
	outcomes := make([]*hookd.Outcome, len(cl))
	for i, c := range cl {
		outcomes[i] = outcome(c, hookd.StatusSuccess, clock.Now())
	}
	outcomes[37].Status = "BOGUS" // the database refuses it
	rec, err := queue.Record(ctx(), s, outcomes, nil)
	if err == nil {
		t.Fatal("a bad outcome was written")
	}
	if len(rec.Written) != 99 {
		t.Fatalf("wrote %d of the 99 good outcomes", len(rec.Written))
	}
	if d := detail(t, s, cl[37].DeliveryID); d.Delivery.Status != hookd.StatusPending || len(d.Attempts) != 0 {
		t.Fatalf("the bad outcome was half-written: %+v", d.Delivery)
	}
	ok, _, _ := s.ListDeliveries(ctx(), hookd.DeliveryQuery{TenantID: "acme", WebhookID: "wh_a", Status: hookd.StatusSuccess, Limit: 200})
	if len(ok) != 99 {
		t.Fatalf("%d deliveries SUCCESS, want 99", len(ok))
	}
}

func disable(t *testing.T, s hookd.Store, id string) (ended int) {
	t.Helper()
	_, ended, err := hookd.EditWebhook(ctx(), s, NewClock().Now, "acme", id, func(w *hookd.Webhook) error {
		w.Enabled = false
		return nil
	})
	must(t, err)
	return ended
}

func testDisableSparesInFlight(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	publish(t, s, "f", 1, "wh_a")
	if ended := disable(t, s, "wh_a"); ended != 1 {
		t.Fatalf("the disable says it ended %d waiting deliveries, want 1", ended)
	}
	waiting, _, _ := s.ListDeliveries(ctx(), hookd.DeliveryQuery{TenantID: "acme", WebhookID: "wh_a", Status: hookd.StatusFailed, Limit: 10})
	if len(waiting) != 1 || waiting[0].ID == c.DeliveryID || waiting[0].LastError != hookd.DisabledError {
		t.Fatalf("after disable, FAILED = %+v; want the waiting one only", waiting)
	}
	if rec := record(t, s, outcome(c, hookd.StatusSuccess, clock.Now())); len(rec.Written) != 1 {
		t.Fatalf("the attempt in flight was not recorded: %+v", rec)
	}
}

func testClaimFailsDisabled(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	if ended := disable(t, s, "wh_a"); ended != 0 {
		t.Fatalf("the disable ended %d deliveries, but the only one is leased", ended)
	}
	clock.Advance(lease) // the attempt's process died
	res := claim(t, s, 10, nil)
	if len(res.Claims) != 0 || res.Failed != 1 {
		t.Fatalf("claim of a disabled webhook's delivery: %d claimed, %d failed", len(res.Claims), res.Failed)
	}
	if d := detail(t, s, c.DeliveryID); d.Delivery.Status != hookd.StatusFailed || d.Delivery.LastError != hookd.DisabledError {
		t.Fatalf("after the claim: %+v", d.Delivery)
	}
}

func testRetryingFallsDue(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	o := outcome(c, hookd.StatusRetrying, clock.Now())
	o.RetryIn = time.Hour
	record(t, s, o)
	d := detail(t, s, c.DeliveryID)
	if d.Delivery.Status != hookd.StatusRetrying || !d.Delivery.NextAttemptAt.Equal(clock.Now().Add(time.Hour)) || d.Delivery.LastError != "HTTP 500" {
		t.Fatalf("retrying = %+v", d.Delivery)
	}
	clock.Advance(lease)
	if res := claim(t, s, 10, nil); len(res.Claims) != 0 || !res.NextDue.Equal(d.Delivery.NextAttemptAt) {
		t.Fatalf("before its time: %d claimed, next due %v", len(res.Claims), res.NextDue)
	}
	clock.Advance(time.Hour)
	if again := one(t, s); again.Attempts != 1 {
		t.Fatalf("at its time: %+v", again)
	}
}

func testIdleWebhookLeaves(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	record(t, s, outcome(one(t, s), hookd.StatusSuccess, clock.Now()))
	clock.Advance(lease)
	if res := claim(t, s, 10, nil); len(res.Claims) != 0 || !res.NextDue.IsZero() {
		t.Fatalf("an idle webhook stayed in the queue: next due %v", res.NextDue)
	}
}

func testDeletedWebhookOutcome(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	publish(t, s, "e", 1, "wh_a")
	c := one(t, s)
	must(t, s.DeleteWebhook(ctx(), "acme", "wh_a"))
	if rec := record(t, s, outcome(c, hookd.StatusSuccess, clock.Now())); rec.Stale != 1 {
		t.Fatalf("outcome of a deleted webhook: %+v", rec)
	}
}

// A rate-limited webhook's budget is spent by claims and kept in the
// store, so that concurrent claimers (replicas) share one budget, never
// spending more than it holds.
func testRateBudget(t *testing.T, s hookd.Store, clock *Clock) {
	tenant(t, s, "acme")
	limited, free := webhook("acme", "wh_r"), webhook("acme", "wh_f")
	limited.RateLimit = 20 // a request every 50ms, bursts of 2
	must(t, s.CreateWebhook(ctx(), limited))
	must(t, s.CreateWebhook(ctx(), free))
	publish(t, s, "e", 16, "wh_r", "wh_f")
	count := func(res *queue.ClaimResult) map[string]int {
		n := map[string]int{}
		for _, c := range res.Claims {
			n[c.WebhookID]++
		}
		return n
	}
	if n := count(claim(t, s, 100, nil)); n["wh_r"] != 2 || n["wh_f"] != 16 {
		t.Fatalf("first claim took %v, want wh_r's burst of 2 and all 16 of wh_f", n)
	}
	// Concurrent claims at one instant share the refilled burst of 2, round
	// after round.
	for round := 0; round < 4; round++ {
		clock.Advance(10 * time.Second)
		var mu sync.Mutex
		total := map[string]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := queue.Claim(ctx(), s, queue.ClaimParams{Limit: 1, Lease: lease, Room: roomAll})
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
		// A claim may pass the webhook over while another holds its budget
		// (PostgreSQL: SKIP LOCKED): what they left, a claim at the same
		// instant takes, and never more than the burst in all.
		taken := total["wh_r"]
		if taken > 0 && taken < 2 {
			taken += count(claim(t, s, 100, nil))["wh_r"]
		}
		if taken != 2 {
			t.Fatalf("round %d: claims took %d (%d concurrently) of the rate-limited webhook's rows, want its burst of 2", round, taken, total["wh_r"])
		}
	}
	now := clock.Now()
	// Nothing more until the next 50ms step; NextDue says when.
	clock.Advance(time.Millisecond)
	res := claim(t, s, 100, nil)
	if n := count(res); n["wh_r"] != 0 {
		t.Fatalf("claimed %d over budget", n["wh_r"])
	}
	if want := now.Add(50 * time.Millisecond); !res.NextDue.Equal(want) {
		t.Fatalf("NextDue = %v, want %v (the budget's next step)", res.NextDue, want)
	}
	clock.Advance(49 * time.Millisecond)
	if n := count(claim(t, s, 100, nil)); n["wh_r"] != 1 {
		t.Fatalf("at the next step claimed %d, want 1", n["wh_r"])
	}
	// An idle second refills the burst, and no more.
	clock.Advance(2 * time.Second)
	if n := count(claim(t, s, 100, nil)); n["wh_r"] != 2 {
		t.Fatalf("after a pause claimed %d, want the burst of 2", n["wh_r"])
	}
}

func testTestDelivery(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	ev := event("acme", "evt_test", "webhook.test")
	c, err := s.CreateTestDelivery(ctx(), ev, "wh_a", lease)
	must(t, err)
	if !c.Manual || c.EventID != "evt_test" || c.Token <= 0 || !c.LeasedUntil.Equal(clock.Now().Add(lease)) || string(c.Payload) != string(ev.Payload) {
		t.Fatalf("test delivery = %+v", c)
	}
	// Leased to the caller: no worker takes it.
	if n := len(claim(t, s, 10, nil).Claims); n != 0 {
		t.Fatalf("a worker claimed the test delivery")
	}
	_, err = s.CreateTestDelivery(ctx(), event("acme", "evt_test2", "webhook.test"), "wh_missing", lease)
	wantErr(t, err, hookd.ErrNotFound)
	// Should the caller die, it falls due when the lease ends.
	clock.Advance(lease)
	again := one(t, s)
	if again.DeliveryID != c.DeliveryID || !again.Manual {
		t.Fatalf("after the test lease: %+v", again)
	}
	if rec := record(t, s, outcome(c, hookd.StatusSuccess, clock.Now())); rec.Stale != 1 {
		t.Fatalf("the dead caller's outcome: %+v", rec)
	}
}

func testStaleEditRefused(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	read, err := s.GetWebhook(ctx(), "acme", "wh_a")
	must(t, err)
	w := *read
	w.Name = "first"
	w.Touch(clock.Now())
	must(t, errOf(s.UpdateWebhook(ctx(), &w, read.UpdatedAt)))
	stale := *read
	stale.Name = "second, from the old version"
	stale.Touch(clock.Now())
	wantErr(t, errOf(s.UpdateWebhook(ctx(), &stale, read.UpdatedAt)), hookd.ErrConflict)
	if got, _ := s.GetWebhook(ctx(), "acme", "wh_a"); got.Name != "first" {
		t.Fatalf("a stale edit was written: %q", got.Name)
	}
}

func testRotationNeverUndone(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	rotated := hookd.GenerateSecret(hookd.SchemeStandard)
	calls := 0
	w, _, err := hookd.EditWebhook(ctx(), s, clock.Now, "acme", "wh_a", func(w *hookd.Webhook) error {
		calls++
		if calls == 1 {
			// A rotation lands between this edit's read and its write.
			_, _, err := hookd.EditWebhook(ctx(), s, clock.Now, "acme", "wh_a", func(w *hookd.Webhook) error {
				w.Rotate(rotated, time.Hour, clock.Now())
				return nil
			})
			must(t, err)
		}
		w.Name = "renamed"
		return nil
	})
	must(t, err)
	got, _ := s.GetWebhook(ctx(), "acme", "wh_a")
	if calls != 2 || got.Secret != rotated || got.Name != "renamed" || w.Secret != rotated {
		t.Fatalf("after an edit raced a rotation (%d tries): name %q, rotated secret kept %v", calls, got.Name, got.Secret == rotated)
	}
	if !errors.Is(errOf(s.UpdateWebhook(ctx(), got, got.UpdatedAt.Add(-time.Microsecond))), hookd.ErrConflict) {
		t.Fatal("an update over an older version was written")
	}
}

// ListEvents filters by any of several types, by channel and by tag (an
// entry of the event's list, matched whole), and leaves hookd's own types
// out on asking. An event reads back with its channels and tags.
func testListEventsFilters(t *testing.T, s hookd.Store, clock *Clock) {
	tenant(t, s, "acme")
	for _, e := range []struct {
		id, typ        string
		channels, tags []string
	}{
		{"e0", "a.b", nil, nil}, {"e1", "Invoice-Paid", []string{"eu", "us_east"}, []string{"project_1", "vip"}}, {"e2", "c.d", []string{"eu-west"}, []string{"eu"}},
		{"e3", hookd.EventWebhookDisabled, nil, nil}, {"e4", "a.b", []string{`say "100%"`}, []string{`say "100%"`}}, {"e5", "Hookd.Mine", []string{"EU"}, nil},
	} {
		ev := event("acme", e.id, e.typ)
		ev.Channels, ev.Tags = e.channels, e.tags
		_, err := s.PublishEvent(ctx(), ev, nil, nil)
		must(t, err)
		got, err := s.GetEvent(ctx(), "acme", e.id)
		must(t, err)
		if !slices.Equal(got.Channels, e.channels) || !slices.Equal(got.Tags, e.tags) {
			t.Fatalf("%s read back with channels %q, tags %q", e.id, got.Channels, got.Tags)
		}
	}
	for _, tc := range []struct {
		q    hookd.EventQuery
		want string
	}{
		{hookd.EventQuery{Types: []string{"a.b", "Invoice-Paid"}}, "e4,e1,e0"},
		{hookd.EventQuery{Channel: "EU"}, "e5"},
		{hookd.EventQuery{Types: []string{"x.y"}}, ""},
		{hookd.EventQuery{Channel: "eu"}, "e1"},
		{hookd.EventQuery{Channel: "us_east"}, "e1"},
		{hookd.EventQuery{Channel: "us%east"}, ""},
		{hookd.EventQuery{Channel: "us"}, ""},
		{hookd.EventQuery{Channel: `say "100%"`}, "e4"},
		{hookd.EventQuery{Tag: "eu"}, "e2"},
		{hookd.EventQuery{Tag: "project"}, ""},
		{hookd.EventQuery{Tag: "vip", Channel: "eu"}, "e1"},
		{hookd.EventQuery{Tag: "vip", Channel: "eu-west"}, ""},
		{hookd.EventQuery{Tag: `say "100%"`, Types: []string{"a.b"}}, "e4"},
		{hookd.EventQuery{NoSystem: true}, "e5,e4,e2,e1,e0"},
		{hookd.EventQuery{Types: []string{"a.b"}, Channel: "eu"}, ""},
		{hookd.EventQuery{Types: []string{"a.b", "Invoice-Paid"}, Channel: "eu"}, "e1"},
		{hookd.EventQuery{Types: []string{"a.b", "c.d", "Invoice-Paid"}, Limit: 2}, "e4,e2"},
		{hookd.EventQuery{Types: []string{"c.d", "x.y", "a.b"}, NoSystem: true}, "e4,e2,e0"},
	} {
		tc.q.TenantID = "acme"
		if tc.q.Limit == 0 {
			tc.q.Limit = 10
		}
		es, err := s.ListEvents(ctx(), tc.q)
		must(t, err)
		if got := strings.Join(evIDs(es), ","); got != tc.want {
			t.Fatalf("%+v: %s, want %s", tc.q, got, tc.want)
		}
	}
}

// ListEvents with since and until lists the events created in that window,
// both ends inclusive, and pages through it with the cursor.
func testListEventsWindow(t *testing.T, s hookd.Store, clock *Clock) {
	tenant(t, s, "acme")
	var made []time.Time
	for i := range 5 {
		ev := event("acme", fmt.Sprintf("e%d", i), "a.b")
		ev.Timestamp = clock.Now() // publish stamps it so
		_, err := s.PublishEvent(ctx(), ev, nil, nil)
		must(t, err)
		made = append(made, ev.Timestamp)
		clock.Advance(time.Minute)
	}
	list := func(q hookd.EventQuery) []string {
		q.TenantID = "acme"
		es, err := s.ListEvents(ctx(), q)
		must(t, err)
		return evIDs(es)
	}
	for _, tc := range []struct {
		q    hookd.EventQuery
		want string
	}{
		{hookd.EventQuery{Since: made[1], Until: made[3], Limit: 10}, "e3,e2,e1"},
		{hookd.EventQuery{Since: made[3], Limit: 10}, "e4,e3"},
		{hookd.EventQuery{Until: made[0], Limit: 10}, "e0"},
		{hookd.EventQuery{Since: made[4].Add(time.Second), Limit: 10}, ""},
		{hookd.EventQuery{Since: made[1], Until: made[3], Limit: 2}, "e3,e2"},
	} {
		if got := strings.Join(list(tc.q), ","); got != tc.want {
			t.Fatalf("%+v: %s, want %s", tc.q, got, tc.want)
		}
	}
	page, err := s.ListEvents(ctx(), hookd.EventQuery{TenantID: "acme", Since: made[1], Until: made[3], Limit: 2})
	must(t, err)
	if got := list(hookd.EventQuery{Since: made[1], Until: made[3], Before: page[1].Seq, Limit: 2}); strings.Join(got, ",") != "e1" {
		t.Fatalf("second page: %v", got)
	}
}

// handOff publishes one event of acme to the webhooks, handing off the
// deliveries to those in leased.
func handOff(t *testing.T, s hookd.Store, id string, webhooks, leased []string) *hookd.PublishResult {
	t.Helper()
	res, err := s.PublishEvent(ctx(), event("acme", id, "a.b"), webhooks, &hookd.Handoff{WebhookIDs: leased, Lease: lease})
	must(t, err)
	return res
}

func testHandoffLeases(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	ev := event("acme", "e1", "a.b")
	res, err := s.PublishEvent(ctx(), ev, []string{"wh_a", "wh_b"}, &hookd.Handoff{WebhookIDs: []string{"wh_a"}, Lease: lease})
	must(t, err)
	if res.Deliveries != 2 || len(res.Leased) != 1 {
		t.Fatalf("published %d deliveries, %d handed off; want 2 and 1", res.Deliveries, len(res.Leased))
	}
	c := res.Leased[0]
	if c.WebhookID != "wh_a" || c.Token != 1 || c.EventID != "e1" || c.EventType != "a.b" || c.TenantID != "acme" ||
		string(c.Payload) != string(ev.Payload) || !c.LeasedUntil.Equal(clock.Now().Add(lease)) || !c.PublishedAt.Equal(ev.Timestamp) || c.Attempts != 0 {
		t.Fatalf("handed off %+v", c)
	}
	// The claim finds only the delivery that was not handed off.
	if got := one(t, s); got.WebhookID != "wh_b" {
		t.Fatalf("claimed %s's delivery, want wh_b's", got.WebhookID)
	}
	// The handed-off lease fences like a claimed one.
	rec := record(t, s, outcome(c, hookd.StatusSuccess, clock.Now()))
	if len(rec.Written) != 1 || rec.Written[0] != c.DeliveryID {
		t.Fatalf("recorded %+v", rec)
	}
	if d := detail(t, s, c.DeliveryID).Delivery; d.Status != hookd.StatusSuccess || d.Attempts != 1 {
		t.Fatalf("after its outcome: %+v", d)
	}
}

func testHandoffLeaseRunsOut(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	res := handOff(t, s, "e1", []string{"wh_a"}, []string{"wh_a"})
	if len(res.Leased) != 1 {
		t.Fatalf("handed off %d", len(res.Leased))
	}
	first := res.Leased[0]
	// Nothing is due while the lease lasts, and the webhook falls due when
	// it ends: a process that died holding it loses nothing.
	c := claim(t, s, 10, nil)
	if len(c.Claims) != 0 || !c.NextDue.Equal(first.LeasedUntil) {
		t.Fatalf("during the lease: %d claimed, next due %s, want 0 and %s", len(c.Claims), c.NextDue, first.LeasedUntil)
	}
	clock.Advance(lease)
	second := one(t, s)
	if second.DeliveryID != first.DeliveryID || second.Token <= first.Token || string(second.Payload) != string(first.Payload) {
		t.Fatalf("after the lease: %+v, first %+v", second.Lease, first.Lease)
	}
	if rec := record(t, s, outcome(first, hookd.StatusSuccess, clock.Now())); len(rec.Written) != 0 || rec.Stale != 1 {
		t.Fatalf("the handed-off lease's late outcome: %+v, want stale", rec)
	}
}

func testHandoffSkipsDisabled(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	off := webhook("acme", "wh_off")
	off.Enabled = false
	must(t, s.CreateWebhook(ctx(), off))
	res := handOff(t, s, "e1", []string{"wh_a", "wh_off", "wh_gone"}, []string{"wh_a", "wh_off", "wh_gone"})
	if res.Deliveries != 1 || len(res.Leased) != 1 || res.Leased[0].WebhookID != "wh_a" {
		t.Fatalf("published %d, handed off %+v; want wh_a's alone", res.Deliveries, res.Leased)
	}
}

func testHandoffDuplicate(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	handOff(t, s, "e1", []string{"wh_a"}, nil)
	res := handOff(t, s, "e1", []string{"wh_a"}, []string{"wh_a"})
	if !res.Duplicate || len(res.Leased) != 0 || res.Deliveries != 1 {
		t.Fatalf("duplicate publish: %+v", res)
	}
}

// A publish that repeats the id of an event whose deliveries have all
// ended (nothing left due) is a duplicate, handed off or not.
func testDuplicateOfDelivered(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a")
	handOff(t, s, "e1", []string{"wh_a"}, nil)
	record(t, s, outcome(one(t, s), hookd.StatusSuccess, clock.Now()))
	for _, leased := range [][]string{nil, {"wh_a"}} {
		res := handOff(t, s, "e1", []string{"wh_a"}, leased)
		if !res.Duplicate || len(res.Leased) != 0 || res.Deliveries != 1 {
			t.Fatalf("publish of a delivered event's id (handed off to %v): %+v", leased, res)
		}
	}
}

func testHandoffWaitsItsTurn(t *testing.T, s hookd.Store, clock *Clock) {
	setup(t, s, "wh_a", "wh_b")
	handOff(t, s, "e1", []string{"wh_a"}, nil) // due, waiting for a claim
	// wh_a's delivery would overtake the one waiting: it is due too, in
	// its turn; wh_b has none waiting.
	res := handOff(t, s, "e2", []string{"wh_a", "wh_b"}, []string{"wh_a", "wh_b"})
	if res.Deliveries != 2 || len(res.Leased) != 1 || res.Leased[0].WebhookID != "wh_b" {
		t.Fatalf("published %d, handed off %+v; want wh_b's alone", res.Deliveries, res.Leased)
	}
	cs := claim(t, s, 10, nil).Claims
	if len(cs) != 2 || cs[0].WebhookID != "wh_a" || cs[1].WebhookID != "wh_a" || cs[0].EventID == cs[1].EventID {
		t.Fatalf("claimed %d, want wh_a's two (e1 and e2)", len(cs))
	}
	// A retry due later is not overtaken: a handoff goes ahead of it.
	retry := outcome(cs[0], hookd.StatusRetrying, clock.Now())
	retry.RetryIn = time.Minute
	record(t, s, retry, outcome(cs[1], hookd.StatusSuccess, clock.Now()))
	if res := handOff(t, s, "e3", []string{"wh_a"}, []string{"wh_a"}); len(res.Leased) != 1 {
		t.Fatalf("handed off %d with only a later retry waiting, want 1", len(res.Leased))
	}
}
