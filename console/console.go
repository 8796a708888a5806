// Package console serves hookd's web console under /console: server-rendered
// pages (html/template, embedded with go:embed) where a tenant's admins
// manage webhooks, read deliveries and fix failures. Every form works
// without JavaScript; console.js only adds conveniences (copy, more rows).
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/urltext"
	"github.com/hookd/hookd/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Cookie names. The session cookie holds a random token whose SHA-256 is
// the stored session; the tenant cookie is the operator's current tenant.
const (
	SessionCookie = "hookd_session"
	tenantCookie  = "hookd_tenant"
	loginCookie   = "hookd_login" // CSRF token of the sign-in form
)

// Config configures the console. Zero values are usable except Service.
type Config struct {
	// Service does every change, as it does for the API, so the console
	// accepts exactly what the API accepts.
	Service *service.Service
	Logger  *slog.Logger
	Clock   hookd.Clock
	// AdminKeyHash is the SHA-256 of the operator's key: signing in with it
	// gives a session over every tenant.
	AdminKeyHash []byte
	// SecureCookies marks cookies Secure even on plain HTTP requests: set
	// it when a TLS-terminating proxy is in front (hookd's public URL is
	// https). Requests that arrive over TLS always get Secure cookies.
	SecureCookies bool
	// FrameAncestors are the origins (scheme://host[:port]) allowed to
	// frame the console; none: no one may. When some are, the console's
	// cookies are SameSite=None, Secure and Partitioned: a framed console
	// is a third party in the platform's page, and browsers send it no
	// other kind of cookie.
	FrameAncestors []string
	// Brand is the console's name, logo and accent; zero: hookd's own.
	Brand Brand
	// SessionTTL is how long an API-key sign-in lasts. Default 12h.
	SessionTTL time.Duration
}

// Server is the console's http.Handler; mount it at /console/.
type Server struct {
	cfg   Config
	svc   *service.Service
	store hookd.Store // for reads
	log   *slog.Logger
	clock hookd.Clock
	mux   *http.ServeMux
	pages map[string]*pageTemplate
	// origins refuses a browser's cross-site POST.
	origins *http.CrossOriginProtection
}

