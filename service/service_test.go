package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/teststore"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/service"
)

// Each use-case is tested here once, on SQLite and (under TestOnPostgres)
// on PostgreSQL; the transports' tests check how they decode and encode.
var onPostgres = map[string]func(*testing.T){
	"CreateWebhook": TestCreateWebhook, "UpdateWebhook": TestUpdateWebhook, "EnableRotateDelete": TestEnableRotateDelete,
	"Publish": TestPublish, "Retry": TestRetry, "TestSend": TestTestSend, "TenantsAndKeys": TestTenantsAndKeys,
	"EventTypes": TestEventTypes, "UpdateKeepsARefusedURL": TestUpdateKeepsARefusedURL, "PortalSession": TestPortalSession, "Cancel": TestCancel, "DeleteInSteps": TestDeleteInSteps,
}

func TestOnPostgres(t *testing.T) {
	if os.Getenv("HOOKD_TEST_POSTGRES") == "" {
		t.Skip("HOOKD_TEST_POSTGRES is not set")
	}
	for name, fn := range onPostgres {
		t.Run(name, fn)
	}
}

type fixture struct {
	t      *testing.T
	store  hookd.Store
	svc    *service.Service
	notify atomic.Int32
	ctx    context.Context
}

// tester records test sends instead of making them: the service's part of
// a test send is choosing what to send and refusing what it must.
type tester struct{ got []string }

func (ts *tester) Test(_ context.Context, wh *hookd.Webhook, eventType string, data json.RawMessage) (*hookd.TestResult, error) {
	ts.got = append(ts.got, wh.ID+" "+eventType+" "+string(data))
	return &hookd.TestResult{Success: true}, nil
}

func newFixture(t *testing.T, mods ...func(*service.Config)) *fixture {
	f := &fixture{t: t, store: teststore.Open(t), ctx: hookd.WithActor(context.Background(), hookd.Actor{Type: hookd.ActorKey, ID: "key_test"})}
	cfg := service.Config{Store: f.store, Guard: &netguard.Policy{Resolver: netguard.Offline}, Notify: func() { f.notify.Add(1) }}
	for _, m := range mods {
		m(&cfg)
	}
	f.svc = service.New(cfg)
	must(t, f.svc.CreateTenant(f.ctx, &hookd.Tenant{ID: "acme", Name: "Acme"}, nil))
	must(t, f.svc.CreateEventType(f.ctx, &hookd.EventType{Name: "a.b"}, hookd.NativeNames, nil))
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

// fields returns the fields a validation error names.
func fields(err error) []string {
	var ve *hookd.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, d := range ve.Details {
		out = append(out, d.Field)
	}
	return out
}

func (f *fixture) webhook(mods ...func(*hookd.Webhook)) *hookd.Webhook {
	f.t.Helper()
	wh := f.svc.NewWebhook("acme")
	wh.Name, wh.URL, wh.Events = "orders", "https://example.com/o", []string{"*"}
	for _, m := range mods {
		m(wh)
	}
	must(f.t, f.svc.CreateWebhook(f.ctx, wh, nil, nil))
	return wh
}

func (f *fixture) actions() []string {
	f.t.Helper()
	list, err := f.store.ListAudit(context.Background(), hookd.AuditQuery{TenantID: "acme", Limit: 100})
	must(f.t, err)
	var out []string
	for _, e := range list {
		out = append(out, e.Action)
	}
	return out
}

func TestCreateWebhook(t *testing.T) {
	f := newFixture(t)
	// The transport's problems and the rules' come back together.
	wh := f.svc.NewWebhook("acme")
	wh.URL = "http://127.0.0.1/x"
	transport := &hookd.ValidationError{}
	transport.Add("timeoutMs", "must be an integer")
	err := f.svc.CreateWebhook(f.ctx, wh, nil, transport)
	if got := strings.Join(fields(err), ","); got != "timeoutMs,name,url,events" {
		t.Fatalf("problems %q", got)
	}
	// A generated secret fits the scheme; an explicit empty one is only
	// for non-standard HMAC schemes.
	ok := f.webhook()
	if !strings.HasPrefix(ok.Secret, "whsec_") || ok.MaxAttempts != 8 || !ok.Enabled {
		t.Fatalf("created %+v", ok)
	}
	empty := ""
	wh = f.svc.NewWebhook("acme")
	wh.Name, wh.URL, wh.Events = "n", "https://example.com/x", []string{"*"}
	if err := f.svc.CreateWebhook(f.ctx, wh, &empty, nil); !strings.Contains(strings.Join(fields(err), ","), "secret") {
		t.Fatalf("an unsigned standard webhook: %v", err)
	}
	wh.Signature = &hookd.Signature{Scheme: hookd.SchemeGitHub}
	must(t, f.svc.CreateWebhook(f.ctx, wh, &empty, nil))
	// The tenant's cached webhooks see it at once: publishing matches it.
	ids, err := f.svc.Match(f.ctx, &hookd.Event{TenantID: "acme", Type: "a.b"}, []byte(`{}`), nil)
	must(t, err)
	if len(ids) != 2 {
		t.Fatalf("matched %v", ids)
	}
	if got := f.actions(); strings.Join(got, ",") != "webhook.created,webhook.created" {
		t.Fatalf("audit %v", got)
	}
	// An unknown tenant is not found, and nothing is recorded.
	wh = f.svc.NewWebhook("nobody")
	wh.Name, wh.URL, wh.Events = "n", "https://example.com/x", []string{"*"}
	wantErr(t, f.svc.CreateWebhook(f.ctx, wh, nil, nil), hookd.ErrNotFound)
}

func TestUpdateWebhook(t *testing.T) {
	f := newFixture(t)
	wh := f.webhook()
	got, err := f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, wh.UpdatedAt, func(w *hookd.Webhook, _ *hookd.ValidationError) { w.Name = "renamed" })
	must(t, err)
	if got.Name != "renamed" || !got.UpdatedAt.After(wh.UpdatedAt) {
		t.Fatalf("updated %+v", got)
	}
	// A change based on the old version is a conflict and writes nothing.
	_, err = f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, wh.UpdatedAt, func(w *hookd.Webhook, _ *hookd.ValidationError) { w.Name = "stale" })
	wantErr(t, err, hookd.ErrConflict)
	// Problems of decoding and of the rules together; nothing written.
	_, err = f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, v *hookd.ValidationError) {
		v.Add("enabled", "must be a boolean")
		w.URL = "ftp://x"
	})
	if got := strings.Join(fields(err), ","); got != "enabled,url" {
		t.Fatalf("problems %q", got)
	}
	// A scheme that the secret does not fit gets a new secret.
	got, err = f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.Signature = &hookd.Signature{Scheme: hookd.SchemeStandardEd25519}
	})
	must(t, err)
	if !strings.HasPrefix(got.Secret, "whsk_") {
		t.Fatalf("secret after the scheme change %q", got.Secret)
	}
	// A header's value and a URL's query are changes told without their
	// values.
	_, err = f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.Headers = map[string]string{"X-Token": "first-token"}
		w.URL = "https://example.com/o?token=first-query-token"
	})
	must(t, err)
	_, err = f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.Headers = map[string]string{"X-Token": "second-token"}
		w.URL = "https://example.com/o?token=second-query-token"
	})
	must(t, err)
	log, err := f.store.ListAudit(context.Background(), hookd.AuditQuery{TenantID: "acme", Limit: 1})
	must(t, err)
	raw, _ := json.Marshal(log[0].Changes)
	if _, ok := log[0].Changes["headers.X-Token"]; !ok || log[0].Changes["url"].From == log[0].Changes["url"].To ||
		strings.Contains(string(raw), "token\"") || strings.Contains(string(raw), "first-") || strings.Contains(string(raw), "second-") {
		t.Fatalf("the change of values: %s", raw)
	}
	// No change, no audit entry.
	_, err = f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(*hookd.Webhook, *hookd.ValidationError) {})
	must(t, err)
	if got := f.actions(); strings.Join(got, ",") != "webhook.updated,webhook.updated,webhook.updated,webhook.updated,webhook.created" {
		t.Fatalf("audit %v", got)
	}
	_, err = f.svc.UpdateWebhook(f.ctx, "acme", "wh_missing", time.Time{}, func(*hookd.Webhook, *hookd.ValidationError) {})
	wantErr(t, err, hookd.ErrNotFound)
}

