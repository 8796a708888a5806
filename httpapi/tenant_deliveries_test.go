package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// GET /v1/tenants/{id}/deliveries lists every webhook's deliveries,
// newest first, filtered and paged, and only the tenant's.
func TestTenantDeliveries(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.tenant("globex")
	e.eventType("a.b", nil)
	e.eventType("c.d", nil)
	one := e.webhook("acme", map[string]any{"events": []string{"*"}})
	two := e.webhook("acme", map[string]any{"events": []string{"a.b"}})
	e.webhook("globex", map[string]any{"events": []string{"*"}})
	var events []string
	for i := range 4 {
		typ := "a.b"
		if i == 3 {
			typ = "c.d"
		}
		events = append(events, e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": typ, "data": map[string]any{"i": i}}).want(t, 202).body["id"].(string))
		time.Sleep(2 * time.Millisecond) // distinct creation times, for the order's check
	}
	e.do("POST", "/v1/tenants/globex/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 202)

	list := func(query string) []map[string]any {
		t.Helper()
		r := e.do("GET", "/v1/tenants/acme/deliveries"+query, adminKey, nil).want(t, 200)
		var out []map[string]any
		for _, d := range r.body["data"].([]any) {
			out = append(out, d.(map[string]any))
		}
		return out
	}
	all := list("")
	if len(all) != 7 { // 3 events to both webhooks, the c.d one to one
		t.Fatalf("%d deliveries", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i]["createdAt"].(string) > all[i-1]["createdAt"].(string) {
			t.Fatalf("not newest first at %d", i)
		}
	}
	if got := list("?webhookId=" + two); len(got) != 3 {
		t.Errorf("by webhook: %d", len(got))
	}
	if got := list("?eventType=c.d"); len(got) != 1 || got[0]["webhookId"] != one {
		t.Errorf("by event type: %v", got)
	}
	if got := list("?eventId=" + events[0]); len(got) != 2 {
		t.Errorf("by event: %d", len(got))
	}
	if got := list("?status=SUCCESS"); len(got) != 0 {
		t.Errorf("by status: %d (no engine runs here)", len(got))
	}
	if got := list("?status=PENDING&webhookId=" + one); len(got) != 4 {
		t.Errorf("two filters: %d", len(got))
	}
	if got := list("?since=" + all[2]["createdAt"].(string)); len(got) < 3 || len(got) == 7 {
		t.Errorf("since: %d", len(got))
	}
	// Pages of 3 walk all 7 once.
	seen := map[string]bool{}
	cursor := ""
	for range 5 {
		r := e.do("GET", "/v1/tenants/acme/deliveries?limit=3"+cursor, adminKey, nil).want(t, 200)
		for _, d := range r.body["data"].([]any) {
			id := d.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("%s twice", id)
			}
			seen[id] = true
		}
		next, _ := r.body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = "&cursor=" + next
	}
	if len(seen) != 7 {
		t.Fatalf("paging saw %d", len(seen))
	}
	for _, bad := range []string{"?status=DONE", "?cursor=nope", "?since=today", "?limit=0", "?status=%zz"} {
		e.do("GET", "/v1/tenants/acme/deliveries"+bad, adminKey, nil).want(t, 400)
	}
	// A webhook's list: a cursor that is base64 of something else is no
	// cursor (it once read as an id bound: the first page, or none).
	for _, bad := range []string{"abc", "Zm9v", "YQ", "?status=%zz"} {
		q := "?cursor=" + bad
		if bad[0] == '?' {
			q = bad
		}
		e.do("GET", "/v1/tenants/acme/webhooks/"+one+"/deliveries"+q, adminKey, nil).want(t, 400)
	}
	// A tenant key sees only its tenant's.
	key := e.tenantKey("globex")
	r := e.do("GET", "/v1/tenants/globex/deliveries", key, nil).want(t, 200)
	if n := len(r.body["data"].([]any)); n != 1 || strings.Contains(string(r.raw), one) {
		t.Errorf("globex sees %d: %s", n, r.raw)
	}
	e.do("GET", "/v1/tenants/acme/deliveries", key, nil).want(t, 404)
	e.do("GET", "/v1/tenants/acme/deliveries?since=2001-01-01T00:00:00Z&until=2000-01-01T00:00:00Z", adminKey, nil).want(t, 400)
}

// POST …/deliveries/cancel ends waiting deliveries CANCELED (before a time,
// when given); they are listed as such, counted, and audited.
func TestCancelDeliveries(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	wh := e.webhook("acme", map[string]any{})
	for range 3 {
		e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 202)
	}
	path := "/v1/tenants/acme/webhooks/" + wh + "/deliveries/cancel"
	if r := e.do("POST", path, adminKey, map[string]any{"before": "2000-01-01T00:00:00Z"}).want(t, 200); r.body["canceled"] != 0.0 {
		t.Fatalf("before 2000: %s", r.raw)
	}
	// The zero time given as a window's end is refused, as a query's until
	// is: the service reads a zero end as no end, and a cancel "before
	// 0001-01-01" ended every waiting delivery (so would a retry of every
	// FAILED one "until" it).
	e.do("POST", path, adminKey, map[string]any{"before": "0001-01-01T00:00:00Z"}).want(t, 422).hasField(t, "before")
	e.do("POST", "/v1/tenants/acme/webhooks/"+wh+"/deliveries/retry-all-failed", adminKey, map[string]any{"until": "0001-01-01T00:00:00Z"}).
		want(t, 422).hasField(t, "until")
	e.do("POST", "/v1/tenants/acme/webhooks/"+wh+"/replay", adminKey, map[string]any{"since": "2000-01-01T00:00:00Z", "until": "0001-01-01T00:00:00Z"}).
		want(t, 422).hasField(t, "until")
	if r := e.do("POST", path, adminKey, nil).want(t, 200); r.body["canceled"] != 3.0 {
		t.Fatalf("cancel: %s", r.raw)
	}
	if r := e.do("GET", "/v1/tenants/acme/deliveries?status=CANCELED", adminKey, nil).want(t, 200); len(r.body["data"].([]any)) != 3 {
		t.Fatalf("canceled list: %s", r.raw)
	}
	st := e.do("GET", "/v1/tenants/acme/webhooks/"+wh+"/stats", adminKey, nil).want(t, 200)
	if st.body["byStatus"].(map[string]any)["CANCELED"] != 3.0 {
		t.Fatalf("stats: %s", st.raw)
	}
	log := e.do("GET", "/v1/tenants/acme/audit-log?action=deliveries.canceled", adminKey, nil).want(t, 200)
	if len(log.body["data"].([]any)) != 1 {
		t.Fatalf("audit: %s", log.raw)
	}
	// A body left out but sent chunked (its length unknown) is no body too.
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: hookd\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", path, adminKey)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 {
		t.Fatalf("an empty chunked body: %d %s", res.StatusCode, b)
	}
	e.do("POST", path, adminKey, map[string]any{"before": "yesterday"}).want(t, 422).hasField(t, "before")
	e.do("POST", path, adminKey, map[string]any{"after": "x"}).want(t, 400)
	e.do("POST", "/v1/tenants/acme/webhooks/wh_missing/deliveries/cancel", adminKey, nil).want(t, 404)
}

