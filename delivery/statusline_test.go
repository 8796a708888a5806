package delivery_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
)

// rawReceiver answers every request with answer, byte for byte, then holds
// the connection open until the test ends: a receiver net/http could not
// be made to write.
func rawReceiver(t *testing.T, answer string, overTLS bool) (url string, requests *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url = "http://" + ln.Addr().String() + "/"
	if overTLS {
		// httptest's certificate, on a listener that speaks HTTP/1.1 only.
		cert := httptest.NewUnstartedServer(nil)
		cert.StartTLS()
		cfg := &tls.Config{Certificates: cert.TLS.Certificates, NextProtos: []string{"http/1.1"}}
		cert.Close()
		ln = tls.NewListener(ln, cfg)
		url = "https://" + ln.Addr().String() + "/"
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	requests = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					requests.Add(1)
					if _, err := io.WriteString(c, answer); err != nil {
						return
					}
					<-done
					return
				}
			}()
		}
	}()
	return url, requests
}

// The status line decides an attempt, even when the headers after it stall
// or are not HTTP (net/http returns a response only once its headers came).
func TestStatusLineDecides(t *testing.T) {
	tests := []struct {
		name    string
		answer  string
		overTLS bool
		code    int    // 0: a failed attempt
		errText string // a failed attempt's
		failed  int    // a failed attempt's status code
	}{
		{"2xx, headers stall", "HTTP/1.1 200 OK\r\n", false, 200, "", 0},
		{"2xx, a broken header", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false, 200, "", 0},
		{"interim answers first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\nX-A: ", false, 204, "", 0},
		{"2xx over TLS, headers stall", "HTTP/1.1 202 Accepted\r\nX-A: 1\r\n", true, 202, "", 0},
		{"5xx, headers stall", "HTTP/1.1 500 Oops\r\n", false, 0, "HTTP 500; the response's headers did not follow", 500},
		{"410, headers stall", "HTTP/1.1 410 Gone\r\nX-A: 1\r\n", false, 0, "HTTP 410", 410},
		{"an interim answer that stalls", "HTTP/1.1 100 Continue\r\nX-A: 1\r\n", false, 0, "timeout", 0},
		{"not HTTP", "HTTP/1.1 2000 OK\r\n\r\n", false, 0, "malformed", 0},
	}
	h := newHarness(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, requests := rawReceiver(t, tt.answer, tt.overTLS)
			wh := h.webhook(url, func(w *hookd.Webhook) {
				w.Timeout, w.MaxAttempts, w.SSLVerification = time.Second, 1, false
			})
			dd := h.wait(h.publish(wh), wh, "its attempt", func(d *hookd.DeliveryDetail) bool { return d.Delivery.Attempts == 1 && len(d.Attempts) == 1 })
			a := dd.Attempts[0]
			if tt.code == 0 {
				if a.Success || dd.Delivery.Status != hookd.StatusFailed || !strings.Contains(a.Error, tt.errText) || a.StatusCode != tt.failed {
					t.Fatalf("delivery %s, attempt %+v: want a failed attempt (status %d)", dd.Delivery.Status, a, tt.failed)
				}
				if tt.failed == http.StatusGone {
					// A 410's status line disables the webhook, as a 410 does.
					got, err := h.store.GetWebhook(t.Context(), wh.TenantID, wh.ID)
					if err != nil || got.Enabled || got.DisabledReason != hookd.DisabledGone {
						t.Fatalf("after a 410 status line: %+v %v", got, err)
					}
				}
				return
			}
			if !a.Success || a.StatusCode != tt.code || a.Error != "" || dd.Delivery.Status != hookd.StatusSuccess {
				t.Fatalf("delivery %s, attempt %+v: want a success with %d", dd.Delivery.Status, a, tt.code)
			}
			if a.Duration >= time.Second {
				t.Fatalf("response time %v: want the time to the status line, not to the timeout", a.Duration)
			}
			if n := requests.Load(); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
		})
	}
}

// A status line whose headers never follow holds its send for the whole
// timeout, as a silent endpoint's does: the endpoint gets a failing one's
// room (FailingEndpoint, 2), not a fast one's, whatever the status said (a
// review: twenty sends at once to a 503 that stalled).
func TestStalledHeadersGetFailingRoom(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) { c.Lease = time.Minute })
	url, requests := rawReceiver(t, "HTTP/1.1 503 Busy\r\n", false)
	// Its first attempt ends at the timeout, and its status line is the
	// endpoint's first answer; the next ones hang for as long.
	wh := h.webhook(url, func(w *hookd.Webhook) { w.Timeout, w.MaxAttempts = 3*time.Second, 1 })
	h.wait(h.publish(wh), wh, "first attempt", func(d *hookd.DeliveryDetail) bool { return d.Delivery.Attempts == 1 })
	base := requests.Load()
	for range 20 {
		h.publish(wh)
	}
	for requests.Load() < base+2 {
		time.Sleep(time.Millisecond)
	}
	loopedTwice(h)
	if n, held := requests.Load()-base, h.engine.Held(); n != 2 || held != 2 {
		t.Fatalf("%d sends at once, %d held; want 2 (FailingEndpoint) to an endpoint whose answers stall", n, held)
	}
}
