package service

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

func tenantNotFound(err error, id string) error { return notFound(err, "tenant %s not found", id) }

// CreateTenant stores a new tenant; its id taken is a conflict.
func (s *Service) CreateTenant(ctx context.Context, t *hookd.Tenant, problems *hookd.ValidationError) error {
	t.CreatedAt = s.clock.Now()
	t.UpdatedAt = t.CreatedAt
	if err := problems.Err(); err != nil {
		return err
	}
	if err := t.Validate(""); err != nil {
		return err
	}
	if err := s.store.CreateTenant(ctx, t); err != nil {
		if errors.Is(err, hookd.ErrConflict) {
			return hookd.Errorf(hookd.ErrConflict, "tenant %s already exists", t.ID)
		}
		return err
	}
	return nil
}

// UpdateTenant changes a tenant's fields with change.
func (s *Service) UpdateTenant(ctx context.Context, id string, change func(t *hookd.Tenant, v *hookd.ValidationError)) (*hookd.Tenant, error) {
	t, err := s.store.GetTenant(ctx, id)
	if err != nil {
		return nil, tenantNotFound(err, id)
	}
	before := *t
	v := &hookd.ValidationError{}
	change(t, v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := t.Validate(before.Name); err != nil {
		return nil, err
	}
	if before.Name == t.Name && maps.Equal(before.Metadata, t.Metadata) {
		return t, nil // nothing to write: updatedAt stays
	}
	t.UpdatedAt = s.clock.Now()
	ctx, e := s.audited(ctx, id)
	if before.Name != t.Name {
		e.Action, e.Target = hookd.AuditTenantUpdated, hookd.AuditTarget{Type: "tenant", ID: id}
		e.Changes = map[string]hookd.Change{"name": {From: before.Name, To: t.Name}}
	}
	err = s.store.UpdateTenant(ctx, t)
	s.tenants.invalidate(id)
	return t, tenantNotFound(err, id)
}

// DeleteTenant deletes a tenant and everything under it (its audit log
// too: there is no tenant left to read it): its events with their
// deliveries and attempts in steps (see Config.DeleteStep), then the
// tenant with what remains. The tenant answers until the last step; a
// delete cut short by a crash has removed only history, and deleting
// again finishes it.
func (s *Service) DeleteTenant(ctx context.Context, id string) error {
	// A caller that goes away does not leave the delete half done.
	ctx = context.WithoutCancel(ctx)
	var after int64
	until := s.clock.Now()
	err := s.deleteInSteps(func(limit int) (n int, err error) {
		n, after, err = s.store.DeleteEvents(ctx, hookd.DeleteEventsParams{TenantID: id, After: after, Until: until, Limit: limit})
		return n, err
	})
	if err == nil {
		err = s.store.DeleteTenant(ctx, id)
	}
	s.tenants.invalidate(id)
	s.hooks.invalidate(id)
	s.changed(ctx, "")
	return tenantNotFound(err, id)
}

// TenantKeyPrefix starts tenant keys, so that secret scanners and people
// can tell them from endpoint secrets (whsec_).
const TenantKeyPrefix = "hk_"

// CreateAPIKey makes a tenant key and returns it with the key itself,
// which is never readable again.
func (s *Service) CreateAPIKey(ctx context.Context, tenantID, name string) (*hookd.APIKey, string, error) {
	now := s.clock.Now()
	key := hookd.GenerateAPIKey(TenantKeyPrefix)
	k := &hookd.APIKey{ID: hookd.NewID(hookd.PrefixKey, now), TenantID: tenantID, Name: name, Hash: hookd.HashKey(key), CreatedAt: now}
	if err := k.Validate(); err != nil {
		return nil, "", err
	}
	ctx, e := s.audited(ctx, tenantID)
	e.Action, e.Target = hookd.AuditKeyCreated, hookd.AuditTarget{Type: "key", ID: k.ID}
	e.Changes = map[string]hookd.Change{"name": {From: nil, To: name}}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return nil, "", tenantNotFound(err, tenantID)
	}
	return k, key, nil
}

// DeleteAPIKey revokes a tenant key at once.
func (s *Service) DeleteAPIKey(ctx context.Context, tenantID, id string) error {
	ctx, e := s.audited(ctx, tenantID)
	e.Action, e.Target = hookd.AuditKeyRevoked, hookd.AuditTarget{Type: "key", ID: id}
	return notFound(s.store.DeleteAPIKey(ctx, tenantID, id), "API key %s not found", id)
}

