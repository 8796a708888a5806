package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/postgres"
	"github.com/hookd/hookd/postgres/pgtest"
	"github.com/hookd/hookd/queue"
	"github.com/hookd/hookd/sqlite"
)

var loopback = netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")})

type harness struct {
	t      *testing.T
	store  hookd.Store
	engine *delivery.Engine
	cfg    delivery.Config
	n      atomic.Int64
}

func newHarness(t *testing.T, mods ...func(*delivery.Config)) *harness {
	t.Helper()
	store, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "hookd.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return newHarnessOn(t, store, mods...)
}

// newHarnessOn is newHarness on a store of the test's.
func newHarnessOn(t *testing.T, store hookd.Store, mods ...func(*delivery.Config)) *harness {
	t.Helper()
	now := time.Now()
	if err := store.CreateTenant(context.Background(), &hookd.Tenant{ID: "acme", Name: "Acme", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	cfg := delivery.Config{
		Store: store, Guard: loopback, RetrySchedule: []time.Duration{50 * time.Millisecond},
		PollInterval: 50 * time.Millisecond, Lease: 5 * time.Second, ShutdownTimeout: 2 * time.Second,
	}
	for _, m := range mods {
		m(&cfg)
	}
	h := &harness{t: t, store: store, cfg: cfg}
	h.start()
	return h
}

func (h *harness) start() {
	var err error
	if h.engine, err = delivery.New(h.cfg); err != nil {
		h.t.Fatal(err)
	}
	if err := h.engine.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	e := h.engine
	h.t.Cleanup(e.Stop)
}

func (h *harness) webhook(url string, mods ...func(*hookd.Webhook)) *hookd.Webhook {
	h.t.Helper()
	now := time.Now().UTC()
	w := &hookd.Webhook{
		ID: hookd.NewID(hookd.PrefixWebhook, now), TenantID: "acme", Name: "w", URL: url, Events: []string{"*"},
		Timeout: 5 * time.Second, Enabled: true, SSLVerification: true, MaxAttempts: 3,
		Secret: hookd.GenerateSecret(hookd.SchemeStandard), CreatedAt: now, UpdatedAt: now,
	}
	for _, m := range mods {
		m(w)
	}
	if err := h.store.CreateWebhook(context.Background(), w); err != nil {
		h.t.Fatal(err)
	}
	return w
}

// newEvent makes a new event of tenant acme.
func newEvent(h *harness) *hookd.Event {
	h.t.Helper()
	now := hookd.Truncate(time.Now())
	ev := &hookd.Event{ID: fmt.Sprintf("evt_%d_%d", now.UnixNano(), h.n.Add(1)), TenantID: "acme", Type: "invocation.completed", Timestamp: now}
	if err := ev.BuildPayload(json.RawMessage(`{"n":1,"s":"<é>"}`), json.RawMessage(`{"k":"v"}`)); err != nil {
		h.t.Fatal(err)
	}
	return ev
}

func (h *harness) publish(hooks ...*hookd.Webhook) *hookd.Event {
	h.t.Helper()
	ev := newEvent(h)
	ids := make([]string, len(hooks))
	for i, w := range hooks {
		ids[i] = w.ID
	}
	if _, err := h.store.PublishEvent(context.Background(), ev, ids, nil); err != nil {
		h.t.Fatal(err)
	}
	h.engine.Notify()
	return ev
}

// settle returns once the engine has looked for due work twice since the
// call, woken each time, and holds nothing: whatever it was going to send
// by now, it has sent. Tests prove that something is not sent with it,
// instead of sleeping.
func (h *harness) settle() {
	h.t.Helper()
	for range 2 {
		n := h.engine.Loops()
		h.engine.Notify()
		deadline := time.Now().Add(10 * time.Second)
		for h.engine.Loops() <= n+1 || h.engine.Held() > 0 {
			if time.Now().After(deadline) {
				h.t.Fatal("the engine did not settle")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (h *harness) setEnabled(w *hookd.Webhook, enabled bool) {
	h.t.Helper()
	h.edit(w, func(w *hookd.Webhook) { w.Enabled = enabled })
}

// edit changes a webhook in the store, as an API call would.
func (h *harness) edit(w *hookd.Webhook, change func(*hookd.Webhook)) {
	h.t.Helper()
	if _, _, err := hookd.EditWebhook(context.Background(), h.store, nil, "acme", w.ID, func(w *hookd.Webhook) error {
		change(w)
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
}

// repoint gives a webhook a new URL.
func repoint(h *harness, w *hookd.Webhook, url string) {
	h.edit(w, func(w *hookd.Webhook) { w.URL = url })
}

// wantSent checks how many requests the old and the new URL got.
func wantSent(t *testing.T, old, moved *receiver, toOld, toNew int) {
	t.Helper()
	if got := len(old.got()); got != toOld {
		t.Fatalf("the old URL got %d requests, want %d", got, toOld)
	}
	if got := len(moved.got()); got != toNew {
		t.Fatalf("the new URL got %d requests, want %d", got, toNew)
	}
}

// wait polls the event's delivery to webhook until cond holds.
func (h *harness) wait(ev *hookd.Event, w *hookd.Webhook, what string, cond func(*hookd.DeliveryDetail) bool) *hookd.DeliveryDetail {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last *hookd.DeliveryDetail
	for time.Now().Before(deadline) {
		ds, err := h.store.ListEventDeliveries(context.Background(), "acme", ev.ID)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, d := range ds {
			if d.WebhookID != w.ID {
				continue
			}
			dd, err := h.store.GetDelivery(context.Background(), "acme", d.ID)
			if err != nil {
				h.t.Fatal(err)
			}
			last = dd
			if cond(dd) {
				return dd
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if last != nil {
		h.t.Fatalf("timed out waiting for %s; delivery %+v, %d attempts", what, last.Delivery, len(last.Attempts))
	}
	h.t.Fatalf("timed out waiting for %s; no delivery", what)
	return nil
}

func status(s hookd.DeliveryStatus) func(*hookd.DeliveryDetail) bool {
	return func(d *hookd.DeliveryDetail) bool { return d.Delivery.Status == s }
}

type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

func newReceiver(t *testing.T, h http.HandlerFunc) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, received{req.Header.Clone(), body, time.Now()})
		r.mu.Unlock()
		if h != nil {
			h(w, req)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

func TestDeliversTheContractRequest(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Receiver", "yes")
		w.WriteHeader(204)
	})
	wh := h.webhook(rcv.URL+"/hook?x=1", func(w *hookd.Webhook) {
		w.Headers = map[string]string{"X-Team": "blue", "Authorization": "Bearer receiver-token"}
	})
	ev := h.publish(wh)
	dd := h.wait(ev, wh, "success", status(hookd.StatusSuccess))

	reqs := rcv.got()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests", len(reqs))
	}
	req := reqs[0]
	if string(req.body) != string(ev.Payload) {
		t.Fatalf("body = %s, want the stored payload %s", req.body, ev.Payload)
	}
	var env map[string]any
	if err := json.Unmarshal(req.body, &env); err != nil || env["id"] != ev.ID || env["type"] != ev.Type || env["metadata"] == nil {
		t.Fatalf("envelope = %s", req.body)
	}
	for name, want := range map[string]string{
		"Content-Type": "application/json", "User-Agent": "hookd/" + hookd.Version, "webhook-id": ev.ID,
		"hookd-event-type": ev.Type, "hookd-delivery-id": dd.Delivery.ID, "hookd-attempt": "1",
		"X-Team": "blue", "Authorization": "Bearer receiver-token",
	} {
		if got := req.header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	ts, _ := strconv.ParseInt(req.header.Get("webhook-timestamp"), 10, 64)
	if d := time.Since(time.Unix(ts, 0)); d < -2*time.Second || d > 10*time.Second {
		t.Errorf("webhook-timestamp %d is not the attempt's time", ts)
	}
	lib, _ := standardwebhooks.NewWebhook(wh.Secret)
	if err := lib.Verify(req.body, req.header); err != nil {
		t.Fatalf("Standard Webhooks library rejects the request: %v", err)
	}

	d := dd.Delivery
	if d.Attempts != 1 || d.LastStatusCode != 204 || d.LastError != "" || !d.NextAttemptAt.IsZero() {
		t.Fatalf("delivery = %+v", d)
	}
	if len(dd.Attempts) != 1 {
		t.Fatalf("attempt log has %d entries", len(dd.Attempts))
	}
	a := dd.Attempts[0]
	if a.Number != 1 || a.StatusCode != 204 || !a.Success || a.ResponseHeaders["X-Receiver"] != "yes" {
		t.Fatalf("attempt = %+v", a)
	}
	if _, ok := a.RequestHeaders["Webhook-Signature"]; ok {
		t.Fatal("the attempt log keeps the signature")
	}
	if a.RequestHeaders["Authorization"] != "[redacted]" || a.RequestHeaders["Webhook-Id"] != ev.ID {
		t.Fatalf("logged request headers = %v", a.RequestHeaders)
	}
	if string(dd.Payload) != string(ev.Payload) {
		t.Fatal("stored payload differs")
	}
}

func TestFailureKinds(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) { c.RetrySchedule = []time.Duration{time.Hour} })
	redirected := atomic.Bool{}
	target := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { redirected.Store(true) })
	mux := http.NewServeMux()
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500); io.WriteString(w, "boom") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target.URL, http.StatusFound) })
	srv := newReceiver(t, mux.ServeHTTP)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	t.Cleanup(tlsSrv.Close)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()

	tests := []struct {
		name    string
		url     string
		mod     func(*hookd.Webhook)
		code    int
		errText string
	}{
		{"non-2xx", srv.URL + "/500", nil, 500, "HTTP 500"},
		{"timeout", srv.URL + "/slow", func(w *hookd.Webhook) { w.Timeout = time.Second }, 0, "timeout"},
		{"connection refused", refused, nil, 0, "refused"},
		{"tls unverified", tlsSrv.URL, nil, 0, "certificate"},
		{"redirect", srv.URL + "/redirect", nil, 302, "redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mods []func(*hookd.Webhook)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			wh := h.webhook(tt.url, mods...)
			ev := h.publish(wh)
			dd := h.wait(ev, wh, "a failed attempt", func(d *hookd.DeliveryDetail) bool { return d.Delivery.Attempts == 1 })
			d := dd.Delivery
			if d.Status != hookd.StatusRetrying || d.LastStatusCode != tt.code || !strings.Contains(d.LastError, tt.errText) {
				t.Fatalf("delivery = status %s code %d error %q; want RETRYING, %d, %q", d.Status, d.LastStatusCode, d.LastError, tt.code, tt.errText)
			}
			if next := d.NextAttemptAt.Sub(dd.Attempts[0].StartedAt); next < 40*time.Minute {
				t.Fatalf("next attempt in %v, want the schedule's hour ±20%%", next)
			}
		})
	}
	if redirected.Load() {
		t.Fatal("a redirect was followed")
	}
	// With sslVerification off the same TLS server is a success.
	wh := h.webhook(tlsSrv.URL, func(w *hookd.Webhook) { w.SSLVerification = false })
	h.wait(h.publish(wh), wh, "success without verification", status(hookd.StatusSuccess))
}

func TestRetriesUntilSuccessThenFailed(t *testing.T) {
	h := newHarness(t)
	var calls atomic.Int32
	flaky := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(503)
		}
	})
	wh := h.webhook(flaky.URL)
	ev := h.publish(wh)
	dd := h.wait(ev, wh, "success on the third attempt", status(hookd.StatusSuccess))
	if dd.Delivery.Attempts != 3 || len(dd.Attempts) != 3 {
		t.Fatalf("attempts = %d, log %d", dd.Delivery.Attempts, len(dd.Attempts))
	}
	for i, r := range flaky.got() {
		if r.header.Get("webhook-id") != ev.ID || r.header.Get("hookd-attempt") != strconv.Itoa(i+1) {
			t.Fatalf("request %d: webhook-id %q attempt %q", i, r.header.Get("webhook-id"), r.header.Get("hookd-attempt"))
		}
	}

	dead := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	wh2 := h.webhook(dead.URL, func(w *hookd.Webhook) { w.MaxAttempts = 2 })
	ev2 := h.publish(wh2)
	dd = h.wait(ev2, wh2, "failure after maxAttempts", status(hookd.StatusFailed))
	if dd.Delivery.Attempts != 2 || !dd.Delivery.NextAttemptAt.IsZero() {
		t.Fatalf("failed delivery = %+v", dd.Delivery)
	}
	h.settle()
	if n := len(dead.got()); n != 2 {
		t.Fatalf("receiver got %d requests after FAILED, want 2", n)
	}
}

