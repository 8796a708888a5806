package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuf is a bytes.Buffer safe for the server goroutine and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// start runs hookd serve until the test ends and returns its base URL.
func start(t *testing.T, args ...string) (string, *syncBuf, func()) {
	t.Helper()
	stderr := &syncBuf{}
	addr, stop := runReady(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), io.Discard, stderr)
	return "http://" + addr, stderr, stop
}

// runReady runs a hookd command that listens until stop is called, and
// returns the address it listens on once it does.
func runReady(t *testing.T, args []string, stdout, stderr io.Writer) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, stdout, stderr, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("hookd %s exited: %v\n%s", args[0], err, stderr)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("hookd %s did not start", args[0])
	}
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hookd %s: %v", args[0], err)
		}
	}
	return addr, stop
}

func get(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

var keyLine = regexp.MustCompile(`(?m)^\s+(hk_admin_\S+)$`)

func TestGeneratedAdminKeyPrintedOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hookd.db")
	url, stderr, stop := start(t, "--db", db)
	m := keyLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin key printed:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "hookd listening") {
		t.Fatalf("no listening line:\n%s", stderr)
	}
	if code := get(t, url+"/v1/tenants", m[1]); code != 200 {
		t.Fatalf("generated key: %d", code)
	}
	if code := get(t, url+"/v1/tenants", "wrong"); code != 401 {
		t.Fatalf("wrong key: %d", code)
	}
	stop()

	// A restart keeps the stored key and prints nothing.
	url, stderr, stop = start(t, "--db", db)
	defer stop()
	if keyLine.MatchString(stderr.String()) {
		t.Fatalf("key printed again:\n%s", stderr)
	}
	if code := get(t, url+"/v1/tenants", m[1]); code != 200 {
		t.Fatalf("stored key after restart: %d", code)
	}
}

// With --log-format json, every line on stderr is one JSON object, the
// generated key's too.
func TestGeneratedKeyAsJSON(t *testing.T) {
	url, stderr, stop := start(t, "--db", filepath.Join(t.TempDir(), "hookd.db"), "--log-format", "json")
	defer stop()
	key := ""
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if k, ok := rec["adminKey"].(string); ok {
			key = k
		}
	}
	if code := get(t, url+"/v1/tenants", key); key == "" || code != 200 {
		t.Fatalf("the key shown (%q): %d\n%s", key, code, stderr)
	}
}

