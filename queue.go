package hookd

import (
	"context"
	"time"
)

// Queue is the storage side of the delivery queue: small primitives over
// the deliveries table and the due_webhooks index, each with one params
// struct. The queue's algorithm (a fair claim, fenced outcomes, requeueing)
// is written once, in package queue, over these primitives; each store
// implements them with its own SQL, and storetest proves each one on every
// engine.
//
// The model: a claim leases a delivery by moving its next_attempt_at to
// the lease's end and giving it a new lease token; every later write about
// that attempt (its outcome, a release, an extension) names the token and
// changes nothing once another claim or a manual retry has taken it. A
// webhook with waiting deliveries has a row in due_webhooks whose due_at is
// never later than its earliest waiting delivery (except while the claim
// defers the webhook on purpose), so a claim finds work per webhook, in
// round-robin order, never behind another webhook's backlog.
type Queue interface {
	// QueueTx runs fn in one transaction and commits it. A store may run fn
	// more than once (SQLite reruns a group commit that another write
	// broke), so fn must start from scratch each time. The commit may be
	// relaxed: safe from a crash of the process once QueueTx returns, but
	// lost to a power cut or a crash of the machine (or of PostgreSQL)
	// before the store's next flush. Claims, outcomes and leases may be: a
	// lost one means one more send, which at-least-once allows, and nothing
	// is half-written (a transaction is lost whole). A publish never is.
	QueueTx(ctx context.Context, fn func(QueueTx) error) error
	// LiveLeases returns the deliveries among p.Leases still held under
	// that lease and still waiting (not cancelled, not finished): a read,
	// outside any write, by which a claimed delivery that waited for its
	// turn learns whether it is still to be sent.
	LiveLeases(ctx context.Context, p *LiveLeasesParams) ([]string, error)
}

// LiveLeasesParams are the leases a LiveLeases checks.
type LiveLeasesParams struct {
	Leases []Lease
}