// The operator's webhook's URL is --operator-webhook's: it is sent to
// past the SSRF guard, so no one sets it through the API; its other
// fields may change.
func TestOperatorWebhookURLIsTheFlags(t *testing.T) {
	f := newFixture(t)
	// As hookd makes it at its start: no user may name a tenant so.
	must(t, f.store.CreateTenant(f.ctx, &hookd.Tenant{ID: hookd.OperatorTenant, Name: "operator", CreatedAt: time.Now()}))
	op := f.svc.NewWebhook(hookd.OperatorTenant)
	op.ID, op.Name, op.URL, op.Events = hookd.OperatorWebhook, "operator", "https://ops.example.com/hooks", []string{"*"}
	op.Secret = hookd.GenerateSecret(op.Signature.SchemeName())
	must(t, f.store.CreateWebhook(f.ctx, op))
	_, err := f.svc.UpdateWebhook(f.ctx, hookd.OperatorTenant, hookd.OperatorWebhook, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.URL = "https://elsewhere.example.com/hooks"
	})
	if got := strings.Join(fields(err), ","); got != "url" {
		t.Fatalf("a new URL for the operator's webhook: %v", err)
	}
	got, err := f.svc.UpdateWebhook(f.ctx, hookd.OperatorTenant, hookd.OperatorWebhook, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.Name = "on-call"
	})
	must(t, err)
	if got.Name != "on-call" || got.URL != op.URL {
		t.Fatalf("after renaming: %+v", got)
	}
	// Another webhook of its tenant is any tenant's.
	other := f.svc.NewWebhook(hookd.OperatorTenant)
	other.Name, other.URL, other.Events = "other", "https://ops.example.com/a", []string{"*"}
	must(t, f.svc.CreateWebhook(f.ctx, other, nil, nil))
	_, err = f.svc.UpdateWebhook(f.ctx, hookd.OperatorTenant, other.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.URL = "https://ops.example.com/b"
	})
	must(t, err)
}

