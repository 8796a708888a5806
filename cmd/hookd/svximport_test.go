package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// twoHookds starts a source and a destination hookd until the test ends.
func twoHookds(t *testing.T) (srcBase, dstBase string) {
	t.Helper()
	args := []string{"--admin-key", "adm", "--allow-networks", "127.0.0.0/8"}
	srcBase, _, stopSrc := start(t, append(args, "--db", filepath.Join(t.TempDir(), "src.db"))...)
	t.Cleanup(stopSrc)
	dstBase, _, stopDst := start(t, append(args, "--db", filepath.Join(t.TempDir(), "dst.db"))...)
	t.Cleanup(stopDst)
	return srcBase, dstBase
}

// svix-import copies a Svix server's event types, applications and
// endpoints (secrets and headers too) into hookd, and copies them again
// without making anything twice. The source is another hookd: it speaks the
// same API, which is what svix-import reads.
func TestSvixImport(t *testing.T) {
	rec := &recorder{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rec.record(r) }))
	defer rcv.Close()
	srcBase, dstBase := twoHookds(t)
	src, dst := admin(t, srcBase), admin(t, dstBase)

	src.must(201, "POST", "/api/v1/event-type", map[string]any{"name": "invoice.paid", "description": "Paid", "schemas": map[string]any{"1": map[string]any{"type": "object", "required": []any{"invoiceId"}}},
		"deprecated": true, "featureFlag": "beta", "groupName": "billing"})
	src.must(201, "POST", "/api/v1/event-type", map[string]any{"name": "Old-Type", "description": "Gone"})
	src.must(204, "DELETE", "/api/v1/event-type/Old-Type", nil)
	src.must(201, "POST", "/api/v1/app", map[string]any{"name": "Acme", "uid": "acme"})
	beta := src.must(201, "POST", "/api/v1/app", map[string]any{"name": "Beta"})["id"].(string)
	key := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	src.must(201, "POST", "/api/v1/app/acme/endpoint", map[string]any{"url": rcv.URL + "/billing", "uid": "billing", "secret": key,
		"filterTypes": []any{"invoice.paid"}, "channels": []any{"eu"}, "rateLimit": 10, "metadata": map[string]any{"team": "billing"}})
	src.must(204, "PUT", "/api/v1/app/acme/endpoint/billing/headers", map[string]any{"headers": map[string]any{"X-Team": "billing", "Authorization": "Bearer s3cret"}})
	betaEp := src.must(201, "POST", "/api/v1/app/"+beta+"/endpoint", map[string]any{"url": rcv.URL + "/beta", "disabled": true})["id"].(string)

	importOnce := func() string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"svix-import", "--from", srcBase, "--from-token", "adm", "--to", dstBase, "--to-token", "adm"}, &out, &errb, nil); err != nil {
			t.Fatalf("svix-import: %v\n%s%s", err, out.String(), errb.String())
		}
		return out.String()
	}
	out := importOnce()
	for _, want := range []string{"imported 2 event types, 2 applications, 2 endpoints", "header Authorization is sensitive", "application " + beta + " → tenant " + beta} {
		if !strings.Contains(out, want) {
			t.Fatalf("the report lacks %q:\n%s", want, out)
		}
	}
	types := dst.must(200, "GET", "/api/v1/event-type?include_archived=true&with_content=true", nil)["data"].([]any)
	if len(types) != 2 {
		t.Fatalf("event types: %v", types)
	}
	for _, et := range types {
		m := et.(map[string]any)
		if m["name"] == "Old-Type" && m["archived"] != true || m["name"] == "invoice.paid" && (m["schemas"] == nil || m["deprecated"] != true || m["featureFlag"] != "beta" || m["groupName"] != "billing") {
			t.Fatalf("event type: %v", m)
		}
	}
	if a := dst.must(200, "GET", "/api/v1/app/acme", nil); a["name"] != "Acme" {
		t.Fatalf("application acme: %v", a)
	}
	ep := dst.must(200, "GET", "/api/v1/app/acme/endpoint/billing", nil)
	if ep["url"] != rcv.URL+"/billing" || ep["filterTypes"].([]any)[0] != "invoice.paid" || ep["channels"].([]any)[0] != "eu" ||
		ep["rateLimit"] != 10.0 || ep["metadata"].(map[string]any)["team"] != "billing" {
		t.Fatalf("endpoint billing: %v", ep)
	}
	if s := dst.must(200, "GET", "/api/v1/app/acme/endpoint/billing/secret", nil); s["key"] != key {
		t.Fatalf("the secret: %v", s)
	}
	if h := dst.must(200, "GET", "/api/v1/app/acme/endpoint/billing/headers", nil)["headers"].(map[string]any); h["X-Team"] != "billing" || h["Authorization"] != nil {
		t.Fatalf("headers: %v", h)
	}
	// The endpoint without a uid is found by its id at the source.
	if b := dst.must(200, "GET", "/api/v1/app/"+beta+"/endpoint/"+betaEp, nil); b["disabled"] != true || b["uid"] != betaEp {
		t.Fatalf("beta's endpoint: %v", b)
	}
	// A message sent through hookd reaches the endpoint signed with the
	// secret its receiver already has.
	u, _ := url.Parse(dstBase)
	client := svix.New("adm", &svix.SvixOptions{ServerUrl: u})
	msg, err := client.Message.Create(context.Background(), "acme", &svix.MessageIn{EventType: "invoice.paid", Payload: map[string]any{"invoiceId": "i1"}, Channels: []string{"eu"}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the message at the imported endpoint", func() bool { return rec.count() == 1 })
	wh, _ := svix.NewWebhook(key)
	if got, body := rec.at(0); wh.Verify(body, got.Header) != nil || got.Header.Get("svix-id") != msg.Id || got.URL.Path != "/billing" {
		t.Fatalf("the imported endpoint's request: %v, %s %s", wh.Verify(body, got.Header), got.URL.Path, got.Header.Get("svix-id"))
	}

	// Again, after changes at the source (a renamed application, a new
	// URL, a header gone, a rotation) and a sensitive header set in hookd
	// by hand: updated, nothing made twice, the hand-set header kept.
	dst.must(204, "PATCH", "/api/v1/app/acme/endpoint/billing/headers", map[string]any{"headers": map[string]any{"Authorization": "Bearer by-hand"}})
	src.must(204, "PUT", "/api/v1/app/acme/endpoint/billing/headers", map[string]any{"headers": map[string]any{"X-Other": "1"}})
	src.must(200, "PATCH", "/api/v1/app/acme", map[string]any{"name": "Acme Inc"})
	src.must(200, "PATCH", "/api/v1/app/acme/endpoint/billing", map[string]any{"url": rcv.URL + "/billing2"})
	src.must(204, "POST", "/api/v1/app/acme/endpoint/billing/secret/rotate", map[string]any{"key": "whsec_bmV3IHNlY3JldCBmb3IgYmlsbGluZyEh"})
	if out := importOnce(); !strings.Contains(out, "imported 2 event types, 2 applications, 2 endpoints") {
		t.Fatalf("again: %s", out)
	}
	if eps := dst.must(200, "GET", "/api/v1/app/acme/endpoint", nil)["data"].([]any); len(eps) != 1 || eps[0].(map[string]any)["url"] != rcv.URL+"/billing2" {
		t.Fatalf("acme's endpoints after the second import: %v", eps)
	}
	if s := dst.must(200, "GET", "/api/v1/app/acme/endpoint/billing/secret", nil); s["key"] != "whsec_bmV3IHNlY3JldCBmb3IgYmlsbGluZyEh" {
		t.Fatalf("the secret after the second import: %v", s)
	}
	if apps := dst.must(200, "GET", "/api/v1/app", nil)["data"].([]any); len(apps) != 2 {
		t.Fatalf("applications after the second import: %v", apps)
	}
	if a := dst.must(200, "GET", "/api/v1/app/acme", nil); a["name"] != "Acme Inc" {
		t.Fatalf("the renamed application: %v", a)
	}
	h := dst.must(200, "GET", "/api/v1/app/acme/endpoint/billing/headers", nil)
	if hs := h["headers"].(map[string]any); hs["X-Other"] != "1" || hs["X-Team"] != nil || len(h["sensitive"].([]any)) != 1 {
		t.Fatalf("headers after the second import: %v", h)
	}

	// Usage errors and a source that refuses.
	var errb bytes.Buffer
	if err := run(context.Background(), []string{"svix-import", "--from", srcBase}, io.Discard, &errb, nil); err != errUsage {
		t.Fatalf("without --to: %v", err)
	}
	err = run(context.Background(), []string{"svix-import", "--from", srcBase, "--from-token", "wrong", "--to", dstBase, "--to-token", "adm"}, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("a wrong source token: %v", err)
	}
}

// An endpoint hookd refuses (from a hookd source: a github-scheme webhook,
// whose secret no Svix endpoint could have) is skipped and said so; the
// rest is imported, and the exit status says something was left out.
func TestSvixImportSkipsRefusedEndpoints(t *testing.T) {
	srcBase, dstBase := twoHookds(t)
	src, dst := admin(t, srcBase), admin(t, dstBase)
	src.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	src.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	legacy := src.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "legacy", "url": "http://127.0.0.1:1/l", "events": []string{"*"},
		"signature": map[string]any{"scheme": "github"}, "secret": "a-github-secret-1234"})["id"].(string)
	fine := src.must(201, "POST", "/api/v1/app/acme/endpoint", map[string]any{"url": "http://127.0.0.1:1/f"})["id"].(string)
	var out bytes.Buffer
	err := run(context.Background(), []string{"svix-import", "--from", srcBase, "--from-token", "adm", "--to", dstBase, "--to-token", "adm"}, &out, io.Discard, nil)
	if err == nil || !strings.Contains(out.String(), "endpoint "+legacy+" skipped") || !strings.Contains(out.String(), "1 applications, 1 endpoints") {
		t.Fatalf("svix-import: %v\n%s", err, out.String())
	}
	dst.must(200, "GET", "/api/v1/app/acme/endpoint/"+fine, nil)

	// One hookd has already (made by hand): the rest of it is updated, its
	// secret stays, and that is said and counted too.
	dst.must(201, "POST", "/api/v1/app/acme/endpoint", map[string]any{"uid": legacy, "url": "http://127.0.0.1:1/old"})
	out.Reset()
	err = run(context.Background(), []string{"svix-import", "--from", srcBase, "--from-token", "adm", "--to", dstBase, "--to-token", "adm"}, &out, io.Discard, nil)
	if err == nil || !strings.Contains(out.String(), "endpoint "+legacy+" → uid "+legacy+", but not its secret") || !strings.Contains(out.String(), "1 applications, 1 endpoints") {
		t.Fatalf("svix-import again: %v\n%s", err, out.String())
	}
	if got := dst.must(200, "GET", "/api/v1/app/acme/endpoint/"+legacy, nil)["url"]; got != "http://127.0.0.1:1/l" {
		t.Errorf("url after the import: %v", got)
	}
}