// POST …/deliveries/retry-all-failed takes an optional window of creation
// times and retries only the FAILED deliveries created in it.
func TestRetryAllFailedWindow(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	wh := e.webhook("acme", map[string]any{})
	for range 2 {
		e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 202)
	}
	hook := "/v1/tenants/acme/webhooks/" + wh
	e.do("PATCH", hook, adminKey, map[string]any{"enabled": false}).want(t, 200) // ends both FAILED
	e.do("PATCH", hook, adminKey, map[string]any{"enabled": true}).want(t, 200)
	path := hook + "/deliveries/retry-all-failed"
	for _, w := range []map[string]any{{"since": "2100-01-01T00:00:00Z"}, {"until": "2000-01-01T00:00:00Z"}} {
		if r := e.do("POST", path, adminKey, w).want(t, 202); r.body["retried"] != 0.0 {
			t.Fatalf("%v: %s", w, r.raw)
		}
	}
	e.do("POST", path, adminKey, map[string]any{"since": "2001-01-01T00:00:00Z", "until": "2000-01-01T00:00:00Z"}).want(t, 422).hasField(t, "until")
	e.do("POST", path, adminKey, map[string]any{"since": "yesterday"}).want(t, 422).hasField(t, "since")
	e.do("POST", path, adminKey, map[string]any{"before": "2000-01-01T00:00:00Z"}).want(t, 400)
	if r := e.do("POST", path, adminKey, map[string]any{"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}).want(t, 202); r.body["retried"] != 2.0 {
		t.Fatalf("in the window: %s", r.raw)
	}
	if r := e.do("GET", "/v1/tenants/acme/deliveries?status=FAILED", adminKey, nil).want(t, 200); len(r.body["data"].([]any)) != 0 {
		t.Fatalf("still FAILED: %s", r.raw)
	}
}
