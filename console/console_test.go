package console_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/console"
	"github.com/hookd/hookd/internal/teststore"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/queue"
	"github.com/hookd/hookd/service"
)

const adminKey = "operator-key"

type env struct {
	t     *testing.T
	srv   *httptest.Server
	store hookd.Store
	svc   *service.Service
}

func newEnv(t *testing.T, mods ...func(*console.Config)) *env {
	t.Helper()
	store := teststore.Open(t)
	svc := service.New(service.Config{Store: store, Guard: &netguard.Policy{Resolver: netguard.Offline}})
	cfg := console.Config{Service: svc, AdminKeyHash: hookd.HashKey(adminKey)}
	for _, m := range mods {
		m(&cfg)
	}
	con, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(con)
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, store: store, svc: svc}
	now := time.Now()
	for _, id := range []string{"acme", "globex"} {
		must(t, store.CreateTenant(context.Background(), &hookd.Tenant{ID: id, Name: strings.ToUpper(id[:1]) + id[1:], CreatedAt: now}))
	}
	must(t, store.CreateEventType(context.Background(), &hookd.EventType{Name: "invocation.completed", Description: "An invocation finished", CreatedAt: now, UpdatedAt: now}))
	return e
}

// onPostgres is every console test, run again with PostgreSQL underneath.
var onPostgres = map[string]func(*testing.T){
	"PortalLink": TestPortalLink, "NotSignedIn": TestNotSignedIn, "TenantWalls": TestTenantWalls, "CSRF": TestCSRF,
	"ReadOnly": TestReadOnly, "KeySignIn": TestKeySignIn, "WebhookForm": TestWebhookForm, "AuditPage": TestAuditPage, "NoticeShownOnce": TestNoticeShownOnce, "FrameAncestors": TestFrameAncestors, "Brand": TestBrand, "DeliveriesPageQuery": TestDeliveriesPageQuery, "ConsoleAuditFindings": TestConsoleAuditFindings,
	"OperatorFormBoundToTenant": TestOperatorFormBoundToTenant, "AdminKeyReplacedEndsOperatorSessions": TestAdminKeyReplacedEndsOperatorSessions,
	"FailedSignInLogged": TestFailedSignInLogged, "CancelPreviewCountsWhatCancelEnds": TestCancelPreviewCountsWhatCancelEnds,
}

func TestOnPostgres(t *testing.T) {
	if os.Getenv("HOOKD_TEST_POSTGRES") == "" {
		t.Skip("HOOKD_TEST_POSTGRES is not set")
	}
	for name, fn := range onPostgres {
		t.Run(name, fn)
	}
}

// errOf is a call's error, for must.
func errOf[T any](_ T, err error) error { return err }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// webhook makes a webhook with one delivery.
func (e *env) webhook(tenant string) (*hookd.Webhook, string) {
	e.t.Helper()
	now := hookd.Truncate(time.Now())
	wh := &hookd.Webhook{ID: hookd.NewID(hookd.PrefixWebhook, now), TenantID: tenant, Name: tenant + " hook", URL: "https://example.com/hook",
		Events: []string{"*"}, Timeout: hookd.DefaultTimeout, Enabled: true, SSLVerification: true, MaxAttempts: 3,
		Secret: hookd.GenerateSecret(hookd.SchemeStandard), CreatedAt: now, UpdatedAt: now}
	must(e.t, e.store.CreateWebhook(context.Background(), wh))
	ev := &hookd.Event{ID: hookd.NewID(hookd.PrefixEvent, now), TenantID: tenant, Type: "invocation.completed", Timestamp: now}
	must(e.t, ev.BuildPayload(json.RawMessage(`{"n":1}`), nil))
	_, err := e.store.PublishEvent(context.Background(), ev, []string{wh.ID}, nil)
	must(e.t, err)
	ds, err := e.store.ListEventDeliveries(context.Background(), tenant, ev.ID)
	must(e.t, err)
	return wh, ds[0].ID
}

// portal makes a portal link for tenant and uses it, returning the cookie.
func (e *env) portal(tenant string, readOnly bool) *http.Cookie {
	e.t.Helper()
	token, hash := hookd.NewToken()
	now := time.Now()
	must(e.t, e.store.CreateConsoleSession(context.Background(), &hookd.ConsoleSession{ID: hookd.NewID(hookd.PrefixConsoleSession, now),
		TenantID: tenant, ReadOnly: readOnly, LinkHash: hash, ExpiresAt: now.Add(time.Hour), CreatedAt: now}))
	res := e.do("GET", "/console/portal/"+token, nil, nil)
	if res.status != 303 || res.location != "/console" {
		e.t.Fatalf("portal link: %d → %q", res.status, res.location)
	}
	for _, c := range res.cookies {
		if c.Name == console.SessionCookie {
			return c
		}
	}
	e.t.Fatal("the portal link set no session cookie")
	return nil
}

type result struct {
	status   int
	body     string
	location string
	cookies  []*http.Cookie
	header   http.Header
}

var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (e *env) do(method, path string, form url.Values, cookie *http.Cookie, headers ...string) result {
	e.t.Helper()
	var cookies []*http.Cookie
	if cookie != nil {
		cookies = append(cookies, cookie)
	}
	return e.doWith(method, path, form, cookies, headers...)
}

// doWith is do with any number of cookies (an operator's session and its
// tenant, say).
func (e *env) doWith(method, path string, form url.Values, cookies []*http.Cookie, headers ...string) result {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return result{res.StatusCode, string(b), res.Header.Get("Location"), res.Cookies(), res.Header}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the form token off a page of the session.
func (e *env) csrf(cookie *http.Cookie) string {
	e.t.Helper()
	m := csrfField.FindStringSubmatch(e.do("GET", "/console/event-types", nil, cookie).body)
	if m == nil {
		e.t.Fatal("no CSRF token on the page")
	}
	return m[1]
}

func TestPortalLink(t *testing.T) {
	e := newEnv(t)
	token, hash := hookd.NewToken()
	now := time.Now()
	must(t, e.store.CreateConsoleSession(context.Background(), &hookd.ConsoleSession{ID: "cs_1", TenantID: "acme", LinkHash: hash,
		ExpiresAt: now.Add(time.Hour), CreatedAt: now}))
	// A HEAD (a link checker, a preview) signs nobody in and leaves the
	// link for its person.
	if head := e.do("HEAD", "/console/portal/"+token, nil, nil); head.status != 200 || len(head.cookies) != 0 {
		t.Fatalf("HEAD: %d %v", head.status, head.cookies)
	}
	first := e.do("GET", "/console/portal/"+token, nil, nil)
	if first.status != 303 || first.location != "/console" || len(first.cookies) != 1 {
		t.Fatalf("first use: %+v", first)
	}
	c := first.cookies[0]
	if c.Name != console.SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/console" {
		t.Fatalf("cookie = %+v", c)
	}
	if second := e.do("GET", "/console/portal/"+token, nil, nil); second.status != 404 || len(second.cookies) != 0 {
		t.Fatalf("second use: %d %v", second.status, second.cookies)
	}
	if r := e.do("GET", "/console/webhooks", nil, c); r.status != 200 || !strings.Contains(r.body, "Acme") {
		t.Fatalf("signed in: %d", r.status)
	}
	// Over TLS the cookie is Secure.
	token, hash = hookd.NewToken()
	must(t, e.store.CreateConsoleSession(context.Background(), &hookd.ConsoleSession{ID: "cs_2", TenantID: "acme", LinkHash: hash,
		ExpiresAt: now.Add(time.Hour), CreatedAt: now}))
	con, err := console.New(console.Config{Service: e.svc})
	must(t, err)
	tls := httptest.NewTLSServer(con)
	defer tls.Close()
	tc := tls.Client()
	tc.CheckRedirect = client.CheckRedirect
	res, err := tc.Get(tls.URL + "/console/portal/" + token)
	must(t, err)
	res.Body.Close()
	if cs := res.Cookies(); res.StatusCode != 303 || len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("over TLS: %d %v", res.StatusCode, cs)
	}
	// Behind a TLS proxy the cookie is Secure.
	e2 := newEnv(t, func(c *console.Config) { c.SecureCookies = true })
	if c := e2.portal("acme", false); !c.Secure {
		t.Fatal("cookie not Secure with SecureCookies")
	}
}

