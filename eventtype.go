package hookd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// EventType is one entry of the instance-wide catalog. Archived types take
// no new events, but webhooks that subscribed to them keep them.
type EventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	// Examples are example data objects, each valid against Schema: the
	// console shows them, and a test send of the type without data sends
	// the first.
	Examples []json.RawMessage `json:"examples"`
	Archived bool              `json:"archived"`
	// Deprecated, FeatureFlag and GroupName are kept for Svix's API,
	// which shows them as its clients set them; hookd does nothing else
	// with them (a migration from Svix keeps them).
	Deprecated  bool      `json:"-"`
	FeatureFlag string    `json:"-"`
	GroupName   string    `json:"-"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// NameRule is a rule a new event type's name must follow. Each API makes
// names by its own: /v1 and the console by NativeNames, /api/v1 by
// SvixNames, which are Svix's and take more (capitals, "-"). The catalog
// holds both, and everything that reads a name (publishing, subscribing,
// filters) takes both.
type NameRule struct {
	pattern *regexp.Regexp
	max     int
	text    string
}

var (
	// NativeNames: dot-separated segments of lower case letters, digits
	// and "_", at most 200 characters (the contract's rule).
	NativeNames = NameRule{regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`), 200,
		"must match ^[a-z0-9_]+(\\.[a-z0-9_]+)*$ and be at most 200 characters"}
	// SvixNames: letters, digits, "-", "_" and ".", at most 256
	// characters, as Svix's API takes them.
	SvixNames = NameRule{regexp.MustCompile(`^[a-zA-Z0-9\-_.]+$`), 256,
		"must match ^[a-zA-Z0-9\\-_.]+$ and be at most 256 characters"}
)

// Valid reports whether name follows the rule. "." and ".." never do: a
// path could not name them.
func (r NameRule) Valid(name string) bool {
	return len(name) <= r.max && r.pattern.MatchString(name) && name != "." && name != ".."
}

// Check adds a problem to v when name does not follow the rule.
func (r NameRule) Check(v *ValidationError, field, name string) {
	if !r.Valid(name) && !v.Has(field) {
		v.Add(field, "%s", r.text)
	}
}

// Problem says what the rule asks of a name.
func (r NameRule) Problem() string { return r.text }

// ValidEventTypeName reports whether the catalog may hold name, made by
// either rule (NativeNames' names are all SvixNames' too).
func ValidEventTypeName(name string) bool {
	return SvixNames.Valid(name)
}

// Validate checks the event type and compiles its schema, if any.
func (et *EventType) Validate() error {
	v := &ValidationError{}
	SvixNames.Check(v, "name", et.Name)
	if utf8.RuneCountInString(et.Description) > 1000 {
		v.Add("description", "must be at most 1000 characters")
	} else {
		CheckText(v, "description", et.Description)
	}
	for _, f := range []struct{ field, value string }{{"featureFlag", et.FeatureFlag}, {"groupName", et.GroupName}} {
		if f.value != "" && !SvixNames.Valid(f.value) {
			v.Add(f.field, "%s", SvixNames.text)
		}
	}
	var schema *Schema
	if len(et.Schema) > 0 {
		var err error
		switch {
		case !bytes.HasPrefix(bytes.TrimLeft(et.Schema, " \t\r\n"), []byte("{")):
			// true and false are JSON Schemas too, but false would refuse
			// every event and true says nothing: an object is meant.
			v.Add("schema", "must be a JSON Schema object")
		default:
			if schema, err = CompileSchema(et.Schema); err != nil {
				v.Add("schema", "%v", err)
			}
		}
	}
	if len(et.Examples) > MaxExamples {
		v.Add("examples", "must be at most %d", MaxExamples)
	}
	for i, ex := range et.Examples {
		field := fmt.Sprintf("examples[%d]", i)
		var obj map[string]any
		switch {
		case len(ex) > MaxEventData:
			v.Add(field, "must be at most %d bytes", MaxEventData)
		case json.Unmarshal(ex, &obj) != nil || obj == nil:
			v.Add(field, "must be a JSON object: an event's data")
		case schema != nil:
			var ve *ValidationError
			if err := schema.Validate(ex); errors.As(err, &ve) {
				for _, d := range ve.Details {
					v.Add(field+strings.TrimPrefix(d.Field, "data"), "%s", d.Message)
				}
			} else if err != nil {
				v.Add(field, "does not match the schema")
			}
		}
	}
	return v.Err()
}

