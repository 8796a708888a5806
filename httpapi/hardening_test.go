package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookd/hookd"
)

// Input that hookd must refuse with a 4xx, and store nothing of: each row
// was accepted, or answered 500 on PostgreSQL, before.
func TestInputHardening(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	wh := e.webhook("acme", map[string]any{})
	hook := func(set map[string]any) map[string]any {
		b := map[string]any{"name": "n", "url": "https://example.com/x", "events": []string{"*"}}
		for k, v := range set {
			b[k] = v
		}
		return b
	}
	nul := "a\u0000b"
	tests := []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		// 1. NUL in any text field.
		{"NUL in a tenant name", "POST", "/v1/tenants", map[string]any{"id": "t1", "name": nul}, 422, "name"},
		{"NUL in a tenant rename", "PATCH", "/v1/tenants/acme", map[string]any{"name": nul}, 422, "name"},
		{"NUL in a key name", "POST", "/v1/tenants/acme/api-keys", map[string]any{"name": nul}, 422, "name"},
		{"NUL in an event type description", "POST", "/v1/event-types", map[string]any{"name": "x.y", "description": nul}, 422, "description"},
		{"NUL in a webhook name", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"name": nul}), 422, "name"},
		{"NUL in a webhook description", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"description": nul}), 422, "description"},
		{"NUL in a filter", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"filter": "type == \"" + nul + "\""}), 422, "filter"},
		{"NUL in a channel", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"channels": []string{nul}}), 422, "channels[0]"},
		{"NUL in a metadata value", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"metadata": map[string]string{"k": nul}}), 422, "metadata.k"},
		{"NUL in a PATCHed name", "PATCH", "/v1/tenants/acme/webhooks/" + wh, map[string]any{"name": nul}, 422, "name"},
		{"NUL in an event channel", "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{}, "channels": []string{nul}}, 422, "channels[0]"},
		// 2. Invalid UTF-8 in event data and metadata (raw bytes in a JSON string).
		{"invalid UTF-8 in data", "POST", "/v1/tenants/acme/events", `{"type":"a.b","data":{"s":"` + "\xff\xfe" + `"}}`, 422, "data"},
		{"invalid UTF-8 in metadata", "POST", "/v1/tenants/acme/events", `{"type":"a.b","data":{},"metadata":{"s":"` + "\xc3" + `"}}`, 422, "metadata"},
		// 4. Loopback written as browsers would map it.
		{"full-width loopback", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"url": "http://１２７.０.０.１/x"}), 422, "url"},
		{"ideographic dots", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"url": "http://127。0。0。1/x"}), 422, "url"},
		{"IPv4-translated loopback", "PATCH", "/v1/tenants/acme/webhooks/" + wh, map[string]any{"url": "http://[::ffff:0:127.0.0.1]/x"}, 422, "url"},
		// 5. "." and ".." as ids.
		{"tenant id .", "POST", "/v1/tenants", map[string]any{"id": ".", "name": "n"}, 422, "id"},
		{"tenant id ..", "POST", "/v1/tenants", map[string]any{"id": "..", "name": "n"}, 422, "id"},
		{"event id ..", "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{}, "id": ".."}, 422, "id"},
		// 6. Hop-by-hop headers, which break HTTP/2 requests.
		{"Upgrade header", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"headers": map[string]string{"Upgrade": "h2c"}}), 422, "headers.Upgrade"},
		{"TE header", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"headers": map[string]string{"Te": "trailers"}}), 422, "headers.Te"},
		{"Keep-Alive header", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"headers": map[string]string{"Keep-Alive": "timeout=5"}}), 422, "headers.Keep-Alive"},
		{"Proxy- header", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"headers": map[string]string{"Proxy-Authorization": "x"}}), 422, "headers.Proxy-Authorization"},
		{"Trailer header", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"headers": map[string]string{"Trailer": "x"}}), 422, "headers.Trailer"},
		{"Connection header in a PATCH", "PATCH", "/v1/tenants/acme/webhooks/" + wh, map[string]any{"headers": map[string]string{"Connection": "close"}}, 422, "headers.Connection"},
		// A header the signature scheme sets would be replaced unseen.
		{"the scheme's signature header", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"signature": map[string]any{"scheme": "github"},
			"secret": "a-receivers-secret-123", "headers": map[string]string{"x-hub-signature-256": "sha256=x"}}), 422, "headers.x-hub-signature-256"},
		{"the svix scheme's id header", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"signature": map[string]any{"scheme": "svix"},
			"headers": map[string]string{"Svix-Id": "x"}}), 422, "headers.Svix-Id"},
		// 7. An empty event id is not "no id".
		{"empty event id", "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{}, "id": ""}, 422, "id"},
		// 8. Ports outside 1–65535.
		{"port 99999", "POST", "/v1/tenants/acme/webhooks", hook(map[string]any{"url": "https://example.com:99999/x"}), 422, "url"},
		{"port 0", "PATCH", "/v1/tenants/acme/webhooks/" + wh, map[string]any{"url": "https://example.com:0/x"}, 422, "url"},
		// 9. Event metadata is capped at 16 KiB.
		{"metadata over 16 KiB", "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{},
			"metadata": map[string]any{"s": strings.Repeat("m", 16<<10)}}, 422, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, adminKey, tt.body).want(t, tt.status)
			r.hasField(t, tt.field)
			if !utf8.Valid(r.raw) {
				t.Fatalf("the answer is not UTF-8: %q", r.raw)
			}
		})
	}
	// Nothing of those was stored.
	if r := e.do("GET", "/v1/tenants/acme/events", adminKey, nil).want(t, 200); len(r.body["data"].([]any)) != 0 {
		t.Errorf("events stored: %s", r.raw)
	}
	if r := e.do("GET", "/v1/tenants/acme/webhooks", adminKey, nil).want(t, 200); len(r.body["data"].([]any)) != 1 {
		t.Errorf("webhooks stored: %s", r.raw)
	}
	if r := e.do("GET", "/v1/tenants", adminKey, nil).want(t, 200); len(r.body["data"].([]any)) != 1 {
		t.Errorf("tenants stored: %s", r.raw)
	}
	// Metadata just under the cap, and a port at the top of the range, pass.
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{},
		"metadata": map[string]any{"s": strings.Repeat("m", 16<<10-20)}}).want(t, 202)
	e.do("PATCH", "/v1/tenants/acme/webhooks/"+wh, adminKey, map[string]any{"url": "https://example.com:65535/x"}).want(t, 200)
}

