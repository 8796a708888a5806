package service

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/traceparent"
)

// Publication is an event to publish, as decoded by a transport: Data and
// Metadata are JSON objects (the transport checks the shape), Metadata
// may be nil, ID may be empty (hookd makes one).
type Publication struct {
	Type     string
	Data     json.RawMessage
	Metadata json.RawMessage
	ID       string
	IDSet    bool // ID was given, even if empty
	Channels []string
	// Tags label the event for lists (Svix's message tags): 1–128
	// characters each, at most MaxTags, kept once each in their order.
	Tags []string
	// Verbatim keeps Data's bytes in the payload (Svix's raw payloads);
	// else it is compacted.
	Verbatim bool
	// The Svix-compatible API's rules, where its messages differ from
	// /v1's events: an ID of up to IDMaxLen characters (0: the contract's
	// 64; Svix's eventId takes 256), and a type that is archived accepted
	// (Svix sends messages of a deleted event type).
	IDMaxLen        int
	ArchivedTypesOK bool
}

// idMaxLen is the length of the longest ID p's API takes.
func (p *Publication) idMaxLen() int { return cmp.Or(p.IDMaxLen, hookd.MaxExternalID) }

// validID reports whether p's ID, when it has one, is one its API takes.
func (p *Publication) validID() bool {
	return hookd.ValidExternalIDUpTo(p.ID, p.idMaxLen())
}

// MaxTags caps an event's tags.
const MaxTags = 50

