package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// webhookInput is the body of create and PATCH.
type webhookInput struct {
	Name            Opt[string]            `json:"name"`
	URL             Opt[string]            `json:"url"`
	Events          Opt[[]string]          `json:"events"`
	Secret          Opt[string]            `json:"secret"`
	Headers         Opt[map[string]string] `json:"headers"`
	TimeoutMs       Opt[int64]             `json:"timeoutMs"`
	Enabled         Opt[bool]              `json:"enabled"`
	SSLVerification Opt[bool]              `json:"sslVerification"`
	Channels        Opt[[]string]          `json:"channels"`
	Filter          Opt[string]            `json:"filter"`
	MaxAttempts     Opt[int]               `json:"maxAttempts"`
	RateLimit       Opt[int]               `json:"rateLimit"`
	Description     Opt[string]            `json:"description"`
	Metadata        Opt[map[string]string] `json:"metadata"`
	Signature       Opt[hookd.Signature]   `json:"signature"`
	BodyMode        Opt[string]            `json:"bodyMode"`
}

// apply copies the fields the body sets onto wh. Type problems go to v;
// the rules of the values are checked by wh.Validate afterwards.
func (in *webhookInput) apply(v *hookd.ValidationError, wh *hookd.Webhook, defaultMaxAttempts int) {
	if in.Name.ok(v, "name", "a string") {
		wh.Name = in.Name.V
	}
	if in.URL.ok(v, "url", "a string") {
		wh.URL = in.URL.V
	}
	if in.Events.ok(v, "events", "an array of strings") {
		wh.Events = in.Events.V
	}
	if in.Headers.okOrNull(v, "headers", "an object of strings") {
		wh.Headers = in.Headers.V
	}
	if in.TimeoutMs.ok(v, "timeoutMs", "an integer") {
		wh.Timeout = time.Duration(in.TimeoutMs.V) * time.Millisecond
		if in.TimeoutMs.V < 1000 || in.TimeoutMs.V > 60000 {
			wh.Timeout = -1 // out of range, however it rounds
		}
	}
	if in.Enabled.ok(v, "enabled", "a boolean") {
		wh.Enabled = in.Enabled.V
	}
	if in.SSLVerification.ok(v, "sslVerification", "a boolean") {
		wh.SSLVerification = in.SSLVerification.V
	}
	if in.Channels.okOrNull(v, "channels", "an array of strings") {
		wh.Channels = in.Channels.V
		if len(wh.Channels) == 0 {
			wh.Channels = nil // an empty list restricts nothing
		}
	}
	if in.Filter.okOrNull(v, "filter", "a string") {
		wh.Filter = in.Filter.V
	}
	if in.MaxAttempts.okOrNull(v, "maxAttempts", "an integer") {
		wh.MaxAttempts = in.MaxAttempts.V
		if in.MaxAttempts.Null {
			wh.MaxAttempts = defaultMaxAttempts
		}
	}
	if in.RateLimit.okOrNull(v, "rateLimit", "an integer") {
		wh.RateLimit = in.RateLimit.V
		if !in.RateLimit.Null && wh.RateLimit < 1 {
			v.Add("rateLimit", "must be 1–100000 requests per second, or null for unlimited")
		}
	}
	if in.Description.okOrNull(v, "description", "a string") {
		wh.Description = in.Description.V
	}
	if in.Metadata.okOrNull(v, "metadata", "an object of strings") {
		wh.Metadata = in.Metadata.V
	}
	if in.Signature.okOrNull(v, "signature", "an object with a scheme") {
		if in.Signature.Null || in.Signature.V.Scheme == hookd.SchemeStandard {
			wh.Signature = nil
		} else {
			sig := in.Signature.V
			wh.Signature = &sig
		}
	}
	if in.BodyMode.okOrNull(v, "bodyMode", "envelope or raw") {
		wh.BodyMode = in.BodyMode.V // null: the default, envelope
	}
}

