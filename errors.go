package hookd

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. httpapi maps each to one status in a single table; wrap
// them with fmt.Errorf("…: %w", err) to add context.
var (
	ErrUnauthorized   = errors.New("unauthorized")
	ErrForbidden      = errors.New("forbidden")
	ErrNotFound       = errors.New("not found")
	ErrInvalidRequest = errors.New("invalid request")
	ErrValidation     = errors.New("validation failed")
	ErrConflict       = errors.New("conflict")
	ErrTooLarge       = errors.New("payload too large")
	ErrRateLimited    = errors.New("rate limited")
	ErrUnavailable    = errors.New("unavailable")
	// ErrRefused is a value the database will not hold (a bad row, not a
	// database that is away): writing it again unchanged cannot succeed.
	// No status maps to it: it reaching a client is a fault (500).
	ErrRefused = errors.New("refused by the database")
	// ErrLeaseLost is a task's write made after its runner's lease was
	// taken over: it wrote nothing. No status maps to it either.
	ErrLeaseLost = errors.New("lease lost")
	// ErrStale is a write over a version of a row that another write
	// changed since it was read: EditWebhook reads it again and retries
	// (other conflicts, a uid another webhook has, are not retried). It is
	// an ErrConflict.
	ErrStale = &Error{Kind: ErrConflict, Message: "changed since it was read"}
)

// Error is a sentinel with the message its reader should see ("webhook
// wh_… not found"); the transports map the sentinel to a status and show
// the message.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// Errorf returns an *Error of kind with a formatted message.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// FieldError names one problem with one field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError carries every problem found in a request, so a client
// can fix them all at once instead of one per round trip.
type ValidationError struct {
	Details []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Details))
	for i, d := range e.Details {
		parts[i] = d.Field + ": " + d.Message
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

func (e *ValidationError) Unwrap() error { return ErrValidation }

// Add records a problem with field.
func (e *ValidationError) Add(field, format string, args ...any) {
	e.Details = append(e.Details, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Has reports whether e holds a problem with field (a nil e holds none).
func (e *ValidationError) Has(field string) bool {
	if e == nil {
		return false
	}
	for _, d := range e.Details {
		if d.Field == field {
			return true
		}
	}
	return false
}

// Err returns e when it holds any problem, nil otherwise.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Details) == 0 {
		return nil
	}
	return e
}

// Invalid is a shorthand for a validation error on one field.
func Invalid(field, format string, args ...any) error {
	v := &ValidationError{}
	v.Add(field, format, args...)
	return v
}

// RequestError is a 400 with a message meant for the client.
type RequestError struct{ Message string }

func (e *RequestError) Error() string { return e.Message }
func (e *RequestError) Unwrap() error { return ErrInvalidRequest }

// BadRequest returns a 400 invalid_request error with a client-facing message.
func BadRequest(format string, args ...any) error {
	return &RequestError{Message: fmt.Sprintf(format, args...)}
}
