package service

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

func isNotFound(err error) bool { return errors.Is(err, hookd.ErrNotFound) }

func webhookNotFound(err error, id string) error {
	return notFound(err, "webhook %s not found", id)
}

// NewWebhook returns a webhook of the tenant with hookd's defaults, for a
// transport to fill in from its request and give to CreateWebhook.
func (s *Service) NewWebhook(tenantID string) *hookd.Webhook {
	now := s.clock.Now()
	return &hookd.Webhook{
		ID: hookd.NewID(hookd.PrefixWebhook, now), TenantID: tenantID,
		Timeout: hookd.DefaultTimeout, Enabled: true, SSLVerification: true,
		MaxAttempts: s.cfg.DefaultMaxAttempts, CreatedAt: now, UpdatedAt: now,
	}
}

func (s *Service) rules(ctx context.Context, checkEvents bool) (hookd.WebhookRules, error) {
	rules := hookd.WebhookRules{Guard: s.cfg.Guard, HTTPSOnly: s.cfg.HTTPSOnly}
	if checkEvents {
		catalog, err := s.store.ListEventTypes(ctx)
		if err != nil {
			return rules, err
		}
		rules.Catalog = catalog
	}
	return rules, nil
}

// check validates wh by the webhook rules and returns every problem, the
// transport's (problems: fields it could not decode) and the rules' alike,
// so that a client fixes them all at once.
// prev is the webhook before the change (nil on a create): what it had is
// kept (hookd.WebhookRules).
func (s *Service) check(ctx context.Context, wh *hookd.Webhook, problems *hookd.ValidationError, checkEvents bool, prev *hookd.Webhook, resolve bool) error {
	all := &hookd.ValidationError{}
	if problems != nil {
		all.Details = append(all.Details, problems.Details...)
	}
	rules, err := s.rules(ctx, checkEvents)
	if err != nil {
		return err
	}
	if prev != nil {
		rules.Kept, rules.KeptHeaders, rules.KeptSignature, rules.KeptName = prev.Events, prev.Headers, prev.Signature, prev.Name
		// A URL is checked again when the webhook is enabled: it is about
		// to be sent to.
		if prev.Enabled || !wh.Enabled {
			rules.KeptURL = prev.URL
		}
	}
	// The operator's webhook is sent to past the SSRF guard, at the URL
	// --operator-webhook sets at every start: one set by hand would be
	// sent to unguarded, and replaced at the next start.
	if prev != nil && wh.TenantID == hookd.OperatorTenant && wh.ID == hookd.OperatorWebhook && wh.URL != prev.URL {
		all.Add("url", "is set by hookd's --operator-webhook (HOOKD_OPERATOR_WEBHOOK), not here")
	}
	// A blank filter is none, as an empty one is (it was 422 "must not be
	// empty" beside "" stored as null).
	if strings.TrimSpace(wh.Filter) == "" {
		wh.Filter = ""
	}
	var ve *hookd.ValidationError
	if err := wh.Validate(rules); errors.As(err, &ve) {
		// A field the transport could not take is reported once, as it
		// said: the rules would only repeat it ("is required", then "must
		// be 1–200 characters") of the value left in its place.
		for _, d := range ve.Details {
			if problems == nil || !problems.Has(d.Field) {
				all.Details = append(all.Details, d)
			}
		}
	} else if err != nil {
		return err
	}
	// A type, pattern or channel listed twice is one entry (Svix's
	// filterTypes and channels are sets): kept once, where it first came
	// (after the rules, so that their events[i] name the list as given).
	wh.Events, wh.Channels = once(wh.Events), once(wh.Channels)
	// A new URL's name is looked up now too, as the sender will look it
	// up: a name mapped to a private address is refused before any send.
	// Every refusal by the guard is logged (the contract), the address's
	// one (Validate) as the name's.
	if u, err := url.Parse(wh.URL); err == nil && u.Hostname() != "" && wh.URL != rules.KeptURL {
		refused := s.cfg.Guard.CheckHost(u.Hostname())
		if refused == nil && resolve && !all.Has("url") {
			if refused = s.cfg.Guard.CheckResolved(ctx, u.Hostname()); refused != nil {
				all.Add("url", "%v; hookd's operator can let a network through with --allow-networks (HOOKD_ALLOW_NETWORKS)", refused)
			}
		}
		if refused != nil {
			s.log.WarnContext(ctx, "webhook URL refused by the SSRF guard", "tenant", wh.TenantID, "webhook", wh.ID,
				"host", hookd.CleanText(u.Hostname(), 255), "reason", refused)
		}
	}
	return all.Err()
}

