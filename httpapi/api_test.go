package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/httpapi"
	"github.com/hookd/hookd/internal/teststore"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/queue"
	"github.com/hookd/hookd/service"
)

const adminKey = "test-admin-key"

type env struct {
	t     testing.TB
	srv   *httptest.Server
	store hookd.Store
	api   *httpapi.Server
	svc   *service.Service
}

// config is what a test may change: the API's and its service's.
type config struct {
	httpapi.Config
	svc service.Config
}

func newEnv(t testing.TB, mods ...func(*config)) *env {
	t.Helper()
	store := teststore.Open(t)
	cfg := config{Config: httpapi.Config{AdminKeyHash: hookd.HashKey(adminKey)}, svc: service.Config{Store: store, Guard: &netguard.Policy{Resolver: netguard.Offline}}}
	for _, m := range mods {
		m(&cfg)
	}
	if cfg.svc.Guard.Resolver == nil {
		cfg.svc.Guard.Resolver = netguard.Offline // tests send no DNS query off the machine
	}
	svc := service.New(cfg.svc)
	cfg.Service = svc
	api := httpapi.New(cfg.Config)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: store, api: api, svc: svc}
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (e *env) do(method, path, key string, body any, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := &resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
		}
	}
	return r
}

// want checks the status and, for errors, the contract's error shape.
func (r *resp) want(t testing.TB, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if status >= 400 {
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("error Content-Type = %q", ct)
		}
		e, ok := r.body["error"].(map[string]any)
		if !ok || e["code"] == "" || e["message"] == "" {
			t.Fatalf("error body lacks error.code/message: %s", r.raw)
		}
	}
	return r
}

func (r *resp) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// fields returns the fields named in error.details.
func (r *resp) fields() []string {
	e, _ := r.body["error"].(map[string]any)
	ds, _ := e["details"].([]any)
	var out []string
	for _, d := range ds {
		m := d.(map[string]any)
		out = append(out, m["field"].(string))
	}
	return out
}

func (r *resp) hasField(t testing.TB, field string) {
	t.Helper()
	for _, f := range r.fields() {
		if f == field {
			return
		}
	}
	t.Fatalf("details %v lack field %q; body %s", r.fields(), field, r.raw)
}

func (e *env) tenant(id string) {
	e.t.Helper()
	e.do("POST", "/v1/tenants", adminKey, map[string]any{"id": id, "name": "Tenant " + id}).want(e.t, 201)
}

func (e *env) tenantKey(id string) string {
	e.t.Helper()
	r := e.do("POST", "/v1/tenants/"+id+"/api-keys", adminKey, map[string]any{"name": "k"}).want(e.t, 201)
	return r.body["key"].(string)
}

func (e *env) eventType(name string, schema any) {
	e.t.Helper()
	body := map[string]any{"name": name, "description": "about " + name}
	if schema != nil {
		body["schema"] = schema
	}
	e.do("POST", "/v1/event-types", adminKey, body).want(e.t, 201)
}

func (e *env) webhook(tenant string, body map[string]any) string {
	e.t.Helper()
	if body["name"] == nil {
		body["name"] = "hook"
	}
	if body["url"] == nil {
		body["url"] = "https://example.com/hook"
	}
	if body["events"] == nil {
		body["events"] = []string{"*"}
	}
	r := e.do("POST", "/v1/tenants/"+tenant+"/webhooks", adminKey, body).want(e.t, 201)
	return r.body["id"].(string)
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/healthz", "", nil).want(t, 200)
	e.do("GET", "/readyz", "", nil).want(t, 200)
	e.store.Close()
	r := e.do("GET", "/readyz", "", nil).want(t, 503)
	if r.code() != "unavailable" {
		t.Fatalf("code = %s", r.code())
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.tenant("globex")
	acme := e.tenantKey("acme")
	e.eventType("a.b", nil)

	tests := []struct {
		name         string
		method, path string
		key          string
		body         any
		status       int
	}{
		{"no key", "GET", "/v1/tenants", "", nil, 401},
		{"unknown key", "GET", "/v1/tenants", "nope", nil, 401},
		{"admin lists tenants", "GET", "/v1/tenants", adminKey, nil, 200},
		{"tenant key lists tenants", "GET", "/v1/tenants", acme, nil, 404}, // outside its tenant: not one of the contract's 403 routes
		{"tenant key creates tenant", "POST", "/v1/tenants", acme, map[string]any{"id": "x", "name": "x"}, 404},
		{"tenant reads itself", "GET", "/v1/tenants/acme", acme, nil, 200},
		{"tenant reads another", "GET", "/v1/tenants/globex", acme, nil, 404},
		{"tenant reads missing", "GET", "/v1/tenants/missing", acme, nil, 404},
		{"admin reads missing", "GET", "/v1/tenants/missing", adminKey, nil, 404},
		{"tenant patches itself", "PATCH", "/v1/tenants/acme", acme, map[string]any{"name": "n"}, 403},
		{"tenant deletes itself", "DELETE", "/v1/tenants/acme", acme, nil, 403},
		{"tenant patches another", "PATCH", "/v1/tenants/globex", acme, map[string]any{"name": "n"}, 404},
		{"tenant makes keys", "POST", "/v1/tenants/acme/api-keys", acme, map[string]any{"name": "n"}, 403},
		{"tenant lists keys", "GET", "/v1/tenants/acme/api-keys", acme, nil, 403},
		{"tenant lists other's keys", "GET", "/v1/tenants/globex/api-keys", acme, nil, 404},
		{"tenant reads event types", "GET", "/v1/event-types", acme, nil, 200},
		{"tenant writes event types", "POST", "/v1/event-types", acme, map[string]any{"name": "x", "description": ""}, 403},
		{"tenant patches event types", "PATCH", "/v1/event-types/a.b", acme, map[string]any{"description": ""}, 403},
		{"tenant archives event types", "DELETE", "/v1/event-types/a.b", acme, nil, 403},
		{"tenant lists its webhooks", "GET", "/v1/tenants/acme/webhooks", acme, nil, 200},
		{"tenant lists other's webhooks", "GET", "/v1/tenants/globex/webhooks", acme, nil, 404},
		{"tenant publishes to other", "POST", "/v1/tenants/globex/events", acme, map[string]any{"type": "a.b", "data": map[string]any{}}, 404},
		{"tenant publishes", "POST", "/v1/tenants/acme/events", acme, map[string]any{"type": "a.b", "data": map[string]any{}}, 202},
		{"lower-case bearer", "GET", "/v1/tenants", "", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.do(tt.method, tt.path, tt.key, tt.body).want(t, tt.status)
		})
	}
	// Scheme names are case-insensitive (RFC 9110).
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/tenants", nil)
	req.Header.Set("Authorization", "bearer "+adminKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("lower-case bearer: %d", res.StatusCode)
	}
}

