// Package verify checks the signatures hookd puts on webhook requests, for
// receivers written in Go. It depends on the standard library alone, so a
// receiver imports it without the rest of hookd:
//
//	v := verify.Verifier{Scheme: verify.Standard, Secrets: []string{os.Getenv("WEBHOOK_SECRET")}}
//	http.Handle("/webhooks", v.Middleware(handler)) // 401 unless the signature verifies
//
// Every scheme hookd signs with is verified here: standard (Standard
// Webhooks v1), standard-ed25519 (v1a), github, stripe, plinqx, plextrac,
// forjinn and the templated hmac-sha256. Comparisons are constant-time, and
// schemes that sign a timestamp reject requests whose timestamp is more
// than Tolerance (default 5 minutes) away from now, so a captured request
// cannot be replayed later.
package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scheme names, as a webhook's "signature": {"scheme": …} names them.
const (
	Standard        = "standard"
	StandardEd25519 = "standard-ed25519"
	GitHub          = "github"
	Stripe          = "stripe"
	Plinqx          = "plinqx"
	Plextrac        = "plextrac"
	Forjinn         = "forjinn"
	HMACSHA256      = "hmac-sha256"
	// Svix is Standard's signature under Svix's header names.
	Svix = "svix"
)

// Schemes lists every scheme Verify knows.
var Schemes = []string{Standard, StandardEd25519, Svix, GitHub, Stripe, Plinqx, Plextrac, Forjinn, HMACSHA256}

// The reasons a request fails; Verify's errors wrap one of them and say
// more.
var (
	ErrMissingHeader = errors.New("missing header")
	ErrMalformed     = errors.New("malformed header")
	ErrTimestamp     = errors.New("timestamp outside the tolerance")
	ErrNoMatch       = errors.New("no signature matches")
	ErrConfig        = errors.New("verifier misconfigured")
)

// DefaultTolerance is how far a signed timestamp may be from now.
const DefaultTolerance = 5 * time.Minute

// Template is the hmac-sha256 scheme's parameters, the same as the
// webhook's "signature" object in hookd.
type Template struct {
	Header          string // the header carrying the signature
	Content         string // what is signed: {id}, {timestamp}, {type}, {body}
	Encoding        string // hex (default) or base64
	Prefix          string // before the encoded signature, e.g. "sha256="
	TimestampHeader string // where the timestamp is sent; default webhook-timestamp
	EventHeader     string // where the event type is sent; default hookd-event-type
}

// Verifier checks requests signed by one scheme.
type Verifier struct {
	Scheme string // default Standard
	// Secrets are the webhook's secrets as hookd shows them (whsec_… for
	// standard; the secret string for the other HMAC schemes; whsk_… or
	// the public key whpk_… for standard-ed25519). A request passes when
	// any of them verifies, so a receiver can hold the old and the new
	// secret while it rolls a rotation out.
	Secrets   []string
	Template  Template      // hmac-sha256 only
	Tolerance time.Duration // 0: DefaultTolerance; negative: timestamps are not checked
	Now       func() time.Time
	// MaxBody caps what Middleware reads (default 1 MiB, hookd's largest
	// request is smaller).
	MaxBody int64
}

// Verify reports whether body, received with the headers h, carries a
// valid signature, and if not, why.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	if len(v.Secrets) == 0 {
		return fmt.Errorf("%w: no secret given", ErrConfig)
	}
	switch v.scheme() {
	case Standard, Svix:
		prefix := "webhook-"
		if v.scheme() == Svix {
			prefix = "svix-"
		}
		return v.standard(h, body, prefix, "v1", func(secret, content string, sig []byte) (bool, error) {
			key, err := standardKey(secret)
			if err != nil {
				return false, err
			}
			return hmac.Equal(mac(key, content), sig), nil
		})
	case StandardEd25519:
		return v.standard(h, body, "webhook-", "v1a", func(secret, content string, sig []byte) (bool, error) {
			pub, err := ed25519Public(secret)
			if err != nil {
				return false, err
			}
			return ed25519.Verify(pub, []byte(content), sig), nil
		})
	case GitHub:
		got, err := header(h, "X-Hub-Signature-256")
		if err != nil {
			return err
		}
		hexSig, ok := strings.CutPrefix(got, "sha256=")
		if !ok {
			return fmt.Errorf("%w: X-Hub-Signature-256 must start with sha256=", ErrMalformed)
		}
		return v.anyHex(hexSig, string(body))
	case Stripe:
		return v.stripe(h, body)
	case Plinqx:
		got, err := header(h, "X-Plinqx-Signature")
		if err != nil {
			return err
		}
		ts, err := header(h, "X-Plinqx-Timestamp")
		if err != nil {
			return err
		}
		if err := v.checkTime(ts, "X-Plinqx-Timestamp"); err != nil {
			return err
		}
		return v.anyHex(got, ts+string(body))
	case Plextrac:
		got, err := header(h, "X-Authorization-HMAC-256")
		if err != nil {
			return err
		}
		return v.anyHex(got, string(body))
	case Forjinn:
		got, err := header(h, "X-Forjinn-Signature")
		if err != nil {
			return err
		}
		return v.anyHex(got, string(body))
	case HMACSHA256:
		return v.template(h, body)
	}
	return fmt.Errorf("%w: unknown scheme %q (one of %s)", ErrConfig, v.Scheme, strings.Join(Schemes, ", "))
}

