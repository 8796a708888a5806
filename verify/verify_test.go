package verify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/hookd/hookd/verify"
)

// The Standard Webhooks specification's test vectors.
const (
	vectorID   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS   = 1614265330
	vectorBody = `{"test": 2432232314}`
	vectorHMAC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorSig  = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	vectorSK   = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
	vectorV1a  = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
)

var vectorTime = func() time.Time { return time.Unix(vectorTS, 0) }

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func hexMAC(secret, content string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(content))
	return hex.EncodeToString(m.Sum(nil))
}

func TestVerify(t *testing.T) {
	const secret = "legacy-secret-0123456789"
	body := []byte(`{"id":"evt_1","type":"a.b"}`)
	ts := strconv.Itoa(vectorTS)
	std := headers("webhook-id", vectorID, "webhook-timestamp", ts, "webhook-signature", vectorSig)
	for _, tc := range []struct {
		name string
		v    verify.Verifier
		h    http.Header
		body []byte
		want error // nil: verifies
	}{
		{"standard vector", verify.Verifier{Secrets: []string{vectorHMAC}}, std, []byte(vectorBody), nil},
		{"standard, rotation: the new signature first", verify.Verifier{Secrets: []string{vectorHMAC}},
			headers("webhook-id", vectorID, "webhook-timestamp", ts, "webhook-signature", "v1,bm9wZQ== "+vectorSig), []byte(vectorBody), nil},
		{"standard, a receiver holding two secrets", verify.Verifier{Secrets: []string{"whsec_b3RoZXJvdGhlcm90aGVyb3RoZXI=", vectorHMAC}}, std, []byte(vectorBody), nil},
		{"standard, body changed", verify.Verifier{Secrets: []string{vectorHMAC}}, std, []byte(vectorBody + " "), verify.ErrNoMatch},
		{"standard, wrong secret", verify.Verifier{Secrets: []string{"whsec_b3RoZXJvdGhlcm90aGVyb3RoZXI="}}, std, []byte(vectorBody), verify.ErrNoMatch},
		{"standard, too old", verify.Verifier{Secrets: []string{vectorHMAC}, Now: func() time.Time { return vectorTime().Add(6 * time.Minute) }}, std, []byte(vectorBody), verify.ErrTimestamp},
		{"standard, from the future", verify.Verifier{Secrets: []string{vectorHMAC}, Now: func() time.Time { return vectorTime().Add(-6 * time.Minute) }}, std, []byte(vectorBody), verify.ErrTimestamp},
		{"standard, tolerance off", verify.Verifier{Secrets: []string{vectorHMAC}, Tolerance: -1, Now: func() time.Time { return vectorTime().Add(time.Hour) }}, std, []byte(vectorBody), nil},
		{"standard, no signature header", verify.Verifier{Secrets: []string{vectorHMAC}}, headers("webhook-id", vectorID, "webhook-timestamp", ts), []byte(vectorBody), verify.ErrMissingHeader},
		{"standard, only v1a", verify.Verifier{Secrets: []string{vectorHMAC}}, headers("webhook-id", vectorID, "webhook-timestamp", ts, "webhook-signature", vectorV1a), []byte(vectorBody), verify.ErrMalformed},
		{"standard, bad timestamp", verify.Verifier{Secrets: []string{vectorHMAC}}, headers("webhook-id", vectorID, "webhook-timestamp", "soon", "webhook-signature", vectorSig), []byte(vectorBody), verify.ErrMalformed},
		{"standard, no secret", verify.Verifier{}, std, []byte(vectorBody), verify.ErrConfig},
		{"ed25519 vector, signing key", verify.Verifier{Scheme: verify.StandardEd25519, Secrets: []string{vectorSK}},
			headers("webhook-id", vectorID, "webhook-timestamp", ts, "webhook-signature", vectorV1a), []byte(vectorBody), nil},
		{"ed25519 vector, public key", verify.Verifier{Scheme: verify.StandardEd25519, Secrets: []string{"whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="}},
			headers("webhook-id", vectorID, "webhook-timestamp", ts, "webhook-signature", vectorV1a), []byte(vectorBody), nil},
		{"ed25519, body changed", verify.Verifier{Scheme: verify.StandardEd25519, Secrets: []string{vectorSK}},
			headers("webhook-id", vectorID, "webhook-timestamp", ts, "webhook-signature", vectorV1a), []byte(`{"test": 1}`), verify.ErrNoMatch},
		{"github", verify.Verifier{Scheme: verify.GitHub, Secrets: []string{secret}},
			headers("X-Hub-Signature-256", "sha256="+hexMAC(secret, string(body))), body, nil},
		{"github, no prefix", verify.Verifier{Scheme: verify.GitHub, Secrets: []string{secret}},
			headers("X-Hub-Signature-256", hexMAC(secret, string(body))), body, verify.ErrMalformed},
		{"stripe, two v1 during a rotation", verify.Verifier{Scheme: verify.Stripe, Secrets: []string{secret}},
			headers("Stripe-Signature", "t="+ts+",v1="+hexMAC("old-secret-0123456789", ts+"."+string(body))+",v1="+hexMAC(secret, ts+"."+string(body))), body, nil},
		{"stripe, no t", verify.Verifier{Scheme: verify.Stripe, Secrets: []string{secret}},
			headers("Stripe-Signature", "v1="+hexMAC(secret, ts+"."+string(body))), body, verify.ErrMalformed},
		{"plinqx", verify.Verifier{Scheme: verify.Plinqx, Secrets: []string{secret}},
			headers("X-Plinqx-Signature", hexMAC(secret, ts+string(body)), "X-Plinqx-Timestamp", ts), body, nil},
		{"plinqx, old", verify.Verifier{Scheme: verify.Plinqx, Secrets: []string{secret}, Now: func() time.Time { return vectorTime().Add(time.Hour) }},
			headers("X-Plinqx-Signature", hexMAC(secret, ts+string(body)), "X-Plinqx-Timestamp", ts), body, verify.ErrTimestamp},
		{"plextrac", verify.Verifier{Scheme: verify.Plextrac, Secrets: []string{secret}},
			headers("X-Authorization-HMAC-256", hexMAC(secret, string(body))), body, nil},
		{"forjinn", verify.Verifier{Scheme: verify.Forjinn, Secrets: []string{secret}},
			headers("X-Forjinn-Signature", hexMAC(secret, string(body))), body, nil},
		{"forjinn, short", verify.Verifier{Scheme: verify.Forjinn, Secrets: []string{secret}},
			headers("X-Forjinn-Signature", "abcd"), body, verify.ErrMalformed},
		{"hmac-sha256 template", verify.Verifier{Scheme: verify.HMACSHA256, Secrets: []string{secret},
			Template: verify.Template{Header: "X-Sig", Content: "{timestamp}.{type}.{body}", Prefix: "sha256="}},
			headers("X-Sig", "sha256="+hexMAC(secret, ts+".a.b."+string(body)), "webhook-timestamp", ts, "hookd-event-type", "a.b"), body, nil},
		{"hmac-sha256 template, wrong type", verify.Verifier{Scheme: verify.HMACSHA256, Secrets: []string{secret},
			Template: verify.Template{Header: "X-Sig", Content: "{timestamp}.{type}.{body}", Prefix: "sha256="}},
			headers("X-Sig", "sha256="+hexMAC(secret, ts+".a.b."+string(body)), "webhook-timestamp", ts, "hookd-event-type", "a.c"), body, verify.ErrNoMatch},
		{"hmac-sha256 template, no template", verify.Verifier{Scheme: verify.HMACSHA256, Secrets: []string{secret}}, headers(), body, verify.ErrConfig},
		{"unknown scheme", verify.Verifier{Scheme: "md5", Secrets: []string{secret}}, headers(), body, verify.ErrConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if v.Now == nil {
				v.Now = vectorTime
			}
			err := v.Verify(tc.h, tc.body)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Verify = %v, want it to verify", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// Signatures made by independent implementations verify.
func TestVerifyIndependentSigners(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"a.b","data":{"x":1}}`)
	now := time.Now()

	secret := "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign("msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := headers("webhook-id", "msg_1", "webhook-timestamp", strconv.FormatInt(now.Unix(), 10), "webhook-signature", sig)
	if err := (&verify.Verifier{Secrets: []string{secret}}).Verify(h, body); err != nil {
		t.Fatalf("standard-webhooks library's signature: %v", err)
	}

	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_stripe_style_secret", Timestamp: now})
	h = headers("Stripe-Signature", signed.Header)
	if err := (&verify.Verifier{Scheme: verify.Stripe, Secrets: []string{"whsec_stripe_style_secret"}}).Verify(h, body); err != nil {
		t.Fatalf("stripe-go's signature %q: %v", signed.Header, err)
	}
}

func TestMiddleware(t *testing.T) {
	const secret = "forjinn-secret-0123456789"
	var got string
	v := &verify.Verifier{Scheme: verify.Forjinn, Secrets: []string{secret}}
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	})))
	defer srv.Close()
	post := func(body, sig string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		req.Header.Set("X-Forjinn-Signature", sig)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	body := `{"id":"evt_1"}`
	if code, _ := post(body, hexMAC(secret, body)); code != 200 || got != body {
		t.Fatalf("good signature: %d, handler read %q", code, got)
	}
	got = ""
	code, msg := post(body, hexMAC("another-secret-0123456", body))
	if code != 401 || got != "" || !strings.Contains(msg, "no signature matches") {
		t.Fatalf("bad signature: %d %q, handler read %q", code, msg, got)
	}
}

// Header parsing never panics, and whatever it is fed, a request without
// the right key never verifies.
func FuzzVerify(f *testing.F) {
	f.Add("standard", vectorSig, vectorID, strconv.Itoa(vectorTS), vectorBody)
	f.Add("standard-ed25519", vectorV1a, vectorID, strconv.Itoa(vectorTS), vectorBody)
	f.Add("stripe", "t=1614265330,v1=abc,v1=", "", "", "{}")
	f.Add("github", "sha256=zz", "", "", "{}")
	f.Add("plinqx", "00", "", "1614265330", "{}")
	f.Add("hmac-sha256", "sha256=", "x", "1", "{}")
	f.Add("standard", "v1, v1,=== v2,abc", "id", "-1", "")
	f.Fuzz(func(t *testing.T, scheme, sig, id, ts, body string) {
		h := headers("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig, "Stripe-Signature", sig,
			"X-Hub-Signature-256", sig, "X-Plinqx-Signature", sig, "X-Plinqx-Timestamp", ts, "X-Authorization-HMAC-256", sig,
			"X-Forjinn-Signature", sig, "X-Sig", sig, "hookd-event-type", id)
		v := verify.Verifier{Scheme: scheme, Now: vectorTime, Template: verify.Template{Header: "X-Sig", Content: "{id}{timestamp}{type}{body}", Prefix: "sha256="}}
		// A key the fuzzer cannot know: only the vector signatures are
		// made with the vector keys, and these are not those keys.
		v.Secrets = []string{"whsec_b3RoZXJvdGhlcm90aGVyb3RoZXI="}
		if scheme == verify.StandardEd25519 {
			v.Secrets = []string{"whpk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
		}
		if err := v.Verify(h, []byte(body)); err == nil {
			t.Fatalf("verified a forged request: scheme %q sig %q id %q ts %q body %q", scheme, sig, id, ts, body)
		}
	})
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    verify.Verifier
		ok   bool
	}{
		{"standard", verify.Verifier{Secrets: []string{vectorHMAC}}, true},
		{"no secret", verify.Verifier{}, false},
		{"standard, not whsec_", verify.Verifier{Secrets: []string{"notasecret!"}}, false},
		{"standard, the second secret bad", verify.Verifier{Secrets: []string{vectorHMAC, "notasecret!"}}, false},
		{"github takes any string", verify.Verifier{Scheme: verify.GitHub, Secrets: []string{"notasecret!"}}, true},
		{"ed25519 with an HMAC secret", verify.Verifier{Scheme: verify.StandardEd25519, Secrets: []string{vectorHMAC}}, false},
		{"an unknown scheme", verify.Verifier{Scheme: "nope", Secrets: []string{vectorHMAC}}, false},
		{"hmac-sha256 without a template", verify.Verifier{Scheme: verify.HMACSHA256, Secrets: []string{"s"}}, false},
		{"hmac-sha256", verify.Verifier{Scheme: verify.HMACSHA256, Secrets: []string{"s"}, Template: verify.Template{Header: "X-S", Content: "{body}"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Check()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, verify.ErrConfig)) {
				t.Fatalf("Check() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
