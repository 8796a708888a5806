package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/hookd/hookd"
)

// Opt is a request field that tells absent, null and a value apart, and
// keeps a type error instead of failing the whole decode, so a body can be
// answered with every problem at once.
type Opt[T any] struct {
	Set  bool
	Null bool
	V    T
	err  error
}

func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	// The common fields, without a decoder each: the request's decoder
	// has already checked that b is JSON, and neither kind has fields to
	// refuse.
	switch p := any(&o.V).(type) {
	case *json.RawMessage:
		*p = append(json.RawMessage(nil), b...)
		return nil
	case *string:
		if err := json.Unmarshal(b, p); err != nil {
			o.err = err
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o.V); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			return err // a field the contract does not name, however deep: 400
		}
		o.err = err
	}
	return nil
}

// ok reports whether the field holds a usable value, adding the problem to
// v when it is of the wrong type or null where null is not allowed.
func (o *Opt[T]) ok(v *hookd.ValidationError, field, want string) bool {
	switch {
	case !o.Set:
		return false
	case o.err != nil:
		var ute *json.UnmarshalTypeError
		if errors.As(o.err, &ute) || !strings.Contains(o.err.Error(), "unknown field") {
			v.Add(field, "must be %s", want)
		} else {
			v.Add(field, "%s", strings.TrimPrefix(o.err.Error(), "json: "))
		}
		return false
	case o.Null:
		v.Add(field, "must not be null")
		return false
	}
	return true
}

// given is ok for an optional field of a request that makes or does
// something (not a PATCH), where null is "not given", as OpenAPI-generated
// clients send it for what is unset.
func (o *Opt[T]) given(v *hookd.ValidationError, field, want string) bool {
	return !o.Null && o.ok(v, field, want)
}

// dropNull makes a null field not given.
func (o *Opt[T]) dropNull() {
	if o.Null {
		*o = Opt[T]{}
	}
}

// okOrNull is ok for fields where null means "none".
func (o *Opt[T]) okOrNull(v *hookd.ValidationError, field, want string) bool {
	if o.Set && o.Null {
		return true
	}
	return o.ok(v, field, want)
}

// decode reads a JSON object body into dst: 413 past the size limit, 400
// when it is not JSON, not an object, or has a field dst does not name.
func decode(r *http.Request, dst any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeBytes(body, dst)
}

// readBody reads a request's body: 413 past the size limit.
func readBody(r *http.Request) ([]byte, error) {
	body, err := readAll(r.Body, r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(hookd.ErrTooLarge, fmt.Sprintf("request body is larger than %d bytes", hookd.MaxRequestBody))
		}
		return nil, hookd.BadRequest("could not read request body")
	}
	return body, nil
}

// readAll is io.ReadAll into a buffer of the body's declared size (and a
// byte more, for the read that finds the end): io.ReadAll starts at 512
// bytes and copies into twice the room until the body fits, over 2 KiB
// of garbage for a publish of 1 KiB. A size over the request limit is not
// trusted for the first buffer; the body is still read to its end.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > hookd.MaxRequestBody {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // longer than it said: room to go on
		}
	}
}

func decodeBytes(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return hookd.BadRequest("request body must be a JSON object")
	}
	if trimmed[0] != '{' {
		return hookd.BadRequest("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			field := ute.Field
			if field == "" {
				return hookd.BadRequest("request body must be a JSON object")
			}
			return hookd.Invalid(field, "must be %s", hookd.JSONKind(ute.Type.Kind()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return hookd.BadRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return hookd.BadRequest("request body is not valid JSON")
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return hookd.BadRequest("request body must hold one JSON object")
	}
	return nil
}

// query parameter helpers: a malformed value is 400.

func queryInt(r *http.Request, name string, def, min, max int) (int, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < min {
		return 0, hookd.BadRequest("query parameter %s must be an integer ≥ %d", name, min)
	}
	if max > 0 && n > max {
		n = max
	}
	return n, nil
}

func queryBool(r *http.Request, name string) (*bool, error) {
	switch raw := r.URL.Query().Get(name); raw {
	case "":
		return nil, nil
	case "true":
		t := true
		return &t, nil
	case "false":
		f := false
		return &f, nil
	default:
		return nil, hookd.BadRequest("query parameter %s must be true or false", name)
	}
}

// cursorLimit reads the limit of a list that pages by cursor alone, and
// refuses offset and page there: ignored, a client paging by them would
// read the first page forever.
func cursorLimit(r *http.Request) (int, error) {
	q := r.URL.Query()
	if q.Has("offset") || q.Has("page") {
		return 0, hookd.BadRequest("this list pages by cursor: give cursor (its nextCursor), not offset or page")
	}
	return queryInt(r, "limit", 50, 1, 250)
}

// pageParams reads limit with offset or page (1-based).
func pageParams(r *http.Request, defLimit, maxLimit int) (hookd.Page, error) {
	limit, err := queryInt(r, "limit", defLimit, 1, maxLimit)
	if err != nil {
		return hookd.Page{}, err
	}
	offset, err := queryInt(r, "offset", 0, 0, 0)
	if err != nil {
		return hookd.Page{}, err
	}
	if r.URL.Query().Get("page") != "" {
		page, err := queryInt(r, "page", 1, 1, 0)
		if err != nil {
			return hookd.Page{}, err
		}
		if r.URL.Query().Get("offset") != "" {
			return hookd.Page{}, hookd.BadRequest("give offset or page, not both")
		}
		if page-1 > math.MaxInt64/limit {
			return hookd.Page{}, hookd.BadRequest("query parameter page is too large")
		}
		offset = (page - 1) * limit
	}
	return hookd.Page{Limit: limit, Offset: offset}, nil
}