func TestRetryAfter(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(429)
	})
	wh := h.webhook(rcv.URL)
	ev := h.publish(wh)
	dd := h.wait(ev, wh, "a 429", func(d *hookd.DeliveryDetail) bool { return d.Delivery.Attempts == 1 })
	if wait := dd.Delivery.NextAttemptAt.Sub(dd.Attempts[0].StartedAt); wait < 2*time.Minute || wait > 2*time.Minute+5*time.Second {
		t.Fatalf("next attempt after %v, want Retry-After's 2m over the 50ms schedule", wait)
	}
}

func TestResponseBodyCapped(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		for { // endless: until the client goes away
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	wh := h.webhook(rcv.URL)
	dd := h.wait(h.publish(wh), wh, "success", status(hookd.StatusSuccess))
	if n := len(dd.Attempts[0].ResponseBody); n != hookd.MaxResponseBody {
		t.Fatalf("kept %d bytes of the response, want %d", n, hookd.MaxResponseBody)
	}
}

// hookd asks for no compression, and keeps what a receiver sends unasked
// as it came: its Content-Encoding, and the bytes (not unpacked, nor lost
// when they are no gzip at all).
func TestResponseKeptAsSent(t *testing.T) {
	h := newHarness(t)
	var asked atomic.Value
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.Header.Get("Accept-Encoding"))
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("notgzip!!!"))
	})
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.MaxAttempts = 1 })
	dd := h.wait(h.publish(wh), wh, "failed", status(hookd.StatusFailed))
	a := dd.Attempts[0]
	if asked.Load() != "" || a.RequestHeaders["Accept-Encoding"] != "" {
		t.Fatalf("asked for %q", asked.Load())
	}
	if string(a.ResponseBody) != "notgzip!!!" || a.ResponseHeaders["Content-Encoding"] != "gzip" {
		t.Fatalf("kept %q with headers %v", a.ResponseBody, a.ResponseHeaders)
	}
}