func TestAPIKeyRevocation(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	r := e.do("POST", "/v1/tenants/acme/api-keys", adminKey, map[string]any{"name": "ci"}).want(t, 201)
	key, id := r.body["key"].(string), r.body["id"].(string)
	if !strings.HasPrefix(id, "key_") || r.body["name"] != "ci" || r.body["createdAt"] == nil {
		t.Fatalf("key answer = %s", r.raw)
	}
	e.do("GET", "/v1/tenants/acme/webhooks", key, nil).want(t, 200)
	list := e.do("GET", "/v1/tenants/acme/api-keys", adminKey, nil).want(t, 200)
	if bytes.Contains(list.raw, []byte(key)) || bytes.Contains(list.raw, []byte(`"key"`)) {
		t.Fatalf("list shows the key: %s", list.raw)
	}
	e.do("DELETE", "/v1/tenants/acme/api-keys/"+id, adminKey, nil).want(t, 204)
	e.do("GET", "/v1/tenants/acme/webhooks", key, nil).want(t, 401)
	e.do("DELETE", "/v1/tenants/acme/api-keys/"+id, adminKey, nil).want(t, 404)
	e.do("POST", "/v1/tenants/acme/api-keys", adminKey, map[string]any{}).want(t, 422).hasField(t, "name")
}

// A /v1 route that is not there needs a key all the same: 401 without
// one, 404 with one.
func TestNoRoute(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/v1/nope", "", nil).want(t, 401)
	e.do("GET", "/v1/nope", "wrong", nil).want(t, 401)
	if r := e.do("GET", "/v1/nope", adminKey, nil).want(t, 404); r.body["error"].(map[string]any)["code"] != "not_found" {
		t.Fatalf("no route: %s", r.raw)
	}
	e.do("GET", "/nope", "", nil).want(t, 404)
}

func TestTenants(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/tenants", adminKey, map[string]any{"id": "acme_1.x-y", "name": "Acme"}).want(t, 201)
	if r.body["id"] != "acme_1.x-y" || r.body["name"] != "Acme" || r.body["createdAt"] == nil {
		t.Fatalf("tenant = %s", r.raw)
	}
	e.do("POST", "/v1/tenants", adminKey, map[string]any{"id": "acme_1.x-y", "name": "Again"}).want(t, 409)
	e.do("POST", "/v1/tenants", adminKey, map[string]any{"id": "bad id!", "name": "x"}).want(t, 422).hasField(t, "id")
	e.do("POST", "/v1/tenants", adminKey, map[string]any{"id": strings.Repeat("a", 65), "name": "x"}).want(t, 422).hasField(t, "id")
	e.do("POST", "/v1/tenants", adminKey, map[string]any{"id": "x"}).want(t, 422).hasField(t, "name")
	e.do("POST", "/v1/tenants", adminKey, map[string]any{"id": "x", "name": "x", "extra": 1}).want(t, 400)
	e.do("POST", "/v1/tenants", adminKey, `{"id": "x",`).want(t, 400)
	e.do("POST", "/v1/tenants", adminKey, `[1]`).want(t, 400)
	e.do("POST", "/v1/tenants", adminKey, `{"id":"x","name":"x"} {}`).want(t, 400)
	e.do("POST", "/v1/tenants", adminKey, ``).want(t, 400)

	e.do("PATCH", "/v1/tenants/acme_1.x-y", adminKey, map[string]any{"name": "Renamed"}).want(t, 200)
	if got := e.do("GET", "/v1/tenants/acme_1.x-y", adminKey, nil).want(t, 200); got.body["name"] != "Renamed" {
		t.Fatalf("after PATCH: %s", got.raw)
	}
	e.do("PATCH", "/v1/tenants/acme_1.x-y", adminKey, map[string]any{"id": "other"}).want(t, 400)
	for i := 0; i < 4; i++ {
		e.tenant(fmt.Sprintf("t%d", i))
	}
	list := e.do("GET", "/v1/tenants?limit=2&page=2", adminKey, nil).want(t, 200)
	if data := list.body["data"].([]any); len(data) != 2 || list.body["total"].(float64) != 5 || list.body["offset"].(float64) != 2 {
		t.Fatalf("page 2: %s", list.raw)
	}
	e.do("DELETE", "/v1/tenants/t0", adminKey, nil).want(t, 204)
	e.do("GET", "/v1/tenants/t0", adminKey, nil).want(t, 404)
	e.do("DELETE", "/v1/tenants/t0", adminKey, nil).want(t, 404)
}

func TestEventTypes(t *testing.T) {
	e := newEnv(t)
	schema := map[string]any{"type": "object", "required": []string{"id"}, "properties": map[string]any{"id": map[string]any{"type": "string"}}}
	r := e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "invocation.completed", "description": "An invocation finished", "schema": schema}).want(t, 201)
	if r.body["archived"] != false || r.body["schema"] == nil {
		t.Fatalf("event type = %s", r.raw)
	}
	e.eventType("flow_completed", nil)
	e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "flow_completed", "description": ""}).want(t, 409)
	for _, bad := range []string{"Invocation.Completed", "a..b", ".a", "a.", "a-b", ""} {
		e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": bad, "description": ""}).want(t, 422).hasField(t, "name")
	}
	e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "x.y", "description": "", "schema": map[string]any{"type": "nonsense"}}).want(t, 422).hasField(t, "schema")
	e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "x.y", "description": "", "schema": "string"}).want(t, 422).hasField(t, "schema")
	e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "x.y", "description": "", "schema": map[string]any{"$ref": "file:///etc/passwd"}}).want(t, 422).hasField(t, "schema")
	e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "x.y"}).want(t, 422).hasField(t, "description")

	e.do("PATCH", "/v1/event-types/flow_completed", adminKey, map[string]any{"description": "new", "schema": map[string]any{"type": "object"}}).want(t, 200)
	e.do("PATCH", "/v1/event-types/flow_completed", adminKey, map[string]any{"name": "renamed"}).want(t, 400)
	e.do("PATCH", "/v1/event-types/missing", adminKey, map[string]any{"description": "x"}).want(t, 404)
	e.do("DELETE", "/v1/event-types/flow_completed", adminKey, nil).want(t, 204)
	list := e.do("GET", "/v1/event-types", adminKey, nil).want(t, 200)
	data := list.body["data"].([]any)
	if len(data) != 5 { // and hookd's own three
		t.Fatalf("list = %s", list.raw)
	}
	for _, d := range data {
		m := d.(map[string]any)
		if m["name"] == "flow_completed" && (m["archived"] != true || m["description"] != "new") {
			t.Fatalf("archived type = %v", m)
		}
	}
	// Un-archiving is a PATCH.
	e.do("PATCH", "/v1/event-types/flow_completed", adminKey, map[string]any{"archived": false}).want(t, 200)

	// hookd's own types: listed, but not made, changed, archived or
	// published by anyone else; "*" does not include them.
	e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "hookd.custom", "description": ""}).want(t, 422).hasField(t, "name")
	e.do("PATCH", "/v1/event-types/hookd.webhook.disabled", adminKey, map[string]any{"description": "x"}).want(t, 422)
	e.do("DELETE", "/v1/event-types/hookd.webhook.disabled", adminKey, nil).want(t, 422)
	e.tenant("acme")
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "hookd.webhook.disabled",
		"data": map[string]any{"webhookId": "wh_x", "name": "n", "url": "u", "reason": "gone"}}).want(t, 422).hasField(t, "type")
	all := e.webhook("acme", map[string]any{"events": []string{"*"}})
	ops := e.webhook("acme", map[string]any{"events": []string{"hookd.*"}})
	one := e.webhook("acme", map[string]any{"events": []string{"hookd.webhook.recovered"}})
	for _, c := range []struct {
		typ  string
		want []string
	}{{"hookd.webhook.disabled", []string{ops}}, {"hookd.webhook.recovered", []string{ops, one}}, {"flow_completed", []string{all}}} {
		hooks, err := e.svc.Match(context.Background(), &hookd.Event{TenantID: "acme", Type: c.typ}, []byte(`{}`), nil)
		var ids []string
		for _, wh := range hooks {
			ids = append(ids, wh.ID)
		}
		slices.Sort(ids)
		slices.Sort(c.want)
		if err != nil || strings.Join(ids, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s matched %v, want %v (%v)", c.typ, ids, c.want, err)
		}
	}
}

