package hookd

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// Event is one published event. Payload is the exact body every receiver
// gets; it is built once, at publish time, and stored as it is, so that the
// bytes signed and sent are the bytes kept.
type Event struct {
	Seq      int64 // store order, for cursors
	ID       string
	TenantID string
	Type     string
	Channels []string
	// Tags are free-form labels to find the event by (Svix's message
	// tags); receivers never see them.
	Tags      []string
	Timestamp time.Time
	Payload   []byte
	// TraceParent is the W3C traceparent of the span that published the
	// event ("" when none), kept so its attempts join that trace.
	TraceParent string
	// DeliveriesCreated is how many deliveries its publish created, what a
	// publish of its id sent again answers; -1 when not kept (an event
	// from before hookd kept it, or one hookd made itself).
	DeliveriesCreated int
}

// Envelope is the body a receiver gets.
type Envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// BuildPayload fills e.Payload from its fields and data and metadata, which
// must be valid JSON (metadata may be nil). Data is compacted: hookd signs
// what it sends, so the stored body need not keep the publisher's spacing.
//
// The envelope is written by hand, data and metadata compacted straight
// into it: every publish pays for this, and encoding/json would scan the
// data again and reflect over the envelope. The bytes are the ones
// encoding/json writes (HTML left unescaped; TestBuildPayloadBytes).
func (e *Event) BuildPayload(data, metadata json.RawMessage) error {
	return e.buildPayload(data, metadata, false)
}

// BuildVerbatimPayload is BuildPayload keeping data's bytes as they are,
// but for the whitespace around it (a raw mode's body is the data alone,
// so it is sent so): a Svix client's raw payload is sent as it gave it.
func (e *Event) BuildVerbatimPayload(data, metadata json.RawMessage) error {
	return e.buildPayload(data, metadata, true)
}

func (e *Event) buildPayload(data, metadata json.RawMessage, verbatim bool) error {
	buf := bytes.NewBuffer(make([]byte, 0, len(data)+len(metadata)+160))
	buf.WriteString(`{"id":`)
	buf.Write(appendJSONString(buf.AvailableBuffer(), e.ID))
	buf.WriteString(`,"type":`)
	buf.Write(appendJSONString(buf.AvailableBuffer(), e.Type))
	ts, err := e.Timestamp.MarshalJSON()
	if err != nil {
		return err
	}
	buf.WriteString(`,"timestamp":`)
	buf.Write(ts)
	buf.WriteString(`,"data":`)
	if verbatim {
		if !json.Valid(data) {
			return errors.New("data is not valid JSON")
		}
		buf.Write(bytes.TrimSpace(data))
	} else if err := json.Compact(buf, data); err != nil {
		return err
	}
	if len(metadata) > 0 {
		mark := buf.Len()
		buf.WriteString(`,"metadata":`)
		if err := json.Compact(buf, metadata); err != nil {
			return err
		}
		// The receiver gets metadata only when the event has some (the
		// contract): an empty object is none.
		if bytes.HasSuffix(buf.Bytes(), []byte(`"metadata":{}`)) {
			buf.Truncate(mark)
		}
	}
	buf.WriteByte('}')
	e.Payload = buf.Bytes()
	return nil
}