// Check reports, as an ErrConfig, what makes v unable to verify anything:
// no secret, an unknown scheme, a secret its scheme cannot use, a template
// without its header or content. A receiver calls it once at start,
// instead of learning it from its first request's error.
func (v *Verifier) Check() error {
	if len(v.Secrets) == 0 {
		return fmt.Errorf("%w: no secret given", ErrConfig)
	}
	if !slices.Contains(Schemes, v.scheme()) {
		return fmt.Errorf("%w: unknown scheme %q (one of %s)", ErrConfig, v.Scheme, strings.Join(Schemes, ", "))
	}
	for _, secret := range v.Secrets {
		var err error
		switch v.scheme() {
		case Standard, Svix:
			_, err = standardKey(secret)
		case StandardEd25519:
			_, err = ed25519Public(secret)
		}
		if err != nil {
			return err
		}
	}
	if t := v.Template; v.scheme() == HMACSHA256 {
		if t.Header == "" || t.Content == "" {
			return fmt.Errorf("%w: hmac-sha256 needs the template's header and content", ErrConfig)
		}
		if t.Encoding != "" && t.Encoding != "hex" && t.Encoding != "base64" {
			return fmt.Errorf("%w: the template's encoding is hex or base64, not %q", ErrConfig, t.Encoding)
		}
	}
	return nil
}

func (v *Verifier) scheme() string {
	if v.Scheme == "" {
		return Standard
	}
	return v.Scheme
}

// Middleware verifies each request before next sees it: a request that
// does not verify gets 401 and a plain-text reason; one that does reaches
// next with its body intact, readable again.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := v.MaxBody
		if limit <= 0 {
			limit = 1 << 20
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			http.Error(w, "could not read the request body", http.StatusBadRequest)
			return
		}
		if int64(len(body)) > limit {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(w, "invalid webhook signature: "+err.Error(), http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func header(h http.Header, name string) (string, error) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return "", fmt.Errorf("%w: %s", ErrMissingHeader, name)
	}
	return v, nil
}

func mac(key []byte, content string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(content))
	return m.Sum(nil)
}

// checkTime enforces the tolerance on a signed Unix-seconds timestamp.
func (v *Verifier) checkTime(ts, name string) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not Unix seconds: %q", ErrMalformed, name, ts)
	}
	tol := v.Tolerance
	if tol < 0 {
		return nil
	}
	if tol == 0 {
		tol = DefaultTolerance
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	at := time.Unix(sec, 0)
	if d := now.Sub(at); d > tol || d < -tol {
		return fmt.Errorf("%w: %s is %s, %v from now (tolerance %v)", ErrTimestamp, name, at.UTC().Format(time.RFC3339), d.Round(time.Second), tol)
	}
	return nil
}

// anyHex checks a hex HMAC-SHA256 of content keyed with the secret string
// itself, as every HMAC scheme but standard keys it.
func (v *Verifier) anyHex(got, content string) error {
	sig, err := hex.DecodeString(got)
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("%w: the signature is not 64 hex digits", ErrMalformed)
	}
	return v.anyMAC(sig, content)
}

// anyMAC checks a raw HMAC-SHA256 of content against each secret string.
func (v *Verifier) anyMAC(sig []byte, content string) error {
	for _, s := range v.Secrets {
		if hmac.Equal(mac([]byte(s), content), sig) {
			return nil
		}
	}
	return v.noMatch()
}

func (v *Verifier) noMatch() error {
	return fmt.Errorf("%w (checked against %d secret(s) with the %s scheme: is it the webhook's current secret, and is the body the exact bytes received?)",
		ErrNoMatch, len(v.Secrets), v.scheme())
}