func TestWebhookCreate(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("invocation.completed", nil)
	e.eventType("invocation.failed", nil)
	e.eventType("document.uploaded", nil)
	e.eventType("old.thing", nil)
	e.do("DELETE", "/v1/event-types/old.thing", adminKey, nil).want(t, 204)

	r := e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{
		"name": "Orders", "url": "https://example.com/hooks?x=1", "events": []string{"invocation.*", "document.uploaded"},
		"headers": map[string]string{"X-Team": "blue"}, "timeoutMs": 5000, "enabled": false, "sslVerification": false,
		"channels": []string{"eu"}, "filter": `data.amount > 100 && type.startsWith("invocation.")`, "maxAttempts": 3,
		"rateLimit": 10, "description": "d", "metadata": map[string]string{"owner": "ops"},
	}).want(t, 201)
	id := r.body["id"].(string)
	secret, _ := r.body["secret"].(string)
	if !strings.HasPrefix(id, "wh_") || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("create = %s", r.raw)
	}
	if key, err := hookd.StandardKey(secret); err != nil || len(key) != 32 {
		t.Fatalf("generated secret %q: %v", secret, err)
	}
	for field, want := range map[string]any{
		"name": "Orders", "url": "https://example.com/hooks?x=1", "timeoutMs": 5000.0, "enabled": false,
		"sslVerification": false, "maxAttempts": 3.0, "rateLimit": 10.0, "description": "d",
		"filter": `data.amount > 100 && type.startsWith("invocation.")`,
	} {
		if r.body[field] != want {
			t.Errorf("%s = %v, want %v", field, r.body[field], want)
		}
	}
	for _, f := range []string{"events", "headers", "channels", "metadata", "createdAt", "updatedAt"} {
		if r.body[f] == nil {
			t.Errorf("%s missing", f)
		}
	}

	got := e.do("GET", "/v1/tenants/acme/webhooks/"+id, adminKey, nil).want(t, 200)
	if _, ok := got.body["secret"]; ok {
		t.Fatal("GET shows the secret")
	}
	list := e.do("GET", "/v1/tenants/acme/webhooks", adminKey, nil).want(t, 200)
	if bytes.Contains(list.raw, []byte(secret)) {
		t.Fatal("list shows the secret")
	}
	if s := e.do("GET", "/v1/tenants/acme/webhooks/"+id+"/secret", adminKey, nil).want(t, 200); s.body["secret"] != secret {
		t.Fatalf("secret = %s", s.raw)
	}

	// Defaults.
	r = e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "d", "url": "https://example.com", "events": []string{"*"}}).want(t, 201)
	for field, want := range map[string]any{"timeoutMs": 30000.0, "enabled": true, "sslVerification": true, "maxAttempts": 8.0, "rateLimit": nil, "filter": nil, "channels": nil} {
		if r.body[field] != want {
			t.Errorf("default %s = %v, want %v", field, r.body[field], want)
		}
	}

	// A chosen secret is kept.
	chosen := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	r = e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "s", "url": "https://example.com", "events": []string{"*"}, "secret": chosen}).want(t, 201)
	if r.body["secret"] != chosen {
		t.Fatalf("secret = %v", r.body["secret"])
	}
	// A non-standard scheme takes any 16–256 printable characters, or null.
	r = e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "g", "url": "https://example.com", "events": []string{"*"},
		"signature": map[string]any{"scheme": "github"}, "secret": "my-old-github-secret"}).want(t, 201)
	if r.body["secret"] != "my-old-github-secret" {
		t.Fatalf("github secret = %v", r.body["secret"])
	}
	r = e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "p", "url": "https://example.com", "events": []string{"*"},
		"signature": map[string]any{"scheme": "plextrac"}, "secret": nil}).want(t, 201)
	if r.body["secret"] != nil {
		t.Fatalf("unsigned secret = %v", r.body["secret"])
	}
	r = e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "ed", "url": "https://example.com", "events": []string{"*"},
		"signature": map[string]any{"scheme": "standard-ed25519"}}).want(t, 201)
	if !strings.HasPrefix(r.body["secret"].(string), "whsk_") {
		t.Fatalf("ed25519 secret = %v", r.body["secret"])
	}
	s := e.do("GET", "/v1/tenants/acme/webhooks/"+r.body["id"].(string)+"/secret", adminKey, nil).want(t, 200)
	if !strings.HasPrefix(s.body["publicKey"].(string), "whpk_") {
		t.Fatalf("public key = %s", s.raw)
	}
	// hmac-sha256 without an encoding signs in hex, and says so.
	r = e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "h", "url": "https://example.com", "events": []string{"*"},
		"signature": map[string]any{"scheme": "hmac-sha256", "header": "X-Sig", "content": "{body}"}, "secret": "sixteen-chars-ok-é"}).want(t, 201)
	if sig, _ := r.body["signature"].(map[string]any); sig["encoding"] != "hex" || r.body["secret"] != "sixteen-chars-ok-é" {
		t.Fatalf("hmac-sha256 without an encoding: %s", r.raw)
	}
}