// logBuf collects an engine's log as JSON lines.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }

// records returns the lines whose message is msg.
func (l *logBuf) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	text := l.b.String()
	l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		var m map[string]any
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func logTo(l *logBuf) func(*delivery.Config) {
	return func(c *delivery.Config) { c.Logger = slog.New(slog.NewJSONHandler(l, nil)) }
}

// Every failed attempt is logged with who and why (the contract); the
// last says it was the last.
func TestFailedAttemptsLogged(t *testing.T) {
	var log logBuf
	h := newHarness(t, logTo(&log))
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	wh := h.webhook(rcv.URL)
	ev := h.publish(wh)
	dd := h.wait(ev, wh, "three failed attempts", status(hookd.StatusFailed))
	lines := log.records(t, "attempt failed")
	if len(lines) != 3 || dd.Delivery.Attempts != 3 {
		t.Fatalf("%d lines for %d failed attempts: %v", len(lines), dd.Delivery.Attempts, lines)
	}
	for i, l := range lines {
		if l["level"] != "WARN" || l["tenant"] != "acme" || l["webhook"] != wh.ID || l["delivery"] != dd.Delivery.ID || l["event"] != ev.ID ||
			l["reason"] != "HTTP 503" || l["status"] != 503.0 || l["attempt"] != float64(i+1) || l["notLogged"] != nil {
			t.Fatalf("line %d: %v", i, l)
		}
		if last := i == len(lines)-1; last != (l["final"] == true) || last == (l["retryIn"] != nil) {
			t.Fatalf("line %d: final %v, retryIn %v", i, l["final"], l["retryIn"])
		}
	}
}

// Limited (--failed-attempt-log-every), a webhook's failed attempts make
// one line per interval: here three make one.
func TestFailedAttemptsLogLimited(t *testing.T) {
	var log logBuf
	h := newHarness(t, logTo(&log), func(c *delivery.Config) { c.FailureLogEvery, c.FailureLogBurst = time.Minute, 20 })
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	wh := h.webhook(rcv.URL)
	ev := h.publish(wh)
	dd := h.wait(ev, wh, "three failed attempts", status(hookd.StatusFailed))
	if lines := log.records(t, "attempt failed"); len(lines) != 1 || lines[0]["attempt"] != 1.0 {
		t.Fatalf("%d lines for %d failed attempts: %v", len(lines), dd.Delivery.Attempts, lines)
	}
}

// A test send that fails is logged as any failed attempt, a refusal of the
// SSRF guard as such.
func TestFailedTestSendLogged(t *testing.T) {
	var log logBuf
	h := newHarness(t, logTo(&log), func(c *delivery.Config) { c.Guard = netguard.New(nil) })
	rcv := newReceiver(t, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(rcv.URL, "http://"))
	wh := h.webhook("http://localhost:" + port + "/")
	res, err := h.engine.Test(context.Background(), wh, "", nil)
	if err != nil || res.Success {
		t.Fatalf("test send %+v %v", res, err)
	}
	lines := log.records(t, "attempt refused by the SSRF guard")
	if len(lines) != 1 || lines[0]["webhook"] != wh.ID || lines[0]["delivery"] != res.DeliveryID || lines[0]["final"] != true {
		t.Fatalf("log lines %v", lines)
	}
}

func TestSSRFGuardAtDialTime(t *testing.T) {
	var log logBuf
	h := newHarness(t, func(c *delivery.Config) { c.Guard = netguard.New(nil) }, logTo(&log))
	rcv := newReceiver(t, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(rcv.URL, "http://"))
	// "localhost" resolves to a loopback address only when dialled: the
	// create-time check never saw an address (the webhook is stored directly).
	wh := h.webhook("http://localhost:" + port + "/")
	dd := h.wait(h.publish(wh), wh, "a refused attempt", func(d *hookd.DeliveryDetail) bool { return d.Delivery.Attempts == 1 })
	// The tenant reads the kind of address, not which: what hookd's DNS
	// maps a name to is the operator's.
	if want := "the receiver's address is a loopback address: blocked by the SSRF guard"; dd.Delivery.LastError != want {
		t.Fatalf("lastError = %q, want %q", dd.Delivery.LastError, want)
	}
	if n := len(rcv.got()); n != 0 {
		t.Fatalf("the blocked receiver got %d requests", n)
	}
	// The log says so, with the address, and how to let the network through.
	lines := log.records(t, "attempt refused by the SSRF guard")
	if len(lines) != 1 || lines[0]["webhook"] != wh.ID || lines[0]["tenant"] != "acme" ||
		!strings.Contains(lines[0]["reason"].(string), "loopback") || !strings.Contains(lines[0]["hint"].(string), "--allow-networks") {
		t.Fatalf("log lines %v", lines)
	}
	if addr, _ := lines[0]["addr"].(string); addr != "127.0.0.1" && addr != "::1" {
		t.Fatalf("log line's addr = %v, want the loopback address dialled", lines[0]["addr"])
	}
}

func TestAbandonedClaimIsResent(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) { c.Lease = time.Second })
	h.engine.Stop()
	rcv := newReceiver(t, nil)
	wh := h.webhook(rcv.URL)
	ev := h.publish(wh)
	// A process claims the delivery and dies before recording anything.
	res, err := queue.Claim(context.Background(), h.store, queue.ClaimParams{
		Lease: time.Second, Limit: 10, Room: func(string, string) (int, time.Duration) { return 10, time.Second },
	})
	if err != nil || len(res.Claims) != 1 {
		t.Fatalf("claim = %v, %v", res, err)
	}
	h.start()
	dd := h.wait(ev, wh, "re-sent after the lease", status(hookd.StatusSuccess))
	if since := dd.Attempts[0].StartedAt.Sub(ev.Timestamp); since < 900*time.Millisecond {
		t.Fatalf("sent %v after publish, before the dead claim's lease ran out", since)
	}
}

func TestStopMidAttemptResends(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select { // the first attempt hangs until the engine gives up on it
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	defer close(release)
	var log logBuf
	h := newHarness(t, func(c *delivery.Config) { c.ShutdownTimeout = 200 * time.Millisecond }, logTo(&log))
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.Timeout = 2 * time.Second })
	ev := h.publish(wh)
	for calls.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	h.engine.Stop() // gives up on the hanging attempt and releases it
	// The log says what the stop waited for, then that it cut it off.
	if w := log.records(t, "stopping: waiting for the deliveries in flight"); len(w) != 1 || w[0]["deliveries"] != 1.0 {
		t.Fatalf("the stop's log: %v", w)
	}
	if c := log.records(t, "stopping: cancelling sends still in flight; they will be sent again once their timeout has passed"); len(c) != 1 {
		t.Fatalf("the cut-off's log: %v", c)
	}
	dd, _ := h.store.ListEventDeliveries(context.Background(), "acme", ev.ID)
	if dd[0].Attempts != 0 || dd[0].Status != hookd.StatusPending {
		t.Fatalf("after stop: %+v; a cut-off attempt must not count", dd[0])
	}
	// Its receiver may still be at the first request: it is due again
	// when that would have timed out, not at once (an audit: the next
	// process sent it while the first copy was still being handled).
	first := rcv.got()[0].at
	if due := dd[0].NextAttemptAt.Sub(first); due < wh.Timeout-100*time.Millisecond || due > wh.Timeout+time.Second {
		t.Fatalf("due %v after the cut-off attempt began, want its timeout %v", due, wh.Timeout)
	}
	h.start()
	got := h.wait(ev, wh, "success after restart", status(hookd.StatusSuccess))
	if got.Delivery.Attempts != 1 || calls.Load() != 2 {
		t.Fatalf("attempts %d, requests %d", got.Delivery.Attempts, calls.Load())
	}
	if again := rcv.got()[1].at.Sub(first); again < wh.Timeout-100*time.Millisecond {
		t.Fatalf("sent again %v after the cut-off attempt began, within its timeout %v", again, wh.Timeout)
	}
}

