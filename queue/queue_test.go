package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/queue"
	"github.com/hookd/hookd/sqlite"
)

// refusing is a real store whose database refuses any outcome that carries
// a response body, as a database would a value it cannot hold.
type refusing struct{ *sqlite.Store }

func (r refusing) QueueTx(ctx context.Context, fn func(hookd.QueueTx) error) error {
	return r.Store.QueueTx(ctx, func(tx hookd.QueueTx) error { return fn(refusingTx{tx}) })
}

type refusingTx struct{ hookd.QueueTx }

func (t refusingTx) RecordOutcomes(ctx context.Context, p *hookd.RecordOutcomesParams) ([]string, []string, error) {
	for _, o := range p.Outcomes {
		if o.Attempt.ResponseBody != nil {
			return nil, nil, fmt.Errorf("%w: invalid byte sequence", hookd.ErrRefused)
		}
	}
	return t.QueueTx.RecordOutcomes(ctx, p)
}

// An outcome the database refuses is kept without the receiver's answer,
// so that its attempt counts: a poisoned answer cannot make a delivery be
// sent forever, past maxAttempts.
func TestRefusedOutcomeKeptWithoutAnswer(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "hookd.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}))
	must(s.CreateWebhook(ctx, &hookd.Webhook{ID: "wh_1", TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
		Timeout: time.Second, Enabled: true, MaxAttempts: 3, CreatedAt: now, UpdatedAt: now}))
	ev := &hookd.Event{ID: "e1", TenantID: "t", Type: "a.b", Timestamp: now}
	must(ev.BuildPayload(json.RawMessage(`{}`), nil))
	_, err = s.PublishEvent(ctx, ev, []string{"wh_1"}, nil)
	must(err)
	res, err := queue.Claim(ctx, s, queue.ClaimParams{Limit: 1, Lease: time.Minute, Room: func(string, string) (int, time.Duration) { return 1, 0 }})
	must(err)
	c := res.Claims[0]
	o := &hookd.Outcome{Lease: c.Lease, WebhookID: c.WebhookID, Status: hookd.StatusRetrying, RetryIn: time.Hour,
		Attempt: &hookd.Attempt{Number: 1, StartedAt: now, StatusCode: 500, Error: "HTTP 500", ResponseBody: []byte("poison"),
			ResponseHeaders: map[string]string{"X": "y"}}}
	rec, err := queue.Record(ctx, refusing{s}, []*hookd.Outcome{o}, nil)
	if err == nil || len(rec.Written) != 1 {
		t.Fatalf("record = %+v, %v; want it written without the answer, and the refusal reported", rec, err)
	}
	d, err := s.GetDelivery(ctx, "t", c.DeliveryID)
	must(err)
	if d.Delivery.Attempts != 1 || d.Delivery.Status != hookd.StatusRetrying || len(d.Attempts) != 1 ||
		!strings.Contains(d.Attempts[0].Error, "HTTP 500") || len(d.Attempts[0].ResponseBody) != 0 {
		t.Fatalf("after a refused outcome: %+v, attempts %+v", d.Delivery, d.Attempts)
	}
}