// A URL the SSRF guard refuses since the operator narrowed
// --allow-networks is not checked again while a change leaves it alone:
// the user can still disable, rename or re-point the webhook.
func TestUpdateKeepsARefusedURL(t *testing.T) {
	f := newFixture(t, func(c *service.Config) {
		c.Guard = netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
		c.Guard.Resolver = netguard.Offline
	})
	wh := f.webhook(func(w *hookd.Webhook) { w.URL = "http://127.0.0.1:9000/hook" })
	narrowed := service.New(service.Config{Store: f.store, Guard: &netguard.Policy{Resolver: netguard.Offline}})
	update := func(change func(w *hookd.Webhook)) error {
		_, err := narrowed.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) { change(w) })
		return err
	}
	must(t, update(func(w *hookd.Webhook) { w.Enabled = false }))
	must(t, update(func(w *hookd.Webhook) { w.Name = "renamed" }))
	// Enabled again, it is about to be sent to: checked.
	if got := strings.Join(fields(update(func(w *hookd.Webhook) { w.Enabled = true })), ","); got != "url" {
		t.Fatalf("enabling a refused URL: problems %q", got)
	}
	if got := strings.Join(fields(update(func(w *hookd.Webhook) { w.URL = "http://127.0.0.1:9001/hook" })), ","); got != "url" {
		t.Fatalf("a new loopback URL: problems %q", got)
	}
	must(t, update(func(w *hookd.Webhook) { w.URL = "https://example.com/hook" }))

	// So is a signature stored before a rule refused it (a prefix longer
	// than hookd now takes): kept as it is, it does not stop an edit;
	// changed, it is checked.
	long := &hookd.Signature{Scheme: hookd.SchemeHMACSHA256, Header: "X-Sig", Content: "{body}", Encoding: "hex", Prefix: strings.Repeat("p", 120)}
	old := f.webhook(func(w *hookd.Webhook) {
		w.Signature, w.Secret = &hookd.Signature{Scheme: hookd.SchemeGitHub}, "a-secret-of-sixteen"
	})
	stored, err := f.store.GetWebhook(f.ctx, "acme", old.ID)
	must(t, err)
	stored.Signature = long
	_, err = f.store.UpdateWebhook(f.ctx, stored, stored.UpdatedAt)
	must(t, err)
	_, err = f.svc.UpdateWebhook(f.ctx, "acme", old.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) { w.Enabled = false })
	must(t, err)
	_, err = f.svc.UpdateWebhook(f.ctx, "acme", old.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) { w.Signature.Prefix += "q" })
	if got := strings.Join(fields(err), ","); got != "signature.prefix" {
		t.Fatalf("a changed prefix still too long: problems %q", got)
	}
}

func TestEnableRotateDelete(t *testing.T) {
	f := newFixture(t)
	wh := f.webhook()
	_, err := f.svc.SetEnabled(f.ctx, "acme", wh.ID, false)
	must(t, err)
	ids, _ := f.svc.Match(f.ctx, &hookd.Event{TenantID: "acme", Type: "a.b"}, []byte(`{}`), nil)
	if len(ids) != 0 {
		t.Fatal("a disabled webhook is matched")
	}
	_, err = f.svc.SetEnabled(f.ctx, "acme", wh.ID, true)
	must(t, err)
	next, err := f.svc.RotateSecret(f.ctx, "acme", wh.ID, nil, nil)
	must(t, err)
	got, _ := f.svc.Webhook(f.ctx, "acme", wh.ID)
	if len(got.PreviousSecrets) != 1 {
		t.Fatalf("after rotation %+v", got)
	}
	if grace := got.PreviousSecrets[0].ExpiresAt.Sub(got.UpdatedAt); got.Secret != next || got.PreviousSecrets[0].Secret != wh.Secret || grace < service.DefaultGrace-time.Second || grace > service.DefaultGrace {
		t.Fatalf("after rotation %+v", got)
	}
	g := time.Hour
	gh := f.webhook(func(w *hookd.Webhook) {
		w.Signature, w.Secret = &hookd.Signature{Scheme: hookd.SchemeGitHub}, "a-receivers-secret-1"
	})
	_, err = f.svc.RotateSecret(f.ctx, "acme", gh.ID, nil, &g)
	if strings.Join(fields(err), ",") != "graceSeconds" {
		t.Fatalf("grace on a one-signature scheme: %v", err)
	}
	_, err = f.svc.RotateSecret(f.ctx, "acme", gh.ID, nil, nil)
	must(t, err)
	if got, _ := f.svc.Webhook(f.ctx, "acme", gh.ID); len(got.PreviousSecrets) != 0 {
		t.Fatal("a one-signature scheme kept its old secret signing")
	}
	bad := "short"
	_, err = f.svc.RotateSecret(f.ctx, "acme", gh.ID, &bad, nil)
	if strings.Join(fields(err), ",") != "secret" {
		t.Fatalf("a bad secret: %v", err)
	}
	must(t, f.svc.DeleteWebhook(f.ctx, "acme", wh.ID))
	wantErr(t, f.svc.DeleteWebhook(f.ctx, "acme", wh.ID), hookd.ErrNotFound)
	want := "webhook.deleted,webhook.secret_rotated,webhook.created,webhook.secret_rotated,webhook.enabled,webhook.disabled,webhook.created"
	if got := strings.Join(f.actions(), ","); got != want {
		t.Fatalf("audit %s\nwant  %s", got, want)
	}
}