// appendJSONString appends s as a JSON string, as encoding/json writes it
// with HTML left unescaped: ids and type names are plain ASCII and are
// copied; anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			var out bytes.Buffer
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s)
			return append(b, bytes.TrimSuffix(out.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Envelope decodes the stored payload.
func (e *Event) Envelope() (*Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(e.Payload, &env); err != nil {
		return nil, err
	}
	return &env, nil
}

// MarshalJSON renders the event as the API shows it.
func (e *Event) MarshalJSON() ([]byte, error) {
	env, err := e.Envelope()
	if err != nil {
		return nil, err
	}
	return json.Marshal(eventJSON(e, env))
}

type eventOut struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	Metadata  json.RawMessage `json:"metadata"`
	Channels  []string        `json:"channels"`
}

func eventJSON(e *Event, env *Envelope) eventOut {
	o := eventOut{ID: e.ID, Type: e.Type, Timestamp: e.Timestamp, Data: env.Data, Metadata: env.Metadata, Channels: e.Channels}
	if o.Metadata == nil {
		o.Metadata = json.RawMessage("{}")
	}
	if o.Channels == nil {
		o.Channels = []string{}
	}
	return o
}

// EventWithDeliveries is an event as GET …/events/{id} shows it.
type EventWithDeliveries struct {
	Event      *Event
	Deliveries []*Delivery
}

func (e *EventWithDeliveries) MarshalJSON() ([]byte, error) {
	env, err := e.Event.Envelope()
	if err != nil {
		return nil, err
	}
	d := e.Deliveries
	if d == nil {
		d = []*Delivery{}
	}
	return json.Marshal(struct {
		eventOut
		Deliveries []*Delivery `json:"deliveries"`
	}{eventJSON(e.Event, env), d})
}

// PublishResult is what publishing stored: the event (the first one, when
// the idempotency key was used before) and how many deliveries it has.
type PublishResult struct {
	Event      *Event
	Deliveries int
	Duplicate  bool
	// Leased are the deliveries stored leased to the caller, one per
	// handoff webhook that still existed and was enabled: what sending
	// each needs, but the webhook's UpdatedAt, which the store does not
	// read.
	Leased []*Claim
}

// DeliveryStatus is one of the contract's five states.
type DeliveryStatus string

const (
	StatusPending  DeliveryStatus = "PENDING"
	StatusRetrying DeliveryStatus = "RETRYING"
	StatusSuccess  DeliveryStatus = "SUCCESS"
	StatusFailed   DeliveryStatus = "FAILED"
	StatusCanceled DeliveryStatus = "CANCELED" // ended by hand before it was sent; final
)

// Valid reports whether s is one of the five states.
func (s DeliveryStatus) Valid() bool {
	switch s {
	case StatusPending, StatusRetrying, StatusSuccess, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// Delivery is one event to one webhook: a row of the queue.
type Delivery struct {
	ID             string
	TenantID       string
	EventID        string
	WebhookID      string
	EventType      string
	Status         DeliveryStatus
	Attempts       int
	NextAttemptAt  time.Time // zero once final
	LastStatusCode int       // 0: no HTTP answer yet
	LastError      string
	ResponseTime   time.Duration // of the last attempt
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// MarshalJSON renders the delivery as the API shows it.
func (d *Delivery) MarshalJSON() ([]byte, error) {
	return json.Marshal(deliveryJSON(d))
}

type deliveryOut struct {
	ID             string         `json:"id"`
	EventID        string         `json:"eventId"`
	WebhookID      string         `json:"webhookId"`
	EventType      string         `json:"eventType"`
	Status         DeliveryStatus `json:"status"`
	Attempts       int            `json:"attempts"`
	NextAttemptAt  *time.Time     `json:"nextAttemptAt"`
	LastStatusCode *int           `json:"lastStatusCode"`
	LastError      *string        `json:"lastError"`
	ResponseTimeMs *int64         `json:"responseTimeMs"`
	CreatedAt      time.Time      `json:"createdAt"`
	UpdatedAt      time.Time      `json:"updatedAt"`
}

func deliveryJSON(d *Delivery) deliveryOut {
	o := deliveryOut{
		ID: d.ID, EventID: d.EventID, WebhookID: d.WebhookID, EventType: d.EventType,
		Status: d.Status, Attempts: d.Attempts, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	if !d.NextAttemptAt.IsZero() && (d.Status == StatusPending || d.Status == StatusRetrying) {
		t := d.NextAttemptAt
		o.NextAttemptAt = &t
	}
	if d.LastStatusCode != 0 {
		c := d.LastStatusCode
		o.LastStatusCode = &c
	}
	if d.LastError != "" {
		e := d.LastError
		o.LastError = &e
	}
	if d.Attempts > 0 {
		ms := d.ResponseTime.Milliseconds()
		o.ResponseTimeMs = &ms
	}
	return o
}
