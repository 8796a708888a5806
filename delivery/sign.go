package delivery

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/hookd/hookd"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SignStandard returns the v1 signature of the Standard Webhooks
// specification: base64 HMAC-SHA256 of "{id}.{timestamp}.{body}", keyed with
// the decoded base64 part of a whsec_ secret.
func SignStandard(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignEd25519 returns the v1a signature of the same content.
func SignEd25519(key ed25519.PrivateKey, id string, ts int64, body []byte) string {
	msg := make([]byte, 0, len(id)+len(body)+24)
	msg = append(msg, id...)
	msg = append(msg, '.')
	msg = strconv.AppendInt(msg, ts, 10)
	msg = append(msg, '.')
	msg = append(msg, body...)
	return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))
}

func hmacHex(secret string, parts ...[]byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// sign sets the signature headers of sig's scheme on h for the exact body
// sent, one signature per secret where the scheme's format allows several.
// It returns the names of the headers that carry signatures, which the
// attempt log must not keep.
func sign(h http.Header, sig *hookd.Signature, secrets []string, id, eventType string, ts int64, body []byte) ([]string, error) {
	tsStr := strconv.FormatInt(ts, 10)
	// A scheme's headers that are not signatures go out whether or not the
	// webhook has a secret (an outside audit: an unsigned plinqx webhook's
	// receivers got no event type).
	switch sig.SchemeName() {
	case hookd.SchemePlinqx:
		h.Set("X-Plinqx-Timestamp", tsStr)
		h.Set("X-Plinqx-Event", eventType)
	case hookd.SchemeHMACSHA256:
		if sig.TimestampHeader != "" {
			h.Set(sig.TimestampHeader, tsStr)
		}
		if sig.EventHeader != "" {
			h.Set(sig.EventHeader, eventType)
		}
	}
	if len(secrets) == 0 {
		return nil, nil
	}
	switch sig.SchemeName() {
	case hookd.SchemeStandard:
		return signEach(h, secrets, func(secret string) (string, error) {
			key, err := hookd.StandardKey(secret)
			if err != nil {
				return "", err
			}
			return SignStandard(key, id, ts, body), nil
		})
	case hookd.SchemeSvix:
		// Svix's headers carry Standard Webhooks' id, timestamp and
		// signature under its own names.
		if _, err := signEach(h, secrets, func(secret string) (string, error) {
			key, err := hookd.StandardKey(secret)
			if err != nil {
				return "", err
			}
			return SignStandard(key, id, ts, body), nil
		}); err != nil {
			return nil, err
		}
		h.Set("svix-id", id)
		h.Set("svix-timestamp", tsStr)
		h.Set("svix-signature", h.Get(HeaderSignature))
		h.Del(HeaderSignature)
		return []string{"svix-signature"}, nil
	case hookd.SchemeStandardEd25519:
		return signEach(h, secrets, func(secret string) (string, error) {
			key, err := hookd.Ed25519Key(secret)
			if err != nil {
				return "", err
			}
			return SignEd25519(key, id, ts, body), nil
		})
	case hookd.SchemeGitHub:
		// One signature only: GitHub's format has no room for a second.
		h.Set("X-Hub-Signature-256", "sha256="+hmacHex(secrets[0], body))
		return []string{"X-Hub-Signature-256"}, nil
	case hookd.SchemeStripe:
		v := "t=" + tsStr
		for _, s := range secrets {
			v += ",v1=" + hmacHex(s, []byte(tsStr), []byte{'.'}, body)
		}
		h.Set("Stripe-Signature", v)
		return []string{"Stripe-Signature"}, nil
	case hookd.SchemePlinqx:
		h.Set("X-Plinqx-Signature", hmacHex(secrets[0], []byte(tsStr), body))
		return []string{"X-Plinqx-Signature"}, nil
	case hookd.SchemePlextrac:
		h.Set("X-Authorization-HMAC-256", hmacHex(secrets[0], body))
		return []string{"X-Authorization-HMAC-256"}, nil
	case hookd.SchemeForjinn:
		h.Set("X-Forjinn-Signature", hmacHex(secrets[0], body))
		return []string{"X-Forjinn-Signature"}, nil
	case hookd.SchemeHMACSHA256:
		content := strings.NewReplacer("{id}", id, "{timestamp}", tsStr, "{type}", eventType, "{body}", string(body)).Replace(sig.Content)
		m := hmac.New(sha256.New, []byte(secrets[0]))
		m.Write([]byte(content))
		sum := m.Sum(nil)
		var enc string
		if sig.Encoding == "base64" {
			enc = base64.StdEncoding.EncodeToString(sum)
		} else {
			enc = hex.EncodeToString(sum)
		}
		h.Set(sig.Header, sig.Prefix+enc)
		return []string{sig.Header}, nil
	}
	return nil, nil
}

// signEach sets webhook-signature to one signature per secret, separated by
// spaces, as the Standard Webhooks specification lists them.
func signEach(h http.Header, secrets []string, one func(secret string) (string, error)) ([]string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		v, err := one(s)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, v)
	}
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return []string{HeaderSignature}, nil
}