func TestIsolation(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) {
		c.PerEndpoint = 4
		c.Workers = 64
	})
	hang := make(chan struct{})
	defer close(hang)
	var blackholed atomic.Int32
	black := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		blackholed.Add(1)
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	healthy := newReceiver(t, nil)
	bh := h.webhook(black.URL, func(w *hookd.Webhook) { w.Timeout = 30 * time.Second })
	ok := h.webhook(healthy.URL)
	var events []*hookd.Event
	for i := 0; i < 200; i++ {
		events = append(events, h.publish(bh, ok))
	}
	for _, ev := range events {
		h.wait(ev, ok, "healthy delivery", status(hookd.StatusSuccess))
	}
	// Every healthy delivery went through while the blackhole held its
	// requests; it never had more in flight than its cap.
	if n := blackholed.Load(); n > 4 {
		t.Fatalf("the blackholed endpoint had %d requests in flight, cap 4", n)
	}
	if n := len(healthy.got()); n != 200 {
		t.Fatalf("healthy endpoint got %d requests", n)
	}
}

func TestDisabledWebhook(t *testing.T) {
	h := newHarness(t)
	h.engine.Stop()
	rcv := newReceiver(t, nil)
	wh := h.webhook(rcv.URL)
	ev := h.publish(wh)
	h.setEnabled(wh, false)
	h.start()
	dd := h.wait(ev, wh, "failed", status(hookd.StatusFailed))
	if dd.Delivery.LastError != "webhook disabled" || dd.Delivery.Attempts != 0 {
		t.Fatalf("delivery = %+v", dd.Delivery)
	}
	time.Sleep(200 * time.Millisecond)
	if len(rcv.got()) != 0 {
		t.Fatal("a disabled webhook got a request")
	}
	h.setEnabled(wh, true)
	n, err := h.store.RetryFailed(context.Background(), "acme", wh.ID, hookd.Window{})
	if err != nil || n != 1 {
		t.Fatalf("RetryFailed = %d, %v", n, err)
	}
	h.engine.Notify()
	h.wait(ev, wh, "delivered after re-enabling", status(hookd.StatusSuccess))
}

func TestManualRetryIsOneAttempt(t *testing.T) {
	h := newHarness(t)
	var fail atomic.Bool
	fail.Store(true)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(500)
		}
	})
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.MaxAttempts = 2 })
	ev := h.publish(wh)
	dd := h.wait(ev, wh, "failed", status(hookd.StatusFailed))
	if err := h.store.RetryDelivery(context.Background(), "acme", dd.Delivery.ID); err != nil {
		t.Fatal(err)
	}
	h.engine.Notify()
	dd = h.wait(ev, wh, "failed again after one manual attempt", func(d *hookd.DeliveryDetail) bool {
		return d.Delivery.Attempts == 3 && d.Delivery.Status == hookd.StatusFailed
	})
	h.settle()
	if n := len(rcv.got()); n != 3 {
		t.Fatalf("requests = %d, want 3: a failed manual retry is not retried", n)
	}
	fail.Store(false)
	if err := h.store.RetryDelivery(context.Background(), "acme", dd.Delivery.ID); err != nil {
		t.Fatal(err)
	}
	h.engine.Notify()
	h.wait(ev, wh, "success on manual retry", status(hookd.StatusSuccess))
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t, nil)
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.RateLimit = 5 })
	var events []*hookd.Event
	for i := 0; i < 15; i++ {
		events = append(events, h.publish(wh))
	}
	for _, ev := range events {
		h.wait(ev, wh, "delivered", status(hookd.StatusSuccess))
	}
	got := rcv.got()
	// A burst of 5, then 5 a second: 15 requests span at least 2 seconds,
	// and no second holds more than the burst and a second's worth (a
	// limiter that let 14 through at once would pass the span alone).
	if span := got[len(got)-1].at.Sub(got[0].at); span < 1800*time.Millisecond {
		t.Fatalf("15 requests at 5/s took %v", span)
	}
	for i := range got {
		n := 0
		for j := i; j < len(got) && got[j].at.Sub(got[i].at) < time.Second; j++ {
			n++
		}
		if n > 10 {
			t.Fatalf("%d requests within a second from request %d: the limit is a burst of 5 and 5 a second", n, i)
		}
	}
}

// During a rotation's grace each secret still in it signs: the one rotated
// out last and one rotated out before it (a receiver that never switched
// to the middle one), not one whose grace has ended.
func TestRotationSignsWithBoth(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t, nil)
	oldSecret, olderSecret := hookd.GenerateSecret(hookd.SchemeStandard), hookd.GenerateSecret(hookd.SchemeStandard)
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) {
		w.PreviousSecrets = []hookd.OldSecret{{Secret: oldSecret, ExpiresAt: time.Now().Add(time.Hour)},
			{Secret: hookd.GenerateSecret(hookd.SchemeStandard), ExpiresAt: time.Now().Add(-time.Minute)},
			{Secret: olderSecret, ExpiresAt: time.Now().Add(time.Hour)}}
	})
	h.wait(h.publish(wh), wh, "success", status(hookd.StatusSuccess))
	req := rcv.got()[0]
	if n := len(strings.Fields(req.header.Get("webhook-signature"))); n != 3 {
		t.Fatalf("%d signatures during the grace, want 3", n)
	}
	for _, s := range []string{wh.Secret, oldSecret, olderSecret} {
		lib, _ := standardwebhooks.NewWebhook(s)
		if err := lib.Verify(req.body, req.header); err != nil {
			t.Fatalf("signature of %s…: %v", s[:10], err)
		}
	}
}

