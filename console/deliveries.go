package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hookd/hookd"
)

// loadDelivery reads the delivery of the path and its webhook, in the
// visitor's tenant.
func (s *Server) loadDelivery(r *http.Request, v *visit) (*hookd.DeliveryDetail, *hookd.Webhook, error) {
	id := r.PathValue("id")
	d, wh, err := s.svc.Delivery(r.Context(), v.tenant.ID, id)
	if errors.Is(err, hookd.ErrNotFound) {
		return nil, nil, notFound("There is no delivery " + id + " in " + sentence(v.tenant.Name))
	}
	return d, wh, err
}

func (s *Server) deliveryPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	d, wh, err := s.loadDelivery(r, v)
	if err != nil {
		return err
	}
	s.render(w, r, v, http.StatusOK, "delivery", "Delivery "+d.Delivery.ID, map[string]any{"D": d, "Webhook": wh})
	return nil
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request, v *visit) error {
	d, _, err := s.loadDelivery(r, v)
	if err != nil {
		return err
	}
	// The service's 409s (a disabled webhook, an attempt being sent) say
	// why, and the error page shows it.
	if err := s.svc.RetryDelivery(r.Context(), v.tenant.ID, d.Delivery.ID); err != nil {
		return err
	}
	s.redirect(w, r, "/console/deliveries/"+d.Delivery.ID, "notice=retried")
	return nil
}

// statusFilter reads a page's status filter: "" for any, else a status,
// in any case; what is not one is a problem to show beside the filter.
func statusFilter(raw string) (hookd.DeliveryStatus, string) {
	if raw == "" {
		return "", ""
	}
	if st := hookd.DeliveryStatus(strings.ToUpper(raw)); st.Valid() {
		return st, ""
	}
	return "", "is not a status: PENDING, RETRYING, SUCCESS, FAILED or CANCELED"
}

func (s *Server) failedPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	p := pageOf(r, 50)
	list, total, err := s.store.ListFailedDeliveries(r.Context(), v.tenant.ID, p)
	if err != nil {
		return err
	}
	names, err := s.webhookNames(r, v)
	if err != nil {
		return err
	}
	s.render(w, r, v, http.StatusOK, "failed", "Failed deliveries", map[string]any{"Deliveries": list, "Names": names, "Pager": pager(r, p, total, len(list))})
	return nil
}

// webhookNames maps the tenant's webhook IDs to their names, for lists of
// deliveries that span webhooks.
func (s *Server) webhookNames(r *http.Request, v *visit) (map[string]string, error) {
	names := map[string]string{}
	for off := 0; ; off += 250 {
		list, total, err := s.store.ListWebhooks(r.Context(), hookd.WebhookQuery{TenantID: v.tenant.ID, Page: hookd.Page{Limit: 250, Offset: off}})
		if err != nil {
			return nil, err
		}
		for _, wh := range list {
			names[wh.ID] = wh.Name
		}
		if off+250 >= total {
			return names, nil
		}
	}
}

func (s *Server) eventTypesPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	list, err := s.store.ListEventTypes(r.Context())
	if err != nil {
		return err
	}
	s.render(w, r, v, http.StatusOK, "event_types", "Event types", map[string]any{"Types": list})
	return nil
}

func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	q := hookd.EventQuery{TenantID: v.tenant.ID, Type: r.URL.Query().Get("type"), Limit: 51}
	if b, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64); err == nil && b > 0 {
		q.Before = b
	}
	list, err := s.store.ListEvents(r.Context(), q)
	if err != nil {
		return err
	}
	data := map[string]any{"Type": q.Type, "Paged": q.Before != 0}
	if len(list) > 50 {
		list = list[:50]
		next := url.Values{"before": {strconv.FormatInt(list[49].Seq, 10)}}
		if q.Type != "" {
			next.Set("type", q.Type)
		}
		data["Next"] = "/console/events?" + next.Encode()
	}
	data["Events"] = list
	// Each event's deliveries by status: a page is 50 events, each an
	// indexed read of a handful of rows.
	counts := map[string]map[hookd.DeliveryStatus]int{}
	for _, ev := range list {
		ds, err := s.store.ListEventDeliveries(r.Context(), v.tenant.ID, ev.ID)
		if err != nil {
			return err
		}
		c := map[hookd.DeliveryStatus]int{}
		for _, d := range ds {
			c[d.Status]++
		}
		counts[ev.ID] = c
	}
	data["Counts"] = counts
	s.render(w, r, v, http.StatusOK, "events", "Events", data)
	return nil
}