// QueueTx is the queue's primitives inside one transaction.
type QueueTx interface {
	// Now is the store's clock: the database's on PostgreSQL, so that every
	// replica's leases, due times and rate budgets agree whatever their
	// own clocks say.
	Now(ctx context.Context) (time.Time, error)
	// DueWebhooks returns webhooks whose due_at is not after p.Now, the
	// longest waiting first.
	DueWebhooks(ctx context.Context, p *DueWebhooksParams) ([]*DueWebhook, error)
	// RateBudgets returns the stored budget (theoretical arrival time; zero
	// when none is stored) of each webhook, locking them until the
	// transaction ends where replicas share them. A budget another
	// transaction holds is left out, not waited for: its webhook is being
	// claimed by another replica, and this claim passes it over.
	RateBudgets(ctx context.Context, p *RateBudgetsParams) (map[string]time.Time, error)
	// SetRateBudgets stores new budgets.
	SetRateBudgets(ctx context.Context, p *SetRateBudgetsParams) error
	// FailDue ends the due deliveries of the given webhooks FAILED with
	// p.Error, and returns how many (a webhook disabled after its
	// deliveries were queued).
	FailDue(ctx context.Context, p *FailDueParams) (int, error)
	// LeaseDeliveries leases, webhook by webhook in p.Take's order, up to
	// each one's N due deliveries, the earliest due first, and no more than
	// p.Limit in all, until p.Until, each with a new lease token, and
	// returns them with what sending them needs. Deliveries another
	// transaction is leasing now are passed over.
	LeaseDeliveries(ctx context.Context, p *LeaseDeliveriesParams) ([]*Claim, error)
	// RequeueWebhooks sets each webhook's due_at to the later of
	// p.NotBefore[w] and its earliest waiting delivery, and drops the
	// webhooks that have none. A webhook another transaction is marking
	// due now is left as it is.
	RequeueWebhooks(ctx context.Context, p *RequeueWebhooksParams) error
	// NextDue is the earliest due_at (zero when no webhook waits).
	NextDue(ctx context.Context) (time.Time, error)
	// RecordOutcomes writes each outcome whose lease is still current
	// (same token, not yet recorded or released): one attempt row and the
	// delivery's new state. It returns the IDs written (the others were
	// stale and changed nothing) and, among them, those cancelled while
	// they were being sent, which stay CANCELED (the outcome's status is
	// written only when it is SUCCESS).
	RecordOutcomes(ctx context.Context, p *RecordOutcomesParams) (written, canceled []string, err error)
	// ReleaseLeases makes the still-current leases due at p.At without
	// counting an attempt, and returns the IDs released; canceled lists
	// those of them that were cancelled while held, which stay CANCELED
	// and are due never.
	ReleaseLeases(ctx context.Context, p *ReleaseLeasesParams) (released, canceled []string, err error)
	// ExtendLeases moves the still-current leases' end to p.Until, and
	// returns the IDs extended. A delivery cancelled while it was held is
	// not extended: it is not to be sent; with p.Canceled, only such ones
	// are (a cut-off send a cancel took: being sent until then, it stays
	// CANCELED and is never due).
	ExtendLeases(ctx context.Context, p *ExtendLeasesParams) ([]string, error)
	// MarkDue makes each webhook due no later than the given time.
	MarkDue(ctx context.Context, p *MarkDueParams) error
	// LockWebhooks locks the webhooks' rows where writers share them, in
	// id order, first in a record transaction, as every writer of a
	// webhook locks it before its deliveries (so that two never wait for
	// each other). SQLite's one writer needs nothing.
	LockWebhooks(ctx context.Context, webhookIDs []string) error
	// WebhookHealth reads the webhooks' health as it is, before outcomes
	// change it.
	WebhookHealth(ctx context.Context, webhookIDs []string) (map[string]*HealthBefore, error)
	// NoteSuccesses sets the last success of each webhook in p that is
	// healthy (no failure since its last success) to its update's
	// LastSuccessAt where that is later, and returns the IDs of those it
	// found healthy. A failing webhook is left as it is, for UpdateHealth,
	// which tells whether it recovered.
	NoteSuccesses(ctx context.Context, p *NoteSuccessesParams) ([]string, error)
	// UpdateHealth folds recorded attempts into their webhooks' health and
	// disables the webhooks p says must be (their waiting deliveries end
	// FAILED, as when a user disables one), returning those it disabled
	// and how many deliveries it ended.
	UpdateHealth(ctx context.Context, p *UpdateHealthParams) (*HealthResult, error)
	// FailingWebhooks lists up to p.Limit enabled webhooks failing since
	// p.FailingSince or earlier with a delivery out of attempts in the
	// streak, by id: those --disable-after disables, found when no attempt
	// of theirs is being recorded (a dead endpoint with nothing left to
	// send).
	FailingWebhooks(ctx context.Context, p *FailingWebhooksParams) ([]string, error)
	// WriteAudit writes audit entries of changes hookd made itself.
	WriteAudit(ctx context.Context, entries []*AuditEntry) error
	// EnabledWebhooks returns a tenant's enabled webhooks, to match an
	// operational event hookd publishes in the transaction.
	EnabledWebhooks(ctx context.Context, tenantID string) ([]*Webhook, error)
	// AddEvents stores events and one PENDING delivery per webhook ID
	// given with each, due at once (the caller marks their webhooks due):
	// hookd's own operational events, in the transaction of the change
	// that caused them.
	AddEvents(ctx context.Context, p *AddEventsParams) error
}

// Handoff names the deliveries of a publish that are stored already leased
// to the publishing process's own engine, which sends them without a claim:
// no claim transaction, no lease update, no payload read. The lease makes
// it safe: should the process die, each delivery falls due when its lease
// ends (its webhook is marked due then) and any process claims it.
type Handoff struct {
	// WebhookIDs are among the publish's webhooks: each one's delivery is
	// leased (lease token 1) instead of due.
	WebhookIDs []string
	// Lease is how long, from the publish by the store's clock.
	Lease time.Duration
}

// Taker is the delivery engine of a process that publishes and delivers,
// as the publish sees it. Every Reserve that returns a handoff is followed
// by exactly one Take.
type Taker interface {
	// Reserve holds room for one delivery to each of the webhooks it can
	// send to now (enabled, without a rate limit, with room for one more),
	// and returns the handoff to publish with: nil when it can take none.
	Reserve(webhooks []*Webhook) *Handoff
	// Take sends the leased deliveries the publish made with h stored
	// (none when it failed or was a duplicate), and frees the room of the
	// reserved webhooks that got none.
	Take(h *Handoff, leased []*Claim)
}

