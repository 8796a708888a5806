package hookd

import (
	"context"
	"time"
)

// Observer is told what hookd does, for its metrics: the service calls it
// when events are published, the delivery engine after each attempt and
// each recorded outcome. metrics/ implements it; NopObserver ignores all.
type Observer interface {
	// Published counts a stored event and the deliveries it made.
	Published(deliveries int)
	// Created counts deliveries made other than by a publish: by a
	// replay, or for hookd's own operational events.
	Created(deliveries int)
	// Attempted counts one attempt, with its duration and outcome.
	Attempted(a *Attempt)
	// Finished counts deliveries that reached a final status.
	Finished(status DeliveryStatus, n int)
	// Delivered is a delivery's first success, sincePublish after its event.
	Delivered(sincePublish time.Duration)
	// Disabled counts a webhook hookd disabled, by reason.
	Disabled(reason string)
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) Published(int)                {}
func (NopObserver) Created(int)                  {}
func (NopObserver) Attempted(*Attempt)           {}
func (NopObserver) Finished(DeliveryStatus, int) {}
func (NopObserver) Delivered(time.Duration)      {}
func (NopObserver) Disabled(string)              {}

// QueueDepth is how much delivery work waits.
type QueueDepth struct {
	Due       int64     // deliveries due now, not being sent
	OldestDue time.Time // the earliest due time among them; zero when none
}

// QueueDepther reads the queue's depth cheaply (through the due index,
// per due webhook), for metrics sampled now and then.
type QueueDepther interface {
	QueueDepth(ctx context.Context) (QueueDepth, error)
}
