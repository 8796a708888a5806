package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hookd/hookd"
)

// loadDelivery reads the delivery of the path and its webhook, in the
// visitor's tenant.
func (s *Server) loadDelivery(r *http.Request, v *visit) (*hookd.DeliveryDetail, *hookd.Webhook, error) {
	id := r.PathValue("id")
	d, err := s.store.GetDelivery(r.Context(), v.tenant.ID, id)
	if errors.Is(err, hookd.ErrNotFound) {
		return nil, nil, notFound("There is no delivery " + id + " in " + v.tenant.Name + ".")
	}
	if err != nil {
		return nil, nil, err
	}
	wh, err := s.store.GetWebhook(r.Context(), v.tenant.ID, d.Delivery.WebhookID)
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
	http.Redirect(w, r, "/console/deliveries/"+d.Delivery.ID+"?notice=retried", http.StatusSeeOther)
	return nil
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
		return notFound("There is no event " + id + " in " + v.tenant.Name + ".")
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
