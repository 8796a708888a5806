package delivery

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd"
)

// The Standard Webhooks specification's published test vectors.
const (
	vectorID   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS   = 1614265330
	vectorBody = `{"test": 2432232314}`
)

func TestSignStandardVector(t *testing.T) {
	key, err := hookd.StandardKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := SignStandard(key, vectorID, vectorTS, []byte(vectorBody))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("SignStandard = %s, want %s", got, want)
	}
}

func TestSignEd25519Vector(t *testing.T) {
	key, err := hookd.Ed25519Key("whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==")
	if err != nil {
		t.Fatal(err)
	}
	got := SignEd25519(key, vectorID, vectorTS, []byte(vectorBody))
	if want := "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="; got != want {
		t.Fatalf("SignEd25519 = %s, want %s", got, want)
	}
}

// TestSignVerifiedByLibrary checks hookd's headers with the Standard
// Webhooks Go library, for one secret and for a rotation's two.
func TestSignVerifiedByLibrary(t *testing.T) {
	oldSecret, newSecret := hookd.GenerateSecret(hookd.SchemeStandard), hookd.GenerateSecret(hookd.SchemeStandard)
	body := []byte(`{"id":"evt_1","type":"a.b","timestamp":"2026-01-01T00:00:00Z","data":{"x":"é\u2028"}}`)
	now := time.Now()
	for _, secrets := range [][]string{{newSecret}, {newSecret, oldSecret}} {
		h := http.Header{}
		h.Set(HeaderID, "evt_1")
		h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		if _, err := sign(h, nil, secrets, "evt_1", "a.b", now.Unix(), body); err != nil {
			t.Fatal(err)
		}
		if n := len(strings.Split(h.Get(HeaderSignature), " ")); n != len(secrets) {
			t.Fatalf("%d signatures for %d secrets", n, len(secrets))
		}
		for _, s := range secrets {
			wh, err := standardwebhooks.NewWebhook(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Fatalf("library rejects hookd's signature: %v", err)
			}
		}
		wrong, _ := standardwebhooks.NewWebhook(hookd.GenerateSecret(hookd.SchemeStandard))
		if wrong.Verify(body, h) == nil {
			t.Fatal("a wrong secret verifies")
		}
		if wh, _ := standardwebhooks.NewWebhook(secrets[0]); wh.Verify(append(body, ' '), h) == nil {
			t.Fatal("a changed body verifies")
		}
	}
}

