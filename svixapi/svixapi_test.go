package svixapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/teststore"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/service"
	"github.com/hookd/hookd/svixapi"
	"github.com/hookd/hookd/tasks"
)

const adminKey = "adm"

type env struct {
	t     *testing.T
	srv   *httptest.Server
	store hookd.Store
	svc   *service.Service
}

func newEnv(t *testing.T) *env {
	store := teststore.Open(t)
	svc := service.New(service.Config{Store: store, Guard: &netguard.Policy{Resolver: netguard.Offline}})
	srv := httptest.NewServer(svixapi.New(svixapi.Config{Service: svc, AdminKeyHash: hookd.HashKey(adminKey)}))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: store, svc: svc}
}

// v1SDK is the User-Agent of the Svix SDK hookd's tests pin (go.mod),
// whose decoding refuses fields it does not know: the requests here name
// it unless a test asks as another client (doAs).
const v1SDK = "svix-libs/1.44.0/go"

// do sends a request with the admin key, as Svix's v1 Go SDK, and returns
// the status and body.
func (e *env) do(method, path, body string) (int, map[string]any) {
	e.t.Helper()
	return e.doAs(v1SDK, method, path, body)
}

// doAs is do as the client agent names ("" for none).
func (e *env) doAs(agent, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("User-Agent", agent)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return res.StatusCode, out
}

// onPostgres is every test here, run again on PostgreSQL.
var onPostgres = map[string]func(*testing.T){"Applications": TestApplications, "EndpointsAndMessages": TestEndpointsAndMessages, "Errors": TestErrors, "EventTypes": TestEventTypes, "IdempotencyKey": TestIdempotencyKey, "IdempotencyKeyConcurrent": TestIdempotencyKeyConcurrent, "LongURLAndDescription": TestLongURLAndDescription, "ListsPageByCursor": TestListsPageByCursor, "MessageFilters": TestMessageFilters, "PutMakesAndPatchSecret": TestPutMakesAndPatchSecret, "PatchSecretOfNativeWebhook": TestPatchSecretOfNativeWebhook, "NewTypesOnlyWithValidRequests": TestNewTypesOnlyWithValidRequests, "AttemptedMessagesAndDestinations": TestAttemptedMessagesAndDestinations, "NewerSDKs": TestNewerSDKs, "BackgroundTasks": TestBackgroundTasks, "CurrentShape": TestCurrentShape, "RotateGrace": TestRotateGrace, "EndpointStatsOutliveRetention": TestEndpointStatsOutliveRetention, "CancelMessages": TestCancelMessages, "SDKEdges": TestSDKEdges, "MessagesAsSvixTakesThem": TestMessagesAsSvixTakesThem}

func TestOnPostgres(t *testing.T) {
	if os.Getenv("HOOKD_TEST_POSTGRES") == "" {
		t.Skip("HOOKD_TEST_POSTGRES is not set")
	}
	for name, fn := range onPostgres {
		t.Run(name, fn)
	}
}

// Applications are tenants: uid is the id, get_if_exists returns the one
// there, lists page by iterator until done.
func TestApplications(t *testing.T) {
	e := newEnv(t)
	// The operator's own tenant is no application: never listed, and the
	// pages around it neither repeat nor end early.
	if err := e.store.CreateTenant(t.Context(), &hookd.Tenant{ID: hookd.OperatorTenant, Name: "operator", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"a1", "a2", "a3"} {
		if code, out := e.do("POST", "/api/v1/app", `{"name":"App `+uid+`","uid":"`+uid+`","unknownField":1}`); code != 201 || out["id"] != uid || out["uid"] != uid {
			t.Fatalf("create %s: %d %v", uid, code, out)
		}
	}
	if code, out := e.do("POST", "/api/v1/app/?get_if_exists=true", `{"name":"Other","uid":"a1"}`); code != 200 || out["name"] != "App a1" {
		t.Fatalf("get_if_exists: %d %v", code, out)
	}
	if code, out := e.do("POST", "/api/v1/app?get_if_exists=true", `{"name":"Other","uid":"`+hookd.OperatorTenant+`"}`); code != 422 {
		t.Fatalf("get_if_exists of the operator's tenant: %d %v", code, out)
	}
	if code, out := e.do("POST", "/api/v1/app", `{"name":"Again","uid":"a1"}`); code != 409 || out["code"] != "conflict" {
		t.Fatalf("a taken uid: %d %v", code, out)
	}
	if code, out := e.do("POST", "/api/v1/app", `{"name":"No uid"}`); code != 201 || !strings.HasPrefix(out["id"].(string), "app_") || out["uid"] != nil {
		t.Fatalf("without a uid (none read back, as in Svix): %d %v", code, out)
	}
	// order=descending pages newest first (made apart: one clock tick
	// each would do, but the store keeps microseconds).
	var desc []string
	for it := ""; ; {
		code, l := e.do("GET", "/api/v1/app?order=descending&limit=2"+it, "")
		if code != 200 {
			t.Fatalf("descending: %d %v", code, l)
		}
		for _, a := range l["data"].([]any) {
			desc = append(desc, a.(map[string]any)["id"].(string))
		}
		if l["done"] == true {
			break
		}
		it = "&iterator=" + l["iterator"].(string)
	}
	if len(desc) != 4 || desc[1] != "a3" || desc[2] != "a2" || desc[3] != "a1" {
		t.Fatalf("descending: %v, want the app without a uid, a3, a2, a1", desc)
	}
	if code, _ := e.do("GET", "/api/v1/app?order=sideways", ""); code != 422 {
		t.Fatalf("an unknown order: %d", code)
	}
	seen := map[string]bool{}
	for it := ""; ; {
		code, out := e.do("GET", "/api/v1/app?limit=1"+it, "")
		if code != 200 {
			t.Fatalf("list: %d %v", code, out)
		}
		for _, a := range out["data"].([]any) {
			id := a.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("%s listed twice", id)
			}
			seen[id] = true
		}
		if out["done"] == true {
			break
		}
		it = "&iterator=" + out["iterator"].(string)
	}
	if len(seen) != 4 {
		t.Fatalf("listed %d applications, want 4", len(seen))
	}
	if code, _ := e.do("DELETE", "/api/v1/app/a2", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, out := e.do("GET", "/api/v1/app/a2/", ""); code != 404 || out["code"] != "not_found" {
		t.Fatalf("deleted: %d %v", code, out)
	}
}

// Endpoints are svix-signed, raw-body webhooks; a secret may come with or
// without whsec_; a message's new event type joins the catalog.
func TestEndpointsAndMessages(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	key := "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	code, ep := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/hook","secret":"`+key+`","filterTypes":["invoice.paid"],"channels":["eu"]}`)
	if code != 201 || ep["version"] != 1.0 || ep["disabled"] != false {
		t.Fatalf("create endpoint: %d %v", code, ep)
	}
	if code, s := e.do("GET", "/api/v1/app/acme/endpoint/"+ep["id"].(string)+"/secret", ""); code != 200 || s["key"] != "whsec_"+key {
		t.Fatalf("secret: %d %v", code, s)
	}
	if code, got := e.do("GET", "/api/v1/app/acme/endpoint/"+ep["id"].(string), ""); code != 200 || got["filterTypes"].([]any)[0] != "invoice.paid" {
		t.Fatalf("get endpoint: %d %v", code, got)
	}
	code, msg := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice.paid","eventId":"inv-1","payload":{"a":1},"channels":["eu"]}`)
	if code != 202 || msg["id"] != "inv-1" || msg["eventId"] != "inv-1" {
		t.Fatalf("message: %d %v", code, msg)
	}
	if code, again := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice.paid","eventId":"inv-1","payload":{"a":2}}`); code != 409 || again["code"] != "conflict" {
		t.Fatalf("the same eventId again (a conflict, as in svix-server): %d %v", code, again)
	}
	for _, payload := range []string{`[1,2]`, `"text"`, `null`, ``} {
		body := `{"eventType":"invoice.paid","payload":` + payload + `}`
		if payload == "" {
			body = `{"eventType":"invoice.paid"}`
		}
		if code, bad := e.do("POST", "/api/v1/app/acme/msg", body); code != 422 {
			t.Fatalf("payload %s (Svix's is an object): %d %v", payload, code, bad)
		}
	}
	if code, bad := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice paid!","payload":{}}`); code != 422 || bad["detail"] == nil {
		t.Fatalf("a type name hookd cannot hold: %d %v", code, bad)
	}
	if code, _ := e.do("POST", "/api/v1/app/nope/msg", `{"eventType":"a.b","payload":{}}`); code != 404 {
		t.Fatalf("an unknown application: %d", code)
	}
	// Messages list newest first and read back with their payload.
	for i := range 3 {
		e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice.paid","payload":{"n":`+string(rune('0'+i))+`}}`)
	}
	code, msgs := e.do("GET", "/api/v1/app/acme/msg?limit=2", "")
	data, _ := msgs["data"].([]any)
	if code != 200 || len(data) != 2 || msgs["done"] != false || data[0].(map[string]any)["payload"].(map[string]any)["n"] != 2.0 {
		t.Fatalf("messages: %d %v", code, msgs)
	}
	code, rest := e.do("GET", "/api/v1/app/acme/msg?limit=2&iterator="+msgs["iterator"].(string), "")
	if code != 200 || len(rest["data"].([]any)) != 2 || rest["done"] != true {
		t.Fatalf("messages, page 2: %d %v", code, rest)
	}
	if code, one := e.do("GET", "/api/v1/app/acme/msg/inv-1", ""); code != 200 || one["payload"].(map[string]any)["a"] != 1.0 || one["eventId"] != "inv-1" {
		t.Fatalf("message inv-1: %d %v", code, one)
	}
	if first := data[0].(map[string]any); first["eventId"] != nil {
		t.Fatalf("a message sent without an eventId has one: %v", first)
	}
	// Stats count the endpoint's deliveries (waiting ones are pending): one
	// message carried its channel.
	id := ep["id"].(string)
	if code, st := e.do("GET", "/api/v1/app/acme/endpoint/"+id+"/stats", ""); code != 200 || st["pending"] != 1.0 || st["success"] != 0.0 {
		t.Fatalf("stats: %d %v", code, st)
	}
	hour := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if code, st := e.do("GET", "/api/v1/app/acme/endpoint/"+id+"/stats?since="+hour, ""); code != 200 || st["pending"] != 0.0 {
		t.Fatalf("stats since an hour from now: %d %v", code, st)
	}
	if code, st := e.do("GET", "/api/v1/app/acme/endpoint/"+id+"/stats?until="+hour, ""); code != 200 || st["pending"] != 1.0 {
		t.Fatalf("stats until an hour from now: %d %v", code, st)
	}
	if code, _ := e.do("GET", "/api/v1/app/acme/endpoint/"+id+"/stats?since=soon", ""); code != 422 {
		t.Fatalf("stats with a bad since: %d", code)
	}
	for _, q := range []string{"status=x", "status_code_class=5xx", "before=yesterday"} {
		if code, bad := e.do("GET", "/api/v1/app/acme/attempt/endpoint/"+id+"?"+q, ""); code != 422 {
			t.Fatalf("attempts ?%s: %d %v", q, code, bad)
		}
	}
	// Headers: PATCH adds and removes, a sensitive one's value is never shown.
	if code, _ := e.do("PATCH", "/api/v1/app/acme/endpoint/"+id+"/headers", `{"headers":{"X-Team":"billing","Authorization":"Bearer s3cret"}}`); code != 204 {
		t.Fatalf("patch headers: %d", code)
	}
	code, hs := e.do("GET", "/api/v1/app/acme/endpoint/"+id+"/headers", "")
	if code != 200 || hs["headers"].(map[string]any)["X-Team"] != "billing" || hs["headers"].(map[string]any)["Authorization"] != nil || len(hs["sensitive"].([]any)) != 1 {
		t.Fatalf("headers: %d %v", code, hs)
	}
	e.do("PATCH", "/api/v1/app/acme/endpoint/"+id+"/headers", `{"headers":{"X-Team":null}}`)
	if _, hs := e.do("GET", "/api/v1/app/acme/endpoint/"+id+"/headers", ""); hs["headers"].(map[string]any)["X-Team"] != nil {
		t.Fatalf("a null header stayed: %v", hs)
	}
	// PATCH changes only what it names; an application is renamed.
	if code, p := e.do("PATCH", "/api/v1/app/acme/endpoint/"+id, `{"description":"patched"}`); code != 200 || p["description"] != "patched" || p["url"] != "https://example.com/hook" {
		t.Fatalf("patch endpoint: %d %v", code, p)
	}
	if code, a := e.do("PATCH", "/api/v1/app/acme", `{"name":"Acme 2"}`); code != 200 || a["name"] != "Acme 2" {
		t.Fatalf("patch app: %d %v", code, a)
	}
	// An application keeps its metadata.
	if code, a := e.do("PATCH", "/api/v1/app/acme", `{"metadata":{"plan":"pro"}}`); code != 200 || a["metadata"].(map[string]any)["plan"] != "pro" || a["name"] != "Acme 2" {
		t.Fatalf("patch app metadata: %d %v", code, a)
	}
	if _, a := e.do("GET", "/api/v1/app/acme", ""); a["metadata"].(map[string]any)["plan"] != "pro" {
		t.Fatalf("app metadata read back: %v", a)
	}
	if code, a := e.do("POST", "/api/v1/app", `{"name":"Meta","uid":"meta","metadata":{"region":"eu"}}`); code != 201 || a["metadata"].(map[string]any)["region"] != "eu" {
		t.Fatalf("an app made with metadata: %d %v", code, a)
	}
	// An endpoint's uid names it in paths, and is its tenant's only.
	if code, u := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/u","uid":"billing-ep"}`); code != 201 || u["uid"] != "billing-ep" {
		t.Fatalf("an endpoint with a uid: %d %v", code, u)
	}
	if code, u := e.do("GET", "/api/v1/app/acme/endpoint/billing-ep", ""); code != 200 || u["url"] != "https://example.com/u" {
		t.Fatalf("by uid: %d %v", code, u)
	}
	// throttleRate is rateLimit's newer name: taken on create and PATCH,
	// answered as rateLimit.
	if code, th := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/t","throttleRate":7}`); code != 201 || th["rateLimit"] != 7.0 {
		t.Fatalf("throttleRate: %d %v", code, th)
	} else if code, th := e.do("PATCH", "/api/v1/app/acme/endpoint/"+th["id"].(string), `{"throttleRate":9}`); code != 200 || th["rateLimit"] != 9.0 {
		t.Fatalf("throttleRate, patched: %d %v", code, th)
	}
	if code, _ := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/v","uid":"billing-ep"}`); code != 409 {
		t.Fatalf("a taken uid: %d", code)
	}
	if code, _ := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/v","uid":"not valid!"}`); code != 422 {
		t.Fatalf("a bad uid: %d", code)
	}
	// PUT replaces: the filter and channels go when absent; disabled sticks.
	path := "/api/v1/app/acme/endpoint/" + ep["id"].(string)
	if code, up := e.do("PUT", path, `{"url":"https://example.com/new","disabled":true,"description":"renamed"}`); code != 200 ||
		up["url"] != "https://example.com/new" || up["disabled"] != true || up["filterTypes"] != nil || up["channels"] != nil {
		t.Fatalf("update: %d %v", code, up)
	}
	if code, up := e.do("PUT", path, `{"url":"ftp://example.com"}`); code != 422 {
		t.Fatalf("a bad URL: %d %v", code, up)
	}
	if code, _ := e.do("DELETE", path, ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := e.do("GET", path, ""); code != 404 {
		t.Fatalf("deleted: %d", code)
	}
}