func TestFlagsAndEnv(t *testing.T) {
	t.Setenv("HOOKD_DB", filepath.Join(t.TempDir(), "env.db"))
	t.Setenv("HOOKD_ADMIN_KEY", "from-env")
	url, stderr, stop := start(t)
	if code := get(t, url+"/v1/tenants", "from-env"); code != 200 {
		t.Fatalf("env admin key: %d", code)
	}
	if keyLine.MatchString(stderr.String()) {
		t.Fatal("a key was generated although one was configured")
	}
	stop()
	// The flag wins over the environment.
	url, _, stop = start(t, "--admin-key", "from-flag")
	defer stop()
	if code := get(t, url+"/v1/tenants", "from-flag"); code != 200 {
		t.Fatalf("flag admin key: %d", code)
	}
	if code := get(t, url+"/v1/tenants", "from-env"); code != 401 {
		t.Fatalf("env key still works: %d", code)
	}
	if code := get(t, url+"/readyz", ""); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := parseConfig("serve", []string{"--retry-schedule", "1s,2s", "--https-only", "--allow-networks", "127.0.0.0/8", "--encryption-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "--log-format", "json", "--role", "api", "--public-url", "https://hooks.example.com/",
		"--console-frame-ancestors", "https://app.example.com, http://localhost:3000/"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RetrySchedule) != 2 || !cfg.HTTPSOnly || len(cfg.EncryptionKey) != 32 || cfg.Role != "api" || cfg.LogFormat != "json" ||
		cfg.PublicURL != "https://hooks.example.com" || strings.Join(cfg.FrameAncestors, " ") != "https://app.example.com http://localhost:3000" {
		t.Fatalf("cfg = %+v", cfg)
	}
	cfg, err = parseConfig("serve", nil, io.Discard)
	if err != nil || cfg.Addr != ":8080" || cfg.DB != "hookd.db" || len(cfg.RetrySchedule) != 7 || cfg.Role != "all" {
		t.Fatalf("defaults = %+v, %v", cfg, err)
	}
	for _, args := range [][]string{
		{"--retry-schedule", "soon"},
		{"--https-only=maybe"},
		{"--https-only", "true"}, // a boolean flag's value comes after =

		{"--allow-networks", "nope"},
		{"--encryption-key", "c2hvcnQ="},
		{"--log-format", "xml"},
		{"--role", "both"},
		{"--db", "mysql://root@127.0.0.1/hookd"},
		{"--public-url", "hooks.example.com"},
		{"--public-url", "https://hooks.example.com/console"},
		{"--console-frame-ancestors", "*"},
		{"--console-frame-ancestors", "https://app.example.com/embed"},
		{"--console-frame-ancestors", "app.example.com"},
		{"--console-accent", "#ffbf47"}, // 1.6:1 against white
		{"--console-accent", "blue"},
		{"--console-logo-url", "http://cdn.example.com/logo.png"},
		{"--nope"},
		{"extra"},
	} {
		if _, err := parseConfig("serve", args, io.Discard); err == nil {
			t.Errorf("parseConfig(%v) succeeded", args)
		}
	}
}

func TestCommands(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, io.Discard, nil); err != nil || !strings.HasPrefix(out.String(), "hookd ") {
		t.Fatalf("version: %q %v", out.String(), err)
	}
	db := filepath.Join(t.TempDir(), "m.db")
	if err := run(context.Background(), []string{"migrate", "--db", "sqlite://" + db}, io.Discard, io.Discard, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := run(context.Background(), []string{"migrate", "--db", db}, io.Discard, io.Discard, nil); err != nil {
		t.Fatalf("migrate twice: %v", err)
	}
}

// hookd alone or with an unknown command prints its usage to stderr and
// exits 2; it never starts serving.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"bogus"}, {"--addr", ":0"}} {
		var out, errOut bytes.Buffer
		err := run(t.Context(), args, &out, &errOut, nil)
		if code := exitCode(err); code != 2 {
			t.Errorf("hookd %v: exit %d (%v), want 2", args, code, err)
		}
		if !strings.Contains(errOut.String(), "Usage:") || !strings.Contains(errOut.String(), "hookd listen") || out.Len() > 0 {
			t.Errorf("hookd %v: stdout %q, stderr %q", args, out.String(), errOut.String())
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"help"}, &out, io.Discard, nil); err != nil || !strings.Contains(out.String(), "Usage:") {
		t.Errorf("hookd help: %v %q", err, out.String())
	}
	if exitCode(nil) != 0 || exitCode(errNotVerified) != 1 || exitCode(fmt.Errorf("wrapped: %w", errNotVerified)) != 1 {
		t.Error("exit codes of success and of a request that does not verify")
	}
	// -h prints a command's flags and exits 0, as Go's flag handling does.
	for _, cmd := range []string{"serve", "migrate", "listen", "bench", "rekey", "verify", "svix-import"} {
		var errOut bytes.Buffer
		if code := exitCode(run(t.Context(), []string{cmd, "-h"}, io.Discard, &errOut, nil)); code != 0 || !strings.Contains(errOut.String(), "-") {
			t.Errorf("hookd %s -h: exit %d, stderr %q", cmd, code, errOut.String())
		}
	}
}

// The bare --https-only turns the refusal on, HOOKD_HTTPS_ONLY sets the
// default, and the flag wins over it either way.
func TestHTTPSOnlyIsABooleanFlag(t *testing.T) {
	tests := []struct {
		env  string
		args []string
		want bool
	}{
		{"", nil, false},
		{"", []string{"--https-only"}, true},
		{"", []string{"--https-only=true"}, true},
		{"", []string{"--https-only=false"}, false},
		{"true", nil, true},
		{"1", nil, true},
		{"true", []string{"--https-only=false"}, false},
		{"false", []string{"--https-only"}, true},
	}
	for _, tt := range tests {
		t.Setenv("HOOKD_HTTPS_ONLY", tt.env)
		cfg, err := parseConfig("serve", tt.args, io.Discard)
		if err != nil || cfg.HTTPSOnly != tt.want {
			t.Errorf("HOOKD_HTTPS_ONLY=%q %v: %+v %v, want %v", tt.env, tt.args, cfg, err, tt.want)
		}
	}
	t.Setenv("HOOKD_HTTPS_ONLY", "yes please")
	if _, err := parseConfig("serve", nil, io.Discard); err == nil || !strings.Contains(err.Error(), "HOOKD_HTTPS_ONLY") {
		t.Errorf("a bad HOOKD_HTTPS_ONLY: %v", err)
	}
	// The flag wins over a bad variable too (an outside audit).
	if cfg, err := parseConfig("serve", []string{"--https-only=false"}, io.Discard); err != nil || cfg.HTTPSOnly {
		t.Errorf("a bad HOOKD_HTTPS_ONLY under --https-only=false: %+v %v", cfg, err)
	}

	// And a running hookd given the bare flag refuses http:// URLs.
	t.Setenv("HOOKD_HTTPS_ONLY", "")
	// Literal addresses: the test sends no DNS query off the machine.
	url, _, stop := start(t, "--db", filepath.Join(t.TempDir(), "h.db"), "--admin-key", "k", "--https-only", "--allow-networks", "127.0.0.0/8")
	defer stop()
	post := func(path, body string) int {
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer k")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post("/v1/tenants", `{"id":"acme","name":"Acme"}`); code != 201 {
		t.Fatalf("tenant: %d", code)
	}
	if code := post("/v1/tenants/acme/webhooks", `{"name":"h","events":["*"],"url":"http://127.0.0.1:1/hook"}`); code != 422 {
		t.Errorf("http:// webhook with --https-only: %d, want 422", code)
	}
	if code := post("/v1/tenants/acme/webhooks", `{"name":"h","events":["*"],"url":"https://127.0.0.1:1/hook"}`); code != 201 {
		t.Errorf("the same webhook on https://: %d, want 201", code)
	}
}

