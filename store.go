package hookd

import (
	"context"
	"time"
)

// Store is the storage contract: every role below, which one value
// implements. sqlite/ and postgres/ implement it and storetest checks that
// they behave alike. Each consumer asks for the roles it uses: the delivery
// engine for Deliverer, the console for what it reads. Methods return
// ErrNotFound for a missing row and ErrConflict for a taken unique key,
// wrapped.
//
// Every write is built to share commits: engines batch concurrent writes
// into one transaction (group commit), so the cost of durability is paid
// per batch, not per request.
type Store interface {
	Queue
	KeyStore
	Tenancy
	Catalog
	Events
	Deliveries
	Statistics
	Consoles
	AuditLog
	Retention
	Tasks
	Idempotency

	Ping(ctx context.Context) error
	Close() error
}

// Tenancy is tenants, their keys and the operator's key.
type Tenancy interface {
	// AdminKeyHash returns the stored hash of the operator's key, or ErrNotFound.
	AdminKeyHash(ctx context.Context) ([]byte, error)
	SetAdminKeyHash(ctx context.Context, hash []byte) error

	CreateTenant(ctx context.Context, t *Tenant) error
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	ListTenants(ctx context.Context, q TenantQuery) ([]*Tenant, int, error)
	UpdateTenant(ctx context.Context, t *Tenant) error
	// DeleteTenant deletes the tenant and everything under it, in one
	// transaction; the service first deletes the bulk of it in steps
	// (DeleteEvents), so that this one is short.
	DeleteTenant(ctx context.Context, id string) error
	// DeleteEvents deletes up to p.Limit of the tenant's events after seq
	// p.After created by p.Until, in seq order, with their deliveries and
	// attempts, in one transaction that first locks the tenant's webhooks
	// (as every writer of deliveries does): a step of deleting a tenant. It says how many went and
	// the last seq among them (p.After when none), where the next step
	// starts: a step never reads past what the steps before it deleted
	// (on PostgreSQL, index entries that only VACUUM removes).
	DeleteEvents(ctx context.Context, p DeleteEventsParams) (n int, last int64, err error)

	CreateAPIKey(ctx context.Context, k *APIKey) error
	ListAPIKeys(ctx context.Context, tenantID string) ([]*APIKey, error)
	DeleteAPIKey(ctx context.Context, tenantID, id string) error
	APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
}

// Catalog is the event types and the tenants' webhooks.
type Catalog interface {
	CreateEventType(ctx context.Context, et *EventType) error
	GetEventType(ctx context.Context, name string) (*EventType, error)
	ListEventTypes(ctx context.Context) ([]*EventType, error)
	UpdateEventType(ctx context.Context, et *EventType) error

	CreateWebhook(ctx context.Context, w *Webhook) error
	GetWebhook(ctx context.Context, tenantID, id string) (*Webhook, error)
	ListWebhooks(ctx context.Context, q WebhookQuery) ([]*Webhook, int, error)
	// UpdateWebhook writes every field of w, provided the stored webhook
	// is still the version read (its UpdatedAt equals read); otherwise it
	// changes nothing and returns ErrConflict, so that concurrent edits
	// never undo each other (a rotation written back by a PATCH that read
	// the webhook before it). When w is disabled, its waiting deliveries
	// end FAILED in the same transaction, and ended says how many.
	UpdateWebhook(ctx context.Context, w *Webhook, read time.Time) (ended int, err error)
	// DeleteWebhook deletes the webhook and all its delivery history, in
	// one transaction; the service first deletes the bulk of the history
	// in steps (DeleteDeliveries), so that this one is short.
	DeleteWebhook(ctx context.Context, tenantID, id string) error
	// DeleteDeliveries deletes up to p.Limit of a webhook's deliveries
	// with id after p.After created by p.Until, in id order, with their
	// attempts, in one transaction that first locks the webhook: a step
	// of deleting the webhook. It says how many went
	// and the last id among them (p.After when none), as DeleteEvents.
	DeleteDeliveries(ctx context.Context, p DeleteDeliveriesParams) (n int, last string, err error)
	// WebhookIDByUID returns the id of the tenant's webhook with uid, or
	// ErrNotFound.
	WebhookIDByUID(ctx context.Context, tenantID, uid string) (string, error)
	// EnabledWebhooks returns the tenant's enabled webhooks, for matching.
	EnabledWebhooks(ctx context.Context, tenantID string) ([]*Webhook, error)
}

