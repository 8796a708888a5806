// Package queue is hookd's delivery queue, written once over the small
// primitives every store offers (hookd.Queue): the fair claim of due
// deliveries, the fenced recording of outcomes and releases, and lease
// extensions. Which deliveries a caller can take now (its rooms) is the
// caller's policy, passed in; the order of the steps, the rate budgets, the
// requeueing and the fencing are here, so that a fix is made once for every
// engine.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// ClaimParams asks for due deliveries.
type ClaimParams struct {
	// Limit is the most deliveries to claim, over all webhooks.
	Limit int
	// Lease is how long claimed deliveries are the caller's.
	Lease time.Duration
	// Room says how many more of a webhook's (and its tenant's) deliveries
	// the caller can take now and, when it can take none, how long to pass
	// the webhook over (0: until the next claim, after the webhooks that
	// waited longer).
	Room func(tenantID, webhookID string) (room int, wait time.Duration)
	// SendRoom, when set, says how many of a rate-limited webhook's
	// deliveries the caller can start sending now: such a webhook is given
	// no more than that, so that none of its deliveries waits for a send
	// slot. Claimed at its rate and then held behind a receiver that
	// stalled for a moment, they started together when it answered again,
	// past rate + burst in a second (an outside audit: 35 in a second at
	// 20/s).
	SendRoom func(webhookID string) int
}

// ClaimResult is what a claim leased.
type ClaimResult struct {
	// Now is the claim's time by the store's clock.
	Now    time.Time
	Claims []*hookd.Claim
	// NextDue is when the next webhook falls due (zero if none waits); at
	// or before Now when due work was left for lack of room.
	NextDue time.Time
	// Failed counts due deliveries of disabled webhooks ended FAILED.
	Failed int
}

