// Package svixapi serves /api/v1: the part of Svix's API that its SDKs
// use, on hookd's store and service layer, so that a platform on a Svix
// SDK points serverUrl at hookd and keeps its code. Like httpapi it is a
// transport: it decodes Svix's shapes, calls one service function and
// encodes Svix's answer; no use-case is written twice.
//
// Mapping: an application is a tenant (its uid is the tenant's id), an
// endpoint a webhook (signed with the svix scheme, sending the raw
// payload), a message an event. This first slice covers health,
// applications, endpoints and their secrets, and messages; see
// docs/SVIX.md for what is not there yet.
package svixapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/traceparent"
	"github.com/hookd/hookd/internal/urltext"
	"github.com/hookd/hookd/service"
)

// Config configures the Svix-compatible API.
type Config struct {
	Service *service.Service
	// AdminKeyHash is the SHA-256 of the operator's key, the only token
	// this API takes (Svix's server has one too).
	AdminKeyHash []byte
	Logger       *slog.Logger
	Clock        hookd.Clock
	// PublicURL is where visitors reach hookd (portal links); default:
	// each request's own scheme and host.
	PublicURL string
}

// Server is /api/v1's http.Handler.
type Server struct {
	cfg   Config
	svc   *service.Service
	store hookd.Store
	log   *slog.Logger
	mux   *http.ServeMux
}

// New returns the API's handler; mount it at /api/v1/.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, svc: cfg.Service, store: cfg.Service.Store(), log: cfg.Logger, mux: http.NewServeMux()}
	route := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		// Svix's SDKs and users write paths with or without the slash
		// ({$}: the slash ends the path, it does not open a subtree).
		for _, p := range []string{pattern, pattern + "/{$}"} {
			s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
				if err := h(w, r); err != nil {
					s.fail(w, r, err)
				}
			})
		}
	}
	route("GET /api/v1/health", func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	route("POST /api/v1/app", s.authed(s.createApp))
	route("GET /api/v1/app", s.authed(s.listApps))
	route("GET /api/v1/app/{app}", s.authed(s.getApp))
	route("DELETE /api/v1/app/{app}", s.authed(s.deleteApp))
	route("POST /api/v1/app/{app}/endpoint", s.authed(s.createEndpoint))
	route("GET /api/v1/app/{app}/endpoint", s.authed(s.listEndpoints))
	route("GET /api/v1/app/{app}/endpoint/{endpoint}", s.authed(s.getEndpoint))
	route("GET /api/v1/app/{app}/endpoint/{endpoint}/secret", s.authed(s.endpointSecret))
	route("PUT /api/v1/app/{app}/endpoint/{endpoint}", s.authed(s.updateEndpoint))
	route("DELETE /api/v1/app/{app}/endpoint/{endpoint}", s.authed(s.deleteEndpoint))
	route("POST /api/v1/app/{app}/endpoint/{endpoint}/secret/rotate", s.authed(s.rotateSecret))
	route("POST /api/v1/app/{app}/endpoint/{endpoint}/recover", s.authed(s.recoverEndpoint))
	route("POST /api/v1/app/{app}/endpoint/{endpoint}/replay-missing", s.authed(s.replayMissing))
	route("POST /api/v1/app/{app}/endpoint/{endpoint}/cancel-msgs", s.authed(s.cancelMessages))
	route("GET /api/v1/background-task/{task}", s.authed(s.backgroundTask))
	route("POST /api/v1/app/{app}/msg", s.authed(s.createMessage))
	route("GET /api/v1/app/{app}/msg", s.authed(s.listMessages))
	route("GET /api/v1/app/{app}/msg/{msg}", s.authed(s.getMessage))
	route("POST /api/v1/app/{app}/msg/{msg}/endpoint/{endpoint}/resend", s.authed(s.resend))
	route("PATCH /api/v1/app/{app}", s.authed(s.patchApp))
	route("PUT /api/v1/app/{app}", s.authed(s.putApp))
	route("PATCH /api/v1/app/{app}/endpoint/{endpoint}", s.authed(s.patchEndpoint))
	route("POST /api/v1/app/{app}/endpoint/{endpoint}/send-example", s.authed(s.sendExample))
	route("GET /api/v1/app/{app}/endpoint/{endpoint}/stats", s.authed(s.endpointStats))
	route("GET /api/v1/app/{app}/endpoint/{endpoint}/headers", s.authed(s.getHeaders))
	route("PUT /api/v1/app/{app}/endpoint/{endpoint}/headers", s.authed(s.setHeaders))
	route("PATCH /api/v1/app/{app}/endpoint/{endpoint}/headers", s.authed(s.setHeaders))
	route("POST /api/v1/auth/app-portal-access/{app}", s.admitted(s.portalAccess, false))
	route("POST /api/v1/event-type", s.authed(s.createEventType))
	route("GET /api/v1/event-type", s.authed(s.listEventTypes))
	route("GET /api/v1/event-type/{name}", s.authed(s.getEventType))
	route("PUT /api/v1/event-type/{name}", s.authed(s.putEventType))
	route("PATCH /api/v1/event-type/{name}", s.authed(s.updateEventType))
	route("DELETE /api/v1/event-type/{name}", s.authed(s.archiveEventType))
	route("GET /api/v1/app/{app}/attempt/endpoint/{endpoint}", s.authed(s.endpointAttempts))
	route("GET /api/v1/app/{app}/attempt/msg/{msg}", s.authed(s.messageAttempts))
	route("GET /api/v1/app/{app}/msg/{msg}/attempt/{attempt}", s.authed(s.getAttempt))
	route("DELETE /api/v1/app/{app}/msg/{msg}/attempt/{attempt}/content", s.authed(s.expungeAttempt))
	route("GET /api/v1/app/{app}/msg/{msg}/endpoint", s.authed(s.attemptedDestinations))
	route("GET /api/v1/app/{app}/msg/{msg}/endpoint/{endpoint}/attempt", s.authed(s.messageEndpointAttempts))
	route("GET /api/v1/app/{app}/endpoint/{endpoint}/msg", s.authed(s.attemptedMessages))
	notServed := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, svixError{Code: "not_found", Detail: "hookd does not serve " + r.Method + " " + r.URL.Path + " (yet): see docs/SVIX.md for what it covers"})
	}
	s.mux.HandleFunc("/api/v1/", notServed)
	s.mux.HandleFunc("/api/v1", notServed) // not redirected to /api/v1/ with an HTML body
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, hookd.MaxRequestBody)
	s.mux.ServeHTTP(w, r)
}

// authed lets only the admin key through; its actor is the admin, as on
// /v1. A POST's answer is kept for its idempotency-key (idempotent).
func (s *Server) authed(h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return s.admitted(h, true)
}

// admitted is authed, with keep false for a POST whose answer is a
// credential (a portal link): that is never stored, in clear, for anyone
// who sends its key again to read, and each such POST makes a new one.
func (s *Server) admitted(h func(http.ResponseWriter, *http.Request) error, keep bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(key) == "" {
			return hookd.Errorf(hookd.ErrUnauthorized, "missing bearer token: send Authorization: Bearer KEY")
		}
		if len(s.cfg.AdminKeyHash) == 0 || subtle.ConstantTimeCompare(hookd.HashKey(strings.TrimSpace(key)), s.cfg.AdminKeyHash) != 1 {
			return hookd.Errorf(hookd.ErrUnauthorized, "invalid token: /api/v1 takes hookd's admin key")
		}
		if err := urltext.Check(r); err != nil {
			if errors.Is(err, hookd.ErrInvalidRequest) { // its message is the client's to read
				return svixInvalid{{Loc: []string{"query"}, Msg: err.Error(), Type: "value_error"}}
			}
			return err
		}
		*r = *r.WithContext(hookd.WithActor(r.Context(), hookd.Actor{Type: hookd.ActorAdmin}))
		if r.Method == http.MethodPost && keep {
			return s.idempotent(w, r, h)
		}
		return h(w, r)
	}
}

// idempotencyWindow is how long an idempotency key's answer is kept.
const idempotencyWindow = 12 * time.Hour

// idempotencyWait is how long a request waits for the same request's
// answer while another process or goroutine makes it (a client that timed
// out and tried again), before it gets 409; a reservation older than
// idempotencyStale was left by a process that died mid-request, and is
// taken over. The longest request here (send-example: a 60 s timeout, the
// body's second, the writes) ends well within it.
const (
	idempotencyWait  = 20 * time.Second
	idempotencyStale = 5 * time.Minute
	idempotencyPoll  = 25 * time.Millisecond
)

// idempotent answers a POST sent again with the same idempotency-key
// header (Svix's SDKs put one on every POST) with the first answer, kept
// in the store for 12 hours, instead of acting twice. The key never
// becomes an event's id (eventId does that). Failed requests (an error
// answer) are not kept, so they can be tried again. The key is reserved
// in the store before the request runs, so the same request sent again
// while the first still runs, to any process, waits for the first's
// answer (as Svix's server does) instead of acting too.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request) error) error {
	key := r.Header.Get("idempotency-key")
	if key == "" || len(key) > 256 {
		return h(w, r)
	}
	scope := r.Method + " " + strings.TrimSuffix(r.URL.Path, "/")
	ctx := r.Context()
	var now time.Time
	var waited time.Duration
	for {
		now = s.cfg.Clock.Now()
		saved, err := s.store.SavedResponse(ctx, scope, key, now.Add(-idempotencyWindow))
		switch {
		case err == nil && saved.Status != 0:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(saved.Status)
			_, _ = w.Write(saved.Body)
			return nil
		case err != nil && !errors.Is(err, hookd.ErrNotFound):
			return err
		}
		// Another request holds it, and is alive: wait, writing nothing.
		held := err == nil && saved.CreatedAt.After(now.Add(-idempotencyStale))
		if !held {
			ok, err := s.store.ReserveResponse(ctx, &hookd.ReserveResponseParams{Scope: scope, Key: key, At: now,
				Since: now.Add(-idempotencyWindow), StaleBefore: now.Add(-idempotencyStale)})
			if err != nil {
				return err
			}
			if ok {
				break
			}
		}
		if waited >= idempotencyWait {
			return hookd.Errorf(hookd.ErrConflict, "a request with this idempotency-key is still being processed; try again later")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(idempotencyPoll):
			waited += idempotencyPoll
		}
	}
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	// The answer is kept, or the reservation given up, whatever became of
	// the client (a request cut off midway leaves its key for a retry), or
	// of the handler: one that panicked gives the key up too.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	kept := false
	defer func() {
		if !kept { // failed, or panicked: the key is free for a retry
			if rerr := s.store.ReleaseResponse(sctx, scope, key, now); rerr != nil {
				s.log.WarnContext(ctx, "release an idempotency key", "err", rerr)
			}
		}
	}()
	if err := h(rec, r); err != nil || rec.status >= 300 {
		return err
	}
	kept = true
	if err := s.store.SaveResponse(sctx, scope, key, &hookd.SavedResponse{Status: rec.status, Body: rec.body.Bytes(), CreatedAt: now}, idempotencyWindow); err != nil {
		s.log.WarnContext(ctx, "keep an idempotent answer", "err", err)
	}
	return nil
}