// Events is publishing and reading events.
type Events interface {
	// PublishEvent stores ev and one PENDING delivery per webhook ID that
	// still exists and is enabled, in one transaction, durable on return.
	// The deliveries to h's webhooks (h may be nil) are stored leased to
	// the caller until h.Lease from now, their webhooks due then, and are
	// returned as claims; the others are due now. When the tenant already
	// has an event with ev.ID it stores nothing and returns that event with
	// Duplicate set.
	PublishEvent(ctx context.Context, ev *Event, webhookIDs []string, h *Handoff) (*PublishResult, error)
	GetEvent(ctx context.Context, tenantID, id string) (*Event, error)
	// ListEvents returns events newest first, those with Seq < q.Before
	// when Before is set.
	ListEvents(ctx context.Context, q EventQuery) ([]*Event, error)
	ListEventDeliveries(ctx context.Context, tenantID, eventID string) ([]*Delivery, error)
}

// Deliveries is reading deliveries and queueing them again by hand.
type Deliveries interface {
	// CreateTestDelivery stores ev and a manual delivery of it to
	// webhookID, leased to the caller for lease (by the store's clock), and
	// returns the claim. Should the caller die, the delivery falls due when
	// the lease ends.
	CreateTestDelivery(ctx context.Context, ev *Event, webhookID string, lease time.Duration) (*Claim, error)

	GetDelivery(ctx context.Context, tenantID, id string) (*DeliveryDetail, error)
	// ListDeliveries returns a webhook's deliveries newest first, and their
	// total when q.Before is empty.
	ListDeliveries(ctx context.Context, q DeliveryQuery) ([]*Delivery, int, error)
	// ListTenantDeliveries returns a tenant's deliveries across its
	// webhooks, filtered, newest first.
	ListTenantDeliveries(ctx context.Context, q TenantDeliveryQuery) ([]*Delivery, error)
	// CountTenantDeliveries counts what ListTenantDeliveries would list,
	// without its cursor and limit (a bulk action's preview).
	CountTenantDeliveries(ctx context.Context, q TenantDeliveryQuery) (int, error)
	// ListFailedDeliveries returns the tenant's FAILED deliveries, most
	// recently failed first.
	ListFailedDeliveries(ctx context.Context, tenantID string, p Page) ([]*Delivery, int, error)
	// RetryDelivery makes a delivery due now (by the store's clock) for one
	// manual attempt, whatever its status, and takes it from any lease that
	// has run out. While a live lease holds it (an attempt is being sent)
	// it changes nothing and returns ErrConflict.
	RetryDelivery(ctx context.Context, tenantID, id string) error
	// RetryFailed makes every FAILED delivery of a webhook created within
	// w due now for one manual attempt each, and returns how many.
	RetryFailed(ctx context.Context, tenantID, webhookID string, w Window) (int, error)
	// ExpungeAttemptContent deletes what the receiver answered to attempt
	// number of a tenant's delivery (its response body and headers; the
	// status code stays): ErrNotFound when there is no such attempt.
	ExpungeAttemptContent(ctx context.Context, tenantID, deliveryID string, number int) error
	// CancelDeliveries ends a webhook's PENDING and RETRYING deliveries
	// CANCELED (those created before before, when it is not zero) and
	// returns how many, sending among them: those being sent now (a live
	// lease) keep their lease, their attempt finishes, and its outcome
	// leaves them CANCELED unless it succeeded (RecordOutcomes).
	CancelDeliveries(ctx context.Context, tenantID, webhookID string, before time.Time) (canceled, sending int, err error)
}

// Statistics is what the statistics pages and endpoints read.
type Statistics interface {
	QueueDepther
	Stats(ctx context.Context, q StatsQuery) (*Stats, error)
	// StatsSeries returns q.Buckets periods of statistics, oldest first.
	StatsSeries(ctx context.Context, q SeriesQuery) ([]*SeriesBucket, error)
}

