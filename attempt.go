package hookd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Attempt is one HTTP request made for a delivery, as the attempt log keeps it.
type Attempt struct {
	Number     int
	StartedAt  time.Time
	Duration   time.Duration
	StatusCode int // 0: no HTTP answer
	Error      string
	Success    bool
	// Manual: made by hand (a retry, a recovery, a test send), not by
	// the retry schedule.
	Manual          bool
	RequestHeaders  map[string]string // without signatures or secrets
	ResponseHeaders map[string]string
	ResponseBody    []byte // at most MaxResponseBody
}

func (a *Attempt) MarshalJSON() ([]byte, error) {
	type out struct {
		Number          int               `json:"number"`
		StartedAt       time.Time         `json:"startedAt"`
		DurationMs      int64             `json:"durationMs"`
		StatusCode      *int              `json:"statusCode"`
		Error           *string           `json:"error"`
		Trigger         string            `json:"trigger"`
		RequestHeaders  map[string]string `json:"requestHeaders"`
		ResponseHeaders map[string]string `json:"responseHeaders"`
		ResponseBody    *string           `json:"responseBody"`
	}
	o := out{Number: a.Number, StartedAt: a.StartedAt, DurationMs: a.Duration.Milliseconds(), Trigger: "schedule",
		RequestHeaders: a.RequestHeaders, ResponseHeaders: a.ResponseHeaders}
	if a.Manual {
		o.Trigger = "manual"
	}
	if a.StatusCode != 0 {
		c := a.StatusCode
		o.StatusCode = &c
	}
	if a.Error != "" {
		e := a.Error
		o.Error = &e
	}
	if a.StatusCode != 0 || len(a.ResponseBody) > 0 {
		b := string(a.ResponseBody)
		o.ResponseBody = &b
	}
	if o.RequestHeaders == nil {
		o.RequestHeaders = map[string]string{}
	}
	if o.ResponseHeaders == nil {
		o.ResponseHeaders = map[string]string{}
	}
	return json.Marshal(o)
}

// DeliveryDetail is a delivery with the body sent and its attempt log.
type DeliveryDetail struct {
	Delivery *Delivery
	Payload  []byte
	Attempts []*Attempt
}

func (d *DeliveryDetail) MarshalJSON() ([]byte, error) {
	a := d.Attempts
	if a == nil {
		a = []*Attempt{}
	}
	return json.Marshal(struct {
		deliveryOut
		Payload    json.RawMessage `json:"payload"`
		AttemptLog []*Attempt      `json:"attemptLog"`
	}{deliveryJSON(d.Delivery), d.Payload, a})
}

// DeliveryQuery selects a webhook's deliveries, newest first.
type DeliveryQuery struct {
	TenantID  string
	WebhookID string
	Status    DeliveryStatus // "" for all
	Limit     int
	Offset    int
	Before    string // delivery ID cursor; "" means from the newest
}

// TenantDeliveryQuery selects a tenant's deliveries across its webhooks,
// newest first (by creation time, then id).
type TenantDeliveryQuery struct {
	TenantID  string
	Status    DeliveryStatus // "" for all
	WebhookID string
	EventType string
	EventID   string
	Since     time.Time // created at or after; zero for no bound
	Until     time.Time // created at or before; zero for no bound
	// Before is the cursor: deliveries older than this (creation time,
	// then id); zero CreatedAt for the newest.
	BeforeAt time.Time
	BeforeID string
	Limit    int
}

// DeliveryCursor is the cursor of a list of deliveries that goes on after
// d (newest first): its creation time and id, opaque to the caller.
func DeliveryCursor(d *Delivery) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(d.CreatedAt.UnixMicro(), 10) + ":" + d.ID))
}

// SetCursor makes q go on after the delivery whose DeliveryCursor c is;
// false when c is not one.
func (q *TenantDeliveryQuery) SetCursor(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	at, id, ok := strings.Cut(string(b), ":")
	micros, perr := strconv.ParseInt(at, 10, 64)
	if err != nil || !ok || perr != nil || micros <= 0 || id == "" {
		return false
	}
	q.BeforeAt, q.BeforeID = time.UnixMicro(micros).UTC(), id
	return true
}

// StatsQuery selects what statistics count.
type StatsQuery struct {
	TenantID  string
	WebhookID string // "" for the whole tenant
	Since     time.Time
	Until     time.Time
}

// Stats follows the contract: the first three count attempts, ByStatus
// counts deliveries.
type Stats struct {
	TotalDeliveries       int                    `json:"totalDeliveries"`
	SuccessfulDeliveries  int                    `json:"successfulDeliveries"`
	FailedDeliveries      int                    `json:"failedDeliveries"`
	SuccessRate           float64                `json:"successRate"`
	AverageResponseTimeMs float64                `json:"averageResponseTimeMs"`
	ByStatus              map[DeliveryStatus]int `json:"byStatus"`
}

// TestResult is the answer of a synchronous test send.
type TestResult struct {
	Success        bool    `json:"success"`
	StatusCode     *int    `json:"statusCode"`
	ResponseTimeMs int64   `json:"responseTimeMs"`
	ResponseBody   *string `json:"responseBody"`
	Error          *string `json:"error"`
	DeliveryID     string  `json:"deliveryId"`
	EventID        string  `json:"eventId"`
}

// Tester sends one request to a webhook now and keeps it as a delivery.
// The delivery engine implements it; the API and the console use it.
type Tester interface {
	Test(ctx context.Context, wh *Webhook, eventType string, data json.RawMessage) (*TestResult, error)
}

// TestResult is a test send's answer from its attempt: the body and error
// as the attempt log keeps them (cleaned, within MaxResponseBody bytes as
// sent), not longer for the invalid bytes JSON would spell out.
func (a *Attempt) TestResult(deliveryID, eventID string) *TestResult {
	res := &TestResult{Success: a.Success, ResponseTimeMs: a.Duration.Milliseconds(), DeliveryID: deliveryID, EventID: eventID}
	if a.StatusCode != 0 {
		code, body := a.StatusCode, CleanText(string(a.ResponseBody), MaxResponseBody)
		res.StatusCode, res.ResponseBody = &code, &body
	}
	if a.Error != "" {
		msg := CleanText(a.Error, MaxErrorText)
		res.Error = &msg
	}
	return res
}