// uniq is l with each entry once, in the order of its first (nil for none).
func uniq(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, s := range l {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// usedID is what a publish refused with err answers: the tenant's event
// with the publish's id, when there is one, for a publish sent again after
// its answer was lost is a duplicate whatever the catalog has become since
// (its type archived, its schema changed); else err. Only refused
// publishes pay for the read.
func (s *Service) usedID(ctx context.Context, tenantID string, p Publication, err error) (*hookd.PublishResult, error) {
	if p.ID == "" || !p.validID() {
		return nil, err
	}
	ev, gerr := s.store.GetEvent(ctx, tenantID, p.ID)
	if gerr != nil {
		return nil, err
	}
	n := ev.DeliveriesCreated
	if n < 0 { // an event from before the count was kept
		if n, gerr = s.store.CountTenantDeliveries(ctx, hookd.TenantDeliveryQuery{TenantID: tenantID, EventID: ev.ID}); gerr != nil {
			return nil, gerr
		}
	}
	return &hookd.PublishResult{Event: ev, Deliveries: n, Duplicate: true}, nil
}

// Publish validates an event, matches it to the tenant's enabled webhooks,
// and stores it with one delivery per match, durable on return; then the
// engine is woken. problems are the transport's decoding problems,
// reported with the rules' own. An event whose ID the tenant already used
// is not stored again: the result is the first one, with Duplicate set.
func (s *Service) Publish(ctx context.Context, tenantID string, p Publication, problems *hookd.ValidationError) (res *hookd.PublishResult, err error) {
	// The publish span: a child of the caller's traceparent, and the
	// parent of every attempt of the event, kept with it.
	// Its attributes are set once, at its end, and only when it records:
	// every publish pays for them at full load.
	ctx, span := s.tracer.Start(ctx, "publish "+p.Type, trace.WithSpanKind(trace.SpanKindProducer))
	defer func() {
		if span.IsRecording() {
			attrs := make([]attribute.KeyValue, 0, 4)
			attrs = append(attrs, attribute.String("hookd.tenant.id", tenantID), attribute.String("hookd.event.type", p.Type))
			if err != nil {
				span.SetStatus(codes.Error, err.Error())
			} else {
				attrs = append(attrs, attribute.String("hookd.event.id", res.Event.ID), attribute.Int("hookd.deliveries", res.Deliveries))
			}
			span.SetAttributes(attrs...)
		}
		span.End()
	}()
	if hookd.DataTooLarge(p.Data, p.Verbatim) {
		// A publish sent again is answered with its first event, whatever
		// would refuse it now.
		return s.usedID(ctx, tenantID, p, hookd.Errorf(hookd.ErrTooLarge, "event data is larger than %d bytes", hookd.MaxEventData))
	}
	v := &hookd.ValidationError{}
	if problems != nil {
		v.Details = append(v.Details, problems.Details...)
	}
	var et *hookd.EventType
	if p.Type == "" && !v.Has("type") {
		v.Add("type", "is required")
	}
	if p.Data == nil && !v.Has("data") {
		v.Add("data", "is required")
	}
	if p.Type != "" {
		var err error
		et, err = s.EventType(ctx, p.Type)
		switch {
		case isNotFound(err):
			v.Add("type", "unknown event type %q", p.Type)
		case err != nil:
			return nil, err
		case et.Archived && !p.ArchivedTypesOK:
			v.Add("type", "event type %q is archived", p.Type)
			et = nil
		case hookd.SystemEventType(et.Name):
			v.Add("type", "%q is one of hookd's own event types: hookd publishes it, no one else", p.Type)
			et = nil
		}
	}
	if p.Data != nil && !utf8.Valid(p.Data) {
		v.Add("data", "must be valid UTF-8")
	}
	switch {
	case len(p.Metadata) > hookd.MaxEventMeta:
		v.Add("metadata", "must be at most %d bytes", hookd.MaxEventMeta)
	case !utf8.Valid(p.Metadata):
		v.Add("metadata", "must be valid UTF-8")
	}
	if p.IDSet && p.ID == "" {
		v.Add("id", "must not be empty: leave it out to have hookd make one")
	} else if p.ID != "" && !p.validID() {
		v.Add("id", "%s", hookd.ExternalIDRuleUpTo(p.idMaxLen()))
	}
	for i, c := range p.Channels {
		hookd.ValidateChannel(v, fmt.Sprintf("channels[%d]", i), c)
	}
	if len(p.Tags) > MaxTags {
		v.Add("tags", "must be at most %d", MaxTags)
	}
	for i, t := range p.Tags {
		hookd.ValidateChannel(v, fmt.Sprintf("tags[%d]", i), t)
	}
	if len(v.Details) == 0 && et != nil && len(et.Schema) > 0 {
		schema, err := hookd.CompileSchema(et.Schema)
		if err != nil {
			// Stored before hookd refused such a schema (one that refers
			// to itself): no data can pass it, which the publisher is told.
			return nil, hookd.Invalid("type", "the event type's schema %v; an admin can replace it (PATCH /v1/event-types/%s)", err, et.Name)
		}
		if err := schema.Validate(p.Data); err != nil {
			return s.usedID(ctx, tenantID, p, err)
		}
	}
	if err := v.Err(); err != nil {
		return s.usedID(ctx, tenantID, p, err)
	}

	now := s.clock.Now()
	id := p.ID
	if id == "" {
		id = hookd.NewID(hookd.PrefixEvent, now)
	}
	ev := &hookd.Event{ID: id, TenantID: tenantID, Type: et.Name, Channels: p.Channels, Tags: uniq(p.Tags), Timestamp: now, TraceParent: traceparent.Format(ctx)}
	build := ev.BuildPayload
	if p.Verbatim {
		build = ev.BuildVerbatimPayload
	}
	if err := build(p.Data, p.Metadata); err != nil {
		return nil, hookd.Invalid("data", "is not valid JSON")
	}
	matched, err := s.Match(ctx, ev, p.Data, p.Metadata)
	if err != nil {
		return nil, err
	}
	targets := make([]string, len(matched))
	for i, wh := range matched {
		targets[i] = wh.ID
	}
	// This process's engine takes the deliveries it has room for straight
	// from the publish, leased to it: they are sent without a claim.
	var h *hookd.Handoff
	if s.cfg.Taker != nil && len(matched) > 0 {
		h = s.cfg.Taker.Reserve(matched)
	}
	res, err = s.store.PublishEvent(ctx, ev, targets, h)
	if h != nil {
		var leased []*hookd.Claim
		if err == nil && !res.Duplicate {
			leased = res.Leased
		}
		s.cfg.Taker.Take(h, leased)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", hookd.ErrUnavailable, err)
	}
	if !res.Duplicate {
		s.cfg.Observer.Published(res.Deliveries)
		if res.Deliveries > len(res.Leased) {
			s.notify()
		}
	}
	return res, nil
}

// EventType reads a catalog type through the cache publishing uses (a
// change made through this service is seen at once).
func (s *Service) EventType(ctx context.Context, name string) (*hookd.EventType, error) {
	return s.eventTypes.get(ctx, name, func(ctx context.Context) (*hookd.EventType, error) { return s.store.GetEventType(ctx, name) })
}

// Match returns the tenant's enabled webhooks that ev goes to:
// publishing calls it, and so will anything that delivers stored events
// again. The filter input is decoded once per event, and only if some
// webhook has a filter.
func (s *Service) Match(ctx context.Context, ev *hookd.Event, data, metadata json.RawMessage) ([]*hookd.Webhook, error) {
	hooks, err := s.hooks.get(ctx, ev.TenantID, func(ctx context.Context) ([]*hookd.Webhook, error) {
		return s.store.EnabledWebhooks(ctx, ev.TenantID)
	})
	if err != nil {
		return nil, err
	}
	input := sync.OnceValue(func() *hookd.FilterInput { return hookd.NewFilterInput(ev, data, metadata) })
	var out []*hookd.Webhook
	for _, wh := range hooks {
		ok, err := wh.Match(ev, input)
		if err != nil {
			s.filterFailed(ctx, wh, ev, err)
		}
		if ok {
			out = append(out, wh)
		}
	}
	return out, nil
}

// filterFailed logs, at most once a minute a webhook, that its filter
// failed on an event, which then does not go to it: else a filter that
// reads a field some events lack drops them without a trace.
func (s *Service) filterFailed(ctx context.Context, wh *hookd.Webhook, ev *hookd.Event, err error) {
	now := s.clock.Now()
	s.filterMu.Lock()
	last, seen := s.filterLogged[wh.ID]
	if seen && now.Sub(last) < time.Minute {
		s.filterMu.Unlock()
		return
	}
	if len(s.filterLogged) >= 10000 {
		clear(s.filterLogged) // bounded: at worst a line more
	}
	s.filterLogged[wh.ID] = now
	s.filterMu.Unlock()
	s.log.WarnContext(ctx, "a webhook's filter failed on an event, which does not go to it (logged once a minute a webhook)",
		"tenant", wh.TenantID, "webhook", wh.ID, "event", ev.ID, "type", ev.Type, "err", hookd.CleanText(err.Error(), 500))
}
