package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/hookd/hookd"
)

// errorTable is the one place that turns a domain error into a status and
// a contract error code. The first sentinel the error wraps wins.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{hookd.ErrUnauthorized, http.StatusUnauthorized, "unauthorized"},
	{hookd.ErrForbidden, http.StatusForbidden, "forbidden"},
	{hookd.ErrNotFound, http.StatusNotFound, "not_found"},
	{hookd.ErrInvalidRequest, http.StatusBadRequest, "invalid_request"},
	{hookd.ErrValidation, http.StatusUnprocessableEntity, "validation_failed"},
	{hookd.ErrConflict, http.StatusConflict, "conflict"},
	{hookd.ErrTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large"},
	{hookd.ErrRateLimited, http.StatusTooManyRequests, "rate_limited"},
	{hookd.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string             `json:"code"`
	Message string             `json:"message"`
	Details []hookd.FieldError `json:"details,omitempty"`
}

func errorf(sentinel error, msg string) error { return &hookd.Error{Kind: sentinel, Message: msg} }

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, "internal"
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			status, code = e.status, e.code
			break
		}
	}
	body := errorBody{Error: errorDetail{Code: code, Message: err.Error()}}
	var ve *hookd.ValidationError
	if errors.As(err, &ve) {
		body.Error.Message = "the request is not valid; see details"
		body.Error.Details = ve.Details
	}
	switch {
	case status >= 500 && errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away (mid-publish too, whose store errors are
		// 503s); nobody reads this answer, and nothing failed.
		s.log.DebugContext(r.Context(), "request canceled", "method", r.Method, "path", r.URL.Path)
		body.Error.Message = "request canceled"
	case status >= 500:
		// 5xx answers never carry the cause: it may hold SQL or paths.
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
		if status == http.StatusInternalServerError {
			body.Error.Message = "internal error"
		} else {
			body.Error.Message = "service unavailable; try again"
		}
	}
	s.writeJSON(w, status, body)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode response", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