func TestTestSend(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") })
	wh := h.webhook(rcv.URL)
	res, err := h.engine.Test(context.Background(), wh, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Success || *res.StatusCode != 200 || *res.ResponseBody != "pong" || res.Error != nil {
		t.Fatalf("test result = %+v", res)
	}
	req := rcv.got()[0]
	if req.header.Get("hookd-event-type") != "webhook.test" {
		t.Fatalf("type = %q", req.header.Get("hookd-event-type"))
	}
	dd, err := h.store.GetDelivery(context.Background(), "acme", res.DeliveryID)
	if err != nil || dd.Delivery.Status != hookd.StatusSuccess || len(dd.Attempts) != 1 {
		t.Fatalf("kept delivery = %+v, %v", dd, err)
	}
	// The engine does not send it a second time.
	h.settle()
	if len(rcv.got()) != 1 {
		t.Fatalf("test send went out %d times", len(rcv.got()))
	}
}

func TestStats(t *testing.T) {
	h := newHarness(t)
	var calls atomic.Int32
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(500) // the first attempt of all fails
		}
	})
	wh := h.webhook(rcv.URL)
	other := h.webhook(rcv.URL)
	start := time.Now().Add(-time.Second)
	ev1 := h.publish(wh)
	h.wait(ev1, wh, "success", status(hookd.StatusSuccess))
	ev2 := h.publish(wh)
	h.wait(ev2, wh, "success", status(hookd.StatusSuccess))
	ev3 := h.publish(other)
	h.wait(ev3, other, "success", status(hookd.StatusSuccess))

	st, err := h.store.Stats(context.Background(), hookd.StatsQuery{TenantID: "acme", WebhookID: wh.ID})
	if err != nil {
		t.Fatal(err)
	}
	// wh: attempts fail, ok (ev1) and ok (ev2): 3 attempts, 2 successful.
	if st.TotalDeliveries != 3 || st.SuccessfulDeliveries != 2 || st.FailedDeliveries != 1 || st.SuccessRate != 2.0/3 || st.ByStatus[hookd.StatusSuccess] != 2 {
		t.Fatalf("webhook stats = %+v", st)
	}
	if st.AverageResponseTimeMs <= 0 {
		t.Fatalf("average response time = %v", st.AverageResponseTimeMs)
	}
	st, _ = h.store.Stats(context.Background(), hookd.StatsQuery{TenantID: "acme"})
	if st.TotalDeliveries != 4 || st.SuccessfulDeliveries != 3 || st.ByStatus[hookd.StatusSuccess] != 3 || st.ByStatus[hookd.StatusFailed] != 0 {
		t.Fatalf("tenant stats = %+v", st)
	}
	st, _ = h.store.Stats(context.Background(), hookd.StatsQuery{TenantID: "acme", Since: time.Now().Add(time.Hour)})
	if st.TotalDeliveries != 0 || st.SuccessRate != 0 || st.ByStatus[hookd.StatusSuccess] != 0 {
		t.Fatalf("future window = %+v", st)
	}
	st, _ = h.store.Stats(context.Background(), hookd.StatsQuery{TenantID: "acme", Since: start, Until: time.Now().Add(time.Second)})
	if st.TotalDeliveries != 4 {
		t.Fatalf("window = %+v", st)
	}
}