func TestSignOtherSchemes(t *testing.T) {
	body := []byte(`{"a":1}`)
	const secret = "it's-a-secret-0123"
	tests := []struct {
		sig    *hookd.Signature
		header string
		want   string
	}{
		{&hookd.Signature{Scheme: hookd.SchemeGitHub}, "X-Hub-Signature-256", "sha256=" + hmacHex(secret, body)},
		{&hookd.Signature{Scheme: hookd.SchemeForjinn}, "X-Forjinn-Signature", hmacHex(secret, body)},
		{&hookd.Signature{Scheme: hookd.SchemePlextrac}, "X-Authorization-HMAC-256", hmacHex(secret, body)},
		{&hookd.Signature{Scheme: hookd.SchemePlinqx}, "X-Plinqx-Signature", hmacHex(secret, []byte("1700000000"), body)},
		{&hookd.Signature{Scheme: hookd.SchemeStripe}, "Stripe-Signature", "t=1700000000,v1=" + hmacHex(secret, []byte("1700000000."), body)},
		{&hookd.Signature{Scheme: hookd.SchemeHMACSHA256, Header: "X-Sig", Content: "{timestamp}.{body}", Encoding: "hex", Prefix: "sha256="},
			"X-Sig", "sha256=" + hmacHex(secret, []byte("1700000000."), body)},
	}
	for _, tt := range tests {
		h := http.Header{}
		if _, err := sign(h, tt.sig, []string{secret}, "evt_1", "a.b", 1700000000, body); err != nil {
			t.Fatal(err)
		}
		if got := h.Get(tt.header); got != tt.want {
			t.Errorf("%s: %s = %q, want %q", tt.sig.Scheme, tt.header, got, tt.want)
		}
	}
	// The helper itself against values from openssl:
	// printf '%s' BODY | openssl dgst -sha256 -hmac "it's-a-secret-0123"
	if got := hmacHex(secret, body); got != "5b234b0d656a4faeddec93a4438ddc9ef8e4560fe8fedde9246ace2fd99213c8" {
		t.Fatalf("hmacHex = %s", got)
	}
	if got := hmacHex(secret, []byte("1700000000."), body); got != "be75d72e08fff43f58987094435f35afc4e7af7acb1df306d63564f4c0be9d54" {
		t.Fatalf("hmacHex of timestamp.body = %s", got)
	}
	// No secret: no signature header at all; the scheme's other headers
	// all the same.
	h := http.Header{}
	if signed, _ := sign(h, &hookd.Signature{Scheme: hookd.SchemePlextrac}, nil, "evt_1", "a.b", 1, body); signed != nil || len(h) != 0 {
		t.Fatalf("unsigned webhook got headers %v", h)
	}
	for _, tt := range []struct {
		sig  *hookd.Signature
		want http.Header
	}{
		{&hookd.Signature{Scheme: hookd.SchemePlinqx}, http.Header{"X-Plinqx-Timestamp": {"1700000000"}, "X-Plinqx-Event": {"a.b"}}},
		{&hookd.Signature{Scheme: hookd.SchemeHMACSHA256, Header: "X-Sig", Content: "{body}", Encoding: "hex", TimestampHeader: "X-Ts", EventHeader: "X-Ev"},
			http.Header{"X-Ts": {"1700000000"}, "X-Ev": {"a.b"}}},
	} {
		h := http.Header{}
		if signed, err := sign(h, tt.sig, nil, "evt_1", "a.b", 1700000000, body); err != nil || signed != nil || !reflect.DeepEqual(h, tt.want) {
			t.Errorf("unsigned %s: headers %v, signed %v, %v; want %v", tt.sig.Scheme, h, signed, err, tt.want)
		}
	}
}

// Signature.Headers names every header a scheme's signing sets besides
// webhook-*, so that a webhook's own headers cannot name one (the signing
// would replace it unseen).
func TestSchemeHeadersListed(t *testing.T) {
	for _, sig := range []*hookd.Signature{
		nil, {Scheme: hookd.SchemeStandardEd25519}, {Scheme: hookd.SchemeSvix}, {Scheme: hookd.SchemeGitHub},
		{Scheme: hookd.SchemeStripe}, {Scheme: hookd.SchemePlinqx}, {Scheme: hookd.SchemePlextrac}, {Scheme: hookd.SchemeForjinn},
		{Scheme: hookd.SchemeHMACSHA256, Header: "X-Sig", Content: "{body}", Encoding: "hex", TimestampHeader: "X-Ts", EventHeader: "X-Ev"},
	} {
		secret := "a-receivers-secret-123"
		switch sig.SchemeName() {
		case hookd.SchemeStandard, hookd.SchemeSvix:
			secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		case hookd.SchemeStandardEd25519:
			secret = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
		}
		h := http.Header{}
		if _, err := sign(h, sig, []string{secret}, "evt_1", "a.b", 1614265330, []byte(`{}`)); err != nil {
			t.Fatalf("%s: %v", sig.SchemeName(), err)
		}
		listed := map[string]bool{}
		for _, name := range sig.Headers() {
			listed[http.CanonicalHeaderKey(name)] = true
		}
		for name := range h {
			if !strings.HasPrefix(strings.ToLower(name), "webhook-") && !listed[name] {
				t.Errorf("%s sets %s, which Signature.Headers does not list", sig.SchemeName(), name)
			}
		}
	}
}