func TestWebhookValidation(t *testing.T) {
	e := newEnv(t, func(c *config) { c.svc.HTTPSOnly = false })
	e.tenant("acme")
	e.eventType("invocation.completed", nil)
	e.eventType("old.thing", nil)
	e.do("DELETE", "/v1/event-types/old.thing", adminKey, nil).want(t, 204)

	base := func() map[string]any {
		return map[string]any{"name": "n", "url": "https://example.com/x", "events": []string{"*"}}
	}
	tests := []struct {
		name  string
		set   map[string]any
		del   string
		field string
	}{
		{"missing name", nil, "name", "name"},
		{"missing url", nil, "url", "url"},
		{"missing events", nil, "events", "events"},
		{"empty name", map[string]any{"name": ""}, "", "name"},
		{"long name", map[string]any{"name": strings.Repeat("x", 201)}, "", "name"},
		{"name not string", map[string]any{"name": 5}, "", "name"},
		{"name null", map[string]any{"name": nil}, "", "name"},
		{"relative url", map[string]any{"url": "/x"}, "", "url"},
		{"ftp url", map[string]any{"url": "ftp://example.com/x"}, "", "url"},
		{"credentials", map[string]any{"url": "https://u:p@example.com/x"}, "", "url"},
		{"loopback", map[string]any{"url": "http://127.0.0.1:8080/x"}, "", "url"},
		{"localhost", map[string]any{"url": "http://localhost/x"}, "", "url"},
		{"mapped loopback", map[string]any{"url": "http://[::ffff:127.0.0.1]/x"}, "", "url"},
		{"metadata address", map[string]any{"url": "http://169.254.169.254/latest"}, "", "url"},
		{"private", map[string]any{"url": "https://192.168.0.10/x"}, "", "url"},
		{"cgnat", map[string]any{"url": "https://100.64.1.1/x"}, "", "url"},
		{"decimal loopback", map[string]any{"url": "http://2130706433/x"}, "", "url"},
		{"empty events", map[string]any{"events": []string{}}, "", "events"},
		{"unknown type", map[string]any{"events": []string{"nope"}}, "", "events[0]"},
		{"archived type", map[string]any{"events": []string{"old.thing"}}, "", "events[0]"},
		{"wildcard matches none", map[string]any{"events": []string{"nope.*"}}, "", "events[0]"},
		{"wildcard matches only archived", map[string]any{"events": []string{"old.*"}}, "", "events[0]"},
		{"events not strings", map[string]any{"events": []int{1}}, "", "events"},
		{"reserved header", map[string]any{"headers": map[string]string{"Content-Type": "x"}}, "", "headers.Content-Type"},
		{"webhook- header", map[string]any{"headers": map[string]string{"webhook-id": "x"}}, "", "headers.webhook-id"},
		{"hookd- header", map[string]any{"headers": map[string]string{"Hookd-Attempt": "x"}}, "", "headers.Hookd-Attempt"},
		{"bad header name", map[string]any{"headers": map[string]string{"a b": "x"}}, "", "headers.a b"},
		{"header newline", map[string]any{"headers": map[string]string{"X-A": "a\r\nb"}}, "", "headers.X-A"},
		{"timeout low", map[string]any{"timeoutMs": 999}, "", "timeoutMs"},
		{"timeout high", map[string]any{"timeoutMs": 60001}, "", "timeoutMs"},
		{"timeout fraction", map[string]any{"timeoutMs": 1500.5}, "", "timeoutMs"},
		{"timeout string", map[string]any{"timeoutMs": "5000"}, "", "timeoutMs"},
		{"enabled string", map[string]any{"enabled": "yes"}, "", "enabled"},
		{"bad filter", map[string]any{"filter": "data.amount >"}, "", "filter"},
		{"non-bool filter", map[string]any{"filter": "1 + 2"}, "", "filter"},
		{"unknown variable filter", map[string]any{"filter": "foo == 1"}, "", "filter"},
		{"max attempts 0", map[string]any{"maxAttempts": 0}, "", "maxAttempts"},
		{"max attempts 21", map[string]any{"maxAttempts": 21}, "", "maxAttempts"},
		{"rate limit 0", map[string]any{"rateLimit": 0}, "", "rateLimit"},
		{"bad standard secret", map[string]any{"secret": "not-a-secret"}, "", "secret"},
		{"short standard secret", map[string]any{"secret": "whsec_AAAA"}, "", "secret"},
		{"null standard secret", map[string]any{"secret": nil}, "", "secret"},
		{"short github secret", map[string]any{"secret": "short", "signature": map[string]any{"scheme": "github"}}, "", "secret"},
		{"unknown scheme", map[string]any{"signature": map[string]any{"scheme": "md5"}}, "", "signature.scheme"},
		{"metadata not strings", map[string]any{"metadata": map[string]any{"a": 1}}, "", "metadata"},
		{"channels not strings", map[string]any{"channels": "eu"}, "", "channels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := base()
			for k, v := range tt.set {
				body[k] = v
			}
			delete(body, tt.del)
			r := e.do("POST", "/v1/tenants/acme/webhooks", adminKey, body).want(t, 422)
			r.hasField(t, tt.field)
			// Each field once: what the decoder said, not the rules again.
			if fs := r.fields(); len(fs) != len(slices.Compact(slices.Sorted(slices.Values(fs)))) {
				t.Fatalf("a field reported twice: %s", r.raw)
			}
		})
	}
	// Every problem is reported at once.
	r := e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "", "url": "http://10.0.0.1", "events": []string{"zz"}, "timeoutMs": 1}).want(t, 422)
	if len(r.fields()) < 4 {
		t.Fatalf("details = %v", r.fields())
	}
	e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "n", "url": "https://example.com", "events": []string{"*"}, "bogus": 1}).want(t, 400)
	// Nothing half-written.
	if list := e.do("GET", "/v1/tenants/acme/webhooks", adminKey, nil).want(t, 200); list.body["total"].(float64) != 0 {
		t.Fatalf("rejected webhooks were stored: %s", list.raw)
	}
}

func TestWebhookPolicyFlags(t *testing.T) {
	allow, _ := netguard.ParseAllowList("127.0.0.0/8")
	e := newEnv(t, func(c *config) { c.svc.Guard = netguard.New(allow) })
	e.tenant("acme")
	e.webhook("acme", map[string]any{"url": "http://127.0.0.1:9999/x"})
	e.webhook("acme", map[string]any{"url": "http://localhost:9999/x"})
	e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "n", "url": "http://10.0.0.1/x", "events": []string{"*"}}).want(t, 422).hasField(t, "url")

	h := newEnv(t, func(c *config) { c.svc.HTTPSOnly = true })
	h.tenant("acme")
	h.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "n", "url": "http://example.com/x", "events": []string{"*"}}).want(t, 422).hasField(t, "url")
	h.webhook("acme", map[string]any{"url": "https://example.com/x"})

	m := newEnv(t, func(c *config) { c.svc.DefaultMaxAttempts = 4 })
	m.tenant("acme")
	r := m.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "n", "url": "https://example.com/x", "events": []string{"*"}}).want(t, 201)
	if r.body["maxAttempts"] != 4.0 {
		t.Fatalf("maxAttempts = %v, want the schedule's length + 1", r.body["maxAttempts"])
	}
}

