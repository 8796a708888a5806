package urltext

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hookd/hookd"
)

func TestCheck(t *testing.T) {
	for target, want := range map[string]error{
		"/v1/tenants/acme":            nil,
		"/v1/tenants/acme?type=a.b":   nil,
		"/v1/tenants/caf%C3%A9":       nil, // UTF-8 is text
		"/v1/tenants/%00":             hookd.ErrNotFound,
		"/v1/tenants/%ff":             hookd.ErrNotFound,
		"/v1/tenants/acme?type=%00":   hookd.ErrInvalidRequest,
		"/v1/tenants/acme?type=%C3":   hookd.ErrInvalidRequest,
		"/v1/tenants/acme?%ff=1":      hookd.ErrInvalidRequest,
		"/v1/tenants/acme?a=1&b=%00":  hookd.ErrInvalidRequest,
		"/v1/tenants/acme?status=%zz": hookd.ErrInvalidRequest, // dropped by URL.Query, not refused, before
		"/v1/tenants/acme?a=1;b=2":    hookd.ErrInvalidRequest,
	} {
		err := Check(httptest.NewRequest("GET", "http://hookd.test"+target, nil))
		if (want == nil) != (err == nil) || want != nil && !errors.Is(err, want) {
			t.Errorf("Check(%s) = %v, want %v", target, err, want)
		}
	}
}

// Whatever a URL holds, Check answers nil or one of its two errors, and
// nil only for text hookd stores.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"/v1/tenants/acme", "/v1/%00", "/x?q=%ff", "/a/b?c=d&e=f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		r, err := httptestRequest(target)
		if err != nil {
			return
		}
		switch err := Check(r); {
		case err == nil:
			if hookd.BadText(r.URL.Path) != "" {
				t.Fatalf("passed a path that is no text: %q", r.URL.Path)
			}
		case !errors.Is(err, hookd.ErrNotFound) && !errors.Is(err, hookd.ErrInvalidRequest):
			t.Fatalf("Check(%q) = %v", target, err)
		}
	})
}

func httptestRequest(target string) (r *http.Request, err error) {
	defer func() {
		if recover() != nil {
			r, err = nil, errors.New("not a request target")
		}
	}()
	return httptest.NewRequest("GET", "http://hookd.test/"+target, nil), nil
}
