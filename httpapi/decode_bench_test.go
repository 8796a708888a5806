package httpapi

import (
	"strings"
	"testing"
)

// BenchmarkDecodePublish decodes a publish request's body (1 KiB of
// data), as every publish does.
func BenchmarkDecodePublish(b *testing.B) {
	body := []byte(`{"type":"invocation.completed","id":"inv-1","channels":["eu"],"metadata":{"k":"v"},"data":{"invocationId":"inv_1","status":"ok","pad":"` +
		strings.Repeat("x", 1000) + `"}}`)
	b.ReportAllocs()
	for b.Loop() {
		var in eventInput
		if err := decodeBytes(body, &in); err != nil || !in.Data.Set {
			b.Fatal(err)
		}
	}
}