// The operator's webhook is the operator's own URL: the SSRF guard, which
// stops a tenant's loopback URL, does not apply to it.
func TestOperatorWebhookPassesTheGuard(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) { c.Guard = netguard.New(nil) })
	rcv := newReceiver(t, nil)
	now := time.Now().UTC()
	if err := h.store.CreateTenant(context.Background(), &hookd.Tenant{ID: hookd.OperatorTenant, Name: "operator", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	op := &hookd.Webhook{ID: hookd.OperatorWebhook, TenantID: hookd.OperatorTenant, Name: "operator", URL: rcv.URL, Events: []string{"hookd.*"},
		Timeout: 5 * time.Second, Enabled: true, SSLVerification: true, MaxAttempts: 3, Secret: hookd.GenerateSecret(hookd.SchemeStandard),
		CreatedAt: now, UpdatedAt: now}
	if err := h.store.CreateWebhook(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	ev := &hookd.Event{ID: "evt_op", TenantID: hookd.OperatorTenant, Type: hookd.EventWebhookDisabled, Timestamp: hookd.Truncate(now)}
	if err := ev.BuildPayload(json.RawMessage(`{"webhookId":"wh_x"}`), json.RawMessage(`{"tenantId":"acme"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.PublishEvent(context.Background(), ev, []string{op.ID}, nil); err != nil {
		t.Fatal(err)
	}
	tenant := h.webhook(rcv.URL)
	h.engine.Notify()
	h.wait(h.publish(tenant), tenant, "the tenant's loopback URL refused", func(d *hookd.DeliveryDetail) bool { return d.Delivery.Attempts == 1 })
	deadline := time.Now().Add(10 * time.Second)
	for len(rcv.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := rcv.got()
	if len(got) != 1 || got[0].header.Get("webhook-id") != "evt_op" {
		t.Fatalf("the receiver got %d requests", len(got))
	}
}

// A webhook in raw body mode with the svix scheme gets what a Svix
// endpoint gets: the event's data alone as the body, signed under svix-*
// headers, which Svix's SDK verifies.
func TestRawBodyForSvixReceivers(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t, nil)
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) {
		w.BodyMode, w.Signature = hookd.BodyRaw, &hookd.Signature{Scheme: hookd.SchemeSvix}
	})
	ev := h.publish(wh)
	h.wait(ev, wh, "success", status(hookd.StatusSuccess))
	got := rcv.got()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	if string(got[0].body) != `{"n":1,"s":"<é>"}` {
		t.Fatalf("raw body %s, want the event's data alone", got[0].body)
	}
	sv, err := svix.NewWebhook(wh.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := sv.Verify(got[0].body, got[0].header); err != nil {
		t.Fatalf("svix SDK: %v", err)
	}
	if got[0].header.Get("svix-id") != ev.ID {
		t.Fatalf("svix-id %q, want the event id", got[0].header.Get("svix-id"))
	}
}

// Deliveries claimed ahead of their turn (a fast endpoint's room runs
// ahead of its sends) and still waiting when the webhook is deleted,
// disabled or re-pointed, or the deliveries cancelled, are not sent as
// claimed: the one being sent finishes, the rest follow the change.
func TestChangesHoldForClaimedNotStarted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(h *harness, w *hookd.Webhook, moved string)
		// check is what became of a delivery that waited.
		check  func(d *hookd.DeliveryDetail) bool
		toMove bool // the waiting ones go to the new URL
	}{
		{"deleted", func(h *harness, w *hookd.Webhook, _ string) {
			if err := h.store.DeleteWebhook(context.Background(), "acme", w.ID); err != nil {
				t.Fatal(err)
			}
		}, nil, false},
		{"disabled", func(h *harness, w *hookd.Webhook, _ string) { h.setEnabled(w, false) }, status(hookd.StatusFailed), false},
		{"cancelled", func(h *harness, w *hookd.Webhook, _ string) {
			if n, _, err := h.store.CancelDeliveries(context.Background(), "acme", w.ID, time.Time{}); err != nil || n != 4 {
				t.Fatalf("cancel: %d, %v", n, err)
			}
		}, status(hookd.StatusCanceled), false},
		{"re-pointed", repoint, status(hookd.StatusSuccess), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := waitingBehind(t, time.Nanosecond)
			h, wh, rcv, moved, evs := q.h, q.wh, q.rcv, q.moved, q.evs
			tc.change(h, wh, moved.URL)
			close(q.block)
			h.settle()
			if got := len(rcv.got()); got != 2 {
				t.Fatalf("the old endpoint got %d requests after the change, want 2 (the first, and the one being sent)", got)
			}
			if tc.toMove && len(moved.got()) != 3 {
				t.Fatalf("the new URL got %d requests, want the 3 that waited", len(moved.got()))
			}
			if tc.check == nil {
				return
			}
			// Which of the four was being sent is the engine's choice: it
			// finished as sent; the other three followed the change.
			followed := 0
			for _, ev := range evs {
				if dd := h.wait(ev, wh, "an outcome", func(d *hookd.DeliveryDetail) bool { return d.Delivery.Status != hookd.StatusPending }); tc.check(dd) && len(dd.Attempts) <= 1 {
					followed++
				}
			}
			if followed < 3 {
				t.Fatalf("%d of the 3 waiting deliveries followed the change", followed)
			}
		})
	}
}

// A change the engine is told of (Changed, which the service calls after
// a change through this process) holds for every delivery claimed before it
// and not yet started, however short its wait: with RecheckAfter an hour,
// only being told makes the waiting ones look again. Untold (a change
// through another process, seen after RecheckAfter), they are sent.
func TestChangedHoldsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(h *harness, w *hookd.Webhook, moved string)
		told   bool
		old    int // requests the old endpoint gets, the first included
		toNew  int // requests the new URL gets
	}{
		{"deleted", func(h *harness, w *hookd.Webhook, _ string) {
			if err := h.store.DeleteWebhook(context.Background(), "acme", w.ID); err != nil {
				t.Fatal(err)
			}
		}, true, 2, 0},
		{"disabled", func(h *harness, w *hookd.Webhook, _ string) { h.setEnabled(w, false) }, true, 2, 0},
		{"cancelled", cancelAll, true, 2, 0},
		{"re-pointed", repoint, true, 2, 3},
		{"cancelled, untold", cancelAll, false, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := waitingBehind(t, time.Hour)
			h, wh, rcv, moved := q.h, q.wh, q.rcv, q.moved
			tc.change(h, wh, moved.URL)
			if tc.told {
				h.engine.Changed(wh.ID)
			}
			close(q.block)
			h.settle()
			wantSent(t, rcv, moved, tc.old, tc.toNew)
		})
	}
}

// A change made through another process (another store on the same
// PostgreSQL schema, which never tells this engine itself) stops what this
// engine holds for the webhook once the store's notice of it arrives
// (hookd.Waker), not after RecheckAfter: an hour here.
func TestChangedByAnotherProcess(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(h *harness, w *hookd.Webhook, moved string)
		old    int // requests the old endpoint gets, the first included
		toNew  int // requests the new URL gets
	}{
		{"deleted", func(h *harness, w *hookd.Webhook, _ string) {
			if err := h.store.DeleteWebhook(context.Background(), "acme", w.ID); err != nil {
				t.Fatal(err)
			}
		}, 2, 0},
		{"disabled", func(h *harness, w *hookd.Webhook, _ string) { h.setEnabled(w, false) }, 2, 0},
		{"cancelled", cancelAll, 2, 0},
		{"re-pointed", repoint, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores := pgtest.OpenReplicas(t, 2, postgres.Config{})
			q := waitingBehindOn(t, time.Hour, stores[1])
			other := &harness{t: t, store: stores[0]}
			// Its first notice (every webhook) says it listens.
			told := func(n uint64) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); q.h.engine.Changes() < n; time.Sleep(2 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("the engine was told of %d changes, want %d", q.h.engine.Changes(), n)
					}
				}
			}
			told(1)
			n := q.h.engine.Changes()
			tc.change(other, q.wh, q.moved.URL)
			told(n + 1)
			close(q.block)
			q.h.settle()
			wantSent(t, q.rcv, q.moved, tc.old, tc.toNew)
		})
	}
}

func cancelAll(h *harness, w *hookd.Webhook, _ string) {
	if _, _, err := h.store.CancelDeliveries(context.Background(), "acme", w.ID, time.Time{}); err != nil {
		h.t.Fatal(err)
	}
}

// A retry due sooner than the next poll is sent when it is due: the
// recorder wakes the loop for it. With PollInterval an hour, only that
// wake-up can send the second attempt within the wait.
func TestRetrySoonerThanThePoll(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) {
		c.PollInterval, c.RetrySchedule, c.Lease = time.Hour, []time.Duration{100 * time.Millisecond}, time.Minute
	})
	var n atomic.Int32
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	wh := h.webhook(rcv.URL)
	ev := h.publish(wh)
	h.wait(ev, wh, "the retry, 100 ms after the failure", func(d *hookd.DeliveryDetail) bool {
		return d.Delivery.Status == hookd.StatusSuccess && len(d.Attempts) == 2
	})
}

// gatedStore holds the first GetWebhook it is armed for until released.
type gatedStore struct {
	hookd.Deliverer
	armed   atomic.Bool
	reached chan struct{}
	release chan struct{}
}

func (g *gatedStore) GetWebhook(ctx context.Context, tenantID, id string) (*hookd.Webhook, error) {
	if g.armed.CompareAndSwap(true, false) {
		g.reached <- struct{}{}
		<-g.release
	}
	return g.Deliverer.GetWebhook(ctx, tenantID, id)
}

// A delivery claimed before a change it is told of, whose turn comes at
// once (no wait, so no recheck for waiting), is checked too: held at its
// first read of the webhook while the change is made, it then follows it.
func TestChangedHoldsOnTheFastPath(t *testing.T) {
	for _, tc := range []struct {
		name  string
		old   int // requests the old URL gets
		toNew int
	}{{"cancelled", 0, 0}, {"re-pointed", 0, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gatedStore{reached: make(chan struct{}), release: make(chan struct{})}
			h := newHarness(t, func(c *delivery.Config) {
				g.Deliverer = c.Store
				c.Store, c.RecheckAfter, c.Lease = g, time.Hour, time.Minute
			})
			rcv, moved := newReceiver(t, nil), newReceiver(t, nil)
			wh := h.webhook(rcv.URL)
			g.armed.Store(true)
			h.publish(wh)
			<-g.reached // claimed, reading its webhook: nothing else holds the endpoint
			switch tc.name {
			case "cancelled":
				cancelAll(h, wh, "")
			case "re-pointed":
				repoint(h, wh, moved.URL)
			}
			h.engine.Changed(wh.ID)
			close(g.release)
			h.settle()
			wantSent(t, rcv, moved, tc.old, tc.toNew)
		})
	}
}

// A delivery that passed its checks but had not begun its attempt when a
// change it is told of was made (its goroutine not yet run again on a busy
// machine) checks again before it begins: nothing the change stopped starts
// after the change's answer. Held there by the engine's test hook.
func TestChangedHoldsUntilTheAttemptBegins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(h *harness, w *hookd.Webhook, moved string)
		old    int // requests the old URL gets
		toNew  int
	}{
		{"cancelled", cancelAll, 0, 0},
		{"disabled", func(h *harness, w *hookd.Webhook, _ string) { h.setEnabled(w, false) }, 0, 0},
		{"re-pointed", repoint, 0, 1},
		{"renamed", func(h *harness, w *hookd.Webhook, _ string) {
			h.edit(w, func(w *hookd.Webhook) { w.Name = "renamed" })
		}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *delivery.Config) { c.RecheckAfter, c.Lease = time.Hour, time.Minute })
			reached, release := h.engine.PauseChecked()
			defer release()
			rcv, moved := newReceiver(t, nil), newReceiver(t, nil)
			wh := h.webhook(rcv.URL)
			h.publish(wh)
			<-reached
			tc.change(h, wh, moved.URL)
			h.engine.Changed(wh.ID)
			release()
			h.settle()
			wantSent(t, rcv, moved, tc.old, tc.toNew)
		})
	}
}

// queued is a fast endpoint with four deliveries claimed behind its first
// one: one of them being sent, held by the receiver until block closes,
// three waiting their turn.
type queued struct {
	h          *harness
	wh         *hookd.Webhook
	rcv, moved *receiver // the webhook's URL, and another
	evs        []*hookd.Event
	block      chan struct{}
}

func waitingBehind(t *testing.T, recheckAfter time.Duration) *queued {
	t.Helper()
	return waitingBehindOn(t, recheckAfter, nil)
}

// waitingBehindOn is waitingBehind on a store of the test's (nil: SQLite).
func waitingBehindOn(t *testing.T, recheckAfter time.Duration, store hookd.Store) *queued {
	t.Helper()
	q := &queued{block: make(chan struct{})}
	open := newHarness
	if store != nil {
		open = func(t *testing.T, mods ...func(*delivery.Config)) *harness { return newHarnessOn(t, store, mods...) }
	}
	q.h = open(t, func(c *delivery.Config) {
		c.PerEndpoint, c.FailingEndpoint, c.FastQueue, c.RecheckAfter = 1, 1, 4, recheckAfter
		// A lease long enough that an attempt needs no renewal of its
		// own, as in production: only the wait makes one.
		c.Lease = time.Minute
	})
	started := make(chan struct{}, 8)
	var n atomic.Int32
	q.rcv = newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 2 { // the first answers at once: the endpoint is fast
			started <- struct{}{}
			<-q.block
		}
	})
	q.moved = newReceiver(t, nil)
	// A test that fails before it lets the blocked request go must not
	// leave the receiver's Close waiting for it.
	t.Cleanup(func() {
		select {
		case <-q.block:
		default:
			close(q.block)
		}
	})
	// The blocked request must not time out (and be retried) before the
	// test lets it go, however slow a loaded machine makes its steps.
	q.wh = q.h.webhook(q.rcv.URL, func(w *hookd.Webhook) { w.Timeout = 30 * time.Second })
	q.h.wait(q.h.publish(q.wh), q.wh, "the first delivery", status(hookd.StatusSuccess))
	for range 4 {
		q.evs = append(q.evs, q.h.publish(q.wh))
	}
	<-started
	for deadline := time.Now().Add(10 * time.Second); q.h.engine.Waiting() < 3; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries wait their turn, want 3", q.h.engine.Waiting())
		}
	}
	return q
}

// manualClock is a clock the test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A delivery that another's check found cancelled is not sent, though it
// waited less than RecheckAfter itself: B waits 450 ms, C 200 ms; B's turn
// checks both, finds both cancelled, and C's turn must not send it.
func TestCheckedNotHeldIsNotSent(t *testing.T) {
	clock := &manualClock{t: time.Now()}
	h := newHarness(t, func(c *delivery.Config) {
		c.PerEndpoint, c.FailingEndpoint, c.FastQueue, c.RecheckAfter = 1, 1, 4, 400*time.Millisecond
		c.Lease, c.Clock = time.Minute, clock.Now
	})
	block := make(chan struct{})
	started := make(chan struct{}, 8)
	var n atomic.Int32
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 2 { // the first answers at once: the endpoint is fast
			started <- struct{}{}
			<-block
		}
	})
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.Timeout = time.Second })
	h.wait(h.publish(wh), wh, "the first delivery", status(hookd.StatusSuccess))
	waiting := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); h.engine.Waiting() != want; time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d deliveries wait their turn, want %d", h.engine.Waiting(), want)
			}
		}
	}
	h.publish(wh) // A: sent, held up by the receiver
	<-started
	h.publish(wh) // B: waits its turn
	waiting(1)
	clock.Advance(250 * time.Millisecond)
	h.publish(wh) // C: waits behind B
	waiting(2)
	if n, _, err := h.store.CancelDeliveries(context.Background(), "acme", wh.ID, time.Time{}); err != nil || n != 3 {
		t.Fatalf("cancel: %d, %v", n, err)
	}
	clock.Advance(200 * time.Millisecond)
	close(block)
	h.settle()
	if got := len(rcv.got()); got != 2 {
		t.Fatalf("the receiver got %d requests, want 2 (the first, and A, being sent when the cancel came)", got)
	}
}

// An endpoint that has not answered yet holds FailingEndpoint deliveries,
// not PerEndpoint: one that never answers ties up that few workers for its
// timeout. And a tenant whose hanging endpoints hold many workers leaves
// TenantReserve free for the others: another tenant's event goes out while
// every request of the first still hangs.
func TestHangingEndpointsLeaveRoom(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reserve int
	}{{"with a reserve", 3}, {"without", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *delivery.Config) { c.Workers, c.TenantReserve, c.Lease = 8, tc.reserve, time.Minute })
			if err := h.store.CreateTenant(context.Background(), &hookd.Tenant{ID: "globex", Name: "Globex", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			hang, hanging := hangingReceiver(t)
			// Six endpoints of acme, three events each: 18 deliveries that
			// would hold 18 workers at PerEndpoint's room.
			var hooks []*hookd.Webhook
			for range 6 {
				hooks = append(hooks, h.webhook(hang.URL, func(w *hookd.Webhook) { w.Timeout = 30 * time.Second }))
			}
			for range 3 {
				h.publish(hooks...)
			}
			want := 8 // every worker
			if tc.reserve > 0 {
				want = 8 - tc.reserve
			}
			for deadline := time.Now().Add(10 * time.Second); int(hanging.Load()) < want; time.Sleep(2 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d requests hang, want %d", hanging.Load(), want)
				}
			}
			loopedTwice(h)
			if n := hanging.Load(); int(n) != want || h.engine.Held() != want {
				t.Fatalf("%d requests hang, %d held; want %d (two an endpoint until it answers, within the tenant's room)", n, h.engine.Held(), want)
			}
			got := publishGlobex(h)
			if tc.reserve < 0 {
				loopedTwice(h)
				select {
				case <-got:
					t.Fatal("sent with every worker held: the test shows nothing")
				default:
				}
				return
			}
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				t.Fatal("another tenant's event waits behind the hanging endpoints")
			}
		})
	}
}

// An endpoint that has not answered yet gets FailingEndpoint deliveries,
// not PerEndpoint: ten due to one that never answers hold two workers.
func TestSlowStart(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) { c.Lease = time.Minute })
	hang, hanging := hangingReceiver(t)
	wh := h.webhook(hang.URL, func(w *hookd.Webhook) { w.Timeout = 30 * time.Second })
	for range 10 {
		h.publish(wh)
	}
	for hanging.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	loopedTwice(h)
	if n, held := hanging.Load(), h.engine.Held(); n != 2 || held != 2 {
		t.Fatalf("%d requests hang, %d held; want 2 (FailingEndpoint) until the endpoint answers", n, held)
	}
}

// Deliveries claimed while their endpoint answered fast, still waiting
// their turn when it stops answering, go back to the queue instead of each
// holding a worker for its timeout in turn: claims then take them at the
// failing room, one at a time here.
func TestWaitingShedWhenTheEndpointFails(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) {
		c.PerEndpoint, c.FastQueue, c.FailingEndpoint, c.Lease = 2, 4, 1, time.Minute
		c.RetrySchedule = []time.Duration{time.Hour} // a failed one is not tried again here
	})
	var n atomic.Int32
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			return // fast: the endpoint's room grows to PerEndpoint×FastQueue
		}
		<-r.Context().Done() // then it hangs, until the attempt's timeout
	})
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.Timeout = 300 * time.Millisecond })
	h.wait(h.publish(wh), wh, "the first delivery", status(hookd.StatusSuccess))
	var evs []*hookd.Event
	for range 8 {
		evs = append(evs, h.publish(wh))
	}
	// The first two hang and time out; the six waiting behind them are
	// let go, not sent in pairs for 300 ms each.
	for deadline := time.Now().Add(10 * time.Second); n.Load() < 3 || h.engine.Held() > 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests, %d held", n.Load(), h.engine.Held())
		}
	}
	untried := 0
	for _, ev := range evs {
		ds, err := h.store.ListEventDeliveries(context.Background(), "acme", ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ds[0].Attempts == 0 {
			untried++
		}
	}
	if untried < 4 {
		t.Fatalf("%d of the 8 not tried yet, want the waiting ones (at least 4: one probe at a time since)", untried)
	}
}

// Deliveries waiting at a fast endpoint whose sends all stopped answering
// go back to the queue once none has begun for 4×FastAnswer, not when the
// hanging sends time out: here the endpoint's room (PerEndpoint×FastQueue)
// is every worker, and another tenant's event goes out while its two sends
// still hang. (An audit: eight tenants' fast endpoints turned to hang held
// all 2,048 workers for their 30 s timeout.)
func TestStalledFastEndpointLetsWaitingGo(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) {
		c.Workers, c.PerEndpoint, c.FastQueue, c.FailingEndpoint, c.Lease = 8, 2, 4, 1, time.Minute
		c.FastAnswer = 100 * time.Millisecond
	})
	if err := h.store.CreateTenant(context.Background(), &hookd.Tenant{ID: "globex", Name: "Globex", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	block := make(chan struct{})
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			return // fast: the endpoint's room grows to 8
		}
		select { // then it hangs, for longer than the test
		case <-block:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(block) })
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.Timeout = 30 * time.Second })
	h.wait(h.publish(wh), wh, "the first delivery", status(hookd.StatusSuccess))
	for range 8 {
		h.publish(wh)
	}
	for deadline := time.Now().Add(10 * time.Second); n.Load() < 3 || h.engine.Held() > 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests, %d held: the waiting ones still held behind the hanging sends", n.Load(), h.engine.Held())
		}
	}
	got := publishGlobex(h)
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("another tenant's event waits behind the stalled endpoint")
	}
	if n := n.Load(); n != 3 {
		t.Fatalf("the stalled endpoint got %d requests, want 3 (the fast one, then its two sends that hang)", n)
	}
}

// publishGlobex publishes an event of tenant globex (made by the test) to
// a new webhook of its, and returns what its receiver's request signals.
func publishGlobex(h *harness) <-chan struct{} {
	h.t.Helper()
	got := make(chan struct{}, 1)
	quick := newReceiver(h.t, func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} })
	other := h.webhook(quick.URL, func(w *hookd.Webhook) { w.TenantID = "globex" })
	ev := newEvent(h)
	ev.TenantID = "globex"
	if _, err := h.store.PublishEvent(context.Background(), ev, []string{other.ID}, nil); err != nil {
		h.t.Fatal(err)
	}
	h.engine.Notify()
	return got
}

// hangingReceiver never answers: each request waits until the test ends
// or its client gives up. hanging counts the requests.
func hangingReceiver(t *testing.T) (rcv *receiver, hanging *atomic.Int32) {
	t.Helper()
	block := make(chan struct{})
	hanging = new(atomic.Int32)
	rcv = newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		hanging.Add(1)
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(block) }) // before the receiver's Close, which waits for them
	return rcv, hanging
}

// loopedTwice returns once the claim loop went round twice since the
// call, woken each time: what it could claim by now, it has.
func loopedTwice(h *harness) {
	for range 2 {
		n := h.engine.Loops()
		h.engine.Notify()
		for h.engine.Loops() <= n+1 {
			time.Sleep(time.Millisecond)
		}
	}
}

// One event to many warm webhooks of one tenant goes out in one claim: a
// webhook's room is not counted as taken before it is leased (counted so,
// the eighth fast webhook's 256 found the tenant's room gone, and waited
// DeferBy: an hour here).
func TestFanOutInOneClaim(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) { c.DeferBy, c.Lease = time.Hour, time.Minute })
	rcv := newReceiver(t, nil)
	var hooks []*hookd.Webhook
	for range 30 {
		hooks = append(hooks, h.webhook(rcv.URL))
	}
	for round := range 2 { // the first warms them: answered fast, their room is 256
		ev := h.publish(hooks...)
		for _, wh := range hooks {
			h.wait(ev, wh, fmt.Sprintf("round %d", round), status(hookd.StatusSuccess))
		}
	}
}

// Test sends spend the webhook's rateLimit as deliveries do: in a loop
// they reach the receiver no faster than it allows (burst, then one a
// step), and the rest are refused as rate limited.
func TestTestSendsSpendTheRateLimit(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t, nil)
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.RateLimit = 1 })
	start := time.Now()
	sent, limited := 0, 0
	for range 5 {
		res, err := h.engine.Test(context.Background(), wh, "", nil)
		switch {
		case errors.Is(err, hookd.ErrRateLimited):
			limited++
		case err != nil || !res.Success:
			t.Fatalf("test send: %+v, %v", res, err)
		default:
			sent++
		}
	}
	elapsed := time.Since(start)
	if allowed := hookd.RateBurst(1) + int(elapsed/time.Second); sent > allowed || sent+limited != 5 {
		t.Fatalf("%d test sends went out in %s at 1 a second (%d allowed), %d refused", sent, elapsed, allowed, limited)
	}
	if got := len(rcv.got()); got != sent {
		t.Fatalf("the receiver got %d requests, %d sent", got, sent)
	}
}

// A rate-limited webhook's receiver sees at most rate + burst requests in
// any second, also after it stalled for a moment: deliveries claimed at
// the rate while it stalled are not held waiting for a send slot, to start
// together when it answers again (an outside audit saw 35 in a second at
// 20/s). Arrival times add the network's jitter to the claims' spacing: a
// few requests of tolerance, against the 13 the bunching added.
func TestRateLimitHoldsAfterAStall(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) { c.PerEndpoint = 2 })
	var n atomic.Int32
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if k := n.Add(1); k == 5 || k == 6 {
			time.Sleep(900 * time.Millisecond) // under the stalled-endpoint shed's second
		}
	})
	const rate = 20
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.RateLimit = rate })
	var evs []*hookd.Event
	for range 60 {
		evs = append(evs, h.publish(wh))
	}
	for _, ev := range evs {
		h.wait(ev, wh, "delivered", status(hookd.StatusSuccess))
	}
	got := rcv.got()
	worst := 0
	for i := range got {
		k := 0
		for j := i; j < len(got) && got[j].at.Sub(got[i].at) < time.Second; j++ {
			k++
		}
		worst = max(worst, k)
	}
	if bound := rate + hookd.RateBurst(rate); worst > bound+3 {
		t.Fatalf("the receiver saw %d requests in one second at rateLimit %d (at most %d)", worst, rate, bound)
	}
}