// 10. A rotation grace on a scheme that carries one signature cannot sign
// with both secrets: refused, saying why; the default there is none.
func TestRotationGraceOnOneSignatureSchemes(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	for _, scheme := range []string{"github", "plinqx", "plextrac", "forjinn"} {
		id := e.webhook("acme", map[string]any{"signature": map[string]any{"scheme": scheme}, "secret": "a-receivers-secret-123"})
		path := "/v1/tenants/acme/webhooks/" + id + "/secret/rotate"
		r := e.do("POST", path, adminKey, map[string]any{"graceSeconds": 3600}).want(t, 422)
		r.hasField(t, "graceSeconds")
		if !strings.Contains(string(r.raw), "one signature") {
			t.Errorf("%s: %s", scheme, r.raw)
		}
		e.do("POST", path, adminKey, nil).want(t, 200) // no grace: the old secret stops at once
		e.do("POST", path, adminKey, map[string]any{"graceSeconds": 0}).want(t, 200)
	}
	// Schemes that carry several signatures keep the grace.
	for _, scheme := range []string{"standard", "stripe"} {
		body := map[string]any{"signature": map[string]any{"scheme": scheme}}
		if scheme == "stripe" {
			body["secret"] = "a-receivers-secret-123"
		}
		id := e.webhook("acme", body)
		e.do("POST", "/v1/tenants/acme/webhooks/"+id+"/secret/rotate", adminKey, map[string]any{"graceSeconds": 3600}).want(t, 200)
	}
}