// A POST sent again with the same idempotency-key gets the first answer
// and acts once; another key acts again; the key is not the event's id.
func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	post := func(path, body, key string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("idempotency-key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	c1, a1 := post("/api/v1/app", `{"name":"No uid"}`, "k-1")
	c2, a2 := post("/api/v1/app/", `{"name":"No uid"}`, "k-1")
	if c1 != 201 || c2 != 201 || a1["id"] != a2["id"] {
		t.Fatalf("the same key twice: %d %v, %d %v", c1, a1, c2, a2)
	}
	if _, a3 := post("/api/v1/app", `{"name":"No uid"}`, "k-2"); a3["id"] == a1["id"] {
		t.Fatal("another key got the first answer")
	}
	if _, l := e.do("GET", "/api/v1/app", ""); len(l["data"].([]any)) != 2 {
		t.Fatalf("applications: %v", l)
	}
	app := a1["id"].(string)
	_, m1 := post("/api/v1/app/"+app+"/msg", `{"eventType":"a.b","payload":{}}`, "m-1")
	_, m2 := post("/api/v1/app/"+app+"/msg", `{"eventType":"a.b","payload":{}}`, "m-1")
	if m1["id"] != m2["id"] || m1["id"] == "m-1" {
		t.Fatalf("a message sent twice with one key: %v, %v", m1, m2)
	}
	// An answer that failed is not kept: the same key tries again.
	if c, _ := post("/api/v1/app", `{"name":"","uid":"bad uid"}`, "k-3"); c != 422 {
		t.Fatalf("a bad request: %d", c)
	}
	if c, _ := post("/api/v1/app", `{"name":"Good","uid":"good"}`, "k-3"); c != 201 {
		t.Fatalf("the same key after a failure: %d", c)
	}
	// An answer without a body (a rotation's 204) is kept too: the same
	// key again rotates nothing.
	_, ep := e.do("POST", "/api/v1/app/good/endpoint", `{"url":"https://example.com/h"}`)
	secret := func() any {
		_, s := e.do("GET", "/api/v1/app/good/endpoint/"+ep["id"].(string)+"/secret", "")
		return s["key"]
	}
	before := secret()
	for range 2 {
		if c, _ := post("/api/v1/app/good/endpoint/"+ep["id"].(string)+"/secret/rotate", `{}`, "r-1"); c != 204 {
			t.Fatalf("rotate: %d", c)
		}
	}
	after := secret()
	if after == before {
		t.Fatal("the rotation did not rotate")
	}
	if wh, err := e.store.GetWebhook(context.Background(), "good", ep["id"].(string)); err != nil || len(wh.PreviousSecrets) != 1 || wh.PreviousSecrets[0].Secret != before {
		t.Fatalf("the same key rotated twice: the previous secret is not the first one (%v)", err)
	}
	// A portal link is a credential: never kept for its key (in clear,
	// for anyone who sends the key again), so a read-only request sent with
	// the key of a full one gets a read-only link of its own.
	_, p1 := post("/api/v1/auth/app-portal-access/good", `{}`, "p-1")
	_, p2 := post("/api/v1/auth/app-portal-access/good", `{"readOnly":true}`, "p-1")
	if p1["token"] == nil || p1["token"] == p2["token"] {
		t.Fatalf("two portal links with one key: %v, %v", p1, p2)
	}
	if _, err := e.store.SavedResponse(t.Context(), "POST /api/v1/auth/app-portal-access/good", "p-1", time.Time{}); !errors.Is(err, hookd.ErrNotFound) {
		t.Fatalf("a portal link kept for its idempotency key: %v", err)
	}
	cs, err := e.store.RedeemPortalLink(t.Context(), hookd.HashKey(p2["token"].(string)), hookd.HashKey("cookie"), time.Now())
	if err != nil || !cs.ReadOnly {
		t.Fatalf("the read-only request's link: %+v, %v", cs, err)
	}
}

// An endpoint whose URL (a token in its query, often) or description is
// longer than a hookd name is made, named by it cut to 200 characters.
func TestLongURLAndDescription(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/app", `{"name":"A","uid":"a"}`)
	long := "https://example.com/hook?token=" + strings.Repeat("t", 250)
	for _, body := range []string{`{"url":"` + long + `"}`, `{"url":"https://example.com/h","description":"` + strings.Repeat("é", 300) + `"}`} {
		code, out := e.do("POST", "/api/v1/app/a/endpoint", body)
		if code != 201 {
			t.Fatalf("%.60s…: %d %v", body, code, out)
		}
		wh, err := e.store.GetWebhook(t.Context(), "a", out["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if n := len([]rune(wh.Name)); n != 200 || !strings.HasSuffix(wh.Name, "…") {
			t.Fatalf("its name has %d characters: %q", n, wh.Name)
		}
		if out["url"] != wh.URL || out["description"] != wh.Description {
			t.Fatalf("read back: %v", out)
		}
	}
}

// Lists of applications and endpoints page by cursor: deleting each page's
// items as it is read (an SDK's iterator loop that cleans up) reaches every
// item, where offsets skipped half of them; one made meanwhile neither
// shifts nor repeats what follows.
func TestListsPageByCursor(t *testing.T) {
	e := newEnv(t)
	for i := range 6 {
		e.do("POST", "/api/v1/app", fmt.Sprintf(`{"name":"App","uid":"app%d"}`, i))
	}
	e.do("POST", "/api/v1/app", `{"name":"Keep","uid":"keep"}`)
	for range 6 {
		e.do("POST", "/api/v1/app/keep/endpoint", `{"url":"https://example.com/h"}`)
	}
	walk := func(list string, del func(id string)) (pages int) {
		t.Helper()
		for it := ""; ; pages++ {
			sep := "?"
			if strings.Contains(list, "?") {
				sep = "&"
			}
			code, out := e.do("GET", list+sep+"limit=2"+it, "")
			if code != 200 {
				t.Fatalf("GET %s%s: %d %v", list, it, code, out)
			}
			for _, d := range out["data"].([]any) {
				del(d.(map[string]any)["id"].(string))
			}
			if out["done"] == true {
				if len(out["data"].([]any)) > 0 && out["iterator"] == nil {
					t.Fatalf("GET %s%s: a last page with no iterator (Svix's has the last one's id): %v", list, it, out)
				}
				return pages + 1
			}
			it = "&iterator=" + out["iterator"].(string)
		}
	}
	walk("/api/v1/app/keep/endpoint", func(id string) {
		if code, _ := e.do("DELETE", "/api/v1/app/keep/endpoint/"+id, ""); code != 204 {
			t.Fatalf("delete %s: %d", id, code)
		}
	})
	if _, out := e.do("GET", "/api/v1/app/keep/endpoint", ""); len(out["data"].([]any)) != 0 {
		t.Fatalf("endpoints left: %v", out["data"])
	}
	walk("/api/v1/app", func(id string) {
		if id == "keep" {
			return
		}
		if code, _ := e.do("DELETE", "/api/v1/app/"+id, ""); code != 204 {
			t.Fatalf("delete %s: %d", id, code)
		}
	})
	if _, out := e.do("GET", "/api/v1/app", ""); len(out["data"].([]any)) != 1 {
		t.Fatalf("applications left: %v", out["data"])
	}
	// Ascending, a new endpoint made after the first page is read comes
	// last, once.
	for range 3 {
		e.do("POST", "/api/v1/app/keep/endpoint", `{"url":"https://example.com/h"}`)
	}
	seen := map[string]int{}
	made := false
	walk("/api/v1/app/keep/endpoint?order=ascending", func(id string) {
		seen[id]++
		if !made {
			made = true
			e.do("POST", "/api/v1/app/keep/endpoint", `{"url":"https://example.com/h"}`)
		}
	})
	if len(seen) != 4 {
		t.Fatalf("listed %v, want the 4 endpoints once each", seen)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s listed %d times", id, n)
		}
	}
	if code, _ := e.do("GET", "/api/v1/app/keep/endpoint?iterator=2", ""); code != 422 {
		t.Fatalf("an offset as the iterator: %d", code)
	}
	if code, _ := e.do("GET", "/api/v1/app?iterator=bm9wZQ", ""); code != 422 {
		t.Fatalf("a forged application iterator: %d", code)
	}
}

// heldSave holds the first request's answer (SaveResponse) until another
// request with its key has found it held (SavedResponse: a reservation) or
// been refused it (ReserveResponse).
type heldSave struct {
	hookd.Store
	refused chan struct{}
	once    sync.Once
}

func (h *heldSave) ReserveResponse(ctx context.Context, p *hookd.ReserveResponseParams) (bool, error) {
	ok, err := h.Store.ReserveResponse(ctx, p)
	if !ok && err == nil {
		h.once.Do(func() { close(h.refused) })
	}
	return ok, err
}

func (h *heldSave) SavedResponse(ctx context.Context, scope, key string, since time.Time) (*hookd.SavedResponse, error) {
	r, err := h.Store.SavedResponse(ctx, scope, key, since)
	if err == nil && r.Status == 0 {
		h.once.Do(func() { close(h.refused) })
	}
	return r, err
}

func (h *heldSave) SaveResponse(ctx context.Context, scope, key string, r *hookd.SavedResponse, keep time.Duration) error {
	select {
	case <-h.refused:
	case <-time.After(10 * time.Second): // the test fails below: the second acted too
	}
	return h.Store.SaveResponse(ctx, scope, key, r, keep)
}

// The same request sent again while the first still runs (a client that
// timed out and tried again) waits for the first's answer instead of
// acting too: the second is refused the key while the first's answer is
// held, then gets that answer; one message is made.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	store := &heldSave{Store: teststore.Open(t), refused: make(chan struct{})}
	svc := service.New(service.Config{Store: store, Guard: &netguard.Policy{Resolver: netguard.Offline}})
	srv := httptest.NewServer(svixapi.New(svixapi.Config{Service: svc, AdminKeyHash: hookd.HashKey(adminKey)}))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, store: store.Store, svc: svc}
	if code, out := e.do("POST", "/api/v1/app", `{"name":"A","uid":"a"}`); code != 201 {
		t.Fatalf("app: %d %v", code, out)
	}
	type answer struct {
		code int
		id   any
	}
	answers := make(chan answer, 2)
	for range 2 {
		go func() {
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/app/a/msg", strings.NewReader(`{"eventType":"a.b","payload":{"n":1}}`))
			req.Header.Set("Authorization", "Bearer "+adminKey)
			req.Header.Set("idempotency-key", "same")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{code: -1, id: err.Error()}
				return
			}
			defer res.Body.Close()
			var out map[string]any
			_ = json.NewDecoder(res.Body).Decode(&out)
			answers <- answer{res.StatusCode, out["id"]}
		}()
	}
	a, b := <-answers, <-answers
	if a.code != 202 || b.code != 202 || a.id != b.id {
		t.Fatalf("the same request twice at once: %+v, %+v", a, b)
	}
	if _, l := e.do("GET", "/api/v1/app/a/msg", ""); len(l["data"].([]any)) != 1 {
		t.Fatalf("messages: %v", l["data"])
	}
}