// CreateWebhook stores wh, made with NewWebhook and filled in by the
// transport. secret nil generates one for the webhook's scheme; "" leaves
// it unsigned, which only a non-standard HMAC scheme allows. problems are
// the transport's decoding problems, reported with the rules' own.
func (s *Service) CreateWebhook(ctx context.Context, wh *hookd.Webhook, secret *string, problems *hookd.ValidationError) error {
	if secret == nil {
		wh.Secret = hookd.GenerateSecret(wh.Signature.SchemeName())
	} else {
		wh.Secret = *secret
	}
	if err := s.check(ctx, wh, problems, true, nil, true); err != nil {
		return err
	}
	if !wh.Enabled {
		wh.DisabledReason, wh.DisabledAt = hookd.DisabledManual, wh.CreatedAt
	}
	ctx, e := s.audited(ctx, wh.TenantID)
	e.Action, e.Target, e.Changes = hookd.AuditWebhookCreated, hookd.AuditTarget{Type: "webhook", ID: wh.ID}, hookd.WebhookChanges(nil, wh)
	err := s.store.CreateWebhook(ctx, wh)
	s.hooks.invalidate(wh.TenantID)
	if errors.Is(err, hookd.ErrConflict) && wh.UID != "" {
		// Its id is new: what clashes is its uid, named as an update does.
		return hookd.Errorf(hookd.ErrConflict, "uid %s is taken by another webhook of tenant %s", wh.UID, wh.TenantID)
	}
	return notFound(err, "tenant %s not found", wh.TenantID)
}

// Webhook reads one webhook.
func (s *Service) Webhook(ctx context.Context, tenantID, id string) (*hookd.Webhook, error) {
	wh, err := s.store.GetWebhook(ctx, tenantID, id)
	return wh, webhookNotFound(err, id)
}

// UpdateWebhook changes a webhook: change sets fields on the webhook as it
// is now, adding what it cannot decode to v; the result is validated by
// the webhook rules and written unless another change came first, in
// which case it is read again and change applied to that. version, when
// not zero, is the updatedAt the change was based on: if the webhook
// changed since, nothing is written and the error is ErrConflict.
func (s *Service) UpdateWebhook(ctx context.Context, tenantID, id string, version time.Time, change func(wh *hookd.Webhook, v *hookd.ValidationError)) (*hookd.Webhook, error) {
	return s.edit(ctx, tenantID, id, func(wh *hookd.Webhook) error {
		if !version.IsZero() && !wh.UpdatedAt.Equal(version) {
			return hookd.Errorf(hookd.ErrConflict, "webhook %s changed since updatedAt %s: read it again and apply your change to what it is now",
				wh.ID, version.UTC().Format(time.RFC3339Nano))
		}
		oldScheme, oldURL := wh.Signature.SchemeName(), wh.URL
		kept := hookd.Signature{Scheme: oldScheme}
		if wh.Signature != nil {
			kept = *wh.Signature
		}
		prev := &hookd.Webhook{Events: slices.Clone(wh.Events), Headers: maps.Clone(wh.Headers), Signature: &kept, URL: oldURL, Enabled: wh.Enabled}
		problems := &hookd.ValidationError{}
		change(wh, problems)
		wh.FitSecret(oldScheme) // a new secret is readable with GET …/secret
		// Events are checked against the catalog only when they changed,
		// and then only the entries it did not have: a webhook keeps an
		// archived type it already has, whether its list is left alone or
		// written back with another type added.
		return s.check(ctx, wh, problems, !sameSet(prev.Events, wh.Events), prev, wh.URL != oldURL)
	})
}

// SetEnabled enables or disables a webhook. Disabling ends its waiting
// deliveries FAILED, in the same transaction.
func (s *Service) SetEnabled(ctx context.Context, tenantID, id string, enabled bool) (*hookd.Webhook, error) {
	return s.edit(ctx, tenantID, id, func(wh *hookd.Webhook) error {
		wh.Enabled = enabled
		return nil
	})
}

// DefaultGrace is how long a rotated-out secret keeps signing when the
// caller does not say, on a scheme that carries several signatures.
const DefaultGrace = 24 * time.Hour

// RotateSecret makes a new signing secret: secret nil generates one, ""
// leaves the webhook unsigned (a non-standard HMAC scheme only). For
// grace (nil: DefaultGrace where the scheme can carry two signatures, none
// where it cannot) the old secret signs too. It returns the new secret.
func (s *Service) RotateSecret(ctx context.Context, tenantID, id string, secret *string, grace *time.Duration) (string, error) {
	if grace != nil && (*grace < 0 || *grace > hookd.MaxGrace) {
		return "", hookd.Invalid("graceSeconds", "must be 0–2592000 (30 days)")
	}
	var next string
	_, err := s.edit(ctx, tenantID, id, func(wh *hookd.Webhook) error {
		scheme := wh.Signature.SchemeName()
		g := DefaultGrace
		if !wh.Signature.MultiSignature() {
			g = 0
		}
		if grace != nil {
			if *grace > 0 && !wh.Signature.MultiSignature() {
				return hookd.Invalid("graceSeconds", "must be 0: the %s scheme carries one signature per request, so the old and new secrets cannot both sign; "+
					"give the receiver the new secret before rotating, or move the webhook to standard", scheme)
			}
			g = *grace
		}
		next = hookd.GenerateSecret(scheme)
		if secret != nil {
			next = *secret
		}
		if err := hookd.ValidateSecret(scheme, next); err != nil {
			return hookd.Invalid("secret", "%v", err)
		}
		if err := wh.RotateRoom(g, s.clock.Now()); err != nil {
			return err
		}
		wh.Rotate(next, g, s.clock.Now())
		return nil
	})
	return next, err
}