func TestNotSignedIn(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/console/webhooks", nil, nil); r.status != 303 || r.location != "/console/login" {
		t.Fatalf("no session: %d %q", r.status, r.location)
	}
	if r := e.do("GET", "/console/webhooks", nil, &http.Cookie{Name: console.SessionCookie, Value: "made-up"}); r.status != 303 {
		t.Fatalf("unknown session: %d", r.status)
	}
	if r := e.do("POST", "/console/webhooks", url.Values{"name": {"x"}}, nil); r.status != 401 {
		t.Fatalf("POST without a session: %d", r.status)
	}
	// A navigation that another site started arrives without the Strict
	// cookie: the page loads itself again from here, where it has it.
	r := e.do("GET", "/console/webhooks", nil, nil, "Sec-Fetch-Site", "cross-site")
	if r.status != 200 || !strings.Contains(r.body, `http-equiv="refresh"`) {
		t.Fatalf("cross-site arrival: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/console/nothing-here", nil, nil); r.status != 404 {
		t.Fatalf("unknown page: %d", r.status)
	}
}

func TestTenantWalls(t *testing.T) {
	e := newEnv(t)
	mine, myDelivery := e.webhook("acme")
	theirs, theirDelivery := e.webhook("globex")
	acme := e.portal("acme", false)
	token := e.csrf(acme)
	for _, p := range []string{"/console/webhooks/" + mine.ID, "/console/deliveries/" + myDelivery, "/console/webhooks/" + mine.ID + "/edit"} {
		if r := e.do("GET", p, nil, acme); r.status != 200 {
			t.Fatalf("own %s: %d", p, r.status)
		}
	}
	for _, p := range []string{"/console/webhooks/" + theirs.ID, "/console/deliveries/" + theirDelivery, "/console/webhooks/" + theirs.ID + "/edit",
		"/console/stats?webhook=" + theirs.ID, "/console/webhooks/" + theirs.ID + "/confirm?action=cancel"} {
		if r := e.do("GET", p, nil, acme); r.status != 404 || strings.Contains(r.body, "globex hook") {
			t.Fatalf("another tenant's %s: %d", p, r.status)
		}
	}
	for _, p := range []string{"/console/webhooks/" + theirs.ID + "/delete", "/console/webhooks/" + theirs.ID + "/enabled", "/console/deliveries/" + theirDelivery + "/retry",
		"/console/webhooks/" + theirs.ID + "/cancel", "/console/webhooks/" + theirs.ID + "/replay", "/console/webhooks/" + theirs.ID + "/retry-failed"} {
		if r := e.do("POST", p, url.Values{"csrf": {token}, "enabled": {"false"}, "since": {"2000-01-01T00:00"}}, acme); r.status != 404 {
			t.Fatalf("POST %s in another tenant: %d", p, r.status)
		}
	}
	if _, err := e.store.GetWebhook(context.Background(), "globex", theirs.ID); err != nil {
		t.Fatal("another tenant's webhook was deleted")
	}
	// Text no id can hold (PostgreSQL refused it in a query: 500).
	for p, want := range map[string]int{"/console/webhooks/%00": 404, "/console/deliveries/dlv_%ff": 404, "/console/deliveries?eventType=%00": 400} {
		if r := e.do("GET", p, nil, acme); r.status != want {
			t.Errorf("GET %s: %d, want %d", p, r.status, want)
		}
	}
	if r := e.do("GET", "/console/failed", nil, acme); strings.Contains(r.body, theirDelivery) {
		t.Fatal("failed deliveries list another tenant's")
	}
	// A tenant cannot switch tenants, whatever its cookies say.
	if r := e.do("POST", "/console/tenant", url.Values{"csrf": {token}, "tenant": {"globex"}}, acme); r.status != 403 {
		t.Fatalf("tenant switch by a tenant: %d", r.status)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	wh, _ := e.webhook("acme")
	acme := e.portal("acme", false)
	for _, token := range []string{"", "forged", e.csrf(e.portal("acme", false))} { // the last: another session's
		if r := e.do("POST", "/console/webhooks/"+wh.ID+"/enabled", url.Values{"csrf": {token}, "enabled": {"false"}}, acme); r.status != 403 {
			t.Fatalf("token %q: %d", token, r.status)
		}
	}
	if got, _ := e.store.GetWebhook(context.Background(), "acme", wh.ID); !got.Enabled {
		t.Fatal("a forged form disabled the webhook")
	}
	r := e.do("POST", "/console/webhooks/"+wh.ID+"/enabled", url.Values{"csrf": {e.csrf(acme)}, "enabled": {"false"}}, acme)
	if r.status != 303 {
		t.Fatalf("with the token: %d", r.status)
	}
	if got, _ := e.store.GetWebhook(context.Background(), "acme", wh.ID); got.Enabled {
		t.Fatal("the real form did not disable the webhook")
	}
	// Sign-in has its own token (a cookie the form repeats).
	if r := e.do("POST", "/console/login", url.Values{"key": {adminKey}}, nil); r.status != 403 {
		t.Fatalf("sign-in without its token: %d", r.status)
	}
}

func TestReadOnly(t *testing.T) {
	e := newEnv(t)
	wh, dlv := e.webhook("acme")
	ro := e.portal("acme", true)
	token := e.csrf(ro)
	page := e.do("GET", "/console/webhooks/"+wh.ID+"?secret=show", nil, ro)
	if page.status != 200 || strings.Contains(page.body, "Send test") || strings.Contains(page.body, wh.Secret) || !strings.Contains(page.body, "read-only") {
		t.Fatalf("read-only webhook page: %d", page.status)
	}
	for _, p := range []string{"/console/webhooks/new", "/console/webhooks/" + wh.ID + "/edit", "/console/webhooks/" + wh.ID + "/confirm?action=disable"} {
		if r := e.do("GET", p, nil, ro); r.status != 403 {
			t.Fatalf("GET %s read-only: %d", p, r.status)
		}
	}
	for _, p := range []string{"/console/webhooks", "/console/webhooks/" + wh.ID, "/console/webhooks/" + wh.ID + "/test",
		"/console/webhooks/" + wh.ID + "/rotate", "/console/webhooks/" + wh.ID + "/delete", "/console/webhooks/" + wh.ID + "/retry-failed",
		"/console/deliveries/" + dlv + "/retry", "/console/webhooks/" + wh.ID + "/cancel", "/console/webhooks/" + wh.ID + "/replay"} {
		if r := e.do("POST", p, url.Values{"csrf": {token}, "grace": {"0s"}, "name": {"x"}}, ro); r.status != 403 {
			t.Fatalf("POST %s read-only: %d", p, r.status)
		}
	}
	if r := e.do("POST", "/console/logout", url.Values{"csrf": {token}}, ro); r.status != 303 {
		t.Fatalf("sign out read-only: %d", r.status)
	}
	if r := e.do("GET", "/console/webhooks", nil, ro); r.status != 303 {
		t.Fatalf("after sign-out: %d", r.status)
	}
}

// login signs in with key through the form, as a browser does.
func (e *env) login(key string) (result, *http.Cookie) {
	e.t.Helper()
	page := e.do("GET", "/console/login", nil, nil)
	var loginCookie *http.Cookie
	for _, c := range page.cookies {
		loginCookie = c
	}
	m := csrfField.FindStringSubmatch(page.body)
	res := e.do("POST", "/console/login", url.Values{"csrf": {m[1]}, "key": {key}}, loginCookie)
	for _, c := range res.cookies {
		if c.Name == console.SessionCookie && c.Value != "" {
			return res, c
		}
	}
	return res, nil
}

// An operator's form is bound to the tenant it was drawn in: one drawn
// in acme and sent after a switch to globex (in another tab) is refused,
// and nothing is made in either; drawn in globex, it is taken.
func TestOperatorFormBoundToTenant(t *testing.T) {
	e := newEnv(t)
	_, op := e.login(adminKey)
	do := func(method, path string, form url.Values, tenant *http.Cookie) result {
		t.Helper()
		return e.doWith(method, path, form, []*http.Cookie{op, tenant})
	}
	in := func(tenant string) *http.Cookie {
		sw := e.do("POST", "/console/tenant", url.Values{"csrf": {e.csrf(op)}, "tenant": {tenant}}, op)
		if sw.status != 303 || len(sw.cookies) != 1 {
			t.Fatalf("switch to %s: %d", tenant, sw.status)
		}
		return sw.cookies[0]
	}
	formToken := func(tenant *http.Cookie) string {
		// The page's last form is the webhook's (the header's, sign out
		// and switch, carry the session's token, bound to no tenant).
		m := csrfField.FindAllStringSubmatch(do("GET", "/console/webhooks/new", nil, tenant).body, -1)
		if m == nil {
			t.Fatal("no CSRF token on the form")
		}
		return m[len(m)-1][1]
	}
	acme, globex := in("acme"), in("globex")
	// Sign out and switch, from a page drawn in acme after the switch to
	// globex, still work: they act on the session, not in a tenant.
	header := csrfField.FindStringSubmatch(do("GET", "/console/webhooks", nil, acme).body)[1]
	if r := do("POST", "/console/tenant", url.Values{"csrf": {header}, "tenant": {"globex"}}, globex); r.status != 303 {
		t.Fatalf("switching from a page drawn in acme: %d", r.status)
	}
	create := url.Values{"name": {"acme's receiver"}, "url": {"https://acme.example/hooks"}, "events": {"invocation.*"},
		"timeoutMs": {"2000"}, "maxAttempts": {"4"}, "enabled": {"on"}, "sslVerification": {"on"}}
	create.Set("csrf", formToken(acme))
	if r := do("POST", "/console/webhooks", create, globex); r.status != 403 || !strings.Contains(r.body, "another tenant") {
		t.Fatalf("acme's form sent in globex: %d", r.status)
	}
	for _, tenant := range []string{"acme", "globex"} {
		if _, n, err := e.store.ListWebhooks(context.Background(), hookd.WebhookQuery{TenantID: tenant}); err != nil || n != 0 {
			t.Fatalf("%s has %d webhooks, %v", tenant, n, err)
		}
	}
	create.Set("csrf", formToken(globex))
	if r := do("POST", "/console/webhooks", create, globex); r.status != 303 {
		t.Fatalf("globex's form in globex: %d %s", r.status, r.body)
	}
}

// An operator's session ends when the operator replaces the admin key
// (say, after it leaked), as a tenant key's ends when it is revoked.
func TestAdminKeyReplacedEndsOperatorSessions(t *testing.T) {
	e := newEnv(t)
	_, op := e.login(adminKey)
	if r := e.do("GET", "/console/tenants", nil, op); r.status != 200 {
		t.Fatalf("operator session: %d", r.status)
	}
	// The same database, served by a process started with a new key.
	con, err := console.New(console.Config{Service: e.svc, AdminKeyHash: hookd.HashKey("the new admin key")})
	must(t, err)
	replaced := httptest.NewServer(con)
	defer replaced.Close()
	req, _ := http.NewRequest("GET", replaced.URL+"/console/tenants", nil)
	req.AddCookie(op)
	res, err := client.Do(req)
	must(t, err)
	res.Body.Close()
	if res.StatusCode != 303 || res.Header.Get("Location") != "/console/login" {
		t.Fatalf("the old key's session after the key was replaced: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// A failed sign-in is logged with the address it came from, for the
// operator's own limiter (hookd locks no address out: behind a proxy
// every user shares one); a wrong key still gets in nowhere.
func TestFailedSignInLogged(t *testing.T) {
	var log bytes.Buffer
	e := newEnv(t, func(c *console.Config) { c.Logger = slog.New(slog.NewJSONHandler(&log, nil)) })
	if r, c := e.login("a wrong key"); r.status != 401 || c != nil {
		t.Fatalf("wrong key: %d", r.status)
	}
	var line map[string]any
	if err := json.Unmarshal(log.Bytes(), &line); err != nil || line["msg"] != "console sign-in failed" || line["addr"] != "127.0.0.1" {
		t.Fatalf("log %q (%v)", log.String(), err)
	}
	if r, c := e.login(adminKey); r.status != 303 || c == nil {
		t.Fatalf("the right key after a failure: %d", r.status)
	}
}

func TestKeySignIn(t *testing.T) {
	e := newEnv(t)
	if r, c := e.login("nope"); r.status != 401 || c != nil {
		t.Fatalf("bad key: %d", r.status)
	}
	// The operator picks a tenant.
	_, op := e.login(adminKey)
	if r := e.do("GET", "/console/webhooks", nil, op); r.status != 303 || r.location != "/console/tenants" {
		t.Fatalf("operator without a tenant: %d %q", r.status, r.location)
	}
	if r := e.do("GET", "/console/tenants", nil, op); !strings.Contains(r.body, "Globex") || !strings.Contains(r.body, "Acme") {
		t.Fatal("tenants page lacks tenants")
	}
	sw := e.do("POST", "/console/tenant", url.Values{"csrf": {e.csrf(op)}, "tenant": {"globex"}}, op)
	if sw.status != 303 || len(sw.cookies) != 1 {
		t.Fatalf("switch: %d", sw.status)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/console/webhooks", nil)
	req.AddCookie(op)
	req.AddCookie(sw.cookies[0])
	res, err := client.Do(req)
	must(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `value="globex"`) {
		t.Fatalf("after switch: %d", res.StatusCode)
	}
	if r := e.do("POST", "/console/tenant", url.Values{"csrf": {e.csrf(op)}, "tenant": {"missing"}}, op); r.status != 404 {
		t.Fatalf("switch to a missing tenant: %d", r.status)
	}

	// A tenant key's session ends when the key is revoked.
	key := &hookd.APIKey{ID: "key_1", TenantID: "acme", Name: "k", Hash: hookd.HashKey("tenant-key"), CreatedAt: time.Now()}
	must(t, e.store.CreateAPIKey(context.Background(), key))
	_, tk := e.login("tenant-key")
	if r := e.do("GET", "/console/webhooks", nil, tk); r.status != 200 || !strings.Contains(r.body, "Acme") {
		t.Fatalf("tenant key session: %d", r.status)
	}
	must(t, e.store.DeleteAPIKey(context.Background(), "acme", key.ID))
	if r := e.do("GET", "/console/webhooks", nil, tk); r.status != 303 {
		t.Fatalf("after the key's revocation: %d", r.status)
	}
}

func TestWebhookForm(t *testing.T) {
	e := newEnv(t)
	acme := e.portal("acme", false)
	token := e.csrf(acme)
	bad := e.do("POST", "/console/webhooks", url.Values{"csrf": {token}, "name": {""}, "url": {"http://127.0.0.1/x"}, "timeoutMs": {"abc"},
		"maxAttempts": {"3"}, "headerName": {"Content-Type"}, "headerValue": {"x"}}, acme)
	if bad.status != 422 {
		t.Fatalf("bad form: %d", bad.status)
	}
	for _, want := range []string{"name-err", "url-err", "events-err", "must be a whole number", "reserved", `value="http://127.0.0.1/x"`} {
		if !strings.Contains(bad.body, want) {
			t.Errorf("the bad form's page lacks %q", want)
		}
	}
	if list, _, _ := e.store.ListWebhooks(context.Background(), hookd.WebhookQuery{TenantID: "acme", Page: hookd.Page{Limit: 10}}); len(list) != 0 {
		t.Fatal("a refused form stored a webhook")
	}
	ok := e.do("POST", "/console/webhooks", url.Values{"csrf": {token}, "name": {"Orders"}, "url": {"https://example.com/orders"},
		"events": {"invocation.*"}, "timeoutMs": {"2000"}, "maxAttempts": {"4"}, "rateLimit": {"5"}, "enabled": {"on"},
		"sslVerification": {"on"}, "channels": {"eu, us"}, "filter": {"data.n > 0"}, "headerName": {"X-A", ""}, "headerValue": {"1", ""},
		"metaKey": {"team"}, "metaValue": {"core"}, "scheme": {"github"}, "secret": {"a-github-secret-1234"}}, acme)
	if ok.status != 303 || !strings.HasPrefix(ok.location, "/console/webhooks/wh_") {
		t.Fatalf("good form: %d %s", ok.status, ok.body)
	}
	id := strings.TrimPrefix(strings.SplitN(ok.location, "?", 2)[0], "/console/webhooks/")
	wh, err := e.store.GetWebhook(context.Background(), "acme", id)
	must(t, err)
	if wh.Timeout != 2*time.Second || wh.MaxAttempts != 4 || wh.RateLimit != 5 || len(wh.Channels) != 2 || wh.Filter != "data.n > 0" ||
		wh.Headers["X-A"] != "1" || wh.Metadata["team"] != "core" || wh.Signature.SchemeName() != "github" || wh.Secret != "a-github-secret-1234" {
		t.Fatalf("created = %+v", wh)
	}
	// The service it shares with the API sees the new webhook at once.
	if ids, err := e.svc.Match(context.Background(), &hookd.Event{TenantID: "acme", Type: "invocation.completed", Channels: []string{"eu"}}, []byte(`{"n":1}`), nil); err != nil || len(ids) != 1 {
		t.Fatalf("matched %v, %v", ids, err)
	}
	// Editing keeps an archived event type the webhook already has, as the
	// API's PATCH does; adding one is refused.
	now := time.Now()
	legacy := &hookd.EventType{Name: "legacy.thing", Description: "old", CreatedAt: now, UpdatedAt: now}
	must(t, e.store.CreateEventType(context.Background(), legacy))
	read := wh.UpdatedAt
	wh.Events = []string{"legacy.thing", "invocation.*"}
	wh.Touch(time.Now())
	must(t, errOf(e.store.UpdateWebhook(context.Background(), wh, read)))
	legacy.Archived = true
	must(t, e.store.UpdateEventType(context.Background(), legacy))
	edit := url.Values{"csrf": {token}, "name": {"Orders v2"}, "url": {wh.URL}, "events": {"invocation.*", "legacy.thing"},
		"timeoutMs": {"2000"}, "maxAttempts": {"4"}, "enabled": {"on"}, "scheme": {"github"}}
	if r := e.do("POST", "/console/webhooks/"+id, edit, acme); r.status != 303 {
		t.Fatalf("edit keeping an archived type: %d %s", r.status, r.body)
	}
	wh, err = e.store.GetWebhook(context.Background(), "acme", id)
	must(t, err)
	if wh.Name != "Orders v2" || wh.Secret != "a-github-secret-1234" || len(wh.Headers) != 0 {
		t.Fatalf("edited = %+v", wh)
	}
	edit["events"] = []string{"invocation.*"}
	e.do("POST", "/console/webhooks/"+id, edit, acme)
	edit["events"] = []string{"invocation.*", "legacy.thing"}
	if r := e.do("POST", "/console/webhooks/"+id, edit, acme); r.status != 422 {
		t.Fatalf("adding an archived type: %d", r.status)
	}
	// The form names the version it was opened on: saved over a newer one
	// (someone else's edit), it is refused and shown again over the current.
	form := e.do("GET", "/console/webhooks/"+id+"/edit", nil, acme)
	m := regexp.MustCompile(`name="version" value="([^"]+)"`).FindStringSubmatch(form.body)
	if m == nil {
		t.Fatalf("the edit form carries no version: %s", form.body)
	}
	edit["events"] = []string{"invocation.*"}
	edit["version"] = []string{html.UnescapeString(m[1])}
	edit["name"] = []string{"Orders v3"}
	if r := e.do("POST", "/console/webhooks/"+id, edit, acme); r.status != 303 {
		t.Fatalf("saving over the version read: %d %s", r.status, r.body)
	}
	edit["name"] = []string{"Orders v4, from the old form"}
	if r := e.do("POST", "/console/webhooks/"+id, edit, acme); r.status != 409 || !strings.Contains(r.body, "changed by someone else") {
		t.Fatalf("saving a stale form: %d", r.status)
	}
	if wh, _ := e.store.GetWebhook(context.Background(), "acme", id); wh.Name != "Orders v3" {
		t.Fatalf("a stale form was saved: %q", wh.Name)
	}
	delete(edit, "version")

	// No delivering engine in this process: the test send says so.
	if r := e.do("POST", "/console/webhooks/"+id+"/test", url.Values{"csrf": {token}}, acme); r.status != 200 || !strings.Contains(r.body, "does not deliver") {
		t.Fatalf("test without an engine: %d", r.status)
	}
	// Data past an event's limit is said on the form (it was a 500 from
	// the service, logged as hookd's own fault), checked before anything
	// is sent.
	big := `{"s":"` + strings.Repeat("x", hookd.MaxEventData) + `"}`
	if r := e.do("POST", "/console/webhooks/"+id+"/test", url.Values{"csrf": {token}, "data": {big}}, acme); r.status != 200 || !strings.Contains(r.body, "larger than 256 KiB") {
		t.Fatalf("test with data too large: %d", r.status)
	}
	// Every page draws.
	for _, p := range []string{"/console/webhooks", "/console/webhooks/" + id, "/console/webhooks/" + id + "?status=FAILED",
		"/console/webhooks/" + id + "/delete", "/console/events", "/console/failed", "/console/event-types",
		"/console/stats", "/console/stats?window=7d&webhook=" + id, "/console/webhooks/new"} {
		if r := e.do("GET", p, nil, acme); r.status != 200 {
			t.Errorf("GET %s: %d", p, r.status)
		}
	}
}

// Changes made in the console are in the audit log as the console's, by the
// session's portal link, and the audit page shows them, filtered.
func TestAuditPage(t *testing.T) {
	e := newEnv(t)
	acme := e.portal("acme", false)
	token := e.csrf(acme)
	ok := e.do("POST", "/console/webhooks", url.Values{"csrf": {token}, "name": {"Orders <b>&</b>"}, "url": {"https://example.com/orders"},
		"events": {"invocation.*"}, "timeoutMs": {"2000"}, "maxAttempts": {"4"}, "enabled": {"on"}, "sslVerification": {"on"},
		"headerName": {"X-Token"}, "headerValue": {"header-value-secret"}}, acme)
	if ok.status != 303 {
		t.Fatalf("create: %d %s", ok.status, ok.body)
	}
	id := strings.TrimPrefix(strings.SplitN(ok.location, "?", 2)[0], "/console/webhooks/")
	if r := e.do("POST", "/console/webhooks/"+id+"/enabled", url.Values{"csrf": {token}, "enabled": {"false"}}, acme); r.status != 303 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	list, err := e.store.ListAudit(context.Background(), hookd.AuditQuery{TenantID: "acme", Limit: 10})
	must(t, err)
	if len(list) != 2 || list[0].Action != hookd.AuditWebhookDisabled || list[1].Action != hookd.AuditWebhookCreated ||
		list[0].Actor.Type != hookd.ActorConsole || !strings.HasPrefix(list[0].Actor.ID, hookd.PrefixConsoleSession) || list[1].Target.ID != id {
		t.Fatalf("audit log %+v", list)
	}
	page := e.do("GET", "/console/audit", nil, acme)
	if page.status != 200 || !strings.Contains(page.body, "webhook.disabled") || !strings.Contains(page.body, "webhook.created") ||
		!strings.Contains(page.body, "/console/webhooks/"+id) || strings.Contains(page.body, "header-value-secret") || !strings.Contains(page.body, "X-Token") ||
		!strings.Contains(page.body, `Orders &lt;b&gt;&amp;&lt;/b&gt;`) || strings.Contains(page.body, `\u003c`) {
		t.Fatalf("audit page: %d\n%s", page.status, page.body)
	}
	filtered := e.do("GET", "/console/audit?action=webhook.created", nil, acme)
	if strings.Contains(filtered.body, "<code>webhook.disabled</code>") || !strings.Contains(filtered.body, "<code>webhook.created</code>") {
		t.Fatalf("filtered page:\n%s", filtered.body)
	}
	// Another tenant's session sees none of it.
	if other := e.do("GET", "/console/audit", nil, e.portal("globex", true)); strings.Contains(other.body, id) {
		t.Fatal("globex sees acme's audit log")
	}
}

// A notice is shown once, on the page an action redirects to: not again on
// a reload, and not on another page (a Not Found).
func TestNoticeShownOnce(t *testing.T) {
	e := newEnv(t)
	wh, _ := e.webhook("acme")
	acme := e.portal("acme", false)
	r := e.do("POST", "/console/webhooks/"+wh.ID+"/enabled", url.Values{"csrf": {e.csrf(acme)}, "enabled": {"false"}}, acme)
	if r.status != 303 || strings.Contains(r.location, "notice") {
		t.Fatalf("disable: %d to %q", r.status, r.location)
	}
	var flash *http.Cookie
	for _, c := range r.cookies {
		if c.Name == "hookd_flash" {
			flash = c
		}
	}
	if flash == nil || !flash.HttpOnly {
		t.Fatalf("no one-shot notice cookie: %v", r.cookies)
	}
	both := acme.Name + "=" + acme.Value + "; " + flash.Name + "=" + flash.Value
	page := e.do("GET", r.location, nil, nil, "Cookie", both)
	if !strings.Contains(page.body, "The webhook is disabled") {
		t.Fatal("the notice is not on the page the action led to")
	}
	cleared := false
	for _, c := range page.cookies {
		cleared = cleared || (c.Name == "hookd_flash" && c.MaxAge < 0)
	}
	if !cleared {
		t.Fatal("showing the notice did not clear it")
	}
	if again := e.do("GET", r.location, nil, acme); strings.Contains(again.body, "The webhook is disabled") {
		t.Fatal("a reload showed the notice again")
	}
	if missing := e.do("GET", "/console/webhooks/wh_missing", nil, nil, "Cookie", both); missing.status != 404 || strings.Contains(missing.body, "The webhook is disabled") {
		t.Fatalf("a Not Found page showed the notice: %d", missing.status)
	}
}

// /console/deliveries reads the contract's query parameters: status,
// webhookId, eventType, since and until (RFC 3339 or the form's UTC
// datetime-local) and q (an event id; a delivery id opens it).
func TestDeliveriesPageQuery(t *testing.T) {
	e := newEnv(t)
	wh, dlv := e.webhook("acme")
	other, otherDlv := e.webhook("acme")
	acme := e.portal("acme", false)
	d, err := e.store.GetDelivery(context.Background(), "acme", dlv)
	must(t, err)
	for _, c := range []struct {
		query     string
		has, lack []string
	}{
		{"webhookId=" + wh.ID, []string{dlv}, []string{otherDlv}},
		{"webhookId=" + other.ID + "&status=PENDING&eventType=invocation.completed", []string{otherDlv}, []string{dlv}},
		{"status=CANCELED", nil, []string{dlv, otherDlv}},
		{"eventType=a.b", nil, []string{dlv, otherDlv}},
		{"since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z", []string{dlv, otherDlv}, nil},
		{"until=2000-01-01T00:00", nil, []string{dlv, otherDlv}},
		{"q=" + d.Delivery.EventID, []string{dlv}, []string{otherDlv}},
	} {
		r := e.do("GET", "/console/deliveries?"+c.query, nil, acme)
		if r.status != 200 {
			t.Fatalf("%s: %d", c.query, r.status)
		}
		for _, id := range c.has {
			if !strings.Contains(r.body, id) {
				t.Errorf("%s: %s not listed", c.query, id)
			}
		}
		for _, id := range c.lack {
			if strings.Contains(r.body, id) {
				t.Errorf("%s: %s listed", c.query, id)
			}
		}
	}
	if r := e.do("GET", "/console/deliveries?q="+dlv, nil, acme); r.status != 303 || r.location != "/console/deliveries/"+dlv {
		t.Fatalf("a delivery id: %d to %q", r.status, r.location)
	}
	if r := e.do("GET", "/console/deliveries?since=yesterday", nil, acme); !strings.Contains(r.body, "since-problem") {
		t.Fatal("a bad since is not shown as a problem")
	}
	// A time in the API's form is shown as the date input takes it (else
	// the browser shows an empty field that still filters).
	if r := e.do("GET", "/console/deliveries?since=2000-01-02T03:04:05.5%2B01:00", nil, acme); !strings.Contains(r.body, `value="2000-01-02T02:04:05"`) {
		t.Fatal("an RFC 3339 since is not shown in the input's form")
	}
	// A webhook or type not there is said so beside its field.
	for query, problem := range map[string]string{"webhookId=wh_nope": "webhook-problem", "eventType=invocation.*": "type-problem"} {
		if r := e.do("GET", "/console/deliveries?"+query, nil, acme); !strings.Contains(r.body, problem) || strings.Contains(r.body, dlv) {
			t.Errorf("%s: no %s, or deliveries listed", query, problem)
		}
	}
}

// Only the origins given may frame the console; with some given, its
// cookies are SameSite=None, Secure and Partitioned so that a framed
// console (a third party in the platform's page) keeps its session.
func TestFrameAncestors(t *testing.T) {
	closed := newEnv(t)
	r := closed.do("GET", "/console/login", nil, nil)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || r.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("by default: CSP %q, X-Frame-Options %q", csp, r.header.Get("X-Frame-Options"))
	}
	open := newEnv(t, func(c *console.Config) {
		c.FrameAncestors = []string{"https://app.example.com", "http://localhost:3000"}
	})
	r = open.do("GET", "/console/login", nil, nil)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://app.example.com http://localhost:3000;") || r.header.Get("X-Frame-Options") != "" {
		t.Fatalf("with two origins: CSP %q, X-Frame-Options %q", csp, r.header.Get("X-Frame-Options"))
	}
	session := open.portal("acme", false)
	if session.SameSite != http.SameSiteNoneMode || !session.Secure || !session.Partitioned || !session.HttpOnly {
		t.Fatalf("a framed console's session cookie: %+v", session)
	}
	if closed.portal("acme", false).SameSite != http.SameSiteStrictMode {
		t.Fatal("an unframed console's cookie is not SameSite=Strict")
	}
}

// A brand's accent must be readable on white; a brand shows in titles,
// the top bar and the accent's stylesheet, and its logo's origin is the
// one the CSP lets images come from.
func TestBrand(t *testing.T) {
	for _, c := range []struct {
		b  console.Brand
		ok bool
	}{
		{console.Brand{}, true},
		{console.Brand{Name: "Acme Hooks", Accent: "#0f766e", LogoURL: "https://cdn.acme.test/logo.svg"}, true},
		{console.Brand{Accent: "#ffbf47"}, false}, // 1.6:1
		{console.Brand{Accent: "#777777"}, false}, // 4.48:1
		{console.Brand{Accent: "#767676"}, true},  // 4.54:1
		{console.Brand{Accent: "3b4cca"}, false},
		{console.Brand{LogoURL: "http://cdn.acme.test/logo.svg"}, false},
		{console.Brand{Name: "<script>"}, false},
	} {
		b := c.b
		if err := b.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: %v, want ok %v", c.b, err, c.ok)
		}
	}
	e := newEnv(t, func(c *console.Config) {
		c.Brand = console.Brand{Name: "Acme Hooks", Accent: "#0f766e", LogoURL: "https://cdn.acme.test/logo.svg"}
	})
	page := e.do("GET", "/console/webhooks", nil, e.portal("acme", false))
	if !strings.Contains(page.body, "<title>Webhooks · Acme Hooks</title>") || !strings.Contains(page.body, `<img src="https://cdn.acme.test/logo.svg" alt="Acme Hooks"`) {
		t.Fatalf("the branded page:\n%s", page.body[:min(len(page.body), 1500)])
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.acme.test;") {
		t.Fatalf("CSP %q", csp)
	}
	if css := e.do("GET", "/console/brand.css", nil, nil); css.status != 200 || !strings.Contains(css.body, "--brand: #0f766e") {
		t.Fatalf("brand.css: %d %q", css.status, css.body)
	}
	if plain := newEnv(t).do("GET", "/console/login", nil, nil); !strings.Contains(plain.body, "· hookd</title>") {
		t.Fatal("the unbranded console is not hookd")
	}
}

// What a console audit found: a status filter that is no status says so;
// the delivery page hides the values of the webhook's own headers, and the
// webhook page shows its metadata; the audit log shows <, > and & as
// themselves (escaped once); an enable form that says neither true nor
// false is refused.
func TestConsoleAuditFindings(t *testing.T) {
	e := newEnv(t)
	wh, dlv := e.webhook("acme")
	ctx := context.Background()
	_, _, err := hookd.EditWebhook(ctx, e.store, nil, "acme", wh.ID, func(w *hookd.Webhook) error {
		w.Headers, w.Metadata = map[string]string{"X-Custom": "secretvalue123"}, map[string]string{"team": "ops-<b>"}
		return nil
	})
	must(t, err)
	a := &hookd.Attempt{Number: 1, StartedAt: time.Now(), StatusCode: 200, Success: true,
		RequestHeaders: map[string]string{"X-Custom": "secretvalue123", "Webhook-Id": "evt_x"}}
	c := e.portal("acme", true)
	if r := e.do("GET", "/console/deliveries?status=BOGUS", nil, c); r.status != 200 || !strings.Contains(r.body, "is not a status") || strings.Contains(r.body, "No deliveries yet") {
		t.Fatalf("a bad status filter: %d", r.status)
	}
	if r := e.do("GET", "/console/deliveries?status=failed", nil, c); r.status != 200 || strings.Contains(r.body, "is not a status") {
		t.Fatalf("a lowercase status: %d", r.status)
	}
	if r := e.do("GET", "/console/webhooks/"+wh.ID+"?status=BOGUS", nil, c); r.status != 200 || !strings.Contains(r.body, "is not a status") ||
		strings.Contains(r.body, "No deliveries yet") {
		t.Fatalf("a bad status filter on the webhook's page: %d", r.status)
	}
	if r := e.do("GET", "/console/webhooks/"+wh.ID+"?status=failed", nil, c); r.status != 200 || strings.Contains(r.body, "is not a status") {
		t.Fatalf("a lowercase status on the webhook's page: %d", r.status)
	}
	if r := e.do("GET", "/console/webhooks/"+wh.ID, nil, c); !strings.Contains(r.body, "team: ops-&lt;b&gt;") {
		t.Fatalf("the webhook page lacks its metadata")
	}
	must(t, recordAttempt(e, wh, dlv, a))
	if r := e.do("GET", "/console/deliveries/"+dlv, nil, c); r.status != 200 || strings.Contains(r.body, "secretvalue123") || !strings.Contains(r.body, "evt_x") {
		t.Fatalf("the delivery page shows the webhook's header value, or no headers: %d", r.status)
	}
	admin := e.portal("acme", false)
	form := url.Values{"csrf": {e.csrf(admin)}, "enabled": {"maybe"}}
	if r := e.do("POST", "/console/webhooks/"+wh.ID+"/enabled", form, admin); r.status != 400 {
		t.Fatalf("enabled=maybe: %d", r.status)
	}
	if got, _ := e.store.GetWebhook(ctx, "acme", wh.ID); !got.Enabled {
		t.Fatal("enabled=maybe disabled the webhook")
	}
}

// recordAttempt claims dlv and records a as its attempt, as the engine does.
func recordAttempt(e *env, wh *hookd.Webhook, dlv string, a *hookd.Attempt) error {
	ctx := context.Background()
	res, err := queue.Claim(ctx, e.store, queue.ClaimParams{Limit: 10, Lease: time.Minute, Room: func(string, string) (int, time.Duration) { return 10, 0 }})
	if err != nil {
		return err
	}
	for _, c := range res.Claims {
		if c.DeliveryID == dlv {
			_, err := queue.Policy{}.Record(ctx, e.store, []*hookd.Outcome{{Lease: c.Lease, WebhookID: wh.ID, EventID: c.EventID,
				EventType: c.EventType, Attempt: a, Status: hookd.StatusSuccess}}, nil)
			return err
		}
	}
	return fmt.Errorf("delivery %s not claimed", dlv)
}

// A save that lost a race to another edit (409) shows the form again over
// the current version with the user's changes on top: a field they left
// alone shows what the other edit made it, so saving again keeps it; one
// both changed keeps theirs and says so.
func TestStaleEditMerges(t *testing.T) {
	e := newEnv(t)
	acme := e.portal("acme", false)
	token := e.csrf(acme)
	wh := e.svc.NewWebhook("acme")
	wh.Name, wh.URL, wh.Events, wh.Description = "Orders", "https://example.com/o", []string{"invocation.completed"}, "original"
	must(t, e.svc.CreateWebhook(context.Background(), wh, nil, nil))
	hidden := func(body, name string) string {
		t.Helper()
		m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s in the form: %s", name, body)
		}
		return html.UnescapeString(m[1])
	}
	// The form as the browser posts it back: what it showed, name changed.
	opened := e.do("GET", "/console/webhooks/"+wh.ID+"/edit", nil, acme).body
	form := url.Values{"csrf": {token}, "version": {hidden(opened, "version")}, "original": {hidden(opened, "original")},
		"name": {"Orders (mine)"}, "url": {wh.URL}, "description": {"original"}, "events": {"invocation.completed"},
		"timeoutMs": {"30000"}, "maxAttempts": {strconv.Itoa(wh.MaxAttempts)}, "enabled": {"on"}, "sslVerification": {"on"}, "scheme": {"standard"}}
	// Meanwhile a colleague changes the description and the timeout.
	_, err := e.svc.UpdateWebhook(context.Background(), "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.Description, w.Timeout = "colleague's", 20*time.Second
	})
	must(t, err)
	r := e.do("POST", "/console/webhooks/"+wh.ID, form, acme)
	if r.status != 409 || !strings.Contains(r.body, "changed by someone else") {
		t.Fatalf("the stale save: %d", r.status)
	}
	for _, want := range []string{`value="Orders (mine)"`, `>colleague&#39;s</textarea>`, `name="timeoutMs" type="number" min="1000" max="60000" step="1" value="20000"`} {
		if !strings.Contains(r.body, want) {
			t.Fatalf("the form shown again lacks %s", want)
		}
	}
	// Saved again as shown: both changes stand.
	form.Set("version", hidden(r.body, "version"))
	form.Set("original", hidden(r.body, "original"))
	form.Set("description", "colleague's")
	form.Set("timeoutMs", "20000")
	if r := e.do("POST", "/console/webhooks/"+wh.ID, form, acme); r.status != 303 {
		t.Fatalf("saving the merged form: %d %s", r.status, r.body)
	}
	got, err := e.store.GetWebhook(context.Background(), "acme", wh.ID)
	must(t, err)
	if got.Name != "Orders (mine)" || got.Description != "colleague's" || got.Timeout != 20*time.Second {
		t.Fatalf("after the merge: name %q, description %q, timeout %s", got.Name, got.Description, got.Timeout)
	}

	// The form opened again, and the colleague's description.
	reopen := func(colleagues string) {
		t.Helper()
		opened := e.do("GET", "/console/webhooks/"+wh.ID+"/edit", nil, acme).body
		form.Set("version", hidden(opened, "version"))
		form.Set("original", hidden(opened, "original"))
		_, err := e.svc.UpdateWebhook(context.Background(), "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
			w.Description = colleagues
		})
		must(t, err)
	}
	// Both change the description: the form keeps the user's and says so.
	form.Set("description", "mine")
	reopen("theirs")
	r = e.do("POST", "/console/webhooks/"+wh.ID, form, acme)
	if r.status != 409 || !strings.Contains(r.body, ">mine</textarea>") || !strings.Contains(r.body, "changed by someone else too") {
		t.Fatalf("both changed the description: %d", r.status)
	}

	// A form shown again by its filter's test keeps the version it was
	// opened on: a change made meanwhile still makes the save a 409.
	form.Set("description", "theirs")
	reopen("theirs, again")
	form.Set("action", "test-filter")
	if r := e.do("POST", "/console/webhooks/"+wh.ID, form, acme); r.status != 200 || hidden(r.body, "version") != form.Get("version") {
		t.Fatalf("the filter's test: %d, version %q", r.status, hidden(r.body, "version"))
	}
	form.Set("action", "save")
	if r := e.do("POST", "/console/webhooks/"+wh.ID, form, acme); r.status != 409 || !strings.Contains(r.body, ">theirs, again</textarea>") {
		t.Fatalf("saved after the filter's test: %d", r.status)
	}
}

