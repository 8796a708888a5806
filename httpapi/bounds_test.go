package httpapi_test

import (
	"strings"
	"testing"
)

// A bulk action's window given the zero time as its end is refused (422
// on the field), as a query's until is: the service reads a zero end as
// no end, and a cancel "before 0001-01-01" ended every waiting delivery.
func TestZeroWindowEndRefused(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	wh := e.webhook("acme", map[string]any{})
	for range 2 {
		e.do("POST", "/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}).want(t, 202)
	}
	path := "/v1/tenants/acme/webhooks/" + wh + "/deliveries"
	e.do("POST", path+"/cancel", adminKey, map[string]any{"before": "0001-01-01T00:00:00Z"}).want(t, 422).hasField(t, "before")
	e.do("POST", path+"/retry-all-failed", adminKey, map[string]any{"until": "0001-01-01T00:00:00Z"}).want(t, 422).hasField(t, "until")
	if r := e.do("POST", path+"/cancel", adminKey, map[string]any{"before": "1000-01-01T00:00:00Z"}).want(t, 200); r.body["canceled"] != 0.0 {
		t.Fatalf("cancel before year 1000: %s", r.raw)
	}
}

// Event data is measured as it is stored and sent: compacted. 270 KiB of
// whitespace around a small object is not too large; a publish sent again
// with data too large is answered with its first event (200), as any
// repeat is, whatever would refuse it now.
func TestEventDataMeasuredCompacted(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme")
	e.eventType("a.b", nil)
	spaced := `{"type":"a.b","id":"order-1","data":{"n":` + strings.Repeat(" ", 270<<10) + `1}}`
	first := e.do("POST", "/v1/tenants/acme/events", adminKey, spaced).want(t, 202)
	big := `{"type":"a.b","id":"order-1","data":{"s":"` + strings.Repeat("x", 300<<10) + `"}}`
	if again := e.do("POST", "/v1/tenants/acme/events", adminKey, big).want(t, 200); string(again.raw) != string(first.raw) {
		t.Fatalf("the repeat with data too large = %s, want the first answer %s", again.raw, first.raw)
	}
	e.do("POST", "/v1/tenants/acme/events", adminKey, strings.Replace(big, "order-1", "order-2", 1)).want(t, 413)
}
