// Package httpapi serves hookd's /v1 API as the public contract defines it.
// Handlers return error; one table (errors.go) maps errors to statuses.
package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/traceparent"
	"github.com/hookd/hookd/internal/urltext"
	"github.com/hookd/hookd/service"
)

// Config configures the API. Zero values are usable except Service.
type Config struct {
	// Service does every change; the API decodes, calls it and encodes.
	Service *service.Service
	Logger  *slog.Logger
	Clock   hookd.Clock
	// AdminKeyHash is the SHA-256 of the operator's key.
	AdminKeyHash []byte
	// PublicURL is the scheme and host that visitors reach hookd at, for
	// portal links (https://hooks.example.com). Default: the request's.
	PublicURL string
}

// Server is the API's http.Handler.
type Server struct {
	cfg   Config
	svc   *service.Service
	store hookd.Store // for reads
	log   *slog.Logger
	clock hookd.Clock
	mux   *http.ServeMux
}

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, svc: cfg.Service, store: cfg.Service.Store(), log: cfg.Logger, clock: cfg.Clock, mux: http.NewServeMux()}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	noRoute := func(w http.ResponseWriter, r *http.Request) error {
		return errorf(hookd.ErrNotFound, "no route "+r.Method+" "+r.URL.Path)
	}
	// Every /v1 call needs a key, a route that is not there too: without
	// one it is 401, as the contract says of every /v1 call.
	s.mux.Handle("/v1/", s.wrap(route{auth: anyKey, h: noRoute}))
	// The bare root too, which ServeMux would redirect to /v1/ with an HTML
	// body: every answer of the API is JSON.
	s.mux.Handle("/v1", s.wrap(route{auth: anyKey, h: noRoute}))
	s.mux.Handle("/", s.wrap(route{auth: public, h: noRoute}))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type authLevel int

const (
	public      authLevel = iota
	anyKey                // admin or any tenant key
	tenantScope           // admin, or the key of the {tenantId} in the path
	tenantAdmin           // admin only, on a {tenantId} path: another tenant's key sees 404, its own 403
	adminOnly             // admin only, outside any tenant: a tenant key sees 403
	allTenants            // admin only, the tenants as a whole: a tenant key is outside its tenant, 404
)

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type route struct {
	Method  string
	Pattern string
	auth    authLevel
	h       handlerFunc
}

// Route is a served method and path pattern, for documentation checks.
type Route struct{ Method, Pattern string }

// Routes lists every route the API serves.
func (s *Server) Routes() []Route {
	var out []Route
	for _, rt := range s.routes() {
		out = append(out, Route{rt.Method, rt.Pattern})
	}
	return out
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", public, s.healthz},
		{"GET", "/readyz", public, s.readyz},

		{"POST", "/v1/tenants", allTenants, s.createTenant},
		{"GET", "/v1/tenants", allTenants, s.listTenants},
		{"GET", "/v1/tenants/{tenantId}", tenantScope, s.getTenant},
		{"PATCH", "/v1/tenants/{tenantId}", tenantAdmin, s.updateTenant},
		{"DELETE", "/v1/tenants/{tenantId}", tenantAdmin, s.deleteTenant},
		{"POST", "/v1/tenants/{tenantId}/api-keys", tenantAdmin, s.createAPIKey},
		{"GET", "/v1/tenants/{tenantId}/api-keys", tenantAdmin, s.listAPIKeys},
		{"DELETE", "/v1/tenants/{tenantId}/api-keys/{keyId}", tenantAdmin, s.deleteAPIKey},
		{"POST", "/v1/tenants/{tenantId}/portal-sessions", tenantAdmin, s.createPortalSession},
		{"GET", "/v1/tenants/{tenantId}/audit-log", tenantScope, s.listAudit},

		{"GET", "/v1/event-types", anyKey, s.listEventTypes},
		{"POST", "/v1/event-types", adminOnly, s.createEventType},
		{"GET", "/v1/event-types/{name}", anyKey, s.getEventType},
		{"PATCH", "/v1/event-types/{name}", adminOnly, s.updateEventType},
		{"DELETE", "/v1/event-types/{name}", adminOnly, s.archiveEventType},

		{"POST", "/v1/tenants/{tenantId}/webhooks", tenantScope, s.createWebhook},
		{"GET", "/v1/tenants/{tenantId}/webhooks", tenantScope, s.listWebhooks},
		{"GET", "/v1/tenants/{tenantId}/webhooks/{webhookId}", tenantScope, s.getWebhook},
		{"PATCH", "/v1/tenants/{tenantId}/webhooks/{webhookId}", tenantScope, s.updateWebhook},
		{"DELETE", "/v1/tenants/{tenantId}/webhooks/{webhookId}", tenantScope, s.deleteWebhook},
		{"GET", "/v1/tenants/{tenantId}/webhooks/{webhookId}/secret", tenantScope, s.getWebhookSecret},
		{"POST", "/v1/tenants/{tenantId}/webhooks/{webhookId}/secret/rotate", tenantScope, s.rotateSecret},
		{"POST", "/v1/tenants/{tenantId}/webhooks/{webhookId}/test", tenantScope, s.testWebhook},
		{"GET", "/v1/tenants/{tenantId}/webhooks/{webhookId}/deliveries", tenantScope, s.listDeliveries},
		{"POST", "/v1/tenants/{tenantId}/webhooks/{webhookId}/deliveries/retry-all-failed", tenantScope, s.retryAllFailed},
		{"POST", "/v1/tenants/{tenantId}/webhooks/{webhookId}/deliveries/cancel", tenantScope, s.cancelDeliveries},
		{"POST", "/v1/tenants/{tenantId}/webhooks/{webhookId}/replay", tenantScope, s.replay},
		{"GET", "/v1/tenants/{tenantId}/tasks/{taskId}", tenantScope, s.getTask},
		{"GET", "/v1/tenants/{tenantId}/webhooks/stats", tenantScope, s.stats},
		{"GET", "/v1/tenants/{tenantId}/webhooks/{webhookId}/stats", tenantScope, s.stats},

		{"GET", "/v1/tenants/{tenantId}/deliveries", tenantScope, s.listTenantDeliveries},
		{"GET", "/v1/tenants/{tenantId}/deliveries/failed", tenantScope, s.listFailed},
		{"GET", "/v1/tenants/{tenantId}/deliveries/{deliveryId}", tenantScope, s.getDelivery},
		{"POST", "/v1/tenants/{tenantId}/deliveries/{deliveryId}/retry", tenantScope, s.retryDelivery},

		{"POST", "/v1/tenants/{tenantId}/events", tenantScope, s.publishEvent},
		{"GET", "/v1/tenants/{tenantId}/events", tenantScope, s.listEvents},
		{"GET", "/v1/tenants/{tenantId}/events/{eventId}", tenantScope, s.getEvent},
	}
}

