package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/postgres"
)

type client struct {
	t    *testing.T
	base string
	key  string
}

func (c *client) call(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: %s", method, path, raw)
		}
	}
	return res.StatusCode, out
}

func (c *client) must(status int, method, path string, body any) map[string]any {
	c.t.Helper()
	got, out := c.call(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s = %d, want %d: %v", method, path, got, status, out)
	}
	return out
}

// eventually polls fn until it is true or 15 s pass.
func eventually(t *testing.T, what string, fn func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if fn() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// dbs returns the --db values the process tests run against: SQLite
// always, and PostgreSQL (in a schema of its own) when HOOKD_TEST_POSTGRES
// is set.
func dbs(t *testing.T) map[string]string {
	out := map[string]string{"sqlite": filepath.Join(t.TempDir(), "hookd.db")}
	url := os.Getenv("HOOKD_TEST_POSTGRES")
	if url == "" {
		return out
	}
	schema := fmt.Sprintf("hookd_e2e_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	ctx := context.Background()
	if err := postgres.CreateSchema(ctx, url, schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postgres.DropSchema(context.Background(), url, schema) })
	out["postgres"] = withSearchPath(url, schema)
	return out
}

// TestEndToEnd drives a whole hookd process through its API, on each
// engine: publish, delivery to a real receiver, failure, retry, stats,
// test send, rotation.
func TestEndToEnd(t *testing.T) {
	for name, db := range dbs(t) {
		t.Run(name, func(t *testing.T) { endToEnd(t, db) })
	}
}

// recorder keeps every request a test receiver gets, with its body.
type recorder struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
}

func (rec *recorder) record(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs, rec.bodies = append(rec.reqs, r), append(rec.bodies, b)
	rec.mu.Unlock()
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// at is the i-th request and its body (negative i counts from the end).
func (rec *recorder) at(i int) (*http.Request, []byte) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if i < 0 {
		i += len(rec.reqs)
	}
	return rec.reqs[i], rec.bodies[i]
}

