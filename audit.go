package hookd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"time"
)

// ActorType says who made a change.
type ActorType string

// Actor types, as the audit log shows them.
const (
	ActorAdmin   ActorType = "admin"   // the operator's key
	ActorKey     ActorType = "key"     // a tenant key; the ID is the key's
	ActorConsole ActorType = "console" // a console session; the ID is its key's, or "portal" for a portal link's
	ActorHookd   ActorType = "hookd"   // hookd itself
)

// Actor is who makes a change: the transports put it in the request's
// context once they know it, and every change made under that context is
// recorded as theirs.
type Actor struct {
	Type ActorType `json:"type"`
	ID   string    `json:"id"`
}

// MarshalJSON writes the contract's {type, id}, id null for an actor with
// no identity of its own (the operator's key, hookd itself): the key is
// always there, as a reader of the contract's shape expects.
func (a Actor) MarshalJSON() ([]byte, error) {
	var id any
	if a.ID != "" {
		id = a.ID
	}
	return json.Marshal(struct {
		Type ActorType `json:"type"`
		ID   any       `json:"id"`
	}{a.Type, id})
}

type actorKey struct{}

// WithActor returns ctx carrying the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries; without one, hookd itself.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Type: ActorHookd}
}

// Audit actions, as the contract names them.
const (
	AuditWebhookCreated       = "webhook.created"
	AuditWebhookUpdated       = "webhook.updated"
	AuditWebhookDeleted       = "webhook.deleted"
	AuditWebhookEnabled       = "webhook.enabled"
	AuditWebhookDisabled      = "webhook.disabled"
	AuditWebhookSecretRotated = "webhook.secret_rotated"
	AuditDeliveriesRetried    = "deliveries.retried"
	AuditDeliveriesCanceled   = "deliveries.canceled"
	AuditDeliveriesReplayed   = "deliveries.replayed"
	AuditKeyCreated           = "key.created"
	AuditKeyRevoked           = "key.revoked"
	AuditTenantUpdated        = "tenant.updated"
)

// AuditActions are every action the log holds, in the contract's order.
var AuditActions = []string{
	AuditWebhookCreated, AuditWebhookUpdated, AuditWebhookDeleted, AuditWebhookEnabled,
	AuditWebhookDisabled, AuditWebhookSecretRotated, AuditDeliveriesRetried, AuditDeliveriesCanceled,
	AuditDeliveriesReplayed, AuditKeyCreated, AuditKeyRevoked, AuditTenantUpdated,
}

// AuditTarget is what a change was made to.
type AuditTarget struct {
	Type string `json:"type"` // webhook, delivery, key, tenant
	ID   string `json:"id"`
}

// Change is one field's value before and after.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// AuditEntry is one change to a tenant's configuration. It never holds a
// secret or a header's value.
type AuditEntry struct {
	ID       string            `json:"id"`
	TenantID string            `json:"-"`
	At       time.Time         `json:"at"`
	Actor    Actor             `json:"actor"`
	Action   string            `json:"action"`
	Target   AuditTarget       `json:"target"`
	Changes  map[string]Change `json:"changes"`
	Seq      int64             `json:"-"` // the store's order, for cursors
	clock    Clock             // set by NewAuditEntry: Stamp stamps the entry by it
	stamp    bool
}

// NewAuditEntry is an entry of the tenant by actor, stamped (ID and At)
// by clock as the store writes it (Stamp), not as the request began: the
// order of at and id then agrees with the log's, the order the changes
// were written in, under concurrent requests too.
func NewAuditEntry(clock Clock, tenantID string, actor Actor) *AuditEntry {
	now := clock.Now()
	return &AuditEntry{ID: NewID(PrefixAudit, now), TenantID: tenantID, At: now, Actor: actor, clock: clock, stamp: true}
}

// Stamp sets the ID and At of an entry made by NewAuditEntry from its
// clock; a store calls it in the transaction that writes the entry.
func (e *AuditEntry) Stamp() {
	if !e.stamp {
		return
	}
	e.At = e.clock.Now()
	e.ID = NewID(PrefixAudit, e.At)
}

type auditKey struct{}

// WithAudit returns ctx carrying e: the store writes e in the transaction
// of the change made under ctx, so an entry exists exactly when its change
// does. The service layer fills e in, before the write, from what it read.
// A write that changes nothing (a conditional update that lost its race)
// writes no entry.
func WithAudit(ctx context.Context, e *AuditEntry) context.Context {
	return context.WithValue(ctx, auditKey{}, e)
}

// AuditFrom returns the entry ctx carries for the store to write, or nil.
func AuditFrom(ctx context.Context) *AuditEntry {
	e, _ := ctx.Value(auditKey{}).(*AuditEntry)
	if e == nil || e.Action == "" {
		return nil
	}
	return e
}

// AuditQuery selects a tenant's audit entries, newest first.
type AuditQuery struct {
	TenantID string
	Action   string
	TargetID string
	Since    time.Time
	Until    time.Time
	Before   int64 // Seq cursor; 0 from the newest
	Limit    int
}

// WebhookChanges lists the fields that differ between two versions of a
// webhook, as the API shows them, for the audit log: never a secret, and
// for headers only their names.
func WebhookChanges(before, after *Webhook) map[string]Change {
	out := map[string]Change{}
	var b, a map[string]any
	if before != nil {
		b = auditView(before)
	}
	if after != nil {
		a = auditView(after)
	}
	for k, to := range a {
		if from := b[k]; !reflect.DeepEqual(from, to) {
			out[k] = Change{From: from, To: to}
		}
	}
	for k, from := range b {
		if _, ok := a[k]; !ok && from != nil { // null to nothing is no change
			out[k] = Change{From: from, To: nil}
		}
	}
	// A header whose value changed is a change too, told without its
	// values (a rotated token must be in the log, and its value must not).
	if before != nil && after != nil {
		for name, v := range after.Headers {
			if old, ok := before.Headers[name]; ok && old != v {
				out["headers."+name] = Change{From: "[redacted]", To: "[redacted]"}
			}
		}
	}
	return out
}

// auditView is a webhook's fields as the API renders them, less what the
// audit log must not hold or that says nothing about a change.
func auditView(w *Webhook) map[string]any {
	raw, _ := json.Marshal(w) // MarshalJSON never renders secrets
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	for _, k := range []string{"id", "createdAt", "updatedAt", "health", "disabledAt"} {
		delete(m, k)
	}
	names := make([]any, 0, len(w.Headers))
	for k := range w.Headers {
		names = append(names, k)
	}
	slices.SortFunc(names, func(x, y any) int {
		if x.(string) < y.(string) {
			return -1
		}
		return 1
	})
	m["headers"] = names
	// Query strings often carry tokens: their values are not kept, but a
	// changed value still shows as a changed URL.
	if u, err := url.Parse(w.URL); err == nil && u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"[redacted-" + shortHash(q.Get(k)) + "]"}
		}
		u.RawQuery = q.Encode()
		m["url"] = u.String()
	}
	return m
}

// shortHash tells two values apart without revealing either: two bytes of
// a hash are enough to show a change and far too few to recover a value.
func shortHash(s string) string {
	h := sha256.Sum256([]byte("hookd audit\x00" + s))
	return hex.EncodeToString(h[:2])
}
