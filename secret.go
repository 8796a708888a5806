package hookd

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Secret prefixes of the Standard Webhooks specification.
const (
	SecretPrefix     = "whsec_" // HMAC-SHA256 key, base64
	SigningKeyPrefix = "whsk_"  // ed25519 seed ‖ public key, base64
	PublicKeyPrefix  = "whpk_"  // ed25519 public key, base64
)

// Signature schemes a webhook may use (see the contract's "Signature schemes").
const (
	SchemeStandard        = "standard"
	SchemeStandardEd25519 = "standard-ed25519"
	SchemeGitHub          = "github"
	SchemeStripe          = "stripe"
	SchemePlinqx          = "plinqx"
	SchemePlextrac        = "plextrac"
	SchemeForjinn         = "forjinn"
	SchemeHMACSHA256      = "hmac-sha256"
	// SchemeSvix is the standard signature under Svix's header names
	// (svix-id, svix-timestamp, svix-signature), for receivers that
	// verify with Svix's libraries.
	SchemeSvix = "svix"
)

var schemes = map[string]bool{
	SchemeStandard: true, SchemeStandardEd25519: true, SchemeGitHub: true, SchemeStripe: true,
	SchemePlinqx: true, SchemePlextrac: true, SchemeForjinn: true, SchemeHMACSHA256: true, SchemeSvix: true,
}

// Signature is a webhook's choice of signature scheme; nil means standard.
// The fields after Scheme parameterise the templated hmac-sha256 scheme.
type Signature struct {
	Scheme          string `json:"scheme"`
	Header          string `json:"header,omitempty"`
	Content         string `json:"content,omitempty"`
	Encoding        string `json:"encoding,omitempty"`
	Prefix          string `json:"prefix,omitempty"`
	TimestampHeader string `json:"timestampHeader,omitempty"`
	EventHeader     string `json:"eventHeader,omitempty"`
}

// SchemeName returns the scheme, standard when s is nil.
func (s *Signature) SchemeName() string {
	if s == nil || s.Scheme == "" {
		return SchemeStandard
	}
	return s.Scheme
}

// MultiSignature reports whether the scheme's request can carry several
// signatures, so that during a rotation's grace the old and the new
// secret both sign. The others carry one, by the new secret.
func (s *Signature) MultiSignature() bool {
	switch s.SchemeName() {
	case SchemeStandard, SchemeStandardEd25519, SchemeStripe, SchemeSvix:
		return true
	}
	return false
}

// Headers are the request headers the scheme sets besides webhook-* (its
// signature, timestamp and event headers): a webhook's own headers may not
// name them, as the scheme's value would replace the user's unseen.
func (s *Signature) Headers() []string {
	switch s.SchemeName() {
	case SchemeSvix:
		return []string{"svix-id", "svix-timestamp", "svix-signature"}
	case SchemeGitHub:
		return []string{"X-Hub-Signature-256"}
	case SchemeStripe:
		return []string{"Stripe-Signature"}
	case SchemePlinqx:
		return []string{"X-Plinqx-Signature", "X-Plinqx-Timestamp", "X-Plinqx-Event"}
	case SchemePlextrac:
		return []string{"X-Authorization-HMAC-256"}
	case SchemeForjinn:
		return []string{"X-Forjinn-Signature"}
	case SchemeHMACSHA256:
		var hs []string
		for _, h := range []string{s.Header, s.TimestampHeader, s.EventHeader} {
			if h != "" {
				hs = append(hs, h)
			}
		}
		return hs
	}
	return nil
}