func TestPublish(t *testing.T) {
	f := newFixture(t)
	must(t, f.svc.CreateEventType(f.ctx, &hookd.EventType{Name: "s.v", Schema: json.RawMessage(`{"type":"object","required":["n"]}`)}, hookd.NativeNames, nil))
	all := f.webhook()
	eu := f.webhook(func(w *hookd.Webhook) { w.Channels = []string{"eu"} })
	big := f.webhook(func(w *hookd.Webhook) { w.Filter = "data.n > 10" })
	res, err := f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{"n":20}`), Channels: []string{"eu"}, ID: "e1", IDSet: true}, nil)
	must(t, err)
	if res.Deliveries != 3 || res.Duplicate || f.notify.Load() != 1 {
		t.Fatalf("published %+v, notified %d", res, f.notify.Load())
	}
	res, err = f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{"n":1}`)}, nil)
	must(t, err)
	ds, _ := f.store.ListEventDeliveries(context.Background(), "acme", res.Event.ID)
	if len(ds) != 1 || ds[0].WebhookID != all.ID {
		t.Fatalf("matched %+v (eu %s, big %s)", ds, eu.ID, big.ID)
	}
	res, err = f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{"n":20}`), ID: "e1", IDSet: true}, nil)
	must(t, err)
	if !res.Duplicate || res.Event.ID != "e1" || f.notify.Load() != 2 {
		t.Fatalf("a used id: %+v, notified %d", res, f.notify.Load())
	}
	tests := []struct {
		name string
		p    service.Publication
		want string
	}{
		{"no type, no data", service.Publication{}, "type,data"},
		{"unknown type", service.Publication{Type: "x.y", Data: []byte(`{}`)}, "type"},
		{"schema", service.Publication{Type: "s.v", Data: []byte(`{}`)}, "data"},
		{"empty id", service.Publication{Type: "a.b", Data: []byte(`{}`), IDSet: true}, "id"},
		{"bad id", service.Publication{Type: "a.b", Data: []byte(`{}`), ID: "..", IDSet: true}, "id"},
		{"bad channel", service.Publication{Type: "a.b", Data: []byte(`{}`), Channels: []string{""}}, "channels[0]"},
		{"metadata over 16 KiB", service.Publication{Type: "a.b", Data: []byte(`{}`), Metadata: []byte(`{"s":"` + strings.Repeat("m", 16<<10) + `"}`)}, "metadata"},
		{"invalid UTF-8", service.Publication{Type: "a.b", Data: []byte("{\"s\":\"\xff\"}")}, "data"},
	}
	for _, tt := range tests {
		_, err := f.svc.Publish(f.ctx, "acme", tt.p, nil)
		got := strings.Join(fields(err), ",")
		if tt.name == "schema" && err != nil && got == "" {
			got = "data" // a schema's refusal names the data's own paths
		}
		if !errors.Is(err, hookd.ErrValidation) || !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: %v (fields %q), want %s", tt.name, err, got, tt.want)
		}
	}
	_, err = f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{"s":"` + strings.Repeat("x", hookd.MaxEventData) + `"}`)}, nil)
	wantErr(t, err, hookd.ErrTooLarge)

	// A publish sent again after its answer was lost is the first one,
	// whatever the catalog became since: its schema changed, its type
	// archived. A new id is refused by the catalog as it is.
	first, err := f.svc.Publish(f.ctx, "acme", service.Publication{Type: "s.v", Data: []byte(`{"n":1}`), ID: "e2", IDSet: true}, nil)
	must(t, err)
	_, err = f.svc.UpdateEventType(f.ctx, "s.v", func(et *hookd.EventType, _ *hookd.ValidationError) {
		et.Schema = json.RawMessage(`{"type":"object","required":["m"]}`)
	})
	must(t, err)
	again, err := f.svc.Publish(f.ctx, "acme", service.Publication{Type: "s.v", Data: []byte(`{"n":1}`), ID: "e2", IDSet: true}, nil)
	if err != nil || !again.Duplicate || again.Event.ID != "e2" || again.Deliveries != first.Deliveries || first.Deliveries == 0 {
		t.Fatalf("sent again after a schema change: %+v, %v (first %+v)", again, err, first)
	}
	must(t, f.svc.ArchiveEventType(f.ctx, "s.v"))
	if again, err = f.svc.Publish(f.ctx, "acme", service.Publication{Type: "s.v", Data: []byte(`{"n":1}`), ID: "e2", IDSet: true}, nil); err != nil || !again.Duplicate {
		t.Fatalf("sent again after its type was archived: %+v, %v", again, err)
	}
	_, err = f.svc.Publish(f.ctx, "acme", service.Publication{Type: "s.v", Data: []byte(`{"n":1}`), ID: "e3", IDSet: true}, nil)
	wantErr(t, err, hookd.ErrValidation)
}

