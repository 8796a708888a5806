package httpapi_test

import (
	"context"
	"testing"

	"github.com/hookd/hookd/tasks"
)

// POST …/replay answers 202 with a task, which a runner carries out and
// GET …/tasks/{id} reports; onlyMissing backfills a webhook made after
// the events.
func TestReplay(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.tenant("other")
	e.eventType("a.b", nil)
	e.webhook("acme", map[string]any{})
	for range 3 {
		e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 202)
	}
	late := e.webhook("acme", map[string]any{})
	path := "/v1/tenants/acme/webhooks/" + late + "/replay"
	e.do("POST", path, adminKey, map[string]any{}).want(t, 422).hasField(t, "since")
	e.do("POST", path, adminKey, map[string]any{"since": "2001-01-01T00:00:00Z", "until": "2000-01-01T00:00:00Z"}).want(t, 422).hasField(t, "until")
	e.do("POST", path, adminKey, map[string]any{"since": "2000-01-01T00:00:00Z", "onlyMissing": "yes"}).want(t, 422).hasField(t, "onlyMissing")
	e.do("POST", path, adminKey, map[string]any{"since": "2000-01-01T00:00:00Z", "before": "x"}).want(t, 400)
	e.do("POST", "/v1/tenants/acme/webhooks/wh_missing/replay", adminKey, map[string]any{"since": "2000-01-01T00:00:00Z"}).want(t, 404)

	r := e.do("POST", path, adminKey, map[string]any{"since": "2000-01-01T00:00:00Z", "onlyMissing": true}).want(t, 202)
	id, _ := r.body["id"].(string)
	if r.body["kind"] != "replay" || r.body["status"] != "running" || r.body["finishedAt"] != nil || r.body["createdAt"] == nil || len(id) < 6 {
		t.Fatalf("replay answered %s", r.raw)
	}
	run, err := tasks.New(e.store, tasks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if ran, err := run.RunOne(context.Background()); !ran || err != nil {
		t.Fatalf("the runner: ran %v, %v", ran, err)
	}
	task := e.do("GET", "/v1/tenants/acme/tasks/"+id, adminKey, nil).want(t, 200)
	if task.body["status"] != "finished" || task.body["total"] != 3.0 || task.body["done"] != 3.0 || task.body["finishedAt"] == nil {
		t.Fatalf("the finished task: %s", task.raw)
	}
	if d := e.do("GET", "/v1/tenants/acme/deliveries?webhookId="+late, adminKey, nil).want(t, 200); len(d.body["data"].([]any)) != 3 {
		t.Fatalf("the late webhook's deliveries after the backfill: %s", d.raw)
	}
	// Backfilling again finds nothing missing.
	again := e.do("POST", path, adminKey, map[string]any{"since": "2000-01-01T00:00:00Z", "onlyMissing": true}).want(t, 202)
	if ran, err := run.RunOne(context.Background()); !ran || err != nil {
		t.Fatalf("the runner: ran %v, %v", ran, err)
	}
	if d := e.do("GET", "/v1/tenants/acme/deliveries?webhookId="+late, adminKey, nil).want(t, 200); len(d.body["data"].([]any)) != 3 {
		t.Fatalf("a second backfill added deliveries: %s", d.raw)
	}
	e.do("GET", "/v1/tenants/acme/tasks/"+again.body["id"].(string), e.tenantKey("acme"), nil).want(t, 200)
	e.do("GET", "/v1/tenants/other/tasks/"+id, adminKey, nil).want(t, 404)
	e.do("GET", "/v1/tenants/other/tasks/"+id, e.tenantKey("other"), nil).want(t, 404)
	e.do("GET", "/v1/tenants/acme/tasks/task_missing", adminKey, nil).want(t, 404)
	if a := e.do("GET", "/v1/tenants/acme/audit-log?action=deliveries.replayed", adminKey, nil).want(t, 200); len(a.body["data"].([]any)) != 2 {
		t.Fatalf("audit entries of the replays: %s", a.raw)
	}
	e.do("PATCH", "/v1/tenants/acme/webhooks/"+late, adminKey, map[string]any{"enabled": false}).want(t, 200)
	e.do("POST", path, adminKey, map[string]any{"since": "2000-01-01T00:00:00Z"}).want(t, 409)
}