// Event types: created with a version-1 schema, updated, archived (and
// listed only with include_archived).
func TestEventTypes(t *testing.T) {
	e := newEnv(t)
	if code, et := e.do("POST", "/api/v1/event-type", `{"name":"user.created","description":"A user","schemas":{"1":{"type":"object"}}}`); code != 201 || et["schemas"] == nil {
		t.Fatalf("create: %d %v", code, et)
	}
	if code, _ := e.do("POST", "/api/v1/event-type", `{"name":"user.deleted","description":"","schemas":{"2":{}}}`); code != 422 {
		t.Fatalf("a version-2 schema: %d", code)
	}
	if code, et := e.do("PATCH", "/api/v1/event-type/user.created", `{"description":"A user signed up"}`); code != 200 || et["description"] != "A user signed up" || et["schemas"] == nil {
		t.Fatalf("patch: %d %v", code, et)
	}
	if code, _ := e.do("DELETE", "/api/v1/event-type/user.created", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if _, l := e.do("GET", "/api/v1/event-type", ""); len(l["data"].([]any)) != 0 {
		t.Fatalf("an archived type is listed: %v", l)
	}
	if _, l := e.do("GET", "/api/v1/event-type?include_archived=true", ""); len(l["data"].([]any)) != 1 || l["data"].([]any)[0].(map[string]any)["archived"] != true ||
		l["data"].([]any)[0].(map[string]any)["schemas"] != nil {
		t.Fatalf("with include_archived (and no schemas without with_content): %v", l)
	}
	if _, l := e.do("GET", "/api/v1/event-type?include_archived=true&with_content=true", ""); len(l["data"].([]any)) != 1 || l["data"].([]any)[0].(map[string]any)["schemas"] == nil ||
		l["done"] != true || l["iterator"] == nil {
		t.Fatalf("with_content (a last page has its iterator, as Svix's): %v", l)
	}
	if code, _ := e.do("PATCH", "/api/v1/event-type/nope", `{}`); code != 404 {
		t.Fatalf("an unknown type: %d", code)
	}
	// deprecated, featureFlag and groupName are kept (a migration from Svix
	// lost them), a PATCH's null clears them, and they follow Svix's rule.
	code, et := e.do("POST", "/api/v1/event-type", `{"name":"user.flagged","description":"","deprecated":true,"featureFlag":"beta","groupName":"grp"}`)
	if code != 201 || et["deprecated"] != true || et["featureFlag"] != "beta" || et["groupName"] != "grp" {
		t.Fatalf("create with Svix's fields: %d %v", code, et)
	}
	if _, et := e.do("GET", "/api/v1/event-type/user.flagged", ""); et["deprecated"] != true || et["featureFlag"] != "beta" || et["groupName"] != "grp" {
		t.Fatalf("read back: %v", et)
	}
	code, et = e.do("PATCH", "/api/v1/event-type/user.flagged", `{"featureFlag":null,"deprecated":false}`)
	if _, has := et["featureFlag"]; code != 200 || has || et["deprecated"] != false || et["groupName"] != "grp" {
		t.Fatalf("patch: %d %v", code, et)
	}
	if code, _ := e.do("POST", "/api/v1/event-type", `{"name":"user.bad","description":"","featureFlag":"not a flag"}`); code != 422 {
		t.Fatalf("a bad featureFlag: %d", code)
	}
}

// Errors come in Svix's shapes: 401 without the admin key, 422 with
// {loc, msg, type}, 404 naming a route hookd does not serve.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/app", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("a wrong key: %d", res.StatusCode)
	}
	code, out := e.do("POST", "/api/v1/app", `{"name":"","uid":"not valid!"}`)
	detail, _ := out["detail"].([]any)
	if code != 422 || len(detail) == 0 || len(out) != 1 {
		t.Fatalf("invalid app (Svix's HTTPValidationError is {detail} alone): %d %v", code, out)
	}
	first := detail[0].(map[string]any)
	if loc, _ := first["loc"].([]any); len(loc) != 2 || loc[0] != "body" || first["msg"] == "" || first["type"] != "value_error" {
		t.Fatalf("validation detail: %v", first)
	}
	if code, out := e.do("POST", "/api/v1/app/x/endpoint/y/transformation", `{}`); code != 404 || !strings.Contains(out["detail"].(string), "docs/SVIX.md") {
		t.Fatalf("an operation not served: %d %v", code, out)
	}
	// Svix's server answers what it cannot read 422 (its OpenAPI document
	// has no 400), locating the fault as its request names it.
	e.do("POST", "/api/v1/app", `{"name":"A","uid":"a"}`)
	for _, tc := range []struct{ method, path, body, loc, typ string }{
		{"POST", "/api/v1/app", `not json`, "body", "value_error.jsondecode"},
		{"POST", "/api/v1/app", `{"name": `, "body", "value_error.jsondecode"},
		{"POST", "/api/v1/app", `[]`, "body", "type_error"},
		{"POST", "/api/v1/app/a/endpoint", `{"url":"https://example.com/h","rateLimit":"fast"}`, "body.rateLimit", "type_error"},
		{"POST", "/api/v1/app/a/endpoint", `{"description":"no url"}`, "body.url", "value_error"},
		{"POST", "/api/v1/app/a/endpoint", `{"url":"https://example.com/h","filterTypes":["bad type!"]}`, "body.filterTypes[0]", "value_error"},
		{"POST", "/api/v1/app/a/msg", `{"payload":{}}`, "body.eventType", "value_error"},
		{"POST", "/api/v1/app/a/msg", `{"eventType":"a.b","eventId":"bad id!","payload":{}}`, "body.eventId", "value_error"},
		{"POST", "/api/v1/app", `{"name":"B","uid":"bad uid!"}`, "body.uid", "value_error"},
		{"GET", "/api/v1/app?limit=251", "", "query.limit", "value_error"},
		{"GET", "/api/v1/app?limit=abc", "", "query.limit", "value_error"},
		{"GET", "/api/v1/app?iterator=x", "", "query.iterator", "value_error"},
		{"GET", "/api/v1/app?iterator=%ff", "", "query", "value_error"},
		{"GET", "/api/v1/app/a/msg?before=yesterday", "", "query.before", "value_error"},
		{"POST", "/api/v1/auth/app-portal-access/a", `{"expiry":-5}`, "body.expiry", "value_error"},
		{"POST", "/api/v1/app/a/endpoint/e/send-example", `{}`, "body.eventType", "value_error"},
	} {
		code, out := e.do(tc.method, tc.path, tc.body)
		detail, _ := out["detail"].([]any)
		if code != 422 || len(detail) == 0 {
			t.Errorf("%s %s %s: %d %v", tc.method, tc.path, tc.body, code, out)
			continue
		}
		var locs []string
		for _, d := range detail {
			var loc []string
			for _, l := range d.(map[string]any)["loc"].([]any) {
				loc = append(loc, l.(string))
			}
			locs = append(locs, strings.Join(loc, "."))
			if strings.Join(loc, ".") == tc.loc && d.(map[string]any)["type"] != tc.typ {
				t.Errorf("%s %s %s: %v, want type %s", tc.method, tc.path, tc.body, d, tc.typ)
			}
		}
		if !slices.Contains(locs, tc.loc) || slices.Contains(locs, "body.name") {
			t.Errorf("%s %s %s: located at %v, want %s", tc.method, tc.path, tc.body, locs, tc.loc)
		}
	}
	// Text no id or name can hold (PostgreSQL refused it in a query: 500).
	for _, path := range []string{"/api/v1/app/%00", "/api/v1/app/%ff/endpoint", "/api/v1/event-type/%00"} {
		if code, out := e.do("GET", path, ""); code != 404 || out["code"] == "" {
			t.Errorf("GET %s: %d %v, want 404", path, code, out)
		}
	}
}