// A field posted back as the form showed it is the user's own only if
// they changed it: a filter the API stored with a trailing line break, a
// template with a line break, header values, all untouched, take the
// other edit's values.
func TestMergeStaleNormalizes(t *testing.T) {
	orig := &hookd.Webhook{Name: "n", URL: "https://example.com/x", Filter: "data.x > 1\n", Description: "a\nb", Events: []string{"b", "a"},
		Timeout: time.Second, MaxAttempts: 3, Headers: map[string]string{"X-A": "1", "X-B": "2"},
		Signature: &hookd.Signature{Scheme: hookd.SchemeHMACSHA256, Header: "X-S", Content: "{timestamp}\n{body}", Encoding: "hex"}}
	cur := *orig
	cur.Filter, cur.Signature = "data.x > 2", &hookd.Signature{Scheme: hookd.SchemeGitHub}
	// As a browser posts the form it was shown, the name changed.
	posted := url.Values{"name": {"mine"}, "url": {orig.URL + " "}, "filter": {"data.x > 1\r\n"}, "description": {"a\r\nb"},
		"events": {"a", "b"}, "timeoutMs": {"1000"}, "maxAttempts": {"3"}, "headerName": {"X-B", "X-A"}, "headerValue": {"2", "1"},
		"scheme": {"hmac-sha256"}, "sigHeader": {"X-S"}, "sigContent": {"{timestamp}\r\n{body}"}, "sigEncoding": {"hex"}}
	merged, both := console.MergeStale(posted, orig, &cur)
	if len(both) != 0 || merged.Name != "mine" || merged.Filter != "data.x > 2" || merged.Sig.Scheme != hookd.SchemeGitHub {
		t.Fatalf("merged %+v, both changed %v", merged, both)
	}
}

