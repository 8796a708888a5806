package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium (Debian's package; .ci/run installs
// it) and returns a context whose actions run in one tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("HOOKD_CHROMIUM")
	if path == "" {
		for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("HOOKD_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium found: install Debian's chromium package (.ci/run does) or set HOOKD_CHROMIUM")
		}
		t.Skip("no Chromium found; .ci/run installs it")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		// The machine has no network beyond loopback: keep Chromium from
		// trying (its refused connections slow it down).
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shots saves screenshots as test artifacts: in $HOOKD_ARTIFACTS/console
// (.ci/run sets it), else in the test's temporary directory.
type shots struct {
	t   *testing.T
	dir string
	n   int
}

func newShots(t *testing.T) *shots {
	dir := t.TempDir()
	if a := os.Getenv("HOOKD_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "console")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &shots{t: t, dir: dir}
}

func (s *shots) take(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 makes a PNG
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	s.n++
	path := filepath.Join(s.dir, fmt.Sprintf("%02d-%s.png", s.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func act(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// read runs an action that reads a value.
func read[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitText reloads the page until sel's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		if s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel))); err == nil && strings.Contains(s, want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
		act(t, ctx, "reload", chromedp.Reload())
	}
	t.Fatalf("%s never showed %q; it shows %q", sel, want, text(t, ctx, sel))
}

// TestConsoleInBrowser walks the console in real Chromium the way a
// tenant's admin does: in through a portal link from the platform's page,
// create a webhook with the form, send a test, read the delivery and its
// attempt, fix a failure with Retry, rotate the secret, disable, delete.
// Then it checks the walls: another tenant's pages, forms without the CSRF
// token, a read-only session, and the operator's tenant switcher.
func TestConsoleInBrowser(t *testing.T) {
	ctx := browser(t)
	shot := newShots(t)

	var failing atomic.Bool
	var mu sync.Mutex
	var seen []http.Header
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		if failing.Load() {
			w.WriteHeader(500)
			io.WriteString(w, `{"error":"down for maintenance"}`)
			return
		}
		w.Header().Set("X-Receiver", "yes")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer rcv.Close()

	base, _, stop := start(t, "--db", filepath.Join(t.TempDir(), "hookd.db"), "--admin-key", "adm",
		"--allow-networks", "127.0.0.0/8", "--retry-schedule", "1s")
	defer stop()
	admin := &client{t: t, base: base, key: "adm"}
	admin.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme Inc"})
	admin.must(201, "POST", "/v1/tenants", map[string]any{"id": "globex", "name": "Globex"})
	admin.must(201, "POST", "/v1/event-types", map[string]any{"name": "invocation.completed", "description": "An invocation finished"})
	admin.must(201, "POST", "/v1/event-types", map[string]any{"name": "invocation.failed", "description": "An invocation failed"})
	admin.must(201, "POST", "/v1/event-types", map[string]any{"name": "document.uploaded", "description": "A document was uploaded",
		"schema": map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}}})
	other := admin.must(201, "POST", "/v1/tenants/globex/webhooks", map[string]any{"name": "Globex hook", "url": rcv.URL, "events": []string{"*"}})
	otherTest := admin.must(200, "POST", "/v1/tenants/globex/webhooks/"+other["id"].(string)+"/test", nil)
	mu.Lock()
	seen = nil // Globex's test send
	mu.Unlock()

	// In through a portal link that the platform's own page (another site:
	// localhost against 127.0.0.1) links to.
	link := admin.must(201, "POST", "/v1/tenants/acme/portal-sessions", map[string]any{})["url"].(string)
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>Platform</title><a id="webhooks" href="%s">Webhooks</a>`, link)
	}))
	defer platform.Close()
	platformURL := strings.Replace(platform.URL, "127.0.0.1", "localhost", 1)
	act(t, ctx, "open the platform's page", chromedp.Navigate(platformURL), chromedp.Click(chromedp.CSS("#webhooks")),
		chromedp.WaitVisible(`//h1[text()="Webhooks"]`))
	if h := text(t, ctx, ".tenant-name"); h != "Acme Inc" {
		t.Fatalf("signed in as %q", h)
	}
	shot.take(ctx, "webhooks-empty")
	// The link is used up: a second visit signs nobody in.
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || len(res.Cookies()) != 0 {
		t.Fatalf("second use of the link: %d %v", res.StatusCode, res.Cookies())
	}

	// A form with mistakes comes back with each problem at its field.
	act(t, ctx, "open the form", chromedp.Click(`//a[text()="Create webhook"]`), chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SetValue(chromedp.CSS("#url"), "ftp://example.com"),
		chromedp.Click(chromedp.CSS(`button.primary[value="save"]`)), chromedp.WaitVisible(chromedp.CSS("#problems")))
	if p := text(t, ctx, "#problems"); !strings.Contains(p, "name") || !strings.Contains(p, "url") || !strings.Contains(p, "events") {
		t.Fatalf("problems = %q", p)
	}
	if invalid := read(t, ctx, chromedp.AttributeValue(chromedp.CSS("#url"), "aria-invalid")); invalid.Value != "true" {
		t.Fatal("the bad URL field is not marked aria-invalid")
	}
	shot.take(ctx, "webhook-form-errors")

	// The CEL check against a sample event, without saving.
	act(t, ctx, "test a filter", chromedp.SetValue(chromedp.CSS("#filter"), "data.amount > 10"),
		chromedp.Click(chromedp.CSS("details summary")),
		chromedp.Click(chromedp.CSS(`button[value="test-filter"]`)), chromedp.WaitVisible(chromedp.CSS("#filter-result")))
	if r := text(t, ctx, "#filter-result"); !strings.Contains(r, "matches") || strings.Contains(r, "not match") {
		t.Fatalf("filter result = %q", r)
	}
	shot.take(ctx, "webhook-form-filter")

	// Create it for real: events from the catalog, a custom header row.
	act(t, ctx, "fill the form",
		chromedp.SetValue(chromedp.CSS("#name"), "Billing"),
		chromedp.SetValue(chromedp.CSS("#url"), rcv.URL+"/hooks"),
		chromedp.SetValue(chromedp.CSS("#filter"), " "), // the server trims it; SetValue cannot set ""
		chromedp.Click(chromedp.CSS(`input[name="events"][value="invocation.*"]`)),
		chromedp.Click(chromedp.CSS(`input[name="events"][value="document.uploaded"]`)),
		chromedp.Click(chromedp.CSS(`.rows[data-rows="header"] button.add-row`)),
		chromedp.SetValue(chromedp.CSS("#hn-0"), "X-Team"), chromedp.SetValue(chromedp.CSS("#hv-0"), "billing"),
		chromedp.SetValue(chromedp.CSS("#maxAttempts"), "1"),
		chromedp.SetValue(chromedp.CSS("#timeoutMs"), "5000"),
	)
	rows := read(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('.rows[data-rows="header"] .row').length`))
	if rows != 3 {
		t.Fatalf("Add header made %d rows, want 3", rows)
	}
	shot.take(ctx, "webhook-form")
	act(t, ctx, "create", chromedp.Click(chromedp.CSS(`button.primary[value="save"]`)), chromedp.WaitVisible(chromedp.CSS("#secret-value")))
	here := read(t, ctx, chromedp.Location())
	m := regexp.MustCompile(`/console/webhooks/(wh_[a-z0-9]+)`).FindStringSubmatch(here)
	if m == nil {
		t.Fatalf("after create at %s", here)
	}
	whID := m[1]
	acme := admin.must(200, "GET", "/v1/tenants/acme/webhooks/"+whID, nil)
	if acme["name"] != "Billing" || acme["maxAttempts"] != float64(1) || acme["timeoutMs"] != float64(5000) ||
		acme["headers"].(map[string]any)["X-Team"] != "billing" || fmt.Sprint(acme["events"]) != "[invocation.* document.uploaded]" {
		t.Fatalf("created = %v", acme)
	}
	secret := text(t, ctx, "#secret-value")
	if api := admin.must(200, "GET", "/v1/tenants/acme/webhooks/"+whID+"/secret", nil)["secret"]; api != secret {
		t.Fatalf("page shows secret %q, API %q", secret, api)
	}

	// Send test: the result shows inline; the delivery and its attempt.
	act(t, ctx, "send a test", chromedp.Click(`//button[text()="Send test"]`), chromedp.WaitVisible(chromedp.CSS("#test-result")))
	if r := text(t, ctx, "#test-result"); !strings.Contains(r, "Test delivered") || !strings.Contains(r, "HTTP 200") || !strings.Contains(r, `{"ok":true}`) {
		t.Fatalf("test result = %q", r)
	}
	shot.take(ctx, "webhook-test-sent")
	mu.Lock()
	if len(seen) != 1 || seen[0].Get("X-Team") != "billing" || seen[0].Get("Webhook-Signature") == "" {
		t.Fatalf("receiver saw %v", seen)
	}
	mu.Unlock()
	act(t, ctx, "open the delivery", chromedp.Click(`//a[text()="See the delivery"]`), chromedp.WaitVisible(chromedp.CSS("#attempt-1")))
	if a := text(t, ctx, ".attempt"); !strings.Contains(a, "HTTP 200") || !strings.Contains(a, "Webhook-Id") || !strings.Contains(a, "X-Receiver") {
		t.Fatalf("attempt = %q", a)
	}
	shot.take(ctx, "delivery-success")

	// A failing endpoint: the delivery ends FAILED (one attempt), shows in
	// Failed deliveries, and Retry delivers it once the endpoint is fixed.
	failing.Store(true)
	pub := admin.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "invocation.completed", "data": map[string]any{"amount": 12}})
	act(t, ctx, "open failed deliveries", chromedp.Click(`//nav//a[text()="Failed deliveries"]`), chromedp.WaitVisible(`//h1[text()="Failed deliveries"]`))
	waitText(t, ctx, "main", "HTTP 500")
	shot.take(ctx, "failed")
	act(t, ctx, "open the failed delivery", chromedp.Click(chromedp.CSS(`table.list a[href^="/console/deliveries/"]`)),
		chromedp.WaitVisible(chromedp.CSS("#attempt-1")))
	if h := text(t, ctx, "h1"); !strings.Contains(h, "FAILED") {
		t.Fatalf("delivery heading = %q", h)
	}
	if body := text(t, ctx, ".attempt"); !strings.Contains(body, "down for maintenance") {
		t.Fatalf("attempt = %q", body)
	}
	shot.take(ctx, "delivery-failed")
	failing.Store(false)
	act(t, ctx, "retry", chromedp.Click(`//button[text()="Retry"]`), chromedp.WaitVisible(chromedp.CSS(".notice")))
	waitText(t, ctx, "h1", "SUCCESS")
	if n := text(t, ctx, "#attempts-h + article + article h3"); !strings.Contains(n, "Attempt 2 · HTTP 200") {
		t.Fatalf("second attempt = %q", n)
	}
	shot.take(ctx, "delivery-retried")

	// The event and its deliveries; the catalog; the statistics.
	act(t, ctx, "events", chromedp.Click(`//nav//a[text()="Events"]`), chromedp.WaitVisible(`//h1[text()="Events"]`))
	// The retry's success also made hookd announce the webhook recovered
	// (hookd.webhook.recovered, the newest row); the event is below it.
	if rows := text(t, ctx, "table.list tbody"); !strings.Contains(rows, "invocation.completed") || !strings.Contains(rows, "SUCCESS 1") ||
		!strings.Contains(rows, "hookd.webhook.recovered") {
		t.Fatalf("event rows = %q", rows)
	}
	shot.take(ctx, "events")
	act(t, ctx, "event", chromedp.Navigate(base+"/console/events/"+pub["id"].(string)), chromedp.WaitVisible(chromedp.CSS("#deliveries-h")))
	if d := text(t, ctx, "main"); !strings.Contains(d, "Billing") || !strings.Contains(d, `"amount": 12`) {
		t.Fatalf("event page = %q", d)
	}
	shot.take(ctx, "event")
	act(t, ctx, "event types", chromedp.Click(`//nav//a[text()="Event types"]`), chromedp.WaitVisible(`//h1[text()="Event types"]`))
	if d := text(t, ctx, "main"); !strings.Contains(d, "A document was uploaded") || !strings.Contains(d, "JSON Schema") {
		t.Fatalf("event types = %q", d)
	}
	shot.take(ctx, "event-types")
	act(t, ctx, "statistics", chromedp.Click(`//nav//a[text()="Statistics"]`), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	if n := text(t, ctx, "#total-attempts"); n != "3" {
		t.Fatalf("attempts in 24 h = %q, want 3 (test, failure, retry)", n)
	}
	bars := read(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart rect").length`))
	lines := read(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart polyline").length`))
	if bars < 1 || lines != 3 {
		t.Fatalf("charts drew %d bar segments and %d lines", bars, lines)
	}
	shot.take(ctx, "stats")
	act(t, ctx, "statistics, 7 days", chromedp.Navigate(base+"/console/stats?window=7d&webhook="+whID), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	// A week is 7 daily bars, labelled by day.
	if days := read(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#volume-h ~ svg.chart .xlabel").length`)); days != 7 || !strings.Contains(text(t, ctx, "#volume-h"), "per day") {
		t.Fatalf("7 days drew %d day labels, under %q", days, text(t, ctx, "#volume-h"))
	}
	shot.take(ctx, "stats-7d")
	// A period without attempts reads —, not 0.0 %.
	quiet := admin.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "Quiet", "url": rcv.URL + "/quiet", "events": []string{"document.uploaded"}})["id"].(string)
	act(t, ctx, "statistics of a webhook with none", chromedp.Navigate(base+"/console/stats?webhook="+quiet), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	if rate := text(t, ctx, "#success-rate"); rate != "—" {
		t.Fatalf("the success rate of no attempts reads %q", rate)
	}

	// Rotate the secret: a new one, the old one still signing for the grace.
	act(t, ctx, "rotate", chromedp.Navigate(base+"/console/webhooks/"+whID+"?secret=show"), chromedp.WaitVisible(chromedp.CSS("#secret-value")),
		chromedp.Click(`//button[text()="Rotate secret"]`), chromedp.WaitVisible(chromedp.CSS(".notice")))
	rotated := text(t, ctx, "#secret-value")
	if rotated == secret || !strings.HasPrefix(rotated, "whsec_") {
		t.Fatalf("rotated secret %q (was %q)", rotated, secret)
	}
	if api := admin.must(200, "GET", "/v1/tenants/acme/webhooks/"+whID+"/secret", nil)["secret"]; api != rotated {
		t.Fatalf("API secret after rotation = %q", api)
	}
	if g := text(t, ctx, "#secret"); !strings.Contains(g, "previous secret also signs until") {
		t.Fatalf("no grace shown: %q", g)
	}
	shot.take(ctx, "webhook-rotated")

	// Disable and enable; the list shows the state and the last delivery.
	act(t, ctx, "disable", chromedp.Click(`//a[text()="Disable…"]`), chromedp.WaitVisible(chromedp.CSS("#what")),
		chromedp.Click(`//button[text()="Disable"]`), chromedp.WaitVisible(`//h1/span[text()="Disabled"]`))
	act(t, ctx, "enable", chromedp.Click(`//button[text()="Enable"]`), chromedp.WaitVisible(`//h1/span[text()="Enabled"]`))
	// The audit log shows what was just done here, newest first.
	act(t, ctx, "audit log", chromedp.Click(`//nav//a[text()="Audit log"]`), chromedp.WaitVisible(chromedp.CSS("table.audit")))
	if row := text(t, ctx, "table.audit tbody tr"); !strings.Contains(row, "webhook.enabled") || !strings.Contains(row, "console") {
		t.Fatalf("newest audit row = %q", row)
	}
	shot.take(ctx, "audit")
	act(t, ctx, "list", chromedp.Click(`//nav//a[text()="Webhooks"]`), chromedp.WaitVisible(chromedp.CSS("table.list")))
	if row := text(t, ctx, "table.list tbody tr"); !strings.Contains(row, "Billing") || !strings.Contains(row, "Enabled") || !strings.Contains(row, "SUCCESS") {
		t.Fatalf("list row = %q", row)
	}
	shot.take(ctx, "webhooks")

	// Edit keeps every field it does not change.
	act(t, ctx, "edit", chromedp.Navigate(base+"/console/webhooks/"+whID+"/edit"), chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SetValue(chromedp.CSS("#name"), "Billing v2"), chromedp.Click(chromedp.CSS(`button.primary[value="save"]`)),
		chromedp.WaitVisible(`//h1[contains(., "Billing v2")]`))
	edited := admin.must(200, "GET", "/v1/tenants/acme/webhooks/"+whID, nil)
	if edited["maxAttempts"] != float64(1) || edited["headers"].(map[string]any)["X-Team"] != "billing" || len(edited["events"].([]any)) != 2 {
		t.Fatalf("edit changed other fields: %v", edited)
	}

	// The walls. Another tenant's webhook and delivery are not found.
	for _, p := range []string{"/console/webhooks/" + other["id"].(string), "/console/deliveries/" + otherTest["deliveryId"].(string)} {
		act(t, ctx, "open "+p, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS("h1")))
		if h := text(t, ctx, "h1"); h != "Not Found" {
			t.Fatalf("%s shows %q to another tenant", p, h)
		}
	}
	shot.take(ctx, "other-tenant-not-found")
	// A form posted without the CSRF token changes nothing: from the page
	// itself (a script that has the cookie but not the token)…
	status := read(t, ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch("/console/webhooks/%s/delete", {method: "POST",
		headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "confirm=1"}).then(r => r.status)`, whID), chromedp.EvalAwaitPromise))
	if status != 403 {
		t.Fatalf("POST without the CSRF token = %d, want 403", status)
	}
	// …and with the session's cookie but a wrong or missing token.
	jar, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/console/"}})
	if err != nil {
		t.Fatal(err)
	}
	cookies := jar.Cookies
	var session *http.Cookie
	for _, c := range cookies {
		if c.Name == "hookd_session" {
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				t.Fatalf("session cookie = %+v", c)
			}
			session = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	for _, token := range []string{"", "forged"} {
		if code, _ := consolePost(t, base+"/console/webhooks/"+whID+"/delete", session, url.Values{"csrf": {token}}); code != 403 {
			t.Fatalf("POST with token %q = %d, want 403", token, code)
		}
	}
	admin.must(200, "GET", "/v1/tenants/acme/webhooks/"+whID, nil)

	// Delete, with a confirmation step.
	act(t, ctx, "delete", chromedp.Navigate(base+"/console/webhooks/"+whID), chromedp.Click(`//a[text()="Delete…"]`),
		chromedp.WaitVisible(`//button[text()="Delete webhook"]`))
	shot.take(ctx, "webhook-delete")
	act(t, ctx, "confirm", chromedp.Click(`//button[text()="Delete webhook"]`), chromedp.WaitVisible(chromedp.CSS(".notice")))
	admin.must(404, "GET", "/v1/tenants/acme/webhooks/"+whID, nil)

	// A phone: the sidebar turns into a row of links.
	act(t, ctx, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+"/console/events/"+pub["id"].(string)),
		chromedp.WaitVisible(chromedp.CSS("h1")))
	shot.take(ctx, "phone-event")
	act(t, ctx, "desktop", chromedp.EmulateViewport(1280, 900))

	// The operator signs in with the admin key and picks a tenant.
	act(t, ctx, "sign out", chromedp.Click(`//button[text()="Sign out"]`), chromedp.WaitVisible(chromedp.CSS("#key")))
	shot.take(ctx, "login")
	act(t, ctx, "sign in as operator", chromedp.SendKeys(chromedp.CSS("#key"), "adm"), chromedp.Submit(chromedp.CSS("#key")),
		chromedp.WaitVisible(`//h1[text()="Tenants"]`))
	shot.take(ctx, "tenants")
	act(t, ctx, "open Globex", chromedp.Click(`//button[text()="Open Globex"]`), chromedp.WaitVisible(`//a[text()="Globex hook"]`))
	act(t, ctx, "switch to acme", chromedp.SetValue(chromedp.CSS("#tenant-switch"), "acme"), chromedp.Submit(chromedp.CSS("#tenant-switch")),
		chromedp.WaitVisible(`//h1[text()="Webhooks"]`))
	if h := text(t, ctx, "main"); strings.Contains(h, "Globex hook") {
		t.Fatal("switched to acme but still shows Globex's webhooks")
	}

	// A bad key is refused on the sign-in page.
	act(t, ctx, "sign out", chromedp.Click(`//button[text()="Sign out"]`), chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), "nope"), chromedp.Submit(chromedp.CSS("#key")),
		chromedp.WaitVisible(chromedp.CSS("#login-problem")))
}

// consolePost posts a console form with a session cookie and does not
// follow the redirect.
func consolePost(t *testing.T, target string, session *http.Cookie, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(session)
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// The Deliveries page finds any delivery of the tenant: by status and
// webhook, by event type, by an event's id, and by a delivery's id (which
// opens it), 50 to a page with a cursor and no repeats.
func TestConsoleFindsDeliveries(t *testing.T) {
	ctx := browser(t)
	shot := newShots(t)
	rcv, base, admin := consoleServer(t)
	admin.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme Inc"})
	admin.must(201, "POST", "/v1/event-types", map[string]any{"name": "invocation.completed", "description": ""})
	admin.must(201, "POST", "/v1/event-types", map[string]any{"name": "document.uploaded", "description": ""})
	admin.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "Good", "url": rcv.URL + "/good", "events": []string{"*"}})
	bad := admin.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "Bad", "url": rcv.URL + "/bad", "events": []string{"*"}, "maxAttempts": 1})["id"].(string)
	for range 30 {
		admin.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "invocation.completed", "data": map[string]any{}})
	}
	admin.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"id": "evt_find_me", "type": "document.uploaded", "data": map[string]any{}})
	eventually(t, "62 deliveries finished", func() bool {
		ds := admin.must(200, "GET", "/v1/tenants/acme/deliveries?limit=250", nil)["data"].([]any)
		for _, d := range ds {
			if st := d.(map[string]any)["status"]; st == "PENDING" || st == "RETRYING" {
				return false
			}
		}
		return len(ds) == 62
	})
	one := admin.must(200, "GET", "/v1/tenants/acme/deliveries?eventId=evt_find_me&webhookId="+bad, nil)["data"].([]any)[0].(map[string]any)["id"].(string)

	link := admin.must(201, "POST", "/v1/tenants/acme/portal-sessions", map[string]any{})["url"].(string)
	rows := func() int {
		return read(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#results tbody tr').length`))
	}
	ids := func() []string {
		return read(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#results tbody tr td:first-child code')].map(c => c.textContent)`))
	}
	act(t, ctx, "sign in and open Deliveries", chromedp.Navigate(link), chromedp.WaitVisible(`//h1[text()="Webhooks"]`),
		chromedp.Click(`//nav//a[text()="Deliveries"]`), chromedp.WaitVisible(`//h1[text()="Deliveries"]`))
	if n := rows(); n != 50 {
		t.Fatalf("the first page shows %d deliveries, want 50", n)
	}
	first := ids()
	shot.take(ctx, "deliveries")
	// Times read in the viewer's zone, with how long ago; the exact UTC
	// in the title.
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatal(err)
	}
	act(t, ctx, "reload in Tokyo", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#results time")))
	shown := text(t, ctx, "#results time")
	at := read(t, ctx, chromedp.AttributeValue(chromedp.CSS("#results time"), "datetime"))
	title := read(t, ctx, chromedp.AttributeValue(chromedp.CSS("#results time"), "title"))
	utc, err := time.Parse(time.RFC3339, at.Value)
	if err != nil {
		t.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	if local := utc.In(tokyo).Format("3:04:05"); !strings.Contains(shown, local) || !(strings.Contains(shown, "ago") || strings.Contains(shown, "now")) || !strings.HasSuffix(title.Value, "UTC") {
		t.Fatalf("a time at %s reads %q (title %q), want Tokyo's %s and how long ago", at.Value, shown, title.Value, local)
	}
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{}); err != nil {
		t.Fatal(err)
	}
	act(t, ctx, "older", chromedp.Click(`//a[@rel="next"]`), chromedp.WaitVisible(`//a[text()="← Newest"]`))
	second := ids()
	if len(second) != 12 {
		t.Fatalf("the second page shows %d deliveries, want 12", len(second))
	}
	for _, id := range second {
		if slices.Contains(first, id) {
			t.Fatalf("%s is on both pages", id)
		}
	}

	act(t, ctx, "filter by status and webhook", chromedp.Navigate(base+"/console/deliveries"), chromedp.WaitVisible(chromedp.CSS("#status")),
		chromedp.SetValue(chromedp.CSS("#status"), "FAILED"), chromedp.SetValue(chromedp.CSS("#webhook"), bad),
		chromedp.Click(`//button[text()="Find"]`), chromedp.WaitVisible(`//a[text()="Clear"]`))
	if n := rows(); n != 31 {
		t.Fatalf("FAILED to Bad: %d rows, want 31", n)
	}
	if badges := read(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#results .status-failed').length`)); badges != 31 {
		t.Fatalf("%d FAILED badges among 31 rows", badges)
	}
	shot.take(ctx, "deliveries-filtered")
	act(t, ctx, "filter by type", chromedp.Navigate(base+"/console/deliveries?eventType=document.uploaded"), chromedp.WaitVisible(chromedp.CSS("#results")))
	if n := rows(); n != 2 {
		t.Fatalf("document.uploaded: %d rows, want 2", n)
	}
	act(t, ctx, "find an event", chromedp.Navigate(base+"/console/deliveries"), chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SetValue(chromedp.CSS("#q"), "evt_find_me"), chromedp.Click(`//button[text()="Find"]`), chromedp.WaitVisible(`//a[text()="Clear"]`))
	if n := rows(); n != 2 {
		t.Fatalf("evt_find_me: %d rows, want 2", n)
	}
	act(t, ctx, "find a delivery", chromedp.SetValue(chromedp.CSS("#q"), one), chromedp.Click(`//button[text()="Find"]`),
		chromedp.WaitVisible(fmt.Sprintf(`//h1[contains(., %q)]`, one)))
	act(t, ctx, "find no delivery", chromedp.Navigate(base+"/console/deliveries?q=dlv_nope"), chromedp.WaitVisible(chromedp.CSS("#results .empty")))
	if e := text(t, ctx, "#results .empty"); !strings.Contains(e, "dlv_nope") {
		t.Fatalf("an unknown delivery id says %q", e)
	}
	act(t, ctx, "a bad window", chromedp.Navigate(base+"/console/deliveries?since=2026-02-01T00:00&until=2026-01-01T00:00"), chromedp.WaitVisible(chromedp.CSS("#until-problem")))
	act(t, ctx, "nothing in the window", chromedp.Navigate(base+"/console/deliveries?until=2001-01-01T00:00"), chromedp.WaitVisible(chromedp.CSS("#results .empty")))
	if e := text(t, ctx, "#results .empty"); !strings.Contains(e, "match these filters") {
		t.Fatalf("an empty window says %q", e)
	}
	act(t, ctx, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+"/console/failed"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	// Stacked rows keep their column names; the sidebar shows where we are.
	if label := read(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("table.list tbody td:nth-child(2)"), "::before").content`)); !strings.Contains(label, "Webhook") {
		t.Fatalf("a stacked cell is labelled %s, want Webhook", label)
	}
	if seen := read(t, ctx, chromedp.Evaluate[bool](`(() => { const a = document.querySelector('.side a[aria-current="page"]').getBoundingClientRect(); return a.left >= 0 && a.right <= window.innerWidth })()`)); !seen {
		t.Fatal("the sidebar's current item is out of view on a phone")
	}
	shot.take(ctx, "failed-phone")
	act(t, ctx, "phone deliveries", chromedp.Navigate(base+"/console/deliveries"), chromedp.WaitVisible(chromedp.CSS("#results")))
	shot.take(ctx, "deliveries-phone")
}

// Bulk actions preview what they will touch and ask first: retry failed,
// replay a window (a task whose progress the page shows), cancel waiting
// deliveries, and disable (which says how many waiting deliveries it ends).
func TestConsoleBulkActions(t *testing.T) {
	ctx := browser(t)
	shot := newShots(t)
	var mu sync.Mutex
	good := map[string]int{}
	var lastBody string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.HasSuffix(r.URL.Path, "/good") {
			w.WriteHeader(500)
			return
		}
		mu.Lock()
		good[r.Header.Get("webhook-id")]++
		lastBody = string(body)
		mu.Unlock()
	}))
	defer rcv.Close()
	base, _, stop := start(t, "--db", filepath.Join(t.TempDir(), "hookd.db"), "--admin-key", "adm", "--allow-networks", "127.0.0.0/8",
		"--retry-schedule", "1h")
	defer stop()
	admin := &client{t: t, base: base, key: "adm"}
	admin.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme Inc"})
	admin.must(201, "POST", "/v1/event-types", map[string]any{"name": "invocation.completed", "description": ""})
	goodID := admin.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "Good", "url": rcv.URL + "/good", "events": []string{"*"}})["id"].(string)
	badID := admin.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "Bad", "url": rcv.URL + "/bad", "events": []string{"*"}, "maxAttempts": 1})["id"].(string)
	slowID := admin.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "Retrying", "url": rcv.URL + "/retrying", "events": []string{"*"}, "maxAttempts": 5})["id"].(string)
	for range 5 {
		admin.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "invocation.completed", "data": map[string]any{}})
	}
	count := func(webhook, status string) int {
		return len(admin.must(200, "GET", "/v1/tenants/acme/deliveries?webhookId="+webhook+"&status="+status, nil)["data"].([]any))
	}
	eventually(t, "5 delivered, 5 failed, 5 waiting for a retry", func() bool {
		return count(goodID, "SUCCESS") == 5 && count(badID, "FAILED") == 5 && count(slowID, "RETRYING") == 5
	})
	link := admin.must(201, "POST", "/v1/tenants/acme/portal-sessions", map[string]any{})["url"].(string)
	act(t, ctx, "sign in", chromedp.Navigate(link), chromedp.WaitVisible(`//h1[text()="Webhooks"]`))
	what := func() string { return text(t, ctx, "#what") }

	// Retry failed: 5, asked first.
	act(t, ctx, "retry failed", chromedp.Navigate(base+"/console/webhooks/"+badID), chromedp.Click(chromedp.CSS("details.bulk summary")),
		chromedp.Click(`//button[text()="Retry failed…"]`), chromedp.WaitVisible(chromedp.CSS("#what")))
	if w := what(); !strings.Contains(w, "5 failed deliveries") {
		t.Fatalf("retry failed says %q", w)
	}
	if n := count(badID, "FAILED"); n != 5 {
		t.Fatalf("the preview changed something: %d FAILED", n)
	}
	shot.take(ctx, "confirm-retry-failed")
	act(t, ctx, "confirm the retry", chromedp.Click(`//button[text()="Retry them"]`), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if n := text(t, ctx, ".notice"); !strings.Contains(n, "5 failed deliveries were queued") {
		t.Fatalf("after the retry: %q", n)
	}

	// Replay everything to Good: a task, its progress, one more delivery each.
	act(t, ctx, "replay", chromedp.Navigate(base+"/console/webhooks/"+goodID), chromedp.Click(chromedp.CSS("details.bulk summary")),
		chromedp.WaitVisible(chromedp.CSS("#rp-since")))
	read(t, ctx, chromedp.Evaluate[string](`document.querySelector('#rp-since').value = '2000-01-01T00:00:00'`))
	act(t, ctx, "replay…", chromedp.Click(`//button[text()="Replay…"]`), chromedp.WaitVisible(chromedp.CSS("#what")))
	// The 5 events, and hookd's own hookd.delivery.exhausted of Bad's
	// streak, which Good's "*" does not take: gone through, not delivered.
	if w := what(); !strings.Contains(w, "6 events") {
		t.Fatalf("replay says %q", w)
	}
	shot.take(ctx, "confirm-replay")
	act(t, ctx, "confirm the replay", chromedp.Click(`//button[text()="Replay"]`), chromedp.WaitVisible(chromedp.CSS("#task-status")))
	waitText(t, ctx, "#task-status", "Finished: 6 of 6")
	shot.take(ctx, "task-finished")
	eventually(t, "each event received twice by Good", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range good {
			if n != 2 {
				return false
			}
		}
		return len(good) == 5
	})

	// Disable warns of the waiting deliveries it ends; going back ends none.
	act(t, ctx, "the retrying webhook", chromedp.Navigate(base+"/console/webhooks/"+slowID), chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	if facts := text(t, ctx, "dl.facts"); !strings.Contains(facts, "5 deliveries RETRYING") || !strings.Contains(facts, "Failing") || !strings.Contains(facts, "5 attempts in a row failed") {
		t.Fatalf("the retrying webhook's facts: %q", facts)
	}
	act(t, ctx, "disable?", chromedp.Click(`//a[text()="Disable…"]`), chromedp.WaitVisible(chromedp.CSS("#what")))
	if w := what(); !strings.Contains(w, "5 waiting deliveries end FAILED") {
		t.Fatalf("disable says %q", w)
	}
	shot.take(ctx, "confirm-disable")
	act(t, ctx, "back", chromedp.Click(`//a[text()="Back to Retrying"]`), chromedp.WaitVisible(`//h1/span[text()="Enabled"]`))

	// Cancel the waiting ones.
	act(t, ctx, "cancel", chromedp.Click(chromedp.CSS("details.bulk summary")), chromedp.Click(`//button[text()="Cancel waiting…"]`), chromedp.WaitVisible(chromedp.CSS("#what")))
	if w := what(); !strings.Contains(w, "5 waiting deliveries") {
		t.Fatalf("cancel says %q", w)
	}
	act(t, ctx, "confirm the cancel", chromedp.Click(`//button[text()="Cancel them"]`), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if n := count(slowID, "CANCELED"); n != 5 {
		t.Fatalf("%d CANCELED after the cancel", n)
	}
	// Nothing left to cancel: the button is off.
	act(t, ctx, "cancel again", chromedp.Navigate(base+"/console/webhooks/"+slowID+"/confirm?action=cancel"), chromedp.WaitVisible(chromedp.CSS("#what")))
	if off := read(t, ctx, chromedp.Evaluate[bool](`document.querySelector('button[type=submit].danger').disabled`)); !off {
		t.Fatal("the cancel button is on with nothing to cancel")
	}
	act(t, ctx, "a replay without its start", chromedp.Navigate(base+"/console/webhooks/"+goodID+"/confirm?action=replay"), chromedp.WaitVisible(chromedp.CSS("#problems")))

	// A test send offers the types the webhook takes, with their first
	// example as editable data; the answer shows after a redirect, so a
	// reload does not send again.
	admin.must(201, "POST", "/v1/event-types", map[string]any{"name": "document.uploaded", "description": "",
		"schema":   map[string]any{"type": "object", "required": []string{"name"}},
		"examples": []any{map[string]any{"name": "report.pdf", "bytes": 1024}}})
	act(t, ctx, "the catalog shows examples", chromedp.Navigate(base+"/console/event-types"), chromedp.WaitVisible(`//summary[text()="1 example"]`),
		chromedp.Click(`//summary[text()="1 example"]`))
	if all := text(t, ctx, "table.list"); !strings.Contains(all, "report.pdf") {
		t.Fatalf("the catalog's example is not shown: %q", all)
	}
	act(t, ctx, "the test form", chromedp.Navigate(base+"/console/webhooks/"+goodID), chromedp.WaitVisible(chromedp.CSS("#test-data")))
	if v := read(t, ctx, chromedp.Value(chromedp.CSS("#test-data"))); !strings.Contains(v, `"report.pdf"`) {
		t.Fatalf("the test data starts as %q, want document.uploaded's example", v)
	}
	act(t, ctx, "another type", chromedp.SetValue(chromedp.CSS("#test-type"), "invocation.completed"))
	read(t, ctx, chromedp.Evaluate[bool](`document.getElementById("test-type").dispatchEvent(new Event("change"))`))
	if v := read(t, ctx, chromedp.Value(chromedp.CSS("#test-data"))); v != "" {
		t.Fatalf("a type without examples left the data %q", v)
	}
	act(t, ctx, "back to the example, edited", chromedp.SetValue(chromedp.CSS("#test-type"), "document.uploaded"))
	read(t, ctx, chromedp.Evaluate[bool](`document.getElementById("test-type").dispatchEvent(new Event("change"))`))
	act(t, ctx, "edit", chromedp.SetValue(chromedp.CSS("#test-data"), `{"name": "edited.pdf"}`))
	mu.Lock()
	before := len(good)
	mu.Unlock()
	act(t, ctx, "send", chromedp.Click(`//button[text()="Send test"]`), chromedp.WaitVisible(chromedp.CSS("#test-result")))
	if r := text(t, ctx, "#test-result"); !strings.Contains(r, "Test delivered") || !strings.Contains(r, "HTTP 200") {
		t.Fatalf("test result %q", r)
	}
	if loc := read(t, ctx, chromedp.Location()); strings.HasSuffix(strings.TrimSuffix(loc, "#test-result"), "/test") {
		t.Fatalf("after a test send the page is %s: a reload would send again", loc)
	}
	mu.Lock()
	sent, body := len(good), lastBody
	mu.Unlock()
	if sent != before+1 || !strings.Contains(body, `"data":{"name":"edited.pdf"}`) || !strings.Contains(body, `"type":"document.uploaded"`) {
		t.Fatalf("the test send reached Good %d times, last with %s", sent-before, body)
	}
	shot.take(ctx, "webhook-test-sent")
	act(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#test-data")))
	mu.Lock()
	again := len(good)
	mu.Unlock()
	if again != sent {
		t.Fatal("a reload sent the test again")
	}
}

// With --console-frame-ancestors, the listed platform's page frames the
// console (signed in through a portal link in the frame) and another
// origin's page cannot.
func TestConsoleFramedByListedOrigin(t *testing.T) {
	ctx := browser(t)
	shot := newShots(t)
	page := func(link string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><title>Platform</title><h1>Platform</h1><iframe id="console" src="%s" width="1000" height="600" onload="window.framed = (window.framed || 0) + 1"></iframe>`, link)
		}))
	}
	// The platform's pages are on localhost, the console on 127.0.0.1:
	// another site, so the frame is a third party.
	listed := page("")
	defer listed.Close()
	listedOrigin := strings.Replace(listed.URL, "127.0.0.1", "localhost", 1)
	base, _, stop := start(t, "--db", filepath.Join(t.TempDir(), "hookd.db"), "--admin-key", "adm", "--console-frame-ancestors", listedOrigin,
		"--console-name", "Acme Hooks", "--console-accent", "#0f766e")
	defer stop()
	admin := &client{t: t, base: base, key: "adm"}
	admin.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme Inc"})
	link := func() string {
		return admin.must(201, "POST", "/v1/tenants/acme/portal-sessions", map[string]any{})["url"].(string)
	}
	listed.Config.Handler = page(link()).Config.Handler
	other := page(link())
	defer other.Close()

	// open opens a platform's page and waits for its frame's load event:
	// the signal that a refused frame has had its chance.
	open := func(url string) {
		act(t, ctx, "open "+url, chromedp.Navigate(url), chromedp.WaitVisible(`//h1[text()="Platform"]`))
		for deadline := time.Now().Add(15 * time.Second); read(t, ctx, chromedp.Evaluate[int](`window.framed || 0`)) == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the frame never loaded")
			}
		}
	}
	// consoleFrames are the browser's frames showing the console (a
	// cross-site frame is a target of its own).
	consoleFrames := func() []*target.Info {
		targets, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []*target.Info
		for _, ti := range targets {
			if ti.Type == "iframe" && strings.HasPrefix(ti.URL, base) {
				out = append(out, ti)
			}
		}
		return out
	}
	// First the origin not listed: once its frame has loaded, the frame
	// shows nothing of the console (the browser refused the page, and put
	// its error page in the frame).
	open(strings.Replace(other.URL, "127.0.0.1", "localhost", 1))
	for _, ti := range consoleFrames() {
		fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(ti.TargetID))
		t.Cleanup(cancel)
		if h, _ := chromedp.Run(fctx, chromedp.Text(chromedp.CSS("h1"), chromedp.AtLeast(0))); h != "" {
			t.Fatalf("an origin not listed framed the console: it shows %q", h)
		}
	}
	// Then the listed one: the frame signs in through the portal link and
	// shows the webhooks page.
	open(listedOrigin)
	var h string
	for deadline := time.Now().Add(15 * time.Second); h != "Webhooks"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the listed origin's frame shows %q", h)
		}
		for _, ti := range consoleFrames() {
			// Not cancelled here: that would close the frame's target and
			// the page with it. The test's end does.
			fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(ti.TargetID))
			t.Cleanup(cancel)
			h, _ = chromedp.Run(fctx, chromedp.Text(chromedp.CSS("h1"), chromedp.AtLeast(0)))
		}
	}
	shot.take(ctx, "console-framed")
	// The console wears the platform's name and accent.
	act(t, ctx, "the branded sign-in page", chromedp.Navigate(base+"/console/login"), chromedp.WaitVisible(`//button[text()="Sign in"]`))
	if title := read(t, ctx, chromedp.Title()); title != "Sign in · Acme Hooks" {
		t.Fatalf("title %q", title)
	}
	if bg := read(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("button.primary")).backgroundColor`)); bg != "rgb(15, 118, 110)" {
		t.Fatalf("the primary button is %s, want the accent #0f766e", bg)
	}
	shot.take(ctx, "login-branded")
}

// TestConsoleScreenshots saves every page of the console empty and with
// data, at a desktop's and a phone's width, as CI's artifacts (and fails
// on a page that does not draw).
func TestConsoleScreenshots(t *testing.T) {
	ctx := browser(t)
	shot := newShots(t)
	rcv, base, admin := consoleServer(t)
	admin.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme Inc."})
	act(t, ctx, "sign in", chromedp.Navigate(admin.must(201, "POST", "/v1/tenants/acme/portal-sessions", map[string]any{})["url"].(string)),
		chromedp.WaitVisible(`//h1[text()="Webhooks"]`))
	pages := []string{"webhooks", "deliveries", "failed", "events", "event-types", "stats", "audit"}
	// extra pages are "name=path".
	sweep := func(state string, extra ...string) {
		for _, width := range []struct {
			name string
			w, h int64
		}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
			act(t, ctx, width.name, chromedp.EmulateViewport(width.w, width.h))
			for _, p := range append(pages, extra...) {
				name, path, ok := strings.Cut(p, "=")
				if !ok {
					path = p
				}
				act(t, ctx, "open "+path, chromedp.Navigate(base+"/console/"+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
				shot.take(ctx, name+"-"+state+"-"+width.name)
			}
		}
	}
	sweep("empty")

	admin.must(201, "POST", "/v1/event-types", map[string]any{"name": "invocation.completed", "description": "An invocation finished",
		"examples": []any{map[string]any{"invocationId": "inv_1", "status": "ok"}}})
	good := admin.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "Billing", "url": rcv.URL + "/good", "events": []string{"*"},
		"headers": map[string]string{"X-Team": "billing"}})["id"].(string)
	admin.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "Audit sink", "url": rcv.URL + "/bad", "events": []string{"*"}, "maxAttempts": 1})
	for i := range 12 {
		admin.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "invocation.completed", "data": map[string]any{"invocationId": fmt.Sprintf("inv_%d", i)}})
	}
	eventually(t, "24 deliveries finished", func() bool {
		ds := admin.must(200, "GET", "/v1/tenants/acme/deliveries?limit=100", nil)["data"].([]any)
		done := 0
		for _, d := range ds {
			if st := d.(map[string]any)["status"]; st == "SUCCESS" || st == "FAILED" {
				done++
			}
		}
		return done == 24
	})
	// Health shows: the failing endpoint reads Failing with its streak, in
	// red; a disabled one is grey, not red.
	act(t, ctx, "health", chromedp.Navigate(base+"/console/webhooks"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	rows := text(t, ctx, "table.list tbody")
	if !strings.Contains(rows, "Healthy") || !regexp.MustCompile(`Failing\s+12 in a row since`).MatchString(rows) {
		t.Fatalf("the list's health: %q", rows)
	}
	quiet := admin.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "Paused", "url": rcv.URL + "/good", "events": []string{"hookd.webhook.disabled"}})["id"].(string)
	admin.must(200, "PATCH", "/v1/tenants/acme/webhooks/"+quiet, map[string]any{"enabled": false})
	act(t, ctx, "disabled", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".badge.off")))
	colour := func(sel string) string {
		return read(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("`+sel+`")).color`))
	}
	if off, failing := colour(".badge.off"), colour(".badge.health-failing"); off == failing {
		t.Fatalf("Disabled and Failing are both %s", off)
	}
	task := admin.must(202, "POST", "/v1/tenants/acme/webhooks/"+good+"/replay", map[string]any{"since": "2000-01-01T00:00:00Z"})["id"].(string)
	dlv := admin.must(200, "GET", "/v1/tenants/acme/deliveries?limit=1", nil)["data"].([]any)[0].(map[string]any)
	sweep("data", "webhook=webhooks/"+good, "delivery=deliveries/"+dlv["id"].(string), "event=events/"+dlv["eventId"].(string), "task=tasks/"+task,
		"confirm=webhooks/"+good+"/confirm?action=disable", "edit=webhooks/"+good+"/edit", "new=webhooks/new")
}

// consoleServer starts hookd with a receiver that answers 500 on paths
// ending in /bad and 200 otherwise, and returns them with an admin client.
func consoleServer(t *testing.T) (rcv *httptest.Server, base string, admin *client) {
	rcv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/bad") {
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(rcv.Close)
	base, _, stop := start(t, "--db", filepath.Join(t.TempDir(), "hookd.db"), "--admin-key", "adm", "--allow-networks", "127.0.0.0/8")
	t.Cleanup(stop)
	return rcv, base, &client{t: t, base: base, key: "adm"}
}

// The newest deliveries and a delivery still waiting update themselves: a
// delivery published while the list is open appears in it, and a waiting
// delivery's page shows its success when it comes, with no reload.
func TestConsoleLiveParts(t *testing.T) {
	ctx := browser(t)
	release := make(chan struct{})
	var calls atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			w.WriteHeader(500)
			return
		}
		<-release
	}))
	defer rcv.Close()
	defer close(release)
	base, _, stop := start(t, "--db", filepath.Join(t.TempDir(), "hookd.db"), "--admin-key", "adm", "--allow-networks", "127.0.0.0/8",
		"--retry-schedule", "1s")
	defer stop()
	admin := &client{t: t, base: base, key: "adm"}
	admin.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme Inc"})
	admin.must(201, "POST", "/v1/event-types", map[string]any{"name": "invocation.completed", "description": ""})
	admin.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "Flaky", "url": rcv.URL + "/flaky", "events": []string{"*"}})
	link := admin.must(201, "POST", "/v1/tenants/acme/portal-sessions", map[string]any{})["url"].(string)
	act(t, ctx, "open Deliveries", chromedp.Navigate(link), chromedp.WaitVisible(`//h1[text()="Webhooks"]`),
		chromedp.Navigate(base+"/console/deliveries"), chromedp.WaitVisible(chromedp.CSS("#results .empty")))

	admin.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "invocation.completed", "data": map[string]any{}})
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	act(t, wait, "the delivery appears", chromedp.WaitVisible(chromedp.CSS(`#results tbody tr a[href^="/console/deliveries/dlv_"]`)))

	// The first attempt failed; the second waits at the receiver.
	var id string
	eventually(t, "a second attempt under way", func() bool {
		d := admin.must(200, "GET", "/v1/tenants/acme/deliveries", nil)["data"].([]any)[0].(map[string]any)
		id = d["id"].(string)
		return calls.Load() == 2
	})
	act(t, ctx, "open the delivery", chromedp.Navigate(base+"/console/deliveries/"+id), chromedp.WaitVisible(chromedp.CSS("#delivery[data-live] .head .badge")))
	if b := text(t, ctx, ".head .badge"); b == "SUCCESS" {
		t.Fatalf("badge %q before the receiver answered", b)
	}
	release <- struct{}{}
	act(t, wait, "its success shows", chromedp.WaitVisible(chromedp.CSS(".head .badge.status-success")), chromedp.WaitVisible(`//h3[starts-with(text(), "Attempt 2 · HTTP 200")]`))
	if live := read(t, ctx, chromedp.Evaluate[bool](`document.getElementById("delivery").hasAttribute("data-live")`)); live {
		t.Error("a finished delivery's page is still live")
	}
}
