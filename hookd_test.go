package hookd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/netguard"
)

func TestPatternMatches(t *testing.T) {
	tests := []struct {
		pattern, typ string
		want         bool
	}{
		{"*", "invocation.completed", true},
		{"*", "flow_completed", true},
		{"invocation.*", "invocation.completed", true},
		{"invocation.*", "invocation.step.done", true},
		{"invocation.*", "invocation", false},
		{"invocation.*", "invocations.completed", false},
		{"invocation.completed", "invocation.completed", true},
		{"invocation.completed", "invocation.failed", false},
		{"a.b.*", "a.b.c", true},
		{"a.b.*", "a.bc", false},
	}
	for _, tt := range tests {
		if got := PatternMatches(tt.pattern, tt.typ); got != tt.want {
			t.Errorf("PatternMatches(%q, %q) = %v, want %v", tt.pattern, tt.typ, got, tt.want)
		}
	}
}

// Each API names types by its rule; the catalog holds both, and every name
// /v1 makes is one /api/v1 could make.
func TestEventTypeNameRules(t *testing.T) {
	for name, want := range map[string][2]bool{ // native, Svix's
		"invocation.completed": {true, true}, "flow_completed": {true, true}, "a": {true, true}, "a1.b_2.c3": {true, true},
		"A.b": {false, true}, "a..b": {false, true}, ".a": {false, true}, "a.": {false, true}, "a-b": {false, true},
		"Invoice-Paid": {false, true}, strings.Repeat("a", 201): {false, true}, strings.Repeat("a", 256): {false, true},
		"": {false, false}, "a b": {false, false}, "a.*": {false, false}, "a/b": {false, false}, "é": {false, false},
		strings.Repeat("a", 257): {false, false}, ".": {false, false}, "..": {false, false}, "...": {false, true},
	} {
		if got := [2]bool{NativeNames.Valid(name), SvixNames.Valid(name)}; got != want {
			t.Errorf("%q: native, Svix's = %v, want %v", name, got, want)
		}
		if ValidEventTypeName(name) != want[1] {
			t.Errorf("ValidEventTypeName(%q) = %v", name, !want[1])
		}
	}
}

