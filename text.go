package hookd

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Caps on what is kept of a receiver's answer (the contract's "What a
// receiver gets"), and of an attempt's error text, which can quote it.
const (
	MaxResponseBody    = 4 << 10 // bytes of the response body kept
	MaxResponseHeaders = 8 << 10 // bytes of response header names and values kept, in all
	MaxErrorText       = 1 << 10 // bytes of an attempt's error kept
)

// CleanText makes text that came from the network storable in any
// database: invalid UTF-8 becomes U+FFFD, NUL bytes are dropped, and it is
// cut to at most max bytes on a character boundary. Every string a receiver
// controls passes through it before it is stored.
func CleanText(s string, max int) string {
	if len(s) <= max && cleanText(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), max))
	for _, r := range s { // ranging decodes invalid bytes as U+FFFD
		if r == 0 {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// CheckText adds a problem to v when s is text hookd will not store: a NUL
// character (PostgreSQL refuses it in text; other readers cut strings at
// it) or invalid UTF-8. Every text field a client sets passes through it,
// in the domain's validation, so the API and the console refuse alike.
func CheckText(v *ValidationError, field, s string) bool {
	if why := BadText(s); why != "" {
		v.Add(field, "%s", why)
		return false
	}
	return true
}

// BadText says why s is text hookd will not store, as "must …"; "" when
// it is fine.
func BadText(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL (\\u0000) characters"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	}
	return ""
}

// CleanHeaders returns h with every name and value cleaned, kept in name
// order until names and values reach max bytes in all; what is left out is
// counted under the name "…", within max too.
// It returns h itself when h is that already, as an attempt's headers
// nearly always are: sorting and copying them was most of what recording
// an attempt's headers cost.
func CleanHeaders(h map[string]string, max int) map[string]string {
	if len(h) == 0 || headersClean(h, max) {
		return h
	}
	return cleanHeaders(h, max)
}

// headersClean reports whether cleanHeaders would return a copy of h:
// every name and value clean, and all of them under max (a name that
// reaches max with an empty value is left out).
func headersClean(h map[string]string, max int) bool {
	used := 0
	for k, v := range h {
		used += len(k) + len(v)
		if used >= max || k == "" || len(k) > 256 || !cleanText(k) || !cleanText(v) {
			return false
		}
	}
	return true
}

func cleanText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

func cleanHeaders(h map[string]string, max int) map[string]string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	keep := func(budget int) (map[string]string, int) {
		out := make(map[string]string, min(len(h), 64))
		used, dropped := 0, 0
		for _, k := range names {
			ck := CleanText(k, 256)
			left := budget - used - len(ck)
			if ck == "" || left <= 0 || dropped > 0 {
				dropped++
				continue
			}
			v := CleanText(h[k], left)
			out[ck] = v
			used += len(ck) + len(v)
		}
		return out, dropped
	}
	out, dropped := keep(max)
	if dropped > 0 {
		// Again, leaving room for the count (it can only grow).
		note := func(n int) string { return strconv.Itoa(n) + " more headers not kept" }
		out, dropped = keep(max - len("…") - len(note(len(names))))
		out["…"] = note(dropped)
	}
	return out
}

// Cleaned returns a copy of a that any store accepts: its error, headers
// and body cleaned and capped.
func (a *Attempt) Cleaned() *Attempt {
	c := *a
	c.Error = CleanText(a.Error, MaxErrorText)
	c.RequestHeaders = CleanHeaders(a.RequestHeaders, MaxResponseHeaders)
	c.ResponseHeaders = CleanHeaders(a.ResponseHeaders, MaxResponseHeaders)
	if body := CleanText(string(a.ResponseBody), MaxResponseBody); len(body) != len(a.ResponseBody) || body != string(a.ResponseBody) {
		c.ResponseBody = []byte(body)
	}
	return &c
}

// sensitiveWords mark a request header whose value may be a secret: the
// attempt log keeps it hidden, and no API shows it back. A name is matched
// by what it contains (X-Auth-Token, X-Webhook-Secret, X-Password,
// Api-Key, Session-Id, …), not from a list of exact names, which let every
// secret header it did not know into the log; hiding a value that was not
// secret costs a reader of the log less than showing one that was.
var sensitiveWords = []string{"auth", "token", "secret", "passw", "signature", "key",
	"session", "cookie", "credential", "private"}

// SensitiveHeader reports whether a header's value may be a secret.
func SensitiveHeader(name string) bool {
	name = strings.ToLower(name)
	for _, w := range sensitiveWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// JSONKind names the JSON a Go value of kind k decodes from ("an
// integer"), for a transport's message about a field of the wrong type.
func JSONKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}
