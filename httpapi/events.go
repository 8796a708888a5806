package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/service"
)

type eventInput struct {
	Type     Opt[string]          `json:"type"`
	Data     Opt[json.RawMessage] `json:"data"`
	ID       Opt[string]          `json:"id"`
	Metadata Opt[json.RawMessage] `json:"metadata"`
	Channels Opt[[]string]        `json:"channels"`
}

type publishAnswer struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Timestamp  time.Time `json:"timestamp"`
	Deliveries int       `json:"deliveries"`
}

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

func (s *Server) publishEvent(w http.ResponseWriter, r *http.Request) error {
	var in eventInput
	if err := decode(r, &in); err != nil {
		return err
	}
	v := &hookd.ValidationError{}
	var p service.Publication
	if in.Type.ok(v, "type", "a string") {
		p.Type = in.Type.V
	}
	if in.Data.ok(v, "data", "a JSON object") {
		if !isObject(in.Data.V) {
			v.Add("data", "must be a JSON object")
		}
		p.Data = in.Data.V
	}
	p.ID = r.Header.Get("Idempotency-Key")
	if in.ID.given(v, "id", "a string") {
		if p.ID != "" && p.ID != in.ID.V {
			v.Add("id", "differs from the Idempotency-Key header")
		}
		p.ID, p.IDSet = in.ID.V, true
	}
	if in.Metadata.okOrNull(v, "metadata", "a JSON object") && !in.Metadata.Null {
		if !isObject(in.Metadata.V) {
			v.Add("metadata", "must be a JSON object")
		}
		p.Metadata = in.Metadata.V
	}
	if in.Channels.okOrNull(v, "channels", "an array of strings") {
		p.Channels = in.Channels.V
	}
	res, err := s.svc.Publish(r.Context(), r.PathValue("tenantId"), p, v)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if res.Duplicate {
		status = http.StatusOK
	}
	s.writeJSON(w, status, publishAnswer{ID: res.Event.ID, Type: res.Event.Type, Timestamp: res.Event.Timestamp, Deliveries: res.Deliveries})
	return nil
}

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, hookd.BadRequest("query parameter cursor is not a cursor this API gave")
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n <= 0 {
		return 0, hookd.BadRequest("query parameter cursor is not a cursor this API gave")
	}
	return n, nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	limit, err := cursorLimit(r)
	if err != nil {
		return err
	}
	q := hookd.EventQuery{TenantID: r.PathValue("tenantId"), Type: r.URL.Query().Get("type"), Limit: limit + 1}
	if q.Since, q.Until, err = queryWindow(r); err != nil {
		return err
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		if q.Before, err = decodeCursor(c); err != nil {
			return err
		}
	}
	events, err := s.store.ListEvents(r.Context(), q)
	if err != nil {
		return err
	}
	var next any
	if len(events) > limit {
		events = events[:limit]
		next = encodeCursor(events[limit-1].Seq)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"data": events, "nextCursor": next})
	return nil
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	tenantID, id := r.PathValue("tenantId"), r.PathValue("eventId")
	ev, err := s.store.GetEvent(r.Context(), tenantID, id)
	if err != nil {
		if isNotFound(err) {
			return errorf(hookd.ErrNotFound, "event "+id+" not found")
		}
		return err
	}
	ds, err := s.store.ListEventDeliveries(r.Context(), tenantID, id)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, &hookd.EventWithDeliveries{Event: ev, Deliveries: ds})
	return nil
}
