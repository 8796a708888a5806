package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

type pageTemplate struct {
	t   *template.Template
	nav string // the sidebar item the page belongs to
}

// navOf puts each page under a sidebar item.
var navOf = map[string]string{
	"webhooks": "webhooks", "webhook": "webhooks", "webhook_form": "webhooks", "webhook_delete": "webhooks",
	"delivery": "webhooks", "event_types": "event-types", "events": "events", "event": "events", "audit": "audit",
	"failed": "failed", "stats": "stats", "tenants": "tenants", "deliveries": "deliveries", "confirm": "webhooks", "task": "webhooks",
}

var funcs = template.FuncMap{
	// disabledWhy words a webhook's disabledReason.
	"disabledWhy": func(reason string) string {
		switch reason {
		case hookd.DisabledGone:
			return "its endpoint answered 410 Gone"
		case hookd.DisabledFailing:
			return "failing too long"
		}
		return "by a user"
	},
	// ownHeader says whether a request header is one of the webhook's own
	// (its configured headers): the delivery page hides their values, as
	// the webhook's page does, whatever their names.
	"ownHeader": func(wh *hookd.Webhook, name string) bool {
		for k := range wh.Headers {
			if strings.EqualFold(k, name) {
				return true
			}
		}
		return false
	},
	// change renders one side of an audit change: a value as JSON, short.
	"change": func(v any) string {
		if v == nil {
			return "—"
		}
		// Not json.Marshal, which writes <, > and & as \u003c…: the
		// template escapes the text once, for the page.
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		s := strings.TrimSuffix(buf.String(), "\n")
		if len(s) <= 200 {
			return s
		}
		return hookd.CleanText(s, 200) + "…"
	},
	// when is a time as a <time> element in UTC; console.js rewrites it in
	// the viewer's zone with how long ago (or how soon), the exact UTC
	// staying in its title.
	"when": func(t time.Time) template.HTML {
		if t.IsZero() {
			return "—"
		}
		utc := t.UTC().Format("2006-01-02 15:04:05 UTC")
		return template.HTML(`<time datetime="` + t.UTC().Format(time.RFC3339) + `" title="` + utc + `">` + utc + `</time>`)
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ms": func(d time.Duration) string {
		if d < 10*time.Millisecond {
			return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
		}
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	},
	"pct":     func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" },
	"lower":   func(s hookd.DeliveryStatus) string { return strings.ToLower(string(s)) },
	"replace": func(s, old, new string) string { return strings.ReplaceAll(s, old, new) },
	// plural is "1 attempt", "2 attempts".
	"plural": plural,
	"pretty": func(b []byte) string {
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") != nil {
			return string(b)
		}
		return out.String()
	},
	"join": strings.Join,
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	"statuses": func() []hookd.DeliveryStatus {
		return []hookd.DeliveryStatus{hookd.StatusPending, hookd.StatusRetrying, hookd.StatusSuccess, hookd.StatusFailed, hookd.StatusCanceled}
	},
	"deref": func(p any) any {
		switch v := p.(type) {
		case *int:
			if v != nil {
				return *v
			}
		case *string:
			if v != nil {
				return *v
			}
		}
		return nil
	},
}

func parseTemplates() (map[string]*pageTemplate, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*pageTemplate{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		pages[name] = &pageTemplate{t: t, nav: navOf[name]}
	}
	return pages, nil
}

// page is what every template gets.
type page struct {
	Brand    Brand
	Title    string
	Nav      string
	Tenant   *hookd.Tenant
	Operator bool
	ReadOnly bool
	SignedIn bool
	CSRF     string
	// SessionCSRF is the token of the forms that act on the session, not
	// in a tenant (sign out, switch tenant): bound to no tenant, so that
	// they work from a page drawn before another tab switched.
	SessionCSRF string
	Notice      string
	D           map[string]any
}