func (s *Server) eventPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	id := r.PathValue("id")
	ev, err := s.store.GetEvent(r.Context(), v.tenant.ID, id)
	if errors.Is(err, hookd.ErrNotFound) {
		return notFound("There is no event " + id + " in " + sentence(v.tenant.Name))
	}
	if err != nil {
		return err
	}
	ds, err := s.store.ListEventDeliveries(r.Context(), v.tenant.ID, id)
	if err != nil {
		return err
	}
	names, err := s.webhookNames(r, v)
	if err != nil {
		return err
	}
	s.render(w, r, v, http.StatusOK, "event", "Event "+ev.ID, map[string]any{"Event": ev, "Deliveries": ds, "Names": names})
	return nil
}

// consoleTime is how the deliveries page's date inputs (datetime-local,
// read as UTC) write times.
const consoleTime = "2006-01-02T15:04:05"

// inputTime is raw as a datetime-local input shows it (UTC, to the
// second): an RFC 3339 time in a link (the API's form) would otherwise be
// refused by the browser and shown as an empty field that still filters.
// What is not a time is kept as it came, beside its problem.
func inputTime(raw string) string {
	t, err := hookd.ParseTime(raw)
	if err != nil {
		return raw
	}
	return t.UTC().Format(consoleTime)
}

// deliveriesPage finds deliveries across the tenant's webhooks: by status,
// webhook, event type and creation time, or an event's or a delivery's id
// (a delivery id opens that delivery), newest first, a cursor per page.
func (s *Server) deliveriesPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	qs := r.URL.Query()
	q := hookd.TenantDeliveryQuery{TenantID: v.tenant.ID, WebhookID: qs.Get("webhookId"), EventType: strings.TrimSpace(qs.Get("eventType")), Limit: 51}
	data := map[string]any{"Webhook": q.WebhookID, "Type": q.EventType, "Since": inputTime(qs.Get("since")), "Until": inputTime(qs.Get("until"))}
	problems := map[string]string{}
	if st, problem := statusFilter(qs.Get("status")); problem != "" {
		problems["status"] = problem
	} else {
		q.Status = st
		data["Status"] = string(st)
	}
	search := strings.TrimSpace(qs.Get("q"))
	data["Search"] = search
	if strings.HasPrefix(search, hookd.PrefixDelivery) {
		if _, err := s.store.GetDelivery(r.Context(), v.tenant.ID, search); err == nil {
			http.Redirect(w, r, "/console/deliveries/"+search, http.StatusSeeOther)
			return nil
		}
		problems["q"] = "there is no delivery " + search + " in " + v.tenant.Name
	} else if search != "" {
		q.EventID = search
	}
	win := formWindow(qs, problems, true)
	q.Since, q.Until = win.Since, win.Until
	// A webhook or type that is not there is said so beside its field, not
	// left to an empty list under a form that shows "Any" (an audit).
	names, err := s.webhookNames(r, v)
	if err != nil {
		return err
	}
	types, err := s.store.ListEventTypes(r.Context())
	if err != nil {
		return err
	}
	if _, ok := names[q.WebhookID]; q.WebhookID != "" && !ok {
		problems["webhookId"] = "there is no webhook " + q.WebhookID + " in " + v.tenant.Name
	}
	// Any name a type could have: test sends' types (webhook.test) are
	// not in the catalog, and their deliveries are listed too.
	if q.EventType != "" && !hookd.ValidEventTypeName(q.EventType) {
		problems["eventType"] = "is not an event type's name: the filter takes one type's exact name, no wildcard"
	}
	data["Problems"] = problems
	data["Missing"] = problems["q"]
	delete(problems, "q") // not the form's fault: the page says nothing matches
	data["Filtered"] = q.Status != "" || q.WebhookID != "" || q.EventType != "" || search != "" || !q.Since.IsZero() || !q.Until.IsZero() || len(problems) > 0
	if c := qs.Get("after"); c != "" && q.SetCursor(c) {
		data["Paged"] = true
	}
	var list []*hookd.Delivery
	if len(problems) == 0 && data["Missing"] == "" {
		var err error
		if list, err = s.store.ListTenantDeliveries(r.Context(), q); err != nil {
			return err
		}
	}
	first := url.Values{}
	for _, k := range []string{"q", "status", "webhookId", "eventType", "since", "until"} {
		if val := qs.Get(k); val != "" {
			first.Set(k, val)
		}
	}
	data["First"] = "/console/deliveries?" + first.Encode() + "#results"
	if len(list) > 50 {
		list = list[:50]
		next := url.Values{}
		for k, vs := range first {
			next[k] = vs
		}
		next.Set("after", hookd.DeliveryCursor(list[49]))
		data["Next"] = "/console/deliveries?" + next.Encode() + "#results"
	}
	data["Deliveries"] = list
	data["Names"] = names
	hooks, _, err := s.store.ListWebhooks(r.Context(), hookd.WebhookQuery{TenantID: v.tenant.ID, Page: hookd.Page{Limit: 250}})
	if err != nil {
		return err
	}
	data["Webhooks"] = hooks
	data["Types"] = types
	s.render(w, r, v, http.StatusOK, "deliveries", "Deliveries", data)
	return nil
}
