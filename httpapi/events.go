package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hookd/hookd"
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
	tenantID := r.PathValue("tenantId")
	v := &hookd.ValidationError{}

	if in.Data.Set && !in.Data.Null && len(in.Data.V) > hookd.MaxEventData {
		return errorf(hookd.ErrTooLarge, fmt.Sprintf("event data is larger than %d bytes", hookd.MaxEventData))
	}
	var et *hookd.EventType
	if in.Type.ok(v, "type", "a string") {
		var err error
		name := in.Type.V
		et, err = s.eventTypes.get(name, func() (*hookd.EventType, error) { return s.store.GetEventType(r.Context(), name) })
		switch {
		case isNotFound(err):
			v.Add("type", "unknown event type %q", in.Type.V)
		case err != nil:
			return err
		case et.Archived:
			v.Add("type", "event type %q is archived", in.Type.V)
			et = nil
		}
	} else if !in.Type.Set {
		v.Add("type", "is required")
	}
	if !in.Data.Set {
		v.Add("data", "is required")
	} else if in.Data.ok(v, "data", "a JSON object") && !isObject(in.Data.V) {
		v.Add("data", "must be a JSON object")
	}
	id := r.Header.Get("Idempotency-Key")
	if in.ID.ok(v, "id", "a string") {
		if id != "" && id != in.ID.V {
			v.Add("id", "differs from the Idempotency-Key header")
		}
		id = in.ID.V
	}
	if id != "" && !hookd.ValidExternalID(id) {
		v.Add("id", "must be 1–64 characters of A-Za-z0-9_.-")
	}
	var metadata json.RawMessage
	if in.Metadata.okOrNull(v, "metadata", "a JSON object") && !in.Metadata.Null {
		if !isObject(in.Metadata.V) {
			v.Add("metadata", "must be a JSON object")
		} else {
			metadata = in.Metadata.V
		}
	}
	var channels []string
	if in.Channels.okOrNull(v, "channels", "an array of strings") {
		channels = in.Channels.V
		for i, c := range channels {
			if c == "" || len(c) > 128 {
				v.Add(fmt.Sprintf("channels[%d]", i), "must be 1–128 characters")
			}
		}
	}
	if len(v.Details) == 0 && len(et.Schema) > 0 {
		schema, err := hookd.CompileSchema(et.Schema)
		if err != nil {
			return fmt.Errorf("compile stored schema of %s: %w", et.Name, err)
		}
		if err := schema.Validate(in.Data.V); err != nil {
			return err
		}
	}
	if err := v.Err(); err != nil {
		return err
	}

	now := s.clock.Now()
	if id == "" {
		id = hookd.NewID(hookd.PrefixEvent, now)
	}
	ev := &hookd.Event{ID: id, TenantID: tenantID, Type: et.Name, Channels: channels, Timestamp: now}
	if err := ev.BuildPayload(in.Data.V, metadata); err != nil {
		return hookd.Invalid("data", "is not valid JSON")
	}
	targets, err := s.match(r, ev, in.Data.V, metadata)
	if err != nil {
		return err
	}
	res, err := s.store.PublishEvent(r.Context(), ev, targets)
	if err != nil {
		return fmt.Errorf("%w: %w", hookd.ErrUnavailable, err)
	}
	status := http.StatusAccepted
	if res.Deliveries > 0 && !res.Duplicate {
		s.notify()
	}
	if res.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, publishAnswer{ID: res.Event.ID, Type: res.Event.Type, Timestamp: res.Event.Timestamp, Deliveries: res.Deliveries})
	return nil
}

// match returns the IDs of the tenant's webhooks that ev goes to. The
// filter input is decoded once per event, and only if some webhook has a
// filter.
func (s *Server) match(r *http.Request, ev *hookd.Event, data, metadata json.RawMessage) ([]string, error) {
	hooks, err := s.hooks.get(ev.TenantID, func() ([]*hookd.Webhook, error) { return s.store.EnabledWebhooks(r.Context(), ev.TenantID) })
	if err != nil {
		return nil, err
	}
	input := sync.OnceValue(func() *hookd.FilterInput {
		in := &hookd.FilterInput{Type: ev.Type, Channels: ev.Channels}
		_ = json.Unmarshal(data, &in.Data)
		if len(metadata) > 0 {
			_ = json.Unmarshal(metadata, &in.Metadata)
		}
		return in
	})
	var ids []string
	for _, wh := range hooks {
		if wh.Matches(ev, input) {
			ids = append(ids, wh.ID)
		}
	}
	return ids, nil
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
	limit, err := queryInt(r, "limit", 50, 1, 250)
	if err != nil {
		return err
	}
	q := hookd.EventQuery{TenantID: r.PathValue("tenantId"), Type: r.URL.Query().Get("type"), Limit: limit + 1}
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
	writeJSON(w, http.StatusOK, map[string]any{"data": events, "nextCursor": next})
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
	writeJSON(w, http.StatusOK, &hookd.EventWithDeliveries{Event: ev, Deliveries: ds})
	return nil
}