func TestWebhookPatchDelete(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	e.eventType("c.d", nil)
	id := e.webhook("acme", map[string]any{"events": []string{"a.b"}, "filter": "true", "channels": []string{"x"}, "rateLimit": 5})
	path := "/v1/tenants/acme/webhooks/" + id
	secret := e.do("GET", path+"/secret", adminKey, nil).want(t, 200).body["secret"]

	r := e.do("PATCH", path, adminKey, map[string]any{"name": "renamed", "events": []string{"c.d"}, "filter": nil, "channels": nil, "rateLimit": nil, "timeoutMs": 2000}).want(t, 200)
	if r.body["name"] != "renamed" || r.body["filter"] != nil || r.body["channels"] != nil || r.body["rateLimit"] != nil || r.body["timeoutMs"] != 2000.0 || r.body["url"] != "https://example.com/hook" {
		t.Fatalf("after PATCH: %s", r.raw)
	}
	if _, ok := r.body["secret"]; ok {
		t.Fatal("PATCH answer shows the secret")
	}
	e.do("PATCH", path, adminKey, map[string]any{"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}).want(t, 400)
	// The guard's refusal says how an operator lets the network through.
	refused := e.do("PATCH", path, adminKey, map[string]any{"url": "http://127.0.0.1/x"}).want(t, 422)
	refused.hasField(t, "url")
	if !strings.Contains(string(refused.raw), "127.0.0.1 is a loopback address") || !strings.Contains(string(refused.raw), "--allow-networks (HOOKD_ALLOW_NETWORKS)") {
		t.Fatalf("the guard's refusal: %s", refused.raw)
	}
	e.do("PATCH", path, adminKey, map[string]any{"name": nil}).want(t, 422).hasField(t, "name")
	e.do("PATCH", path, adminKey, map[string]any{"filter": "data."}).want(t, 422).hasField(t, "filter")
	if got := e.do("GET", path, adminKey, nil).want(t, 200); got.body["name"] != "renamed" {
		t.Fatalf("rejected PATCH changed the webhook: %s", got.raw)
	}
	if s := e.do("GET", path+"/secret", adminKey, nil).want(t, 200); s.body["secret"] != secret {
		t.Fatal("PATCH changed the secret")
	}
	// Archived types stay on a webhook that a PATCH leaves alone.
	e.do("DELETE", "/v1/event-types/c.d", adminKey, nil).want(t, 204)
	e.do("PATCH", path, adminKey, map[string]any{"name": "again"}).want(t, 200)
	// The same list again is no change; a changed list is checked but for
	// what the webhook had (the console sends the whole list on every save,
	// as does a client writing back what it read with one type added): an
	// archived type it has stays, one it drops cannot come back.
	e.do("PATCH", path, adminKey, map[string]any{"events": []string{"c.d"}}).want(t, 200)
	e.do("PATCH", path, adminKey, map[string]any{"events": []string{"c.d", "*"}}).want(t, 200)
	e.do("PATCH", path, adminKey, map[string]any{"events": []string{"*"}}).want(t, 200)
	e.do("PATCH", path, adminKey, map[string]any{"events": []string{"*", "c.d"}}).want(t, 422).hasField(t, "events[1]")

	e.do("PATCH", "/v1/tenants/acme/webhooks/wh_missing", adminKey, map[string]any{"name": "x"}).want(t, 404)
	e.do("DELETE", path, adminKey, nil).want(t, 204)
	e.do("GET", path, adminKey, nil).want(t, 404)
	e.do("DELETE", path, adminKey, nil).want(t, 404)
	e.do("GET", path+"/secret", adminKey, nil).want(t, 404)
}

func TestWebhookList(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.tenant("other")
	for i := 0; i < 5; i++ {
		e.webhook("acme", map[string]any{"name": fmt.Sprintf("h%d", i), "enabled": i < 3})
	}
	e.webhook("other", map[string]any{})
	r := e.do("GET", "/v1/tenants/acme/webhooks?limit=2&offset=1", adminKey, nil).want(t, 200)
	if len(r.body["data"].([]any)) != 2 || r.body["total"] != 5.0 || r.body["limit"] != 2.0 || r.body["offset"] != 1.0 {
		t.Fatalf("page: %s", r.raw)
	}
	r = e.do("GET", "/v1/tenants/acme/webhooks?limit=2&page=3", adminKey, nil).want(t, 200)
	if len(r.body["data"].([]any)) != 1 || r.body["offset"] != 4.0 {
		t.Fatalf("page 3: %s", r.raw)
	}
	if r = e.do("GET", "/v1/tenants/acme/webhooks?active=true", adminKey, nil).want(t, 200); r.body["total"] != 3.0 {
		t.Fatalf("active: %s", r.raw)
	}
	if r = e.do("GET", "/v1/tenants/acme/webhooks?active=false", adminKey, nil).want(t, 200); r.body["total"] != 2.0 {
		t.Fatalf("inactive: %s", r.raw)
	}
	if r = e.do("GET", "/v1/tenants/acme/webhooks?limit=1000", adminKey, nil).want(t, 200); r.body["limit"] != 250.0 {
		t.Fatalf("limit cap: %s", r.raw)
	}
	for _, q := range []string{"limit=0", "limit=x", "offset=-1", "page=0", "active=yes", "page=1&offset=2"} {
		e.do("GET", "/v1/tenants/acme/webhooks?"+q, adminKey, nil).want(t, 400)
	}
}

// A publish whose client went away is no error to log: nothing failed,
// and nobody reads the answer.
func TestClientGoneMidPublish(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	e := newEnv(t, func(c *config) {
		c.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logged, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	e.tenant("acme")
	e.eventType("a.b", nil)
	e.webhook("acme", map[string]any{})
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 202)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/v1/tenants/acme/events", strings.NewReader(`{"type":"a.b","data":{}}`))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	mu.Lock()
	defer mu.Unlock()
	// PostgreSQL's publisher may commit it anyway (a group commit already
	// under way does not wait for one request's context): then it is 202.
	if (rec.Code != 202 && rec.Code < 500) || strings.Contains(logged.String(), "level=ERROR") {
		t.Fatalf("a publish whose client went away: %d; logged:\n%s", rec.Code, logged.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestPublish(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.tenant("other")
	e.eventType("invocation.completed", map[string]any{"type": "object", "required": []string{"amount"}, "properties": map[string]any{"amount": map[string]any{"type": "number"}}})
	e.eventType("invocation.failed", nil)
	e.eventType("document.uploaded", nil)
	e.eventType("retired", nil)
	e.do("DELETE", "/v1/event-types/retired", adminKey, nil).want(t, 204)

	all := e.webhook("acme", map[string]any{"events": []string{"*"}})
	prefix := e.webhook("acme", map[string]any{"events": []string{"invocation.*"}})
	exact := e.webhook("acme", map[string]any{"events": []string{"document.uploaded"}})
	channel := e.webhook("acme", map[string]any{"events": []string{"*"}, "channels": []string{"eu"}})
	filtered := e.webhook("acme", map[string]any{"events": []string{"*"}, "filter": `has(data.amount) && data.amount > 100`})
	meta := e.webhook("acme", map[string]any{"events": []string{"*"}, "filter": `has(metadata.region) && metadata.region == "eu" && "eu" in channels`})
	e.webhook("acme", map[string]any{"events": []string{"*"}, "enabled": false})
	e.webhook("other", map[string]any{"events": []string{"*"}})

	tests := []struct {
		name string
		body map[string]any
		want []string
	}{
		{"prefix and filter", map[string]any{"type": "invocation.completed", "data": map[string]any{"amount": 500}}, []string{all, prefix, filtered}},
		{"filter false", map[string]any{"type": "invocation.completed", "data": map[string]any{"amount": 5}}, []string{all, prefix}},
		{"exact", map[string]any{"type": "document.uploaded", "data": map[string]any{}}, []string{all, exact}},
		{"channel", map[string]any{"type": "invocation.failed", "data": map[string]any{}, "channels": []string{"eu"}, "metadata": map[string]any{"region": "eu"}}, []string{all, prefix, channel, meta}},
		{"other channel", map[string]any{"type": "invocation.failed", "data": map[string]any{}, "channels": []string{"us"}}, []string{all, prefix}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/v1/tenants/acme/events", adminKey, tt.body).want(t, 202)
			id := r.body["id"].(string)
			if !strings.HasPrefix(id, "evt_") || r.body["type"] != tt.body["type"] || r.body["timestamp"] == nil || r.body["deliveries"] != float64(len(tt.want)) {
				t.Fatalf("answer = %s, want %d deliveries", r.raw, len(tt.want))
			}
			got := e.do("GET", "/v1/tenants/acme/events/"+id, adminKey, nil).want(t, 200)
			ds := got.body["deliveries"].([]any)
			hooks := map[string]bool{}
			for _, d := range ds {
				m := d.(map[string]any)
				if m["status"] != "PENDING" || m["eventId"] != id || m["attempts"] != 0.0 {
					t.Fatalf("delivery = %v", m)
				}
				hooks[m["webhookId"].(string)] = true
			}
			for _, w := range tt.want {
				if !hooks[w] {
					t.Fatalf("no delivery to %s; got %v", w, hooks)
				}
			}
			if len(hooks) != len(tt.want) {
				t.Fatalf("deliveries to %v, want %v", hooks, tt.want)
			}
			data, _ := json.Marshal(got.body["data"])
			want, _ := json.Marshal(tt.body["data"])
			if string(data) != string(want) {
				t.Fatalf("data = %s, want %s", data, want)
			}
		})
	}

	bad := []struct {
		name  string
		body  any
		field string
	}{
		{"unknown type", map[string]any{"type": "nope", "data": map[string]any{}}, "type"},
		{"archived type", map[string]any{"type": "retired", "data": map[string]any{}}, "type"},
		{"missing type", map[string]any{"data": map[string]any{}}, "type"},
		{"missing data", map[string]any{"type": "invocation.failed"}, "data"},
		{"array data", map[string]any{"type": "invocation.failed", "data": []int{1}}, "data"},
		{"null data", map[string]any{"type": "invocation.failed", "data": nil}, "data"},
		{"schema", map[string]any{"type": "invocation.completed", "data": map[string]any{"amount": "x"}}, "data.amount"},
		{"schema required", map[string]any{"type": "invocation.completed", "data": map[string]any{}}, "data"},
		{"bad id", map[string]any{"type": "invocation.failed", "data": map[string]any{}, "id": "has space"}, "id"},
		{"metadata array", map[string]any{"type": "invocation.failed", "data": map[string]any{}, "metadata": []int{}}, "metadata"},
		{"channels string", map[string]any{"type": "invocation.failed", "data": map[string]any{}, "channels": "eu"}, "channels"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e.do("POST", "/v1/tenants/acme/events", adminKey, tt.body).want(t, 422).hasField(t, tt.field)
		})
	}
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "invocation.failed", "data": map[string]any{}, "extra": 1}).want(t, 400)
	e.do("POST", "/v1/tenants/acme/events", adminKey, `{"type": "invocation.failed", "data": {`).want(t, 400)
	e.do("POST", "/v1/tenants/missing/events", adminKey, map[string]any{"type": "invocation.failed", "data": map[string]any{}}).want(t, 404)
}

// Event data is measured as it is stored and sent: compacted. 270 KiB of
// whitespace around a small object is not too large; a publish sent again
// with data too large is answered with its first event (200), as any
// repeat is, whatever would refuse it now.
func TestEventDataMeasuredCompacted(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	spaced := `{"type":"a.b","id":"order-1","data":{"n":` + strings.Repeat(" ", 270<<10) + `1}}`
	first := e.do("POST", "/v1/tenants/acme/events", adminKey, spaced).want(t, 202)
	big := `{"type":"a.b","id":"order-1","data":{"s":"` + strings.Repeat("x", 300<<10) + `"}}`
	if again := e.do("POST", "/v1/tenants/acme/events", adminKey, big).want(t, 200); string(again.raw) != string(first.raw) {
		t.Fatalf("the repeat with data too large = %s, want the first answer %s", again.raw, first.raw)
	}
	e.do("POST", "/v1/tenants/acme/events", adminKey, strings.Replace(big, "order-1", "order-2", 1)).want(t, 413)
}

func TestPublishIdempotency(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.tenant("other")
	e.eventType("a.b", nil)
	e.webhook("acme", map[string]any{})
	body := map[string]any{"type": "a.b", "data": map[string]any{"n": 1}, "id": "order-42"}
	first := e.do("POST", "/v1/tenants/acme/events", adminKey, body).want(t, 202)
	if first.body["id"] != "order-42" || first.body["deliveries"] != 1.0 {
		t.Fatalf("first = %s", first.raw)
	}
	again := e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{"n": 2}, "id": "order-42"}).want(t, 200)
	if string(again.raw) != string(first.raw) {
		t.Fatalf("repeat = %s, want the first answer %s", again.raw, first.raw)
	}
	// The header is the same key.
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}, "Idempotency-Key", "order-42").want(t, 200)
	h := e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}, "Idempotency-Key", "order-43").want(t, 202)
	if h.body["id"] != "order-43" {
		t.Fatalf("header key not used as id: %s", h.raw)
	}
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}, "id": "x"}, "Idempotency-Key", "y").want(t, 422).hasField(t, "id")
	// Keys are per tenant.
	e.do("POST", "/v1/tenants/other/events", adminKey, body).want(t, 202)
	got := e.do("GET", "/v1/tenants/acme/events/order-42", adminKey, nil).want(t, 200)
	if got.body["data"].(map[string]any)["n"] != 1.0 || len(got.body["deliveries"].([]any)) != 1 {
		t.Fatalf("event = %s", got.raw)
	}

	// Concurrent publishes of one key create one event.
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", e.srv.URL+"/v1/tenants/acme/events", strings.NewReader(`{"type":"a.b","data":{},"id":"race"}`))
			req.Header.Set("Authorization", "Bearer "+adminKey)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			mu.Lock()
			statuses[res.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[202] != 1 || statuses[200] != 19 {
		t.Fatalf("statuses = %v, want one 202 and nineteen 200", statuses)
	}
}