// notices are the messages a redirect may ask a page to show; only their
// codes travel in the URL, so a link cannot make hookd say anything else.
var notices = map[string]string{
	"created": "The webhook was created.",
	"saved":   "The webhook was saved.",
	"saved-secret": "The webhook was saved. Its new signature scheme takes another kind of secret, so it has a new one (below): " +
		"give it to the receiver, as the old one signs no more.",
	"saved-disabled": "The webhook was saved and is disabled; its waiting deliveries have ended FAILED.",
	"saved-secret-disabled": "The webhook was saved and is disabled; its waiting deliveries have ended FAILED. " +
		"Its new signature scheme takes another kind of secret, so it has a new one (below): give it to the receiver.",
	"enabled":  "The webhook is enabled.",
	"disabled": "The webhook is disabled; its waiting deliveries have ended FAILED.",
	"rotated":  "The secret was rotated.",
	"retried":  "The delivery was queued for one more attempt.",
	"deleted":  "The webhook was deleted.",
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, v *visit, status int, name, title string, data map[string]any) {
	pt, ok := s.pages[name]
	if !ok {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	p := page{Title: title, Nav: pt.nav, D: data, Brand: s.cfg.Brand}
	if status < 300 {
		p.Notice = s.takeFlash(w, r)
	}
	if v != nil {
		p.SignedIn, p.Tenant, p.Operator, p.ReadOnly, p.CSRF = true, v.tenant, v.operator, v.session.ReadOnly, v.csrf()
		p.SessionCSRF = v.sessionCSRF()
	}
	var buf bytes.Buffer
	if err := pt.t.Execute(&buf, p); err != nil {
		s.log.ErrorContext(r.Context(), "render console page", "page", name, "err", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pageOf reads the offset paging of a list page.
func pageOf(r *http.Request, limit int) hookd.Page {
	off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	return hookd.Page{Limit: limit, Offset: max(off, 0)}
}

// pagerLinks are a list's previous and next links.
type pagerLinks struct {
	From, To, Total int
	Prev, Next      string
}

func pager(r *http.Request, p hookd.Page, total, n int) pagerLinks {
	pl := pagerLinks{From: p.Offset + 1, To: p.Offset + n, Total: total}
	link := func(off int) string {
		q := url.Values{}
		for k, v := range r.URL.Query() {
			q[k] = v
		}
		q.Set("offset", strconv.Itoa(off))
		return r.URL.Path + "?" + q.Encode()
	}
	if p.Offset > 0 {
		pl.Prev = link(max(p.Offset-p.Limit, 0))
	}
	if p.Offset+n < total {
		pl.Next = link(p.Offset + p.Limit)
	}
	return pl
}

// sentence ends s with one full stop: a name that has one ("Acme Inc.")
// does not get a second.
func sentence(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// flashCookie carries a one-shot notice from an action to the page it
// redirects to: shown once, then cleared, so a reload, a bookmark or the
// next page (a Not Found) never shows it again.
const flashCookie = "hookd_flash"

// redirect answers an action with 303 to path, leaving the notice flash
// (as a query string: "notice=saved", "retried=5") for the next page.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, path, flash string) {
	if flash != "" {
		s.setCookie(w, r, flashCookie, base64.RawURLEncoding.EncodeToString([]byte(flash)), time.Now().Add(time.Minute))
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// flashValues reads the flash the action before left, without clearing it.
func flashValues(r *http.Request) url.Values {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	q, _ := url.ParseQuery(string(raw))
	return q
}

// takeFlash returns the notice left by the action before, and clears it.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	q := flashValues(r)
	if q == nil {
		return ""
	}
	s.setCookie(w, r, flashCookie, "", time.Time{})
	count := func(k string) (int, bool) {
		n, err := strconv.Atoi(q.Get(k))
		return n, err == nil
	}
	switch {
	case q.Get("deleted") != "":
		return fmt.Sprintf("The webhook %q was deleted, with its delivery history.", q.Get("deleted"))
	case q.Has("canceled"):
		if n, ok := count("canceled"); ok {
			return plural(n, "waiting delivery was", "waiting deliveries were") + " canceled."
		}
	case q.Has("retried"):
		if n, ok := count("retried"); ok {
			return plural(n, "failed delivery was", "failed deliveries were") + " queued for one more attempt each."
		}
	}
	return notices[q.Get("notice")]
}