func webhookErr(id string, err error) error {
	if isNotFound(err) {
		return errorf(hookd.ErrNotFound, "webhook "+id+" not found")
	}
	return err
}

// withSecret renders a webhook with its secret: only the create answer does.
func withSecret(wh *hookd.Webhook) (json.RawMessage, error) {
	b, err := json.Marshal(wh)
	if err != nil {
		return nil, err
	}
	var secret any = wh.Secret
	if wh.Secret == "" {
		secret = nil
	}
	sb, err := json.Marshal(secret)
	if err != nil {
		return nil, err
	}
	out := append(b[:len(b)-1:len(b)-1], `,"secret":`...)
	out = append(out, sb...)
	return append(out, '}'), nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in webhookInput
	if err := decode(r, &in); err != nil {
		return err
	}
	wh := s.svc.NewWebhook(r.PathValue("tenantId"))
	v := &hookd.ValidationError{}
	for field, set := range map[string]bool{"name": in.Name.Set, "url": in.URL.Set, "events": in.Events.Set} {
		if !set {
			v.Add(field, "is required")
		}
	}
	// Null is "not given" on a create, where these have defaults (a PATCH
	// keeps refusing it: it would not say whether to keep or to reset).
	for _, o := range []interface{ dropNull() }{&in.TimeoutMs, &in.Enabled, &in.SSLVerification} {
		o.dropNull()
	}
	in.apply(v, wh, s.svc.DefaultMaxAttempts())
	var secret *string
	switch {
	case !in.Secret.Set: // generated
	case in.Secret.Null:
		secret = new(string) // unsigned; only non-standard schemes allow it
	case in.Secret.ok(v, "secret", "a string"):
		secret = &in.Secret.V
	}
	if err := s.svc.CreateWebhook(r.Context(), wh, secret, v); err != nil {
		return err
	}
	body, err := withSecret(wh)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusCreated, body)
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParams(r, 50, 250)
	if err != nil {
		return err
	}
	active, err := queryBool(r, "active")
	if err != nil {
		return err
	}
	list, total, err := s.store.ListWebhooks(r.Context(), hookd.WebhookQuery{TenantID: r.PathValue("tenantId"), Enabled: active, Page: page})
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"data": list, "total": total, "limit": page.Limit, "offset": page.Offset})
	return nil
}

func (s *Server) loadWebhook(r *http.Request) (*hookd.Webhook, error) {
	return s.svc.Webhook(r.Context(), r.PathValue("tenantId"), r.PathValue("webhookId"))
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, wh)
	return nil
}

// webhookPatch is the body of PATCH: any create field but secret, and the
// updatedAt the change is based on.
type webhookPatch struct {
	webhookInput
	UpdatedAt Opt[time.Time] `json:"updatedAt"`
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	var in webhookPatch
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Secret.Set {
		return hookd.BadRequest("secret cannot be changed with PATCH: use POST …/secret/rotate")
	}
	v := &hookd.ValidationError{}
	in.UpdatedAt.ok(v, "updatedAt", "an RFC 3339 time, as read")
	if err := v.Err(); err != nil {
		return err
	}
	wh, err := s.svc.UpdateWebhook(r.Context(), r.PathValue("tenantId"), r.PathValue("webhookId"), in.UpdatedAt.V,
		func(wh *hookd.Webhook, v *hookd.ValidationError) { in.apply(v, wh, s.svc.DefaultMaxAttempts()) })
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, wh)
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	longDelete(w)
	if err := s.svc.DeleteWebhook(r.Context(), r.PathValue("tenantId"), r.PathValue("webhookId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	secret, err := wh.ShownSecret()
	if err != nil {
		return err
	}
	out := map[string]any{"secret": nil}
	if secret != "" {
		out["secret"] = secret
	}
	if wh.Signature.SchemeName() == hookd.SchemeStandardEd25519 {
		pk, err := hookd.PublicKey(secret)
		if err != nil {
			return err
		}
		out["publicKey"] = pk
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}