// standard verifies the Standard Webhooks headers: webhook-signature holds
// space-separated "version,base64" entries over "{id}.{timestamp}.{body}".
func (v *Verifier) standard(h http.Header, body []byte, prefix, version string, check func(secret, content string, sig []byte) (bool, error)) error {
	id, err := header(h, prefix+"id")
	if err != nil {
		return err
	}
	ts, err := header(h, prefix+"timestamp")
	if err != nil {
		return err
	}
	sigs, err := header(h, prefix+"signature")
	if err != nil {
		return err
	}
	if err := v.checkTime(ts, prefix+"timestamp"); err != nil {
		return err
	}
	content := id + "." + ts + "." + string(body)
	var candidates [][]byte
	for _, entry := range strings.Fields(sigs) {
		ver, b64, ok := strings.Cut(entry, ",")
		if !ok {
			return fmt.Errorf("%w: %ssignature entry %q is not version,signature", ErrMalformed, prefix, entry)
		}
		if ver != version {
			continue // another version: not ours to check
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return fmt.Errorf("%w: %ssignature entry is not base64", ErrMalformed, prefix)
		}
		candidates = append(candidates, sig)
	}
	if len(candidates) == 0 {
		return fmt.Errorf("%w: %ssignature has no %s signature", ErrMalformed, prefix, version)
	}
	for _, secret := range v.Secrets {
		for _, sig := range candidates {
			ok, err := check(secret, content, sig)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
	}
	return v.noMatch()
}

// standardKey decodes a whsec_ secret's key (a bare base64 key too, as the
// Standard Webhooks libraries accept).
func standardKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, fmt.Errorf("%w: the secret is not whsec_ followed by base64", ErrConfig)
	}
	return key, nil
}

// ed25519Public reads a whpk_ public key, or the public half of a whsk_
// signing key.
func ed25519Public(secret string) (ed25519.PublicKey, error) {
	if b64, ok := strings.CutPrefix(secret, "whpk_"); ok {
		pub, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: a whpk_ key is base64 of 32 bytes", ErrConfig)
		}
		return pub, nil
	}
	if b64, ok := strings.CutPrefix(secret, "whsk_"); ok {
		priv, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(priv) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: a whsk_ key is base64 of 64 bytes", ErrConfig)
		}
		return ed25519.PrivateKey(priv).Public().(ed25519.PublicKey), nil
	}
	return nil, fmt.Errorf("%w: standard-ed25519 takes a whpk_ public key (or the whsk_ key)", ErrConfig)
}

// stripe verifies Stripe-Signature: "t=…,v1=…[,v1=…]" over "{t}.{body}".
func (v *Verifier) stripe(h http.Header, body []byte) error {
	raw, err := header(h, "Stripe-Signature")
	if err != nil {
		return err
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(raw, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: Stripe-Signature part %q is not key=value", ErrMalformed, part)
		}
		switch k {
		case "t":
			ts = val
		case "v1":
			sigs = append(sigs, val)
		}
	}
	if ts == "" {
		return fmt.Errorf("%w: Stripe-Signature has no t=", ErrMalformed)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: Stripe-Signature has no v1=", ErrMalformed)
	}
	if err := v.checkTime(ts, "Stripe-Signature t"); err != nil {
		return err
	}
	content := ts + "." + string(body)
	for _, s := range sigs {
		if err := v.anyHex(s, content); err == nil {
			return nil
		} else if !errors.Is(err, ErrNoMatch) {
			return err
		}
	}
	return v.noMatch()
}

// template verifies the templated hmac-sha256 scheme.
func (v *Verifier) template(h http.Header, body []byte) error {
	t := v.Template
	if t.Header == "" || t.Content == "" {
		return fmt.Errorf("%w: hmac-sha256 needs the template's header and content", ErrConfig)
	}
	got, err := header(h, t.Header)
	if err != nil {
		return err
	}
	got, ok := strings.CutPrefix(got, t.Prefix)
	if !ok {
		return fmt.Errorf("%w: %s does not start with %q", ErrMalformed, t.Header, t.Prefix)
	}
	var sig []byte
	if t.Encoding == "base64" {
		sig, err = base64.StdEncoding.DecodeString(got)
	} else {
		sig, err = hex.DecodeString(got)
	}
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("%w: %s is not an HMAC-SHA256 in %s", ErrMalformed, t.Header, encodingName(t.Encoding))
	}
	tsHeader, typeHeader := or(t.TimestampHeader, "webhook-timestamp"), or(t.EventHeader, "hookd-event-type")
	vals := map[string]string{"{body}": string(body)}
	for field, name := range map[string]string{"{id}": "webhook-id", "{timestamp}": tsHeader, "{type}": typeHeader} {
		if !strings.Contains(t.Content, field) {
			continue
		}
		if vals[field], err = header(h, name); err != nil {
			return err
		}
	}
	if ts, ok := vals["{timestamp}"]; ok {
		if err := v.checkTime(ts, tsHeader); err != nil {
			return err
		}
	}
	content := strings.NewReplacer("{id}", vals["{id}"], "{timestamp}", vals["{timestamp}"], "{type}", vals["{type}"], "{body}", vals["{body}"]).Replace(t.Content)
	return v.anyMAC(sig, content)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func encodingName(e string) string {
	if e == "base64" {
		return "base64"
	}
	return "hex"
}
