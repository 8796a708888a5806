package hookd

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Tenant is one customer of the platform; everything but the event-type
// catalog lives under one. Its ID is the platform's own.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	// UpdatedAt is when its name or metadata last changed (CreatedAt
	// until then); /api/v1 shows it as an application's updatedAt, /v1
	// keeps to the contract's fields.
	UpdatedAt time.Time `json:"-"`
	// Metadata is its callers' own key-value pairs (Svix's application
	// metadata); /v1 shows it when set.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Validate checks the fields a client sets; keptName is the name stored
// before this change ("" for a new tenant).
func (t *Tenant) Validate(keptName string) error {
	v := &ValidationError{}
	if !ValidExternalID(t.ID) {
		v.Add("id", ExternalIDRule)
	}
	validateName(v, "name", t.Name, keptName)
	validateMetadata(v, t.Metadata)
	return v.Err()
}

// MaxNameLength is the most characters a tenant's or webhook's name has.
const MaxNameLength = 200

func validateName(v *ValidationError, field, name, kept string) {
	if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameLength {
		v.Add(field, "must be 1–200 characters")
	} else if name != kept && strings.TrimFunc(name, unicode.IsSpace) == "" {
		// Nothing to show: a list's link to it would be invisible. One
		// stored before this rule (kept) does not lock its other edits.
		v.Add(field, "must not be blank")
	} else {
		CheckText(v, field, name)
	}
}

// Validate checks the fields a client sets.
func (k *APIKey) Validate() error {
	v := &ValidationError{}
	validateName(v, "name", k.Name, "")
	return v.Err()
}

// APIKey is a tenant's key. Only its SHA-256 hash is stored; the key itself
// is shown once, when made.
type APIKey struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"-"`
	Name      string    `json:"name"`
	Hash      []byte    `json:"-"`
	CreatedAt time.Time `json:"createdAt"`
}