// Messages list by event types, channel, tag, a time window and without
// content, as Svix's filters ask; names Svix allows (capitals, "-") are
// types here too. Tags read back once each, in their order.
func TestMessageFilters(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	if code, et := e.do("POST", "/api/v1/event-type", `{"name":"User-Signup","description":"Svix's names"}`); code != 201 || et["name"] != "User-Signup" {
		t.Fatalf("an event type with capitals and -: %d %v", code, et)
	}
	if code, _ := e.do("POST", "/api/v1/event-type", `{"name":"user signup","description":""}`); code != 422 {
		t.Fatalf("a name Svix refuses too: %d", code)
	}
	send := func(id, typ, channels, tags string) string {
		code, m := e.do("POST", "/api/v1/app/acme/msg", `{"eventId":"`+id+`","eventType":"`+typ+`","payload":{"id":"`+id+`"},"channels":`+channels+`,"tags":`+tags+`}`)
		if code != 202 {
			t.Fatalf("message %s: %d %v", id, code, m)
		}
		return m["timestamp"].(string)
	}
	send("m1", "User-Signup", `["eu"]`, `["project_1","vip","project_1"]`)
	send("m2", "Invoice.Paid", `["us"]`, `["project_2"]`) // joins the catalog as it is
	send("m3", "user.deleted", `null`, `null`)
	if code, m := e.do("GET", "/api/v1/app/acme/msg/m1", ""); code != 200 || fmt.Sprint(m["tags"]) != "[project_1 vip]" {
		t.Fatalf("m1's tags: %d %v", code, m)
	}
	if code, m := e.do("GET", "/api/v1/app/acme/msg/m3", ""); code != 200 || m["tags"] != nil {
		t.Fatalf("m3 has no tags: %d %v", code, m)
	}
	for _, tags := range []string{`[""]`, `["` + strings.Repeat("t", 129) + `"]`, `["a\u0000b"]`} {
		if code, m := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"user.deleted","payload":{},"tags":`+tags+`}`); code != 422 {
			t.Errorf("tags %s: %d %v", tags, code, m)
		}
	}
	ids := func(query string) string {
		t.Helper()
		code, l := e.do("GET", "/api/v1/app/acme/msg"+query, "")
		if code != 200 {
			t.Fatalf("%s: %d %v", query, code, l)
		}
		var out []string
		for _, m := range l["data"].([]any) {
			out = append(out, m.(map[string]any)["id"].(string))
		}
		return strings.Join(out, ",")
	}
	for query, want := range map[string]string{
		"": "m3,m2,m1",
		"?event_types=User-Signup&event_types=user.deleted": "m3,m1",
		"?event_types=Invoice.Paid,user.deleted":            "m3,m2",
		"?channel=eu":                                       "m1",
		"?channel=e":                                        "",
		"?tag=project_1":                                    "m1",
		"?tag=project":                                      "",
		"?tag=vip&channel=us":                               "",
		"?tag=project_2&event_types=Invoice.Paid":           "m2",
		"?event_types=nope":                                 "",
	} {
		if got := ids(query); got != want {
			t.Errorf("%q: %s, want %s", query, got, want)
		}
	}
	// after and before bound the creation time, both ends inclusive.
	_, all := e.do("GET", "/api/v1/app/acme/msg", "")
	first := all["data"].([]any)[2].(map[string]any)["timestamp"].(string)
	if got := ids("?after=" + first); !strings.Contains(got, "m1") {
		t.Errorf("after the first's own time: %s", got)
	}
	if got := ids("?before=" + first); !strings.HasSuffix(got, "m1") {
		t.Errorf("before the first's own time: %s", got)
	}
	at, _ := time.Parse(time.RFC3339Nano, first)
	if got := ids("?after=" + at.Add(time.Hour).Format(time.RFC3339Nano)); got != "" {
		t.Errorf("after an hour later: %s", got)
	}
	if got := ids("?before=" + at.Add(-time.Hour).Format(time.RFC3339Nano)); got != "" {
		t.Errorf("before an hour earlier: %s", got)
	}
	if code, _ := e.do("GET", "/api/v1/app/acme/msg?event_types="+strings.Repeat("a,", 101), ""); code != 422 {
		t.Errorf("101 event types: %d", code)
	}
	if code, bad := e.do("GET", "/api/v1/app/acme/msg?before=yesterday", ""); code != 422 || bad["detail"] == nil {
		t.Errorf("a bad date: %d %v", code, bad)
	}
	_, bare := e.do("GET", "/api/v1/app/acme/msg?with_content=false&limit=1", "")
	if p := bare["data"].([]any)[0].(map[string]any)["payload"].(map[string]any); len(p) != 0 {
		t.Errorf("without content: %v", p)
	}
	if _, one := e.do("GET", "/api/v1/app/acme/msg/m1?with_content=false", ""); len(one["payload"].(map[string]any)) != 0 {
		t.Errorf("one message without content: %v", one)
	}
	if _, one := e.do("GET", "/api/v1/app/acme/msg/m1", ""); one["payload"].(map[string]any)["id"] != "m1" {
		t.Errorf("one message: %v", one)
	}
}

// PUT makes what it does not find (an application, an endpoint with the
// path as its uid, an event type), 201; PATCH takes a new secret as a
// rotation, and a bad one changes nothing.
func TestPutMakesAndPatchSecret(t *testing.T) {
	e := newEnv(t)
	if code, a := e.do("PUT", "/api/v1/app/made-by-put", `{"name":"Put"}`); code != 201 || a["id"] != "made-by-put" || a["name"] != "Put" {
		t.Fatalf("PUT a new application: %d %v", code, a)
	}
	if code, a := e.do("PUT", "/api/v1/app/made-by-put", `{"name":"Put 2","metadata":{"k":"v"}}`); code != 200 || a["name"] != "Put 2" {
		t.Fatalf("PUT it again: %d %v", code, a)
	}
	// PUT replaces: metadata it leaves out is gone, as in Svix; PATCH keeps it.
	if code, a := e.do("PATCH", "/api/v1/app/made-by-put", `{"name":"Put 3"}`); code != 200 || a["metadata"].(map[string]any)["k"] != "v" {
		t.Fatalf("PATCH without metadata: %d %v", code, a)
	}
	if code, a := e.do("PUT", "/api/v1/app/made-by-put", `{"name":"Put 4"}`); code != 200 || len(a["metadata"].(map[string]any)) != 0 {
		t.Fatalf("PUT without metadata: %d %v", code, a)
	}
	if code, et := e.do("PUT", "/api/v1/event-type/Order-Placed", `{"description":"made by PUT"}`); code != 201 || et["name"] != "Order-Placed" {
		t.Fatalf("PUT a new event type: %d %v", code, et)
	}
	if code, et := e.do("PUT", "/api/v1/event-type/Order-Placed", `{"description":"changed"}`); code != 200 || et["description"] != "changed" {
		t.Fatalf("PUT it again: %d %v", code, et)
	}
	// PUT sets every field, as Svix's: an archived type PUT without
	// archived is live again, and a schema or flag left out is gone;
	// PATCH's null schemas clears the schema.
	if code, et := e.do("PATCH", "/api/v1/event-type/Order-Placed", `{"schemas":{"1":{"type":"object"}},"featureFlag":"beta"}`); code != 200 || et["schemas"] == nil || et["featureFlag"] != "beta" {
		t.Fatalf("PATCH a schema and flag: %d %v", code, et)
	}
	if code, et := e.do("PATCH", "/api/v1/event-type/Order-Placed", `{"schemas":null}`); code != 200 || et["schemas"] != nil || et["featureFlag"] != "beta" {
		t.Fatalf("PATCH schemas null: %d %v", code, et)
	}
	e.do("PATCH", "/api/v1/event-type/Order-Placed", `{"schemas":{"1":{"type":"object"}}}`)
	if code, _ := e.do("DELETE", "/api/v1/event-type/Order-Placed", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, et := e.do("PUT", "/api/v1/event-type/Order-Placed", `{"description":"back"}`); code != 200 || et["archived"] != false || et["schemas"] != nil || et["featureFlag"] != nil {
		t.Fatalf("PUT of an archived type: %d %v", code, et)
	}
	path := "/api/v1/app/made-by-put/endpoint/ep-put"
	if code, ep := e.do("PUT", path, `{"url":"https://example.com/put"}`); code != 201 || ep["uid"] != "ep-put" {
		t.Fatalf("PUT a new endpoint: %d %v", code, ep)
	}
	if code, ep := e.do("PUT", path, `{"url":"https://example.com/put2","metadata":{"k":"v"}}`); code != 200 || ep["url"] != "https://example.com/put2" {
		t.Fatalf("PUT it again: %d %v", code, ep)
	}
	if code, ep := e.do("PUT", path, `{"url":"https://example.com/put2"}`); code != 200 || len(ep["metadata"].(map[string]any)) != 0 || ep["uid"] != "ep-put" {
		t.Fatalf("PUT without metadata (gone, as in Svix; the uid its path names stays): %d %v", code, ep)
	}
	if code, _ := e.do("PUT", "/api/v1/app/nope/endpoint/x", `{"url":"https://example.com/x"}`); code != 404 {
		t.Fatalf("PUT an endpoint of no application: %d", code)
	}
	_, before := e.do("GET", path+"/secret", "")
	if code, _ := e.do("PATCH", path, `{"url":"https://example.com/changed","secret":"short"}`); code != 422 {
		t.Fatalf("PATCH a bad secret: %d", code)
	}
	if _, ep := e.do("GET", path, ""); ep["url"] != "https://example.com/put2" {
		t.Fatalf("a refused PATCH changed the endpoint: %v", ep)
	}
	key := "whsec_bmV3IHNlY3JldCBmb3IgYmlsbGluZyEh"
	if code, _ := e.do("PATCH", path, `{"secret":"`+key+`"}`); code != 200 {
		t.Fatalf("PATCH a secret: %d", code)
	}
	if _, after := e.do("GET", path+"/secret", ""); after["key"] != key || before["key"] == key {
		t.Fatalf("the secret after PATCH: %v (before %v)", after, before)
	}
}

// PATCH of a secret on a webhook made through /v1 with a one-signature
// scheme (github) checks the key by that scheme and rotates without a
// grace (the old and new keys cannot both sign); a bad key changes nothing.
func TestPatchSecretOfNativeWebhook(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	wh := e.svc.NewWebhook("acme")
	wh.Name, wh.URL, wh.Events = "gh", "https://example.com/gh", []string{hookd.AllEvents}
	wh.Signature = &hookd.Signature{Scheme: hookd.SchemeGitHub}
	if err := e.svc.CreateWebhook(t.Context(), wh, nil, nil); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/app/acme/endpoint/" + wh.ID
	if code, bad := e.do("PATCH", path, `{"url":"https://example.com/changed","secret":"short"}`); code != 422 {
		t.Fatalf("a key too short for github: %d %v", code, bad)
	}
	if _, ep := e.do("GET", path, ""); ep["url"] != "https://example.com/gh" {
		t.Fatalf("a refused PATCH changed the webhook: %v", ep)
	}
	key := "a-github-secret-of-some-length"
	if code, out := e.do("PATCH", path, `{"url":"https://example.com/changed","secret":"`+key+`"}`); code != 200 || out["url"] != "https://example.com/changed" {
		t.Fatalf("PATCH with a github key: %d %v", code, out)
	}
	if _, s := e.do("GET", path+"/secret", ""); s["key"] != key {
		t.Fatalf("the secret: %v", s)
	}
}

// A message or an endpoint naming types the catalog lacks adds them only
// when nothing else is wrong with it.
func TestNewTypesOnlyWithValidRequests(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	if code, _ := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"brand.new","payload":{},"channels":[""]}`); code != 422 {
		t.Fatalf("a message with a bad channel: %d", code)
	}
	if code, _ := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"ftp://example.com","filterTypes":["other.new"]}`); code != 422 {
		t.Fatalf("an endpoint with a bad URL: %d", code)
	}
	for _, name := range []string{"brand.new", "other.new"} {
		if code, _ := e.do("GET", "/api/v1/event-type/"+name, ""); code != 404 {
			t.Fatalf("a refused request added %s: %d", name, code)
		}
	}
	if code, _ := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"brand.new","payload":{}}`); code != 202 {
		t.Fatalf("a good message of a new type: %d", code)
	}
	if code, ep := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/h","filterTypes":["other.new"]}`); code != 201 {
		t.Fatalf("a good endpoint with a new type: %d %v", code, ep)
	} else if code, _ := e.do("PATCH", "/api/v1/app/acme/endpoint/"+ep["id"].(string), `{"url":"ftp://x","filterTypes":["third.new"]}`); code != 422 {
		t.Fatalf("a bad PATCH: %d", code)
	}
	for name, want := range map[string]int{"brand.new": 200, "other.new": 200, "third.new": 404} {
		if code, _ := e.do("GET", "/api/v1/event-type/"+name, ""); code != want {
			t.Fatalf("%s: %d, want %d", name, code, want)
		}
	}
}

