package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzBody posts arbitrary bytes to path and fails on a 5xx answer or one
// that is not UTF-8: whatever a client sends, hookd answers with a 4xx it
// can read, or stores what it accepted.
func fuzzBody(f *testing.F, path string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// One store for every input of this process: the fuzzer's, whose
	// temporary directory lasts as long as it does.
	e := newEnv(f)
	e.tenant("acme")
	e.eventType("a.b", nil)
	e.eventType("s.v", map[string]any{"type": "object", "required": []string{"n"}, "properties": map[string]any{"n": map[string]any{"type": "integer"}}})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { e.api.ServeHTTP(rec, req); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: no answer in 10s", body)
		}
		if rec.Code >= 500 {
			t.Fatalf("%q answered %d: %s", body, rec.Code, rec.Body.Bytes())
		}
		if !utf8.Valid(rec.Body.Bytes()) {
			t.Fatalf("%q answered with invalid UTF-8: %q", body, rec.Body.Bytes())
		}
		if rec.Code != http.StatusAccepted && rec.Code != http.StatusOK && rec.Code != http.StatusCreated && rec.Code < 400 {
			t.Fatalf("%q answered %d", body, rec.Code)
		}
	})
}

func FuzzPublish(f *testing.F) {
	fuzzBody(f, "/v1/tenants/acme/events",
		`{"type":"a.b","data":{"n":1}}`,
		`{"type":"s.v","data":{"n":"x"}}`,
		`{"type":"a.b","data":{"s":"\u0000"},"metadata":{"k":"v"},"channels":["eu"],"id":"e-1"}`,
		`{"type":"a.b","data":{"s":"`+"\xff"+`"}}`,
		`{"type":"a.b","data":[],"id":""}`,
		`{"type":"a.b","data":{},"id":".."}`,
		`{"type":null}`, `[]`, `nul`, ``,
	)
}

func FuzzWebhookCreate(f *testing.F) {
	fuzzBody(f, "/v1/tenants/acme/webhooks",
		`{"name":"n","url":"https://example.com/x","events":["*"]}`,
		`{"name":"n","url":"https://example.com:99999/x","events":["a.*"],"headers":{"Upgrade":"x"}}`,
		`{"name":"a\u0000","url":"http://127.0.0.1/","events":["a.b"],"filter":"data.n >"}`,
		`{"name":"n","url":"https://example.com/x","events":["*"],"signature":{"scheme":"hmac-sha256","header":"X-S","content":"{body}","encoding":"hex"},"secret":"0123456789abcdef"}`,
		`{"name":"n","url":"https://example.com/x","events":["*"],"metadata":{"k":"`+"\xc3"+`"},"channels":[""],"rateLimit":0}`,
		`{"name":5}`, `{}`, `"x"`,
	)
}
