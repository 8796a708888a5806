package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/httpapi"
)

func TestPortalSessions(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.tenant("globex")
	acme := e.tenantKey("acme")

	before := time.Now().Add(-time.Second)
	r := e.do("POST", "/v1/tenants/acme/portal-sessions", adminKey, nil).want(t, 201)
	url, _ := r.body["url"].(string)
	if !strings.HasPrefix(url, e.srv.URL+httpapi.PortalPath) || len(url) < len(e.srv.URL+httpapi.PortalPath)+40 {
		t.Fatalf("url = %q", url)
	}
	exp, err := time.Parse(time.RFC3339, r.body["expiresAt"].(string))
	if err != nil || exp.Before(before.Add(time.Hour)) || exp.After(time.Now().Add(time.Hour+time.Second)) {
		t.Fatalf("expiresAt = %v (%v), want an hour from now", r.body["expiresAt"], err)
	}
	// The link's token is stored only as a hash, and redeems once.
	token := strings.TrimPrefix(url, e.srv.URL+httpapi.PortalPath)
	cs, err := e.store.RedeemPortalLink(t.Context(), hookd.HashKey(token), hookd.HashKey("cookie"), time.Now())
	if err != nil || cs.TenantID != "acme" || cs.ReadOnly {
		t.Fatalf("redeem = %+v, %v", cs, err)
	}

	r = e.do("POST", "/v1/tenants/acme/portal-sessions", adminKey, map[string]any{"expiresInSeconds": 120, "readOnly": true}).want(t, 201)
	token = strings.TrimPrefix(r.body["url"].(string), e.srv.URL+httpapi.PortalPath)
	cs, err = e.store.RedeemPortalLink(t.Context(), hookd.HashKey(token), hookd.HashKey("cookie2"), time.Now())
	if err != nil || !cs.ReadOnly || cs.ExpiresAt.Sub(time.Now()) > 2*time.Minute {
		t.Fatalf("read-only redeem = %+v, %v", cs, err)
	}

	e.do("POST", "/v1/tenants/acme/portal-sessions", acme, nil).want(t, 403)
	e.do("POST", "/v1/tenants/globex/portal-sessions", acme, nil).want(t, 404)
	e.do("POST", "/v1/tenants/missing/portal-sessions", adminKey, nil).want(t, 404)
	e.do("POST", "/v1/tenants/acme/portal-sessions", "", nil).want(t, 401)
	e.do("POST", "/v1/tenants/acme/portal-sessions", adminKey, map[string]any{"expiresInSeconds": 0}).want(t, 422).hasField(t, "expiresInSeconds")
	e.do("POST", "/v1/tenants/acme/portal-sessions", adminKey, map[string]any{"readOnly": "yes"}).want(t, 422).hasField(t, "readOnly")
	e.do("POST", "/v1/tenants/acme/portal-sessions", adminKey, map[string]any{"tenant": "x"}).want(t, 400)

	// Behind a proxy the link carries the configured public URL.
	e2 := newEnv(t, func(c *config) { c.PublicURL = "https://hooks.example.com/" })
	e2.tenant("acme")
	r = e2.do("POST", "/v1/tenants/acme/portal-sessions", adminKey, nil).want(t, 201)
	if u := r.body["url"].(string); !strings.HasPrefix(u, "https://hooks.example.com"+httpapi.PortalPath) {
		t.Fatalf("url = %q", u)
	}
}