// A message's destinations and an endpoint's messages carry each
// delivery's status (1: pending, with its next attempt, here where nothing
// sends), in Svix's shapes exactly (its SDKs refuse unknown fields there),
// paged; Svix's filters apply to the messages.
func TestAttemptedMessagesAndDestinations(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	_, a := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/a","filterTypes":["invoice.paid"],"uid":"ep-a"}`)
	_, b := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/b","metadata":{"team":"x"}}`)
	idA, idB := a["id"].(string), b["id"].(string)
	if code, _ := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice.paid","eventId":"m1","payload":{"n":1}}`); code != 202 {
		t.Fatalf("message m1: %d", code)
	}
	if code, _ := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice.voided","eventId":"m2","payload":{"n":2},"channels":["eu"],"tags":["t"]}`); code != 202 {
		t.Fatalf("message m2: %d", code)
	}
	svixFields := func(what string, item map[string]any, allowed ...string) {
		t.Helper()
		for k := range item {
			if !slices.Contains(allowed, k) {
				t.Fatalf("%s has %q, which Svix's SDKs refuse: %v", what, k, item)
			}
		}
		if item["status"] != 1.0 || item["nextAttempt"] == nil {
			t.Fatalf("%s: not pending with a next attempt: %v", what, item)
		}
	}
	endpointFields := []string{"id", "uid", "url", "description", "filterTypes", "channels", "disabled", "rateLimit", "version", "createdAt", "updatedAt", "status", "nextAttempt"}
	messageFields := []string{"id", "eventId", "eventType", "payload", "channels", "tags", "timestamp", "status", "nextAttempt"}

	code, dests := e.do("GET", "/api/v1/app/acme/msg/m1/endpoint", "")
	data, _ := dests["data"].([]any)
	if code != 200 || len(data) != 2 || dests["done"] != true {
		t.Fatalf("m1's destinations: %d %v", code, dests)
	}
	got := map[string]bool{}
	for _, d := range data {
		svixFields("a destination", d.(map[string]any), endpointFields...)
		got[d.(map[string]any)["id"].(string)] = true
	}
	if !got[idA] || !got[idB] {
		t.Fatalf("m1 went to %v, not to both endpoints", got)
	}
	code, first := e.do("GET", "/api/v1/app/acme/msg/m1/endpoint?limit=1", "")
	if code != 200 || len(first["data"].([]any)) != 1 || first["done"] != false {
		t.Fatalf("m1's destinations, page 1: %d %v", code, first)
	}
	code, second := e.do("GET", "/api/v1/app/acme/msg/m1/endpoint?limit=1&iterator="+first["iterator"].(string), "")
	if code != 200 || len(second["data"].([]any)) != 1 || second["done"] != true ||
		second["data"].([]any)[0].(map[string]any)["id"] == first["data"].([]any)[0].(map[string]any)["id"] {
		t.Fatalf("m1's destinations, page 2: %d %v", code, second)
	}
	if code, d := e.do("GET", "/api/v1/app/acme/msg/m2/endpoint", ""); code != 200 || len(d["data"].([]any)) != 1 || d["data"].([]any)[0].(map[string]any)["id"] != idB {
		t.Fatalf("m2's destinations: %d %v", code, d)
	}
	if code, _ := e.do("GET", "/api/v1/app/acme/msg/nope/endpoint", ""); code != 404 {
		t.Fatalf("an unknown message's destinations: %d", code)
	}

	code, msgs := e.do("GET", "/api/v1/app/acme/endpoint/"+idB+"/msg", "")
	data, _ = msgs["data"].([]any)
	payloads := map[any]any{}
	for _, m := range data {
		svixFields("a message", m.(map[string]any), messageFields...)
		payloads[m.(map[string]any)["id"]] = m.(map[string]any)["payload"].(map[string]any)["n"]
	}
	// (Newest first by delivery id, whose order within one millisecond is
	// its random part's: both here may share one.)
	if code != 200 || len(data) != 2 || payloads["m1"] != 1.0 || payloads["m2"] != 2.0 {
		t.Fatalf("the messages B got: %d %v", code, msgs)
	}
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"event_types=invoice.paid", 1}, {"status=1", 2}, {"status=0", 0}, {"channel=eu", 1}, {"tag=t", 1}, {"tag=u", 0},
		{"after=" + time.Now().Add(time.Minute).UTC().Format(time.RFC3339), 0}, {"before=" + time.Now().Add(time.Minute).UTC().Format(time.RFC3339), 2},
	} {
		if code, f := e.do("GET", "/api/v1/app/acme/endpoint/"+idB+"/msg?"+tc.query, ""); code != 200 || len(f["data"].([]any)) != tc.want {
			t.Fatalf("B's messages ?%s: %d %v", tc.query, code, f)
		}
	}
	if code, f := e.do("GET", "/api/v1/app/acme/endpoint/"+idB+"/msg?with_content=false", ""); code != 200 || len(f["data"].([]any)[0].(map[string]any)["payload"].(map[string]any)) != 0 {
		t.Fatalf("B's messages without content: %d %v", code, f)
	}
	if code, f := e.do("GET", "/api/v1/app/acme/endpoint/"+idB+"/msg?limit=1", ""); code != 200 || len(f["data"].([]any)) != 1 || f["done"] != false {
		t.Fatalf("B's messages, a page of one: %d %v", code, f)
	}
	if code, f := e.do("GET", "/api/v1/app/acme/endpoint/ep-a/msg", ""); code != 200 || len(f["data"].([]any)) != 1 || f["data"].([]any)[0].(map[string]any)["eventId"] != "m1" {
		t.Fatalf("A's messages, A named by its uid: %d %v", code, f)
	}
	if code, _ := e.do("GET", "/api/v1/app/acme/endpoint/"+idB+"/msg?status=x", ""); code != 422 {
		t.Fatalf("a bad status: %d", code)
	}

	// A replay gives B a second delivery of each message: still one row a
	// message among B's, and one row an endpoint among m1's destinations.
	// B's first deliveries are cancelled first, so that a status filter
	// tells the two apart: the newest delivery is the message's status.
	if n, err := e.svc.CancelDeliveries(context.Background(), "acme", idB, time.Time{}); err != nil || n != 2 {
		t.Fatalf("cancel B's deliveries: %d, %v", n, err)
	}
	if _, err := e.svc.Replay(context.Background(), "acme", idB, hookd.Window{Since: time.Now().Add(-time.Hour)}, false); err != nil {
		t.Fatal(err)
	}
	runner, err := tasks.New(e.store, tasks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if ran, err := runner.RunOne(context.Background()); !ran || err != nil {
		t.Fatalf("the replay: ran %v, %v", ran, err)
	}
	if ds, err := e.store.ListEventDeliveries(context.Background(), "acme", "m1"); err != nil || len(ds) != 3 {
		t.Fatalf("m1's deliveries after the replay: %d, %v", len(ds), err)
	}
	if code, f := e.do("GET", "/api/v1/app/acme/endpoint/"+idB+"/msg", ""); code != 200 || len(f["data"].([]any)) != 2 {
		t.Fatalf("B's messages after a replay: %d %v", code, f)
	}
	if code, d := e.do("GET", "/api/v1/app/acme/msg/m1/endpoint", ""); code != 200 || len(d["data"].([]any)) != 2 || d["done"] != true {
		t.Fatalf("m1's destinations after a replay: %d %v", code, d)
	}
	for _, tc := range []struct {
		query string
		want  int
	}{{"status=1", 2}, {"status=2", 0}} {
		if code, f := e.do("GET", "/api/v1/app/acme/endpoint/"+idB+"/msg?"+tc.query, ""); code != 200 || len(f["data"].([]any)) != tc.want {
			t.Fatalf("B's messages ?%s after a replay (the newest delivery pending, the first cancelled): %d %v", tc.query, code, f)
		}
	}

	// Nothing was sent, so there is no attempt to read: by id, or by message
	// to one endpoint.
	for _, id := range []string{"atmpt_x_1", "atmpt_", "nope"} {
		if code, _ := e.do("GET", "/api/v1/app/acme/msg/m1/attempt/"+id, ""); code != 404 {
			t.Fatalf("attempt %s: %d", id, code)
		}
	}
	if code, l := e.do("GET", "/api/v1/app/acme/msg/m1/endpoint/"+idA+"/attempt", ""); code != 200 || len(l["data"].([]any)) != 0 || l["done"] != true {
		t.Fatalf("m1's attempts to A: %d %v", code, l)
	}
}