func TestRetry(t *testing.T) {
	f := newFixture(t)
	wh := f.webhook()
	res, err := f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{}`)}, nil)
	must(t, err)
	ds, _ := f.store.ListEventDeliveries(context.Background(), "acme", res.Event.ID)
	_, err = f.svc.SetEnabled(f.ctx, "acme", wh.ID, false) // ends it FAILED
	must(t, err)
	wantErr(t, f.svc.RetryDelivery(f.ctx, "acme", ds[0].ID), hookd.ErrConflict)
	_, err = f.svc.RetryFailed(f.ctx, "acme", wh.ID, hookd.Window{})
	wantErr(t, err, hookd.ErrConflict)
	_, err = f.svc.SetEnabled(f.ctx, "acme", wh.ID, true)
	must(t, err)
	before := f.notify.Load()
	n, err := f.svc.RetryFailed(f.ctx, "acme", wh.ID, hookd.Window{})
	must(t, err)
	if n != 1 || f.notify.Load() != before+1 {
		t.Fatalf("retried %d, notified %d", n, f.notify.Load()-before)
	}
	must(t, f.svc.RetryDelivery(f.ctx, "acme", ds[0].ID))
	wantErr(t, f.svc.RetryDelivery(f.ctx, "acme", "dlv_missing"), hookd.ErrNotFound)
	if got := strings.Join(f.actions()[:2], ","); got != "deliveries.retried,deliveries.retried" {
		t.Fatalf("audit %v", f.actions())
	}
}

func TestTestSend(t *testing.T) {
	ts := &tester{}
	f := newFixture(t, func(c *service.Config) { c.Tester = ts })
	wh := f.webhook()
	_, err := f.svc.Test(f.ctx, "acme", wh.ID, "a.b", []byte(`{"x":1}`))
	must(t, err)
	if len(ts.got) != 1 || ts.got[0] != wh.ID+` a.b {"x":1}` {
		t.Fatalf("sent %v", ts.got)
	}
	// Without data, a type's first example; a type without examples is
	// left to the engine's generic body.
	_, err = f.svc.UpdateEventType(f.ctx, "a.b", func(et *hookd.EventType, _ *hookd.ValidationError) {
		et.Examples = []json.RawMessage{json.RawMessage(`{"first":true}`), json.RawMessage(`{"second":true}`)}
	})
	must(t, err)
	_, err = f.svc.Test(f.ctx, "acme", wh.ID, "a.b", nil)
	must(t, err)
	_, err = f.svc.Test(f.ctx, "acme", wh.ID, "c.d", nil)
	must(t, err)
	if len(ts.got) != 3 || ts.got[1] != wh.ID+` a.b {"first":true}` || ts.got[2] != wh.ID+" c.d " {
		t.Fatalf("sent %q", ts.got)
	}
	_, err = f.svc.Test(f.ctx, "acme", wh.ID, "Not A Type", nil)
	wantErr(t, err, hookd.ErrValidation)
	_, err = f.svc.Test(f.ctx, "acme", wh.ID, "hookd.webhook.disabled", nil) // hookd's to publish
	wantErr(t, err, hookd.ErrValidation)
	// A name outside the native rule must be a catalog type (one made by
	// Svix's rule through /api/v1), never a new one.
	_, err = f.svc.Test(f.ctx, "acme", wh.ID, "Order-Placed", nil)
	wantErr(t, err, hookd.ErrValidation)
	must(t, f.svc.CreateEventType(f.ctx, &hookd.EventType{Name: "Order-Placed"}, hookd.SvixNames, nil))
	_, err = f.svc.Test(f.ctx, "acme", wh.ID, "Order-Placed", nil)
	must(t, err)
	_, err = f.svc.Test(f.ctx, "acme", "wh_missing", "", nil)
	wantErr(t, err, hookd.ErrNotFound)
	// A process that does not deliver refuses test sends.
	api := service.New(service.Config{Store: f.store})
	_, err = api.Test(f.ctx, "acme", wh.ID, "", nil)
	wantErr(t, err, hookd.ErrUnavailable)
}

func TestTenantsAndKeys(t *testing.T) {
	f := newFixture(t)
	wantErr(t, f.svc.CreateTenant(f.ctx, &hookd.Tenant{ID: "acme", Name: "Again"}, nil), hookd.ErrConflict)
	wantErr(t, f.svc.CreateTenant(f.ctx, &hookd.Tenant{ID: "..", Name: "Dots"}, nil), hookd.ErrValidation)
	tn, err := f.svc.UpdateTenant(f.ctx, "acme", func(t *hookd.Tenant, _ *hookd.ValidationError) { t.Name = "Acme 2" })
	must(t, err)
	if got, _ := f.svc.Tenant(f.ctx, "acme"); got.Name != tn.Name {
		t.Fatalf("the cached tenant is %q after a rename", got.Name)
	}
	_, err = f.svc.UpdateTenant(f.ctx, "acme", func(t *hookd.Tenant, _ *hookd.ValidationError) { t.Name = "a\x00b" })
	wantErr(t, err, hookd.ErrValidation)
	k, key, err := f.svc.CreateAPIKey(f.ctx, "acme", "ci")
	must(t, err)
	if !strings.HasPrefix(key, service.TenantKeyPrefix) {
		t.Fatalf("key %q", key)
	}
	if got, err := f.store.APIKeyByHash(context.Background(), hookd.HashKey(key)); err != nil || got.ID != k.ID {
		t.Fatalf("the key's hash: %v %v", got, err)
	}
	must(t, f.svc.DeleteAPIKey(f.ctx, "acme", k.ID))
	wantErr(t, f.svc.DeleteAPIKey(f.ctx, "acme", k.ID), hookd.ErrNotFound)
	if got := strings.Join(f.actions(), ","); got != "key.revoked,key.created,tenant.updated" {
		t.Fatalf("audit %s", got)
	}
	must(t, f.svc.DeleteTenant(f.ctx, "acme"))
	_, err = f.svc.Tenant(f.ctx, "acme")
	wantErr(t, err, hookd.ErrNotFound)
}

func TestEventTypes(t *testing.T) {
	f := newFixture(t)
	wantErr(t, f.svc.CreateEventType(f.ctx, &hookd.EventType{Name: "a.b"}, hookd.NativeNames, nil), hookd.ErrConflict)
	wantErr(t, f.svc.CreateEventType(f.ctx, &hookd.EventType{Name: "x.y", Schema: json.RawMessage(`{"type":"nope"}`)}, hookd.NativeNames, nil), hookd.ErrValidation)
	for _, schema := range []string{`false`, `true`, ` `, `[]`} { // a schema object is meant
		wantErr(t, f.svc.CreateEventType(f.ctx, &hookd.EventType{Name: "x.y", Schema: json.RawMessage(schema)}, hookd.NativeNames, nil), hookd.ErrValidation)
	}
	// An edit that changes nothing writes nothing: updatedAt stays.
	before, err := f.store.GetEventType(f.ctx, "a.b")
	must(t, err)
	same, err := f.svc.UpdateEventType(f.ctx, "a.b", func(*hookd.EventType, *hookd.ValidationError) {})
	must(t, err)
	if after, _ := f.store.GetEventType(f.ctx, "a.b"); !same.UpdatedAt.Equal(before.UpdatedAt) || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("a no-op edit moved updatedAt: %s → %s", before.UpdatedAt, after.UpdatedAt)
	}
	_, err = f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{}`)}, nil) // caches the type
	must(t, err)
	must(t, f.svc.ArchiveEventType(f.ctx, "a.b"))
	_, err = f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{}`)}, nil)
	if strings.Join(fields(err), ",") != "type" {
		t.Fatalf("publishing an archived type: %v", err)
	}
	et, err := f.svc.UpdateEventType(f.ctx, "a.b", func(et *hookd.EventType, _ *hookd.ValidationError) { et.Archived = false })
	must(t, err)
	if et.Archived {
		t.Fatal("not restored")
	}
	wantErr(t, f.svc.ArchiveEventType(f.ctx, "x.nope"), hookd.ErrNotFound)

	// A webhook keeps an archived type it has when its list is written
	// back with another type added (a client's read-modify-write), and
	// cannot take one it did not have.
	must(t, f.svc.CreateEventType(f.ctx, &hookd.EventType{Name: "c.d"}, hookd.NativeNames, nil))
	wh := f.webhook(func(w *hookd.Webhook) { w.Events = []string{"a.b"} })
	must(t, f.svc.ArchiveEventType(f.ctx, "a.b"))
	got, err := f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.Events = []string{"a.b", "c.d"}
	})
	must(t, err)
	if strings.Join(got.Events, ",") != "a.b,c.d" {
		t.Fatalf("events %v", got.Events)
	}
	must(t, f.svc.ArchiveEventType(f.ctx, "c.d"))
	// A type or channel listed twice is one entry, kept where it first
	// came; more than MaxPatterns are refused.
	twice, err := f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.Events = []string{"c.d", "a.b", "c.d", "a.b"}
		w.Channels = []string{"eu", "us", "eu"}
	})
	must(t, err)
	if strings.Join(twice.Events, ",") != "c.d,a.b" || strings.Join(twice.Channels, ",") != "eu,us" {
		t.Fatalf("events %v channels %v", twice.Events, twice.Channels)
	}
	_, err = f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.Events = make([]string, hookd.MaxPatterns+1)
		for i := range w.Events {
			w.Events[i] = fmt.Sprintf("t.n%d", i)
		}
	})
	wantErr(t, err, hookd.ErrValidation)
	other := f.webhook(func(w *hookd.Webhook) { w.Events = []string{"*"} })
	_, err = f.svc.UpdateWebhook(f.ctx, "acme", other.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) {
		w.Events = []string{"*", "c.d"}
	})
	if strings.Join(fields(err), ",") != "events[1]" {
		t.Fatalf("adding an archived type: %v", err)
	}
}

func TestPortalSession(t *testing.T) {
	f := newFixture(t)
	token, cs, err := f.svc.CreatePortalSession(f.ctx, "acme", time.Hour, true)
	must(t, err)
	if token == "" || !cs.ReadOnly || cs.TenantID != "acme" {
		t.Fatalf("session %+v", cs)
	}
	if _, err := f.store.RedeemPortalLink(context.Background(), hookd.HashKey(token), hookd.HashKey("cookie"), time.Now()); err != nil {
		t.Fatalf("the link does not redeem: %v", err)
	}
	_, _, err = f.svc.CreatePortalSession(f.ctx, "acme", time.Second-1, false)
	wantErr(t, err, hookd.ErrValidation)
	_, _, err = f.svc.CreatePortalSession(f.ctx, "nobody", time.Hour, false)
	wantErr(t, err, hookd.ErrNotFound)
}

func TestCancel(t *testing.T) {
	f := newFixture(t)
	wh := f.webhook()
	for range 2 {
		_, err := f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{}`)}, nil)
		must(t, err)
	}
	n, err := f.svc.CancelDeliveries(f.ctx, "acme", wh.ID, time.Time{})
	if err != nil || n != 2 {
		t.Fatalf("canceled %d, %v", n, err)
	}
	if n, _ := f.svc.CancelDeliveries(f.ctx, "acme", wh.ID, time.Time{}); n != 0 {
		t.Fatalf("again: %d", n)
	}
	_, err = f.svc.CancelDeliveries(f.ctx, "acme", "wh_missing", time.Time{})
	wantErr(t, err, hookd.ErrNotFound)
	if got := f.actions(); got[0] != hookd.AuditDeliveriesCanceled || got[1] != hookd.AuditWebhookCreated {
		t.Fatalf("audit %v", got)
	}
}