// A browser's POST from another site is refused, even with the form's
// token; one from the console's own pages goes through.
func TestCrossSitePostRefused(t *testing.T) {
	e := newEnv(t)
	acme := e.portal("acme", false)
	token := e.csrf(acme)
	create := url.Values{"csrf": {token}, "name": {"Orders"}, "url": {"https://example.com/o"}, "events": {"invocation.completed"},
		"timeoutMs": {"30000"}, "maxAttempts": {"3"}, "enabled": {"on"}, "sslVerification": {"on"}, "scheme": {"standard"}}
	for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		if r := e.do("POST", "/console/webhooks", create, acme, h...); r.status != 403 || !strings.Contains(r.body, "from another site") {
			t.Fatalf("POST with %s: %d", h, r.status)
		}
	}
	if whs, _, err := e.store.ListWebhooks(context.Background(), hookd.WebhookQuery{TenantID: "acme", Page: hookd.Page{Limit: 10}}); err != nil || len(whs) != 0 {
		t.Fatalf("a cross-site POST made %d webhooks (%v)", len(whs), err)
	}
	// Left blank, the timeout and the attempts take their defaults, as
	// the API's absent fields do.
	create.Set("timeoutMs", "")
	create.Del("maxAttempts")
	if r := e.do("POST", "/console/webhooks", create, acme, "Sec-Fetch-Site", "same-origin"); r.status != 303 {
		t.Fatalf("a same-origin POST: %d %s", r.status, r.body)
	}
	whs, _, err := e.store.ListWebhooks(context.Background(), hookd.WebhookQuery{TenantID: "acme", Page: hookd.Page{Limit: 10}})
	if err != nil || len(whs) != 1 || whs[0].Timeout != hookd.DefaultTimeout || whs[0].MaxAttempts != e.svc.NewWebhook("acme").MaxAttempts {
		t.Fatalf("made %+v (%v)", whs, err)
	}
}

