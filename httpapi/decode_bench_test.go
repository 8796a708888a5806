package httpapi

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hookd/hookd"
)

// publishBody is a publish request's body with 1 KiB of data.
func publishBody() []byte {
	return []byte(`{"type":"invocation.completed","id":"inv-1","channels":["eu"],"metadata":{"k":"v"},"data":{"invocationId":"inv_1","status":"ok","pad":"` +
		strings.Repeat("x", 1000) + `"}}`)
}

// BenchmarkDecodePublish decodes a publish request's body (1 KiB of
// data), as every publish does.
func BenchmarkDecodePublish(b *testing.B) {
	body := publishBody()
	b.ReportAllocs()
	for b.Loop() {
		var in eventInput
		if err := decodeBytes(body, &in); err != nil || !in.Data.Set {
			b.Fatal(err)
		}
	}
}

// readAll reads what the body holds, whatever its declared size says:
// exact, too large, too small, unknown, past the request limit; and says
// the reader's error.
func TestReadAll(t *testing.T) {
	body := strings.Repeat("x", 3000)
	for _, size := range []int64{3000, 5000, 1, 2999, 0, -1, hookd.MaxRequestBody + 1} {
		got, err := readAll(strings.NewReader(body), size)
		if err != nil || string(got) != body {
			t.Errorf("size %d: read %d bytes, %v", size, len(got), err)
		}
	}
	boom := errors.New("boom")
	if _, err := readAll(io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom)), 10); !errors.Is(err, boom) {
		t.Errorf("a failing reader: %v", err)
	}
}

func BenchmarkReadBody(b *testing.B) {
	body := strings.Repeat("x", 1200)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		if got, err := readBody(r); err != nil || len(got) != len(body) {
			b.Fatal(err)
		}
	}
}
