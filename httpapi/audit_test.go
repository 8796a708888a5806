package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Every change made through the API is in the tenant's audit log, with its
// actor, its target and what changed, and never a secret or a header's
// value; a change that changes nothing is not.
func TestAuditLog(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.tenant("globex")
	e.eventType("a.b", nil)
	kr := e.do("POST", "/v1/tenants/acme/api-keys", adminKey, map[string]any{"name": "ci"}).want(t, 201)
	key, keyID := kr.body["key"].(string), kr.body["id"].(string)

	// One change per action, by the admin key and by the tenant's key.
	created := e.do("POST", "/v1/tenants/acme/webhooks", key, map[string]any{"name": "orders", "url": "https://example.com/o",
		"events": []string{"*"}, "headers": map[string]string{"X-Token": "header-value-secret"}}).want(t, 201)
	wh, secret := created.body["id"].(string), created.body["secret"].(string)
	path := "/v1/tenants/acme/webhooks/" + wh
	e.do("PATCH", path, adminKey, map[string]any{"name": "orders v2", "headers": map[string]string{"X-Other": "other-header-value"}}).want(t, 200)
	e.do("PATCH", path, adminKey, map[string]any{"name": "orders v2"}).want(t, 200) // no change: no entry
	ev := e.do("POST", "/v1/tenants/acme/events", key, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 202)
	e.do("PATCH", path, key, map[string]any{"enabled": false}).want(t, 200) // ends the delivery FAILED
	e.do("PATCH", path, key, map[string]any{"enabled": true}).want(t, 200)
	if r := e.do("POST", path+"/deliveries/retry-all-failed", key, nil).want(t, 202); r.body["retried"] != 1.0 {
		t.Fatalf("retried %v", r.body["retried"])
	}
	got := e.do("GET", "/v1/tenants/acme/events/"+ev.body["id"].(string), adminKey, nil).want(t, 200)
	dlv := got.body["deliveries"].([]any)[0].(map[string]any)["id"].(string)
	// The retry-all above queued it; a retry now is allowed (it is not
	// being sent: no engine runs here).
	e.do("POST", "/v1/tenants/acme/deliveries/"+dlv+"/retry", adminKey, nil).want(t, 202)
	rotated := e.do("POST", path+"/secret/rotate", adminKey, nil).want(t, 200).body["secret"].(string)
	e.do("PATCH", "/v1/tenants/acme", adminKey, map[string]any{"name": "Acme 2"}).want(t, 200)
	other := e.do("POST", "/v1/tenants/acme/api-keys", adminKey, map[string]any{"name": "temp"}).want(t, 201).body["id"].(string)
	e.do("DELETE", "/v1/tenants/acme/api-keys/"+other, adminKey, nil).want(t, 204)
	e.do("DELETE", path, adminKey, nil).want(t, 204)

	log := e.do("GET", "/v1/tenants/acme/audit-log", key, nil).want(t, 200)
	type row struct{ action, actor, target string }
	want := []row{
		{"webhook.deleted", "admin", wh},
		{"key.revoked", "admin", other},
		{"key.created", "admin", other},
		{"tenant.updated", "admin", "acme"},
		{"webhook.secret_rotated", "admin", wh},
		{"deliveries.retried", "admin", dlv},
		{"deliveries.retried", "key:" + keyID, wh},
		{"webhook.enabled", "key:" + keyID, wh},
		{"webhook.disabled", "key:" + keyID, wh},
		{"webhook.updated", "admin", wh},
		{"webhook.created", "key:" + keyID, wh},
		{"key.created", "admin", keyID},
	}
	data := log.body["data"].([]any)
	if len(data) != len(want) {
		t.Fatalf("%d entries, want %d: %s", len(data), len(want), log.raw)
	}
	for i, w := range want {
		d := data[i].(map[string]any)
		actor := d["actor"].(map[string]any)
		who := actor["type"].(string)
		if id, _ := actor["id"].(string); id != "" {
			who += ":" + id
		}
		target := d["target"].(map[string]any)
		if d["action"] != w.action || who != w.actor || target["id"] != w.target || !strings.HasPrefix(d["id"].(string), "aud_") || d["at"] == nil {
			t.Errorf("entry %d = %v, want %+v", i, d, w)
		}
	}
	// What changed, as the API names it; headers by name only.
	upd := data[9].(map[string]any)["changes"].(map[string]any)
	if n := upd["name"].(map[string]any); n["from"] != "orders" || n["to"] != "orders v2" {
		t.Errorf("name change %v", n)
	}
	if h := upd["headers"].(map[string]any); len(h["from"].([]any)) != 1 || h["from"].([]any)[0] != "X-Token" || h["to"].([]any)[0] != "X-Other" {
		t.Errorf("headers change %v", h)
	}
	if en := data[8].(map[string]any)["changes"].(map[string]any)["enabled"].(map[string]any); en["from"] != true || en["to"] != false {
		t.Errorf("disable's change %v", en)
	}
	for _, s := range []string{secret, rotated, key, "header-value-secret", "other-header-value"} {
		if strings.Contains(string(log.raw), s) {
			t.Errorf("the audit log holds %q", s)
		}
	}

	// Filters and pages.
	if r := e.do("GET", "/v1/tenants/acme/audit-log?action=deliveries.retried", adminKey, nil).want(t, 200); len(r.body["data"].([]any)) != 2 {
		t.Errorf("by action: %s", r.raw)
	}
	// An action the log never holds is a bad query parameter, not a filter
	// that matches nothing.
	if r := e.do("GET", "/v1/tenants/acme/audit-log?action=webhook.bogus", adminKey, nil).want(t, 400); r.body["error"].(map[string]any)["code"] != "invalid_request" {
		t.Errorf("by an unknown action: %s", r.raw)
	}
	if r := e.do("GET", "/v1/tenants/acme/audit-log?targetId="+other, adminKey, nil).want(t, 200); len(r.body["data"].([]any)) != 2 {
		t.Errorf("by target: %s", r.raw)
	}
	page := e.do("GET", "/v1/tenants/acme/audit-log?limit=5", adminKey, nil).want(t, 200)
	var seen int
	for page != nil {
		seen += len(page.body["data"].([]any))
		next, _ := page.body["nextCursor"].(string)
		page = nil
		if next != "" {
			page = e.do("GET", "/v1/tenants/acme/audit-log?limit=5&cursor="+next, adminKey, nil).want(t, 200)
		}
	}
	if seen != len(want) {
		t.Errorf("paging saw %d entries, want %d", seen, len(want))
	}
	e.do("GET", "/v1/tenants/acme/audit-log?since=yesterday", adminKey, nil).want(t, 400)
	e.do("GET", "/v1/tenants/acme/audit-log?since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z", adminKey, nil).want(t, 400)
	e.do("GET", "/v1/tenants/acme/audit-log?cursor=nope", adminKey, nil).want(t, 400)

	// The delete's changes are what the webhook had: no field that was
	// null to begin with.
	if del := data[0].(map[string]any)["changes"].(map[string]any); del["channels"] != nil || del["filter"] != nil || del["name"] == nil {
		t.Errorf("the delete's changes: %v", del)
	}
	// A change that disables is logged as a disable, whatever else it
	// changes.
	other2 := e.webhook("acme", map[string]any{})
	e.do("PATCH", "/v1/tenants/acme/webhooks/"+other2, adminKey, map[string]any{"name": "renamed", "enabled": false}).want(t, 200)
	if r := e.do("GET", "/v1/tenants/acme/audit-log?action=webhook.disabled&targetId="+other2, adminKey, nil).want(t, 200); len(r.body["data"].([]any)) != 1 ||
		r.body["data"].([]any)[0].(map[string]any)["changes"].(map[string]any)["name"] == nil {
		t.Errorf("a rename that disables: %s", r.raw)
	}

	// A tenant key reads only its own tenant's log.
	e.do("GET", "/v1/tenants/globex/audit-log", key, nil).want(t, 404)
	if r := e.do("GET", "/v1/tenants/globex/audit-log", adminKey, nil).want(t, 200); len(r.body["data"].([]any)) != 0 {
		t.Errorf("globex's log: %s", r.raw)
	}
}