func endToEnd(t *testing.T, db string) {
	var failing atomic.Bool
	rec := &recorder{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		if failing.Load() {
			w.WriteHeader(500)
			io.WriteString(w, "down for maintenance")
		}
	}))
	defer rcv.Close()
	count := rec.count

	url, _, stop := start(t, "--db", db, "--admin-key", "adm",
		"--allow-networks", "127.0.0.0/8", "--retry-schedule", "100ms")
	defer stop()
	c := &client{t: t, base: url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "invocation.completed", "description": "done"})
	wh := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "r", "url": rcv.URL, "events": []string{"invocation.*"}})
	id, secret := wh["id"].(string), wh["secret"].(string)
	if wh["maxAttempts"] != 2.0 {
		t.Fatalf("maxAttempts = %v, want the schedule's length + 1", wh["maxAttempts"])
	}

	// Publish → delivered, signed, logged.
	ev := c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "invocation.completed", "data": map[string]any{"n": 1}})
	eventually(t, "the first delivery", func() bool { return count() == 1 })
	lib, _ := standardwebhooks.NewWebhook(secret)
	if first, body := rec.at(0); lib.Verify(body, first.Header) != nil {
		t.Fatalf("receiver cannot verify: %v", lib.Verify(body, first.Header))
	}
	var dlvID string
	eventually(t, "SUCCESS", func() bool {
		out := c.must(200, "GET", "/v1/tenants/acme/webhooks/"+id+"/deliveries?status=SUCCESS", nil)
		if data := out["data"].([]any); len(data) == 1 {
			dlvID = data[0].(map[string]any)["id"].(string)
			return true
		}
		return false
	})
	d := c.must(200, "GET", "/v1/tenants/acme/deliveries/"+dlvID, nil)
	if d["eventId"] != ev["id"] || d["status"] != "SUCCESS" || d["payload"].(map[string]any)["id"] != ev["id"] {
		t.Fatalf("delivery = %v", d)
	}
	log := d["attemptLog"].([]any)
	if len(log) != 1 || log[0].(map[string]any)["statusCode"] != 200.0 || log[0].(map[string]any)["trigger"] != "schedule" {
		t.Fatalf("attempt log = %v", log)
	}
	if hdrs := log[0].(map[string]any)["requestHeaders"].(map[string]any); hdrs["Webhook-Signature"] != nil || hdrs["Webhook-Id"] != ev["id"] {
		t.Fatalf("logged request headers = %v", hdrs)
	}

	// The receiver fails: two attempts (maxAttempts 2), then FAILED.
	failing.Store(true)
	ev2 := c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "invocation.completed", "data": map[string]any{"n": 2}})
	eventually(t, "FAILED", func() bool {
		out := c.must(200, "GET", "/v1/tenants/acme/deliveries/failed", nil)
		return out["total"] == 1.0
	})
	failed := c.must(200, "GET", "/v1/tenants/acme/deliveries/failed", nil)["data"].([]any)[0].(map[string]any)
	if failed["eventId"] != ev2["id"] || failed["attempts"] != 2.0 || failed["lastStatusCode"] != 500.0 || failed["lastError"] != "HTTP 500" {
		t.Fatalf("failed delivery = %v", failed)
	}
	st := c.must(200, "GET", "/v1/tenants/acme/webhooks/"+id+"/stats", nil)
	if st["totalDeliveries"] != 3.0 || st["successfulDeliveries"] != 1.0 || st["failedDeliveries"] != 2.0 {
		t.Fatalf("stats = %v", st)
	}
	if by := st["byStatus"].(map[string]any); by["SUCCESS"] != 1.0 || by["FAILED"] != 1.0 || by["PENDING"] != 0.0 {
		t.Fatalf("byStatus = %v", by)
	}

	// Fixed: retry all failed → one manual attempt → SUCCESS.
	failing.Store(false)
	out := c.must(202, "POST", "/v1/tenants/acme/webhooks/"+id+"/deliveries/retry-all-failed", nil)
	if out["retried"] != 1.0 {
		t.Fatalf("retried = %v", out)
	}
	eventually(t, "no FAILED left", func() bool {
		return c.must(200, "GET", "/v1/tenants/acme/deliveries/failed", nil)["total"] == 0.0
	})
	// A single retry of a SUCCESS delivery makes one more attempt.
	c.must(202, "POST", "/v1/tenants/acme/deliveries/"+dlvID+"/retry", nil)
	eventually(t, "the manual retry", func() bool {
		return c.must(200, "GET", "/v1/tenants/acme/deliveries/"+dlvID, nil)["attempts"] == 2.0
	})
	if log := c.must(200, "GET", "/v1/tenants/acme/deliveries/"+dlvID, nil)["attemptLog"].([]any); log[1].(map[string]any)["trigger"] != "manual" {
		t.Fatalf("a retry's attempt = %v", log[1])
	}
	c.must(404, "POST", "/v1/tenants/acme/deliveries/dlv_nope/retry", nil)

	// Test send: synchronous, kept as a delivery.
	res := c.must(200, "POST", "/v1/tenants/acme/webhooks/"+id+"/test", nil)
	if res["success"] != true || res["statusCode"] != 200.0 || res["error"] != nil {
		t.Fatalf("test = %v", res)
	}
	c.must(200, "GET", "/v1/tenants/acme/deliveries/"+res["deliveryId"].(string), nil)

	// Rotation: both secrets sign during the grace.
	rot := c.must(200, "POST", "/v1/tenants/acme/webhooks/"+id+"/secret/rotate", map[string]any{"graceSeconds": 3600})
	newSecret := rot["secret"].(string)
	if newSecret == secret || !strings.HasPrefix(newSecret, "whsec_") {
		t.Fatalf("rotated secret = %q", newSecret)
	}
	if c.must(200, "GET", "/v1/tenants/acme/webhooks/"+id+"/secret", nil)["secret"] != newSecret {
		t.Fatal("GET …/secret does not show the new secret")
	}
	before := count()
	c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "invocation.completed", "data": map[string]any{"n": 3}})
	eventually(t, "delivery after rotation", func() bool { return count() > before })
	last, lastBody := rec.at(-1)
	for _, s := range []string{secret, newSecret} {
		lib, _ := standardwebhooks.NewWebhook(s)
		if err := lib.Verify(lastBody, last.Header); err != nil {
			t.Fatalf("during the grace, %s… does not verify: %v", s[:12], err)
		}
	}
	c.must(422, "POST", "/v1/tenants/acme/webhooks/"+id+"/secret/rotate", map[string]any{"secret": "nope"})

	// Disabled: retries are refused until it is enabled again.
	c.must(200, "PATCH", "/v1/tenants/acme/webhooks/"+id, map[string]any{"enabled": false})
	c.must(409, "POST", "/v1/tenants/acme/webhooks/"+id+"/deliveries/retry-all-failed", nil)
	c.must(400, "GET", "/v1/tenants/acme/webhooks/"+id+"/deliveries?status=DONE", nil)
	c.must(400, "GET", "/v1/tenants/acme/webhooks/stats?since=yesterday", nil)
	c.must(200, "GET", "/v1/tenants/acme/webhooks/stats?since=2020-01-01T00:00:00Z", nil)
}