func (s *Signature) validate(v *ValidationError) {
	if s == nil {
		return
	}
	if !schemes[s.Scheme] {
		v.Add("signature.scheme", "must be one of standard, standard-ed25519, svix, github, stripe, plinqx, plextrac, forjinn, hmac-sha256")
		return
	}
	if s.Scheme != SchemeHMACSHA256 {
		if s.Header != "" || s.Content != "" || s.Encoding != "" || s.Prefix != "" || s.TimestampHeader != "" || s.EventHeader != "" {
			v.Add("signature", "only the hmac-sha256 scheme takes parameters")
		}
		return
	}
	checkSchemeHeader(v, "signature.header", s.Header, true)
	if s.Content == "" {
		v.Add("signature.content", "is required: a template over {id}, {timestamp}, {type} and {body}")
	} else if err := checkTemplate(s.Content); err != nil {
		v.Add("signature.content", "%v", err)
	} else if !strings.Contains(s.Content, "{body}") {
		// A signature that does not cover the body proves nothing about
		// it: anyone who saw one request could send any payload with it.
		v.Add("signature.content", "must include {body}: a signature that does not cover the body lets anyone change it")
	} else {
		CheckText(v, "signature.content", s.Content)
	}
	if s.Encoding == "" {
		s.Encoding = "hex" // the default, as hookd listen's
	}
	if s.Encoding != "hex" && s.Encoding != "base64" {
		v.Add("signature.encoding", "must be hex or base64")
	}
	// The prefix goes into a header's value: a line break or another
	// control character there makes every request unsendable.
	if utf8.RuneCountInString(s.Prefix) > 100 || strings.ContainsFunc(s.Prefix, unicode.IsControl) || !utf8.ValidString(s.Prefix) {
		v.Add("signature.prefix", "must be at most 100 characters without line breaks or other control characters")
	}
	// Each header carries one thing: two of the same name (in any case)
	// would leave the receiver only the last one set.
	named := map[string]string{}
	if s.Header != "" {
		named[strings.ToLower(s.Header)] = "signature.header"
	}
	for _, h := range []struct{ field, name string }{{"signature.timestampHeader", s.TimestampHeader}, {"signature.eventHeader", s.EventHeader}} {
		if h.name == "" || !checkSchemeHeader(v, h.field, h.name, false) {
			continue
		}
		if other, ok := named[strings.ToLower(h.name)]; ok {
			v.Add(h.field, "must differ from %s: one header cannot carry both", other)
			continue
		}
		named[strings.ToLower(h.name)] = h.field
	}
}

// checkSchemeHeader checks a header name an hmac-sha256 scheme sets.
func checkSchemeHeader(v *ValidationError, field, name string, required bool) bool {
	switch {
	case name == "" && required:
		v.Add(field, "is required: the header that carries the signature")
	case !validHeaderName(name):
		v.Add(field, "is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~, at most 256)")
	case reservedHeader(name) || hopByHopHeader(name):
		v.Add(field, "is reserved by hookd")
	case strings.EqualFold(name, "traceparent") || strings.EqualFold(name, "tracestate"):
		// A traced event's attempts carry its trace there, set after the
		// signature: the signature would be lost (an outside audit).
		v.Add(field, "is the trace context's header, which hookd sets on traced events")
	default:
		return true
	}
	return false
}

func checkTemplate(t string) error {
	rest := t
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return errors.New("has an unclosed {")
		}
		switch rest[i+1 : i+j] {
		case "id", "timestamp", "type", "body":
		default:
			return fmt.Errorf("has an unknown placeholder %s", rest[i:i+j+1])
		}
		rest = rest[i+j+1:]
	}
}

// GenerateSecret returns a new secret for scheme: whsk_… for
// standard-ed25519, whsec_ + 32 random bytes otherwise.
func GenerateSecret(scheme string) string {
	if scheme == SchemeStandardEd25519 {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		return SigningKeyPrefix + base64.StdEncoding.EncodeToString(priv)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// ValidateSecret checks secret for scheme. The empty string stands for an
// explicit null: unsigned, allowed only for non-standard HMAC schemes.
func ValidateSecret(scheme, secret string) error {
	switch scheme {
	case SchemeStandard, SchemeSvix:
		if secret == "" {
			return errors.New("may be null only with a non-standard HMAC signature scheme")
		}
		if _, err := StandardKey(secret); err != nil {
			return err
		}
	case SchemeStandardEd25519:
		if secret == "" {
			return errors.New("may be null only with a non-standard HMAC signature scheme")
		}
		if _, err := Ed25519Key(secret); err != nil {
			return err
		}
	default:
		if secret == "" {
			return nil
		}
		// Printable in Unicode's sense: a receiver's secret need not be
		// ASCII; it is signed with as its UTF-8 bytes.
		if n := utf8.RuneCountInString(secret); n < 16 || n > 256 || !utf8.ValidString(secret) ||
			strings.ContainsFunc(secret, func(r rune) bool { return !unicode.IsPrint(r) }) {
			return errors.New("must be 16–256 printable characters")
		}
	}
	return nil
}

// StandardKey decodes a whsec_ secret into its HMAC key.
func StandardKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("must be whsec_ followed by base64 of 24–64 bytes")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, errors.New("must be whsec_ followed by base64 of 24–64 bytes")
	}
	return key, nil
}