// A path or query value that is not text hookd stores (NUL, invalid UTF-8)
// names nothing: 404 for a path, 400 for a query parameter; PostgreSQL
// refused such text in a query (500). A page past what an offset holds is
// 400, not a negative offset.
func TestURLText(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	tk := e.tenantKey("acme")
	for _, tt := range []struct {
		path   string
		key    string
		status int
	}{
		{"/v1/tenants/%00", adminKey, 404},
		{"/v1/tenants/%ff", adminKey, 404},
		{"/v1/event-types/%00", adminKey, 404},
		{"/v1/tenants/acme/webhooks/wh_%00", adminKey, 404},
		{"/v1/tenants/acme/webhooks/%ff", tk, 404},
		{"/v1/tenants/acme/events/%00", adminKey, 404},
		{"/v1/tenants/acme/deliveries/dlv_%ff", adminKey, 404},
		{"/v1/tenants/acme/tasks/%00", adminKey, 404},
		{"/v1/tenants/acme/events?type=%00", adminKey, 400},
		{"/v1/tenants/acme/events?type=%ff", tk, 400},
		{"/v1/tenants/acme/deliveries?eventType=%00", adminKey, 400},
		{"/v1/tenants/acme/deliveries?webhookId=%ff", adminKey, 400},
		{"/v1/tenants/acme/audit-log?targetId=%00", adminKey, 400},
		{"/v1/tenants/acme/events?%ff=1", adminKey, 400},
		{"/v1/tenants?page=9223372036854775807&limit=2", adminKey, 400},
		{"/v1/tenants/acme/webhooks?page=9223372036854775807&limit=250", adminKey, 400},
		{"/v1/tenants/acme/deliveries/failed?page=9223372036854775807&limit=2", adminKey, 400},
		{"/v1/tenants?page=4611686018427387904&limit=2", adminKey, 200}, // the last page an offset holds
		{"/v1/tenants/%00", "", 401},                                    // a key first, as on every /v1 call
	} {
		r := e.do("GET", tt.path, tt.key, nil).want(t, tt.status)
		if tt.status == 200 && len(r.body["data"].([]any)) != 0 {
			t.Errorf("%s: %s", tt.path, r.raw)
		}
	}
}