// What Svix's newer SDKs send: eventTypes for filterTypes, nulls that
// clear a PATCH field, and an application made with a message or a portal
// link when it is not there.
func TestNewerSDKs(t *testing.T) {
	e := newEnv(t)
	if code, _ := e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`); code != 201 {
		t.Fatalf("app: %d", code)
	}
	code, ep := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/n","eventTypes":["user.signup"],"throttleRate":5,"channels":["eu"]}`)
	if code != 201 || fmt.Sprint(ep["filterTypes"]) != "[user.signup]" || ep["rateLimit"] != 5.0 {
		t.Fatalf("eventTypes on create: %d %v", code, ep)
	}
	path := "/api/v1/app/acme/endpoint/" + ep["id"].(string)
	if code, got := e.do("PATCH", path, `{"description":"d"}`); code != 200 || fmt.Sprint(got["filterTypes"]) != "[user.signup]" || got["rateLimit"] != 5.0 || fmt.Sprint(got["channels"]) != "[eu]" {
		t.Fatalf("a PATCH naming neither: %d %v", code, got)
	}
	if code, got := e.do("PATCH", path, `{"rateLimit":null,"filterTypes":null,"channels":null}`); code != 200 || got["filterTypes"] != nil || got["rateLimit"] != nil || got["channels"] != nil {
		t.Fatalf("nulls clear: %d %v", code, got)
	}
	if code, got := e.do("PATCH", path, `{"eventTypes":["user.gone"]}`); code != 200 || fmt.Sprint(got["filterTypes"]) != "[user.gone]" {
		t.Fatalf("eventTypes on PATCH: %d %v", code, got)
	}
	if code, got := e.do("PUT", path, `{"url":"https://example.com/n","eventTypes":["user.signup"]}`); code != 200 || fmt.Sprint(got["filterTypes"]) != "[user.signup]" {
		t.Fatalf("eventTypes on PUT: %d %v", code, got)
	}

	// Endpoints list newest first, as svix-server, or oldest with order=ascending.
	_, second := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/second"}`)
	for order, want := range map[string][]any{"": {second["id"], ep["id"]}, "?order=descending": {second["id"], ep["id"]}, "?order=ascending": {ep["id"], second["id"]}} {
		_, l := e.do("GET", "/api/v1/app/acme/endpoint"+order, "")
		var got []any
		for _, d := range l["data"].([]any) {
			got = append(got, d.(map[string]any)["id"])
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("endpoints%s: %v, want %v", order, got, want)
		}
	}

	if code, _ := e.do("POST", "/api/v1/app/globex/msg", `{"eventType":"user.signup","payload":{}}`); code != 404 {
		t.Fatalf("a message to no application: %d", code)
	}
	if code, _ := e.do("POST", "/api/v1/app/globex/msg", `{"eventType":"user.signup","payload":{},"application":{"name":"Globex"}}`); code != 202 {
		t.Fatalf("a message making its application: %d", code)
	}
	if code, app := e.do("GET", "/api/v1/app/globex", ""); code != 200 || app["name"] != "Globex" {
		t.Fatalf("the application made: %d %v", code, app)
	}
	// There, the application given is ignored.
	if code, _ := e.do("POST", "/api/v1/app/globex/msg", `{"eventType":"user.signup","payload":{},"application":{"name":"Other"}}`); code != 202 {
		t.Fatalf("a message to it again: %d", code)
	}
	if _, app := e.do("GET", "/api/v1/app/globex", ""); app["name"] != "Globex" {
		t.Fatalf("renamed by a message: %v", app)
	}
	if code, _ := e.do("POST", "/api/v1/auth/app-portal-access/initech", `{"application":{"name":"Initech"}}`); code != 200 {
		t.Fatalf("a portal link making its application: %d", code)
	}
	if code, _ := e.do("GET", "/api/v1/app/initech", ""); code != 200 {
		t.Fatalf("the portal's application: %d", code)
	}
}