// recorder passes an answer through and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (rec *recorder) WriteHeader(status int) {
	rec.status = status
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(b []byte) (int, error) {
	rec.body.Write(b)
	return rec.ResponseWriter.Write(b)
}

// svixError is Svix's error body.
type svixError struct {
	Code   string `json:"code"`
	Detail any    `json:"detail"`
}

// svixStatus is an error Svix's server answers with its own status and
// code, where hookd has no sentinel of its kind.
type svixStatus struct {
	status       int
	code, detail string
}

func (e *svixStatus) Error() string { return e.detail }

// validationItem is one entry of Svix's 422 detail.
type validationItem struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// statuses maps hookd's sentinels to Svix's status and code.
var statuses = []struct {
	err    error
	status int
	code   string
}{
	{hookd.ErrUnauthorized, http.StatusUnauthorized, "authentication_failed"},
	{hookd.ErrForbidden, http.StatusForbidden, "forbidden"},
	{hookd.ErrNotFound, http.StatusNotFound, "not_found"},
	{hookd.ErrConflict, http.StatusConflict, "conflict"},
	{hookd.ErrTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large"},
	{hookd.ErrRateLimited, http.StatusTooManyRequests, "rate_limited"},
	{hookd.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
}

// svixInvalid is a 422 whose items name more than a body's field: a
// body that is not JSON, a field of the wrong type, a query parameter.
type svixInvalid []validationItem

func (e svixInvalid) Error() string { return e[0].Msg }

// invalidQuery is a 422 for query parameter name, as Svix's server gives.
func invalidQuery(name, format string, args ...any) error {
	return svixInvalid{{Loc: []string{"query", name}, Msg: fmt.Sprintf(format, args...), Type: "value_error"}}
}

// queryField names a query parameter in a hookd.ValidationError, which
// the 422 locates in the query, not the body.
const queryField = "query."

// svixField is hookd's field (of a webhook, an event, a tenant) as the
// request of Svix's route (a ServeMux pattern) names it: "events[0]" of
// an endpoint is "filterTypes[0]".
func svixField(pattern, field string) string {
	var names map[string]string
	switch {
	case strings.HasSuffix(pattern, "/secret/rotate"):
		names = map[string]string{"secret": "key"}
	case strings.Contains(pattern, "/app-portal-access/"):
		names = map[string]string{"expiresInSeconds": "expiry"}
	case strings.HasSuffix(pattern, "/msg"):
		names = map[string]string{"id": "eventId", "type": "eventType", "data": "payload"}
	case strings.Contains(pattern, "/endpoint"):
		names = map[string]string{"events": "filterTypes", "name": "description"}
	case strings.Contains(pattern, " /api/v1/app"):
		names = map[string]string{"id": "uid"}
	}
	head, rest := field, ""
	if i := strings.IndexAny(field, ".["); i >= 0 {
		head, rest = field[:i], field[i:]
	}
	if to, ok := names[head]; ok {
		return to + rest
	}
	return field
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ss *svixStatus
	if errors.As(err, &ss) {
		writeJSON(w, ss.status, svixError{Code: ss.code, Detail: ss.detail})
		return
	}
	var si svixInvalid
	if errors.As(err, &si) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": si})
		return
	}
	var ve *hookd.ValidationError
	if errors.As(err, &ve) {
		items := make([]validationItem, 0, len(ve.Details))
		for _, d := range ve.Details {
			loc := []string{"body", svixField(r.Pattern, d.Field)}
			if name, ok := strings.CutPrefix(d.Field, queryField); ok {
				loc = []string{"query", name}
			}
			items = append(items, validationItem{Loc: loc, Msg: d.Message, Type: "value_error"})
		}
		// Svix's HTTPValidationError is {detail} alone (its SDKs refuse
		// any other field).
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": items})
		return
	}
	if errors.Is(err, hookd.ErrInvalidRequest) {
		// Svix's server answers a request it cannot read 422, never 400.
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": svixInvalid{{Loc: []string{"body"}, Msg: err.Error(), Type: "value_error"}}})
		return
	}
	for _, st := range statuses {
		if errors.Is(err, st.err) {
			msg := st.code
			var he *hookd.Error
			if errors.As(err, &he) {
				msg = he.Message
			}
			writeJSON(w, st.status, svixError{Code: st.code, Detail: msg})
			return
		}
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody reads this answer.
		s.log.DebugContext(r.Context(), "request canceled", "method", r.Method, "path", r.URL.Path)
	} else {
		s.log.ErrorContext(r.Context(), "svix api", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, http.StatusInternalServerError, svixError{Code: "server_error", Detail: "internal error"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON object; unknown fields are ignored on this surface,
// as Svix's server ignores them. A body that is not JSON, or a field of
// the wrong type, is 422, as Svix's server answers (its OpenAPI document
// has no 400).
func decode(r *http.Request, dst any) error {
	err := json.NewDecoder(r.Body).Decode(dst)
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mbe):
		return hookd.Errorf(hookd.ErrTooLarge, "request body is larger than %d bytes", hookd.MaxRequestBody)
	case errors.As(err, &ute) && ute.Field != "":
		loc := append([]string{"body"}, strings.Split(ute.Field, ".")...)
		return svixInvalid{{Loc: loc, Msg: "must be " + hookd.JSONKind(ute.Type.Kind()), Type: "type_error"}}
	case errors.As(err, &ute):
		return svixInvalid{{Loc: []string{"body"}, Msg: "the body must be a JSON object", Type: "type_error"}}
	}
	return svixInvalid{{Loc: []string{"body"}, Msg: "the body is not valid JSON: " + err.Error(), Type: "value_error.jsondecode"}}
}

// nullable is a PATCH field that tells absent (set false) from null (set,
// the zero value) and a value.
type nullable[T any] struct {
	set bool
	v   T
}

func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.set = true
	if string(b) == "null" {
		var zero T
		n.v = zero
		return nil
	}
	return json.Unmarshal(b, &n.v)
}

// list is Svix's list envelope. hookd pages these lists by offset: the
// iterator is the next offset.
type list[T any] struct {
	Data         []T     `json:"data"`
	Iterator     *string `json:"iterator"`
	PrevIterator *string `json:"prevIterator"`
	Done         bool    `json:"done"`
}

// page reads limit (1–250, default 50) and an offset iterator; 422 for
// others, as Svix's server.
func page(r *http.Request) (hookd.Page, error) {
	limit, err := limitOf(r)
	if err != nil {
		return hookd.Page{}, err
	}
	p := hookd.Page{Limit: limit}
	if it := r.URL.Query().Get("iterator"); it != "" {
		n, err := strconv.Atoi(it)
		if err != nil || n < 0 {
			return p, invalidQuery("iterator", "is not an iterator this API gave")
		}
		p.Offset = n
	}
	return p, nil
}

// limitOf is a list's limit: 1–250, default 50.
func limitOf(r *http.Request) (int, error) {
	l := r.URL.Query().Get("limit")
	if l == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > 250 {
		return 0, invalidQuery("limit", "must be an integer from 1 to 250")
	}
	return n, nil
}

// cursorList is a page of a list read by cursor (limit+1 rows asked
// for): its iterator names the last row shown (last), so rows made or
// deleted before it shift nothing, as Svix's id iterators.
func cursorList[T any](data []T, limit int, last func(T) string) list[T] {
	l := list[T]{Data: data, Done: len(data) <= limit}
	if !l.Done {
		l.Data = data[:limit]
	}
	if len(l.Data) > 0 {
		it := last(l.Data[len(l.Data)-1])
		l.Iterator = &it
	} else if l.Data == nil {
		l.Data = []T{}
	}
	return l
}

// newList pages a list by offset: consumed is how many of the store's rows
// this page took (more than len(data) where some were left out), total
// how many there are.
func newList[T any](data []T, p hookd.Page, consumed, total int) list[T] {
	l := list[T]{Data: data, Done: p.Offset+consumed >= total}
	if l.Data == nil {
		l.Data = []T{}
	}
	// On the last page too, as Svix's lists (whose iterator is the last
	// row's id): one that pages on from there gets an empty page, done.
	if !l.Done || consumed > 0 {
		next := strconv.Itoa(p.Offset + consumed)
		l.Iterator = &next
	}
	if p.Offset > 0 {
		prev := strconv.Itoa(max(p.Offset-p.Limit, 0))
		l.PrevIterator = &prev
	}
	return l
}

// Applications are tenants.

type appIn struct {
	Name      string            `json:"name"`
	UID       *string           `json:"uid"`
	Metadata  map[string]string `json:"metadata"`
	RateLimit *int              `json:"rateLimit"`
}

// appPrefix begins the ids hookd makes for applications made without a
// uid.
const appPrefix = "app_"

type appOut struct {
	ID        string            `json:"id"`
	UID       string            `json:"uid,omitempty"` // none when hookd made the id
	Name      string            `json:"name"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

func toApp(t *hookd.Tenant) appOut {
	out := appOut{ID: t.ID, UID: t.ID, Name: t.Name, Metadata: t.Metadata, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if hookd.IsID(appPrefix, t.ID) {
		out.UID = "" // made without one: Svix reads back none
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	return out
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) error {
	var in appIn
	if err := decode(r, &in); err != nil {
		return err
	}
	id := ""
	if in.UID != nil {
		id = *in.UID
	} else {
		id = hookd.NewID(appPrefix, time.Now())
	}
	if r.URL.Query().Get("get_if_exists") == "true" {
		// The operator's tenant is no application (s.app): its uid is
		// refused as any uid outside the rule.
		if t, err := s.svc.Tenant(r.Context(), id); err == nil && t.ID != hookd.OperatorTenant {
			writeJSON(w, http.StatusOK, toApp(t))
			return nil
		}
	}
	t := &hookd.Tenant{ID: id, Name: in.Name, Metadata: in.Metadata}
	if err := s.svc.CreateTenant(r.Context(), t, nil); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toApp(t))
	return nil
}

// listApps pages the tenants oldest first (newest with Svix's
// order=descending); the iterator names the last one shown (its creation
// time and id).
func (s *Server) listApps(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	q := hookd.TenantQuery{Page: hookd.Page{Limit: limit + 1}}
	switch r.URL.Query().Get("order") {
	case "", "ascending":
	case "descending":
		q.Newest = true // an outside audit: it was ignored
	default:
		return invalidQuery("order", "must be ascending or descending")
	}
	if it := r.URL.Query().Get("iterator"); it != "" {
		b, derr := base64.RawURLEncoding.DecodeString(it)
		at, id, ok := strings.Cut(string(b), ".")
		micros, perr := strconv.ParseInt(at, 10, 64)
		if derr != nil || !ok || perr != nil || id == "" {
			return invalidQuery("iterator", "is not an iterator this API gave")
		}
		q.AfterCreatedAt, q.AfterID = time.UnixMicro(micros), id
	}
	out := []appOut{}
	for {
		ts, _, err := s.store.ListTenants(r.Context(), q)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.ID != hookd.OperatorTenant { // not an application
				out = append(out, toApp(t))
			}
		}
		// The operator's tenant left out, the page may be one short of
		// telling whether more follow: read on past it.
		if len(out) > limit || len(ts) < q.Limit {
			break
		}
		last := ts[len(ts)-1]
		q.AfterCreatedAt, q.AfterID, q.Limit = last.CreatedAt, last.ID, limit+1-len(out)
	}
	writeJSON(w, http.StatusOK, cursorList(out, limit, func(a appOut) string {
		return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(a.CreatedAt.UnixMicro(), 10) + "." + a.ID))
	}))
	return nil
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) error {
	t, err := s.app(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toApp(t))
	return nil
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) error {
	t, err := s.app(r)
	if err != nil {
		return err
	}
	longDelete(w)
	if err := s.svc.DeleteTenant(r.Context(), t.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// longDelete lifts the server's write timeout from a delete's answer: a
// long history goes in steps that may outlast it (the delete runs to the
// end either way).
func longDelete(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
}

// appOrNew is the path's application, made from in (a message's or a
// portal link's "application", Svix's way of making one on the fly) when
// it is not there; in is ignored when it is, as in Svix.
func (s *Server) appOrNew(r *http.Request, in *appIn) (*hookd.Tenant, error) {
	t, err := s.app(r)
	if in == nil || !errors.Is(err, hookd.ErrNotFound) {
		return t, err
	}
	t = &hookd.Tenant{ID: r.PathValue("app"), Name: in.Name, Metadata: in.Metadata}
	if err := s.svc.CreateTenant(r.Context(), t, nil); errors.Is(err, hookd.ErrConflict) {
		return s.app(r) // made meanwhile by another request
	} else if err != nil {
		return nil, err
	}
	return t, nil
}

// app is the path's application; the operator's own tenant is not one.
func (s *Server) app(r *http.Request) (*hookd.Tenant, error) {
	id := r.PathValue("app")
	t, err := s.svc.Tenant(r.Context(), id)
	if errors.Is(err, hookd.ErrNotFound) || (err == nil && t.ID == hookd.OperatorTenant) {
		return nil, hookd.Errorf(hookd.ErrNotFound, "application %s not found", id)
	}
	return t, err
}

// Endpoints are webhooks that sign with the svix scheme and send the raw
// payload.

type endpointIn struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	FilterTypes []string `json:"filterTypes"`
	Channels    []string `json:"channels"`
	Disabled    bool     `json:"disabled"`
	RateLimit   *int     `json:"rateLimit"`
	// ThrottleRate and EventTypes are rateLimit's and filterTypes' newer
	// names in Svix's API (its SDKs send them from v1.88 and v2): either
	// name is taken (answers say rateLimit and filterTypes: Svix's SDKs
	// before those refuse a field they do not know).
	ThrottleRate *int              `json:"throttleRate"`
	EventTypes   []string          `json:"eventTypes"`
	Secret       *string           `json:"secret"`
	Metadata     map[string]string `json:"metadata"`
	UID          string            `json:"uid"`
	// Headers are the endpoint's own request headers, set with it (a PUT
	// of an endpoint that is there leaves them: Svix's update has none).
	Headers map[string]string `json:"headers"`
}

// aliases takes the newer names where the older are not given.
func (in *endpointIn) aliases() {
	if in.RateLimit == nil {
		in.RateLimit = in.ThrottleRate
	}
	if in.FilterTypes == nil {
		in.FilterTypes = in.EventTypes
	}
}

// shape is how an answer is written for the client that asked. Svix's
// API renamed fields (eventTypes, throttleRate: its v2 SDKs read only
// those) and made new ones required (statusText, an endpoint's canceled
// count, a recover's updatedAt: its Rust SDK from 1.75 and Python's 1.x
// fail without them); its Go SDK before 1.57 and Java's before 1.60, made
// by openapi-generator, refuse any field they do not know. Those two get
// the fields they know; every other client, the current ones too, beside
// the old names.
type shape struct {
	current bool
	// expanded (expanded_statuses=true, which current SDKs send) shows a
	// cancelled delivery as 4 (Canceled), not 2 (Fail).
	expanded bool
}

func shapeOf(r *http.Request) shape {
	return shape{current: !strictSDK(r.Header.Get("User-Agent")),
		expanded: r.URL.Query().Get("expanded_statuses") == "true"}
}

// strictSDKs are the Svix SDKs that refuse unknown fields, by language:
// every version before the one given.
var strictSDKs = map[string][2]int{"go": {1, 57}, "java": {1, 60}}

// strictSDK says whether agent, as Svix's SDKs send it
// (svix-libs/VERSION/LANGUAGE), names one of strictSDKs.
func strictSDK(agent string) bool {
	rest, ok := strings.CutPrefix(agent, "svix-libs/")
	if !ok {
		return false
	}
	version, lang, ok := strings.Cut(rest, "/")
	below, known := strictSDKs[strings.TrimSpace(lang)]
	if !ok || !known {
		return false
	}
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return major < below[0] || major == below[0] && minor < below[1]
}

// endpointFields are the fields Svix shows of an endpoint wherever it
// shows one (EndpointOut adds metadata, MessageEndpointOut a delivery's
// status).
type endpointFields struct {
	ID          string   `json:"id"`
	UID         string   `json:"uid,omitempty"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	FilterTypes []string `json:"filterTypes,omitempty"`
	Channels    []string `json:"channels,omitempty"`
	Disabled    bool     `json:"disabled"`
	RateLimit   *int     `json:"rateLimit,omitempty"`
	// EventTypes and ThrottleRate are filterTypes' and rateLimit's names in
	// Svix's current API, which its v2 SDKs read; answered beside the old
	// names to every client but a strict SDK (see shape).
	EventTypes   []string  `json:"eventTypes,omitempty"`
	ThrottleRate *int      `json:"throttleRate,omitempty"`
	Version      int       `json:"version"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

type endpointOut struct {
	endpointFields
	Metadata map[string]string `json:"metadata"`
}

func toEndpoint(wh *hookd.Webhook, sh shape) endpointOut {
	out := endpointOut{endpointFields: endpointFields{ID: wh.ID, UID: wh.UID, URL: wh.URL, Description: wh.Description, Channels: wh.Channels,
		Disabled: !wh.Enabled, Version: 1, CreatedAt: wh.CreatedAt, UpdatedAt: wh.UpdatedAt}, Metadata: wh.Metadata}
	if len(wh.Events) != 1 || wh.Events[0] != hookd.AllEvents {
		out.FilterTypes = wh.Events
	}
	if wh.RateLimit > 0 {
		out.RateLimit = &wh.RateLimit
	}
	if sh.current {
		out.EventTypes, out.ThrottleRate = out.FilterTypes, out.RateLimit
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	return out
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request) error {
	t, err := s.app(r)
	if err != nil {
		return err
	}
	var in endpointIn
	if err := decode(r, &in); err != nil {
		return err
	}
	wh, err := s.addEndpoint(r.Context(), t, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toEndpoint(wh, shapeOf(r)))
	return nil
}

// endpointName is the name hookd's own API and console show for an
// endpoint Svix's API made: its description, or else its URL, cut to the
// 200 characters a name may have (Svix has no name, and takes longer
// descriptions and URLs: a URL carrying a token often is).
func endpointName(description, url string) string {
	// A blank description names nothing (hookd refuses a blank name).
	name := cmp.Or(strings.TrimSpace(description), url, "endpoint") // none: the URL's own 422 says why
	if utf8.RuneCountInString(name) <= hookd.MaxNameLength {
		return name
	}
	return string([]rune(name)[:hookd.MaxNameLength-1]) + "…"
}

// addEndpoint makes an endpoint of t (POST, and PUT of one not there).
func (s *Server) addEndpoint(ctx context.Context, t *hookd.Tenant, in endpointIn) (*hookd.Webhook, error) {
	in.aliases()
	wh := s.svc.NewWebhook(t.ID)
	wh.URL, wh.Description, wh.Channels, wh.Metadata, wh.UID, wh.Headers = in.URL, in.Description, in.Channels, in.Metadata, in.UID, in.Headers
	wh.Name = endpointName(in.Description, in.URL)
	wh.Events = []string{hookd.AllEvents}
	if len(in.FilterTypes) > 0 {
		wh.Events = in.FilterTypes // null or empty: every type, as in Svix
	}
	wh.Enabled = !in.Disabled
	if in.RateLimit != nil {
		wh.RateLimit = *in.RateLimit
	}
	wh.Signature, wh.BodyMode = &hookd.Signature{Scheme: hookd.SchemeSvix}, hookd.BodyRaw
	if in.Secret != nil {
		key := svixKey(wh.Signature, *in.Secret)
		in.Secret = &key
	}
	if err := s.withTypes(ctx, in.FilterTypes, func() error { return s.svc.CreateWebhook(ctx, wh, in.Secret, nil) }); err != nil {
		return nil, err
	}
	return wh, nil
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	t, err := s.app(r)
	if err != nil {
		return err
	}
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	// Newest first unless order=ascending, as svix-server; the iterator is
	// the last one's id.
	q := hookd.WebhookQuery{TenantID: t.ID, Newest: r.URL.Query().Get("order") != "ascending", Page: hookd.Page{Limit: limit + 1}}
	if it := r.URL.Query().Get("iterator"); it != "" {
		if !hookd.IsID(hookd.PrefixWebhook, it) {
			return invalidQuery("iterator", "is not an iterator this API gave")
		}
		q.AfterID = it
	}
	hooks, _, err := s.store.ListWebhooks(r.Context(), q)
	if err != nil {
		return err
	}
	out := make([]endpointOut, 0, len(hooks))
	for _, wh := range hooks {
		out = append(out, toEndpoint(wh, shapeOf(r)))
	}
	writeJSON(w, http.StatusOK, cursorList(out, limit, func(e endpointOut) string { return e.ID }))
	return nil
}

// endpoint is the path's endpoint, named by its id or its uid.
func (s *Server) endpoint(r *http.Request) (*hookd.Webhook, error) {
	t, err := s.app(r)
	if err != nil {
		return nil, err
	}
	ref := r.PathValue("endpoint")
	wh, err := s.svc.Webhook(r.Context(), t.ID, ref)
	if errors.Is(err, hookd.ErrNotFound) {
		if id, uerr := s.store.WebhookIDByUID(r.Context(), t.ID, ref); uerr == nil {
			return s.svc.Webhook(r.Context(), t.ID, id)
		}
		return nil, hookd.Errorf(hookd.ErrNotFound, "endpoint %s not found", ref)
	}
	return wh, err
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.endpoint(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEndpoint(wh, shapeOf(r)))
	return nil
}

func (s *Server) endpointSecret(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.endpoint(r)
	if err != nil {
		return err
	}
	secret, err := wh.ShownSecret()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"key": secret})
	return nil
}

// withTypes runs fn (a publish or a webhook edit); when it fails only for
// event type names the catalog lacks, it adds them (ensureTypes) and runs
// fn again. A request wrong in any other way adds none.
func (s *Server) withTypes(ctx context.Context, names []string, fn func() error) error {
	err := fn()
	var ve *hookd.ValidationError
	if len(names) == 0 || !errors.As(err, &ve) || len(ve.Details) == 0 {
		return err
	}
	for _, d := range ve.Details {
		if d.Field != "type" && !strings.HasPrefix(d.Field, "events[") {
			return err
		}
	}
	if err := s.ensureTypes(ctx, names...); err != nil {
		return err
	}
	return fn()
}

// ensureTypes adds to the catalog the event type names it lacks: Svix
// takes any name in a message or an endpoint's filterTypes, hookd's
// catalog holds every type events are published with (and subscribed
// to), so a new name joins it, with no schema. A name hookd cannot hold
// is left for the service to refuse (422).
func (s *Server) ensureTypes(ctx context.Context, names ...string) error {
	for _, name := range names {
		if !hookd.SvixNames.Valid(name) || hookd.SystemEventType(name) {
			continue
		}
		if _, err := s.svc.EventType(ctx, name); !errors.Is(err, hookd.ErrNotFound) {
			continue
		}
		if err := s.svc.CreateEventType(ctx, &hookd.EventType{Name: name}, hookd.SvixNames, nil); err != nil && !errors.Is(err, hookd.ErrConflict) {
			return err
		}
	}
	return nil
}

// Messages are events.

type messageIn struct {
	EventType string          `json:"eventType"`
	EventID   *string         `json:"eventId"`
	Payload   json.RawMessage `json:"payload"`
	Data      json.RawMessage `json:"data"` // svix-server's other name for payload
	Channels  []string        `json:"channels"`
	Tags      []string        `json:"tags"`
	// TransformationsParams.RawPayload, when set, is the payload as text
	// (Svix's SDKs' messageInRaw / NewMessageInRaw send payload {} and
	// this): svix-server sends it as the body.
	TransformationsParams *struct {
		RawPayload *string `json:"rawPayload"`
	} `json:"transformationsParams"`
	// Application makes the path's application when it is not there.
	Application *appIn `json:"application"`
}

type messageOut struct {
	ID        string          `json:"id"`
	EventID   *string         `json:"eventId,omitempty"`
	EventType string          `json:"eventType"`
	Payload   json.RawMessage `json:"payload"`
	Channels  []string        `json:"channels,omitempty"`
	Tags      []string        `json:"tags,omitempty"`
	Timestamp time.Time       `json:"timestamp"`
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) error {
	var in messageIn
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := s.appOrNew(r, in.Application)
	if err != nil {
		return err
	}
	if in.Payload == nil {
		in.Payload = in.Data
	}
	field := "payload"
	if tp := in.TransformationsParams; tp != nil && tp.RawPayload != nil {
		// hookd's events are JSON objects, signed as stored: a raw payload
		// that is one is sent as given, its spacing kept (Svix sends raw
		// payloads verbatim); any other text is refused, never sent as
		// something else.
		field = "transformationsParams.rawPayload"
		if !json.Valid([]byte(*tp.RawPayload)) {
			return hookd.Invalid(field, "must be a JSON object")
		}
		in.Payload = json.RawMessage(*tp.RawPayload)
	}
	// Svix's payload is a JSON object (its SDKs read it back as one).
	if p := bytes.TrimLeft(in.Payload, " \t\r\n"); len(p) == 0 || p[0] != '{' {
		return hookd.Invalid(field, "must be a JSON object")
	}
	// Svix's eventId takes 256 characters, and a message of a deleted
	// (archived) event type is sent: svix-server never looks the type up.
	p := service.Publication{Type: in.EventType, Data: in.Payload, Channels: in.Channels, Tags: in.Tags, Verbatim: field != "payload",
		IDMaxLen: 256, ArchivedTypesOK: true}
	if in.EventID != nil {
		p.ID, p.IDSet = *in.EventID, true
	}
	// The caller's traceparent passes on to every attempt, as on /v1.
	ctx := traceparent.Extract(r.Context(), r.Header)
	var res *hookd.PublishResult
	if err := s.withTypes(ctx, []string{in.EventType}, func() (err error) {
		res, err = s.svc.Publish(ctx, t.ID, p, nil)
		return err
	}); err != nil {
		return err
	}
	if res.Duplicate {
		// As svix-server: an eventId already used is a conflict (the
		// message is not sent again). A retry of the same request with
		// its idempotency-key gets the first answer instead.
		return hookd.Errorf(hookd.ErrConflict, "a message with eventId %s already exists", res.Event.ID)
	}
	out := messageOut{ID: res.Event.ID, EventID: in.EventID, EventType: res.Event.Type, Payload: in.Payload, Channels: res.Event.Channels, Tags: res.Event.Tags, Timestamp: res.Event.Timestamp}
	if r.URL.Query().Get("with_content") == "false" {
		out.Payload = json.RawMessage("{}") // as a read's (an outside audit: it echoed the payload)
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.endpoint(r)
	if err != nil {
		return err
	}
	var in struct {
		Key *string `json:"key"`
		// GracePeriodSeconds is how long the old key signs on (Svix's
		// 0–604800, default 86400).
		GracePeriodSeconds *int64 `json:"gracePeriodSeconds"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	var grace *time.Duration
	if in.GracePeriodSeconds != nil {
		if *in.GracePeriodSeconds < 0 || *in.GracePeriodSeconds > 604800 {
			return hookd.Invalid("gracePeriodSeconds", "must be 0–604800 (7 days)")
		}
		g := time.Duration(*in.GracePeriodSeconds) * time.Second
		grace = &g
	}
	if err := s.rotate(r.Context(), wh, in.Key, grace); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// svixKey is a secret as Svix takes it, with or without whsec_, made the
// key a webhook of sig stores: prefixed for the Standard Webhooks family
// (a signing key's own prefix kept), as given for the others.
func svixKey(sig *hookd.Signature, key string) string {
	if sig.MultiSignature() && !strings.HasPrefix(key, hookd.SecretPrefix) && !strings.HasPrefix(key, hookd.SigningKeyPrefix) {
		return hookd.SecretPrefix + key
	}
	return key
}

// rotate gives wh a new secret, key (with or without whsec_, as Svix takes
// it) or a fresh one when nil; the old one stays valid for grace (nil: 24
// hours, as in Svix), where the webhook's scheme can carry two signatures
// (one made through /v1 may sign with one; then the new one signs alone).
func (s *Server) rotate(ctx context.Context, wh *hookd.Webhook, key *string, grace *time.Duration) error {
	if key != nil {
		k := svixKey(wh.Signature, *key)
		key = &k
	}
	g := 24 * time.Hour
	if grace != nil {
		g = *grace
	}
	if !wh.Signature.MultiSignature() {
		g = 0
	}
	_, err := s.svc.RotateSecret(ctx, wh.TenantID, wh.ID, key, &g)
	return err
}

// recoverEndpoint retries the endpoint's failed deliveries created in the
// window. hookd queues them at once (retry-all-failed), so the task Svix
// answers with is already finished.
func (s *Server) recoverEndpoint(w http.ResponseWriter, r *http.Request) error {
	wh, win, err := s.endpointWindow(r)
	if err != nil {
		return err
	}
	t, err := s.svc.Recover(r.Context(), wh.TenantID, wh.ID, win)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, replayOut(t, shapeOf(r)))
	return nil
}

// endpointWindow is the path's endpoint and the body's window, Svix's
// RecoverIn and ReplayIn: since (required) and until.
func (s *Server) endpointWindow(r *http.Request) (*hookd.Webhook, hookd.Window, error) {
	wh, err := s.endpoint(r)
	if err != nil {
		return nil, hookd.Window{}, err
	}
	var in struct {
		Since time.Time  `json:"since"`
		Until *time.Time `json:"until"`
	}
	if err := decode(r, &in); err != nil {
		return nil, hookd.Window{}, err
	}
	if in.Since.IsZero() {
		return nil, hookd.Window{}, hookd.Invalid("since", "is required")
	}
	win := hookd.Window{Since: in.Since}
	if in.Until != nil {
		v := &hookd.ValidationError{}
		if hookd.CheckEnd(v, "until", *in.Until); v.Err() != nil {
			return nil, hookd.Window{}, v.Err()
		}
		win.Until = *in.Until
	}
	return wh, win, nil
}

// cancelMessages is Svix's cancel of an endpoint's messages not yet sent
// that were created before createdBefore: hookd's cancel of the webhook's
// waiting deliveries (one being sent finishes first).
func (s *Server) cancelMessages(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.endpoint(r)
	if err != nil {
		return err
	}
	var in struct {
		CreatedBefore time.Time `json:"createdBefore"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.CreatedBefore.IsZero() {
		return hookd.Invalid("createdBefore", "is required")
	}
	if _, err := s.svc.CancelDeliveries(r.Context(), wh.TenantID, wh.ID, in.CreatedBefore); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// replayMissing is Svix's replay of the messages in a window that were
// never sent to the endpoint: hookd's replay with onlyMissing, a task
// that runs in chunks and reads back by its id (background-task).
func (s *Server) replayMissing(w http.ResponseWriter, r *http.Request) error {
	wh, win, err := s.endpointWindow(r)
	if err != nil {
		return err
	}
	t, err := s.svc.Replay(r.Context(), wh.TenantID, wh.ID, win, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, replayOut(t, shapeOf(r)))
	return nil
}

// backgroundTask reads a recover's or a replay's task, as Svix's
// BackgroundTaskOut: data holds how many deliveries it went through.
func (s *Server) backgroundTask(w http.ResponseWriter, r *http.Request) error {
	t, err := s.svc.FindTask(r.Context(), r.PathValue("task"))
	if err != nil {
		return err
	}
	out := replayOut(t, shapeOf(r))
	writeJSON(w, http.StatusOK, struct {
		Data map[string]int `json:"data"`
		svixTask
	}{map[string]int{"total": t.Total, "done": t.Done}, out})
	return nil
}

// svixTask is Svix's ReplayOut (and RecoverOut), the head of its
// BackgroundTaskOut.
type svixTask struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Task   string `json:"task"`
	// UpdatedAt is the task's end, or its start while it runs; for the
	// clients that read it (see shape).
	UpdatedAt *time.Time `json:"updatedAt,omitempty"`
}

func replayOut(t *hookd.Task, sh shape) svixTask {
	kind := "endpoint.replay"
	if t.Kind == hookd.TaskRecover {
		kind = "endpoint.recover"
	}
	out := svixTask{ID: t.ID, Status: string(t.Status), Task: kind}
	if sh.current {
		at := t.CreatedAt
		if !t.FinishedAt.IsZero() {
			at = t.FinishedAt
		}
		out.UpdatedAt = &at
	}
	return out
}

// resend is a manual retry of the message's delivery to the endpoint: one
// more attempt, whatever became of the earlier ones (its triggerType is 1).
// A message never sent to the endpoint (it was not subscribed, or did not
// exist yet) has nothing to resend: 404.
func (s *Server) resend(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.endpoint(r)
	if err != nil {
		return err
	}
	id := r.PathValue("msg")
	ds, err := s.store.ListEventDeliveries(r.Context(), wh.TenantID, id)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.WebhookID == wh.ID {
			if err := s.svc.RetryDelivery(r.Context(), wh.TenantID, d.ID); err != nil {
				return err
			}
			writeJSON(w, http.StatusAccepted, struct{}{})
			return nil
		}
	}
	return hookd.Errorf(hookd.ErrNotFound, "message %s was not sent to endpoint %s", id, r.PathValue("endpoint"))
}

// portalAccess is a one-time link into the application's console.
func (s *Server) portalAccess(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Expiry      *int64 `json:"expiry"` // seconds
		ReadOnly    bool   `json:"readOnly"`
		Application *appIn `json:"application"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := s.appOrNew(r, in.Application)
	if err != nil {
		return err
	}
	expires := hookd.DefaultPortalExpiry
	if in.Expiry != nil {
		expires = time.Duration(*in.Expiry) * time.Second
	}
	token, _, err := s.svc.CreatePortalSession(r.Context(), t.ID, expires, in.ReadOnly)
	if err != nil {
		return err
	}
	base := s.cfg.PublicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": strings.TrimRight(base, "/") + hookd.PortalPath + token, "token": token})
	return nil
}

// Message attempts are a delivery's attempts. An attempt's id is its
// delivery's and its number, so it is stable across lists.

type attemptOut struct {
	ID                 string    `json:"id"`
	MsgID              string    `json:"msgId"`
	EndpointID         string    `json:"endpointId"`
	URL                string    `json:"url"`
	Response           string    `json:"response"`
	ResponseStatusCode int       `json:"responseStatusCode"`
	ResponseDurationMs int64     `json:"responseDurationMs"`
	Status             int       `json:"status"`               // 0 success, 2 failed (Svix's MessageStatus)
	StatusText         string    `json:"statusText,omitempty"` // its name (see shape)
	TriggerType        int       `json:"triggerType"`          // 0 scheduled, 1 manual (Svix's)
	Timestamp          time.Time `json:"timestamp"`
}

// attemptFilter is an attempt list's query: Svix's filters.
type attemptFilter struct {
	status, codeClass *int
	after, before     time.Time
	types             map[string]bool
	channel, tag      string
	withContent       bool
}

func parseAttemptFilter(r *http.Request) (*attemptFilter, error) {
	qs := r.URL.Query()
	f := &attemptFilter{withContent: qs.Get("with_content") != "false", channel: qs.Get("channel"), tag: qs.Get("tag")}
	v := &hookd.ValidationError{}
	for _, n := range []struct {
		name   string
		to     **int
		values []int // Svix's MessageStatus, StatusCodeClass
	}{{"status", &f.status, []int{0, 1, 2, 3}}, {"status_code_class", &f.codeClass, []int{0, 100, 200, 300, 400, 500}}} {
		if s := qs.Get(n.name); s != "" {
			i, err := strconv.Atoi(s)
			if err != nil || !slices.Contains(n.values, i) {
				v.Add(queryField+n.name, "must be one of %v", n.values)
				continue
			}
			*n.to = &i
		}
	}
	queryTime(qs, v, "after", &f.after)
	queryTime(qs, v, "before", &f.before)
	for _, typ := range queryTypes(qs) {
		if f.types == nil {
			f.types = map[string]bool{}
		}
		f.types[typ] = true
	}
	return f, v.Err()
}

// queryTypes is a query's event_types: repeated (Svix's SDKs) or listed
// with commas.
func queryTypes(qs url.Values) []string {
	var out []string
	for _, list := range qs["event_types"] {
		for _, typ := range strings.Split(list, ",") {
			if typ != "" {
				out = append(out, typ)
			}
		}
	}
	return out
}

// queryTime reads the query's RFC 3339 time name into to, if given.
func queryTime(qs url.Values, v *hookd.ValidationError, name string, to *time.Time) {
	if s := qs.Get(name); s != "" {
		parse := hookd.ParseTime
		if name == "until" {
			parse = hookd.ParseUntil
		}
		t, err := parse(s)
		if err != nil {
			v.Add(queryField+name, "must be an RFC 3339 date-time (an until after year 1)")
		}
		*to = t
	}
}

// mayMatch reports whether d's attempts may match (its event's type,
// channel and tag).
func (s *Server) mayMatch(r *http.Request, f *attemptFilter, d *hookd.Delivery) (bool, error) {
	if f.types != nil && !f.types[d.EventType] {
		return false, nil
	}
	if f.channel == "" && f.tag == "" {
		return true, nil
	}
	ev, err := s.store.GetEvent(r.Context(), d.TenantID, d.EventID)
	if err != nil {
		return false, err
	}
	return f.event(ev), nil
}

// event reports whether an event has the filter's channel and tag.
func (f *attemptFilter) event(ev *hookd.Event) bool {
	return (f.channel == "" || slices.Contains(ev.Channels, f.channel)) && (f.tag == "" || slices.Contains(ev.Tags, f.tag))
}

// attempt reports whether an attempt matches: Svix's status (0 success, 2
// failed), its status code class (0 no answer, 100, 200 … 500), and the
// after/before bounds of its time.
func (f *attemptFilter) attempt(a attemptOut) bool {
	switch {
	case f.status != nil && a.Status != *f.status,
		f.codeClass != nil && a.ResponseStatusCode/100*100 != *f.codeClass,
		!f.after.IsZero() && a.Timestamp.Before(f.after),
		!f.before.IsZero() && a.Timestamp.After(f.before):
		return false
	}
	return true
}

// attemptsOf are a delivery's attempts that f lets through, newest first.
func (s *Server) attemptsOf(r *http.Request, f *attemptFilter, d *hookd.Delivery, url string) ([]attemptOut, error) {
	if ok, err := s.mayMatch(r, f, d); !ok || err != nil {
		return nil, err
	}
	detail, err := s.store.GetDelivery(r.Context(), d.TenantID, d.ID)
	if err != nil {
		return nil, err
	}
	out := make([]attemptOut, 0, len(detail.Attempts))
	for i := len(detail.Attempts) - 1; i >= 0; i-- {
		at := toAttempt(d, detail.Attempts[i], url, shapeOf(r))
		if !f.withContent {
			at.Response = ""
		}
		if f.attempt(at) {
			out = append(out, at)
		}
	}
	return out, nil
}

// toAttempt is attempt a of delivery d (to url) as Svix shows it.
func toAttempt(d *hookd.Delivery, a *hookd.Attempt, url string, sh shape) attemptOut {
	at := attemptOut{ID: attemptPrefix + strings.TrimPrefix(d.ID, hookd.PrefixDelivery) + "_" + strconv.Itoa(a.Number),
		MsgID: d.EventID, EndpointID: d.WebhookID, URL: url, Response: string(a.ResponseBody),
		ResponseStatusCode: a.StatusCode, ResponseDurationMs: a.Duration.Milliseconds(), Status: 2, Timestamp: a.StartedAt}
	if a.Success {
		at.Status = 0
	}
	at.StatusText = sh.text(at.Status)
	if a.Manual {
		at.TriggerType = 1
	}
	return at
}

const attemptPrefix = "atmpt_"

// parseAttemptID reads the delivery id and attempt number an attempt id
// (toAttempt's) names.
func parseAttemptID(id string) (deliveryID string, number int, ok bool) {
	rest, ok := strings.CutPrefix(id, attemptPrefix)
	i := strings.LastIndexByte(rest, '_')
	if !ok || i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return hookd.PrefixDelivery + rest[:i], n, true
}

func (s *Server) endpointAttempts(w http.ResponseWriter, r *http.Request) error {
	ep, err := s.endpointPage(r)
	if err != nil {
		return err
	}
	wh, f, p, ds := ep.wh, ep.filter, ep.page, ep.deliveries
	var out []attemptOut
	for _, d := range ds {
		as, err := s.attemptsOf(r, f, d, wh.URL)
		if err != nil {
			return err
		}
		out = append(out, as...)
	}
	// The iterator pages deliveries: each page holds their attempts.
	writeJSON(w, http.StatusOK, newList(out, p, len(ds), ep.total))
	return nil
}

// endpointPage is what the lists by endpoint read: the path's endpoint,
// the query's filter, and one page of the endpoint's deliveries, newest
// first (the iterator pages deliveries), with their total.
type endpointPage struct {
	wh         *hookd.Webhook
	filter     *attemptFilter
	page       hookd.Page
	deliveries []*hookd.Delivery
	total      int
}

func (s *Server) endpointPage(r *http.Request) (*endpointPage, error) {
	wh, err := s.endpoint(r)
	if err != nil {
		return nil, err
	}
	f, err := parseAttemptFilter(r)
	if err != nil {
		return nil, err
	}
	p, err := page(r)
	if err != nil {
		return nil, err
	}
	ds, total, err := s.store.ListDeliveries(r.Context(), hookd.DeliveryQuery{TenantID: wh.TenantID, WebhookID: wh.ID, Limit: p.Limit, Offset: p.Offset})
	if err != nil {
		return nil, err
	}
	return &endpointPage{wh: wh, filter: f, page: p, deliveries: ds, total: total}, nil
}

func (s *Server) messageAttempts(w http.ResponseWriter, r *http.Request) error {
	t, err := s.app(r)
	if err != nil {
		return err
	}
	only := r.URL.Query().Get("endpoint_id") // an endpoint's id or uid
	return s.listMessageAttempts(w, r, t.ID, func(d *hookd.Delivery, wh *hookd.Webhook) bool {
		return only == "" || d.WebhookID == only || wh != nil && wh.UID == only
	})
}

// listMessageAttempts writes the attempts of the path's message to every
// delivery keep takes (wh is nil for a webhook gone since), newest first,
// limit a page; the iterator is the last one's id. A message's attempts
// are few (its fan-out times its attempts), so they are read whole and
// the page cut from them.
func (s *Server) listMessageAttempts(w http.ResponseWriter, r *http.Request, tenantID string, keep func(d *hookd.Delivery, wh *hookd.Webhook) bool) error {
	f, err := parseAttemptFilter(r)
	if err != nil {
		return err
	}
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	ds, err := s.messageDeliveries(r, tenantID)
	if err != nil {
		return err
	}
	var out []attemptOut
	for _, d := range ds {
		url := ""
		wh, err := s.svc.Webhook(r.Context(), tenantID, d.WebhookID)
		if err == nil {
			url = wh.URL
		} else {
			wh = nil
		}
		if !keep(d, wh) {
			continue
		}
		as, err := s.attemptsOf(r, f, d, url)
		if err != nil {
			return err
		}
		out = append(out, as...)
	}
	slices.SortStableFunc(out, func(a, b attemptOut) int {
		return cmp.Or(b.Timestamp.Compare(a.Timestamp), strings.Compare(b.ID, a.ID))
	})
	if it := r.URL.Query().Get("iterator"); it != "" {
		i := slices.IndexFunc(out, func(a attemptOut) bool { return a.ID == it })
		if i < 0 {
			return invalidQuery("iterator", "is not an attempt of this message's list")
		}
		out = out[i+1:]
	}
	writeJSON(w, http.StatusOK, cursorList(out, limit, func(a attemptOut) string { return a.ID }))
	return nil
}

// getAttempt is one attempt, by the id the attempt lists give it.
func (s *Server) getAttempt(w http.ResponseWriter, r *http.Request) error {
	d, a, err := s.attempt(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAttempt(d, a, s.webhookURL(r, d.TenantID, d.WebhookID), shapeOf(r)))
	return nil
}

// expungeAttempt deletes what the receiver answered to one attempt (its
// response body and headers): the attempt stays, its response empty.
func (s *Server) expungeAttempt(w http.ResponseWriter, r *http.Request) error {
	d, a, err := s.attempt(r)
	if err != nil {
		return err
	}
	if err := s.svc.ExpungeAttemptContent(r.Context(), d.TenantID, d.ID, a.Number); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// attempt is the path's attempt of the path's message: 404 when the id is
// not one the attempt lists give, or names an attempt of another message.
func (s *Server) attempt(r *http.Request) (*hookd.Delivery, *hookd.Attempt, error) {
	t, err := s.app(r)
	if err != nil {
		return nil, nil, err
	}
	msg, id := r.PathValue("msg"), r.PathValue("attempt")
	notFound := hookd.Errorf(hookd.ErrNotFound, "attempt %s of message %s not found", id, msg)
	deliveryID, number, ok := parseAttemptID(id)
	if !ok {
		return nil, nil, notFound
	}
	detail, err := s.store.GetDelivery(r.Context(), t.ID, deliveryID)
	if errors.Is(err, hookd.ErrNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	if detail.Delivery.EventID != msg {
		return nil, nil, notFound
	}
	for _, a := range detail.Attempts {
		if a.Number == number {
			return detail.Delivery, a, nil
		}
	}
	return nil, nil, notFound
}

// webhookURL is a webhook's URL now, or "" once it is gone.
func (s *Server) webhookURL(r *http.Request, tenantID, id string) string {
	if wh, err := s.svc.Webhook(r.Context(), tenantID, id); err == nil {
		return wh.URL
	}
	return ""
}

// status is a delivery's status as Svix's MessageStatus: 0 succeeded, 1
// pending (to be tried, or tried again), 2 failed; a cancelled delivery
// is 4 when the client asked for expanded statuses, else 2 (it will not
// be sent).
func (sh shape) status(st hookd.DeliveryStatus) int {
	switch st {
	case hookd.StatusSuccess:
		return 0
	case hookd.StatusPending, hookd.StatusRetrying:
		return 1
	case hookd.StatusCanceled:
		if sh.expanded {
			return 4
		}
	}
	return 2
}

// statusTexts are Svix's MessageStatusText, by MessageStatus.
var statusTexts = [...]string{"success", "pending", "fail", "sending", "canceled"}

// text is a MessageStatus's statusText, for the clients that read it.
func (sh shape) text(status int) string {
	if !sh.current || status < 0 || status >= len(statusTexts) {
		return ""
	}
	return statusTexts[status]
}

// nextAttempt is a delivery's next attempt time, if one is scheduled.
func nextAttempt(d *hookd.Delivery) *time.Time {
	if d.NextAttemptAt.IsZero() || (shape{}).status(d.Status) != 1 {
		return nil
	}
	t := d.NextAttemptAt
	return &t
}

// messageEndpointOut is Svix's MessageEndpointOut: an endpoint a message
// was sent to, with that delivery's status. Only its fields: Svix's SDKs
// refuse unknown ones here.
type messageEndpointOut struct {
	endpointFields
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText,omitempty"`
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
}

// attemptedDestinations lists the endpoints a message was sent to (has a
// delivery for), each with its delivery's status, paged by offset.
func (s *Server) attemptedDestinations(w http.ResponseWriter, r *http.Request) error {
	t, err := s.app(r)
	if err != nil {
		return err
	}
	all, err := s.messageDeliveries(r, t.ID)
	if err != nil {
		return err
	}
	// One row an endpoint, as in Svix: a replay may have given the message
	// a second delivery to it; the newest tells where it stands.
	row := map[string]int{} // webhook id → its row in ds
	var ds []*hookd.Delivery
	for _, d := range all {
		switch i, ok := row[d.WebhookID]; {
		case !ok:
			row[d.WebhookID] = len(ds)
			ds = append(ds, d)
		case d.CreatedAt.After(ds[i].CreatedAt):
			ds[i] = d
		}
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	from, to := min(p.Offset, len(ds)), min(p.Offset+p.Limit, len(ds))
	out := make([]messageEndpointOut, 0, to-from)
	for _, d := range ds[from:to] {
		wh, err := s.svc.Webhook(r.Context(), t.ID, d.WebhookID)
		if errors.Is(err, hookd.ErrNotFound) {
			continue // deleted since the read: its deliveries go with it
		}
		if err != nil {
			return err
		}
		sh := shapeOf(r)
		status := sh.status(d.Status)
		out = append(out, messageEndpointOut{endpointFields: toEndpoint(wh, sh).endpointFields, Status: status, StatusText: sh.text(status), NextAttempt: nextAttempt(d)})
	}
	writeJSON(w, http.StatusOK, newList(out, p, to-from, len(ds)))
	return nil
}

// messageDeliveries are the path's message's deliveries; 404 when there
// is no such message.
func (s *Server) messageDeliveries(r *http.Request, tenantID string) ([]*hookd.Delivery, error) {
	id := r.PathValue("msg")
	if _, err := s.store.GetEvent(r.Context(), tenantID, id); err != nil {
		if errors.Is(err, hookd.ErrNotFound) {
			return nil, hookd.Errorf(hookd.ErrNotFound, "message %s not found", id)
		}
		return nil, err
	}
	return s.store.ListEventDeliveries(r.Context(), tenantID, id)
}

// messageEndpointAttempts is the attempts of a message to one endpoint
// (Svix's older route for attempts by message with endpoint_id).
func (s *Server) messageEndpointAttempts(w http.ResponseWriter, r *http.Request) error {
	ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	return s.listMessageAttempts(w, r, ep.TenantID, func(d *hookd.Delivery, _ *hookd.Webhook) bool { return d.WebhookID == ep.ID })
}

// endpointMessageOut is Svix's EndpointMessageOut: a message sent to an
// endpoint, with that delivery's status. Only its fields (see
// messageEndpointOut).
type endpointMessageOut struct {
	messageOut
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText,omitempty"`
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
}

// attemptedMessages lists the messages sent to an endpoint, newest first,
// each with its delivery's status. As with attempts by endpoint, the
// iterator pages the endpoint's deliveries, and Svix's filters (status as
// a MessageStatus, event_types, channel, after/before the message's time,
// with_content, tag) leave some of each page out.
func (s *Server) attemptedMessages(w http.ResponseWriter, r *http.Request) error {
	ep, err := s.endpointPage(r)
	if err != nil {
		return err
	}
	f, p, ds := ep.filter, ep.page, ep.deliveries
	out := []endpointMessageOut{}
	listed := map[string]bool{}
	sh := shapeOf(r)
	for _, d := range ds {
		status := sh.status(d.Status)
		// A message listed once (a replay may have given it a second
		// delivery to the endpoint): the newest, listed first, stands,
		// and its status is the message's, so an older delivery does not
		// stand in for it when the filter leaves the newest out.
		if listed[d.EventID] {
			continue
		}
		listed[d.EventID] = true
		if f.types != nil && !f.types[d.EventType] || f.status != nil && status != *f.status {
			continue
		}
		ev, err := s.store.GetEvent(r.Context(), d.TenantID, d.EventID)
		if errors.Is(err, hookd.ErrNotFound) {
			continue // pruned since the deliveries were read
		}
		if err != nil {
			return err
		}
		if !f.event(ev) ||
			!f.after.IsZero() && ev.Timestamp.Before(f.after) || !f.before.IsZero() && ev.Timestamp.After(f.before) {
			continue
		}
		out = append(out, endpointMessageOut{messageOut: toMessage(ev, f.withContent), Status: status, StatusText: sh.text(status), NextAttempt: nextAttempt(d)})
	}
	writeJSON(w, http.StatusOK, newList(out, p, len(ds), ep.total))
	return nil
}

// Event types are the catalog's. Svix keeps a schema per version
// ("schemas": {"1": …}); hookd keeps one, version 1.

type eventTypeIn struct {
	Name        string                     `json:"name"`
	Description string                     `json:"description"`
	Archived    bool                       `json:"archived"`
	Deprecated  bool                       `json:"deprecated"`
	FeatureFlag *string                    `json:"featureFlag"`
	GroupName   *string                    `json:"groupName"`
	Schemas     map[string]json.RawMessage `json:"schemas"`
}

type eventTypeOut struct {
	Name        string                     `json:"name"`
	Description string                     `json:"description"`
	Archived    bool                       `json:"archived"`
	Deprecated  bool                       `json:"deprecated"`
	FeatureFlag *string                    `json:"featureFlag,omitempty"`
	GroupName   *string                    `json:"groupName,omitempty"`
	Schemas     map[string]json.RawMessage `json:"schemas,omitempty"`
	CreatedAt   time.Time                  `json:"createdAt"`
	UpdatedAt   time.Time                  `json:"updatedAt"`
}

// deref is *s, or "" when s is nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// orNil is s, or nil when it is empty (an absent field).
func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toEventType(et *hookd.EventType) eventTypeOut {
	out := eventTypeOut{Name: et.Name, Description: et.Description, Archived: et.Archived, Deprecated: et.Deprecated,
		FeatureFlag: orNil(et.FeatureFlag), GroupName: orNil(et.GroupName), CreatedAt: et.CreatedAt, UpdatedAt: et.UpdatedAt}
	if len(et.Schema) > 0 {
		out.Schemas = map[string]json.RawMessage{"1": et.Schema}
	}
	return out
}

func (s *Server) createEventType(w http.ResponseWriter, r *http.Request) error {
	var in eventTypeIn
	if err := decode(r, &in); err != nil {
		return err
	}
	return s.addEventType(w, r, in)
}

func (s *Server) addEventType(w http.ResponseWriter, r *http.Request, in eventTypeIn) error {
	et := &hookd.EventType{Name: in.Name, Description: in.Description, Archived: in.Archived, Deprecated: in.Deprecated,
		FeatureFlag: deref(in.FeatureFlag), GroupName: deref(in.GroupName)}
	schema, err := versionOne(in.Schemas)
	if err != nil {
		return err
	}
	et.Schema = schema
	err = s.svc.CreateEventType(r.Context(), et, hookd.SvixNames, nil)
	if errors.Is(err, hookd.ErrConflict) {
		// As svix-server: making a type that was deleted (archived) brings
		// it back, as the body describes it.
		if old, gerr := s.store.GetEventType(r.Context(), in.Name); gerr == nil && old.Archived && !hookd.SystemEventType(in.Name) {
			et, err = s.svc.UpdateEventType(r.Context(), in.Name, func(e *hookd.EventType, _ *hookd.ValidationError) {
				e.Description, e.Archived, e.Schema = in.Description, in.Archived, schema // none given: none
				e.Deprecated, e.FeatureFlag, e.GroupName = in.Deprecated, et.FeatureFlag, et.GroupName
			})
		}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toEventType(et))
	return nil
}

func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request) error {
	all, err := s.store.ListEventTypes(r.Context())
	if err != nil {
		return err
	}
	includeArchived := r.URL.Query().Get("include_archived") == "true"
	var listed []*hookd.EventType
	for _, et := range all {
		if !hookd.SystemEventType(et.Name) && (!et.Archived || includeArchived) {
			listed = append(listed, et)
		}
	}
	// The catalog is small and read whole; the page is cut from it, as
	// limit and iterator (an offset) say.
	p, err := page(r)
	if err != nil {
		return err
	}
	from := min(p.Offset, len(listed))
	to := min(from+p.Limit, len(listed))
	// As Svix's server: the schemas only with with_content=true.
	withContent := r.URL.Query().Get("with_content") == "true"
	out := make([]eventTypeOut, 0, to-from)
	for _, et := range listed[from:to] {
		o := toEventType(et)
		if !withContent {
			o.Schemas = nil
		}
		out = append(out, o)
	}
	writeJSON(w, http.StatusOK, newList(out, p, len(out), len(listed)))
	return nil
}

func (s *Server) getEventType(w http.ResponseWriter, r *http.Request) error {
	et, err := s.store.GetEventType(r.Context(), r.PathValue("name"))
	if errors.Is(err, hookd.ErrNotFound) {
		return hookd.Errorf(hookd.ErrNotFound, "event type %s not found", r.PathValue("name"))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEventType(et))
	return nil
}

// updateEndpoint is Svix's PUT: the endpoint becomes what the body says
// (absent lists and fields are cleared), through the service's one edit.
func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.endpoint(r)
	var in endpointIn
	if errors.Is(err, hookd.ErrNotFound) {
		// Svix's PUT makes the endpoint it does not find, the path
		// naming it (its uid).
		t, terr := s.app(r)
		if terr != nil {
			return terr
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		in.UID = r.PathValue("endpoint")
		wh, err := s.addEndpoint(r.Context(), t, in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, toEndpoint(wh, shapeOf(r)))
		return nil
	}
	if err != nil {
		return err
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	in.aliases()
	var wh *hookd.Webhook
	err = s.withTypes(r.Context(), in.FilterTypes, func() (err error) {
		wh, err = s.svc.UpdateWebhook(r.Context(), cur.TenantID, cur.ID, time.Time{}, s.putEdit(in))
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEndpoint(wh, shapeOf(r)))
	return nil
}

// putEdit is PUT's edit of an endpoint: it becomes what in says.
func (s *Server) putEdit(in endpointIn) func(wh *hookd.Webhook, _ *hookd.ValidationError) {
	return func(wh *hookd.Webhook, _ *hookd.ValidationError) {
		wh.URL, wh.Description, wh.Channels, wh.Enabled = in.URL, in.Description, in.Channels, !in.Disabled
		if in.Description != "" {
			wh.Name = endpointName(in.Description, in.URL)
		}
		wh.Events = []string{hookd.AllEvents}
		if len(in.FilterTypes) > 0 {
			wh.Events = in.FilterTypes
		}
		wh.RateLimit = 0
		if in.RateLimit != nil {
			wh.RateLimit = *in.RateLimit
		}
		wh.Metadata = in.Metadata // absent: none, as Svix's PUT (an outside audit: it kept it)
		if in.UID != "" {
			wh.UID = in.UID // a new one (409 when another endpoint has it); absent keeps it
		}
	}
}

func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.endpoint(r)
	if err != nil {
		return err
	}
	longDelete(w)
	if err := s.svc.DeleteWebhook(r.Context(), wh.TenantID, wh.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// toMessage is an event as Svix's message; without content its payload
// is {} (Svix's with_content=false). Its eventId is its id when the caller
// gave it (hookd's own ids begin evt_; a caller's eventId that does too
// reads back as none).
func toMessage(ev *hookd.Event, withContent bool) messageOut {
	out := messageOut{ID: ev.ID, EventType: ev.Type, Channels: ev.Channels, Tags: ev.Tags, Timestamp: ev.Timestamp, Payload: json.RawMessage("{}")}
	if !strings.HasPrefix(ev.ID, hookd.PrefixEvent) {
		id := ev.ID
		out.EventID = &id
	}
	if !withContent {
		return out
	}
	if env, err := ev.Envelope(); err == nil && env.Data != nil {
		out.Payload = env.Data
	}
	return out
}

// listMessages pages the application's events newest first; the iterator
// is the last one's seq.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) error {
	t, err := s.app(r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	q := hookd.EventQuery{TenantID: t.ID, Limit: p.Limit + 1, NoSystem: true, Channel: qs.Get("channel"), Tag: qs.Get("tag")}
	if it := qs.Get("iterator"); it != "" {
		if q.Before, err = strconv.ParseInt(it, 10, 64); err != nil {
			return invalidQuery("iterator", "is not an iterator this API gave")
		}
	}
	q.Types = queryTypes(qs)
	v := &hookd.ValidationError{}
	if len(q.Types) > 100 {
		// Each is a parameter of the query.
		v.Add(queryField+"event_types", "must name at most 100 types")
	}
	queryTime(qs, v, "after", &q.Since)
	queryTime(qs, v, "before", &q.Until)
	if err := v.Err(); err != nil {
		return err
	}
	withContent := qs.Get("with_content") != "false"
	evs, err := s.store.ListEvents(r.Context(), q)
	if err != nil {
		return err
	}
	l := list[messageOut]{Data: []messageOut{}, Done: len(evs) <= p.Limit}
	if !l.Done {
		evs = evs[:p.Limit]
	}
	if len(evs) > 0 { // on the last page too, as Svix's
		next := strconv.FormatInt(evs[len(evs)-1].Seq, 10)
		l.Iterator = &next
	}
	for _, ev := range evs {
		l.Data = append(l.Data, toMessage(ev, withContent))
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) error {
	t, err := s.app(r)
	if err != nil {
		return err
	}
	ev, err := s.store.GetEvent(r.Context(), t.ID, r.PathValue("msg"))
	if errors.Is(err, hookd.ErrNotFound) {
		return hookd.Errorf(hookd.ErrNotFound, "message %s not found", r.PathValue("msg"))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toMessage(ev, r.URL.Query().Get("with_content") != "false"))
	return nil
}

// putApp is Svix's PUT: it renames the application, or makes it (the path
// naming it) when there is none.
func (s *Server) putApp(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.app(r); errors.Is(err, hookd.ErrNotFound) {
		var in appIn
		if err := decode(r, &in); err != nil {
			return err
		}
		t := &hookd.Tenant{ID: r.PathValue("app"), Name: in.Name, Metadata: in.Metadata}
		if err := s.svc.CreateTenant(r.Context(), t, nil); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, toApp(t))
		return nil
	}
	return s.editApp(w, r, true)
}

// patchApp changes an application's name and metadata (all hookd keeps
// of it but its id).
func (s *Server) patchApp(w http.ResponseWriter, r *http.Request) error {
	return s.editApp(w, r, false)
}

// editApp is PATCH's edit, or PUT's: that one replaces the metadata, an
// absent one with none, as Svix's PUT does (an outside audit: it kept it).
func (s *Server) editApp(w http.ResponseWriter, r *http.Request, put bool) error {
	t, err := s.app(r)
	if err != nil {
		return err
	}
	var in struct {
		Name     *string            `json:"name"`
		Metadata *map[string]string `json:"metadata"`
		UID      *string            `json:"uid"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.UID != nil && *in.UID != t.ID {
		// An application's uid is its tenant's id, which names everything
		// the tenant has: it cannot change.
		return hookd.Invalid("uid", "cannot change: an application's uid is its hookd tenant id (%s)", t.ID)
	}
	if put && in.Metadata == nil {
		in.Metadata = new(map[string]string)
	}
	if in.Name != nil || in.Metadata != nil {
		if t, err = s.svc.UpdateTenant(r.Context(), t.ID, func(t *hookd.Tenant, _ *hookd.ValidationError) {
			if in.Name != nil {
				t.Name = *in.Name
			}
			if in.Metadata != nil {
				t.Metadata = *in.Metadata
			}
		}); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, toApp(t))
	return nil
}

// patchEndpoint changes the fields the body names.
func (s *Server) patchEndpoint(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.endpoint(r)
	if err != nil {
		return err
	}
	// A nullable field is left alone when absent and cleared by null, as
	// in Svix (filterTypes: every type; rateLimit: none).
	var in struct {
		URL          *string            `json:"url"`
		Description  *string            `json:"description"`
		FilterTypes  nullable[[]string] `json:"filterTypes"`
		EventTypes   nullable[[]string] `json:"eventTypes"`
		Channels     nullable[[]string] `json:"channels"`
		Disabled     *bool              `json:"disabled"`
		RateLimit    nullable[int]      `json:"rateLimit"`
		ThrottleRate nullable[int]      `json:"throttleRate"`
		Metadata     *map[string]string `json:"metadata"`
		Secret       *string            `json:"secret"`
		UID          nullable[string]   `json:"uid"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if !in.RateLimit.set {
		in.RateLimit = in.ThrottleRate
	}
	if !in.FilterTypes.set {
		in.FilterTypes = in.EventTypes
	}
	if in.Secret != nil {
		// Checked first, by the webhook's own scheme (one made through
		// /v1 may sign otherwise), so that a bad one changes nothing.
		key := svixKey(cur.Signature, *in.Secret)
		if err := hookd.ValidateSecret(cur.Signature.SchemeName(), key); err != nil {
			return hookd.Invalid("secret", "%v", err)
		}
		in.Secret = &key
	}
	types := in.FilterTypes.v
	var wh *hookd.Webhook
	err = s.withTypes(r.Context(), types, func() (err error) {
		wh, err = s.svc.UpdateWebhook(r.Context(), cur.TenantID, cur.ID, time.Time{}, func(wh *hookd.Webhook, _ *hookd.ValidationError) {
			if in.URL != nil {
				wh.URL = *in.URL
			}
			if in.Description != nil {
				wh.Description = *in.Description
			}
			if in.FilterTypes.set {
				wh.Events = []string{hookd.AllEvents}
				if len(in.FilterTypes.v) > 0 {
					wh.Events = in.FilterTypes.v
				}
			}
			if in.Channels.set {
				wh.Channels = in.Channels.v
			}
			if in.Disabled != nil {
				wh.Enabled = !*in.Disabled
			}
			if in.RateLimit.set {
				wh.RateLimit = in.RateLimit.v // null: 0, none
			}
			if in.Metadata != nil {
				wh.Metadata = *in.Metadata
			}
			if in.UID.set {
				wh.UID = in.UID.v // null clears it; a taken one is 409
			}
		})
		return err
	})
	if err != nil {
		return err
	}
	if in.Secret != nil {
		// A new secret, as a rotation: the old one signs on for the
		// grace, so receivers can follow.
		if err := s.rotate(r.Context(), wh, in.Secret, nil); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, toEndpoint(wh, shapeOf(r)))
	return nil
}

// svixPing is the event type Svix sends to test an endpoint.
const svixPing = "svix.ping"

// sendExample sends the event type's example (exampleIndex, default the
// first) to the endpoint now, as a test send.
func (s *Server) sendExample(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		EventType    string `json:"eventType"`
		ExampleIndex int    `json:"exampleIndex"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.EventType == "" { // checked first, as Svix's server checks its body
		return hookd.Invalid("eventType", "is required")
	}
	wh, err := s.endpoint(r)
	if err != nil {
		return err
	}
	// As Svix's server: svix.ping sends {"success": true}; any other type
	// must be in the catalog (404) with an example, hookd's own or its
	// schema's "examples" (where Svix keeps them), else 400.
	data := json.RawMessage(`{"success": true}`)
	if in.EventType != svixPing {
		et, err := s.svc.EventType(r.Context(), in.EventType)
		if err != nil {
			return err
		}
		examples := et.Examples
		if len(examples) == 0 {
			var sch struct {
				Examples []json.RawMessage `json:"examples"`
			}
			_ = json.Unmarshal(et.Schema, &sch)
			examples = sch.Examples
		}
		switch {
		case len(examples) == 0:
			return &svixStatus{http.StatusBadRequest, "invalid_scheme", "Unable to generate example message from event-type schema"}
		case in.ExampleIndex < 0 || in.ExampleIndex >= len(examples):
			return hookd.Invalid("exampleIndex", "must be from 0 to %d, the type's examples", len(examples)-1)
		}
		data = examples[in.ExampleIndex]
	}
	res, err := s.svc.Test(r.Context(), wh.TenantID, wh.ID, in.EventType, data)
	if err != nil {
		return err
	}
	ev, err := s.store.GetEvent(r.Context(), wh.TenantID, res.EventID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toMessage(ev, true)) // Svix answers send-example 200, not 202
	return nil
}

// endpointStats counts the endpoint's deliveries as Svix's statuses: a
// waiting (PENDING or RETRYING) delivery is pending; none is counted as
// sending.
func (s *Server) endpointStats(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.endpoint(r)
	if err != nil {
		return err
	}
	// since and until bound the deliveries' creation time, as Svix's do.
	// The statistics count what retention pruned too (its hourly roll-ups,
	// in the hours the window holds whole), as /v1's do: before, they
	// counted the deliveries still kept, and fell as history was pruned.
	q := hookd.StatsQuery{TenantID: wh.TenantID, WebhookID: wh.ID}
	v := &hookd.ValidationError{}
	queryTime(r.URL.Query(), v, "since", &q.Since)
	queryTime(r.URL.Query(), v, "until", &q.Until)
	if err := v.Err(); err != nil {
		return err
	}
	st, err := s.store.Stats(r.Context(), q)
	if err != nil {
		return err
	}
	count := st.ByStatus
	sh := shapeOf(r)
	out := map[string]int{"success": count[hookd.StatusSuccess], "fail": count[hookd.StatusFailed],
		"pending": count[hookd.StatusPending] + count[hookd.StatusRetrying], "sending": 0}
	if sh.current {
		out["canceled"] = count[hookd.StatusCanceled]
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getHeaders(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.endpoint(r)
	if err != nil {
		return err
	}
	out := struct {
		Headers   map[string]string `json:"headers"`
		Sensitive []string          `json:"sensitive"`
	}{Headers: map[string]string{}, Sensitive: []string{}}
	for k, v := range wh.Headers {
		if hookd.SensitiveHeader(k) { // listed under "sensitive", as Svix does
			out.Sensitive = append(out.Sensitive, k)
			continue
		}
		out.Headers[k] = v
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// setHeaders is PUT (the headers become the body's) and PATCH (the body's
// are set, a null value removes one).
func (s *Server) setHeaders(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.endpoint(r)
	if err != nil {
		return err
	}
	var in struct {
		Headers map[string]*string `json:"headers"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	_, err = s.svc.UpdateWebhook(r.Context(), cur.TenantID, cur.ID, time.Time{}, func(wh *hookd.Webhook, _ *hookd.ValidationError) {
		if r.Method == http.MethodPut || wh.Headers == nil {
			wh.Headers = map[string]string{}
		}
		for k, v := range in.Headers {
			if v == nil {
				delete(wh.Headers, k)
			} else {
				wh.Headers[k] = *v
			}
		}
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// versionOne is the schema of a Svix schemas map: hookd keeps one, as
// version 1; nil when none is given.
func versionOne(schemas map[string]json.RawMessage) (json.RawMessage, error) {
	if len(schemas) > 1 {
		return nil, hookd.Invalid("schemas", "hookd keeps one schema per event type: give only version 1")
	}
	for version, schema := range schemas {
		if version != "1" {
			return nil, hookd.Invalid("schemas", "hookd keeps one schema per event type: give it as version 1, not %q", version)
		}
		return schema, nil
	}
	return nil, nil
}

// putEventType is Svix's PUT: it changes the type, or makes it (the path
// naming it) when the catalog lacks it.
func (s *Server) putEventType(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.store.GetEventType(r.Context(), r.PathValue("name")); errors.Is(err, hookd.ErrNotFound) {
		var in eventTypeIn
		if err := decode(r, &in); err != nil {
			return err
		}
		in.Name = r.PathValue("name")
		return s.addEventType(w, r, in)
	}
	return s.editEventType(w, r, true)
}

func (s *Server) updateEventType(w http.ResponseWriter, r *http.Request) error {
	return s.editEventType(w, r, false)
}

// editEventType is PATCH's edit: what the body names changes, a null
// clears; or PUT's, which sets every field, an absent one to its default
// (not archived, not deprecated, no flag, group or schema), as Svix's
// (an outside audit: PUT kept them, and a PATCH's null schemas did too).
func (s *Server) editEventType(w http.ResponseWriter, r *http.Request, put bool) error {
	var in struct {
		Description *string                              `json:"description"`
		Archived    *bool                                `json:"archived"`
		Deprecated  *bool                                `json:"deprecated"`
		FeatureFlag nullable[string]                     `json:"featureFlag"`
		GroupName   nullable[string]                     `json:"groupName"`
		Schemas     nullable[map[string]json.RawMessage] `json:"schemas"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if put {
		in.Archived, in.Deprecated = cmp.Or(in.Archived, new(bool)), cmp.Or(in.Deprecated, new(bool))
		in.FeatureFlag.set, in.GroupName.set, in.Schemas.set = true, true, true
	}
	schema, err := versionOne(in.Schemas.v)
	if err != nil {
		return err
	}
	et, err := s.svc.UpdateEventType(r.Context(), r.PathValue("name"), func(et *hookd.EventType, _ *hookd.ValidationError) {
		if in.Description != nil {
			et.Description = *in.Description
		}
		if in.Archived != nil {
			et.Archived = *in.Archived
		}
		if in.Deprecated != nil {
			et.Deprecated = *in.Deprecated
		}
		if in.FeatureFlag.set {
			et.FeatureFlag = in.FeatureFlag.v // null: none
		}
		if in.GroupName.set {
			et.GroupName = in.GroupName.v
		}
		if in.Schemas.set {
			et.Schema = schema // null or {}: none
		}
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEventType(et))
	return nil
}

// archiveEventType is DELETE: the type is archived, as in Svix (its
// webhooks and past events stay readable).
func (s *Server) archiveEventType(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.ArchiveEventType(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
