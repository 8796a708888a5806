// Package service holds hookd's use-cases: every change to tenants, keys,
// webhooks, events and deliveries, whoever asks for it. The /v1 API and the
// console decode a request, call one function here, and encode its answer;
// the rules (validation, 409s, what publishing matches, cache invalidation,
// waking the engine, the audit log) are written here once.
//
// The actor of a change comes from the context (hookd.WithActor), set by
// the transport that authenticated the request; each change's audit entry
// rides in the context to the store (hookd.WithAudit), which writes it in
// the change's own transaction.
package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/netguard"
)

// Config configures the service. Zero values are usable except Store.
type Config struct {
	Store  hookd.Store
	Logger *slog.Logger
	Clock  hookd.Clock
	// Guard is the SSRF policy for webhook URLs; nil blocks every private
	// range.
	Guard *netguard.Policy
	// HTTPSOnly refuses http:// webhook URLs.
	HTTPSOnly bool
	// DefaultMaxAttempts is a new webhook's maxAttempts when it gives none:
	// the retry schedule's length + 1. Default 8.
	DefaultMaxAttempts int
	// Notify, when set, is called after new work is queued (a publish, a
	// retry), so that delivery starts at once instead of at the next poll.
	Notify func()
	// Changed, when set, is called after a change to a webhook or its
	// deliveries commits (an edit, a disable, a rotation, a delete, a
	// cancel; "" for a tenant's delete: any webhook) and before the caller
	// is answered, so that this process's engine checks what it holds
	// for the webhook against the store before sending it.
	Changed func(webhookID string)
	// Settle, when set, is called after Changed: it returns once every
	// other process has been told of the change too (hookd.Waker's), so
	// that none starts an attempt the change stopped after the answer.
	Settle func(ctx context.Context) error
	// NotifyTasks, when set, is called after a task is created, so that
	// this process's task runner starts it at once instead of at its next
	// poll.
	NotifyTasks func()
	// Taker, when set, is this process's delivery engine: a publish hands
	// it the deliveries it has room for, leased to it, so that they are
	// sent without a claim.
	Taker hookd.Taker
	// Tester makes test sends; nil refuses them (an API-only process).
	Tester hookd.Tester
	// Observer is told of published events (the metrics). Default:
	// nothing is told.
	Observer hookd.Observer
	// Tracer is where publish spans go. Default: nowhere (a no-op).
	Tracer trace.TracerProvider
	// CacheTTL bounds how long publishing may use a cached event type or
	// webhook list, or authorization a cached tenant, that another process
	// changed, twice over, with the time of one read: an entry older than
	// this is read again in the background while publishing goes on with
	// it, and one older than twice this is read before it is used. Changes
	// made through this service are seen at once. Default 1s; negative
	// disables the cache.
	CacheTTL time.Duration
	// DeleteStep is how many events (a tenant's, with their deliveries
	// and attempts) or deliveries (a webhook's) one transaction of a
	// delete takes at most before the last one removes what is left: a
	// long history goes in steps of a few milliseconds each, between which
	// everyone else's writes go on (on SQLite, one transaction for all of
	// it held the only writer for seconds). Fewer while steps are slow.
	// Default 200.
	DeleteStep int
}

// Service is hookd's use-cases over one store.
type Service struct {
	cfg    Config
	store  hookd.Store
	log    *slog.Logger
	clock  hookd.Clock
	tracer trace.Tracer

	tenants    *cache[*hookd.Tenant]
	eventTypes *cache[*hookd.EventType]
	hooks      *cache[[]*hookd.Webhook] // enabled webhooks by tenant

	filterMu     sync.Mutex
	filterLogged map[string]time.Time // webhook → when its filter's failure was last logged
}

// New returns the service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultMaxAttempts <= 0 {
		cfg.DefaultMaxAttempts = 8
	}
	if cfg.Guard == nil {
		cfg.Guard = netguard.New(nil)
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Second
	}
	if cfg.DeleteStep <= 0 {
		cfg.DeleteStep = 200
	}
	if cfg.Observer == nil {
		cfg.Observer = hookd.NopObserver{}
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider()
	}
	return &Service{cfg: cfg, store: cfg.Store, log: cfg.Logger, clock: cfg.Clock,
		tracer:  cfg.Tracer.Tracer("github.com/hookd/hookd/service"),
		tenants: newCache[*hookd.Tenant](cfg.CacheTTL), eventTypes: newCache[*hookd.EventType](cfg.CacheTTL),
		hooks: newCache[[]*hookd.Webhook](cfg.CacheTTL), filterLogged: map[string]time.Time{}}
}

// Store is the store the service works on, for the transports' reads.
func (s *Service) Store() hookd.Store { return s.store }

// DefaultMaxAttempts is a new webhook's maxAttempts.
func (s *Service) DefaultMaxAttempts() int { return s.cfg.DefaultMaxAttempts }

// CanTest reports whether this process makes test sends.
func (s *Service) CanTest() bool { return s.cfg.Tester != nil }

func (s *Service) notify() {
	if s.cfg.Notify != nil {
		s.cfg.Notify()
	}
}

// changed tells this process's engine of a committed change, then waits
// for the other processes' (Settle). A Settle that fails leaves them to
// their change notices, a moment later; the change stands.
func (s *Service) changed(ctx context.Context, webhookID string) {
	if s.cfg.Changed != nil {
		s.cfg.Changed(webhookID)
	}
	if s.cfg.Settle != nil {
		if err := s.cfg.Settle(ctx); err != nil {
			s.log.Warn("wait for other processes to learn of a change", "webhook", webhookID, "err", err)
		}
	}
}

// audited returns ctx carrying a new audit entry of the tenant, by the
// context's actor, for the store to write with the change (stamped then,
// by the service's clock); the caller fills in its action, target and
// changes before the write.
func (s *Service) audited(ctx context.Context, tenantID string) (context.Context, *hookd.AuditEntry) {
	e := hookd.NewAuditEntry(s.clock, tenantID, hookd.ActorFrom(ctx))
	return hookd.WithAudit(ctx, e), e
}

// Tenant returns a tenant, from a cache that changes through this service
// invalidate; for authorizing requests, which read it on every call.
func (s *Service) Tenant(ctx context.Context, id string) (*hookd.Tenant, error) {
	t, err := s.tenants.get(ctx, id, func(ctx context.Context) (*hookd.Tenant, error) { return s.store.GetTenant(ctx, id) })
	return t, notFound(err, "tenant %s not found", id)
}

// notFound gives a store's ErrNotFound the message a reader should see.
func notFound(err error, format string, args ...any) error {
	if err != nil && isNotFound(err) {
		return hookd.Errorf(hookd.ErrNotFound, format, args...)
	}
	return err
}