// Recover and replay-missing answer a task that reads back by its id as a
// background task; replay-missing sends only what never went to the
// endpoint.
func TestBackgroundTasks(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	if code, _ := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice.paid","eventId":"m1","payload":{"n":1}}`); code != 202 {
		t.Fatalf("message m1: %d", code)
	}
	e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/a","uid":"ep-a"}`)
	if code, _ := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice.paid","eventId":"m2","payload":{"n":2}}`); code != 202 {
		t.Fatalf("message m2: %d", code)
	}
	deliveries := func(msg string) int {
		t.Helper()
		ds, err := e.store.ListEventDeliveries(context.Background(), "acme", msg)
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}
	if deliveries("m1") != 0 || deliveries("m2") != 1 {
		t.Fatalf("before the replay: m1 %d, m2 %d deliveries", deliveries("m1"), deliveries("m2"))
	}
	task := func(id string) map[string]any {
		t.Helper()
		code, got := e.do("GET", "/api/v1/background-task/"+id, "")
		if code != 200 {
			t.Fatalf("background task %s: %d %v", id, code, got)
		}
		return got
	}

	code, replay := e.do("POST", "/api/v1/app/acme/endpoint/ep-a/replay-missing", `{"since":"`+since+`"}`)
	if code != 202 || replay["status"] != "running" || replay["task"] != "endpoint.replay" || replay["id"] == "" {
		t.Fatalf("replay-missing: %d %v", code, replay)
	}
	id := replay["id"].(string)
	if got := task(id); got["status"] != "running" || got["task"] != "endpoint.replay" || got["data"] == nil {
		t.Fatalf("the replay before it ran: %v", got)
	}
	runner, err := tasks.New(e.store, tasks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if ran, err := runner.RunOne(context.Background()); !ran || err != nil {
		t.Fatalf("the replay: ran %v, %v", ran, err)
	}
	if got := task(id); got["status"] != "finished" || got["data"].(map[string]any)["done"] != 2.0 {
		t.Fatalf("the replay after it ran: %v", got)
	}
	if deliveries("m1") != 1 || deliveries("m2") != 1 {
		t.Fatalf("after the replay: m1 %d, m2 %d deliveries (want one each: only the missing one made)", deliveries("m1"), deliveries("m2"))
	}

	code, recover := e.do("POST", "/api/v1/app/acme/endpoint/ep-a/recover", `{"since":"`+since+`"}`)
	if code != 202 || recover["status"] != "finished" || recover["task"] != "endpoint.recover" {
		t.Fatalf("recover: %d %v", code, recover)
	}
	// An until at the zero time is no end (it was read as none: every
	// message since since recovered).
	if code, _ := e.do("POST", "/api/v1/app/acme/endpoint/ep-a/recover", `{"since":"`+since+`","until":"0001-01-01T00:00:00Z"}`); code != 422 {
		t.Fatalf("recover until the zero time: %d", code)
	}
	if got := task(recover["id"].(string)); got["status"] != "finished" || got["task"] != "endpoint.recover" || got["data"].(map[string]any)["total"] != 0.0 {
		t.Fatalf("the recover read back: %v", got)
	}

	if code, got := e.do("GET", "/api/v1/background-task/task_nope", ""); code != 404 || got["code"] != "not_found" {
		t.Fatalf("an unknown task: %d %v", code, got)
	}
	if code, _ := e.do("POST", "/api/v1/app/acme/endpoint/ep-a/replay-missing", `{}`); code != 422 {
		t.Fatalf("replay-missing without since: %d", code)
	}
	if code, _ := e.do("POST", "/api/v1/app/acme/endpoint/nope/replay-missing", `{"since":"`+since+`"}`); code != 404 {
		t.Fatalf("replay-missing to no endpoint: %d", code)
	}
}

// Clients other than the strict SDKs (Go before 1.57, Java before 1.60) get Svix's current fields beside the
// old ones (eventTypes, throttleRate, statusText, canceled, updatedAt); a
// strict one gets none of them. Cancelled deliveries are 4 with
// expanded_statuses=true. An endpoint takes its headers when made, and a
// resend answers {}.
func TestCurrentShape(t *testing.T) {
	e := newEnv(t)
	const v2 = "svix-libs/2.5.0/javascript"
	e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	code, ep := e.doAs(v2, "POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/a","uid":"ep-a","eventTypes":["invoice.paid"],"throttleRate":7,"headers":{"X-Team":"billing"}}`)
	if code != 201 || !reflect.DeepEqual(ep["eventTypes"], []any{"invoice.paid"}) || ep["throttleRate"] != 7.0 ||
		!reflect.DeepEqual(ep["filterTypes"], []any{"invoice.paid"}) || ep["rateLimit"] != 7.0 {
		t.Fatalf("an endpoint, to a current client: %d %v", code, ep)
	}
	for _, agent := range []string{"", "curl/8.0"} {
		if _, got := e.doAs(agent, "GET", "/api/v1/app/acme/endpoint/ep-a", ""); got["eventTypes"] == nil || got["throttleRate"] == nil {
			t.Fatalf("an endpoint, to %q: %v", agent, got)
		}
	}
	if _, got := e.do("GET", "/api/v1/app/acme/endpoint/ep-a", ""); got["eventTypes"] != nil || got["throttleRate"] != nil || got["filterTypes"] == nil {
		t.Fatalf("an endpoint, to a v1 SDK: %v", got)
	}
	if _, h := e.do("GET", "/api/v1/app/acme/endpoint/ep-a/headers", ""); !reflect.DeepEqual(h["headers"], map[string]any{"X-Team": "billing"}) {
		t.Fatalf("the headers given at create: %v", h)
	}
	if code, _ := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/b","headers":{"webhook-id":"x"}}`); code != 422 {
		t.Fatalf("a reserved header at create: %d", code)
	}

	e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice.paid","eventId":"m1","payload":{"n":1}}`)
	statusOf := func(agent, path string) (any, any) {
		t.Helper()
		code, l := e.doAs(agent, "GET", path, "")
		data, _ := l["data"].([]any)
		if code != 200 || len(data) != 1 {
			t.Fatalf("%s: %d %v", path, code, l)
		}
		row := data[0].(map[string]any)
		return row["status"], row["statusText"]
	}
	for _, path := range []string{"/api/v1/app/acme/msg/m1/endpoint", "/api/v1/app/acme/endpoint/ep-a/msg"} {
		if st, text := statusOf(v2, path); st != 1.0 || text != "pending" {
			t.Fatalf("%s to a current client: %v %v", path, st, text)
		}
		if st, text := statusOf(v1SDK, path); st != 1.0 || text != nil {
			t.Fatalf("%s to a v1 SDK: %v %v", path, st, text)
		}
	}
	if n, err := e.svc.CancelDeliveries(context.Background(), "acme", ep["id"].(string), time.Time{}); err != nil || n != 1 {
		t.Fatalf("cancel: %d, %v", n, err)
	}
	for _, tc := range []struct {
		query      string
		status     float64
		statusText string
	}{{"", 2, "fail"}, {"?expanded_statuses=true", 4, "canceled"}} {
		if st, text := statusOf(v2, "/api/v1/app/acme/msg/m1/endpoint"+tc.query); st != tc.status || text != tc.statusText {
			t.Fatalf("a cancelled delivery%s: %v %v", tc.query, st, text)
		}
	}
	if _, st := e.doAs(v2, "GET", "/api/v1/app/acme/endpoint/ep-a/stats", ""); st["canceled"] != 1.0 {
		t.Fatalf("stats to a current client: %v", st)
	}
	if _, st := e.do("GET", "/api/v1/app/acme/endpoint/ep-a/stats", ""); st["canceled"] != nil || len(st) != 4 {
		t.Fatalf("stats to a v1 SDK: %v", st)
	}
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if _, rec := e.doAs(v2, "POST", "/api/v1/app/acme/endpoint/ep-a/recover", `{"since":"`+since+`"}`); rec["updatedAt"] == nil {
		t.Fatalf("recover to a current client: %v", rec)
	}
	if _, rec := e.do("POST", "/api/v1/app/acme/endpoint/ep-a/recover", `{"since":"`+since+`"}`); rec["updatedAt"] != nil || len(rec) != 3 {
		t.Fatalf("recover to a v1 SDK: %v", rec)
	}
	if code, body := e.do("POST", "/api/v1/app/acme/msg/m1/endpoint/ep-a/resend", ""); code != 202 || body == nil || len(body) != 0 {
		t.Fatalf("resend: %d %v (want 202 {})", code, body)
	}
}

// An endpoint's statistics count what retention pruned too.
func TestEndpointStatsOutliveRetention(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	_, ep := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/a","uid":"ep-a"}`)
	for i := range 2 {
		if code, _ := e.do("POST", "/api/v1/app/acme/msg", fmt.Sprintf(`{"eventType":"a.b","payload":{},"eventId":"m%d"}`, i)); code != 202 {
			t.Fatalf("message: %d", code)
		}
	}
	if n, err := e.svc.CancelDeliveries(t.Context(), "acme", ep["id"].(string), time.Time{}); err != nil || n != 2 {
		t.Fatalf("cancel: %d, %v", n, err)
	}
	stats := func() map[string]any {
		_, st := e.doAs("svix-libs/2.5.0/javascript", "GET", "/api/v1/app/acme/endpoint/ep-a/stats", "") // a current client sees canceled
		return st
	}
	if st := stats(); st["canceled"] != 2.0 {
		t.Fatalf("stats: %v", st)
	}
	if res, err := e.store.PruneEvents(t.Context(), hookd.PruneParams{Before: time.Now().Add(time.Hour), Limit: 100}); err != nil || res.Deliveries != 2 {
		t.Fatalf("prune: %+v, %v", res, err)
	}
	if st := stats(); st["canceled"] != 2.0 || st["pending"] != 0.0 {
		t.Fatalf("stats once the deliveries were pruned: %v", st)
	}
}