// The volume chart stacks every status, CANCELED too (an audit: the legend
// listed it and no bar showed it).
func TestVolumeChartStacksEveryStatus(t *testing.T) {
	b := &hookd.SeriesBucket{Start: time.Now(), ByStatus: map[hookd.DeliveryStatus]int{
		hookd.StatusSuccess: 3, hookd.StatusFailed: 1, hookd.StatusCanceled: 2, hookd.StatusRetrying: 1, hookd.StatusPending: 1}}
	got := console.VolumeChartClasses([]*hookd.SeriesBucket{b})
	want := []string{"status-success", "status-failed", "status-canceled", "status-retrying", "status-pending"}
	if !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
}

// A delivery of a disabled webhook offers no retry (it would be refused):
// the page says to enable the webhook first.
func TestNoRetryOfferedWhenDisabled(t *testing.T) {
	e := newEnv(t)
	wh, dlv := e.webhook("acme")
	c := e.portal("acme", false)
	retry := `action="/console/deliveries/` + dlv + `/retry"`
	if r := e.do("GET", "/console/deliveries/"+dlv, nil, c); !strings.Contains(r.body, retry) {
		t.Fatal("no retry offered while the webhook is enabled")
	}
	_, _, err := hookd.EditWebhook(context.Background(), e.store, nil, "acme", wh.ID, func(w *hookd.Webhook) error { w.Enabled = false; return nil })
	must(t, err)
	if r := e.do("GET", "/console/deliveries/"+dlv, nil, c); strings.Contains(r.body, retry) || !strings.Contains(r.body, "enable it") {
		t.Fatal("a retry offered for a disabled webhook's delivery")
	}
}