// Same reports whether o has et's fields, its times aside.
func (et *EventType) Same(o *EventType) bool {
	return et.Name == o.Name && et.Description == o.Description && bytes.Equal(et.Schema, o.Schema) &&
		slices.EqualFunc(et.Examples, o.Examples, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) &&
		et.Archived == o.Archived && et.Deprecated == o.Deprecated && et.FeatureFlag == o.FeatureFlag && et.GroupName == o.GroupName
}

// MaxExamples is how many examples an event type may keep.
const MaxExamples = 10

// MaxPatterns is the most types and patterns a webhook's events list.
const MaxPatterns = 1000

// Subscription patterns a webhook may list in its events.
const AllEvents = "*"

// PatternMatches reports whether a webhook's events entry matches type typ:
// "*" matches every type but hookd's own, "a.*" every type under "a.",
// anything else only itself.
func PatternMatches(pattern, typ string) bool {
	if pattern == AllEvents {
		return !SystemEventType(typ)
	}
	if prefix, ok := strings.CutSuffix(pattern, ".*"); ok {
		return strings.HasPrefix(typ, prefix+".")
	}
	return pattern == typ
}

// ValidatePatterns checks a webhook's events list against the catalog: a
// plain name must be a live type, a prefix wildcard must match at least
// one; an entry among kept (the webhook's before the change) stays as it
// is.
func ValidatePatterns(v *ValidationError, patterns []string, catalog []*EventType, kept []string) {
	if len(patterns) == 0 {
		v.Add("events", "must list at least one event type")
		return
	}
	if len(patterns) > MaxPatterns {
		v.Add("events", "must list at most %d event types and patterns", MaxPatterns)
		return
	}
	for i, p := range patterns {
		field := "events[" + itoa(i) + "]"
		switch {
		case p == AllEvents, slices.Contains(kept, p):
		case strings.HasSuffix(p, ".*"):
			if !ValidEventTypeName(strings.TrimSuffix(p, ".*")) {
				v.Add(field, "%q is not a valid wildcard", p)
				continue
			}
			found := false
			for _, et := range catalog {
				if !et.Archived && PatternMatches(p, et.Name) {
					found = true
					break
				}
			}
			if !found {
				v.Add(field, "%q matches no event type", p)
			}
		default:
			var et *EventType
			for _, c := range catalog {
				if c.Name == p {
					et = c
					break
				}
			}
			switch {
			case et == nil:
				v.Add(field, "unknown event type %q", p)
			case et.Archived:
				v.Add(field, "event type %q is archived", p)
			}
		}
	}
}

// hookd's own event types: operational events it publishes itself, in the
// reserved hookd. namespace (the contract's "Endpoint health and
// operational events"). A webhook receives them only by naming them or
// hookd.*; "*" alone does not include them.
const (
	EventWebhookDisabled   = "hookd.webhook.disabled"
	EventDeliveryExhausted = "hookd.delivery.exhausted"
	EventWebhookRecovered  = "hookd.webhook.recovered"
)

// SystemEventType reports whether name is in hookd's reserved namespace.
func SystemEventType(name string) bool { return strings.HasPrefix(name, SystemEventPrefix) }

// SystemEventPrefix begins the name of each of hookd's own event types.
const SystemEventPrefix = "hookd."

// The operator's webhook (--operator-webhook) lives in a tenant of its own,
// whose id no API caller can take (tenant ids have no colon): it receives
// every tenant's operational events, each with metadata {"tenantId"}.
// The operator sets its URL, so the SSRF guard does not apply to it.
const (
	OperatorTenant  = "hookd:operator"
	OperatorWebhook = "wh_operator"
)
