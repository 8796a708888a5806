// Package hookd holds the domain of the hookd webhook delivery service: its
// types, the rules that validate them, and the Store contract that the
// storage engines (sqlite/, postgres/) implement. It has no SQL and no HTTP
// in it; cmd/hookd wires the engines, the API and the delivery workers.
package hookd

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Version is set at build time with -ldflags "-X github.com/hookd/hookd.Version=…".
var Version = "dev"

// Limits fixed by the public contract.
const (
	MaxRequestBody = 1 << 20   // a request body over this answers 413
	MaxEventData   = 256 << 10 // an event's data over this answers 413
	MaxEventMeta   = 16 << 10  // an event's metadata over this is refused (422)
)

// Timestamps are kept at microsecond precision: both SQLite integers and
// PostgreSQL timestamptz hold exactly that, so a value read back compares
// equal to the value written.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// ParseTime reads a time a caller wrote in a query (a window's since or
// until), in RFC 3339, whose "T" and "Z" may be lower case (RFC 3339,
// 5.6).
func ParseTime(raw string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(raw))
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// ParseUntil is ParseTime for a window's end, which refuses the zero
// time, 0001-01-01T00:00:00Z: the stores read a zero end as no bound, and
// an until at it listed everything. (A zero since is no bound, as meant.)
func ParseUntil(raw string) (time.Time, error) {
	t, err := ParseTime(raw)
	if err == nil && t.IsZero() {
		return time.Time{}, errors.New(zeroEnd)
	}
	return t, err
}

const zeroEnd = "the zero time 0001-01-01T00:00:00Z is no end"

// DataTooLarge reports whether an event's data is over MaxEventData as it
// is stored and sent: compacted, unless kept verbatim (Svix's raw
// payloads). Its whitespace does not count; data that is not JSON is
// measured as it is (and refused as not JSON anyway).
func DataTooLarge(data []byte, verbatim bool) bool {
	if len(data) <= MaxEventData || verbatim {
		return len(data) > MaxEventData
	}
	var b bytes.Buffer
	if json.Compact(&b, data) != nil {
		return true
	}
	return b.Len() > MaxEventData
}

// CheckEnd is ParseUntil's rule for a window's end that came decoded (a
// body's until or before, given): the zero time is a problem of field in
// v. A cancel "before 0001-01-01" ended every waiting delivery.
func CheckEnd(v *ValidationError, field string, t time.Time) {
	if t.IsZero() {
		v.Add(field, zeroEnd)
	}
}