// Ed25519Key decodes a whsk_ secret into its private key, checking that the
// public half belongs to the seed.
func Ed25519Key(secret string) (ed25519.PrivateKey, error) {
	b64, ok := strings.CutPrefix(secret, SigningKeyPrefix)
	bad := errors.New("must be whsk_ followed by base64 of a 32-byte ed25519 seed and its 32-byte public key")
	if !ok {
		return nil, bad
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, bad
	}
	priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
	if string(priv[ed25519.SeedSize:]) != string(raw[ed25519.SeedSize:]) {
		return nil, bad
	}
	return priv, nil
}

// PublicKey returns the whpk_ form of an ed25519 secret's public key.
func PublicKey(secret string) (string, error) {
	priv, err := Ed25519Key(secret)
	if err != nil {
		return "", err
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(priv[ed25519.SeedSize:]), nil
}

// SecretBox encrypts endpoint secrets at rest with AES-256-GCM. A nil box
// stores them as they are (no --encryption-key).
type SecretBox struct {
	aead        cipher.AEAD
	fingerprint string
}

// Fingerprint is KeyFingerprint of the box's key ("" for a nil box: no
// key, secrets stored in clear).
func (b *SecretBox) Fingerprint() string {
	if b == nil {
		return ""
	}
	return b.fingerprint
}

// CheckSealing says why a store must not seal a secret with b now: the
// secrets are stored under another key (stored, the recorded fingerprint;
// "" when none is recorded, which decides nothing), which hookd rekey moved
// them to after this process started. A secret sealed with the old key
// then could be opened by no process (hookd rekey's own included), and
// would fail its tenant's every publish.
func (b *SecretBox) CheckSealing(stored string) error {
	if stored == "" || stored == b.Fingerprint() {
		return nil
	}
	return Errorf(ErrUnavailable, "the endpoint secrets were moved to another encryption key (hookd rekey) since this process started: restart it with the key now in use, whose fingerprint is %s", stored)
}

// ErrNoEncryptionKey is returned when an encrypted secret is read by a
// process started without the key.
var ErrNoEncryptionKey = errors.New("secret is encrypted and no encryption key is configured")

// NewSecretBox takes the 32-byte key.
func NewSecretBox(key []byte) (*SecretBox, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("encryption key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead, fingerprint: KeyFingerprint(key)}, nil
}

// Stored forms: "plain:" + secret, or "aes:" + base64(nonce ‖ ciphertext).
// The marker lets a key be added later without rewriting existing rows.
const (
	plainMarker = "plain:"
	aesMarker   = "aes:"
)

// Seal returns the stored form of secret ("" stays "": unsigned).
func (b *SecretBox) Seal(secret string) string {
	if secret == "" {
		return ""
	}
	if b == nil {
		return plainMarker + secret
	}
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(secret)+b.aead.Overhead())
	_, _ = rand.Read(nonce)
	return aesMarker + base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(secret), nil))
}

// Open reverses Seal.
func (b *SecretBox) Open(stored string) (string, error) {
	switch {
	case stored == "":
		return "", nil
	case strings.HasPrefix(stored, plainMarker):
		return stored[len(plainMarker):], nil
	case strings.HasPrefix(stored, aesMarker):
		if b == nil {
			return "", ErrNoEncryptionKey
		}
		raw, err := base64.StdEncoding.DecodeString(stored[len(aesMarker):])
		if err != nil || len(raw) < b.aead.NonceSize() {
			return "", errors.New("open secret: malformed")
		}
		n := b.aead.NonceSize()
		plain, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
		if err != nil {
			return "", errors.New("open secret: wrong encryption key or corrupted value")
		}
		return string(plain), nil
	default:
		return "", errors.New("open secret: unknown stored form")
	}
}

// HashKey returns the SHA-256 of an API key: the only form of it kept.
func HashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// GenerateAPIKey returns a new random API key with prefix.
func GenerateAPIKey(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}
