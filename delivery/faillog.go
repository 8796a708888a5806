package delivery

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/netguard"
)

// failLog writes a line per failed attempt. An operator may limit it
// (--failed-attempt-log-every) to one per webhook every `every`, and at
// most `burst` a second across webhooks (0: no cap), so that a dead
// endpoint with ten thousand deliveries, or a thousand dead endpoints,
// cannot flood the log. The attempts a webhook's lines then leave out are
// counted in its next line ("notLogged"), or in a line of their own once
// its interval has passed with no failure to carry them. With every 0 (the
// default) nothing is left out and nothing is kept.
type failLog struct {
	log   *slog.Logger
	every time.Duration
	burst int

	mu       sync.Mutex
	hooks    map[string]*failState
	swept    time.Time
	tokens   float64 // lines the log may write now, across webhooks
	refilled time.Time
}

type failState struct {
	tenant  string
	last    time.Time // of its last line
	skipped int
}

func newFailLog(log *slog.Logger, every time.Duration, burst int) *failLog {
	return &failLog{log: log, every: every, burst: burst, hooks: map[string]*failState{}}
}

// failed logs, or counts, one failed attempt of c whose outcome is o;
// blocked says the SSRF guard refused its connection.
func (f *failLog) failed(now time.Time, c *hookd.Claim, o *hookd.Outcome, sendErr error) {
	skipped, ok := f.take(now, c.WebhookID, c.TenantID)
	if !ok {
		return
	}

	a := o.Attempt
	attrs := []any{"tenant", c.TenantID, "webhook", c.WebhookID, "delivery", c.DeliveryID, "event", c.EventID,
		"attempt", a.Number, "reason", a.Error}
	if a.StatusCode != 0 {
		attrs = append(attrs, "status", a.StatusCode)
	}
	if o.Status == hookd.StatusRetrying {
		attrs = append(attrs, "retryIn", o.RetryIn.Round(time.Second).String())
	} else {
		attrs = append(attrs, "final", true)
	}
	if skipped > 0 {
		attrs = append(attrs, "notLogged", skipped)
	}
	msg := "attempt failed"
	if errors.Is(sendErr, netguard.ErrBlocked) {
		msg = "attempt refused by the SSRF guard"
		if be := (*netguard.BlockedError)(nil); errors.As(sendErr, &be) {
			attrs = append(attrs, "addr", be.Addr.String()) // the attempt's error says only its kind
		}
		attrs = append(attrs, "hint", allowHint)
	}
	f.log.Warn(msg, attrs...)
}

// take decides whether a line about webhook may be written now: at most
// one per webhook every f.every, within the burst across webhooks. It
// returns how many were left out since the webhook's last line.
func (f *failLog) take(now time.Time, webhook, tenant string) (skipped int, ok bool) {
	if f.every == 0 && f.burst == 0 {
		return 0, true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.hooks[webhook]
	if st == nil {
		st = &failState{tenant: tenant}
		f.hooks[webhook] = st
	}
	if f.every > 0 && !st.last.IsZero() && now.Sub(st.last) < f.every || !f.allow(now) {
		st.skipped++
		return 0, false
	}
	skipped = st.skipped
	st.last, st.skipped = now, 0
	return skipped, true
}

// leaseLost logs a claim that another took before it was sent (a lease
// that ran out: a slow store, a paused process), under the same limits
// as failed attempts, whose count it shares.
func (f *failLog) leaseLost(now time.Time, c *hookd.Claim) {
	skipped, ok := f.take(now, c.WebhookID, c.TenantID)
	if !ok {
		return
	}
	attrs := []any{"tenant", c.TenantID, "webhook", c.WebhookID, "delivery", c.DeliveryID}
	if skipped > 0 {
		attrs = append(attrs, "notLogged", skipped)
	}
	f.log.Warn("not sent: its lease was lost to another claim, or it was cancelled, before it was sent", attrs...)
}

// allowHint says how to let a refused network through.
const allowHint = "the operator lets a network through with --allow-networks (HOOKD_ALLOW_NETWORKS), e.g. 127.0.0.0/8 for a receiver on this machine"

// allow takes one line from a bucket that holds burst lines and refills
// at burst a second. A time earlier than the last refill (two goroutines'
// clock readings out of order) refills nothing. f.mu is held.
func (f *failLog) allow(now time.Time) bool {
	if f.burst == 0 {
		return true
	}
	if elapsed := now.Sub(f.refilled); elapsed > 0 {
		f.tokens = min(float64(f.burst), f.tokens+elapsed.Seconds()*float64(f.burst))
		f.refilled = now
	}
	if f.tokens < 1 {
		return false
	}
	f.tokens--
	return true
}

// sweep reports the attempts left out for webhooks whose interval has
// passed without another failure, and forgets webhooks with nothing left
// to report. Its report is one line, however many webhooks it covers, so
// a thousand dead endpoints cannot flood the log through it either; the
// line names the one with the most attempts left out.
func (f *failLog) sweep(now time.Time) {
	// With no interval (no limit, or a burst cap alone) what is left out
	// is counted in the next line: nothing waits for a sweep.
	if f.every == 0 {
		return
	}
	f.mu.Lock()
	if now.Sub(f.swept) < f.every/4 {
		f.mu.Unlock()
		return
	}
	f.swept = now
	var hooks, attempts, most int
	var mostID, mostTenant string
	for id, st := range f.hooks {
		if now.Sub(st.last) < f.every {
			continue
		}
		if st.skipped > 0 {
			hooks++
			attempts += st.skipped
			if st.skipped > most {
				most, mostID, mostTenant = st.skipped, id, st.tenant
			}
		}
		delete(f.hooks, id)
	}
	f.mu.Unlock()
	switch {
	case hooks == 1:
		f.log.Warn("attempts failed and not logged", "tenant", mostTenant, "webhook", mostID, "notLogged", attempts)
	case hooks > 1:
		f.log.Warn("attempts failed and not logged", "webhooks", hooks, "notLogged", attempts, "most", mostID, "mostTenant", mostTenant, "mostNotLogged", most)
	}
}
