package httpapi_test

import (
	"strings"
	"testing"
)

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
