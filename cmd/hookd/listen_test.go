package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// startListen runs hookd listen until the test ends and returns its
// address and what it prints.
func startListen(t *testing.T, args ...string) (string, *syncBuf) {
	t.Helper()
	out := &syncBuf{}
	addr, stop := runReady(t, append([]string{"listen", "--addr", "127.0.0.1:0"}, args...), out, io.Discard)
	t.Cleanup(stop)
	return addr, out
}

// hookd listen verifies what a real hookd sends in every scheme it signs
// with, and refuses the same requests signed with another secret, saying
// why.
func TestListenVerifiesEveryScheme(t *testing.T) {
	url, _, stop := start(t, "--db", filepath.Join(t.TempDir(), "l.db"), "--admin-key", "k", "--allow-networks", "127.0.0.0/8")
	defer stop()
	c := &client{t: t, base: url, key: "k"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "invocation.completed", "description": "d"})

	const hmacSecret = "a-receivers-own-secret-1234"
	template := map[string]any{"scheme": "hmac-sha256", "header": "X-Sig", "content": "{timestamp}.{body}", "encoding": "base64", "prefix": "sha256="}
	tests := []struct {
		scheme    string
		signature map[string]any
		secret    string   // the webhook's; "" generates one
		flags     []string // hookd listen's beyond --scheme and --secret
	}{
		{scheme: "standard"},
		{scheme: "standard-ed25519"},
		{scheme: "github", secret: hmacSecret},
		{scheme: "stripe", secret: hmacSecret},
		{scheme: "plinqx", secret: hmacSecret},
		{scheme: "plextrac", secret: hmacSecret},
		{scheme: "forjinn", secret: hmacSecret},
		{scheme: "hmac-sha256", signature: template, secret: hmacSecret,
			flags: []string{"--header", "X-Sig", "--content", "{timestamp}.{body}", "--encoding", "base64", "--prefix", "sha256="}},
	}
	type receiver struct {
		out       *syncBuf
		good, bad string // the webhook ids
	}
	receivers := map[string]*receiver{}
	for _, tt := range tests {
		sig := tt.signature
		if sig == nil {
			sig = map[string]any{"scheme": tt.scheme}
		}
		// The receiver knows the good webhook's secret (for ed25519, its
		// public key); the bad webhook signs with a secret of its own.
		good := map[string]any{"name": tt.scheme + " good", "events": []string{"*"}, "signature": sig}
		if tt.secret != "" {
			good["secret"] = tt.secret
		}
		bad := map[string]any{"name": tt.scheme + " bad", "events": []string{"*"}, "signature": sig}
		r := &receiver{}
		// The webhooks need the receiver's address, the receiver the good
		// webhook's secret: create the good one at a placeholder URL first.
		good["url"] = "http://127.0.0.1:1/"
		gw := c.must(201, "POST", "/v1/tenants/acme/webhooks", good)
		r.good = gw["id"].(string)
		secret := gw["secret"].(string)
		if tt.scheme == "standard-ed25519" {
			sec := c.must(200, "GET", "/v1/tenants/acme/webhooks/"+r.good+"/secret", nil)
			secret = sec["publicKey"].(string)
		}
		addr, out := startListen(t, append([]string{"--scheme", tt.scheme, "--secret", secret}, tt.flags...)...)
		r.out = out
		c.must(200, "PATCH", "/v1/tenants/acme/webhooks/"+r.good, map[string]any{"url": "http://" + addr + "/good"})
		bad["url"] = "http://" + addr + "/bad"
		r.bad = c.must(201, "POST", "/v1/tenants/acme/webhooks", bad)["id"].(string)
		receivers[tt.scheme] = r
	}

	ev := c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "invocation.completed", "data": map[string]any{"n": 1}})
	evt := ev["id"].(string)
	line := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d POST (/\w+) webhook-id=(\S+) type=(\S+) attempt=(\d+) (.*) → (\d+) (.*)$`)
	for scheme, r := range receivers {
		var lines [][]string
		eventually(t, scheme+" receiver's two lines", func() bool {
			lines = line.FindAllStringSubmatch(r.out.String(), -1)
			return len(lines) >= 2
		})
		for _, l := range lines {
			path, id, typ, attempt, verdict, status, body := l[1], l[2], l[3], l[4], l[5], l[6], l[7]
			if id != evt || typ != "invocation.completed" || attempt != "1" || status != "200" || !strings.HasPrefix(body, `{"id":"`+evt) {
				t.Errorf("%s: line %q", scheme, l[0])
			}
			switch path {
			case "/good":
				if verdict != "verified" {
					t.Errorf("%s: the right secret: %q", scheme, l[0])
				}
			case "/bad":
				if !strings.HasPrefix(verdict, "bad signature: ") || !strings.Contains(verdict, "no signature matches") {
					t.Errorf("%s: another secret: %q", scheme, l[0])
				}
			default:
				t.Errorf("%s: unexpected path in %q", scheme, l[0])
			}
		}
	}
	if t.Failed() {
		for scheme, r := range receivers {
			t.Logf("%s:\n%s", scheme, r.out)
		}
	}
}