func TestSizeLimits(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	big := strings.Repeat("x", hookd.MaxEventData)
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{"s": big}}).want(t, 413)
	huge := strings.Repeat("x", hookd.MaxRequestBody)
	r := e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{"s": huge}}).want(t, 413)
	if r.code() != "payload_too_large" {
		t.Fatalf("code = %s", r.code())
	}
	e.do("POST", "/v1/tenants", adminKey, map[string]any{"id": "x", "name": huge}).want(t, 413)
	// Just under the data limit is accepted.
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{"s": big[:hookd.MaxEventData-100]}}).want(t, 202)
}

func TestListEvents(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	e.eventType("c.d", nil)
	for i := 0; i < 5; i++ {
		typ := "a.b"
		if i == 2 {
			typ = "c.d"
		}
		e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": typ, "data": map[string]any{"i": i}, "id": fmt.Sprintf("e%d", i)}).want(t, 202)
	}
	var seen []string
	cursor := ""
	for pages := 0; pages < 5; pages++ {
		r := e.do("GET", "/v1/tenants/acme/events?limit=2"+cursor, adminKey, nil).want(t, 200)
		for _, d := range r.body["data"].([]any) {
			seen = append(seen, d.(map[string]any)["id"].(string))
		}
		next, _ := r.body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = "&cursor=" + next
	}
	if strings.Join(seen, ",") != "e4,e3,e2,e1,e0" {
		t.Fatalf("paged = %v", seen)
	}
	r := e.do("GET", "/v1/tenants/acme/events?type=c.d", adminKey, nil).want(t, 200)
	if d := r.body["data"].([]any); len(d) != 1 || r.body["nextCursor"] != nil {
		t.Fatalf("typed = %s", r.raw)
	}
	for q, want := range map[string]int{"since=2000-01-01T00:00:00Z": 5, "until=2000-01-01T00:00:00Z": 0, "since=2000-01-01t00:00:00z": 5, "since=0001-01-01T00:00:00Z": 5,
		"since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z&type=a.b": 4, "since=2100-01-01T00:00:00Z": 0} {
		if r := e.do("GET", "/v1/tenants/acme/events?"+q, adminKey, nil).want(t, 200); len(r.body["data"].([]any)) != want {
			t.Fatalf("%s: %s", q, r.raw)
		}
	}
	e.do("GET", "/v1/tenants/acme/events?since=yesterday", adminKey, nil).want(t, 400)
	e.do("GET", "/v1/tenants/acme/events?until=0001-01-01T00:00:00Z", adminKey, nil).want(t, 400) // not "no bound"
	e.do("GET", "/v1/tenants/acme/events?since=2001-01-01T00:00:00Z&until=2000-01-01T00:00:00Z", adminKey, nil).want(t, 400)
	e.do("GET", "/v1/tenants/acme/events?cursor=!!", adminKey, nil).want(t, 400)
	e.do("GET", "/v1/tenants/acme/events?limit=-1", adminKey, nil).want(t, 400)
	e.do("GET", "/v1/tenants/acme/events/missing", adminKey, nil).want(t, 404)
}

