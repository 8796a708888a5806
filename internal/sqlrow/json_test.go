package sqlrow

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// StringMapJSON reads back as what encoding/json's encoding of the same map
// reads back as, whatever the text: quotes, backslashes, control
// characters, invalid UTF-8, and none of them.
func FuzzStringMapJSON(f *testing.F) {
	f.Add("Content-Type", "application/json", "X", "")
	f.Add(`a"b\c`, "line\nbreak\ttab\r\x01\x1f", "é", "\u2028<>&")
	f.Add("bad\xff", "\xc3", "", "\x00")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		h := map[string]string{k1: v1, k2: v2}
		got := StringMapJSON(h)
		var back, want map[string]string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("StringMapJSON(%q) = %s: %v", h, got, err)
		}
		std, _ := json.Marshal(h)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(back, want) {
			t.Fatalf("StringMapJSON(%q) = %s reads back as %q, encoding/json's as %q", h, got, back, want)
		}
	})
}

func TestStringMapJSON(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{nil, `{}`},
		{map[string]string{}, `{}`},
		{map[string]string{"B": "2", "A": "1"}, `{"A":"1","B":"2"}`},
		{map[string]string{"Q": `say "hi" \ bye`}, `{"Q":"say \"hi\" \\ bye"}`},
		{map[string]string{"C": "a\nb\x01"}, `{"C":"a\nb\u0001"}`},
		{map[string]string{"U": "é\xff"}, `{"U":"é\ufffd"}`},
	} {
		if got := StringMapJSON(tc.in); got != tc.want {
			t.Errorf("StringMapJSON(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func BenchmarkAttemptRowOf(b *testing.B) {
	a := benchAttempt()
	b.ReportAllocs()
	for b.Loop() {
		AttemptRowOf(a)
	}
}

// benchAttempt is a successful attempt as the engine records one: the
// headers hookd sends (the signature left out of the log) and those a Go
// receiver answers with.
func benchAttempt() *hookd.Attempt {
	return &hookd.Attempt{
		StartedAt: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC), Duration: 1200 * time.Microsecond,
		StatusCode: 200, Success: true,
		RequestHeaders: map[string]string{
			"Content-Type": "application/json", "User-Agent": "hookd/1.0",
			"Webhook-Id": "dlv_01kbm8c1q0r5z7x9v3w2t4y6ab", "Webhook-Timestamp": "1796281200",
			"Hookd-Attempt": "1", "Hookd-Event-Type": "invocation.completed",
		},
		ResponseHeaders: map[string]string{"Content-Length": "0", "Date": "Thu, 03 Dec 2026 07:00:00 GMT"},
	}
}
