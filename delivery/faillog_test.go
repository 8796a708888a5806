package delivery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/netguard"
)

// lines decodes what a JSON slog handler wrote.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

func TestFailLogLimits(t *testing.T) {
	var buf bytes.Buffer
	f := newFailLog(slog.New(slog.NewJSONHandler(&buf, nil)), time.Minute, 2)
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	fail := func(at time.Duration, webhook string, blocked bool) {
		c := &hookd.Claim{Lease: hookd.Lease{DeliveryID: "dlv_" + webhook}, TenantID: "acme", WebhookID: webhook, EventID: "evt_1"}
		o := &hookd.Outcome{Attempt: &hookd.Attempt{Number: 2, StatusCode: 500, Error: "HTTP 500"}, Status: hookd.StatusRetrying, RetryIn: 5 * time.Minute}
		var sendErr error
		if blocked {
			sendErr = &netguard.BlockedError{Addr: netip.MustParseAddr("10.0.0.1"), Kind: "a private address"}
			o.Attempt.StatusCode, o.Attempt.Error, o.Status = 0, "the receiver's address is a private address: blocked by the SSRF guard", hookd.StatusFailed
		}
		f.failed(t0.Add(at), c, o, sendErr)
	}
	steps := []struct {
		name string
		do   func()
		want []string // "msg webhook notLogged"
	}{
		{"a first failure is logged", func() { fail(0, "wh_a", false) }, []string{"attempt failed wh_a 0"}},
		{"more within the minute are counted", func() { fail(time.Second, "wh_a", false); fail(30*time.Second, "wh_a", false) }, nil},
		{"the next after it carries the count", func() { fail(61*time.Second, "wh_a", false) }, []string{"attempt failed wh_a 2"}},
		{"other webhooks have their own interval, under one budget a second", func() {
			fail(62*time.Second, "wh_b", false)
			fail(62*time.Second+time.Millisecond, "wh_c", false)
			fail(62*time.Second+2*time.Millisecond, "wh_d", false) // over the burst of 2
		}, []string{"attempt failed wh_b 0", "attempt failed wh_c 0"}},
		{"a refusal of the guard names the flag", func() { fail(63*time.Second, "wh_d", true) }, []string{"attempt refused by the SSRF guard wh_d 1"}},
		{"a sweep within the interval says nothing", func() { fail(64*time.Second, "wh_b", false); f.sweep(t0.Add(100 * time.Second)) }, nil},
		{"a sweep after it reports what was left out", func() { f.sweep(t0.Add(200 * time.Second)) }, []string{"attempts failed and not logged wh_b 1"}},
	}
	for _, s := range steps {
		s.do()
		var got []string
		for _, l := range lines(t, &buf) {
			n, _ := l["notLogged"].(float64)
			got = append(got, l["msg"].(string)+" "+l["webhook"].(string)+" "+fmt.Sprint(int(n)))
			if l["level"] != "WARN" || l["tenant"] != "acme" {
				t.Errorf("%s: %v", s.name, l)
			}
			switch l["msg"] {
			case "attempt failed":
				if l["delivery"] != "dlv_"+l["webhook"].(string) || l["reason"] != "HTTP 500" || l["status"] != 500.0 || l["retryIn"] != "5m0s" || l["attempt"] != 2.0 {
					t.Errorf("%s: %v", s.name, l)
				}
			case "attempt refused by the SSRF guard":
				if !strings.Contains(l["hint"].(string), "--allow-networks") || l["final"] != true || l["status"] != nil {
					t.Errorf("%s: %v", s.name, l)
				}
			}
		}
		if strings.Join(got, "|") != strings.Join(s.want, "|") {
			t.Errorf("%s: logged %q, want %q", s.name, got, s.want)
		}
	}
	if len(f.hooks) != 0 { // each went with its interval
		t.Errorf("%d webhooks remembered", len(f.hooks))
	}
}

// With no limit every failure is a line; with a burst cap alone, the lines
// it leaves out are counted in the webhook's next, and sweeps say nothing.
func TestFailLogUnlimitedAndBurstOnly(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := &hookd.Claim{Lease: hookd.Lease{DeliveryID: "dlv_a"}, TenantID: "acme", WebhookID: "wh_a", EventID: "evt_1"}
	o := &hookd.Outcome{Attempt: &hookd.Attempt{Number: 1, StatusCode: 500, Error: "HTTP 500"}, Status: hookd.StatusRetrying, RetryIn: time.Minute}
	for _, tc := range []struct {
		name  string
		burst int
		want  []int // notLogged of each line
	}{
		{"no limit", 0, []int{0, 0, 0, 0, 0, 0}},
		{"burst of 2 a second", 2, []int{0, 0, 3}},
	} {
		var buf bytes.Buffer
		f := newFailLog(slog.New(slog.NewJSONHandler(&buf, nil)), 0, tc.burst)
		for i := range 5 {
			f.failed(t0.Add(time.Duration(i)*time.Millisecond), c, o, nil)
			f.sweep(t0.Add(time.Duration(i) * time.Millisecond))
		}
		f.failed(t0.Add(2*time.Second), c, o, nil)
		f.sweep(t0.Add(time.Hour))
		var got []int
		for _, l := range lines(t, &buf) {
			if l["msg"] != "attempt failed" {
				t.Fatalf("%s: %v", tc.name, l)
			}
			n, _ := l["notLogged"].(float64)
			got = append(got, int(n))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: lines with notLogged %v, want %v", tc.name, got, tc.want)
		}
	}
}

// However many webhooks a sweep reports, it writes one line.
func TestFailLogSweepIsOneLine(t *testing.T) {
	var buf bytes.Buffer
	f := newFailLog(slog.New(slog.NewJSONHandler(&buf, nil)), time.Minute, 2)
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range 1000 {
		c := &hookd.Claim{TenantID: "acme", WebhookID: fmt.Sprintf("wh_%d", i)}
		o := &hookd.Outcome{Attempt: &hookd.Attempt{Number: 1, Error: "HTTP 500"}, Status: hookd.StatusRetrying}
		f.failed(t0, c, o, nil)
		f.failed(t0.Add(time.Second), c, o, nil)
	}
	// Two seconds at 2 lines a second, in all.
	if n := len(lines(t, &buf)); n != 4 {
		t.Fatalf("%d lines for 2000 failures over two seconds, want 4", n)
	}
	f.sweep(t0.Add(2 * time.Minute))
	got := lines(t, &buf)
	if len(got) != 1 || got[0]["webhooks"].(float64) < 990 || got[0]["notLogged"].(float64) < 1990 || got[0]["mostNotLogged"] != 2.0 {
		t.Fatalf("sweep wrote %v", got)
	}
}