// Claim leases due deliveries in one transaction. Webhooks are taken in
// the order they fell due, the longest waiting first, and each gives at
// most its room (and its rate budget): one webhook's backlog is never in
// front of another webhook's due delivery, and a webhook that was served
// goes to the back of the line (its due_at becomes the claim's time).
func Claim(ctx context.Context, q hookd.Queue, p ClaimParams) (*ClaimResult, error) {
	res := &ClaimResult{}
	if p.Limit <= 0 {
		return res, nil
	}
	err := q.QueueTx(ctx, func(tx hookd.QueueTx) error {
		*res = ClaimResult{} // a store may run this more than once
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		res.Now = now
		due, tats, held, err := dueWithBudgets(ctx, tx, now, p.Limit)
		if err != nil {
			return err
		}
		var take []hookd.Take
		notBefore := make(map[string]time.Time, len(due))
		rates := map[string]int{}
		var disabled []string
		for _, w := range due {
			notBefore[w.ID] = now
			if !w.Enabled {
				disabled = append(disabled, w.ID)
				continue
			}
			room, wait := p.Room(w.TenantID, w.ID)
			if room <= 0 {
				notBefore[w.ID] = now.Add(wait)
				continue
			}
			n := room
			if w.RateLimit > 0 {
				if held[w.ID] {
					// Another replica's claim holds its budget: it keeps its
					// place in the line, for the next claim.
					delete(notBefore, w.ID)
					continue
				}
				avail, wait := hookd.RateAvailable(tats[w.ID], now, w.RateLimit)
				if avail <= 0 {
					notBefore[w.ID] = now.Add(wait)
					continue
				}
				if p.SendRoom != nil {
					if free := p.SendRoom(w.ID); free < avail {
						if free <= 0 {
							// Considered again a step of its rate later.
							notBefore[w.ID] = now.Add(time.Second / time.Duration(w.RateLimit))
							continue
						}
						avail = free
					}
				}
				n = min(n, avail)
				rates[w.ID] = w.RateLimit
			}
			take = append(take, hookd.Take{WebhookID: w.ID, N: n})
		}
		if res.Failed, err = tx.FailDue(ctx, &hookd.FailDueParams{Now: now, WebhookIDs: disabled, Error: hookd.DisabledError}); err != nil {
			return err
		}
		if len(take) > 0 {
			res.Claims, err = tx.LeaseDeliveries(ctx, &hookd.LeaseDeliveriesParams{Now: now, Until: now.Add(p.Lease), Take: take, Limit: p.Limit})
			if err != nil {
				return err
			}
		}
		used := map[string]int{}
		for _, c := range res.Claims {
			used[c.WebhookID]++
		}
		if len(res.Claims) >= p.Limit {
			// The limit ran out at the last webhook served: those after it
			// were not, and keep their place in the line.
			last := -1
			for i, t := range take {
				if used[t.WebhookID] > 0 {
					last = i
				}
			}
			for _, t := range take[last+1:] {
				delete(notBefore, t.WebhookID)
			}
		}
		if len(rates) > 0 {
			spent := map[string]time.Time{}
			for id, n := range used {
				if _, ok := rates[id]; !ok {
					continue
				}
				// Its rows beyond the budget wait for its next step.
				var wait time.Duration
				spent[id], wait = hookd.RateTake(tats[id], now, rates[id], n)
				notBefore[id] = now.Add(wait)
			}
			if err := tx.SetRateBudgets(ctx, &hookd.SetRateBudgetsParams{TATs: spent}); err != nil {
				return err
			}
		}
		if err := tx.RequeueWebhooks(ctx, &hookd.RequeueWebhooksParams{NotBefore: notBefore}); err != nil {
			return err
		}
		res.NextDue, err = tx.NextDue(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return res, nil
}

// dueWithBudgets returns the due webhooks, the rate budgets of those
// rate-limited, and which of those another claim holds (left out by
// RateBudgets, and passed over by this claim). A webhook passed over keeps
// its place, so the due list is read again deeper by as many (at most
// twice): many budgets held for long (their claim's process frozen) would
// otherwise fill the head of the line every claim reads, and claims would
// find nothing else.
func dueWithBudgets(ctx context.Context, tx hookd.QueueTx, now time.Time, limit int) ([]*hookd.DueWebhook, map[string]time.Time, map[string]bool, error) {
	tats, held := map[string]time.Time{}, map[string]bool{}
	for round := 0; ; round++ {
		due, err := tx.DueWebhooks(ctx, &hookd.DueWebhooksParams{Now: now, Limit: limit + len(held)})
		if err != nil {
			return nil, nil, nil, err
		}
		var limited []string
		for _, w := range due {
			if _, known := tats[w.ID]; w.Enabled && w.RateLimit > 0 && !known && !held[w.ID] {
				limited = append(limited, w.ID)
			}
		}
		slices.Sort(limited)
		got, err := tx.RateBudgets(ctx, &hookd.RateBudgetsParams{WebhookIDs: limited})
		if err != nil {
			return nil, nil, nil, err
		}
		before := len(held)
		for _, id := range limited {
			if t, ok := got[id]; ok {
				tats[id] = t
			} else {
				held[id] = true
			}
		}
		if len(held) == before || len(due) < limit+before || round == 2 {
			return due, tats, held, nil
		}
	}
}

// Release gives a claim back without counting an attempt (the attempt did
// not happen: the process is stopping, or the webhook could not be read or
// is disabled).
type Release struct {
	hookd.Lease
	WebhookID string
	// DueIn keeps the lease this long after the release is written (zero:
	// released at once), to the second, rounded up: a send cut off
	// mid-attempt, whose receiver may still be at it, is held as being
	// sent until it would have timed out, then falls due. A duration, not
	// a time: the store's clock decides when, as for every due time.
	DueIn time.Duration
}

// Recorded says what a Record wrote.
type Recorded struct {
	Written []string // deliveries whose outcome was written
	// Canceled lists those of Written cancelled while they were being
	// sent: they stay CANCELED, whatever their outcome said but SUCCESS.
	Canceled []string
	Released []string // deliveries released
	// ReleasedCanceled lists those of Released cancelled while they were
	// held: finished, CANCELED (the cancel left them to whoever held them).
	ReleasedCanceled []string
	// Stale counts outcomes and releases that changed nothing: their
	// delivery was claimed again, retried by hand or deleted meanwhile.
	Stale int
	// Failed lists the deliveries whose outcome or release could not be
	// written (the error says why); they may be tried again.
	Failed []string
	// Disabled lists the webhooks the recorded attempts disabled, and
	// FailedWithDisabled counts their waiting deliveries, ended FAILED.
	Disabled           []hookd.DisabledWebhook
	FailedWithDisabled int
	// Created counts the deliveries made for the operational events the
	// recorded attempts caused.
	Created int
}

// Policy is what recording decides beyond writing outcomes: when hookd
// disables a webhook. A 410 Gone always does, at once.
type Policy struct {
	// DisableAfter disables a webhook whose every attempt has failed for
	// this long, with a delivery out of attempts in the streak; 0 never.
	DisableAfter time.Duration
}

// Record writes outcomes and releases, each only while its lease is
// current, and makes the webhooks of retried and released deliveries due
// then. A batch is one transaction; if it fails, it is split in halves
// until every part that can be written is, so that one bad outcome sinks
// only itself. The error joins the failures of what could not be written
// (their leases run out and they are sent again).
func Record(ctx context.Context, q hookd.Queue, outcomes []*hookd.Outcome, releases []Release) (*Recorded, error) {
	return Policy{}.Record(ctx, q, outcomes, releases)
}

// Record is Record under the policy: in the same transaction as the
// outcomes, their webhooks' health is updated and the webhooks the policy
// disables are disabled, with an audit entry by hookd each.
func (p Policy) Record(ctx context.Context, q hookd.Queue, outcomes []*hookd.Outcome, releases []Release) (*Recorded, error) {
	rec := &Recorded{}
	err := p.record(ctx, q, outcomes, releases, rec)
	return rec, err
}

func (p Policy) record(ctx context.Context, q hookd.Queue, outcomes []*hookd.Outcome, releases []Release, rec *Recorded) error {
	n := len(outcomes) + len(releases)
	if n == 0 {
		return nil
	}
	var written, canceled, released, releasedCanceled []string
	var health *hookd.HealthResult
	var created int
	err := q.QueueTx(ctx, func(tx hookd.QueueTx) error {
		// A transaction may run again (SQLite's relaxed batch, made
		// durable): nothing from a run before counts.
		released, releasedCanceled = nil, nil
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		if err := tx.LockWebhooks(ctx, webhooksOf(outcomes, releases)); err != nil {
			return err
		}
		written, canceled, err = tx.RecordOutcomes(ctx, &hookd.RecordOutcomesParams{Now: now, Outcomes: outcomes})
		if err != nil {
			return err
		}
		// Due now, but for the cut-off sends (rare: a process stopping).
		// Those keep their lease until they would have timed out (a
		// statement per second they fall due in: at most a webhook's
		// longest timeout's worth): until then they are being sent, for a
		// retry by hand (409), a cancel and every claim alike, as their
		// receiver may still be at them; then they fall due as a dead
		// process's do. One a cancel took is held as long, and ends
		// CANCELED, never due (a retry by hand meanwhile would send a
		// second copy while the receiver may be at the first).
		var atOnce []hookd.Lease
		var heldCanceled []string
		later := map[time.Duration][]hookd.Lease{}
		dueAt := make(map[string]time.Time, len(releases))
		for _, r := range releases {
			d := max(0, (r.DueIn+time.Second-1)/time.Second*time.Second)
			if d == 0 {
				atOnce = append(atOnce, r.Lease)
			} else {
				later[d] = append(later[d], r.Lease)
			}
			dueAt[r.DeliveryID] = now.Add(d)
		}
		for _, d := range slices.Sorted(maps.Keys(later)) {
			ext, err := tx.ExtendLeases(ctx, &hookd.ExtendLeasesParams{Until: now.Add(d), Leases: later[d]})
			if err != nil {
				return err
			}
			released = append(released, ext...)
			var rest []hookd.Lease
			for _, l := range later[d] {
				if !slices.Contains(ext, l.DeliveryID) {
					rest = append(rest, l)
				}
			}
			if len(rest) == 0 {
				continue
			}
			held, err := tx.ExtendLeases(ctx, &hookd.ExtendLeasesParams{Until: now.Add(d), Leases: rest, Canceled: true})
			if err != nil {
				return err
			}
			released, heldCanceled = append(released, held...), append(heldCanceled, held...)
			for _, l := range rest {
				if !slices.Contains(held, l.DeliveryID) {
					atOnce = append(atOnce, l)
					dueAt[l.DeliveryID] = now
				}
			}
		}
		rel, relCanceled, err := tx.ReleaseLeases(ctx, &hookd.ReleaseLeasesParams{At: now, Leases: atOnce})
		if err != nil {
			return err
		}
		released, releasedCanceled = append(released, rel...), append(heldCanceled, relCanceled...)
		due := map[string]time.Time{}
		soonest := func(id string, t time.Time) {
			if d, ok := due[id]; !ok || t.Before(d) {
				due[id] = t
			}
		}
		byID := make(map[string]*hookd.Outcome, len(outcomes))
		for _, o := range outcomes {
			byID[o.DeliveryID] = o
		}
		// A delivery cancelled while it was being sent stays CANCELED: its
		// failed attempt counts towards its webhook's health, but it is
		// neither due again nor out of attempts.
		for _, id := range canceled {
			o := *byID[id]
			o.Status = hookd.StatusCanceled
			byID[id] = &o
		}
		for _, id := range written {
			if o := byID[id]; o != nil {
				if t := o.NextAttemptAt(now); !t.IsZero() {
					soonest(o.WebhookID, t)
				}
			}
		}
		webhookOf := make(map[string]string, len(releases))
		for _, r := range releases {
			webhookOf[r.DeliveryID] = r.WebhookID
		}
		stays := make(map[string]bool, len(releasedCanceled))
		for _, id := range releasedCanceled {
			stays[id] = true
		}
		for _, id := range released {
			if !stays[id] {
				soonest(webhookOf[id], dueAt[id])
			}
		}
		if err := tx.MarkDue(ctx, &hookd.MarkDueParams{Due: due}); err != nil {
			return err
		}
		attempts := attemptsOf(written, byID)
		updates, err := noteSuccesses(ctx, tx, healthUpdates(attempts))
		if err != nil {
			return err
		}
		health, created, err = p.applyHealth(ctx, tx, now, updates, attempts)
		return err
	})
	if err == nil {
		rec.Written = append(rec.Written, written...)
		rec.Canceled = append(rec.Canceled, canceled...)
		rec.Released = append(rec.Released, released...)
		rec.ReleasedCanceled = append(rec.ReleasedCanceled, releasedCanceled...)
		rec.Disabled = append(rec.Disabled, health.Disabled...)
		rec.FailedWithDisabled += health.Failed
		rec.Created += created
		rec.Stale += n - len(written) - len(released)
		return nil
	}
	if a := attemptOf(outcomes); a != nil && (a.RequestHeaders != nil || a.ResponseHeaders != nil || a.ResponseBody != nil) &&
		errors.Is(err, hookd.ErrRefused) {
		// The database refuses this one outcome. Its attempt still
		// happened: keep it without what the receiver sent, so that it
		// counts towards maxAttempts instead of being sent again forever.
		o := *outcomes[0]
		a := *o.Attempt
		a.RequestHeaders, a.ResponseHeaders, a.ResponseBody = nil, nil, nil
		a.Error = hookd.CleanText("the outcome could not be stored in full: "+a.Error, hookd.MaxErrorText)
		o.Attempt = &a
		if err2 := p.record(ctx, q, []*hookd.Outcome{&o}, nil, rec); err2 == nil {
			return fmt.Errorf("record outcome %s in full (kept without the answer): %w", o.DeliveryID, err)
		}
	}
	if n == 1 || ctx.Err() != nil {
		for _, o := range outcomes {
			rec.Failed = append(rec.Failed, o.DeliveryID)
		}
		for _, r := range releases {
			rec.Failed = append(rec.Failed, r.DeliveryID)
		}
		return fmt.Errorf("record %d outcomes and releases: %w", n, err)
	}
	// Split in halves, outcomes first.
	ho := min(n/2, len(outcomes))
	hr := n/2 - ho
	return errors.Join(
		p.record(ctx, q, outcomes[:ho], releases[:hr], rec),
		p.record(ctx, q, outcomes[ho:], releases[hr:], rec),
	)
}

// applyHealth folds updates into their webhooks' health, disables the
// webhooks the policy says must be, with an audit entry by hookd each, and
// publishes the operational events of it all, in tx: the one place that
// decides, for a record and for DisableFailing alike.
func (p Policy) applyHealth(ctx context.Context, tx hookd.QueueTx, now time.Time, updates []hookd.HealthUpdate, attempts map[string][]*hookd.Outcome) (*hookd.HealthResult, int, error) {
	ids := make([]string, len(updates))
	for i, u := range updates {
		ids[i] = u.WebhookID
	}
	before, err := tx.WebhookHealth(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	for i, u := range updates {
		// An attempt recorded late (a slow one, or one sent before a
		// change) that started before the webhook's last success, or
		// before a user last enabled it, tells nothing of it now: its
		// failure would start a streak in the past (and --disable-after
		// count from there), its 410 disable again what the user just
		// enabled.
		if b, os := before[u.WebhookID], attempts[u.WebhookID]; b != nil && len(os) > 0 {
			floor := b.Health.LastSuccessAt
			if b.ResetAt.After(floor) {
				floor = b.ResetAt
			}
			if !floor.IsZero() && !os[0].Attempt.StartedAt.After(floor) {
				updates[i] = foldHealth(u.WebhookID, os, floor)
			}
		}
	}
	for i := range updates {
		// The operator's webhook carries every tenant's alerts, the ones
		// telling of disables included: its receiver's 410 or failures
		// are logged and shown in its health, never a disable.
		updates[i].Kept = updates[i].WebhookID == hookd.OperatorWebhook
	}
	hp := &hookd.UpdateHealthParams{Now: now, Updates: updates}
	if p.DisableAfter > 0 {
		hp.DisableFailingSince = now.Add(-p.DisableAfter)
	}
	health, err := tx.UpdateHealth(ctx, hp)
	if err != nil {
		return nil, 0, err
	}
	by := make(map[string]hookd.HealthUpdate, len(updates))
	for _, u := range updates {
		by[u.WebhookID] = u
	}
	for i := range health.Disabled {
		d := &health.Disabled[i]
		u := by[d.WebhookID]
		cause := u.ExhaustedBy
		switch {
		case d.Reason == hookd.DisabledGone:
			cause = u.GoneBy
		case cause == nil:
			cause = u.LastFailureBy
		}
		if cause != nil {
			d.DeliveryID = cause.DeliveryID
		}
	}
	created, err := publishOperational(ctx, tx, now, operationalEvents(now, hp.Updates, before, health.Disabled))
	if err != nil || len(health.Disabled) == 0 {
		return health, created, err
	}
	entries := make([]*hookd.AuditEntry, len(health.Disabled))
	for i, d := range health.Disabled {
		entries[i] = &hookd.AuditEntry{ID: hookd.NewID(hookd.PrefixAudit, now), TenantID: d.TenantID, At: now,
			Actor: hookd.Actor{Type: hookd.ActorHookd}, Action: hookd.AuditWebhookDisabled,
			Target:  hookd.AuditTarget{Type: "webhook", ID: d.WebhookID},
			Changes: map[string]hookd.Change{"enabled": {From: true, To: false}, "disabledReason": {From: nil, To: d.Reason}}}
	}
	return health, created, tx.WriteAudit(ctx, entries)
}

// failingStep is how many webhooks one DisableFailing transaction
// disables at most; the next call takes the rest.
const failingStep = 100

// DisableFailing disables the webhooks the policy's DisableAfter is due
// to disable though no attempt of theirs is being recorded: failing for
// that long, a delivery out of attempts, and nothing more sent since (a
// dead endpoint with nothing left to send stays failing, and the record
// that would disable it never comes). The same decision as a record's,
// in one transaction, so that with many replicas one disables each
// webhook and announces it once. Recorded says what it did in Disabled,
// FailedWithDisabled and Created.
func (p Policy) DisableFailing(ctx context.Context, q hookd.Queue) (*Recorded, error) {
	rec := &Recorded{}
	if p.DisableAfter <= 0 {
		return rec, nil
	}
	err := q.QueueTx(ctx, func(tx hookd.QueueTx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		ids, err := tx.FailingWebhooks(ctx, &hookd.FailingWebhooksParams{FailingSince: now.Add(-p.DisableAfter), Limit: failingStep})
		if err != nil || len(ids) == 0 {
			return err
		}
		if err := tx.LockWebhooks(ctx, ids); err != nil {
			return err
		}
		// An update with nothing in it changes no health: UpdateHealth
		// only decides on what it holds, after the lock (a record that
		// got there first may have disabled it, or a success ended the
		// streak).
		updates := make([]hookd.HealthUpdate, len(ids))
		for i, id := range ids {
			updates[i] = hookd.HealthUpdate{WebhookID: id}
		}
		health, created, err := p.applyHealth(ctx, tx, now, updates, nil)
		if err != nil {
			return err
		}
		rec.Disabled, rec.FailedWithDisabled, rec.Created = health.Disabled, health.Failed, created
		return nil
	})
	if err != nil {
		return &Recorded{}, fmt.Errorf("disable failing webhooks: %w", err)
	}
	return rec, nil
}

// attemptsOf is the written outcomes that carry an attempt, per webhook,
// in the order their attempts started.
func attemptsOf(written []string, byID map[string]*hookd.Outcome) map[string][]*hookd.Outcome {
	per := map[string][]*hookd.Outcome{}
	for _, id := range written {
		if o := byID[id]; o != nil && o.Attempt != nil {
			per[o.WebhookID] = append(per[o.WebhookID], o)
		}
	}
	for _, os := range per {
		slices.SortStableFunc(os, func(a, b *hookd.Outcome) int { return a.Attempt.StartedAt.Compare(b.Attempt.StartedAt) })
	}
	return per
}

// healthUpdates is what each webhook's attempts tell of its health
// (foldHealth), sorted by webhook, so that transactions lock webhook rows
// in one order.
func healthUpdates(attempts map[string][]*hookd.Outcome) []hookd.HealthUpdate {
	out := make([]hookd.HealthUpdate, 0, len(attempts))
	for id, os := range attempts {
		out = append(out, foldHealth(id, os, time.Time{}))
	}
	slices.SortFunc(out, func(a, b hookd.HealthUpdate) int { return strings.Compare(a.WebhookID, b.WebhookID) })
	return out
}

// foldHealth is what a webhook's attempts, in the order they started, tell
// of its health, counting those that started after floor: whether one
// succeeded (the streak restarts after the last success), the failures
// after it, whether one of those ended its delivery FAILED, and whether a
// receiver answered 410 Gone.
func foldHealth(id string, os []*hookd.Outcome, floor time.Time) hookd.HealthUpdate {
	u := hookd.HealthUpdate{WebhookID: id}
	for _, o := range os {
		a := o.Attempt
		exhausted := o.Status == hookd.StatusFailed && !o.Manual && !a.Success && a.StatusCode != 410
		switch {
		case !a.StartedAt.After(floor):
			// Counts for nothing in the streak; a delivery it ended out
			// of attempts is told of all the same (a tenant replays it).
			if exhausted && u.StaleExhaustedBy == nil {
				u.StaleExhaustedBy = o
			}
		case a.Success:
			u.Succeeded, u.LastSuccessAt = true, a.StartedAt
			u.Failures, u.FirstFailureAt, u.LastFailureBy, u.Exhausted, u.ExhaustedBy, u.Gone, u.GoneBy = 0, time.Time{}, nil, false, nil, false, nil
		default:
			if u.Failures == 0 {
				u.FirstFailureAt = a.StartedAt
			}
			u.Failures++
			u.LastFailureBy = o
			// Out of attempts: not a retry by hand, and not a 410,
			// which disables the webhook instead.
			if exhausted && !u.Exhausted {
				u.Exhausted, u.ExhaustedBy = true, o
			}
			if a.StatusCode == 410 && !u.Gone {
				u.Gone, u.GoneBy = true, o
			}
		}
	}
	return u
}

// noteSuccesses records the successes of webhooks that were healthy and
// stay so, the common case, with one statement and no read, and returns
// the updates left for the whole path (read, update, disable, tell):
// failures, and successes of webhooks that were failing, which recovered.
func noteSuccesses(ctx context.Context, tx hookd.QueueTx, updates []hookd.HealthUpdate) ([]hookd.HealthUpdate, error) {
	var pure []hookd.HealthUpdate
	for _, u := range updates {
		if u.Succeeded && u.Failures == 0 {
			pure = append(pure, u)
		}
	}
	if len(pure) == 0 {
		return updates, nil
	}
	noted, err := tx.NoteSuccesses(ctx, &hookd.NoteSuccessesParams{Updates: pure})
	if err != nil || len(noted) == 0 {
		return updates, err
	}
	healthy := make(map[string]bool, len(noted))
	for _, id := range noted {
		healthy[id] = true
	}
	rest := make([]hookd.HealthUpdate, 0, len(updates)-len(noted))
	for _, u := range updates {
		if !healthy[u.WebhookID] {
			rest = append(rest, u)
		}
	}
	return rest, nil
}

// webhooksOf is the outcomes' and releases' webhooks, sorted and once
// each.
func webhooksOf(outcomes []*hookd.Outcome, releases []Release) []string {
	ids := make([]string, 0, len(outcomes)+len(releases))
	for _, o := range outcomes {
		ids = append(ids, o.WebhookID)
	}
	for _, r := range releases {
		ids = append(ids, r.WebhookID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// operational is an event hookd publishes about a tenant's webhook.
type operational struct {
	tenantID, typ string
	data          map[string]any
}

// operationalEvents decides what the recorded attempts tell tenants: a
// failing webhook that recovered, a first delivery out of attempts in a
// streak of a webhook that had been healthy (once per streak, however many
// deliveries run out), a webhook hookd disabled.
func operationalEvents(now time.Time, updates []hookd.HealthUpdate, before map[string]*hookd.HealthBefore, disabled []hookd.DisabledWebhook) []operational {
	var out []operational
	for _, u := range updates {
		b := before[u.WebhookID]
		if b == nil {
			continue
		}
		// A success restarts the streak only if it started after the
		// streak did (as UpdateHealth decides): a slow one recorded late
		// is no recovery, and the streak's exhausted stays told.
		restarts := u.Succeeded && (b.Health.FailingSince.IsZero() || u.LastSuccessAt.After(b.Health.FailingSince))
		if restarts && b.Health.ConsecutiveFailures > 0 {
			out = append(out, operational{b.TenantID, hookd.EventWebhookRecovered, map[string]any{
				"webhookId": u.WebhookID, "name": b.Name, "url": b.URL, "failingSince": b.Health.FailingSince}})
		}
		told := u.ExhaustedBy
		switch {
		case u.Exhausted && (restarts || !b.Exhausted):
		case !u.Exhausted && u.StaleExhaustedBy != nil && !b.Exhausted:
			// Ran out on an attempt older than the webhook's state:
			// told unless the current streak's exhausted was.
			told = u.StaleExhaustedBy
		default:
			told = nil
		}
		if o := told; o != nil {
			var code, lastErr any
			if o.Attempt.StatusCode != 0 {
				code = o.Attempt.StatusCode
			}
			if o.Attempt.Error != "" {
				lastErr = hookd.CleanText(o.Attempt.Error, hookd.MaxErrorText)
			}
			out = append(out, operational{b.TenantID, hookd.EventDeliveryExhausted, map[string]any{
				"webhookId": u.WebhookID, "deliveryId": o.DeliveryID, "eventId": o.EventID, "eventType": o.EventType,
				"lastStatusCode": code, "lastError": lastErr}})
		}
	}
	for _, d := range disabled {
		name, url := "", ""
		if b := before[d.WebhookID]; b != nil {
			name, url = b.Name, b.URL
		}
		out = append(out, operational{d.TenantID, hookd.EventWebhookDisabled, map[string]any{
			"webhookId": d.WebhookID, "name": name, "url": url, "reason": d.Reason}})
	}
	return out
}

// publishOperational stores the events, each with a delivery to every
// enabled webhook of its tenant that subscribes to it, in the transaction
// of what caused them (an outbox): they exist exactly when their cause
// does, and go out like any delivery.
func publishOperational(ctx context.Context, tx hookd.QueueTx, now time.Time, events []operational) (created int, err error) {
	if len(events) == 0 {
		return 0, nil
	}
	hooks := map[string][]*hookd.Webhook{}
	add := &hookd.AddEventsParams{Now: now}
	due := map[string]time.Time{}
	// addEvent stores one event of tenant with a delivery to each of its
	// enabled webhooks that subscribe to it.
	addEvent := func(tenant string, o operational, data, meta []byte) error {
		ws, ok := hooks[tenant]
		if !ok {
			var err error
			if ws, err = tx.EnabledWebhooks(ctx, tenant); err != nil {
				return err
			}
			hooks[tenant] = ws
		}
		if tenant == hookd.OperatorTenant && len(ws) == 0 {
			return nil // no operator webhook: no copy to keep
		}
		ev := &hookd.Event{ID: hookd.NewID(hookd.PrefixEvent, now), TenantID: tenant, Type: o.typ, Timestamp: now}
		if err := ev.BuildPayload(data, meta); err != nil {
			return err
		}
		input := func() *hookd.FilterInput {
			return &hookd.FilterInput{Type: ev.Type, Data: o.data, Metadata: map[string]any{}}
		}
		var ids []string
		for _, w := range ws {
			if w.Matches(ev, input) {
				ids = append(ids, w.ID)
				due[w.ID] = now
			}
		}
		add.Events = append(add.Events, hookd.EventToAdd{Event: ev, WebhookIDs: ids})
		created += len(ids)
		return nil
	}
	for _, o := range events {
		data, err := json.Marshal(o.data)
		if err != nil {
			return 0, err
		}
		// An event about the operator's own webhook is the operator's
		// copy alone: as the tenant's too, it reached the same webhook
		// twice, once without saying whose it was.
		if o.tenantID != hookd.OperatorTenant {
			if err := addEvent(o.tenantID, o, data, nil); err != nil {
				return 0, err
			}
		}
		// And a copy for the operator, saying whose it is.
		meta, _ := json.Marshal(map[string]string{"tenantId": o.tenantID})
		if err := addEvent(hookd.OperatorTenant, o, data, meta); err != nil {
			return 0, err
		}
	}
	if err := tx.AddEvents(ctx, add); err != nil {
		return 0, err
	}
	return created, tx.MarkDue(ctx, &hookd.MarkDueParams{Due: due})
}

func attemptOf(outcomes []*hookd.Outcome) *hookd.Attempt {
	if len(outcomes) != 1 {
		return nil
	}
	return outcomes[0].Attempt
}

// TakeRate spends one send of a rate-limited webhook's budget now, for a
// send made outside the queue (a test send): the budget is the endpoint's,
// whoever sends to it, and test sends in a loop went past it. It returns
// how long until one may be spent when none may now (zero: it was spent).
func TakeRate(ctx context.Context, q hookd.Queue, webhookID string, perSecond int) (wait time.Duration, err error) {
	if perSecond <= 0 {
		return 0, nil
	}
	err = q.QueueTx(ctx, func(tx hookd.QueueTx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		got, err := tx.RateBudgets(ctx, &hookd.RateBudgetsParams{WebhookIDs: []string{webhookID}})
		if err != nil {
			return err
		}
		tat, ok := got[webhookID]
		if !ok { // a claim holds the budget this moment
			wait = time.Second / time.Duration(perSecond)
			return nil
		}
		if n, w := hookd.RateAvailable(tat, now, perSecond); n == 0 {
			wait = w
			return nil
		}
		next, _ := hookd.RateTake(tat, now, perSecond, 1)
		return tx.SetRateBudgets(ctx, &hookd.SetRateBudgetsParams{TATs: map[string]time.Time{webhookID: next}})
	})
	if err != nil {
		return 0, fmt.Errorf("take a rate budget: %w", err)
	}
	return wait, nil
}

// Extend lengthens leases to d from now (by the store's clock) and
// returns the ones extended (the others are no longer the caller's) and
// when the extension was made, by the store's clock.
func Extend(ctx context.Context, q hookd.Queue, leases []hookd.Lease, d time.Duration) (extended []string, at time.Time, err error) {
	err = q.QueueTx(ctx, func(tx hookd.QueueTx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		at = now
		extended, err = tx.ExtendLeases(ctx, &hookd.ExtendLeasesParams{Until: now.Add(d), Leases: leases})
		return err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("extend leases: %w", err)
	}
	return extended, at, nil
}
