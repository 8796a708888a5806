package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
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
			return hookd.BadRequest("query parameter status must be PENDING, RETRYING, SUCCESS, FAILED or CANCELED")
		}
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		if page.Offset != 0 {
			return hookd.BadRequest("give offset (or page) or cursor, not both")
		}
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || !hookd.IsID(hookd.PrefixDelivery, string(b)) {
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
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("deliveryId")
	d, _, err := s.svc.Delivery(r.Context(), r.PathValue("tenantId"), id)
	if err != nil {
		return deliveryErr(id, err)
	}
	s.writeJSON(w, http.StatusOK, d)
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
	s.writeJSON(w, http.StatusOK, map[string]any{"data": list, "total": total})
	return nil
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request) error {
	var in struct{} // nothing to say, and no body that says what it cannot
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	id := r.PathValue("deliveryId")
	if err := s.svc.RetryDelivery(r.Context(), r.PathValue("tenantId"), id); err != nil {
		return err
	}
	s.writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "status": "queued"})
	return nil
}

func (s *Server) retryAllFailed(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Since Opt[time.Time] `json:"since"`
		Until Opt[time.Time] `json:"until"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	v := &hookd.ValidationError{}
	var win hookd.Window
	if in.Since.given(v, "since", "an RFC 3339 time") {
		win.Since = in.Since.V
	}
	if in.Until.given(v, "until", "an RFC 3339 time") {
		win.Until = in.Until.V
		hookd.CheckEnd(v, "until", win.Until)
	}
	if err := v.Err(); err != nil {
		return err
	}
	n, err := s.svc.RetryFailed(r.Context(), r.PathValue("tenantId"), r.PathValue("webhookId"), win)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusAccepted, map[string]any{"retried": n})
	return nil
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return time.Time{}, nil
	}
	parse := hookd.ParseTime
	if name == "until" {
		parse = hookd.ParseUntil
	}
	t, err := parse(raw)
	if err != nil {
		return time.Time{}, hookd.BadRequest("query parameter %s must be an RFC 3339 time, such as 2024-01-15T10:30:00Z (and an until after year 1)", name)
	}
	return t, nil
}

// queryWindow reads the since and until query parameters; until before
// since is 400.
func queryWindow(r *http.Request) (since, until time.Time, err error) {
	if since, err = queryTime(r, "since"); err != nil {
		return
	}
	if until, err = queryTime(r, "until"); err != nil {
		return
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		err = hookd.BadRequest("until is before since")
	}
	return
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
	if q.Since, q.Until, err = queryWindow(r); err != nil {
		return err
	}
	st, err := s.store.Stats(r.Context(), q)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, st)
	return nil
}

// decodeOptional is decode for bodies that may be left out entirely:
// none, however it was sent (chunked, its length unknown, included), is
// no fields.
func decodeOptional(r *http.Request, dst any) error {
	if r.ContentLength == 0 {
		return nil
	}
	body, err := readBody(r)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	return decodeBytes(body, dst)
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
	var grace *time.Duration
	if in.GraceSeconds.given(v, "graceSeconds", "an integer") {
		g := time.Duration(in.GraceSeconds.V) * time.Second
		if in.GraceSeconds.V < 0 || in.GraceSeconds.V > int64(hookd.MaxGrace/time.Second) {
			g = -1 // out of range, however it multiplies
		}
		grace = &g
	}
	var secret *string
	switch {
	case in.Secret.Null:
		secret = new(string)
	case in.Secret.ok(v, "secret", "a string"):
		secret = &in.Secret.V
	}
	if err := v.Err(); err != nil {
		return err
	}
	next, err := s.svc.RotateSecret(r.Context(), r.PathValue("tenantId"), r.PathValue("webhookId"), secret, grace)
	if err != nil {
		return err
	}
	out := map[string]any{"secret": nil}
	if next != "" {
		out["secret"] = next
	}
	s.writeJSON(w, http.StatusOK, out)
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
	if in.Type.given(v, "type", "a string") {
		typ = in.Type.V
	}
	var data json.RawMessage
	if in.Data.given(v, "data", "a JSON object") {
		if !isObject(in.Data.V) {
			v.Add("data", "must be a JSON object")
		}
		data = in.Data.V
	}
	if err := v.Err(); err != nil {
		return err
	}
	res, err := s.svc.Test(r.Context(), r.PathValue("tenantId"), r.PathValue("webhookId"), typ, data)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, res)
	return nil
}

// listTenantDeliveries is every webhook's deliveries of a tenant, newest
// first, filtered; the cursor is the last one's creation time and id.
func (s *Server) listTenantDeliveries(w http.ResponseWriter, r *http.Request) error {
	limit, err := cursorLimit(r)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	q := hookd.TenantDeliveryQuery{TenantID: r.PathValue("tenantId"), WebhookID: qs.Get("webhookId"), EventType: qs.Get("eventType"),
		EventID: qs.Get("eventId"), Limit: limit + 1}
	if st := qs.Get("status"); st != "" {
		q.Status = hookd.DeliveryStatus(st)
		if !q.Status.Valid() {
			return hookd.BadRequest("query parameter status must be PENDING, RETRYING, SUCCESS, FAILED or CANCELED")
		}
	}
	if q.Since, q.Until, err = queryWindow(r); err != nil {
		return err
	}
	if c := qs.Get("cursor"); c != "" && !q.SetCursor(c) {
		return hookd.BadRequest("query parameter cursor is not a cursor this API gave")
	}
	list, err := s.store.ListTenantDeliveries(r.Context(), q)
	if err != nil {
		return err
	}
	var next any
	if len(list) > limit {
		list = list[:limit]
		next = hookd.DeliveryCursor(list[limit-1])
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"data": list, "nextCursor": next})
	return nil
}

func (s *Server) cancelDeliveries(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Before Opt[time.Time] `json:"before"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	v := &hookd.ValidationError{}
	var before time.Time
	if in.Before.given(v, "before", "an RFC 3339 time") {
		before = in.Before.V
		hookd.CheckEnd(v, "before", before)
	}
	if err := v.Err(); err != nil {
		return err
	}
	n, err := s.svc.CancelDeliveries(r.Context(), r.PathValue("tenantId"), r.PathValue("webhookId"), before)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"canceled": n})
	return nil
}

func (s *Server) replay(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Since       Opt[time.Time] `json:"since"`
		Until       Opt[time.Time] `json:"until"`
		OnlyMissing Opt[bool]      `json:"onlyMissing"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	v := &hookd.ValidationError{}
	var win hookd.Window
	if in.Since.ok(v, "since", "an RFC 3339 time") {
		win.Since = in.Since.V
	} else if !in.Since.Set {
		v.Add("since", "is required")
	}
	if in.Until.given(v, "until", "an RFC 3339 time") {
		win.Until = in.Until.V
		hookd.CheckEnd(v, "until", win.Until)
	}
	onlyMissing := in.OnlyMissing.given(v, "onlyMissing", "a boolean") && in.OnlyMissing.V
	if err := v.Err(); err != nil {
		return err
	}
	t, err := s.svc.Replay(r.Context(), r.PathValue("tenantId"), r.PathValue("webhookId"), win, onlyMissing)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusAccepted, t)
	return nil
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) error {
	t, err := s.svc.Task(r.Context(), r.PathValue("tenantId"), r.PathValue("taskId"))
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, t)
	return nil
}