// An edit to a scheme whose secrets the old one does not fit shows the new
// secret and says so; an edit that disables says what became of the
// waiting deliveries (an audit: both said only "saved").
func TestEditSaysWhatChanged(t *testing.T) {
	e := newEnv(t)
	acme := e.portal("acme", false)
	token := e.csrf(acme)
	made := e.do("POST", "/console/webhooks", url.Values{"csrf": {token}, "name": {"G"}, "url": {"https://example.com/g"},
		"events": {"invocation.*"}, "timeoutMs": {"2000"}, "maxAttempts": {"4"}, "enabled": {"on"}, "sslVerification": {"on"},
		"scheme": {"github"}, "secret": {"a-github-secret-1234"}}, acme)
	id := strings.TrimPrefix(strings.SplitN(made.location, "?", 2)[0], "/console/webhooks/")
	edit := url.Values{"csrf": {token}, "name": {"G"}, "url": {"https://example.com/g"}, "events": {"invocation.*"},
		"timeoutMs": {"2000"}, "maxAttempts": {"4"}, "enabled": {"on"}, "sslVerification": {"on"}, "scheme": {"standard"}}
	r := e.do("POST", "/console/webhooks/"+id, edit, acme)
	if r.status != 303 || r.location != "/console/webhooks/"+id+"?secret=show#secret" || len(r.cookies) == 0 {
		t.Fatalf("a scheme change that replaced the secret: %d to %q", r.status, r.location)
	}
	edit["scheme"], edit["enabled"] = []string{"standard"}, nil
	if r := e.do("POST", "/console/webhooks/"+id, edit, acme); r.status != 303 || r.location != "/console/webhooks/"+id {
		t.Fatalf("an edit that disables: %d to %q", r.status, r.location)
	} else if flash, _ := base64.RawURLEncoding.DecodeString(r.cookies[0].Value); string(flash) != "notice=saved-disabled" {
		t.Fatalf("an edit that disables left %q", flash)
	}
}