func TestDeleteTenantRemovesEverything(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	key := e.tenantKey("acme")
	e.webhook("acme", map[string]any{})
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}, "id": "e1"}).want(t, 202)
	e.do("DELETE", "/v1/tenants/acme", adminKey, nil).want(t, 204)
	e.do("GET", "/v1/tenants/acme/webhooks", key, nil).want(t, 401)
	e.tenant("acme")
	if r := e.do("GET", "/v1/tenants/acme/webhooks", adminKey, nil).want(t, 200); r.body["total"] != 0.0 {
		t.Fatalf("webhooks survived: %s", r.raw)
	}
	e.do("GET", "/v1/tenants/acme/events/e1", adminKey, nil).want(t, 404)
}

func TestUnknownRoute(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/v1/nothing", adminKey, nil).want(t, 404)
}

// TestPublishSeesWritesAtOnce: publishing caches the catalog, tenants and
// webhook lists, but a write through the API is seen by the next publish.
func TestPublishSeesWritesAtOnce(t *testing.T) {
	e := newEnv(t, func(c *config) { c.svc.CacheTTL = time.Hour })
	e.tenant("acme")
	e.eventType("a.b", nil)
	publish := func() float64 {
		r := e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 202)
		return r.body["deliveries"].(float64)
	}
	if n := publish(); n != 0 {
		t.Fatalf("deliveries = %v", n)
	}
	id := e.webhook("acme", map[string]any{})
	if n := publish(); n != 1 {
		t.Fatalf("after create: deliveries = %v", n)
	}
	e.do("PATCH", "/v1/tenants/acme/webhooks/"+id, adminKey, map[string]any{"events": []string{"c.*"}}).want(t, 422)
	e.do("PATCH", "/v1/tenants/acme/webhooks/"+id, adminKey, map[string]any{"enabled": false}).want(t, 200)
	if n := publish(); n != 0 {
		t.Fatalf("after disable: deliveries = %v", n)
	}
	e.do("PATCH", "/v1/tenants/acme/webhooks/"+id, adminKey, map[string]any{"enabled": true}).want(t, 200)
	e.do("DELETE", "/v1/tenants/acme/webhooks/"+id, adminKey, nil).want(t, 204)
	if n := publish(); n != 0 {
		t.Fatalf("after delete: deliveries = %v", n)
	}
	e.do("DELETE", "/v1/event-types/a.b", adminKey, nil).want(t, 204)
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 422)
	e.do("DELETE", "/v1/tenants/acme", adminKey, nil).want(t, 204)
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 404)
}

// Rotations one after another keep each secret rotated out signing for
// its grace, five at most (as in Svix): a sixth with grace is 422 and
// changes nothing; one without grace ends them all.
func TestRotationsKeepEarlierSecrets(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	id := e.webhook("acme", map[string]any{"name": "h", "url": "https://example.com/h", "events": []string{"a.b"}})
	path := "/v1/tenants/acme/webhooks/" + id
	for range hookd.MaxOldSecrets {
		e.do("POST", path+"/secret/rotate", adminKey, map[string]any{"graceSeconds": 3600}).want(t, 200)
	}
	current := e.do("GET", path+"/secret", adminKey, nil).want(t, 200).body["secret"]
	r := e.do("POST", path+"/secret/rotate", adminKey, map[string]any{"graceSeconds": 3600}).want(t, 422)
	if !strings.Contains(string(r.raw), `"graceSeconds"`) || !strings.Contains(string(r.raw), "without a grace (0)") {
		t.Fatalf("a sixth rotation in the grace: %s", r.raw)
	}
	if got := e.do("GET", path+"/secret", adminKey, nil).want(t, 200).body["secret"]; got != current {
		t.Fatal("the refused rotation changed the secret")
	}
	wh, err := e.store.GetWebhook(context.Background(), "acme", id)
	if err != nil || len(wh.SigningSecrets(time.Now())) != 1+hookd.MaxOldSecrets {
		t.Fatalf("signing secrets %v %v", wh, err)
	}
	e.do("POST", path+"/secret/rotate", adminKey, map[string]any{"graceSeconds": 0}).want(t, 200)
	if wh, err := e.store.GetWebhook(context.Background(), "acme", id); err != nil || len(wh.SigningSecrets(time.Now())) != 1 {
		t.Fatalf("after a rotation without grace %v %v", wh, err)
	}
}

