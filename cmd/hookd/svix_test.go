package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	var down atomic.Bool
	var downHits, lateHits atomic.Int32
	down.Store(true)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/down" {
			downHits.Add(1)
			if down.Load() {
				w.WriteHeader(500)
				io.WriteString(w, "down")
			}
			return
		}
		if r.URL.Path == "/late" {
			lateHits.Add(1)
			return
		}
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
	schema := map[string]any{"type": "object", "required": []any{"invoiceId"}}
	et, err := client.EventType.Create(ctx, &svix.EventTypeIn{Name: "invoice.paid", Description: "An invoice was paid", Schemas: map[string]any{"1": schema}})
	if err != nil || et.Name != "invoice.paid" || et.Schemas["1"] == nil {
		t.Fatalf("create event type: %+v, %v", et, err)
	}
	types, err := client.EventType.List(ctx, nil)
	if err != nil || len(types.Data) != 1 || types.Data[0].Name != "invoice.paid" {
		t.Fatalf("list event types: %+v, %v", types, err)
	}
	// The schema is enforced, in Svix's 422 shape.
	if _, err := client.Message.Create(ctx, app.Id, &svix.MessageIn{EventType: "invoice.paid", Payload: map[string]any{"x": 1}}); err == nil {
		t.Fatal("a payload against the schema was accepted")
	} else if se, ok := err.(*svix.Error); !ok || se.Status() != 422 {
		t.Fatalf("a payload against the schema: %v", err)
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
	// The attempts, by endpoint and by message, with stable ids. The
	// attempt is recorded after the receiver answered: wait for it.
	var byEndpoint *svix.ListResponseMessageAttemptOut
	eventually(t, "the attempt recorded", func() bool {
		byEndpoint, err = client.MessageAttempt.ListByEndpoint(ctx, app.Id, ep.Id, nil)
		return err != nil || len(byEndpoint.Data) > 0
	})
	if err != nil || len(byEndpoint.Data) != 1 || byEndpoint.Data[0].MsgId != msg.Id || byEndpoint.Data[0].Status != svix.MessageStatus(0) ||
		byEndpoint.Data[0].ResponseStatusCode != 200 || byEndpoint.Data[0].Url != rcv.URL+"/hook" {
		t.Fatalf("attempts by endpoint: %+v, %v", byEndpoint, err)
	}
	byMsg, err := client.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
	if err != nil || len(byMsg.Data) != 1 || byMsg.Data[0].Id != byEndpoint.Data[0].Id {
		t.Fatalf("attempts by message: %+v, %v", byMsg, err)
	}
	// Stats, the messages list and send-example through the SDK.
	stats, err := client.Endpoint.GetStats(ctx, app.Id, ep.Id)
	if err != nil || stats.Success != 1 {
		t.Fatalf("stats: %+v, %v", stats, err)
	}
	msgs, err := client.Message.List(ctx, app.Id, nil)
	if err != nil || len(msgs.Data) != 1 || msgs.Data[0].Id != msg.Id || msgs.Data[0].Payload["invoiceId"] != "inv_1" {
		t.Fatalf("messages: %+v, %v", msgs, err)
	}
	admin(t, base).must(200, "PATCH", "/v1/event-types/invoice.paid", map[string]any{"examples": []any{map[string]any{"invoiceId": "inv_example"}}})
	// (Not through the SDK: v1.44.0's Endpoint.SendExample drops its body,
	// req.EventExampleIn's result being discarded, so it cannot work
	// against any server.)
	example := admin(t, base).must(200, "POST", "/api/v1/app/"+app.Id+"/endpoint/"+ep.Id+"/send-example", map[string]any{"eventType": "invoice.paid"})
	if example["payload"].(map[string]any)["invoiceId"] != "inv_example" {
		t.Fatalf("send-example: %v", example)
	}
	mu.Lock()
	last := reqs[len(reqs)-1]
	mu.Unlock()
	if !strings.Contains(string(last.body), "inv_example") || last.header.Get("svix-id") != example["id"] {
		t.Fatalf("the example reached the endpoint as %s", last.body)
	}
	// svix.ping sends Svix's own payload; an unknown type is 404, a type
	// with no example 400, as Svix's server answers.
	admin(t, base).must(200, "POST", "/api/v1/app/"+app.Id+"/endpoint/"+ep.Id+"/send-example", map[string]any{"eventType": "svix.ping"})
	mu.Lock()
	last = reqs[len(reqs)-1]
	mu.Unlock()
	if string(last.body) != `{"success":true}` {
		t.Fatalf("svix.ping reached the endpoint as %s", last.body)
	}
	if st, body := admin(t, base).call("POST", "/api/v1/app/"+app.Id+"/endpoint/"+ep.Id+"/send-example", map[string]any{"eventType": "never.seen"}); st != 404 || body["code"] != "not_found" {
		t.Fatalf("send-example of an unknown type: %d %v", st, body)
	}
	admin(t, base).must(201, "POST", "/v1/event-types", map[string]any{"name": "no.example", "description": ""})
	if st, body := admin(t, base).call("POST", "/api/v1/app/"+app.Id+"/endpoint/"+ep.Id+"/send-example", map[string]any{"eventType": "no.example"}); st != 400 || body["code"] != "invalid_scheme" {
		t.Fatalf("send-example of a type with no example: %d %v", st, body)
	}
	// One store: the endpoint is a webhook of tenant acme in /v1.
	native := admin(t, base).must(200, "GET", "/v1/tenants/acme/webhooks/"+ep.Id, nil)
	if native["url"] != rcv.URL+"/hook" || native["bodyMode"] != "raw" || native["signature"].(map[string]any)["scheme"] != "svix" {
		t.Fatalf("the endpoint in /v1: %v", native)
	}
	// Rotate: the new key signs from now on, the old one still verifies
	// during the grace.
	if err := client.Endpoint.RotateSecret(ctx, app.Id, ep.Id, &svix.EndpointSecretRotateIn{}); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	rotated, err := client.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	if err != nil || rotated.Key == secret.Key {
		t.Fatalf("after the rotation the secret is %v (%v)", rotated, err)
	}
	mu.Lock()
	beforeSecond := len(reqs)
	mu.Unlock()
	if _, err := client.Message.Create(ctx, app.Id, &svix.MessageIn{EventType: "invoice.paid", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reqs) == beforeSecond+1
	})
	mu.Lock()
	second := reqs[beforeSecond]
	mu.Unlock()
	for _, key := range []string{rotated.Key, secret.Key} {
		v, _ := svix.NewWebhook(key)
		if err := v.Verify(second.body, second.header); err != nil {
			t.Fatalf("after the rotation, %s…: %v", key[:10], err)
		}
	}
	// Recover: an endpoint's failed deliveries of a window are sent again.
	failing := admin(t, base).must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "down", "url": rcv.URL + "/down", "events": []string{"*"}, "maxAttempts": 1})["id"].(string)
	if _, err := client.Message.Create(ctx, app.Id, &svix.MessageIn{EventType: "invoice.paid", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the delivery to the failing endpoint to end FAILED", func() bool {
		ds := admin(t, base).must(200, "GET", "/v1/tenants/acme/deliveries?webhookId="+failing+"&status=FAILED", nil)["data"].([]any)
		return len(ds) == 1
	})
	down.Store(false)
	rec, err := client.Endpoint.Recover(ctx, app.Id, failing, &svix.RecoverIn{Since: time.Now().Add(-time.Hour)})
	if err != nil || rec.Status != "finished" || rec.Task != "endpoint.recover" {
		t.Fatalf("recover: %+v, %v", rec, err)
	}
	eventually(t, "the recovered delivery to succeed", func() bool {
		ds := admin(t, base).must(200, "GET", "/v1/tenants/acme/deliveries?webhookId="+failing+"&status=SUCCESS", nil)["data"].([]any)
		return len(ds) == 1 && downHits.Load() == 2
	})
	// The recover's task reads back as a background task.
	var bt svix.BackgroundTaskOut
	if err := viaHTTP(base, "GET", "background-task/"+rec.Id, "", &bt); err != nil || bt.Status != "finished" || bt.Task != "endpoint.recover" || bt.Data["total"] != 1.0 {
		t.Fatalf("the recover's background task: %+v, %v", bt, err)
	}
	// The recovered attempt was made by hand (triggerType 1), the first by
	// the schedule (0); newest first.
	down1, err := client.MessageAttempt.ListByEndpoint(ctx, app.Id, failing, nil)
	if err != nil || len(down1.Data) != 2 || down1.Data[0].TriggerType != 1 || down1.Data[1].TriggerType != 0 || down1.Data[0].Status != 0 {
		t.Fatalf("the recovered endpoint's attempts: %+v, %v", down1, err)
	}
	// The attempt lists' filters: status, status code class, event types,
	// channel, a tag (hookd keeps none), content.
	for _, tc := range []struct {
		name string
		opts svix.MessageAttemptListOptions
		want int
	}{
		{"failed", svix.MessageAttemptListOptions{Status: ptr(svix.MessageStatus(2))}, 1},
		{"succeeded", svix.MessageAttemptListOptions{Status: ptr(svix.MessageStatus(0))}, 1},
		{"another type", svix.MessageAttemptListOptions{EventTypes: &[]string{"other.type"}}, 0},
		{"its type", svix.MessageAttemptListOptions{EventTypes: &[]string{"invoice.paid"}}, 2},
		{"a channel it lacks", svix.MessageAttemptListOptions{Channel: ptr("eu")}, 0},
		{"a tag", svix.MessageAttemptListOptions{Tag: ptr("t")}, 0},
		{"after now", svix.MessageAttemptListOptions{After: ptr(time.Now().Add(time.Minute))}, 0},
	} {
		as, err := client.MessageAttempt.ListByEndpoint(ctx, app.Id, failing, &tc.opts)
		if err != nil || len(as.Data) != tc.want {
			t.Fatalf("the failing endpoint's attempts, %s: %+v, %v", tc.name, as, err)
		}
	}
	// (status_code_class over plain HTTP: v1.44.0's ListByEndpoint drops
	// that option, calling req.StatusCodeClass without keeping its result.)
	for class, want := range map[string]int{"500": 1, "200": 1, "400": 0} {
		as := admin(t, base).must(200, "GET", "/api/v1/app/acme/attempt/endpoint/"+failing+"?status_code_class="+class, nil)["data"].([]any)
		if len(as) != want {
			t.Fatalf("status_code_class=%s: %v", class, as)
		}
	}
	if as, err := client.MessageAttempt.ListByEndpoint(ctx, app.Id, failing, nil); err != nil || as.Data[1].Response != "down" {
		t.Fatalf("attempts with content: %+v, %v", as, err)
	}
	if as, err := client.MessageAttempt.ListByEndpoint(ctx, app.Id, failing, &svix.MessageAttemptListOptions{WithContent: ptr(false)}); err != nil || as.Data[1].Response != "" {
		t.Fatalf("attempts without content: %+v, %v", as, err)
	}
	// Resend: one more attempt of a message to an endpoint, by hand.
	mu.Lock()
	before := len(reqs)
	mu.Unlock()
	if err := client.MessageAttempt.Resend(ctx, app.Id, msg.Id, ep.Id); err != nil {
		t.Fatalf("resend: %v", err)
	}
	eventually(t, "the resent message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reqs) == before+1 && reqs[before].header.Get("svix-id") == msg.Id
	})
	eventually(t, "the resend's attempt in the log", func() bool {
		as, err := client.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
		return err == nil && len(as.Data) == 2 && as.Data[0].TriggerType == 1 && as.Data[1].TriggerType == 0
	})
	// The message's attempts page by attempt, newest first: the resend's,
	// then the first, each on its own page.
	page1, err := client.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, &svix.MessageAttemptListOptions{Limit: ptr(int32(1))})
	if err != nil || len(page1.Data) != 1 || page1.Done || page1.Data[0].TriggerType != 1 {
		t.Fatalf("the message's attempts, page 1: %+v, %v", page1, err)
	}
	page2, err := client.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, &svix.MessageAttemptListOptions{Limit: ptr(int32(1)), Iterator: page1.Iterator.Get()})
	if err != nil || len(page2.Data) != 1 || !page2.Done || page2.Data[0].TriggerType != 0 {
		t.Fatalf("the message's attempts, page 2: %+v, %v", page2, err)
	}
	// The endpoint's attempts page by delivery, one a page here: every
	// attempt (the resent message's two among them) comes once, and the
	// pages end only at the last.
	mu.Lock()
	sent := len(reqs)
	mu.Unlock()
	seen := map[string]bool{}
	var it *string
	for pages := 0; ; pages++ {
		page, err := client.MessageAttempt.ListByEndpoint(ctx, app.Id, ep.Id, &svix.MessageAttemptListOptions{Limit: ptr(int32(1)), Iterator: it})
		if err != nil || pages > 20 {
			t.Fatalf("attempts by endpoint, page %d: %+v, %v", pages, page, err)
		}
		for _, a := range page.Data {
			if seen[a.Id] {
				t.Fatalf("attempt %s listed twice", a.Id)
			}
			seen[a.Id] = true
		}
		if page.Done {
			break
		}
		it = page.Iterator.Get()
	}
	if len(seen) != sent {
		t.Fatalf("paged through %d attempts, the endpoint got %d requests", len(seen), sent)
	}
	// Attempts by message, of one endpoint (by id or uid).
	if as, err := client.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, &svix.MessageAttemptListOptions{EndpointId: ptr(failing)}); err != nil || len(as.Data) != 0 {
		t.Fatalf("the message's attempts to an endpoint that never got it: %+v, %v", as, err)
	}
	if as, err := client.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, &svix.MessageAttemptListOptions{EndpointId: ptr(ep.Id)}); err != nil || len(as.Data) != 2 {
		t.Fatalf("the message's attempts to its endpoint: %+v, %v", as, err)
	}
	// One attempt by the id the lists give it (404 for one it did not, or
	// under another message); the endpoints a message went to; the
	// messages an endpoint got; a message's attempts to one endpoint
	// (Svix's older route).
	one, err := client.MessageAttempt.Get(ctx, app.Id, msg.Id, byEndpoint.Data[0].Id)
	if err != nil || one.Id != byEndpoint.Data[0].Id || one.MsgId != msg.Id || one.EndpointId != ep.Id || one.Status != 0 ||
		one.ResponseStatusCode != 200 || one.Url != rcv.URL+"/hook" || !one.Timestamp.Equal(byEndpoint.Data[0].Timestamp) {
		t.Fatalf("an attempt by its id: %+v, %v", one, err)
	}
	for _, tc := range []struct{ msg, id string }{{msg.Id, "atmpt_nope_1"}, {msg.Id, "nope"}, {msg.Id, strings.TrimSuffix(one.Id, "_1") + "_9"}, {"another", one.Id}} {
		if _, err := client.MessageAttempt.Get(ctx, app.Id, tc.msg, tc.id); err == nil {
			t.Fatalf("attempt %s of message %s was found", tc.id, tc.msg)
		} else if se, ok := err.(*svix.Error); !ok || se.Status() != 404 {
			t.Fatalf("attempt %s of message %s: %v", tc.id, tc.msg, err)
		}
	}
	dests, err := client.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, msg.Id, nil)
	if err != nil || len(dests.Data) != 1 || dests.Data[0].Id != ep.Id || dests.Data[0].Status != 0 || dests.Data[0].Url != rcv.URL+"/hook" ||
		dests.Data[0].NextAttempt != nil || !dests.Done {
		t.Fatalf("the message's destinations: %+v, %v", dests, err)
	}
	gotMsgs, err := client.MessageAttempt.ListAttemptedMessages(ctx, app.Id, failing, nil)
	if err != nil || len(gotMsgs.Data) != 1 || gotMsgs.Data[0].Status != 0 || gotMsgs.Data[0].EventType != "invoice.paid" ||
		gotMsgs.Data[0].Payload["invoiceId"] != "inv_1" || !gotMsgs.Done {
		t.Fatalf("the messages the recovered endpoint got: %+v, %v", gotMsgs, err)
	}
	if failed, err := client.MessageAttempt.ListAttemptedMessages(ctx, app.Id, failing, &svix.MessageAttemptListOptions{Status: ptr(svix.MessageStatus(2))}); err != nil || len(failed.Data) != 0 {
		t.Fatalf("the recovered endpoint's failed messages: %+v, %v", failed, err)
	}
	toEp, err := client.MessageAttempt.ListAttemptsForEndpoint(ctx, app.Id, msg.Id, ep.Id, nil)
	if err != nil || len(toEp.Data) != 2 || toEp.Data[0].TriggerType != 1 || toEp.Data[1].Id != one.Id || toEp.Data[0].EndpointId != ep.Id {
		t.Fatalf("the message's attempts to its endpoint (the older route): %+v, %v", toEp, err)
	}
	// Expunging an attempt's content empties its response; the attempt stays.
	downAttempt := down1.Data[1]
	if err := client.MessageAttempt.ExpungeContent(ctx, app.Id, downAttempt.MsgId, downAttempt.Id); err != nil {
		t.Fatalf("expunge: %v", err)
	}
	if a, err := client.MessageAttempt.Get(ctx, app.Id, downAttempt.MsgId, downAttempt.Id); err != nil || a.Response != "" || a.ResponseStatusCode != 500 {
		t.Fatalf("the expunged attempt: %+v, %v", a, err)
	}
	if err := client.MessageAttempt.ExpungeContent(ctx, app.Id, msg.Id, downAttempt.Id); err == nil {
		t.Fatal("an attempt expunged under another message")
	} else if se, ok := err.(*svix.Error); !ok || se.Status() != 404 {
		t.Fatalf("an attempt under another message: %v", err)
	}
	// Svix's names (capitals, "-") and the messages list's filters.
	if m, err := client.Message.Create(ctx, app.Id, &svix.MessageIn{EventType: "Invoice-Voided", Payload: payload, Channels: []string{"eu"}, Tags: []string{"project_1"}}); err != nil || !slices.Equal(m.Tags, []string{"project_1"}) {
		t.Fatalf("a message of a type with capitals, tagged: %+v, %v", m, err)
	}
	voided, err := client.Message.List(ctx, app.Id, &svix.MessageListOptions{EventTypes: &[]string{"Invoice-Voided"}, Channel: ptr("eu"), Tag: ptr("project_1"), After: ptr(time.Now().Add(-time.Hour))})
	if err != nil || len(voided.Data) != 1 || voided.Data[0].EventType != "Invoice-Voided" || !slices.Equal(voided.Data[0].Tags, []string{"project_1"}) {
		t.Fatalf("messages of one type, channel and tag: %+v, %v", voided, err)
	}
	// A portal link into the application's console.
	access, err := client.Authentication.AppPortalAccess(ctx, app.Id, &svix.AppPortalAccessIn{})
	if err != nil || access.Token == "" || !strings.HasPrefix(access.Url, base+"/console/portal/") {
		t.Fatalf("portal access: %+v, %v", access, err)
	}
	res, err := noRedirect.Get(access.Url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 303 || len(res.Cookies()) == 0 {
		t.Fatalf("the portal link: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	// Signed in, the console lists the endpoint among the tenant's webhooks.
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, res.Cookies())
	page, err := (&http.Client{Jar: jar}).Get(base + res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(html), rcv.URL+"/hook") {
		t.Fatalf("the console after the portal link (%s): %d\n%s", res.Header.Get("Location"), page.StatusCode, html)
	}
	// Replay-missing: a new endpoint gets the window's messages once; a
	// second replay finds none missing.
	late, err := client.Endpoint.Create(ctx, app.Id, &svix.EndpointIn{Url: rcv.URL + "/late"})
	if err != nil {
		t.Fatal(err)
	}
	lateDeliveries := func() []any {
		return admin(t, base).must(200, "GET", "/v1/tenants/acme/deliveries?webhookId="+late.Id, nil)["data"].([]any)
	}
	replayed := func() {
		t.Helper()
		var r svix.ReplayOut
		since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		if err := viaHTTP(base, "POST", "app/acme/endpoint/"+late.Id+"/replay-missing", `{"since":"`+since+`"}`, &r); err != nil || r.Task != "endpoint.replay" {
			t.Fatalf("replay-missing: %+v, %v", r, err)
		}
		eventually(t, "the replay to finish", func() bool {
			var bt svix.BackgroundTaskOut
			return viaHTTP(base, "GET", "background-task/"+r.Id, "", &bt) == nil && bt.Status == "finished"
		})
	}
	replayed()
	made := len(lateDeliveries())
	if made == 0 {
		t.Fatal("replay-missing made no delivery to a new endpoint")
	}
	eventually(t, "the replayed messages to arrive", func() bool {
		return lateHits.Load() == int32(made)
	})
	replayed()
	if again := len(lateDeliveries()); again != made {
		t.Fatalf("a second replay-missing made %d deliveries more", again-made)
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

// viaHTTP calls /api/v1 over plain HTTP and decodes the answer into the
// SDK's own type, whose decoding refuses a field it does not know: for the
// routes v1.44.0's client cannot call (it has no BackgroundTask.Get, and
// its Endpoint.ReplayMissing drops its body, as SendExample does).
func viaHTTP(base, method, path, body string, out any) error {
	req, _ := http.NewRequest(method, base+"/api/v1/"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer adm")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "svix-libs/1.44.0/go") // as the SDK would: answered in the fields it knows
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

func admin(t *testing.T, base string) *client { return &client{t: t, base: base, key: "adm"} }