// DeleteWebhook deletes a webhook and all its delivery history: the
// deliveries in steps (see Config.DeleteStep), then the webhook with what
// remains, and the audit entry, in one transaction. Sends go on until
// then.
func (s *Service) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	wh, err := s.Webhook(ctx, tenantID, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx) // as DeleteTenant
	after, until := "", s.clock.Now()
	if err := s.deleteInSteps(func(limit int) (n int, err error) {
		n, after, err = s.store.DeleteDeliveries(ctx, hookd.DeleteDeliveriesParams{TenantID: tenantID, WebhookID: id, After: after, Until: until, Limit: limit})
		return n, err
	}); err != nil {
		return err
	}
	ctx, e := s.audited(ctx, tenantID)
	e.Action, e.Target, e.Changes = hookd.AuditWebhookDeleted, hookd.AuditTarget{Type: "webhook", ID: id}, hookd.WebhookChanges(wh, nil)
	err = s.store.DeleteWebhook(ctx, tenantID, id)
	s.hooks.invalidate(tenantID)
	s.changed(ctx, id)
	return webhookNotFound(err, id)
}

// edit is the one read-modify-write of a webhook (hookd.EditWebhook), with
// its audit entry made from what each try read, and the tenant's cached
// webhooks dropped.
func (s *Service) edit(ctx context.Context, tenantID, id string, change func(*hookd.Webhook) error) (*hookd.Webhook, error) {
	ctx, e := s.audited(ctx, tenantID)
	disabled, labelsOnly := false, false
	wh, ended, err := hookd.EditWebhook(ctx, s.store, s.clock, tenantID, id, func(wh *hookd.Webhook) error {
		before := *wh
		rotated := wh.Secret
		if err := change(wh); err != nil {
			return err
		}
		// A user's disable says so; enabling clears why it was disabled
		// (and the store starts its health afresh).
		disabled = before.Enabled && !wh.Enabled
		switch {
		case disabled:
			wh.DisabledReason, wh.DisabledAt = hookd.DisabledManual, s.clock.Now()
		case !before.Enabled && wh.Enabled:
			wh.DisabledReason, wh.DisabledAt = "", time.Time{}
			// As the store does in the same write: a fresh streak.
			wh.Health.ConsecutiveFailures, wh.Health.FailingSince = 0, time.Time{}
		}
		e.Target = hookd.AuditTarget{Type: "webhook", ID: wh.ID}
		e.Changes = hookd.WebhookChanges(&before, wh)
		labelsOnly = wh.Secret == rotated && onlyLabels(e.Changes)
		if wh.Secret != rotated && len(e.Changes) > 0 {
			// A new secret beside other changes (a scheme its old one does
			// not fit): told, never shown. Alone, it is a rotation.
			e.Changes["secret"] = hookd.Change{From: "[redacted]", To: "[redacted]"}
		}
		e.Action = ""
		// A change that enables or disables is logged as that, whatever
		// else it changes (all of it in its changes), so that a filter on
		// webhook.disabled finds every disable.
		_, toggled := e.Changes["enabled"]
		switch {
		case len(e.Changes) == 0 && wh.Secret != rotated:
			e.Action = hookd.AuditWebhookSecretRotated
		case toggled && wh.Enabled:
			e.Action = hookd.AuditWebhookEnabled
		case toggled:
			e.Action = hookd.AuditWebhookDisabled
		case len(e.Changes) > 0:
			e.Action = hookd.AuditWebhookUpdated
		}
		return nil
	})
	s.hooks.invalidate(tenantID)
	if err == nil && !labelsOnly {
		s.changed(ctx, id)
	}
	if ended > 0 {
		s.cfg.Observer.Finished(hookd.StatusFailed, ended)
	}
	if err == nil && disabled {
		// Every disable is logged (the contract), a user's as hookd's own.
		a := hookd.ActorFrom(ctx)
		s.log.WarnContext(ctx, "webhook disabled", "tenant", tenantID, "webhook", id, "reason", hookd.DisabledManual,
			"actor", string(a.Type), "actorId", a.ID, "deliveriesEnded", ended)
	}
	return wh, webhookNotFound(err, id)
}

// onlyLabels says whether changes touch only what no delivery reads (a
// name, a description, metadata): an engine holding deliveries need not
// check them again, nor other processes be waited for (an audit: with a
// worker frozen, every rename waited out the settle's 2 s).
func onlyLabels(changes map[string]hookd.Change) bool {
	for f := range changes {
		if f != "name" && f != "description" && f != "metadata" {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// once is list without its repeats, each kept where it first came; a copy,
// as list may share its array with the webhook as it was; nil stays nil.
func once(list []string) []string {
	seen := make(map[string]bool, len(list))
	return slices.DeleteFunc(slices.Clone(list), func(p string) bool {
		twice := seen[p]
		seen[p] = true
		return twice
	})
}
