package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hookd/hookd"
)

// A bulk action is asked for on the webhook's page, shown on a
// confirmation page with how many it will touch, and done by the POST
// that page sends: nothing is queued, cancelled or replayed by one click.

// formWindow reads since and until from a form or a query: the date
// inputs' datetime-local (UTC, with or without seconds) or RFC 3339.
// With inclusiveUntil, an until to the second takes in that whole second
// (an end the user reads as inclusive); without, it is exact (a "created
// before"). problems name the field.
func formWindow(vals url.Values, problems map[string]string, inclusiveUntil bool) hookd.Window {
	var w hookd.Window
	for name, dst := range map[string]*time.Time{"since": &w.Since, "until": &w.Until} {
		raw := vals.Get(name)
		if raw == "" {
			continue
		}
		if len(raw) == len("2006-01-02T15:04") {
			raw += ":00"
		}
		t, err := hookd.ParseTime(raw)
		if err != nil {
			t, err = time.Parse(consoleTime, raw)
		}
		if err == nil && name == "until" && t.IsZero() {
			err = errors.New("the zero time is no end") // the stores' "no bound"
		}
		if err != nil {
			problems[name] = "not a date and time"
			continue
		}
		*dst = t.UTC()
		if name == "until" && inclusiveUntil && t.Nanosecond() == 0 {
			*dst = dst.Add(time.Second - time.Microsecond)
		}
	}
	if !w.Since.IsZero() && !w.Until.IsZero() && w.Until.Before(w.Since) {
		problems["until"] = "is before the start"
	}
	return w
}

// confirmPage previews a bulk action: what it does, to how many, and the
// form that does it.
func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	wh, err := s.loadWebhook(r, v)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	problems := map[string]string{}
	action := qs.Get("action")
	win := formWindow(qs, problems, action != "cancel")
	// As given: the hidden fields carry exactly the window the count shown
	// was made over.
	data := map[string]any{"Webhook": wh, "Action": action, "Since": qs.Get("since"), "Until": qs.Get("until"),
		"OnlyMissing": qs.Get("onlyMissing") != "", "Problems": problems}
	count := func(st hookd.DeliveryStatus, until time.Time) (int, error) {
		return s.store.CountTenantDeliveries(r.Context(), hookd.TenantDeliveryQuery{TenantID: v.tenant.ID, WebhookID: wh.ID, Status: st, Since: win.Since, Until: until})
	}
	var n int
	switch action {
	case "retry-failed":
		data["Title"], data["Button"] = "Retry failed deliveries of "+wh.Name+"?", "Retry them"
		if n, err = count(hookd.StatusFailed, win.Until); err != nil {
			return err
		}
		data["What"] = fmt.Sprintf("%s will be queued for one more attempt each, now.", plural(n, "failed delivery", "failed deliveries"))
	case "cancel":
		data["Title"], data["Button"] = "Cancel waiting deliveries of "+wh.Name+"?", "Cancel them"
		// The cancel ends those created before until (the API's before);
		// a count's until is inclusive, and times are kept to the
		// microsecond.
		before := win.Until
		if !before.IsZero() {
			before = before.Add(-time.Microsecond)
		}
		for _, st := range []hookd.DeliveryStatus{hookd.StatusPending, hookd.StatusRetrying} {
			c, err := s.store.CountTenantDeliveries(r.Context(), hookd.TenantDeliveryQuery{TenantID: v.tenant.ID, WebhookID: wh.ID, Status: st, Until: before})
			if err != nil {
				return err
			}
			n += c
		}
		data["What"] = fmt.Sprintf("%s (PENDING or RETRYING) will end CANCELED and not be retried; those being sent right now finish their attempt first, and stay CANCELED unless it succeeds. This cannot be undone.", plural(n, "waiting delivery", "waiting deliveries"))
	case "replay":
		data["Title"], data["Button"] = "Replay events to "+wh.Name+"?", "Replay"
		if win.Since.IsZero() && problems["since"] == "" {
			problems["since"] = "is required: the start of the events to replay"
		}
		if len(problems) == 0 {
			if _, _, n, err = s.store.ReplaySpan(r.Context(), v.tenant.ID, win); err != nil {
				return err
			}
		}
		what := "each one the webhook subscribes to gets a new delivery, whether it was sent before or not"
		if data["OnlyMissing"] == true {
			what = "each one the webhook subscribes to and has no delivery of gets one (a backfill)"
		}
		data["What"] = fmt.Sprintf("%s published in this window will be gone through in the background; %s.", plural(n, "event", "events"), what)
	case "disable":
		data["Title"], data["Button"] = "Disable "+wh.Name+"?", "Disable"
		for _, st := range []hookd.DeliveryStatus{hookd.StatusPending, hookd.StatusRetrying} {
			c, err := s.store.CountTenantDeliveries(r.Context(), hookd.TenantDeliveryQuery{TenantID: v.tenant.ID, WebhookID: wh.ID, Status: st})
			if err != nil {
				return err
			}
			n += c
		}
		data["What"] = fmt.Sprintf("Nothing more is sent to it until it is enabled again, and its %s end FAILED now (one being sent right now finishes first).", plural(n, "waiting delivery", "waiting deliveries"))
	default:
		return notFound("There is no such action.")
	}
	data["Count"] = n
	status := http.StatusOK
	if len(problems) > 0 {
		status = http.StatusUnprocessableEntity
	}
	s.render(w, r, v, status, "confirm", data["Title"].(string), data)
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (s *Server) cancelDeliveries(w http.ResponseWriter, r *http.Request, v *visit) error {
	wh, win, err := s.windowed(r, v, false)
	if err != nil {
		return err
	}
	n, err := s.svc.CancelDeliveries(r.Context(), wh.TenantID, wh.ID, win.Until)
	if err != nil {
		return err
	}
	s.redirect(w, r, "/console/webhooks/"+wh.ID, "canceled="+strconv.Itoa(n))
	return nil
}

