package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// Svix's own Go SDK drives hookd's /api/v1 unchanged: an application, an
// endpoint, a message; the endpoint receives the message's payload as
// the body, which the SDK's verifier accepts with the endpoint's secret;
// and the endpoint is a webhook of the tenant in hookd's own API.
func TestSvixSDK(t *testing.T) {
	type got struct {
		body   []byte
		header http.Header
	}
	var mu sync.Mutex
	var reqs []got
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, got{b, r.Header.Clone()})
		mu.Unlock()
	}))
	defer rcv.Close()
	base, _, stop := start(t, "--db", filepath.Join(t.TempDir(), "hookd.db"), "--admin-key", "adm", "--allow-networks", "127.0.0.0/8")
	defer stop()
	u, _ := url.Parse(base)
	client := svix.New("adm", &svix.SvixOptions{ServerUrl: u})
	ctx := context.Background()
	if code := get(t, base+"/api/v1/health", ""); code != 204 {
		t.Fatalf("health: %d", code)
	}
	uid := "acme"
	app, err := client.Application.Create(ctx, &svix.ApplicationIn{Name: "Acme", Uid: &uid})
	if err != nil || app.Id != "acme" || app.Name != "Acme" {
		t.Fatalf("create app: %+v, %v", app, err)
	}
	again, err := client.Application.GetOrCreate(ctx, &svix.ApplicationIn{Name: "Acme again", Uid: &uid})
	if err != nil || again.Name != "Acme" {
		t.Fatalf("get or create: %+v, %v", again, err)
	}
	if _, err := client.Application.Get(ctx, "nope"); err == nil {
		t.Fatal("a missing application was found")
	} else if se, ok := err.(*svix.Error); !ok || se.Status() != 404 {
		t.Fatalf("a missing application: %v", err)
	}
	ep, err := client.Endpoint.Create(ctx, app.Id, &svix.EndpointIn{Url: rcv.URL + "/hook", Description: ptr("billing")})
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	secret, err := client.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	if err != nil {
		t.Fatalf("secret: %v", err)
	}
	list, err := client.Endpoint.List(ctx, app.Id, nil)
	if err != nil || len(list.Data) != 1 || list.Data[0].Id != ep.Id || !list.Done {
		t.Fatalf("list endpoints: %+v, %v", list, err)
	}
	payload := map[string]any{"invoiceId": "inv_1", "amount": 1200.0, "lines": []any{"a", "b"}}
	msg, err := client.Message.Create(ctx, app.Id, &svix.MessageIn{EventType: "invoice.paid", Payload: payload})
	if err != nil || msg.Id == "" || msg.EventType != "invoice.paid" {
		t.Fatalf("create message: %+v, %v", msg, err)
	}
	eventually(t, "the message at the endpoint", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reqs) == 1
	})
	mu.Lock()
	r := reqs[0]
	mu.Unlock()
	wh, err := svix.NewWebhook(secret.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.body, r.header); err != nil {
		t.Fatalf("the SDK's verifier refuses hookd's request: %v", err)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil || body["invoiceId"] != "inv_1" || body["amount"] != 1200.0 || len(body) != 3 {
		t.Fatalf("the body is not the payload: %s", r.body)
	}
	if r.header.Get("svix-id") != msg.Id {
		t.Fatalf("svix-id %q, message %q", r.header.Get("svix-id"), msg.Id)
	}
	// One store: the endpoint is a webhook of tenant acme in /v1.
	native := (&client2{t: t, base: base, key: "adm"}).must(200, "GET", "/v1/tenants/acme/webhooks/"+ep.Id, nil)
	if native["url"] != rcv.URL+"/hook" || native["bodyMode"] != "raw" || native["signature"].(map[string]any)["scheme"] != "svix" {
		t.Fatalf("the endpoint in /v1: %v", native)
	}
	// An unknown token is refused, in Svix's error shape.
	bad := svix.New("wrong", &svix.SvixOptions{ServerUrl: u})
	if _, err := bad.Application.List(ctx, nil); err == nil {
		t.Fatal("a wrong token listed applications")
	} else if se, ok := err.(*svix.Error); !ok || se.Status() != 401 {
		t.Fatalf("a wrong token: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

type client2 = client