// A path not in canonical form gets the API's JSON 404, not ServeMux's
// redirect with an HTML body; the console keeps the redirect.
func TestCanonicalPaths(t *testing.T) {
	h := canonicalPaths(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }))
	for p, want := range map[string]string{
		"/v1/tenants//webhooks": "error", "/v1/tenants/./x": "error", "/v1/../v1/tenants": "error", "/api/v1//app": "code",
		"/v1/tenants/": "", "/v1/tenants": "", "/": "", "/console//webhooks": "", "/api/v1/app/": "",
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://hookd.test"+p, nil)
		req.URL.Path = p // as sent, uncleaned
		h.ServeHTTP(rec, req)
		if want == "" {
			if rec.Code != 299 {
				t.Errorf("%s: %d, want it passed on", p, rec.Code)
			}
			continue
		}
		var body map[string]any
		if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body[want] == nil {
			t.Errorf("%s: %d %q", p, rec.Code, rec.Body.String())
		}
	}
}

// The APIs' bare roots (no trailing slash) answer in their JSON error
// shape, not with ServeMux's redirect and its HTML body.
func TestBareAPIRoots(t *testing.T) {
	base, _, stop := start(t, "--db", filepath.Join(t.TempDir(), "hookd.db"), "--admin-key", "k")
	defer stop()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		path, key string
		code      int
		field     string
	}{
		{"/v1", "", 401, "error"}, {"/v1", "k", 404, "error"}, {"/api/v1", "", 404, "code"},
	} {
		req, _ := http.NewRequest("GET", base+c.path, nil)
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != c.code || err != nil || body[c.field] == nil {
			t.Errorf("GET %s (key %q): %d %v, want %d with %q", c.path, c.key, res.StatusCode, body, c.code, c.field)
		}
	}
}

// A bad value is blamed on where it came from: the flag, or its variable
// when no flag gave it.
func TestBadValueNamesItsVariable(t *testing.T) {
	t.Setenv("HOOKD_RETENTION", "-5h")
	_, err := parseConfig("serve", nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--retention") || !strings.Contains(err.Error(), "HOOKD_RETENTION") {
		t.Fatalf("from the variable: %v", err)
	}
	_, err = parseConfig("serve", []string{"--retention", "-1h"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--retention") || strings.Contains(err.Error(), "HOOKD_RETENTION") {
		t.Fatalf("from the flag: %v", err)
	}
}

// An empty variable is no value: its flag's default holds (an outside
// audit: HOOKD_ADDR="" listened on a random port of every interface).
func TestEmptyVariablesAreUnset(t *testing.T) {
	t.Setenv("HOOKD_ADDR", "")
	t.Setenv("HOOKD_LOG_FORMAT", "")
	t.Setenv("HOOKD_RETENTION", "")
	cfg, err := parseConfig("serve", nil, io.Discard)
	if err != nil || cfg.Addr != ":8080" || cfg.LogFormat != "text" || cfg.Retention != 720*time.Hour {
		t.Fatalf("empty variables: %+v %v", cfg, err)
	}
}

// A secret for the operator webhook with no URL for it is said: leaving
// the URL out turns the webhook off, and so does a misspelled variable.
func TestOperatorSecretWithoutURLWarned(t *testing.T) {
	_, stderr, stop := start(t, "--db", filepath.Join(t.TempDir(), "h.db"), "--admin-key", "k",
		"--operator-webhook-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	stop()
	if !strings.Contains(stderr.String(), "--operator-webhook-secret is set without --operator-webhook") {
		t.Fatalf("no warning in:\n%s", stderr.String())
	}
}