// CreatePortalSession makes a one-time link into the tenant's console,
// valid for expires, and returns its token.
func (s *Service) CreatePortalSession(ctx context.Context, tenantID string, expires time.Duration, readOnly bool) (string, *hookd.ConsoleSession, error) {
	if expires < hookd.MinPortalExpiry || expires > hookd.MaxPortalExpiry {
		return "", nil, hookd.Invalid("expiresInSeconds", "must be 1–604800 (7 days)")
	}
	now := s.clock.Now()
	token, hash := hookd.NewToken()
	cs := &hookd.ConsoleSession{ID: hookd.NewID(hookd.PrefixConsoleSession, now), TenantID: tenantID,
		ReadOnly: readOnly, LinkHash: hash, ExpiresAt: now.Add(expires), CreatedAt: now}
	if err := s.store.CreateConsoleSession(ctx, cs); err != nil {
		return "", nil, tenantNotFound(err, tenantID)
	}
	return token, cs, nil
}

func eventTypeNotFound(err error, name string) error {
	return notFound(err, "event type %s not found", name)
}

// CreateEventType adds a type to the instance-wide catalog, its name made
// by the caller's API's rule.
func (s *Service) CreateEventType(ctx context.Context, et *hookd.EventType, names hookd.NameRule, problems *hookd.ValidationError) error {
	now := s.clock.Now()
	et.CreatedAt, et.UpdatedAt = now, now
	if et.Examples == nil {
		et.Examples = []json.RawMessage{}
	}
	switch {
	case problems.Has("name"):
	case !names.Valid(et.Name):
		problems = joinProblems(problems, "name", names.Problem())
	case hookd.SystemEventType(strings.ToLower(et.Name)):
		// In any case: HOOKD.webhook.disabled (Svix's names may have
		// capitals) would read as hookd's own, and * would match it.
		problems = joinProblems(problems, "name", "the hookd. namespace is reserved for hookd's own event types")
	}
	if err := problems.Err(); err != nil {
		return err
	}
	if err := et.Validate(); err != nil {
		return err
	}
	if err := s.store.CreateEventType(ctx, et); err != nil {
		if errors.Is(err, hookd.ErrConflict) {
			return hookd.Errorf(hookd.ErrConflict, "event type %s already exists", et.Name)
		}
		return err
	}
	return nil
}

// UpdateEventType changes a type's fields with change.
func (s *Service) UpdateEventType(ctx context.Context, name string, change func(et *hookd.EventType, v *hookd.ValidationError)) (*hookd.EventType, error) {
	et, err := s.store.GetEventType(ctx, name)
	if err != nil {
		return nil, eventTypeNotFound(err, name)
	}
	if hookd.SystemEventType(name) {
		return nil, hookd.Invalid("name", "%s is one of hookd's own event types: it cannot be changed or archived", name)
	}
	before := *et
	before.Examples = slices.Clone(et.Examples)
	v := &hookd.ValidationError{}
	change(et, v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := et.Validate(); err != nil {
		return nil, err
	}
	if et.Same(&before) {
		return et, nil // nothing changed: nothing written, updatedAt kept
	}
	et.UpdatedAt = s.clock.Now()
	err = s.store.UpdateEventType(ctx, et)
	s.eventTypes.invalidate(name)
	return et, eventTypeNotFound(err, name)
}

// ArchiveEventType archives a type: no new events of it, while webhooks
// subscribed to it and its past events stay readable.
func (s *Service) ArchiveEventType(ctx context.Context, name string) error {
	et, err := s.store.GetEventType(ctx, name)
	if err != nil || et.Archived {
		return eventTypeNotFound(err, name)
	}
	if hookd.SystemEventType(name) {
		return hookd.Invalid("name", "%s is one of hookd's own event types: it cannot be archived", name)
	}
	_, err = s.UpdateEventType(ctx, name, func(et *hookd.EventType, _ *hookd.ValidationError) { et.Archived = true })
	return err
}

// joinProblems returns problems (made if nil) with one more.
func joinProblems(problems *hookd.ValidationError, field, msg string) *hookd.ValidationError {
	if problems == nil {
		problems = &hookd.ValidationError{}
	}
	problems.Add(field, "%s", msg)
	return problems
}

// deleteStepTime is what a step of a long delete should take at most:
// SQLite's one writer (every tenant's publishes) waits for it.
const deleteStepTime = 50 * time.Millisecond

// stepClock times delete steps; a test's own clock stands in.
var stepClock = time.Now

// deleteInSteps calls step with a limit until a step deletes fewer than it
// was let: steps take what was there when the delete began (their Until),
// so that they end however fast the tenant publishes, and what came after
// goes with the delete's last transaction. The limit starts at
// Config.DeleteStep and halves while a step takes longer than
// deleteStepTime (a tenant's events with many deliveries each take longer
// a step than a webhook's deliveries), back up to Config.DeleteStep while
// steps are quick. Real time, not the clock: this paces work, it decides
// nothing.
func (s *Service) deleteInSteps(step func(limit int) (int, error)) error {
	limit := s.cfg.DeleteStep
	for {
		began := stepClock()
		n, err := step(limit)
		if err != nil || n < limit {
			return err
		}
		switch took := stepClock().Sub(began); {
		case took > deleteStepTime && limit > 1:
			limit /= 2
		case took < deleteStepTime/4:
			limit = min(s.cfg.DeleteStep, 2*limit)
		}
	}
}