func TestValidExternalID(t *testing.T) {
	for id, want := range map[string]bool{
		"acme": true, "A-b_c.9": true, strings.Repeat("x", 64): true,
		"": false, strings.Repeat("x", 65): false, "a b": false, "a/b": false, "é": false,
	} {
		if got := ValidExternalID(id); got != want {
			t.Errorf("ValidExternalID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 100; i++ {
		ids = append(ids, NewID(PrefixEvent, t0.Add(time.Duration(i)*time.Millisecond)))
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("IDs made later do not sort later")
	}
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewID(PrefixDelivery, t0)
		if len(id) != len(PrefixDelivery)+26 || !strings.HasPrefix(id, PrefixDelivery) {
			t.Fatalf("id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestIsID(t *testing.T) {
	made := NewID(PrefixDelivery, time.Now())
	for s, want := range map[string]bool{
		made:                               true,
		NewID(PrefixDelivery, time.Time{}): true,
		"dlv_" + strings.Repeat("7", 26):   true,
		"dlv_" + strings.Repeat("8", 26):   false, // more than 128 bits
		"evt_" + made[4:]:                  false,
		made[:len(made)-1]:                 false,
		made + "0":                         false,
		"dlv_" + strings.Repeat("u", 26):   false, // not Crockford's
		"dlv_" + strings.Repeat("A", 26):   false,
		"abc":                              false,
		"":                                 false,
	} {
		if got := IsID(PrefixDelivery, s); got != want {
			t.Errorf("IsID(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestValidateSecret(t *testing.T) {
	tests := []struct {
		scheme, secret string
		ok             bool
	}{
		{SchemeStandard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true}, // 24 bytes
		{SchemeStandard, GenerateSecret(SchemeStandard), true},
		{SchemeStandard, "whsec_" + strings.Repeat("A", 88), true}, // 66 bytes → too long
		{SchemeStandard, "whsec_AAAA", false},
		{SchemeStandard, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},
		{SchemeStandard, "whsec_not base64!!", false},
		{SchemeStandard, "", false},
		{SchemeStandardEd25519, "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==", true},
		{SchemeStandardEd25519, GenerateSecret(SchemeStandardEd25519), true},
		{SchemeStandardEd25519, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},
		{SchemeStandardEd25519, "", false},
		{SchemeGitHub, "sixteen-chars-ok", true},
		{SchemeGitHub, "short", false},
		{SchemeGitHub, strings.Repeat("x", 257), false},
		{SchemeGitHub, "has\nnewline-in-it", false},
		{SchemeGitHub, "forjinnsecret123456é", true},    // printable in Unicode
		{SchemeGitHub, strings.Repeat("é", 256), true},  // 256 characters, 512 bytes
		{SchemeGitHub, "sixteen-chars-ok\u00a0", false}, // not printable
		{SchemeGitHub, "sixteen-chars-ok\xff", false},   // not UTF-8
		{SchemeGitHub, "", true},
		{SchemeStripe, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true},
	}
	for _, tt := range tests {
		err := ValidateSecret(tt.scheme, tt.secret)
		// 88 base64 chars decode to 66 bytes: over the 64-byte limit.
		want := tt.ok && !(tt.scheme == SchemeStandard && strings.HasSuffix(tt.secret, strings.Repeat("A", 88)))
		if (err == nil) != want {
			t.Errorf("ValidateSecret(%s, %.20q…) = %v, want ok=%v", tt.scheme, tt.secret, err, want)
		}
	}
	pk, err := PublicKey("whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==")
	if err != nil || pk != "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=" {
		t.Fatalf("PublicKey = %q, %v", pk, err)
	}
}

func TestSecretBox(t *testing.T) {
	key := make([]byte, 32)
	key[0] = 1
	box, err := NewSecretBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := box.Seal("whsec_abc")
	if !strings.HasPrefix(sealed, "aes:") || strings.Contains(sealed, "whsec_abc") {
		t.Fatalf("sealed = %q", sealed)
	}
	if box.Seal("whsec_abc") == sealed {
		t.Fatal("two seals of one secret are equal: nonce reused")
	}
	if got, err := box.Open(sealed); err != nil || got != "whsec_abc" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	var none *SecretBox
	if _, err := none.Open(sealed); !errors.Is(err, ErrNoEncryptionKey) {
		t.Fatalf("Open without key = %v", err)
	}
	other, _ := NewSecretBox(make([]byte, 32))
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("wrong key opened the secret")
	}
	// Plain values written before a key was configured stay readable.
	if got, err := box.Open(none.Seal("whsec_old")); err != nil || got != "whsec_old" {
		t.Fatalf("plain Open = %q, %v", got, err)
	}
	if s := box.Seal(""); s != "" {
		t.Fatalf("empty secret sealed to %q", s)
	}
	if _, err := NewSecretBox(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
}

func TestFilter(t *testing.T) {
	in := &FilterInput{
		Type:     "invocation.completed",
		Data:     map[string]any{"amount": 150.0, "user": map[string]any{"plan": "pro"}, "tags": []any{"a", "b"}},
		Metadata: map[string]any{"region": "eu"},
		Channels: []string{"eu", "beta"},
	}
	tests := []struct {
		expr    string
		want    bool
		compile bool // false: must not compile
	}{
		{`data.amount > 100`, true, true},
		{`data.amount > 100.5`, true, true},
		{`data.amount < 100`, false, true},
		{`data.user.plan == "pro"`, true, true},
		{`type.startsWith("invocation.")`, true, true},
		{`metadata.region == "eu"`, true, true},
		{`"beta" in channels`, true, true},
		{`"a" in data.tags`, true, true},
		{`data.missing == 1`, false, true}, // evaluation error counts as no match
		{`has(data.missing)`, false, true},
		{`true`, true, true},
		{`1 + 1`, false, false},
		{`data.`, false, false},
		{`nope == 1`, false, false},
		{`"x"`, false, false},
	}
	for _, tt := range tests {
		f, err := CompileFilter(tt.expr)
		if (err == nil) != tt.compile {
			t.Errorf("CompileFilter(%q) err = %v, want compile=%v", tt.expr, err, tt.compile)
			continue
		}
		if err != nil {
			continue
		}
		got, _ := f.Match(in)
		if got != tt.want {
			t.Errorf("%q = %v, want %v", tt.expr, got, tt.want)
		}
	}
	// A runaway expression hits the cost limit instead of running on.
	f, err := CompileFilter(`data.tags.all(a, data.tags.all(b, data.tags.all(c, data.tags.all(d, a + b + c + d != "x"))))`)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]any, 200)
	for i := range big {
		big[i] = "t"
	}
	if ok, err := f.Match(&FilterInput{Data: map[string]any{"tags": big}}); ok || err == nil {
		t.Fatalf("cost limit not enforced: %v %v", ok, err)
	}
}

func TestSchema(t *testing.T) {
	s, err := CompileSchema([]byte(`{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"n":{"type":"integer","minimum":0}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate([]byte(`{"id":"x","n":3}`)); err != nil {
		t.Fatalf("valid data refused: %v", err)
	}
	err = s.Validate([]byte(`{"n":-1}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrValidation) {
		t.Fatalf("err = %v", err)
	}
	fields := map[string]bool{}
	for _, d := range ve.Details {
		fields[d.Field] = true
	}
	if !fields["data"] || !fields["data.n"] {
		t.Fatalf("details = %+v", ve.Details)
	}
	// Through a $ref, the failure is named where it is, as without one.
	s, err = CompileSchema([]byte(`{"$defs":{"p":{"type":"integer"}},"properties":{"a":{"$ref":"#/$defs/p"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate([]byte(`{"a":"x"}`)); !errors.As(err, &ve) || len(ve.Details) != 1 || ve.Details[0].Field != "data.a" || ve.Details[0].Message != "got string, want integer" {
		t.Fatalf("through a $ref: %v", err)
	}
	// 2020-12 keywords work without $schema.
	s, err = CompileSchema([]byte(`{"prefixItems":[{"type":"string"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate([]byte(`[1]`)); err == nil {
		t.Fatal("prefixItems ignored: not 2020-12")
	}
	for _, bad := range []string{`{"type":"nope"}`, `"x"`, `{`, `{"$ref":"https://example.com/s.json"}`, `{"$ref":"file:///etc/passwd"}`} {
		if _, err := CompileSchema([]byte(bad)); err == nil {
			t.Errorf("CompileSchema(%s) succeeded", bad)
		}
	}
}

func TestBuildPayload(t *testing.T) {
	ts := time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)
	e := &Event{ID: "evt_1", Type: "invocation.completed", Timestamp: ts}
	if err := e.BuildPayload(json.RawMessage(`{ "a" : 1, "html": "<b>&" }`), nil); err != nil {
		t.Fatal(err)
	}
	want := `{"id":"evt_1","type":"invocation.completed","timestamp":"2024-01-15T10:30:00Z","data":{"a":1,"html":"<b>&"}}`
	if string(e.Payload) != want {
		t.Fatalf("payload = %s\nwant      %s", e.Payload, want)
	}
	if err := e.BuildPayload(json.RawMessage(`{}`), json.RawMessage(`{"k": "v"}`)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(e.Payload), `"data":{},"metadata":{"k":"v"}}`) {
		t.Fatalf("payload with metadata = %s", e.Payload)
	}
}

func TestWebhookMatches(t *testing.T) {
	ev := &Event{Type: "invocation.completed", Channels: []string{"eu"}}
	in := func() *FilterInput {
		return &FilterInput{Type: ev.Type, Data: map[string]any{"n": 2.0}, Channels: ev.Channels}
	}
	tests := []struct {
		name string
		w    Webhook
		want bool
	}{
		{"all", Webhook{Enabled: true, Events: []string{"*"}}, true},
		{"disabled", Webhook{Enabled: false, Events: []string{"*"}}, false},
		{"prefix", Webhook{Enabled: true, Events: []string{"document.*", "invocation.*"}}, true},
		{"other type", Webhook{Enabled: true, Events: []string{"document.uploaded"}}, false},
		{"channel shared", Webhook{Enabled: true, Events: []string{"*"}, Channels: []string{"us", "eu"}}, true},
		{"channel not shared", Webhook{Enabled: true, Events: []string{"*"}, Channels: []string{"us"}}, false},
		{"filter true", Webhook{Enabled: true, Events: []string{"*"}, Filter: "data.n == 2"}, true},
		{"filter false", Webhook{Enabled: true, Events: []string{"*"}, Filter: "data.n == 3"}, false},
	}
	for _, tt := range tests {
		if got := tt.w.Matches(ev, in); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseRetrySchedule(t *testing.T) {
	got, err := ParseRetrySchedule(" 1s, 2m ,3h,")
	if err != nil || len(got) != 3 || got[1] != 2*time.Minute {
		t.Fatalf("ParseRetrySchedule = %v, %v", got, err)
	}
	for _, bad := range []string{"", " ", "x", "1s,-1s", "1s,,2s", ",", strings.Repeat("1s,", 20) + "1s"} {
		if _, err := ParseRetrySchedule(bad); err == nil {
			t.Errorf("ParseRetrySchedule(%q) succeeded", bad)
		}
	}
	if len(DefaultRetrySchedule)+1 != 8 {
		t.Fatalf("default schedule gives %d attempts", len(DefaultRetrySchedule)+1)
	}
}

// An actor is always {type, id}: id null when the actor has none of its
// own, and read back as it was.
func TestActorJSON(t *testing.T) {
	for _, c := range []struct {
		a    Actor
		want string
	}{
		{Actor{Type: ActorAdmin}, `{"type":"admin","id":null}`},
		{Actor{Type: ActorHookd}, `{"type":"hookd","id":null}`},
		{Actor{Type: ActorKey, ID: "key_1"}, `{"type":"key","id":"key_1"}`},
		{Actor{Type: ActorConsole, ID: "portal"}, `{"type":"console","id":"portal"}`},
	} {
		b, err := json.Marshal(c.a)
		if err != nil || string(b) != c.want {
			t.Errorf("%+v: %s %v, want %s", c.a, b, err, c.want)
		}
		var back Actor
		if err := json.Unmarshal(b, &back); err != nil || back != c.a {
			t.Errorf("%s read back as %+v %v", b, back, err)
		}
	}
}

// A test send's answer shows the body as the attempt log keeps it: within
// MaxResponseBody bytes once encoded, however many invalid bytes it had.
func TestTestResultCapped(t *testing.T) {
	a := &Attempt{StatusCode: 500, ResponseBody: bytes.Repeat([]byte{0xff}, MaxResponseBody), Error: "HTTP 500"}
	res := a.TestResult("dlv_1", "evt_1")
	if n := len(*res.ResponseBody); n > MaxResponseBody || !utf8.ValidString(*res.ResponseBody) {
		t.Fatalf("body of %d bytes, valid %v", n, utf8.ValidString(*res.ResponseBody))
	}
	if *res.Error != "HTTP 500" || *res.StatusCode != 500 {
		t.Fatalf("%+v", res)
	}
}

// A scheme change keeps a previous secret only where it can sign in the
// new scheme; one kept from before (stored by an older hookd) is left out
// of signing rather than stopping the current one.
func TestSecretsAcrossASchemeChange(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	stripe := "whsec_test_51HxLegacyStripeSecretNotBase64"
	std, std2 := GenerateSecret(SchemeStandard), GenerateSecret(SchemeStandard)
	tests := []struct {
		name           string
		from, to       string
		secret, prev   string
		wantSigning    []string
		wantPrevKept   bool
		wantSecretKept bool
	}{
		{"stripe to standard, the new secret rotated in", SchemeStripe, SchemeStandard, std, stripe, []string{std}, false, true},
		{"standard to svix, both fit", SchemeStandard, SchemeSvix, std, std2, []string{std, std2}, true, true},
		{"standard to stripe, both fit (any string)", SchemeStandard, SchemeStripe, std, std2, []string{std, std2}, true, true},
		{"stripe to standard, the secret unfit too", SchemeStripe, SchemeStandard, stripe, "", nil, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &Webhook{Signature: &Signature{Scheme: tc.to}, Secret: tc.secret, PreviousSecrets: []OldSecret{{Secret: tc.prev, ExpiresAt: now.Add(time.Hour)}}}
			// Signing before FitSecret ran: what a webhook stored by an
			// older hookd has.
			if got := w.SigningSecrets(now); tc.wantSecretKept && !slices.Equal(got, tc.wantSigning) {
				t.Fatalf("signing before the fit: %v, want %v", got, tc.wantSigning)
			}
			w.FitSecret(tc.from)
			if (w.Secret == tc.secret) != tc.wantSecretKept {
				t.Fatalf("secret kept %v, want %v", w.Secret == tc.secret, tc.wantSecretKept)
			}
			if (len(w.PreviousSecrets) > 0) != tc.wantPrevKept {
				t.Fatalf("previous kept %v, want %v", w.PreviousSecrets, tc.wantPrevKept)
			}
			if err := ValidateSecret(tc.to, w.Secret); err != nil {
				t.Fatalf("the secret after the fit: %v", err)
			}
			if tc.wantSecretKept && !slices.Equal(w.SigningSecrets(now), tc.wantSigning) {
				t.Fatalf("signing after the fit: %v, want %v", w.SigningSecrets(now), tc.wantSigning)
			}
		})
	}
}

func TestSensitiveHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "proxy-authorization": true, "Cookie": true, "X-Api-Key": true, "X-Auth-Token": true,
		"X-Secret": true, "X-Webhook-Secret": true, "X-Password": true, "X-Signature": true, "Api_Key": true,
		"X-Session-Id": true, "X-Client-Credentials": true, "X-Private-Key": true, "WWW-Authenticate": true, "X-Access-Token": true,
		"X-Access-Key": true, "X-Idempotency-Key": true, // hidden though harmless: a name cannot tell
		"X-Tenant": false, "Accept": false, "X-Request-Id": false, "X-Region": false, "Keep-Alive": false,
	} {
		if got := SensitiveHeader(name); got != want {
			t.Errorf("SensitiveHeader(%q) = %v, want %v", name, got, want)
		}
	}
}

// hmac-sha256 without an encoding is hex when made, and keeps its
// encoding when an edit leaves it out.
func TestHMACEncodingDefault(t *testing.T) {
	for _, tc := range []struct {
		kept *Signature
		want string
	}{
		{nil, "hex"},
		{&Signature{Scheme: SchemeHMACSHA256, Header: "X-Signature", Content: "{body}", Encoding: "base64"}, "base64"},
		{&Signature{Scheme: SchemeGitHub}, "hex"},
	} {
		w := &Webhook{Name: "w", URL: "https://example.com/hook", Events: []string{"*"}, Timeout: DefaultTimeout, MaxAttempts: 3,
			Secret: "a-secret-of-sixteen-chars", Signature: &Signature{Scheme: SchemeHMACSHA256, Header: "X-Signature", Content: "{body}"}}
		if err := w.Validate(WebhookRules{Guard: netguard.New(nil), KeptSignature: tc.kept}); err != nil || w.Signature.Encoding != tc.want {
			t.Errorf("kept %+v: encoding %q (%v), want %s", tc.kept, w.Signature.Encoding, err, tc.want)
		}
	}
}

// Validate's answers for one field each: the problems listed (field →
// the start of its message), none when the webhook is fine.
func TestWebhookValidate(t *testing.T) {
	guard := netguard.New(nil) // refuses loopback
	hmac := func(mod func(s *Signature)) func(w *Webhook) {
		return func(w *Webhook) {
			w.Signature = &Signature{Scheme: SchemeHMACSHA256, Header: "X-Signature", Content: "{timestamp}.{body}", Encoding: "hex"}
			w.Secret = "a-secret-of-sixteen-chars"
			mod(w.Signature)
		}
	}
	tests := []struct {
		name  string
		mod   func(w *Webhook)
		rules func(r *WebhookRules)
		want  map[string]string
	}{
		{"fine", func(w *Webhook) {}, nil, nil},
		{"a blank name", func(w *Webhook) { w.Name = " \t\u00a0" }, nil, map[string]string{"name": "must not be blank"}},
		{"a blank name kept from before", func(w *Webhook) { w.Name = " " }, func(r *WebhookRules) { r.KeptName = " " }, nil},
		{"a space in the query", func(w *Webhook) { w.URL = "https://example.com/h?a=b c" }, nil, map[string]string{"url": "must not contain spaces"}},
		{"a space in the path", func(w *Webhook) { w.URL = "https://example.com/a b" }, nil, map[string]string{"url": "must not contain spaces"}},
		{"a loopback URL", func(w *Webhook) { w.URL = "http://127.0.0.1:9000/" }, nil, map[string]string{"url": "127.0.0.1 is a loopback address"}},
		{"an address in a resolver's form", func(w *Webhook) { w.URL = "https://134744072/h" }, nil,
			map[string]string{"url": "134744072 is the address 8.8.8.8 written in a form hookd cannot connect to: write it as 8.8.8.8"}},
		{"an address with a trailing dot", func(w *Webhook) { w.URL = "https://8.8.8.8./h" }, nil, map[string]string{"url": "8.8.8.8. is the address 8.8.8.8"}},
		{"an IPv6 address", func(w *Webhook) { w.URL = "https://[2001:4860:4860::8888]/h" }, nil, nil},
		{"a loopback URL kept from before", func(w *Webhook) { w.URL = "http://127.0.0.1:9000/" },
			func(r *WebhookRules) { r.KeptURL = "http://127.0.0.1:9000/" }, nil},
		{"a URL with a space kept from before", func(w *Webhook) { w.URL = "https://example.com/h?a=b c" },
			func(r *WebhookRules) { r.KeptURL = "https://example.com/h?a=b c" }, nil},
		{"a loopback URL, another kept", func(w *Webhook) { w.URL = "http://127.0.0.1:9001/" },
			func(r *WebhookRules) { r.KeptURL = "http://127.0.0.1:9000/" }, map[string]string{"url": "127.0.0.1 is a loopback address"}},
		{"hmac-sha256, fine", hmac(func(s *Signature) { s.TimestampHeader, s.EventHeader, s.Prefix = "X-Ts", "X-Event", "sha256=" }), nil, nil},
		{"hmac-sha256, no header", hmac(func(s *Signature) { s.Header = "" }), nil, map[string]string{"signature.header": "is required"}},
		{"hmac-sha256, a bad header name", hmac(func(s *Signature) { s.Header = "X A" }), nil, map[string]string{"signature.header": "is not a valid header name"}},
		{"hmac-sha256, a reserved header", hmac(func(s *Signature) { s.Header = "Webhook-Signature" }), nil, map[string]string{"signature.header": "is reserved by hookd"}},
		{"hmac-sha256, the trace's header", hmac(func(s *Signature) { s.Header = "Traceparent" }), nil, map[string]string{"signature.header": "is the trace context's header"}},
		{"hmac-sha256, the trace's header for the event", hmac(func(s *Signature) { s.EventHeader = "tracestate" }), nil, map[string]string{"signature.eventHeader": "is the trace context's header"}},
		{"hmac-sha256, the timestamp in the signature's header", hmac(func(s *Signature) { s.TimestampHeader = "x-signature" }), nil,
			map[string]string{"signature.timestampHeader": "must differ from signature.header"}},
		{"hmac-sha256, the event in the signature's header", hmac(func(s *Signature) { s.EventHeader = "X-SIGNATURE" }), nil,
			map[string]string{"signature.eventHeader": "must differ from signature.header"}},
		{"hmac-sha256, the event in the timestamp's header", hmac(func(s *Signature) { s.TimestampHeader, s.EventHeader = "X-T", "x-t" }), nil,
			map[string]string{"signature.eventHeader": "must differ from signature.timestampHeader"}},
		{"hmac-sha256, a line break in the prefix", hmac(func(s *Signature) { s.Prefix = "sha256=\r\n" }), nil, map[string]string{"signature.prefix": "must be at most 100"}},
		{"hmac-sha256, NUL in the prefix", hmac(func(s *Signature) { s.Prefix = "x\x00" }), nil, map[string]string{"signature.prefix": "must be at most 100"}},
		{"hmac-sha256, NUL in the template", hmac(func(s *Signature) { s.Content = "{body}\x00" }), nil, map[string]string{"signature.content": "must not contain NUL"}},
		{"hmac-sha256, a line break in the template", hmac(func(s *Signature) { s.Content = "{timestamp}\n{body}" }), nil, nil},
		{"hmac-sha256, no encoding: hex", hmac(func(s *Signature) { s.Encoding = "" }), nil, nil},
		{"hmac-sha256, a bad encoding", hmac(func(s *Signature) { s.Encoding = "base32" }), nil, map[string]string{"signature.encoding": "must be hex or base64"}},
		{"hmac-sha256, a template without the body", hmac(func(s *Signature) { s.Content = "{id}.{timestamp}" }), nil, map[string]string{"signature.content": "must include {body}"}},
		{"an empty metadata key", func(w *Webhook) { w.Metadata = map[string]string{"": "v"} }, nil, map[string]string{"metadata": "keys must not be empty"}},
		{"a control character in a header", func(w *Webhook) { w.Headers = map[string]string{"X-V": "a\x01b"} }, nil, map[string]string{"headers.X-V": "must not contain control characters"}},
		{"DEL in a header", func(w *Webhook) { w.Headers = map[string]string{"X-V": "a\x7f"} }, nil, map[string]string{"headers.X-V": "must not contain control characters"}},
		{"a tab in a header", func(w *Webhook) { w.Headers = map[string]string{"X-V": "a\tb"} }, nil, nil},
		{"a control character kept from before", func(w *Webhook) { w.Headers = map[string]string{"X-V": "a\x01b"} },
			func(r *WebhookRules) { r.KeptHeaders = map[string]string{"X-V": "a\x01b"} }, nil},
		{"one header twice", func(w *Webhook) { w.Headers = map[string]string{"X-A": "1", "x-a": "2"} }, nil,
			map[string]string{"headers.x-a": "is given twice: header names are case-insensitive, and X-A is the same header"}},
		{"one header twice, one of them kept", func(w *Webhook) { w.Headers = map[string]string{"X-A": "1", "x-a": "2"} },
			func(r *WebhookRules) { r.KeptHeaders = map[string]string{"x-a": "2"} }, map[string]string{"headers.x-a": "is given twice"}},
		{"one header twice, both kept", func(w *Webhook) { w.Headers = map[string]string{"X-A": "1", "x-a": "2"} },
			func(r *WebhookRules) { r.KeptHeaders = map[string]string{"X-A": "1", "x-a": "2"} }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &Webhook{Name: "w", URL: "https://example.com/hook", Events: []string{"*"}, Timeout: DefaultTimeout, MaxAttempts: 3,
				Secret: GenerateSecret(SchemeStandard)}
			tc.mod(w)
			r := WebhookRules{Guard: guard}
			if tc.rules != nil {
				tc.rules(&r)
			}
			got := map[string]string{}
			var ve *ValidationError
			if err := w.Validate(r); errors.As(err, &ve) {
				for _, d := range ve.Details {
					got[d.Field] = d.Message
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems %v, want %v", got, tc.want)
			}
			for field, prefix := range tc.want {
				if !strings.HasPrefix(got[field], prefix) {
					t.Errorf("%s: %q, want %q…", field, got[field], prefix)
				}
			}
		})
	}
}

// CleanHeaders keeps headers in name order within max bytes of names and
// values in all, the count of those left out included; text is cleaned.
func TestCleanHeaders(t *testing.T) {
	size := func(h map[string]string) int {
		n := 0
		for k, v := range h {
			n += len(k) + len(v)
		}
		return n
	}
	many := map[string]string{}
	for i := range 200 {
		many[fmt.Sprintf("X-H%03d", i)] = strings.Repeat("v", 200)
	}
	for _, tc := range []struct {
		name    string
		in      map[string]string
		max     int
		kept    int    // headers kept, the count aside
		dropped string // the count's text; "" when none
	}{
		{"fits", map[string]string{"A": "1", "B": "2"}, 100, 2, ""},
		{"many", many, 8192, 40, "160 more headers not kept"}, // the 40th cut to fit
		{"the last one cut", map[string]string{"A": strings.Repeat("x", 50)}, 20, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := CleanHeaders(tc.in, tc.max)
			if n := size(out); n > tc.max {
				t.Fatalf("%d bytes kept, max %d", n, tc.max)
			}
			if got := out["…"]; got != tc.dropped {
				t.Fatalf("count %q, want %q", got, tc.dropped)
			}
			if kept := len(out) - min(len(tc.dropped), 1); kept != tc.kept {
				t.Fatalf("kept %d headers, want %d", kept, tc.kept)
			}
		})
	}
	if out := CleanHeaders(map[string]string{"X-Bad": "a\xffb\x00c"}, 100); out["X-Bad"] != "a\uFFFDbc" {
		t.Fatalf("cleaned %q", out["X-Bad"])
	}
}

// Event data is measured as stored and sent: compacted, unless verbatim.
func TestDataTooLarge(t *testing.T) {
	pad := strings.Repeat(" ", MaxEventData)
	for _, tc := range []struct {
		data     string
		verbatim bool
		want     bool
	}{
		{`{"n":1}`, false, false},
		{`{"n":` + pad + `1}`, false, false},
		{`{"n":` + pad + `1}`, true, true},
		{`{"s":"` + strings.Repeat("x", MaxEventData) + `"}`, false, true},
		{`{"n":` + pad, false, true}, // not JSON: as it is
	} {
		if got := DataTooLarge([]byte(tc.data), tc.verbatim); got != tc.want {
			t.Errorf("DataTooLarge(%d bytes, verbatim %v) = %v", len(tc.data), tc.verbatim, got)
		}
	}
}

// CleanHeaders' short cut, h as it is when it is clean already, answers
// what cleaning and capping would have: the boundaries are a name that
// reaches max with its value, and text that needs cleaning.
func FuzzCleanHeaders(f *testing.F) {
	f.Add("A", "1", "B", "2", 100)
	f.Add("A", "", "B", "2", 2)
	f.Add("Ab", "cd", "E", "", 5)
	f.Add("X-Bad", "a\xffb\x00c", "Y", "z", 100)
	f.Add("", "v", "K", "v", 100)
	f.Add(strings.Repeat("n", 257), "v", "K", "v", 1000)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, max int) {
		max = 1 + abs(max)%600
		h := map[string]string{k1: v1, k2: v2}
		if got, want := CleanHeaders(h, max), cleanHeaders(h, max); !maps.Equal(got, want) {
			t.Fatalf("CleanHeaders(%q, %d) = %q, cleaning gives %q", h, max, got, want)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -(n + 1)
	}
	return n
}

// A webhook whose secret cannot be opened shows none (409), and a new
// secret, from a rotation or a scheme that needs one, replaces what was
// stored, keeping nothing of it signing.
func TestUnreadableSecretReplaced(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	unreadable := func() *Webhook {
		return &Webhook{SecretUnreadable: "open secret: malformed", Sealed: &SealedSecrets{Secret: "aes:x"}}
	}
	if _, err := unreadable().ShownSecret(); !errors.Is(err, ErrConflict) {
		t.Fatalf("ShownSecret = %v, want a conflict", err)
	}
	w := unreadable()
	w.Rotate("whsec_new", time.Hour, now)
	if w.SecretUnreadable != "" || w.Sealed != nil || w.Secret != "whsec_new" || w.PreviousSecrets != nil {
		t.Fatalf("rotated: %+v", w)
	}
	if got, err := w.ShownSecret(); err != nil || got != "whsec_new" {
		t.Fatalf("ShownSecret = %q, %v", got, err)
	}
	w = unreadable()
	w.Signature = &Signature{Scheme: SchemeStandardEd25519}
	w.FitSecret(SchemeStandard)
	if w.SecretUnreadable != "" || w.Sealed != nil || ValidateSecret(SchemeStandardEd25519, w.Secret) != nil {
		t.Fatalf("a scheme's new secret: %+v", w)
	}
}

// A rotation keeps the secrets rotated out before it signing through their
// own grace, newest first, up to MaxOldSecrets; no grace ends them all.
func TestRotateKeepsEarlierSecrets(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	sec := map[string]string{}
	for _, n := range []string{"s0", "s1", "s2", "s3", "n0", "n1", "n2", "fresh"} {
		sec[n] = GenerateSecret(SchemeStandard)
	}
	w := &Webhook{Secret: sec["s0"]}
	w.Rotate(sec["s1"], time.Hour, now)
	w.Rotate(sec["s2"], 24*time.Hour, now.Add(time.Minute))
	if got := w.SigningSecrets(now.Add(2 * time.Minute)); !slices.Equal(got, []string{sec["s2"], sec["s1"], sec["s0"]}) {
		t.Fatalf("two rotations: %v", got)
	}
	// s0's hour ends; s1's day goes on.
	if got := w.SigningSecrets(now.Add(61 * time.Minute)); !slices.Equal(got, []string{sec["s2"], sec["s1"]}) {
		t.Fatalf("after the first grace: %v", got)
	}
	w.Rotate(sec["s3"], time.Hour, now.Add(2*time.Hour)) // s0 expired: dropped
	if len(w.PreviousSecrets) != 2 || w.PreviousSecrets[0].Secret != sec["s2"] || w.PreviousSecrets[1].Secret != sec["s1"] {
		t.Fatalf("kept %+v", w.PreviousSecrets)
	}
	w.Rotate(sec["s1"], time.Hour, now.Add(2*time.Hour)) // back to s1: it is current, not old
	if got := w.SigningSecrets(now.Add(2 * time.Hour)); !slices.Equal(got, []string{sec["s1"], sec["s3"], sec["s2"]}) {
		t.Fatalf("rotated back: %v", got)
	}
	for i := range 3 {
		if err := w.RotateRoom(time.Hour, now.Add(2*time.Hour)); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		w.Rotate(sec[fmt.Sprintf("n%d", i)], time.Hour, now.Add(2*time.Hour))
	}
	if len(w.LiveOldSecrets(now.Add(2*time.Hour))) != MaxOldSecrets {
		t.Fatalf("old secrets %+v", w.PreviousSecrets)
	}
	var ve *ValidationError
	if err := w.RotateRoom(time.Hour, now.Add(2*time.Hour)); !errors.As(err, &ve) || ve.Details[0].Field != "graceSeconds" {
		t.Fatalf("a sixth old secret: %v", err)
	}
	if err := w.RotateRoom(0, now.Add(2*time.Hour)); err != nil {
		t.Fatalf("a rotation without grace: %v", err)
	}
	w.Rotate(sec["fresh"], 0, now.Add(2*time.Hour))
	if got := w.SigningSecrets(now.Add(2 * time.Hour)); !slices.Equal(got, []string{sec["fresh"]}) || w.PreviousSecrets != nil {
		t.Fatalf("no grace: %v %+v", got, w.PreviousSecrets)
	}
}

func TestJSONKind(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{{"", "a string"}, {true, "a boolean"}, {1, "an integer"}, {uint8(1), "an integer"}, {1.5, "a number"},
		{[]string{}, "an array"}, {map[string]int{}, "an object"}, {struct{}{}, "an object"}} {
		if got := JSONKind(reflect.TypeOf(tc.v).Kind()); got != tc.want {
			t.Errorf("JSONKind(%T) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// A schema the metaschema refuses is told where and why; one that refers
// to itself in a cycle, which no data can be checked against, is refused
// when it is made, not at every publish.
func TestSchemaRefusals(t *testing.T) {
	for _, tc := range []struct{ schema, want string }{
		{`{"type":"object","properties":{"a":{"minimum":"5"}}}`, "/properties/a/minimum: got string, want number"},
		{`{"pattern":"(?<=x)a"}`, "/pattern: '(?<=x)a' is not valid regex"},
		{`{"$ref":"#"}`, "refers to itself in a cycle"},
		{`{"allOf":[{"$ref":"#"}]}`, "refers to itself in a cycle"},
	} {
		if _, err := CompileSchema([]byte(tc.schema)); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "urn:hookd") {
			t.Errorf("%s: %v, want %q", tc.schema, err, tc.want)
		}
	}
	// Recursion through a property is fine: it ends with the data.
	if _, err := CompileSchema([]byte(`{"type":"object","properties":{"child":{"$ref":"#"}}}`)); err != nil {
		t.Errorf("a recursive tree: %v", err)
	}
}

// A filter whose least cost is past the evaluation limit is refused when
// saved: it could never finish, and would match nothing.
func TestFilterPastTheCostLimit(t *testing.T) {
	ten := "[1,2,3,4,5,6,7,8,9,10]"
	heavy := ten + ".map(a, " + ten + ".map(b, " + ten + ".map(c, " + ten + ".map(d, " + ten + ".map(e, a + b + c + d + e))))).size() > 0"
	if _, err := CompileFilter(heavy); err == nil || !strings.Contains(err.Error(), "past the limit") {
		t.Fatalf("a filter costing over the limit: %v", err)
	}
	if _, err := CompileFilter(ten + `.map(a, a * 2).size() > 0 && data.amount > 100`); err != nil {
		t.Fatalf("a light one: %v", err)
	}
}

func TestParseTime(t *testing.T) {
	for _, c := range []struct{ raw, time, until string }{
		{"2024-01-15T10:30:00Z", "2024-01-15T10:30:00Z", "2024-01-15T10:30:00Z"},
		{"2024-01-15t10:30:00z", "2024-01-15T10:30:00Z", "2024-01-15T10:30:00Z"}, // RFC 3339 allows lower case
		{"2024-01-15T11:30:00.5+01:00", "2024-01-15T10:30:00.5Z", "2024-01-15T10:30:00.5Z"},
		{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z", ""}, // the stores' "no bound": no since, and no until
		{"0001-01-01T00:00:00.000001Z", "0001-01-01T00:00:00.000001Z", "0001-01-01T00:00:00.000001Z"},
		{"2024-01-15", "", ""},
		{"yesterday", "", ""},
		{"", "", ""},
	} {
		for _, p := range []struct {
			name  string
			parse func(string) (time.Time, error)
			want  string
		}{{"ParseTime", ParseTime, c.time}, {"ParseUntil", ParseUntil, c.until}} {
			got, err := p.parse(c.raw)
			switch {
			case p.want == "" && err == nil:
				t.Errorf("%s(%q) = %s, want an error", p.name, c.raw, got)
			case p.want != "" && (err != nil || got.Format(time.RFC3339Nano) != p.want):
				t.Errorf("%s(%q) = %s, %v; want %s", p.name, c.raw, got, err, p.want)
			}
		}
	}
}
