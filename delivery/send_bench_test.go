package delivery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/netguard"
)

// One attempt to a receiver on loopback, connection kept alive: what the
// sender itself costs an attempt (signing included).
func BenchmarkSend(b *testing.B) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer rcv.Close()
	guard := netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	s := newSender(guard, "hookd/bench", time.Second)
	defer s.closeIdle()
	wh := &hookd.Webhook{ID: "wh_1", TenantID: "acme", URL: rcv.URL, Timeout: 5 * time.Second, SSLVerification: true,
		Secret: hookd.GenerateSecret(hookd.SchemeStandard)}
	body := make([]byte, 1024)
	for i := range body {
		body[i] = 'a'
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a, err := s.send(ctx, wh, "evt_1", "a.b", "dlv_1", 1, body, time.Now())
		if err != nil || !a.Success {
			b.Fatal(err, a.Error)
		}
	}
}