// Consoles is the console's sessions and portal links.
type Consoles interface {
	// CreateConsoleSession stores a portal link or a signed-in console
	// session, and drops the sessions that expired before cs.CreatedAt.
	CreateConsoleSession(ctx context.Context, cs *ConsoleSession) error
	// RedeemPortalLink uses up the unexpired portal link whose token hashes
	// to linkHash, signing its session in with the cookie hash tokenHash. A
	// used, expired or unknown link is ErrNotFound.
	RedeemPortalLink(ctx context.Context, linkHash, tokenHash []byte, now time.Time) (*ConsoleSession, error)
	// ConsoleSessionByToken returns the unexpired session whose cookie
	// hashes to tokenHash, or ErrNotFound.
	ConsoleSessionByToken(ctx context.Context, tokenHash []byte, now time.Time) (*ConsoleSession, error)
	// DeleteConsoleSession signs a session out.
	DeleteConsoleSession(ctx context.Context, id string) error
}

// AuditLog reads the audit log. Entries are written by the changes they
// describe: each write method given a context with WithAudit writes its
// entry in its own transaction when it changes something.
type AuditLog interface {
	// ListAudit returns a tenant's audit entries, newest first.
	ListAudit(ctx context.Context, q AuditQuery) ([]*AuditEntry, error)
}

// Deliverer is what the delivery engine needs of a store: the queue, the
// webhooks it sends to, and the test sends it makes.
type Deliverer interface {
	Queue
	GetWebhook(ctx context.Context, tenantID, id string) (*Webhook, error)
	CreateTestDelivery(ctx context.Context, ev *Event, webhookID string, lease time.Duration) (*Claim, error)
}

// Waker is implemented by stores that can tell a process what other
// processes did (PostgreSQL's LISTEN/NOTIFY): that work may have been
// queued, so that the delivery engine wakes instead of waiting for its next
// poll; and that a webhook or its deliveries changed, so that the engine
// checks what it holds for it before sending, as it does for a change made
// through its own process (Engine.Changed).
type Waker interface {
	// Listen calls due whenever work may have been queued, and changed
	// with the id of each webhook that changed ("": every webhook, when
	// changes may have been missed while it could not listen), from one
	// goroutine, until ctx ends. Both are called at once when it begins to
	// listen.
	Listen(ctx context.Context, due func(), changed func(webhookID string))
	// Settle returns once every process listening (Listen) has been told
	// of the changes committed before the call, and has told its engine
	// (changed returned), or after a bound when one does not answer (a
	// process frozen or gone): an attempt that a change stopped then starts
	// in no process after the change's answer.
	Settle(ctx context.Context) error
}

// Retention is the store's primitive for pruning old events; the loop
// that calls it lives in package retention.
type Retention interface {
	// PruneEvents looks at up to p.Limit events after p.After in seq
	// order, stopping at the first created at or after p.Before, and
	// deletes those whose every delivery is final (SUCCESS, FAILED,
	// CANCELED) with their deliveries and attempts, adding their totals
	// to the hourly roll-ups in the same transaction.
	PruneEvents(ctx context.Context, p PruneParams) (*PruneResult, error)
}

// Idempotency keeps the answers to requests made with an idempotency key
// (Svix's SDKs send one on every POST), so that a request sent again
// gets the first answer instead of acting twice.
type Idempotency interface {
	// SavedResponse returns the answer kept for scope and key since since
	// (Status 0: a reservation, its request still running), or ErrNotFound.
	SavedResponse(ctx context.Context, scope, key string, since time.Time) (*SavedResponse, error)
	// ReserveResponse holds scope and key for a request about to run, so
	// that the same request sent again meanwhile, to any process, waits
	// for its answer instead of acting too; false when another holds it
	// or its answer is kept.
	ReserveResponse(ctx context.Context, p *ReserveResponseParams) (bool, error)
	// ReleaseResponse drops the reservation made at at, if it is still
	// one: its request failed, and may be tried again.
	ReleaseResponse(ctx context.Context, scope, key string, at time.Time) error
	// SaveResponse keeps an answer in place of its reservation (an answer
	// kept already wins) and drops those saved before r.CreatedAt minus
	// keep.
	SaveResponse(ctx context.Context, scope, key string, r *SavedResponse, keep time.Duration) error
}

