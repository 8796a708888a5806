package hookd

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// ConsoleSession is a visitor signed in to the web console, or a portal
// link that has not been used yet. Neither the link's token nor the
// session's cookie is stored: only their SHA-256, as with API keys.
type ConsoleSession struct {
	ID string
	// TenantID is the tenant the session may act in; "" for the operator
	// (signed in with the admin key), who may act in every tenant.
	TenantID string
	// KeyID is the API key that signed in, if any: the session ends when
	// the key is revoked.
	KeyID    string
	ReadOnly bool
	// LinkHash is the hash of an unused portal link's token; nil once used.
	LinkHash []byte
	// TokenHash is the hash of the session cookie; nil until the link is used.
	TokenHash []byte
	ExpiresAt time.Time
	CreatedAt time.Time
}

// PrefixConsoleSession prefixes console session IDs (never shown in the API).
const PrefixConsoleSession = "cs_"

// Portal link lifetimes: a link and the session it starts last
// expiresInSeconds, 1 hour unless given, from 1 second (a link to be used
// at once, or a test of its end) to 7 days.
const (
	DefaultPortalExpiry = time.Hour
	MinPortalExpiry     = time.Second
	MaxPortalExpiry     = 7 * 24 * time.Hour
)

// NewToken returns a random 256-bit token, URL-safe, for portal links and
// session cookies, and its hash for the store.
func NewToken() (token string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashKey(token)
}

// PortalPath is where a portal link's token goes: PortalPath + token,
// under hookd's public URL.
const PortalPath = "/console/portal/"