// Every refusal by the SSRF guard and every disable is logged (the
// contract), with tenant, webhook and reason; a refused create stores
// nothing.
func TestLogsRefusalsAndDisables(t *testing.T) {
	var buf bytes.Buffer
	f := newFixture(t, func(c *service.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	records := func(msg string) []map[string]any {
		var out []map[string]any
		for line := range strings.Lines(buf.String()) {
			var r map[string]any
			if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == msg {
				out = append(out, r)
			}
		}
		return out
	}
	wh := f.svc.NewWebhook("acme")
	wh.Name, wh.URL, wh.Events = "internal", "http://10.1.2.3/hook", []string{"*"}
	if err := f.svc.CreateWebhook(f.ctx, wh, nil, nil); strings.Join(fields(err), ",") != "url" {
		t.Fatalf("a private address: %v", err)
	}
	if r := records("webhook URL refused by the SSRF guard"); len(r) != 1 || r[0]["tenant"] != "acme" || r[0]["host"] != "10.1.2.3" ||
		!strings.Contains(r[0]["reason"].(string), "private") {
		t.Fatalf("the refusal's log: %v\n%s", r, buf.String())
	}
	if _, err := f.svc.Webhook(f.ctx, "acme", wh.ID); !errors.Is(err, hookd.ErrNotFound) {
		t.Fatalf("a refused webhook was stored: %v", err)
	}
	ok := f.webhook()
	if r := records("webhook URL refused by the SSRF guard"); len(r) != 1 {
		t.Fatalf("an allowed URL was logged as refused: %v", r)
	}
	_, err := f.svc.SetEnabled(f.ctx, "acme", ok.ID, false)
	must(t, err)
	_, err = f.svc.SetEnabled(f.ctx, "acme", ok.ID, false) // already disabled: no disable
	must(t, err)
	if r := records("webhook disabled"); len(r) != 1 || r[0]["tenant"] != "acme" || r[0]["webhook"] != ok.ID ||
		r[0]["reason"] != hookd.DisabledManual || r[0]["actor"] != "key" || r[0]["actorId"] != "key_test" {
		t.Fatalf("the disable's log: %v\n%s", r, buf.String())
	}
}

// stepCounter counts a long delete's steps and the most any step was let
// take, and can end its caller's context after the first.
type stepCounter struct {
	hookd.Store
	deliveries, events, most int
	cancel                   context.CancelFunc
	// during runs before each step: the tenant publishing meanwhile.
	during func()
}

func (c *stepCounter) DeleteDeliveries(ctx context.Context, p hookd.DeleteDeliveriesParams) (int, string, error) {
	c.deliveries, c.most = c.deliveries+1, max(c.most, p.Limit)
	return c.Store.DeleteDeliveries(ctx, p)
}

func (c *stepCounter) DeleteEvents(ctx context.Context, p hookd.DeleteEventsParams) (int, int64, error) {
	c.events, c.most = c.events+1, max(c.most, p.Limit)
	if c.cancel != nil {
		c.cancel()
	}
	if c.during != nil {
		if c.events > 50 {
			return 0, p.After, errors.New("the steps go on while the tenant publishes")
		}
		c.during()
	}
	return c.Store.DeleteEvents(ctx, p)
}

// A webhook's or a tenant's history goes in steps of at most
// Config.DeleteStep (each its own transaction), then the rest with the
// webhook or tenant, even when the caller goes away half way.
func TestDeleteInSteps(t *testing.T) {
	service.StillStepClock(t)
	var c *stepCounter
	f := newFixture(t, func(cfg *service.Config) {
		c = &stepCounter{Store: cfg.Store}
		cfg.Store, cfg.DeleteStep = c, 2
	})
	a, b := f.webhook(), f.webhook()
	var evs []string
	for range 5 {
		res, err := f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{}`)}, nil)
		must(t, err)
		evs = append(evs, res.Event.ID)
	}
	must(t, f.svc.DeleteWebhook(f.ctx, "acme", a.ID))
	if c.deliveries < 3 || c.most != 2 {
		t.Fatalf("a's 5 deliveries went in %d steps of at most %d, want 3 or more of at most 2", c.deliveries, c.most)
	}
	for _, id := range evs {
		ds, err := f.store.ListEventDeliveries(context.Background(), "acme", id)
		must(t, err)
		if len(ds) != 1 || ds[0].WebhookID != b.ID {
			t.Fatalf("deliveries left of %s: %+v", id, ds)
		}
	}
	if got := f.actions()[0]; got != "webhook.deleted" {
		t.Fatalf("last audit entry %s", got)
	}

	ctx, cancel := context.WithCancel(f.ctx)
	c.most, c.cancel = 0, cancel
	must(t, f.svc.DeleteTenant(ctx, "acme"))
	if c.events < 3 || c.most != 2 {
		t.Fatalf("5 events went in %d steps of at most %d, want 3 or more of at most 2", c.events, c.most)
	}
	_, err := f.svc.Tenant(f.ctx, "acme")
	wantErr(t, err, hookd.ErrNotFound)
	_, err = f.store.GetEvent(context.Background(), "acme", evs[0])
	wantErr(t, err, hookd.ErrNotFound)
	wantErr(t, f.svc.DeleteTenant(f.ctx, "acme"), hookd.ErrNotFound)

	// The steps end while the tenant publishes faster than they go: they
	// take what was there when the delete began, the tenant the rest.
	must(t, f.svc.CreateTenant(f.ctx, &hookd.Tenant{ID: "acme", Name: "Acme"}, nil))
	f.webhook()
	publish := func(n int) {
		for range n {
			_, err := f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{}`)}, nil)
			must(t, err)
		}
	}
	publish(5)
	c.events, c.cancel, c.during = 0, nil, func() { publish(3) }
	must(t, f.svc.DeleteTenant(f.ctx, "acme"))
	if c.events > 4 {
		t.Fatalf("%d steps for 5 events", c.events)
	}
	list, err := f.store.ListEvents(context.Background(), hookd.EventQuery{TenantID: "acme", Limit: 100})
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("%d events outlived their tenant", len(list))
	}
}