// The migration from a legacy scheme to standard that docs/SIGNATURES.md
// describes: rotate to a whsec_ secret under the legacy scheme, then
// switch the scheme, and the secret is kept.
func TestSchemeMigrationKeepsSecret(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	id := e.webhook("acme", map[string]any{"name": "legacy", "url": "https://example.com/h", "events": []string{"a.b"},
		"signature": map[string]any{"scheme": "github"}, "secret": "legacy-secret-0123456789"})
	newSecret := hookd.GenerateSecret(hookd.SchemeStandard)
	e.do("POST", "/v1/tenants/acme/webhooks/"+id+"/secret/rotate", adminKey, map[string]any{"secret": newSecret}).want(t, 200)
	e.do("PATCH", "/v1/tenants/acme/webhooks/"+id, adminKey, map[string]any{"signature": map[string]any{"scheme": "standard"}}).want(t, 200)
	if got := e.do("GET", "/v1/tenants/acme/webhooks/"+id+"/secret", adminKey, nil).want(t, 200).body["secret"]; got != newSecret {
		t.Fatalf("secret after the switch = %v, want the rotated %s", got, newSecret)
	}
	// A switch the secret does not fit makes a new one: the audit log
	// tells of it, without it.
	other := e.webhook("acme", map[string]any{"name": "legacy2", "url": "https://example.com/h", "events": []string{"a.b"},
		"signature": map[string]any{"scheme": "github"}, "secret": "legacy-secret-0123456789"})
	e.do("PATCH", "/v1/tenants/acme/webhooks/"+other, adminKey, map[string]any{"signature": map[string]any{"scheme": "standard"}}).want(t, 200)
	log := e.do("GET", "/v1/tenants/acme/audit-log?targetId="+other+"&action=webhook.updated", adminKey, nil).want(t, 200)
	entries := log.body["data"].([]any)
	if len(entries) != 1 || strings.Contains(string(log.raw), "legacy-secret") {
		t.Fatalf("audit of the switch: %s", log.raw)
	}
	if ch := entries[0].(map[string]any)["changes"].(map[string]any)["secret"]; ch == nil {
		t.Fatalf("the switch's new secret is not told: %s", log.raw)
	}
}

// A PATCH names the updatedAt it read; a webhook changed since (by another
// PATCH or a rotation) answers 409 and changes nothing. Without updatedAt a
// PATCH never writes back what it did not change (the rotated secret).
func TestWebhookPatchUpdatedAt(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	path := "/v1/tenants/acme/webhooks/" + e.webhook("acme", map[string]any{})
	read := e.do("GET", path, adminKey, nil).want(t, 200).body["updatedAt"]
	first := e.do("PATCH", path, adminKey, map[string]any{"name": "first", "updatedAt": read}).want(t, 200)
	if first.body["updatedAt"] == read {
		t.Fatal("updatedAt did not move")
	}
	r := e.do("PATCH", path, adminKey, map[string]any{"name": "second", "updatedAt": read}).want(t, 409)
	if r.code() != "conflict" {
		t.Fatalf("stale PATCH: %s", r.raw)
	}
	if got := e.do("GET", path, adminKey, nil).want(t, 200); got.body["name"] != "first" {
		t.Fatalf("a stale PATCH changed the webhook: %s", got.raw)
	}
	e.do("PATCH", path, adminKey, map[string]any{"updatedAt": "yesterday"}).want(t, 422).hasField(t, "updatedAt")

	rotated := e.do("POST", path+"/secret/rotate", adminKey, map[string]any{}).want(t, 200).body["secret"]
	e.do("PATCH", path, adminKey, map[string]any{"name": "third", "updatedAt": first.body["updatedAt"]}).want(t, 409)
	e.do("PATCH", path, adminKey, map[string]any{"name": "third"}).want(t, 200)
	if s := e.do("GET", path+"/secret", adminKey, nil).want(t, 200); s.body["secret"] != rotated {
		t.Fatal("a PATCH undid a rotation")
	}
}

// Concurrent PATCHes that name no updatedAt all land, one after another:
// a 409 is only for a caller whose updatedAt is stale.
func TestConcurrentPatches(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	path := "/v1/tenants/acme/webhooks/" + e.webhook("acme", map[string]any{})
	const n = 32
	codes := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("PATCH", e.srv.URL+path, strings.NewReader(fmt.Sprintf(`{"name":"edit %d","headers":{"X-Edit":"%d"}}`, i, i)))
			req.Header.Set("Authorization", "Bearer "+adminKey)
			res, err := e.srv.Client().Do(req)
			if err != nil {
				codes <- err.Error()
				return
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			codes <- fmt.Sprintf("%d %s", res.StatusCode, raw)
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if !strings.HasPrefix(c, "200 ") {
			t.Errorf("a concurrent PATCH without updatedAt: %.200s", c)
		}
	}
	got := e.do("GET", path, adminKey, nil).want(t, 200)
	var name string
	if _, err := fmt.Sscanf(got.body["name"].(string), "edit %s", &name); err != nil || got.body["headers"].(map[string]any)["X-Edit"] != name {
		t.Fatalf("after the PATCHes: name %v, headers %v, want one PATCH's both", got.body["name"], got.body["headers"])
	}
	// The audit log, newest first, has its times in the same order: an
	// entry is stamped as it is written, not when its request began.
	log := e.do("GET", "/v1/tenants/acme/audit-log?limit=100", adminKey, nil).want(t, 200).body["data"].([]any)
	if len(log) != n+1 {
		t.Fatalf("%d audit entries, want %d", len(log), n+1)
	}
	for i := 1; i < len(log); i++ {
		newer, older := log[i-1].(map[string]any)["at"].(string), log[i].(map[string]any)["at"].(string)
		if a, b := mustTime(t, newer), mustTime(t, older); a.Before(b) {
			t.Fatalf("audit entry %d at %s is listed before one at %s: %v", i-1, newer, older, log[:4])
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A manual retry of a delivery whose attempt is being sent answers 409.
func TestRetryWhileSending(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	e.webhook("acme", map[string]any{})
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 202)
	res, err := queue.Claim(context.Background(), e.store, queue.ClaimParams{Limit: 1, Lease: time.Minute,
		Room: func(string, string) (int, time.Duration) { return 1, 0 }})
	if err != nil || len(res.Claims) != 1 {
		t.Fatalf("claim = %v, %v", res, err)
	}
	c := res.Claims[0]
	path := "/v1/tenants/acme/deliveries/" + c.DeliveryID + "/retry"
	if r := e.do("POST", path, adminKey, nil).want(t, 409); r.code() != "conflict" {
		t.Fatalf("retry while sending: %s", r.raw)
	}
	a := &hookd.Attempt{Number: 1, StartedAt: res.Now, StatusCode: 500, Error: "HTTP 500"}
	if _, err := queue.Record(context.Background(), e.store, []*hookd.Outcome{{Lease: c.Lease, WebhookID: c.WebhookID, Attempt: a, Status: hookd.StatusFailed}}, nil); err != nil {
		t.Fatal(err)
	}
	e.do("POST", path, adminKey, nil).want(t, 202)
}
