package hookd

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"strings"
	"time"
)

// ID prefixes of the contract.
const (
	PrefixWebhook  = "wh_"
	PrefixEvent    = "evt_"
	PrefixDelivery = "dlv_"
	PrefixKey      = "key_"
	PrefixAudit    = "aud_"
)

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewID returns prefix followed by 26 characters: 48 bits of Unix
// milliseconds then 80 random bits, in lower-case Crockford base32, so that
// IDs sort by creation time as plain strings.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go 1.24+)
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	out := make([]byte, len(prefix)+26)
	copy(out, prefix)
	// 128 bits as 26 base32 digits: the first digit carries the top 3 bits.
	for i := 25; i >= 0; i-- {
		out[len(prefix)+i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}

// IsID reports whether s is an ID NewID(prefix, …) could have made.
func IsID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	return ok && len(rest) == 26 && strings.Trim(rest, crockford) == "" && rest[0] <= '7'
}

// ExternalIDRule says what ValidExternalID accepts.
const ExternalIDRule = "must be 1–64 characters of A-Za-z0-9_.-, and not . or .."

// MaxExternalID is the length of the longest ID ValidExternalID accepts.
const MaxExternalID = 64

// ValidExternalID reports whether s may be a caller-chosen ID (tenant IDs,
// event idempotency keys): 1–64 of A-Za-z0-9_.-
func ValidExternalID(s string) bool { return ValidExternalIDUpTo(s, MaxExternalID) }

// ValidExternalIDUpTo is ValidExternalID's rule with another longest
// length (Svix's eventId: 256).
func ValidExternalIDUpTo(s string, max int) bool {
	// "." and ".." would name the path itself or its parent in a URL.
	if len(s) == 0 || len(s) > max || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// ExternalIDRuleUpTo says what ValidExternalIDUpTo(…, max) accepts.
func ExternalIDRuleUpTo(max int) string {
	return "must be 1–" + strconv.Itoa(max) + " characters of A-Za-z0-9_.-, and not . or .."
}
