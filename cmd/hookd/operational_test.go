package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// receiver collects requests.
type collector struct {
	mu   sync.Mutex
	reqs []*http.Request
	bods [][]byte
}

func (c *collector) handler(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs, c.bods = append(c.reqs, r), append(c.bods, b)
		c.mu.Unlock()
		w.WriteHeader(status)
	}
}

func (c *collector) got() ([]*http.Request, [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*http.Request(nil), c.reqs...), append([][]byte(nil), c.bods...)
}

// A webhook hookd disables is announced, signed, to the tenant's webhook
// that subscribes to hookd.* (not to its "*" one) and to the operator's
// webhook, with the tenant in the metadata.
func TestOperationalEvents(t *testing.T) {
	for name, db := range dbs(t) {
		t.Run(name, func(t *testing.T) {
			var gone, tenantOps, all, operator collector
			srv := map[string]*httptest.Server{}
			for name, h := range map[string]http.HandlerFunc{"gone": gone.handler(410), "ops": tenantOps.handler(200), "all": all.handler(200), "operator": operator.handler(200)} {
				srv[name] = httptest.NewServer(h)
				defer srv[name].Close()
			}
			const opSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
			url, _, stop := start(t, "--db", db, "--admin-key", "adm", "--allow-networks", "127.0.0.0/8",
				"--operator-webhook", srv["operator"].URL+"/alerts", "--operator-webhook-secret", opSecret)
			defer stop()
			c := &client{t: t, base: url, key: "adm"}
			c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
			c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
			goneID := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "gone", "url": srv["gone"].URL, "events": []string{"a.b"}})["id"]
			opsHook := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "ops", "url": srv["ops"].URL, "events": []string{"hookd.*"}})
			c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "all", "url": srv["all"].URL, "events": []string{"*"}})
			c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{}})

			eventually(t, "the tenant's and the operator's alerts", func() bool {
				a, _ := tenantOps.got()
				b, _ := operator.got()
				return len(a) == 1 && len(b) == 1
			})
			reqs, bodies := tenantOps.got()
			var ev struct {
				Type     string            `json:"type"`
				Data     map[string]any    `json:"data"`
				Metadata map[string]string `json:"metadata"`
			}
			if err := json.Unmarshal(bodies[0], &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type != "hookd.webhook.disabled" || ev.Data["webhookId"] != goneID || ev.Data["reason"] != "gone" || reqs[0].Header.Get("hookd-event-type") != ev.Type {
				t.Fatalf("tenant alert %s", bodies[0])
			}
			wh, err := standardwebhooks.NewWebhook(opsHook["secret"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(bodies[0], reqs[0].Header); err != nil {
				t.Fatalf("the tenant's alert does not verify: %v", err)
			}
			reqs, bodies = operator.got()
			ev.Metadata = nil
			if err := json.Unmarshal(bodies[0], &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type != "hookd.webhook.disabled" || ev.Metadata["tenantId"] != "acme" || reqs[0].URL.Path != "/alerts" {
				t.Fatalf("operator alert %s", bodies[0])
			}
			ow, _ := standardwebhooks.NewWebhook(opSecret)
			if err := ow.Verify(bodies[0], reqs[0].Header); err != nil {
				t.Fatalf("the operator's alert does not verify: %v", err)
			}
			// "*" received the tenant's event, and no alert.
			eventually(t, "the ordinary delivery", func() bool { r, _ := all.got(); return len(r) == 1 })
			if r, b := all.got(); len(r) != 1 || r[0].Header.Get("hookd-event-type") != "a.b" {
				t.Fatalf("* got %d: %s", len(r), b)
			}
		})
	}
}