// A scheme that carries one signature is offered no grace (the service
// refuses one: the default choice of 24 hours was a 422), and rotates.
func TestRotateOneSignatureScheme(t *testing.T) {
	e := newEnv(t)
	wh, _ := e.webhook("acme")
	_, _, err := hookd.EditWebhook(context.Background(), e.store, nil, "acme", wh.ID, func(w *hookd.Webhook) error {
		w.Signature, w.Secret = &hookd.Signature{Scheme: hookd.SchemeGitHub}, "a-receivers-secret-1"
		return nil
	})
	must(t, err)
	c := e.portal("acme", false)
	page := e.do("GET", "/console/webhooks/"+wh.ID, nil, c)
	if strings.Contains(page.body, `id="grace"`) || !strings.Contains(page.body, `id="one-signature"`) {
		t.Fatalf("the secret panel of a github webhook:\n%s", page.body)
	}
	r := e.do("POST", "/console/webhooks/"+wh.ID+"/rotate", url.Values{"csrf": {e.csrf(c)}, "grace": {"0s"}}, c)
	if r.status != http.StatusSeeOther {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	if got, _ := e.store.GetWebhook(context.Background(), "acme", wh.ID); got.Secret == "a-receivers-secret-1" || len(got.SigningSecrets(time.Now())) != 1 {
		t.Fatalf("after the rotation: %+v", got)
	}
	if standard, _ := e.webhook("acme"); !strings.Contains(e.do("GET", "/console/webhooks/"+standard.ID, nil, c).body, `id="grace"`) {
		t.Fatal("a standard webhook is offered no grace")
	}
}

// between is what s has from the first from to the next to, for a
// failure's message.
func between(s, from, to string) string {
	if i := strings.Index(s, from); i >= 0 {
		s = s[i:]
	}
	if i := strings.Index(s, to); i >= 0 {
		s = s[:i]
	}
	return s
}

// The cancel's confirm page counts what the cancel then ends: those
// created before until (an outside audit: it counted one created at until
// itself, which the cancel left waiting).
func TestCancelPreviewCountsWhatCancelEnds(t *testing.T) {
	e := newEnv(t)
	wh, dlv := e.webhook("acme")
	d, err := e.store.GetDelivery(context.Background(), "acme", dlv)
	must(t, err)
	at := d.Delivery.CreatedAt.UTC()
	acme := e.portal("acme", false)
	page := func(until time.Time) string {
		t.Helper()
		r := e.do("GET", "/console/webhooks/"+wh.ID+"/confirm?action=cancel&until="+url.QueryEscape(until.Format(time.RFC3339Nano)), nil, acme)
		if r.status != 200 {
			t.Fatalf("confirm page: %d", r.status)
		}
		return r.body
	}
	if body := page(at); !strings.Contains(body, "0 waiting deliveries") {
		t.Fatalf("until its creation: the page should count none; it says %q", between(body, "<main", "</main>"))
	}
	if body := page(at.Add(time.Microsecond)); !strings.Contains(body, "1 waiting delivery") {
		t.Fatalf("until a microsecond after: the page should count it; it says %q", between(body, "<main", "</main>"))
	}
	// And the cancel over the first window ends none.
	r := e.do("POST", "/console/webhooks/"+wh.ID+"/cancel", url.Values{"csrf": {e.csrf(acme)}, "until": {at.Format(time.RFC3339Nano)}}, acme)
	if r.status != 303 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	d, err = e.store.GetDelivery(context.Background(), "acme", dlv)
	must(t, err)
	if d.Delivery.Status != hookd.StatusPending {
		t.Fatalf("after a cancel until its creation: %s", d.Delivery.Status)
	}
}
