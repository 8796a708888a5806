// Package urltext refuses request URLs that carry text hookd never stores,
// for every transport alike.
package urltext

import (
	"net/http"
	"net/url"
	"sort"

	"github.com/hookd/hookd"
)

// Check returns an error when r's path or a query parameter holds a NUL or
// invalid UTF-8 (after decoding: %00, %ff), or the query string does not
// decode (%zz). Nothing hookd stores is named
// so, as every id and name is checked when it is made, and PostgreSQL
// refuses such text in a query outright (a 500 before): a path is
// hookd.ErrNotFound, a query parameter a bad request naming it.
func Check(r *http.Request) error {
	if hookd.BadText(r.URL.Path) != "" {
		return hookd.Errorf(hookd.ErrNotFound, "no such path: it is not valid UTF-8 text")
	}
	// URL.Query drops a pair it cannot decode (%zz, a ;), so the filter
	// it held would be silently left out of the answer.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return hookd.BadRequest("the query string is malformed: %v", err)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // the same parameter named every time
	for _, name := range names {
		if why := hookd.BadText(name); why != "" {
			return hookd.BadRequest("a query parameter's name %s", why)
		}
		for _, v := range q[name] {
			if why := hookd.BadText(v); why != "" {
				return hookd.BadRequest("query parameter %s %s", name, why)
			}
		}
	}
	return nil
}
