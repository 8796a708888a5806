package service

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/hookd/hookd"
)

func deliveryNotFound(err error, id string) error {
	return notFound(err, "delivery %s not found", id)
}

// Delivery reads a delivery with its attempt log and its webhook. Its
// Payload is the body its requests carry: the event's envelope, or its
// data alone for a webhook in raw body mode (the contract's "the body
// sent").
func (s *Service) Delivery(ctx context.Context, tenantID, id string) (*hookd.DeliveryDetail, *hookd.Webhook, error) {
	d, err := s.store.GetDelivery(ctx, tenantID, id)
	if err != nil {
		return nil, nil, deliveryNotFound(err, id)
	}
	wh, err := s.Webhook(ctx, tenantID, d.Delivery.WebhookID)
	if err != nil {
		return nil, nil, err
	}
	d.Payload = wh.Body(d.Payload)
	return d, wh, nil
}

// enabled returns the webhook if it may have deliveries retried: a
// disabled one may not (enable it first).
func (s *Service) enabled(ctx context.Context, tenantID, webhookID string) (*hookd.Webhook, error) {
	wh, err := s.Webhook(ctx, tenantID, webhookID)
	if err != nil {
		return nil, err
	}
	if !wh.Enabled {
		return nil, hookd.Errorf(hookd.ErrConflict, "webhook %s is disabled: enable it before retrying its deliveries", wh.ID)
	}
	return wh, nil
}

// RetryDelivery queues one more attempt of a delivery right away,
// whatever its status. A delivery being sent now is a conflict.
func (s *Service) RetryDelivery(ctx context.Context, tenantID, id string) error {
	d, err := s.store.GetDelivery(ctx, tenantID, id)
	if err != nil {
		return deliveryNotFound(err, id)
	}
	if _, err := s.enabled(ctx, tenantID, d.Delivery.WebhookID); err != nil {
		return err
	}
	ctx, e := s.audited(ctx, tenantID)
	e.Action, e.Target = hookd.AuditDeliveriesRetried, hookd.AuditTarget{Type: "delivery", ID: id}
	if err := s.store.RetryDelivery(ctx, tenantID, id); err != nil {
		if errors.Is(err, hookd.ErrConflict) {
			return hookd.Errorf(hookd.ErrConflict, "delivery %s is being sent now: retry it once this attempt is recorded", id)
		}
		return deliveryNotFound(err, id)
	}
	s.notify()
	return nil
}

// RetryFailed queues one more attempt of each of a webhook's FAILED
// deliveries created within w and returns how many.
func (s *Service) RetryFailed(ctx context.Context, tenantID, webhookID string, w hookd.Window) (int, error) {
	if !w.Since.IsZero() && !w.Until.IsZero() && w.Until.Before(w.Since) {
		return 0, hookd.Invalid("until", "is before since")
	}
	wh, err := s.enabled(ctx, tenantID, webhookID)
	if err != nil {
		return 0, err
	}
	ctx, e := s.audited(ctx, tenantID)
	e.Action, e.Target, e.Changes = hookd.AuditDeliveriesRetried, hookd.AuditTarget{Type: "webhook", ID: wh.ID}, windowChanges(w)
	n, err := s.store.RetryFailed(ctx, tenantID, wh.ID, w)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.notify()
	}
	return n, nil
}

// Test sends a test event of eventType (default webhook.test) with data
// (default the type's first example, or a generic body) to a webhook now,
// enabled or not, and returns the receiver's answer.
func (s *Service) Test(ctx context.Context, tenantID, webhookID, eventType string, data json.RawMessage) (*hookd.TestResult, error) {
	// A test may name a type the catalog lacks (webhook.test), by the
	// native rule; a catalog type made by Svix's rule is named as it is.
	// hookd's own types are hookd's to publish, a test's events too (they
	// are listed with the tenant's events, under the type).
	if hookd.SystemEventType(eventType) {
		return nil, hookd.Invalid("type", "%q is one of hookd's own event types: hookd publishes it, no one else", eventType)
	}
	if eventType != "" && !hookd.NativeNames.Valid(eventType) {
		if _, err := s.EventType(ctx, eventType); err != nil {
			return nil, hookd.Invalid("type", "must be an event type of the catalog, or match ^[a-z0-9_]+(\\.[a-z0-9_]+)*$")
		}
	}
	if hookd.DataTooLarge(data, false) {
		return nil, hookd.Errorf(hookd.ErrTooLarge, "event data is larger than %d bytes", hookd.MaxEventData)
	}
	wh, err := s.Webhook(ctx, tenantID, webhookID)
	if err != nil {
		return nil, err
	}
	if s.cfg.Tester == nil {
		return nil, hookd.Errorf(hookd.ErrUnavailable, "this process does not deliver (--role api): send tests through a process that does")
	}
	if len(data) == 0 && eventType != "" {
		// The type's first example, so that the test is a body its
		// receiver can read (and its schema accepts).
		if et, err := s.EventType(ctx, eventType); err == nil && len(et.Examples) > 0 {
			data = et.Examples[0]
		}
	}
	res, err := s.cfg.Tester.Test(ctx, wh, eventType, data)
	return res, webhookNotFound(err, wh.ID)
}

// ExpungeAttemptContent deletes what the receiver answered to one attempt
// of a delivery (its response body and headers), for an answer that
// carried what should not be kept; the attempt itself stays in the log.
func (s *Service) ExpungeAttemptContent(ctx context.Context, tenantID, deliveryID string, number int) error {
	err := s.store.ExpungeAttemptContent(ctx, tenantID, deliveryID, number)
	if errors.Is(err, hookd.ErrNotFound) {
		return hookd.Errorf(hookd.ErrNotFound, "attempt %d of delivery %s not found", number, deliveryID)
	}
	return err
}

// windowChanges is a bulk action's window as its audit entry's changes:
// each end given, from nothing to it (none: every delivery).
func windowChanges(w hookd.Window) map[string]hookd.Change {
	c := map[string]hookd.Change{}
	if !w.Since.IsZero() {
		c["since"] = hookd.Change{To: w.Since}
	}
	if !w.Until.IsZero() {
		c["until"] = hookd.Change{To: w.Until}
	}
	return c
}

// CancelDeliveries ends a webhook's waiting deliveries CANCELED (those
// created before before, when it is not zero) and returns how many. One
// being sent now is among them: its attempt finishes first, and leaves it
// CANCELED unless it succeeds; it is counted as finished when its outcome
// is recorded, the others now.
func (s *Service) CancelDeliveries(ctx context.Context, tenantID, webhookID string, before time.Time) (int, error) {
	wh, err := s.Webhook(ctx, tenantID, webhookID)
	if err != nil {
		return 0, err
	}
	ctx, e := s.audited(ctx, tenantID)
	e.Action, e.Target = hookd.AuditDeliveriesCanceled, hookd.AuditTarget{Type: "webhook", ID: wh.ID}
	if !before.IsZero() {
		e.Changes = map[string]hookd.Change{"before": {From: nil, To: before}}
	}
	n, sending, err := s.store.CancelDeliveries(ctx, tenantID, wh.ID, before)
	if err != nil {
		return 0, err
	}
	s.changed(ctx, wh.ID)
	if n > sending {
		s.cfg.Observer.Finished(hookd.StatusCanceled, n-sending)
	}
	return n, nil
}