// New builds the console.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if err := cfg.Brand.Validate(); err != nil {
		return nil, err
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	s := &Server{cfg: cfg, svc: cfg.Service, store: cfg.Service.Store(), log: cfg.Logger, clock: cfg.Clock, mux: http.NewServeMux(), pages: pages,
		origins: http.NewCrossOriginProtection()}
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix("/console/static/", http.FileServerFS(static))
	s.mux.Handle("GET /console/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	s.mux.HandleFunc("GET /console/brand.css", s.brandCSS)
	s.mux.Handle("GET /console/login", s.public(s.loginPage))
	s.mux.Handle("POST /console/login", s.public(s.login))
	s.mux.Handle("GET /console/portal/{token}", s.public(s.redeem))
	s.mux.Handle("POST /console/logout", s.signedIn(s.logout, anyTenant))
	s.mux.Handle("POST /console/tenant", s.signedIn(s.switchTenant, anyTenant))
	s.mux.Handle("GET /console/tenants", s.signedIn(s.tenantsPage, anyTenant))
	s.mux.Handle("GET /console/{$}", s.signedIn(func(w http.ResponseWriter, r *http.Request, v *visit) error {
		http.Redirect(w, r, "/console/webhooks", http.StatusSeeOther)
		return nil
	}, anyTenant))

	s.mux.Handle("GET /console/audit", s.signedIn(s.auditPage, inTenant))
	s.mux.Handle("GET /console/webhooks", s.signedIn(s.webhooksPage, inTenant))
	s.mux.Handle("GET /console/webhooks/new", s.signedIn(s.newWebhookPage, writer))
	s.mux.Handle("POST /console/webhooks", s.signedIn(s.createWebhook, writer))
	s.mux.Handle("GET /console/webhooks/{id}", s.signedIn(s.webhookPage, inTenant))
	s.mux.Handle("GET /console/webhooks/{id}/edit", s.signedIn(s.editWebhookPage, writer))
	s.mux.Handle("POST /console/webhooks/{id}", s.signedIn(s.updateWebhook, writer))
	s.mux.Handle("POST /console/webhooks/{id}/test", s.signedIn(s.testWebhook, writer))
	s.mux.Handle("POST /console/webhooks/{id}/retry-failed", s.signedIn(s.retryFailed, writer))
	s.mux.Handle("POST /console/webhooks/{id}/enabled", s.signedIn(s.setEnabled, writer))
	s.mux.Handle("GET /console/webhooks/{id}/confirm", s.signedIn(s.confirmPage, writer))
	s.mux.Handle("POST /console/webhooks/{id}/cancel", s.signedIn(s.cancelDeliveries, writer))
	s.mux.Handle("POST /console/webhooks/{id}/replay", s.signedIn(s.replay, writer))
	s.mux.Handle("GET /console/tasks/{id}", s.signedIn(s.taskPage, inTenant))
	s.mux.Handle("POST /console/webhooks/{id}/rotate", s.signedIn(s.rotateSecret, writer))
	s.mux.Handle("GET /console/webhooks/{id}/delete", s.signedIn(s.deleteWebhookPage, writer))
	s.mux.Handle("POST /console/webhooks/{id}/delete", s.signedIn(s.deleteWebhook, writer))
	s.mux.Handle("GET /console/deliveries", s.signedIn(s.deliveriesPage, inTenant))
	s.mux.Handle("GET /console/deliveries/{id}", s.signedIn(s.deliveryPage, inTenant))
	s.mux.Handle("POST /console/deliveries/{id}/retry", s.signedIn(s.retryDelivery, writer))
	s.mux.Handle("GET /console/failed", s.signedIn(s.failedPage, inTenant))
	s.mux.Handle("GET /console/event-types", s.signedIn(s.eventTypesPage, anyTenant))
	s.mux.Handle("GET /console/events", s.signedIn(s.eventsPage, inTenant))
	s.mux.Handle("GET /console/events/{id}", s.signedIn(s.eventPage, inTenant))
	s.mux.Handle("GET /console/stats", s.signedIn(s.statsPage, inTenant))
	s.mux.Handle("/console/", s.public(func(w http.ResponseWriter, r *http.Request) error {
		return notFound("no console page " + r.URL.Path)
	}))
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages show secrets and payloads: never cache them, and let only the
	// listed origins frame them.
	h.Set("Cache-Control", "no-store")
	frames := "'none'"
	if len(s.cfg.FrameAncestors) == 0 {
		h.Set("X-Frame-Options", "DENY")
	} else {
		frames = strings.Join(s.cfg.FrameAncestors, " ")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	img := "'self' data:"
	if o := s.cfg.Brand.logoOrigin(); o != "" {
		img += " " + o
	}
	h.Set("Content-Security-Policy", "default-src 'self'; img-src "+img+"; style-src 'self'; script-src 'self'; frame-ancestors "+frames+"; form-action 'self'; base-uri 'none'")
	r.Body = http.MaxBytesReader(w, r.Body, hookd.MaxRequestBody)
	// Besides each form's token: a browser's POST from another site is
	// refused by what the browser says of its origin (Sec-Fetch-Site, else
	// Origin against Host). A framed console's forms post from its own
	// origin, so framing keeps working.
	if err := s.origins.Check(r); err != nil {
		s.fail(w, r, nil, &pageError{http.StatusForbidden, "This form was sent from another site. Open the console and try again."})
		return
	}
	s.mux.ServeHTTP(w, r)
}

// visit is who is looking, and in which tenant.
type visit struct {
	session  *hookd.ConsoleSession
	token    string // the cookie, from which the CSRF token derives
	tenant   *hookd.Tenant
	operator bool
}

func (v *visit) csrf() string {
	// The operator's forms are bound to the tenant they were drawn in too:
	// one drawn in acme and sent after a switch to globex in another tab
	// acted on globex (a create made acme's webhook in globex).
	tenant := ""
	if v.operator && v.tenant != nil {
		tenant = v.tenant.ID
	}
	return csrfToken(v.token, tenant)
}

// sessionCSRF is the token of the forms that act on the session itself
// (sign out, switch tenant), which are right from any tenant's page.
func (v *visit) sessionCSRF() string { return csrfToken(v.token, "") }

// actor is who the audit log says made the visit's changes: the key that
// signed in, "admin" for the operator, or the portal link's session.
func (v *visit) actor() hookd.Actor {
	switch {
	case v.session.KeyID != "":
		return hookd.Actor{Type: hookd.ActorConsole, ID: v.session.KeyID}
	case v.operator:
		return hookd.Actor{Type: hookd.ActorConsole, ID: "admin"}
	}
	return hookd.Actor{Type: hookd.ActorConsole, ID: v.session.ID}
}

// csrfToken derives a form token from the session's cookie. A page of
// another site can neither read the HttpOnly cookie nor this page, so it
// cannot produce the token; hookd need not store it.
func csrfToken(cookie, tenant string) string {
	m := hmac.New(sha256.New, []byte(cookie))
	m.Write([]byte("hookd console csrf"))
	if tenant != "" {
		m.Write([]byte("\x00" + tenant))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

type access int

const (
	anyTenant access = iota // signed in; an operator need not have picked a tenant
	inTenant                // signed in, acting in a tenant
	writer                  // in a tenant, and allowed to change it
)

type handler func(w http.ResponseWriter, r *http.Request, v *visit) error

// pageError is an error shown to the visitor as a page with a status.
type pageError struct {
	status int
	msg    string
}

func (e *pageError) Error() string { return e.msg }

func notFound(msg string) error { return &pageError{http.StatusNotFound, msg} }

func (s *Server) public(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, nil, err)
		}
	})
}

