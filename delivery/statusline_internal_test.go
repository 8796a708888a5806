package delivery

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/netguard"
)

func scanStatus(chunks ...string) int {
	c := &statusConn{}
	c.expect()
	for _, ch := range chunks {
		if c.scanning {
			c.scan([]byte(ch))
		}
	}
	code, _ := c.finalStatus()
	return code
}

func TestScanStatus(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"HTTP/1.1 200 OK\r\n", 200},
		{"HTTP/1.0 204\r\n", 204},
		{"HTTP/1.1 200\n", 200},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n", 201},
		{"HTTP/1.1 103 Early Hints\nLink: </a>\n\nHTTP/1.1 202 \n", 202},
		{"HTTP/1.1 100 Continue\r\nX: 1\r\n", 0}, // the final line has not come
		{"HTTP/1.1 2000 OK\r\n", 0},
		{"HTTP/1.1 20", 0},
		{"HTTP/2.0 200 OK\r\n", 0},
		{"HTTP/1.X 200 OK\r\n", 0},
		{"HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 200 OK\r\n", 101},
		{"HTTP/1.1 2x0 OK\r\n", 0},
		{"SSH-2.0-OpenSSH\r\n", 0},
		{"HTTP/1.1 500 Oops\r\n", 500},
	}
	for _, tt := range tests {
		if got := scanStatus(tt.in); got != tt.want {
			t.Errorf("%q: %d, want %d", tt.in, got, tt.want)
		}
	}
}

// However the bytes are split between reads, the status found is the same.
func FuzzScanStatus(f *testing.F) {
	f.Add("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n", 5)
	f.Add("HTTP/1.1 200 OK\r\n", 12)
	f.Add("HTTP/1.1 103 Early Hints\nLink: </a>\n\nHTTP/1.1 202 \n", 30)
	f.Fuzz(func(t *testing.T, in string, at int) {
		if at < 0 || at > len(in) {
			at = len(in) / 2
		}
		whole, split := scanStatus(in), scanStatus(in[:at], in[at:])
		if whole != split {
			t.Fatalf("%q: %d whole, %d split at %d", in, whole, split, at)
		}
		if whole != 0 && (whole < 100 || whole > 999) {
			t.Fatalf("%q: status %d", in, whole)
		}
	})
}

// A receiver that takes the connection and never shakes hands fails the
// attempt as a TLS handshake timeout, not as the webhook's own timeout.
func TestTLSHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the test ends
		}
	}()
	defer func(d time.Duration) { tlsHandshakeTimeout = d }(tlsHandshakeTimeout)
	tlsHandshakeTimeout = 200 * time.Millisecond
	s := newSender(netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}), "hookd/test", time.Second)
	defer s.closeIdle()
	wh := &hookd.Webhook{ID: "wh_1", TenantID: "acme", URL: "https://" + ln.Addr().String() + "/", Timeout: 5 * time.Second,
		SSLVerification: true, Secret: hookd.GenerateSecret(hookd.SchemeStandard)}
	a, _ := s.send(context.Background(), wh, "evt_1", "a.b", "dlv_1", 1, []byte(`{}`), time.Now())
	if a.Success || a.Error != "TLS handshake timeout" || a.Duration >= 5*time.Second {
		t.Fatalf("attempt %+v", a)
	}
}