// ReserveResponseParams reserves an idempotency key.
type ReserveResponseParams struct {
	Scope, Key string
	At         time.Time // the reservation's time, and its answer's CreatedAt
	// Since: an answer kept from before it has expired, and is replaced.
	Since time.Time
	// StaleBefore: a reservation made before it was abandoned (its
	// process died mid-request), and is taken over.
	StaleBefore time.Time
}

// SavedResponse is a kept answer; Status 0 is a reservation.
type SavedResponse struct {
	Status    int
	Body      []byte
	CreatedAt time.Time
}

// Reclaimer is implemented by stores whose file keeps the space freed by
// deletes until told to give it back (SQLite: incremental vacuum). The
// pruner calls it, in small steps, after a pass that deleted rows.
type Reclaimer interface {
	// ReclaimSpace returns up to pages free pages to the file system and
	// says how many it returned; 0 when none is left.
	ReclaimSpace(ctx context.Context, pages int) (int, error)
}

// DeleteEventsParams are one step of deleting a tenant's events: those
// created by Until (the delete's start), so that the steps end however
// fast the tenant publishes; what comes after goes with the tenant.
type DeleteEventsParams struct {
	TenantID string
	After    int64 // seq; 0 from the first
	Until    time.Time
	Limit    int
}

// DeleteDeliveriesParams are one step of deleting a webhook's deliveries,
// those created by Until, as DeleteEventsParams.
type DeleteDeliveriesParams struct {
	TenantID  string
	WebhookID string
	After     string // id; "" from the first
	Until     time.Time
	Limit     int
}

// PruneParams are one batch of PruneEvents.
type PruneParams struct {
	After  int64     // seq to look after; 0 is from the oldest
	Before time.Time // events created before it may go
	Limit  int       // events looked at, at most
}

// PruneResult is what one batch did.
type PruneResult struct {
	Next       int64 // the After of the next batch
	Done       bool  // no older event is left after Next
	Events     int   // deleted
	Deliveries int
	Attempts   int
}

// Window bounds a creation time, inclusive; a zero end is no bound.
type Window struct {
	Since time.Time
	Until time.Time
}

// Page is an offset page.
type Page struct {
	Limit  int
	Offset int
}

// WebhookQuery selects a tenant's webhooks, oldest first (Newest: newest
// first, as Svix lists endpoints).
type WebhookQuery struct {
	TenantID string
	Enabled  *bool
	Newest   bool
	// AfterID, when set, keeps the webhooks after this id in the list's
	// order: a cursor, which webhooks made or deleted meanwhile do not
	// shift as they shift an offset.
	AfterID string
	Page
}

// TenantQuery selects tenants, oldest first.
type TenantQuery struct {
	// AfterID, when set, keeps the tenants listed after the one with this
	// id, made at AfterCreatedAt: a cursor.
	AfterID        string
	AfterCreatedAt time.Time
	// Newest lists the newest first (Svix's order=descending), and a
	// cursor keeps those made before it.
	Newest bool
	Page
}

// EventQuery selects a tenant's events.
type EventQuery struct {
	TenantID string
	Type     string
	Types    []string  // any of these (none: any type)
	Channel  string    // events published to this channel
	Tag      string    // events with this tag
	NoSystem bool      // leave out hookd's own event types
	Since    time.Time // creation time, inclusive; zero is no bound
	Until    time.Time // creation time, inclusive; zero is no bound
	Before   int64     // Seq cursor; 0 means from the newest
	Limit    int
}

// Clock is the time source that stores, the API and the engine share, so
// tests can move time.
type Clock func() time.Time

// Now returns the current time in UTC at the store's precision.
func (c Clock) Now() time.Time {
	if c == nil {
		return Truncate(time.Now())
	}
	return Truncate(c())
}
