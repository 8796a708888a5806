package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A whole hookd on each engine: a receiver answering 410 disables its
// webhook at once; one failing past --disable-after, with a delivery out
// of attempts, is disabled as failing, though nothing more is sent to it;
// re-enabled, it starts healthy.
func TestAutoDisable(t *testing.T) {
	for name, db := range dbs(t) {
		t.Run(name, func(t *testing.T) { autoDisable(t, db) })
	}
}

func autoDisable(t *testing.T, db string) {
	var status atomic.Int32
	status.Store(410)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(int(status.Load())) }))
	defer rcv.Close()
	url, stderr, stop := start(t, "--db", db, "--admin-key", "adm", "--allow-networks", "127.0.0.0/8",
		"--retry-schedule", "50ms", "--disable-after", "3s", "--log-format", "json")
	defer stop()
	c := &client{t: t, base: url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	gone := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "gone", "url": rcv.URL, "events": []string{"*"}})["id"].(string)
	if h := c.must(200, "GET", "/v1/tenants/acme/webhooks/"+gone, nil)["health"].(map[string]any); h["status"] != "unknown" {
		t.Fatalf("a new webhook's health %v", h)
	}
	publish := func() {
		c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{}})
	}
	webhook := func(id string) map[string]any { return c.must(200, "GET", "/v1/tenants/acme/webhooks/"+id, nil) }

	publish()
	eventually(t, "the 410 to disable the webhook", func() bool { return webhook(gone)["enabled"] == false })
	w := webhook(gone)
	if w["disabledReason"] != "gone" || w["disabledAt"] == nil || w["health"].(map[string]any)["status"] != "failing" {
		t.Fatalf("after 410: %v", w)
	}
	log := c.must(200, "GET", "/v1/tenants/acme/audit-log?action=webhook.disabled", nil)["data"].([]any)
	if len(log) != 1 || log[0].(map[string]any)["actor"].(map[string]any)["type"] != "hookd" {
		t.Fatalf("audit %v", log)
	}
	// Its line names the delivery whose attempt got the 410 (the contract:
	// tenant, webhook, delivery and the reason).
	logged := false
	for _, line := range strings.Split(stderr.String(), "\n") {
		logged = logged || strings.Contains(line, `"msg":"webhook disabled"`) && strings.Contains(line, `"reason":"gone"`) &&
			strings.Contains(line, `"tenant":"acme"`) && strings.Contains(line, `"webhook":"`+gone+`"`) && strings.Contains(line, `"delivery":"dlv_`)
	}
	if !logged {
		t.Fatalf("no log line for the disable:\n%s", stderr)
	}

	// Failing: 500s, 2 attempts each, for longer than --disable-after.
	status.Store(500)
	c.must(200, "PATCH", "/v1/tenants/acme/webhooks/"+gone, map[string]any{"enabled": false}) // out of the way
	failing := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "failing", "url": rcv.URL, "events": []string{"*"}})["id"].(string)
	publish()
	eventually(t, "a delivery out of attempts", func() bool {
		h := webhook(failing)["health"].(map[string]any)
		return h["consecutiveFailures"] == 2.0
	})
	if webhook(failing)["enabled"] != true {
		t.Fatalf("disabled before --disable-after: %v", webhook(failing))
	}
	since, _ := time.Parse(time.RFC3339Nano, webhook(failing)["health"].(map[string]any)["failingSince"].(string))
	for time.Since(since) < 3100*time.Millisecond {
		time.Sleep(50 * time.Millisecond) // --disable-after must pass: this waits for time itself, proving nothing absent
	}
	// Nothing more is published: with nothing left to send, the webhook
	// is disabled when its time is up, not at its next event.
	eventually(t, "the failing webhook to be disabled", func() bool { return webhook(failing)["enabled"] == false })
	if r := webhook(failing)["disabledReason"]; r != "failing" {
		t.Fatalf("reason %v", r)
	}

	// Re-enabled by a user, it starts healthy: its record is wiped.
	status.Store(200)
	w = c.must(200, "PATCH", "/v1/tenants/acme/webhooks/"+failing, map[string]any{"enabled": true})
	if w["disabledReason"] != nil || w["disabledAt"] != nil || w["health"].(map[string]any)["consecutiveFailures"] != 0.0 {
		t.Fatalf("re-enabled: %v", w)
	}
	publish()
	eventually(t, "a success", func() bool { return webhook(failing)["health"].(map[string]any)["status"] == "healthy" })
}