// A bulk action's audit entry says what it was given: retry-all-failed
// its window, a replay its window, whether only missing events, and its
// task.
func TestBulkActionsAudited(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	wh := e.webhook("acme", map[string]any{})
	path := "/v1/tenants/acme/webhooks/" + wh
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 202)
	e.do("PATCH", path, adminKey, map[string]any{"enabled": false}).want(t, 200) // ends the delivery FAILED
	e.do("PATCH", path, adminKey, map[string]any{"enabled": true}).want(t, 200)
	if r := e.do("POST", path+"/deliveries/retry-all-failed", adminKey, map[string]any{"since": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}).want(t, 202); r.body["retried"] != 1.0 {
		t.Fatalf("retried %v", r.body["retried"])
	}
	task := e.do("POST", path+"/replay", adminKey, map[string]any{"since": "2026-01-01T00:00:00Z", "onlyMissing": true}).want(t, 202).body["id"]
	log := e.do("GET", "/v1/tenants/acme/audit-log", adminKey, nil).want(t, 200).body["data"].([]any)
	changes := func(i int) string {
		b, _ := json.Marshal(log[i].(map[string]any)["changes"])
		return string(b)
	}
	for i, want := range []string{
		`{"onlyMissing":{"from":null,"to":true},"since":{"from":null,"to":"2026-01-01T00:00:00Z"},"task":{"from":null,"to":"` + task.(string) + `"}}`,
		`{"since":{"from":null,"to":"2020-01-01T00:00:00Z"},"until":{"from":null,"to":"2100-01-01T00:00:00Z"}}`,
	} {
		if got := changes(i); got != want {
			t.Errorf("entry %d (%v): changes %s, want %s", i, log[i].(map[string]any)["action"], got, want)
		}
	}
}