// Every change that could stop a delivery the engine holds tells it, after
// the change and before the answer, and then settles it (the other
// processes told); what changes nothing tells it nothing.
func TestChangesTellTheEngine(t *testing.T) {
	var told, settled atomic.Int32
	var last atomic.Value
	f := newFixture(t, func(cfg *service.Config) {
		cfg.Changed = func(id string) { told.Add(1); last.Store(id) }
		cfg.Settle = func(context.Context) error {
			if settled.Add(1) != told.Load() {
				t.Error("settled before the engine was told")
			}
			return nil
		}
	})
	wh := f.webhook()
	for _, tc := range []struct {
		name string
		do   func() error
		want int32
	}{
		{"publish", func() error {
			_, err := f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{}`)}, nil)
			return err
		}, 0},
		{"edit", func() error {
			_, err := f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) { w.URL = "https://example.com/p" })
			return err
		}, 1},
		{"rename", func() error {
			_, err := f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) { w.Name, w.Description = "renamed", "d" })
			return err
		}, 0},
		{"refused edit", func() error {
			_, err := f.svc.UpdateWebhook(f.ctx, "acme", wh.ID, time.Time{}, func(w *hookd.Webhook, _ *hookd.ValidationError) { w.Name = "" })
			if !errors.Is(err, hookd.ErrValidation) {
				return fmt.Errorf("a webhook without a name: %v", err)
			}
			return nil
		}, 0},
		{"rotation", func() error { _, err := f.svc.RotateSecret(f.ctx, "acme", wh.ID, nil, nil); return err }, 1},
		{"disable", func() error { _, err := f.svc.SetEnabled(f.ctx, "acme", wh.ID, false); return err }, 1},
		{"enable", func() error { _, err := f.svc.SetEnabled(f.ctx, "acme", wh.ID, true); return err }, 1},
		{"cancel", func() error { _, err := f.svc.CancelDeliveries(f.ctx, "acme", wh.ID, time.Time{}); return err }, 1},
		{"delete", func() error { return f.svc.DeleteWebhook(f.ctx, "acme", wh.ID) }, 1},
		{"tenant delete", func() error { return f.svc.DeleteTenant(f.ctx, "acme") }, 1},
	} {
		before, settledBefore := told.Load(), settled.Load()
		last.Store("none")
		if err := tc.do(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := told.Load() - before; got != tc.want {
			t.Errorf("%s told the engine %d times, want %d", tc.name, got, tc.want)
		}
		if got := settled.Load() - settledBefore; got != tc.want {
			t.Errorf("%s settled %d times, want %d", tc.name, got, tc.want)
		}
		want := "none"
		switch {
		case tc.name == "tenant delete":
			want = "" // every webhook
		case tc.want > 0:
			want = wh.ID
		}
		if got := last.Load(); got != want {
			t.Errorf("%s told the engine of %q, want %q", tc.name, got, want)
		}
	}
}

// A filter that fails on an event (a field the event lacks) is no match,
// and says so in the log, once a minute a webhook.
func TestFilterFailureLogged(t *testing.T) {
	var buf bytes.Buffer // the log is written within Publish, read after it
	f := newFixture(t, func(c *service.Config) { c.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	wh := f.webhook(func(w *hookd.Webhook) { w.Filter = "data.missing.x == 1" })
	for range 3 {
		res, err := f.svc.Publish(f.ctx, "acme", service.Publication{Type: "a.b", Data: []byte(`{"n":1}`)}, nil)
		must(t, err)
		if res.Deliveries != 0 {
			t.Fatalf("a failing filter matched: %d deliveries", res.Deliveries)
		}
	}
	lines := strings.Count(buf.String(), `"msg":"a webhook's filter failed on an event`)
	if lines != 1 || !strings.Contains(buf.String(), `"webhook":"`+wh.ID+`"`) {
		t.Fatalf("%d lines logged, want 1 naming %s:\n%s", lines, wh.ID, buf.String())
	}
}

// A blank filter is no filter, as an empty one is.
func TestBlankFilterIsNone(t *testing.T) {
	f := newFixture(t)
	wh := f.webhook(func(w *hookd.Webhook) { w.Filter = "  \t " })
	if got, _ := f.svc.Webhook(f.ctx, "acme", wh.ID); got.Filter != "" {
		t.Fatalf("filter %q", got.Filter)
	}
}

// hookd's namespace is reserved in any case: Svix's names may have
// capitals, and HOOKD.webhook.disabled would read as hookd's own.
func TestReservedNamespaceAnyCase(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"hookd.mine", "HOOKD.webhook.disabled", "Hookd.x"} {
		wantErr(t, f.svc.CreateEventType(f.ctx, &hookd.EventType{Name: name}, hookd.SvixNames, nil), hookd.ErrValidation)
	}
	must(t, f.svc.CreateEventType(f.ctx, &hookd.EventType{Name: "hookdish.x"}, hookd.SvixNames, nil))
}