func (s *Server) signedIn(h handler, level access) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := s.authenticate(r)
		if err == nil {
			err = urltext.Check(r)
		}
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		if v == nil {
			if r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				// Browsers hold SameSite=Strict cookies back from a navigation
				// another site started: a portal link in the platform's page
				// and the redirect after it. Load the page again from here.
				s.render(w, r, nil, http.StatusOK, "reload", "Signing in", map[string]any{"URL": r.URL.RequestURI()})
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/login", http.StatusSeeOther)
				return
			}
			s.fail(w, r, nil, &pageError{http.StatusUnauthorized, "You are not signed in, or your session has ended."})
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				s.fail(w, r, v, &pageError{http.StatusBadRequest, "The form could not be read."})
				return
			}
			want := v.csrf()
			if level == anyTenant {
				want = v.sessionCSRF()
			}
			if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(want)) != 1 {
				msg := "The form's security token is missing or wrong. Reload the page and try again."
				if v.operator {
					msg = "The form's security token is missing or wrong, or the form was drawn in another tenant than the one you have switched to since. Reload the page and try again."
				}
				s.fail(w, r, v, &pageError{http.StatusForbidden, msg})
				return
			}
		}
		if level >= inTenant && v.tenant == nil {
			http.Redirect(w, r, "/console/tenants", http.StatusSeeOther)
			return
		}
		if level == writer && v.session.ReadOnly {
			s.fail(w, r, v, &pageError{http.StatusForbidden, "This session is read-only: it can look but not change anything."})
			return
		}
		r = r.WithContext(hookd.WithActor(r.Context(), v.actor()))
		if err := h(w, r, v); err != nil {
			s.fail(w, r, v, err)
		}
	})
}

// authenticate returns the visit of the request's session cookie, or nil
// when there is no live session.
func (s *Server) authenticate(r *http.Request) (*visit, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	cs, err := s.store.ConsoleSessionByToken(r.Context(), hookd.HashKey(c.Value), s.clock.Now())
	if errors.Is(err, hookd.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := &visit{session: cs, token: c.Value, operator: cs.TenantID == "" && cs.KeyID == ""}
	if v.operator && !s.operatorCookieValid(c.Value) {
		return nil, nil // signed in with an admin key this process no longer has
	}
	tenantID := cs.TenantID
	if v.operator {
		if tc, err := r.Cookie(tenantCookie); err == nil {
			tenantID = tc.Value
		}
	}
	if tenantID != "" {
		t, err := s.store.GetTenant(r.Context(), tenantID)
		switch {
		case err == nil:
			v.tenant = t
		case !errors.Is(err, hookd.ErrNotFound):
			return nil, err
		case !v.operator:
			return nil, nil // the tenant is gone, and its sessions with it
		}
	}
	return v, nil
}

func (s *Server) secure(r *http.Request) bool { return r.TLS != nil || s.cfg.SecureCookies }

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: "/console", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode}
	if len(s.cfg.FrameAncestors) > 0 {
		c.SameSite, c.Secure, c.Partitioned = http.SameSiteNoneMode, true, true
	}
	if !expires.IsZero() {
		c.Expires = expires
	}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// fail renders err as a page. Store faults are logged, never shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	var pe *pageError
	var ve *hookd.ValidationError
	switch {
	case errors.As(err, &pe):
	case errors.Is(err, hookd.ErrNotFound):
		pe = &pageError{http.StatusNotFound, "Not found."}
	case errors.Is(err, hookd.ErrInvalidRequest):
		pe = &pageError{http.StatusBadRequest, err.Error()}
	case errors.As(err, &ve):
		pe = &pageError{http.StatusUnprocessableEntity, ve.Error()}
	case errors.Is(err, hookd.ErrConflict):
		pe = &pageError{http.StatusConflict, strings.TrimPrefix(err.Error(), "conflict: ")}
	case errors.Is(err, hookd.ErrTooLarge):
		pe = &pageError{http.StatusRequestEntityTooLarge, err.Error()}
	case errors.Is(err, hookd.ErrForbidden):
		pe = &pageError{http.StatusForbidden, err.Error()}
	case errors.Is(err, hookd.ErrRateLimited):
		pe = &pageError{http.StatusTooManyRequests, err.Error()}
	case errors.Is(err, hookd.ErrUnavailable):
		// The cause is the operator's to read (a database away, a
		// process left on an old encryption key), as the API logs it.
		s.log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "status", http.StatusServiceUnavailable, "err", err)
		pe = &pageError{http.StatusServiceUnavailable, "hookd cannot do this just now; it has been logged for its operator. Try again in a moment."}
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return
	default:
		s.log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		pe = &pageError{http.StatusInternalServerError, "Something went wrong on hookd's side. It has been logged."}
	}
	s.render(w, r, v, pe.status, "error", "Error", map[string]any{"Status": pe.status, "StatusText": http.StatusText(pe.status), "Message": pe.msg})
}
