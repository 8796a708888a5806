package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

func deliveryErr(id string, err error) error {
	if isNotFound(err) {
		return errorf(hookd.ErrNotFound, "delivery "+id+" not found")
	}
	return err
}

func (s *Server) notify() {
	if s.cfg.Notify != nil {
		s.cfg.Notify()
	}
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	page, err := pageParams(r, 50, 250)
	if err != nil {
		return err
	}
	q := hookd.DeliveryQuery{TenantID: wh.TenantID, WebhookID: wh.ID, Limit: page.Limit + 1, Offset: page.Offset}
	if st := r.URL.Query().Get("status"); st != "" {
		q.Status = hookd.DeliveryStatus(st)
		if !q.Status.Valid() {
			return hookd.BadRequest("query parameter status must be PENDING, RETRYING, SUCCESS or FAILED")
		}
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		if page.Offset != 0 {
			return hookd.BadRequest("give offset (or page) or cursor, not both")
		}
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) == 0 {
			return hookd.BadRequest("query parameter cursor is not a cursor this API gave")
		}
		q.Before = string(b)
	}
	list, total, err := s.store.ListDeliveries(r.Context(), q)
	if err != nil {
		return err
	}
	out := map[string]any{"nextCursor": nil}
	if len(list) > page.Limit {
		list = list[:page.Limit]
		out["nextCursor"] = base64.RawURLEncoding.EncodeToString([]byte(list[len(list)-1].ID))
	}
	out["data"] = list
	if total >= 0 {
		out["total"] = total
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("deliveryId")
	d, err := s.store.GetDelivery(r.Context(), r.PathValue("tenantId"), id)
	if err != nil {
		return deliveryErr(id, err)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) listFailed(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParams(r, 50, 250)
	if err != nil {
		return err
	}
	list, total, err := s.store.ListFailedDeliveries(r.Context(), r.PathValue("tenantId"), page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": list, "total": total})
	return nil
}

func (s *Server) requireEnabled(r *http.Request, webhookID string) error {
	wh, err := s.store.GetWebhook(r.Context(), r.PathValue("tenantId"), webhookID)
	if err != nil {
		return webhookErr(webhookID, err)
	}
	if !wh.Enabled {
		return errorf(hookd.ErrConflict, "webhook "+wh.ID+" is disabled: enable it before retrying its deliveries")
	}
	return nil
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request) error {
	tenantID, id := r.PathValue("tenantId"), r.PathValue("deliveryId")
	d, err := s.store.GetDelivery(r.Context(), tenantID, id)
	if err != nil {
		return deliveryErr(id, err)
	}
	if err := s.requireEnabled(r, d.Delivery.WebhookID); err != nil {
		return err
	}
	if err := s.store.RetryDelivery(r.Context(), tenantID, id); err != nil {
		if errors.Is(err, hookd.ErrConflict) {
			return errorf(hookd.ErrConflict, "delivery "+id+" is being sent now: retry it once this attempt is recorded")
		}
		return deliveryErr(id, err)
	}
	s.notify()
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "status": "queued"})
	return nil
}

func (s *Server) retryAllFailed(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	if err := s.requireEnabled(r, wh.ID); err != nil {
		return err
	}
	n, err := s.store.RetryFailed(r.Context(), wh.TenantID, wh.ID)
	if err != nil {
		return err
	}
	if n > 0 {
		s.notify()
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"retried": n})
	return nil
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, hookd.BadRequest("query parameter %s must be an RFC 3339 time, such as 2024-01-15T10:30:00Z", name)
	}
	return t.UTC(), nil
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) error {
	q := hookd.StatsQuery{TenantID: r.PathValue("tenantId")}
	if id := r.PathValue("webhookId"); id != "" {
		wh, err := s.loadWebhook(r)
		if err != nil {
			return err
		}
		q.WebhookID = wh.ID
	}
	var err error
	if q.Since, err = queryTime(r, "since"); err != nil {
		return err
	}
	if q.Until, err = queryTime(r, "until"); err != nil {
		return err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return hookd.BadRequest("until is before since")
	}
	st, err := s.store.Stats(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// decodeOptional is decode for bodies that may be left out entirely.
func decodeOptional(r *http.Request, dst any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decode(r, dst)
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Secret       Opt[string] `json:"secret"`
		GraceSeconds Opt[int64]  `json:"graceSeconds"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	v := &hookd.ValidationError{}
	grace := 24 * time.Hour
	if in.GraceSeconds.ok(v, "graceSeconds", "an integer") {
		if in.GraceSeconds.V < 0 || time.Duration(in.GraceSeconds.V)*time.Second > hookd.MaxGrace {
			v.Add("graceSeconds", "must be 0–2592000 (30 days)")
		}
		grace = time.Duration(in.GraceSeconds.V) * time.Second
	}
	if !in.Secret.Null {
		in.Secret.ok(v, "secret", "a string")
	}
	if err := v.Err(); err != nil {
		return err
	}
	id := r.PathValue("webhookId")
	var secret string
	_, err := hookd.EditWebhook(r.Context(), s.store, s.clock, r.PathValue("tenantId"), id, func(wh *hookd.Webhook) error {
		scheme := wh.Signature.SchemeName()
		switch {
		case !in.Secret.Set:
			secret = hookd.GenerateSecret(scheme)
		case in.Secret.Null:
			secret = ""
		default:
			secret = in.Secret.V
		}
		if err := hookd.ValidateSecret(scheme, secret); err != nil {
			return hookd.Invalid("secret", "%v", err)
		}
		wh.Rotate(secret, grace, s.clock.Now())
		return nil
	})
	s.hooks.invalidate(r.PathValue("tenantId"))
	if err != nil {
		return webhookErr(id, err)
	}
	out := map[string]any{"secret": nil}
	if secret != "" {
		out["secret"] = secret
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Type Opt[string]          `json:"type"`
		Data Opt[json.RawMessage] `json:"data"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	v := &hookd.ValidationError{}
	typ := ""
	if in.Type.ok(v, "type", "a string") {
		typ = in.Type.V
		if !hookd.ValidEventTypeName(typ) {
			v.Add("type", "must match ^[a-z0-9_]+(\\.[a-z0-9_]+)*$")
		}
	}
	var data json.RawMessage
	if in.Data.ok(v, "data", "a JSON object") {
		if !isObject(in.Data.V) {
			v.Add("data", "must be a JSON object")
		}
		data = in.Data.V
	}
	if len(data) > hookd.MaxEventData {
		return errorf(hookd.ErrTooLarge, "event data is larger than 262144 bytes")
	}
	if err := v.Err(); err != nil {
		return err
	}
	wh, err := s.loadWebhook(r)
	if err != nil {
		return err
	}
	if s.cfg.Tester == nil {
		return errorf(hookd.ErrUnavailable, "this process does not deliver (--role api): send tests through a process that does")
	}
	res, err := s.cfg.Tester.Test(r.Context(), wh, typ, data)
	if err != nil {
		if errors.Is(err, hookd.ErrNotFound) {
			return webhookErr(wh.ID, err)
		}
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