// TestRoles checks the split: an api process stores and answers (and makes
// test sends, which answer with the receiver's answer), a worker process
// delivers and serves only health checks.
func TestRoles(t *testing.T) {
	for name, db := range dbs(t) {
		t.Run(name, func(t *testing.T) { roles(t, db) })
	}
}

func roles(t *testing.T, db string) {
	var hits atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer rcv.Close()
	api, _, stopAPI := start(t, "--db", db, "--admin-key", "adm", "--allow-networks", "127.0.0.0/8", "--role", "api")
	defer stopAPI()
	c := &client{t: t, base: api, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	wh := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "r", "url": rcv.URL, "events": []string{"*"}})
	var events []string
	for range 2 {
		events = append(events, c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{}})["id"].(string))
	}
	if got := c.must(200, "POST", "/v1/tenants/acme/webhooks/"+wh["id"].(string)+"/test", nil); got["success"] != true || hits.Load() != 1 {
		t.Fatalf("a test send from the api process: %v, %d requests", got, hits.Load())
	}
	worker, _, stopWorker := start(t, "--db", db, "--admin-key", "adm", "--allow-networks", "127.0.0.0/8", "--role", "worker")
	defer stopWorker()
	// Both events are sent once, by the worker: had the api process sent
	// one too, it would have recorded an attempt of its own.
	for _, id := range events {
		eventually(t, "the worker's delivery of "+id, func() bool {
			_, got := c.call("GET", "/v1/tenants/acme/events/"+id, nil)
			ds, _ := got["deliveries"].([]any)
			return len(ds) == 1 && ds[0].(map[string]any)["status"] == "SUCCESS"
		})
	}
	st := c.must(200, "GET", "/v1/tenants/acme/webhooks/"+wh["id"].(string)+"/stats", nil)
	if hits.Load() != 3 || st["totalDeliveries"] != 3.0 {
		t.Fatalf("%d requests and %v attempts for two events and a test send, want 3: an api-role process delivered", hits.Load(), st["totalDeliveries"])
	}
	if code := get(t, worker+"/healthz", ""); code != 200 {
		t.Fatalf("worker healthz = %d", code)
	}
	if code := get(t, worker+"/v1/tenants", "adm"); code != 404 {
		t.Fatalf("worker serves the API: %d", code)
	}
}

// A cancel while an attempt is being sent lets it finish (the contract);
// when it fails, the delivery ends CANCELED, with that attempt logged,
// instead of being retried.
func TestCancelWhileSending(t *testing.T) {
	for name, db := range dbs(t) {
		t.Run(name, func(t *testing.T) {
			arrived, release := make(chan struct{}, 1), make(chan struct{})
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				<-release
				w.WriteHeader(500)
			}))
			defer rcv.Close()
			defer close(release)
			url, _, stop := start(t, "--db", db, "--admin-key", "adm", "--allow-networks", "127.0.0.0/8")
			defer stop()
			c := &client{t: t, base: url, key: "adm"}
			c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
			c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
			wh := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "r", "url": rcv.URL, "events": []string{"*"}})
			ev := c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{}})
			<-arrived
			if got := c.must(200, "POST", "/v1/tenants/acme/webhooks/"+wh["id"].(string)+"/deliveries/cancel", map[string]any{}); got["canceled"] != 1.0 {
				t.Fatalf("canceled %v, want the one being sent", got)
			}
			list := c.must(200, "GET", "/v1/tenants/acme/deliveries?eventId="+ev["id"].(string), nil)["data"].([]any)
			id := list[0].(map[string]any)["id"].(string)
			// Still being sent: a retry by hand waits for its attempt.
			c.must(409, "POST", "/v1/tenants/acme/deliveries/"+id+"/retry", nil)
			release <- struct{}{}
			var d map[string]any
			eventually(t, "its attempt recorded", func() bool {
				d = c.must(200, "GET", "/v1/tenants/acme/deliveries/"+id, nil)
				return len(d["attemptLog"].([]any)) == 1
			})
			if d["status"] != "CANCELED" || d["nextAttemptAt"] != nil {
				t.Fatalf("after its failed attempt: %v, next %v", d["status"], d["nextAttemptAt"])
			}
		})
	}
}
