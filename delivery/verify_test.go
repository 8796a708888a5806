package delivery

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-github/v75/github"
	"github.com/stripe/stripe-go/v85/webhook"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/verify"
)

// Every scheme, sent over HTTP by the real sender, verifies at a receiver
// guarded by the verify package's middleware, with the current and with the
// previous secret during a rotation; and where the Go ecosystem has an
// independent verifier for the scheme (stripe-go, go-github), it agrees.
func TestSentRequestsVerify(t *testing.T) {
	guard := netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	s := newSender(guard, "hookd/test", time.Second)
	body := []byte(`{"id":"evt_1","type":"a.b","timestamp":"2026-01-02T03:04:05Z","data":{"x":"{body}"}}`)
	template := &hookd.Signature{Scheme: hookd.SchemeHMACSHA256, Header: "X-Sig", Content: "{id}:{timestamp}:{type}:{body}",
		Encoding: "base64", Prefix: "v=", TimestampHeader: "X-Ts", EventHeader: "X-Type"}
	for _, sig := range []*hookd.Signature{
		nil, {Scheme: hookd.SchemeStandardEd25519}, {Scheme: hookd.SchemeSvix}, {Scheme: hookd.SchemeGitHub}, {Scheme: hookd.SchemeStripe},
		{Scheme: hookd.SchemePlinqx}, {Scheme: hookd.SchemePlextrac}, {Scheme: hookd.SchemeForjinn}, template,
	} {
		t.Run(sig.SchemeName(), func(t *testing.T) {
			scheme := sig.SchemeName()
			current, previous := hookd.GenerateSecret(scheme), hookd.GenerateSecret(scheme)
			verifyWith := []string{current}
			if scheme == hookd.SchemeStandardEd25519 {
				pub, err := hookd.PublicKey(current)
				if err != nil {
					t.Fatal(err)
				}
				verifyWith = []string{pub} // receivers need only the public key
			}
			var seen http.Header
			v := &verify.Verifier{Scheme: scheme, Secrets: verifyWith}
			if sig != nil && scheme == hookd.SchemeHMACSHA256 {
				v.Template = verify.Template{Header: sig.Header, Content: sig.Content, Encoding: sig.Encoding, Prefix: sig.Prefix,
					TimestampHeader: sig.TimestampHeader, EventHeader: sig.EventHeader}
			}
			rcv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if string(b) != string(body) {
					t.Errorf("handler got %q", b)
				}
				seen = r.Header.Clone()
			})))
			defer rcv.Close()
			now := time.Now()
			wh := &hookd.Webhook{ID: "wh_1", URL: rcv.URL, Timeout: 5 * time.Second, SSLVerification: true, Signature: sig,
				Secret: current, PreviousSecrets: []hookd.OldSecret{{Secret: previous, ExpiresAt: now.Add(time.Hour)}}}
			a, _ := s.send(context.Background(), wh, "evt_1", "a.b", "dlv_1", 1, body, now)
			if !a.Success {
				t.Fatalf("receiver refused the request: %d %s %s", a.StatusCode, a.Error, a.ResponseBody)
			}
			// During the rotation the previous secret verifies too, where
			// the scheme carries more than one signature.
			prevV := *v
			prevV.Secrets = []string{previous}
			if scheme == hookd.SchemeStandardEd25519 {
				pub, _ := hookd.PublicKey(previous)
				prevV.Secrets = []string{pub}
			}
			err := prevV.Verify(seen, body)
			if multi := scheme == hookd.SchemeStandard || scheme == hookd.SchemeStandardEd25519 || scheme == hookd.SchemeStripe || scheme == hookd.SchemeSvix; multi != (err == nil) {
				t.Errorf("previous secret during the grace: %v (the scheme carries several signatures: %v)", err, multi)
			}
			switch scheme {
			case hookd.SchemeStripe:
				if err := webhook.ValidatePayload(body, seen.Get("Stripe-Signature"), current); err != nil {
					t.Errorf("stripe-go: %v", err)
				}
				if err := webhook.ValidatePayload(body, seen.Get("Stripe-Signature"), previous); err != nil {
					t.Errorf("stripe-go, previous secret: %v", err)
				}
			case hookd.SchemeSvix:
				// Svix's own SDK, as its users verify, with either secret.
				for _, secret := range []string{current, previous} {
					wh, err := svix.NewWebhook(secret)
					if err != nil {
						t.Fatal(err)
					}
					if err := wh.Verify(body, seen); err != nil {
						t.Errorf("svix SDK: %v", err)
					}
				}
				if seen.Get("webhook-signature") != "" {
					t.Error("the svix scheme also sent webhook-signature")
				}
			case hookd.SchemeGitHub:
				if err := github.ValidateSignature(seen.Get("X-Hub-Signature-256"), body, []byte(current)); err != nil {
					t.Errorf("go-github: %v", err)
				}
			}
		})
	}
}

// A webhook whose secret cannot be opened is not sent to at all: unsigned,
// a request would pass for hookd's with receivers that do not check.
func TestUnreadableSecretSendsNothing(t *testing.T) {
	guard := netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	s := newSender(guard, "hookd/test", time.Second)
	got := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} }))
	defer srv.Close()
	wh := &hookd.Webhook{ID: "wh_1", TenantID: "t", URL: srv.URL, Timeout: time.Second, SSLVerification: true,
		SecretUnreadable: "open secret: wrong encryption key or corrupted value"}
	a, err := s.send(context.Background(), wh, "evt_1", "a.b", "dlv_1", 1, []byte(`{}`), time.Now())
	if err != nil || a.Success || a.StatusCode != 0 || a.Error == "" {
		t.Fatalf("attempt %+v, %v", a, err)
	}
	// The receiver's handler would have run before the client had its
	// answer; the server's Close waits for any handler under way.
	srv.Close()
	select {
	case <-got:
		t.Fatal("the receiver got a request")
	default:
	}
}

// Only the operator's own webhook (--operator-webhook, which the operator
// names) is sent to past the SSRF guard, not any other webhook of its
// tenant: those a tenant key of hookd:operator may create.
func TestOnlyTheOperatorWebhookPassesTheGuard(t *testing.T) {
	s := newSender(netguard.New(nil), "hookd/test", time.Second) // loopback blocked
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	for _, tc := range []struct {
		id   string
		sent bool
	}{{hookd.OperatorWebhook, true}, {"wh_other", false}} {
		wh := &hookd.Webhook{ID: tc.id, TenantID: hookd.OperatorTenant, URL: srv.URL, Timeout: time.Second, SSLVerification: true,
			Secret: hookd.GenerateSecret(hookd.SchemeStandard)}
		a, _ := s.send(context.Background(), wh, "evt_1", "a.b", "dlv_1", 1, []byte(`{}`), time.Now())
		if a.Success != tc.sent {
			t.Errorf("%s: sent %v (%s), want %v", tc.id, a.Success, a.Error, tc.sent)
		}
	}
}
