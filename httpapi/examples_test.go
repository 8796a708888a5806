package httpapi_test

import (
	"strings"
	"testing"
)

// An event type keeps examples of its data, each checked against its
// schema, on create and PATCH; GET and the list show them ([] when none).
func TestEventTypeExamples(t *testing.T) {
	e := newEnv(t)
	schema := map[string]any{"type": "object", "required": []string{"id"}, "properties": map[string]any{"id": map[string]any{"type": "string"}}}
	e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "a.b", "description": "", "schema": schema,
		"examples": []any{map[string]any{"id": 7}}}).want(t, 422).hasField(t, "examples[0].id")
	e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "a.b", "description": "", "examples": []any{"text"}}).want(t, 422).hasField(t, "examples[0]")
	e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "a.b", "description": "", "examples": map[string]any{}}).want(t, 422).hasField(t, "examples")
	r := e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "a.b", "description": "", "schema": schema,
		"examples": []any{map[string]any{"id": "inv_1"}, map[string]any{"id": "inv_2", "extra": true}}}).want(t, 201)
	if ex, _ := r.body["examples"].([]any); len(ex) != 2 || ex[0].(map[string]any)["id"] != "inv_1" {
		t.Fatalf("created: %s", r.raw)
	}
	e.do("POST", "/v1/event-types", adminKey, map[string]any{"name": "c.d", "description": ""}).want(t, 201)
	if g := e.do("GET", "/v1/event-types/c.d", adminKey, nil).want(t, 200); g.body["examples"] == nil || len(g.body["examples"].([]any)) != 0 {
		t.Fatalf("a type without examples: %s", g.raw)
	}
	e.do("PATCH", "/v1/event-types/a.b", adminKey, map[string]any{"examples": []any{map[string]any{}}}).want(t, 422).hasField(t, "examples[0]")
	if p := e.do("PATCH", "/v1/event-types/a.b", adminKey, map[string]any{"examples": []any{map[string]any{"id": "inv_3"}}}).want(t, 200); len(p.body["examples"].([]any)) != 1 {
		t.Fatalf("patched: %s", p.raw)
	}
	list := e.do("GET", "/v1/event-types", adminKey, nil).want(t, 200)
	for _, et := range list.body["data"].([]any) {
		m := et.(map[string]any)
		if _, ok := m["examples"].([]any); !ok {
			t.Fatalf("%s in the list has no examples list: %v", m["name"], m)
		}
	}
	if p := e.do("PATCH", "/v1/event-types/a.b", adminKey, map[string]any{"examples": nil}).want(t, 200); len(p.body["examples"].([]any)) != 0 {
		t.Fatalf("examples null: %s", p.raw)
	}
}

// The native API selects the svix signature scheme: a whsec_ secret, as
// Svix's libraries expect.
func TestSvixScheme(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	id := e.webhook("acme", map[string]any{"signature": map[string]any{"scheme": "svix"}})
	r := e.do("GET", "/v1/tenants/acme/webhooks/"+id, adminKey, nil).want(t, 200)
	if sig, _ := r.body["signature"].(map[string]any); sig["scheme"] != "svix" {
		t.Fatalf("webhook: %s", r.raw)
	}
	if s := e.do("GET", "/v1/tenants/acme/webhooks/"+id+"/secret", adminKey, nil).want(t, 200); !strings.HasPrefix(s.body["secret"].(string), "whsec_") {
		t.Fatalf("secret: %s", s.raw)
	}
	e.do("POST", "/v1/tenants/acme/webhooks", adminKey, map[string]any{"name": "n", "url": "https://example.com/h", "events": []string{"*"},
		"signature": map[string]any{"scheme": "svix"}, "secret": nil}).want(t, 422).hasField(t, "secret")
}

// bodyMode raw is kept and shown; anything but envelope or raw is 422.
func TestBodyMode(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	id := e.webhook("acme", map[string]any{})
	if r := e.do("GET", "/v1/tenants/acme/webhooks/"+id, adminKey, nil).want(t, 200); r.body["bodyMode"] != "envelope" {
		t.Fatalf("default: %s", r.raw)
	}
	if r := e.do("PATCH", "/v1/tenants/acme/webhooks/"+id, adminKey, map[string]any{"bodyMode": "raw"}).want(t, 200); r.body["bodyMode"] != "raw" {
		t.Fatalf("raw: %s", r.raw)
	}
	if r := e.do("GET", "/v1/tenants/acme/webhooks/"+id, adminKey, nil).want(t, 200); r.body["bodyMode"] != "raw" {
		t.Fatalf("stored: %s", r.raw)
	}
	// A delivery's payload is the body its requests carry: the data alone.
	e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{"n": 1}}).want(t, 202)
	dl := e.do("GET", "/v1/tenants/acme/webhooks/"+id+"/deliveries", adminKey, nil).want(t, 200).body["data"].([]any)
	dlv := dl[0].(map[string]any)["id"].(string)
	if p := e.do("GET", "/v1/tenants/acme/deliveries/"+dlv, adminKey, nil).want(t, 200).body["payload"].(map[string]any); len(p) != 1 || p["n"] != 1.0 {
		t.Fatalf("a raw-mode delivery's payload: %v", p)
	}
	e.do("PATCH", "/v1/tenants/acme/webhooks/"+id, adminKey, map[string]any{"bodyMode": "xml"}).want(t, 422).hasField(t, "bodyMode")
	if r := e.do("PATCH", "/v1/tenants/acme/webhooks/"+id, adminKey, map[string]any{"bodyMode": nil}).want(t, 200); r.body["bodyMode"] != "envelope" {
		t.Fatalf("null: %s", r.raw)
	}
	if p := e.do("GET", "/v1/tenants/acme/deliveries/"+dlv, adminKey, nil).want(t, 200).body["payload"].(map[string]any); p["type"] != "a.b" || p["data"] == nil {
		t.Fatalf("an envelope-mode delivery's payload: %v", p)
	}
}