// A rotation's gracePeriodSeconds is how long the old key signs on
// (0–604800; default a day).
func TestRotateGrace(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	_, ep := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/a","uid":"ep-a"}`)
	for _, tc := range []struct {
		body  string
		grace time.Duration
	}{{`{}`, 24 * time.Hour}, {`{"gracePeriodSeconds":0}`, 0}, {`{"gracePeriodSeconds":3600}`, time.Hour}, {`{"gracePeriodSeconds":604800}`, 7 * 24 * time.Hour}} {
		before := time.Now()
		if code, _ := e.do("POST", "/api/v1/app/acme/endpoint/ep-a/secret/rotate", tc.body); code != 204 {
			t.Fatalf("rotate %s: %d", tc.body, code)
		}
		wh, err := e.store.GetWebhook(context.Background(), "acme", ep["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if tc.grace == 0 {
			if len(wh.SigningSecrets(time.Now())) != 1 {
				t.Fatalf("rotate %s: the old key still signs", tc.body)
			}
			continue
		}
		if left := wh.PreviousSecrets[0].ExpiresAt.Sub(before); left < tc.grace-time.Minute || left > tc.grace+time.Minute {
			t.Fatalf("rotate %s: the old key signs for %v more, want %v", tc.body, left, tc.grace)
		}
	}
	for _, body := range []string{`{"gracePeriodSeconds":-1}`, `{"gracePeriodSeconds":604801}`} {
		if code, _ := e.do("POST", "/api/v1/app/acme/endpoint/ep-a/secret/rotate", body); code != 422 {
			t.Fatalf("rotate %s: %d", body, code)
		}
	}
}

func TestStrictSDK(t *testing.T) {
	for agent, want := range map[string]bool{
		"svix-libs/1.44.0/go":         true,
		"svix-libs/1.56.9/go":         true,
		"svix-libs/1.57.0/go":         false,
		"svix-libs/1.59.0/java":       true,
		"svix-libs/1.60.0/java":       false,
		"svix-libs/0.9.1/go":          true,
		"svix-libs/2.5.0/go":          false,
		"svix-libs/1.99.1/rust":       false,
		"svix-libs/1.99.1/python":     false,
		"svix-libs/1.44.0/javascript": false,
		"svix-libs/x.y/go":            false,
		"svix-libs/1.44.0":            false,
		"curl/8.0":                    false,
		"":                            false,
	} {
		if got := svixapi.StrictSDK(agent); got != want {
			t.Errorf("%q: %v, want %v", agent, got, want)
		}
	}
}

// cancel-msgs cancels the endpoint's messages not yet sent created before
// createdBefore.
func TestCancelMessages(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	_, ep := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/a","uid":"ep-a"}`)
	e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice.paid","eventId":"m1","payload":{"n":1}}`)
	first, err := e.store.ListEventDeliveries(context.Background(), "acme", "m1")
	if err != nil || len(first) != 1 {
		t.Fatalf("m1's deliveries: %v, %v", first, err)
	}
	// m2 is made after m1's delivery was read back: later than this.
	cutoff := first[0].CreatedAt.Add(time.Microsecond)
	e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"invoice.paid","eventId":"m2","payload":{"n":2}}`)
	if code, _ := e.do("POST", "/api/v1/app/acme/endpoint/ep-a/cancel-msgs", `{}`); code != 422 {
		t.Fatalf("without createdBefore: %d", code)
	}
	if code, _ := e.do("POST", "/api/v1/app/acme/endpoint/ep-a/cancel-msgs", `{"createdBefore":"`+cutoff.Format(time.RFC3339Nano)+`"}`); code != 204 {
		t.Fatalf("cancel-msgs: %d", code)
	}
	for msg, want := range map[string]hookd.DeliveryStatus{"m1": hookd.StatusCanceled, "m2": hookd.StatusPending} {
		ds, err := e.store.ListEventDeliveries(context.Background(), "acme", msg)
		if err != nil || len(ds) != 1 || ds[0].WebhookID != ep["id"] || ds[0].Status != want {
			t.Fatalf("%s: %+v, %v; want %s", msg, ds, err, want)
		}
	}
}

// What Svix's SDKs send that an audit found hookd dropping or misreading:
// a raw payload (messageInRaw), the payload under its other name, an
// event type made again after its delete, a limit on the event-type list,
// and uid changes.
func TestSDKEdges(t *testing.T) {
	e := newEnv(t)
	if _, out := e.do("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`); out["updatedAt"] != out["createdAt"] {
		t.Fatalf("a new application's updatedAt: %v", out)
	}
	// A raw payload is the message's payload; text that is no JSON object
	// is refused, never sent as something else.
	code, out := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"raw.evt","payload":{},"transformationsParams":{"rawPayload":"{\"b\":1,   \"a\":[1, 2]}"}}`)
	if code != 202 {
		t.Fatalf("a raw payload: %d %v", code, out)
	}
	if _, got := e.do("GET", "/api/v1/app/acme/msg/"+out["id"].(string), ""); fmt.Sprint(got["payload"]) != "map[a:[1 2] b:1]" {
		t.Fatalf("the raw payload read back: %v", got["payload"])
	}
	// Sent as given, its spacing kept (an endpoint of this API sends the
	// data alone), as Svix sends a raw payload.
	ev, err := e.store.GetEvent(t.Context(), "acme", out["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if body := (&hookd.Webhook{BodyMode: hookd.BodyRaw}).Body(ev.Payload); string(body) != `{"b":1,   "a":[1, 2]}` {
		t.Fatalf("the raw payload is sent as %s", body)
	}
	for _, raw := range []string{`not json`, `[1,2]`} {
		if code, out := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"raw.evt","payload":{},"transformationsParams":{"rawPayload":`+strconv.Quote(raw)+`}}`); code != 422 {
			t.Errorf("raw payload %q: %d %v", raw, code, out)
		}
	}
	if code, out := e.do("POST", "/api/v1/app/acme/msg", `{"eventType":"raw.evt","data":{"x":1}}`); code != 202 || fmt.Sprint(out["payload"]) != "map[x:1]" {
		t.Fatalf("the payload as data: %d %v", code, out)
	}
	// A deleted (archived) type made again is back, as the body says.
	e.do("POST", "/api/v1/event-type", `{"name":"user.created","description":"one","schemas":{"1":{"type":"object","required":["a"]}}}`)
	if code, _ := e.do("DELETE", "/api/v1/event-type/user.created", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, out := e.do("POST", "/api/v1/event-type", `{"name":"user.created","description":"two"}`); code != 201 || out["description"] != "two" || out["archived"] != false || out["schemas"] != nil {
		t.Fatalf("made again: %d %v", code, out)
	}
	if code, _ := e.do("POST", "/api/v1/event-type", `{"name":"user.created","description":"three"}`); code != 409 {
		t.Fatalf("made while it is there: %d, want 409", code)
	}
	// The event-type list pages by limit to the end.
	for _, n := range []string{"a.one", "a.two", "a.three"} {
		e.do("POST", "/api/v1/event-type", `{"name":"`+n+`","description":""}`)
	}
	seen := 0
	for it, pages := "", 0; ; pages++ {
		code, out := e.do("GET", "/api/v1/event-type?limit=2"+it, "")
		if data := out["data"].([]any); code != 200 || len(data) > 2 || pages > 10 {
			t.Fatalf("a page of event types: %d %v", code, out)
		}
		seen += len(out["data"].([]any))
		if out["done"] == true {
			break
		}
		it = "&iterator=" + out["iterator"].(string)
	}
	if seen != 5 { // raw.evt, user.created and the three
		t.Fatalf("listed %d event types, want 5", seen)
	}
	// An endpoint's uid changes by PATCH or PUT (409 when taken); an
	// application's, its tenant id, cannot.
	e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/a","uid":"ep-a"}`)
	e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/b","uid":"ep-b"}`)
	if code, out := e.do("PATCH", "/api/v1/app/acme/endpoint/ep-a", `{"uid":"ep-a2"}`); code != 200 || out["uid"] != "ep-a2" {
		t.Fatalf("patch uid: %d %v", code, out)
	}
	if code, _ := e.do("GET", "/api/v1/app/acme/endpoint/ep-a2", ""); code != 200 {
		t.Fatalf("by its new uid: %d", code)
	}
	if code, out := e.do("PATCH", "/api/v1/app/acme/endpoint/ep-a2", `{"uid":"ep-b"}`); code != 409 || !strings.Contains(fmt.Sprint(out["detail"]), "uid ep-b is taken") {
		t.Fatalf("a taken uid: %d %v, want 409 naming it", code, out)
	}
	if code, out := e.do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/c","uid":"ep-b"}`); code != 409 || !strings.Contains(fmt.Sprint(out["detail"]), "uid ep-b is taken") {
		t.Fatalf("a new endpoint with a taken uid: %d %v, want 409 naming it", code, out)
	}
	if code, out := e.do("PUT", "/api/v1/app/acme/endpoint/ep-b", `{"url":"https://example.com/b","uid":"ep-b2"}`); code != 200 || out["uid"] != "ep-b2" {
		t.Fatalf("put uid: %d %v", code, out)
	}
	if code, out := e.do("PATCH", "/api/v1/app/acme", `{"uid":"other"}`); code != 422 {
		t.Fatalf("an application's new uid: %d %v", code, out)
	}
	_, before := e.do("GET", "/api/v1/app/acme", "")
	if code, out := e.do("PATCH", "/api/v1/app/acme", `{"uid":"acme","name":"Acme 2"}`); code != 200 || out["updatedAt"] == before["updatedAt"] || out["createdAt"] != before["createdAt"] {
		t.Fatalf("an application's own uid, a new name: %d %v (before %v)", code, out, before)
	}
	_, before = e.do("GET", "/api/v1/app/acme", "")
	if _, out := e.do("PATCH", "/api/v1/app/acme", `{"name":"Acme 2"}`); out["updatedAt"] != before["updatedAt"] {
		t.Fatalf("no change moved updatedAt: %v -> %v", before["updatedAt"], out["updatedAt"])
	}
}

// A message is taken as svix-server takes it (an outside audit): of an
// event type deleted since (archived: svix-server never looks the type
// up), and with an eventId of up to 256 characters.
func TestMessagesAsSvixTakesThem(t *testing.T) {
	e := newEnv(t)
	if code, out := e.do("POST", "/api/v1/app", `{"name":"A","uid":"a"}`); code != 201 {
		t.Fatalf("app: %d %v", code, out)
	}
	if code, out := e.do("POST", "/api/v1/event-type", `{"name":"old.type","description":""}`); code != 201 {
		t.Fatalf("event type: %d %v", code, out)
	}
	if code, _ := e.do("DELETE", "/api/v1/event-type/old.type", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, out := e.do("POST", "/api/v1/app/a/msg", `{"eventType":"old.type","payload":{"n":1}}`); code != 202 || out["eventType"] != "old.type" {
		t.Fatalf("a message of a deleted type: %d %v", code, out)
	}
	long := strings.Repeat("x", 256)
	if code, out := e.do("POST", "/api/v1/app/a/msg", `{"eventType":"old.type","eventId":"`+long+`","payload":{}}`); code != 202 || out["eventId"] != long {
		t.Fatalf("a 256-character eventId: %d %v", code, out)
	}
	if code, out := e.do("GET", "/api/v1/app/a/msg/"+long, ""); code != 200 || out["eventId"] != long {
		t.Fatalf("read back by its eventId: %d %v", code, out)
	}
	if code, out := e.do("POST", "/api/v1/app/a/msg", `{"eventType":"old.type","eventId":"`+long+`y","payload":{}}`); code != 422 {
		t.Fatalf("a 257-character eventId: %d %v", code, out)
	}
	// with_content=false answers a create without its payload, as a read.
	code, out := e.do("POST", "/api/v1/app/a/msg?with_content=false", `{"eventType":"old.type","payload":{"big":"data"}}`)
	if p, _ := out["payload"].(map[string]any); code != 202 || p == nil || len(p) != 0 {
		t.Fatalf("with_content=false: %d %v", code, out)
	}
}