// Request bodies as generated clients send them: null for an optional field
// of a create or an action is "not given"; a PATCH keeps refusing null
// where it could not say whether to keep or reset. A field the contract
// does not name is 400 however deep, and a retry, which takes nothing,
// refuses a body that says something.
func TestRequestBodies(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	created := e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "n", "url": "https://example.com/x", "events": []string{"*"},
		"timeoutMs": nil, "enabled": nil, "sslVerification": nil}).want(t, 201)
	if created.body["timeoutMs"] != 30000.0 || created.body["enabled"] != true || created.body["sslVerification"] != true {
		t.Fatalf("nulls on create are the defaults: %s", created.raw)
	}
	wh := created.body["id"].(string)
	path := "/v1/tenants/acme/webhooks/" + wh
	e.do("PATCH", path, adminKey, map[string]any{"timeoutMs": nil}).want(t, 422).hasField(t, "timeoutMs")
	ev := e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}, "id": nil}).want(t, 202)
	if id := ev.body["id"].(string); !strings.HasPrefix(id, "evt_") {
		t.Fatalf("a null id is none: %s", id)
	}
	for _, tt := range []struct {
		path string
		body any
	}{
		{path + "/deliveries/retry-all-failed", map[string]any{"since": nil, "until": nil}},
		{path + "/deliveries/cancel", map[string]any{"before": nil}},
		{path + "/replay", map[string]any{"since": "2020-01-01T00:00:00Z", "until": nil, "onlyMissing": nil}},
		{path + "/secret/rotate", map[string]any{"graceSeconds": nil}},
		{"/v1/tenants/acme/portal-sessions", map[string]any{"expiresInSeconds": nil, "readOnly": nil}},
	} {
		if r := e.do("POST", tt.path, adminKey, tt.body); r.status >= 300 {
			t.Errorf("POST %s %v: %d %s", tt.path, tt.body, r.status, r.raw)
		}
	}
	e.do("POST", path+"/replay", adminKey, map[string]any{"since": nil}).want(t, 422).hasField(t, "since")
	e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "n", "url": "https://example.com/x", "events": []string{"*"},
		"signature": map[string]any{"scheme": "standard", "bogus": 1}}).want(t, 400)
	got := e.do("GET", "/v1/tenants/acme/events/"+ev.body["id"].(string), adminKey, nil).want(t, 200)
	retry := "/v1/tenants/acme/deliveries/" + got.body["deliveries"].([]any)[0].(map[string]any)["id"].(string) + "/retry"
	e.do("POST", retry, adminKey, map[string]any{"bogus": 1}).want(t, 400)
	e.do("POST", retry, adminKey, "not json").want(t, 400)
	e.do("POST", retry, adminKey, map[string]any{}).want(t, 202)
	e.do("POST", retry, adminKey, nil).want(t, 202)
	// A PATCH that changes nothing writes nothing: updatedAt stays, and
	// an edit based on it still applies.
	read := e.do("GET", path, adminKey, nil).want(t, 200).body["updatedAt"]
	for _, body := range []map[string]any{{}, {"name": "n"}, {"enabled": true, "events": []string{"*"}}} {
		if got := e.do("PATCH", path, adminKey, body).want(t, 200).body["updatedAt"]; got != read {
			t.Fatalf("PATCH %v moved updatedAt from %v to %v", body, read, got)
		}
	}
	e.do("PATCH", path, adminKey, map[string]any{"name": "m", "updatedAt": read}).want(t, 200)
}

// Lists that page by cursor alone refuse offset and page, which they would
// otherwise ignore (a client paging by them read page one forever).
func TestCursorListsRefuseOffsets(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	for _, list := range []string{"/v1/tenants/acme/events", "/v1/tenants/acme/deliveries", "/v1/tenants/acme/audit-log"} {
		e.do("GET", list+"?limit=2", adminKey, nil).want(t, 200)
		e.do("GET", list+"?offset=2&limit=2", adminKey, nil).want(t, 400)
		e.do("GET", list+"?page=2&limit=2", adminKey, nil).want(t, 400)
	}
	// Where offset is taken, page is taken too.
	for _, list := range []string{"/v1/tenants", "/v1/tenants/acme/webhooks", "/v1/tenants/acme/deliveries/failed"} {
		e.do("GET", list+"?page=2&limit=2", adminKey, nil).want(t, 200)
		e.do("GET", list+"?offset=2&limit=2", adminKey, nil).want(t, 200)
	}
}

// A header the scheme sets is refused when it is new to the webhook or the
// scheme is; one stored before hookd refused them does not lock the
// webhook's other edits.
func TestSchemeHeaderKept(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	id := e.webhook("acme", map[string]any{"headers": map[string]string{"X-Hub-Signature-256": "sha256=x"}}) // standard: not its header
	path := "/v1/tenants/acme/webhooks/" + id
	e.do("PATCH", path, adminKey, map[string]any{"signature": map[string]any{"scheme": "github"}}).want(t, 422).hasField(t, "headers.X-Hub-Signature-256")
	// As an older hookd stored it.
	if _, _, err := hookd.EditWebhook(context.Background(), e.store, nil, "acme", id, func(w *hookd.Webhook) error {
		w.Signature, w.Secret = &hookd.Signature{Scheme: hookd.SchemeGitHub}, "a-receivers-secret-123"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.do("PATCH", path, adminKey, map[string]any{"name": "renamed"}).want(t, 200)
	e.do("PATCH", path, adminKey, map[string]any{"headers": map[string]string{"X-Hub-Signature-256": "sha256=y"}}).want(t, 422)
}