type principal struct {
	admin    bool
	tenantID string
	keyID    string
}

type ctxKey struct{}

func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r = r.WithContext(traceparent.Extract(r.Context(), r.Header))
		r.Body = http.MaxBytesReader(w, r.Body, hookd.MaxRequestBody)
		err := s.authorize(r, rt.auth)
		if err == nil {
			err = rt.h(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
		s.log.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "duration", time.Since(start))
	})
}

func (s *Server) authorize(r *http.Request, level authLevel) error {
	if level == public {
		return nil
	}
	p, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if err := urltext.Check(r); err != nil {
		return err
	}
	actor := hookd.Actor{Type: hookd.ActorAdmin}
	if !p.admin {
		actor = hookd.Actor{Type: hookd.ActorKey, ID: p.keyID}
	}
	*r = *r.WithContext(hookd.WithActor(context.WithValue(r.Context(), ctxKey{}, p), actor))
	tenantID := r.PathValue("tenantId")
	switch level {
	case anyKey:
		return nil
	case adminOnly:
		if !p.admin {
			return errorf(hookd.ErrForbidden, "this route needs the admin key")
		}
		return nil
	case allTenants:
		if !p.admin {
			return errorf(hookd.ErrNotFound, "no route "+r.Method+" "+r.URL.Path+" for a tenant key")
		}
		return nil
	}
	// {tenantId} routes: another tenant's key must not learn that the
	// tenant exists, so it gets the same 404 as a missing tenant.
	if !p.admin && p.tenantID != tenantID {
		return errorf(hookd.ErrNotFound, "tenant "+tenantID+" not found")
	}
	if level == tenantAdmin && !p.admin {
		return errorf(hookd.ErrForbidden, "this route needs the admin key")
	}
	if p.admin {
		// A tenant key implies its tenant exists (keys die with it); the
		// admin key does not.
		if _, err := s.svc.Tenant(r.Context(), tenantID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) authenticate(r *http.Request) (principal, error) {
	auth := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		if scheme, rest, found := strings.Cut(auth, " "); found && strings.EqualFold(scheme, "bearer") {
			key, ok = rest, true
		}
	}
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return principal{}, errorf(hookd.ErrUnauthorized, "missing bearer token: send Authorization: Bearer KEY")
	}
	hash := hookd.HashKey(key)
	if len(s.cfg.AdminKeyHash) > 0 && subtle.ConstantTimeCompare(hash, s.cfg.AdminKeyHash) == 1 {
		return principal{admin: true}, nil
	}
	k, err := s.store.APIKeyByHash(r.Context(), hash)
	if err != nil {
		if isNotFound(err) {
			return principal{}, errorf(hookd.ErrUnauthorized, "unknown API key")
		}
		return principal{}, err
	}
	// The lookup was by hash; compare again in constant time so that the
	// decision does not rest on how the database compared.
	if subtle.ConstantTimeCompare(hash, k.Hash) != 1 {
		return principal{}, errorf(hookd.ErrUnauthorized, "unknown API key")
	}
	return principal{tenantID: k.TenantID, keyID: k.ID}, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		s.writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: errorDetail{Code: "unavailable", Message: "database is not answering"}})
		return nil
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
