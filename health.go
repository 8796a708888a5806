package hookd

import (
	"encoding/json"
	"time"
)

// Why a webhook is disabled.
const (
	DisabledManual  = "manual"  // by a user
	DisabledGone    = "gone"    // its receiver answered 410 Gone
	DisabledFailing = "failing" // every attempt failed for --disable-after, with a delivery out of attempts
)

// Health is a webhook's recent delivery record, kept in the store and
// updated with the attempts it counts, so every process sees the same.
type Health struct {
	ConsecutiveFailures int
	FailingSince        time.Time // the first of the failures since the last success; zero when none
	LastSuccessAt       time.Time
}

// Health statuses, as the API shows them.
const (
	HealthUnknown = "unknown" // no attempt yet (re-enabling keeps the last success: a webhook that had one shows healthy)
	HealthHealthy = "healthy" // the last attempt succeeded
	HealthFailing = "failing" // the last attempts failed
)

// Status names the health.
func (h Health) Status() string {
	switch {
	case h.ConsecutiveFailures > 0:
		return HealthFailing
	case !h.LastSuccessAt.IsZero():
		return HealthHealthy
	}
	return HealthUnknown
}

// MarshalJSON renders the health as the contract's
// {status, failingSince, consecutiveFailures, lastSuccessAt}.
func (h Health) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Status              string     `json:"status"`
		FailingSince        *time.Time `json:"failingSince"`
		ConsecutiveFailures int        `json:"consecutiveFailures"`
		LastSuccessAt       *time.Time `json:"lastSuccessAt"`
	}{h.Status(), timeOrNil(h.FailingSince), h.ConsecutiveFailures, timeOrNil(h.LastSuccessAt)})
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// HealthUpdate is what one recorded batch of attempts tells of a webhook's
// health, for the store to fold into what it holds.
type HealthUpdate struct {
	WebhookID string
	// Succeeded: an attempt succeeded, so the streak restarts after the
	// last success (LastSuccessAt).
	Succeeded     bool
	LastSuccessAt time.Time
	// Failures are the failed attempts after the last success (all of the
	// batch's when none succeeded); FirstFailureAt is the first of them.
	Failures       int
	FirstFailureAt time.Time
	// LastFailureBy is the last of them: the cause a disable for failing
	// names when no delivery ran out of attempts in the batch.
	LastFailureBy *Outcome
	// Exhausted: one of those failures ended its delivery FAILED;
	// ExhaustedBy is the first such outcome.
	Exhausted   bool
	ExhaustedBy *Outcome
	// Gone: a receiver answered 410 Gone: the webhook is disabled at once;
	// GoneBy is the first such outcome.
	Gone   bool
	GoneBy *Outcome
	// Kept: never disabled, whatever its health (the operator's webhook:
	// its receiver must not switch off every operational alert).
	Kept bool
	// StaleExhaustedBy is the first delivery that ran out of attempts on
	// an attempt older than the webhook's state (its last success, its
	// last enable): not in the streak, but still to be told of.
	StaleExhaustedBy *Outcome
}

// ExhaustedDelivery is the id of the delivery that ran out of attempts
// (ExhaustedBy's), nil when none: a store keeps it with the streak, for the
// disable that --disable-after makes later to name.
func (u *HealthUpdate) ExhaustedDelivery() any {
	if u.Exhausted && u.ExhaustedBy != nil {
		return u.ExhaustedBy.DeliveryID
	}
	return nil
}

// UpdateHealthParams folds health updates into the webhooks' health, and
// disables the webhooks that must be: Gone ones, and enabled ones failing
// since DisableFailingSince or earlier with a delivery out of attempts in
// the streak (never, when DisableFailingSince is zero).
type UpdateHealthParams struct {
	Now                 time.Time
	Updates             []HealthUpdate
	DisableFailingSince time.Time
}

// FailingWebhooksParams select the webhooks --disable-after is due to
// disable.
type FailingWebhooksParams struct {
	FailingSince time.Time
	Limit        int
}

// NoteSuccessesParams are the successes of a record batch on webhooks
// with no failure after them in the batch: the common case of a healthy
// endpoint, which changes nothing but its last success.
type NoteSuccessesParams struct {
	Updates []HealthUpdate // each Succeeded, with no Failures
}

// HealthResult is what UpdateHealth did beyond the health itself.
type HealthResult struct {
	Disabled []DisabledWebhook
	// Failed counts the waiting deliveries of the disabled webhooks that
	// ended FAILED with them.
	Failed int
}

// HealthBefore is a webhook's health before an UpdateHealth, with what an
// operational event about it says.
type HealthBefore struct {
	TenantID  string
	Name      string
	URL       string
	Enabled   bool
	Health    Health
	Exhausted bool // a delivery ran out of attempts in the current streak
	// ResetAt is when a user last enabled the webhook, which started its
	// health afresh: attempts that started before it tell nothing of the
	// webhook as it is now (zero: never).
	ResetAt time.Time
}

// DisabledWebhook is a webhook that UpdateHealth disabled.
type DisabledWebhook struct {
	WebhookID string
	TenantID  string
	Reason    string
	// DeliveryID is the delivery whose attempt disabled the webhook (a
	// 410; for failing, the batch's delivery that ran out of attempts, else
	// its last failed one); for a periodic check that found it failing for
	// long enough, the delivery that ran out of attempts in its streak, as
	// the store kept it ("" for a streak from before it kept one).
	DeliveryID string
}