// DisabledError is the lastError of deliveries ended because their webhook
// was disabled: in the transaction that disables it, or by the claim that
// finds a delivery queued for it after all.
const DisabledError = "webhook disabled"

// DueWebhooksParams selects due webhooks.
type DueWebhooksParams struct {
	Now   time.Time
	Limit int
}

// DueWebhook is a webhook with deliveries due, as a claim needs it.
type DueWebhook struct {
	ID        string
	TenantID  string
	Enabled   bool
	RateLimit int // requests per second; 0: unlimited
}

// RateBudgetsParams names the budgets to read and lock.
type RateBudgetsParams struct {
	WebhookIDs []string // sorted, so that replicas lock in one order
}

// SetRateBudgetsParams stores budgets.
type SetRateBudgetsParams struct {
	TATs map[string]time.Time
}

// FailDueParams ends due deliveries FAILED.
type FailDueParams struct {
	Now        time.Time
	WebhookIDs []string
	Error      string
}

// LeaseDeliveriesParams leases due deliveries.
type LeaseDeliveriesParams struct {
	Now   time.Time
	Until time.Time
	// Take lists webhooks in the order they are served, each with the most
	// of its deliveries to lease; Limit caps the deliveries in all.
	Take  []Take
	Limit int
}

// Take is one webhook's share of a claim.
type Take struct {
	WebhookID string
	N         int
}

// RequeueWebhooksParams places webhooks in the queue again after a claim.
type RequeueWebhooksParams struct {
	NotBefore map[string]time.Time
}

// Lease names one claim of a delivery.
type Lease struct {
	DeliveryID string
	Token      int64
}

// AddEventsParams is events to store with their deliveries.
type AddEventsParams struct {
	Now    time.Time
	Events []EventToAdd
}

// EventToAdd is one event and the webhooks it goes to.
type EventToAdd struct {
	Event      *Event
	WebhookIDs []string
}

// RecordOutcomesParams writes outcomes.
type RecordOutcomesParams struct {
	Now      time.Time
	Outcomes []*Outcome
}

// ReleaseLeasesParams gives leases back.
type ReleaseLeasesParams struct {
	At     time.Time
	Leases []Lease
}

// ExtendLeasesParams lengthens leases: of waiting deliveries, or with
// Canceled of cancelled ones.
type ExtendLeasesParams struct {
	Until    time.Time
	Leases   []Lease
	Canceled bool
}

// MarkDueParams lowers webhooks' due_at.
type MarkDueParams struct {
	Due map[string]time.Time
}

// Claim is a delivery leased to one worker, with what sending it needs.
type Claim struct {
	Lease
	TenantID         string
	EventID          string
	EventType        string
	WebhookID        string
	WebhookUpdatedAt time.Time // to tell a cached webhook is stale
	Attempts         int       // made before this one
	Manual           bool      // a manual retry: one attempt, no automatic retries
	Payload          []byte
	LeasedUntil      time.Time // by the store's clock
	PublishedAt      time.Time // the event's, for publish-to-delivery latency
	TraceParent      string    // the event's publish span, the parent of the attempt's
}

// Outcome is what became of one attempt, to be recorded.
type Outcome struct {
	Lease
	WebhookID string
	EventID   string // the delivery's event, for what an operational event says of it
	EventType string
	// Manual: a retry by hand or a test send, whose failure is not a
	// delivery running out of its attempts.
	Manual  bool
	Attempt *Attempt
	// Status is the delivery's new status; a RETRYING delivery falls due
	// RetryIn after the outcome is recorded (by the store's clock).
	Status  DeliveryStatus
	RetryIn time.Duration
}

// NextAttemptAt is when a recorded outcome's delivery falls due again
// (zero once it is final).
func (o *Outcome) NextAttemptAt(now time.Time) time.Time {
	if o.Status != StatusRetrying && o.Status != StatusPending {
		return time.Time{}
	}
	return now.Add(o.RetryIn)
}