// --status and --fail-rate choose the answer: a fail rate fails exactly
// that share of requests, spread evenly; a request with no signature is
// refused with the header it lacks; without --secret nothing is checked.
func TestListenAnswers(t *testing.T) {
	post := func(addr string, h map[string]string) int {
		req, _ := http.NewRequest("POST", "http://"+addr+"/x", strings.NewReader(`{"a":"`+strings.Repeat("b", 200)+"\x1b[31m\"}"))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	addr, out := startListen(t, "--status", "204", "--fail-rate", "0.5", "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	var codes []int
	for range 4 {
		codes = append(codes, post(addr, map[string]string{"webhook-id": "evt_1", "hookd-attempt": "2"}))
	}
	if fmt.Sprint(codes) != "[204 500 204 500]" {
		t.Errorf("--status 204 --fail-rate 0.5 answered %v", codes)
	}
	text := out.String()
	if !strings.Contains(text, "webhook-id=evt_1 type=- attempt=2 bad signature: missing header: webhook-timestamp → 204") ||
		!strings.Contains(text, "… (213 bytes)") || strings.Contains(text, "\x1b") {
		t.Errorf("lines:\n%s", text)
	}

	addr, out = startListen(t)
	// A header cannot fake a verdict: its spaces and format characters
	// (a bidi override) become _.
	if code := post(addr, map[string]string{"webhook-id": "x type=a attempt=1 verified → 200 ‮"}); code != 200 {
		t.Errorf("default status %d", code)
	}
	if !strings.Contains(out.String(), "webhook-id=x_type=a_attempt=1_verified_→_200__ type=- attempt=- unchecked (no --secret) → 200") {
		t.Errorf("lines:\n%s", out)
	}
	if code := post(addr, nil); code != 200 {
		t.Errorf("default status %d", code)
	}
	if !strings.Contains(out.String(), "webhook-id=- type=- attempt=- unchecked (no --secret) → 200") {
		t.Errorf("lines:\n%s", out)
	}

	for _, args := range [][]string{{"--status", "99"}, {"--fail-rate", "2"}, {"--scheme", "nope"}, {"extra"}} {
		if err := run(t.Context(), append([]string{"listen"}, args...), io.Discard, io.Discard, nil); exitCode(err) != 2 {
			t.Errorf("hookd listen %v: %v", args, err)
		}
	}
}

// Every flag of hookd listen (and verify, and bench: the same parseFlags)
// has an environment variable, HOOKD_LISTEN_ and the flag's name; the
// flag wins, and a bad value names its variable.
func TestListenFlagsFromEnvironment(t *testing.T) {
	post := func(addr string) int {
		res, err := http.Post("http://"+addr+"/x", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	t.Setenv("HOOKD_LISTEN_STATUS", "202")
	if addr, _ := startListen(t); post(addr) != 202 {
		t.Errorf("HOOKD_LISTEN_STATUS=202 not taken")
	}
	if addr, _ := startListen(t, "--status", "204"); post(addr) != 204 {
		t.Errorf("--status 204 did not win over HOOKD_LISTEN_STATUS")
	}
	t.Setenv("HOOKD_LISTEN_FAIL_RATE", "often")
	var stderr strings.Builder
	err := run(t.Context(), []string{"listen", "--addr", "127.0.0.1:0"}, io.Discard, &stderr, nil)
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err)+stderr.String(), "HOOKD_LISTEN_FAIL_RATE") {
		t.Errorf("a bad HOOKD_LISTEN_FAIL_RATE: %v %s", err, stderr.String())
	}
}

// --save keeps each request as it came, in a form hookd verify reads: the
// saved request verifies with the webhook's secret.
func TestListenSaves(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	dir := filepath.Join(t.TempDir(), "requests")
	addr, out := startListen(t, "--save", dir, "--secret", secret)
	body := `{"id":"evt_1","type":"a.b","data":{}}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	key, _ := hookd.StandardKey(secret)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("evt_1." + ts + "." + body))
	req, _ := http.NewRequest("POST", "http://"+addr+"/hook", strings.NewReader(body))
	req.Header.Set("webhook-id", "evt_1")
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	saved := filepath.Join(dir, "0001.http")
	if !strings.Contains(out.String(), "verified → 200") || !strings.Contains(out.String(), "saved="+saved) {
		t.Fatalf("lines:\n%s", out)
	}
	var stdout, stderr strings.Builder
	if err := runVerify([]string{"--secret", secret, "--scheme", "standard", saved}, strings.NewReader(""), &stdout, &stderr); err != nil ||
		!strings.HasPrefix(stdout.String(), "OK") {
		t.Fatalf("hookd verify of the saved request: %v %s %s", err, stdout.String(), stderr.String())
	}

	// A body past what listen reads is not saved cut short.
	res, err = http.Post("http://"+addr+"/hook", "application/json", strings.NewReader(strings.Repeat("x", listenMaxBody+10)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !strings.Contains(out.String(), "saved=(not saved: the body is over 2 MiB)") {
		t.Errorf("lines:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "0002.http")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the oversized request was saved: %v", err)
	}
}