func (s *Server) replay(w http.ResponseWriter, r *http.Request, v *visit) error {
	wh, win, err := s.windowed(r, v, true)
	if err != nil {
		return err
	}
	t, err := s.svc.Replay(r.Context(), wh.TenantID, wh.ID, win, r.PostForm.Get("onlyMissing") != "")
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/tasks/"+t.ID, http.StatusSeeOther)
	return nil
}

// taskPage shows a task's progress; while it runs, the page reloads
// itself every two seconds.
func (s *Server) taskPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := s.svc.Task(r.Context(), v.tenant.ID, r.PathValue("id"))
	if err != nil {
		if errors.Is(err, hookd.ErrNotFound) {
			return notFound("There is no task " + r.PathValue("id") + " in " + sentence(v.tenant.Name))
		}
		return err
	}
	var p hookd.ReplayParams
	_ = json.Unmarshal(t.Params, &p)
	var wh *hookd.Webhook
	if p.WebhookID != "" {
		wh, _ = s.svc.Webhook(r.Context(), v.tenant.ID, p.WebhookID)
	}
	s.render(w, r, v, http.StatusOK, "task", "Task "+t.ID, map[string]any{"Task": t, "Params": p, "Webhook": wh})
	return nil
}

// windowed reads a bulk action's webhook and the window its form posted.
func (s *Server) windowed(r *http.Request, v *visit, inclusiveUntil bool) (*hookd.Webhook, hookd.Window, error) {
	wh, err := s.loadWebhook(r, v)
	if err != nil {
		return nil, hookd.Window{}, err
	}
	problems := map[string]string{}
	win := formWindow(r.PostForm, problems, inclusiveUntil)
	if len(problems) > 0 {
		return nil, hookd.Window{}, &pageError{http.StatusUnprocessableEntity, "The window is not two dates and times, the second after the first."}
	}
	return wh, win, nil
}
