// Package delivery is hookd's delivery engine: it claims due deliveries
// from the store in batches, signs and sends them, and records each attempt
// and what comes next (success, a retry on the schedule, or failure).
//
// Isolation: the engine has a global budget of claimed deliveries (Workers)
// and each endpoint a room: how many of its deliveries it may hold, queued
// or in flight. The room is small while the endpoint gets no answer
// (FailingEndpoint), PerEndpoint until it has shown it answers fast, and
// FastQueue times that after; at most PerEndpoint are sent at once. A claim
// takes no more of an endpoint's deliveries than it has room for and defers
// the rest, so an endpoint that hangs holds a few sends, not the engine, and
// one that answers fast is not throttled.
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/netguard"
)

// Config configures the engine. Zero values take the documented defaults.
type Config struct {
	Store  hookd.Store
	Logger *slog.Logger
	Clock  hookd.Clock
	// Guard is checked on every address dialled; nil blocks private ranges.
	Guard *netguard.Policy
	// RetrySchedule is the wait before attempt 2, 3, …; default
	// hookd.DefaultRetrySchedule.
	RetrySchedule []time.Duration
	// Workers caps the deliveries this process holds (queued or in
	// flight). Default 2048.
	Workers int
	// PerEndpoint caps concurrent sends to one webhook, and its room until
	// it has answered fast. Default 32.
	PerEndpoint int
	// FastQueue multiplies PerEndpoint for the room of a webhook whose
	// answers come within FastAnswer on average. Default 8.
	FastQueue int
	// FastAnswer is what counts as answering fast. Default 250ms.
	FastAnswer time.Duration
	// FailingEndpoint is the room while the webhook's last attempt got no
	// answer (timeout, refused connection). Default 2.
	FailingEndpoint int
	// ClaimBatch caps deliveries per claim. A claim waits for a commit, so
	// this is how many deliveries one commit cycle can start. Default 1024.
	ClaimBatch int
	// Lease is how long a claimed delivery stays this process's; one that
	// is not recorded by then (the process died) is sent again. It must
	// exceed the longest timeout. Default 2m.
	Lease time.Duration
	// DeferBy is how far the due deliveries of a webhook without room are
	// pushed back. Default 250ms.
	DeferBy time.Duration
	// DeferFailing is the same for a webhook whose last attempt got no
	// answer: its backlog is not re-read on every claim. Default 5s.
	DeferFailing time.Duration
	// PollInterval is the longest the engine sleeps without a wake-up.
	// Default 1s.
	PollInterval time.Duration
	// ShutdownTimeout bounds how long Stop lets sends in flight finish;
	// the rest are released to be sent again. Default 10s.
	ShutdownTimeout time.Duration
	// RecordBatch caps attempt results per write. Default 2048.
	RecordBatch int
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Guard == nil {
		c.Guard = netguard.New(nil)
	}
	if len(c.RetrySchedule) == 0 {
		c.RetrySchedule = hookd.DefaultRetrySchedule
	}
	setDefault(&c.Workers, 2048)
	setDefault(&c.PerEndpoint, 32)
	setDefault(&c.FastQueue, 8)
	setDefault(&c.FastAnswer, 250*time.Millisecond)
	setDefault(&c.FailingEndpoint, 2)
	setDefault(&c.ClaimBatch, 1024)
	setDefault(&c.RecordBatch, 2048)
	setDefault(&c.Lease, 2*time.Minute)
	setDefault(&c.DeferBy, 250*time.Millisecond)
	setDefault(&c.DeferFailing, 5*time.Second)
	setDefault(&c.PollInterval, time.Second)
	setDefault(&c.ShutdownTimeout, 10*time.Second)
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Engine delivers. Start it once; Stop it once.
type Engine struct {
	cfg    Config
	store  hookd.Store
	log    *slog.Logger
	clock  hookd.Clock
	sender *sender

	wake    chan struct{}
	results chan *hookd.AttemptResult

	mu       sync.Mutex
	inflight int
	// starvedFor counts down finishing sends while due work waits for room
	// or workers; the one that reaches zero wakes the loop. Waiting for a
	// few, not one, keeps claims batched.
	starvedFor int
	endpoints  map[string]*endpoint
	hooks      map[string]*hookd.Webhook

	stopLoop  context.CancelFunc
	stopSends context.CancelFunc
	loopDone  chan struct{}
	recDone   chan struct{}
	sends     sync.WaitGroup
	stopOnce  sync.Once
}

type endpoint struct {
	held    int           // claimed and not finished
	failing bool          // the last attempt got no HTTP answer
	latency time.Duration // moving average of answered attempts; 0 until one
	sends   chan struct{} // PerEndpoint send slots
}

var _ hookd.Tester = (*Engine)(nil)

// New returns an engine; it does nothing until Start.
func New(cfg Config) *Engine {
	cfg.defaults()
	return &Engine{
		cfg: cfg, store: cfg.Store, log: cfg.Logger, clock: cfg.Clock,
		sender:    newSender(cfg.Guard, "hookd/"+hookd.Version),
		wake:      make(chan struct{}, 1),
		results:   make(chan *hookd.AttemptResult, cfg.RecordBatch*4),
		endpoints: map[string]*endpoint{},
		hooks:     map[string]*hookd.Webhook{},
	}
}

// Notify tells the engine that deliveries may be due now (an event was
// published, a retry requested). It never blocks.
func (e *Engine) Notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Start runs the claim loop and the recorder until Stop.
func (e *Engine) Start(ctx context.Context) error {
	loopCtx, stopLoop := context.WithCancel(context.WithoutCancel(ctx))
	sendCtx, stopSends := context.WithCancel(context.WithoutCancel(ctx))
	e.stopLoop, e.stopSends = stopLoop, stopSends
	e.loopDone, e.recDone = make(chan struct{}), make(chan struct{})
	go e.record()
	go e.loop(loopCtx, sendCtx)
	if w, ok := e.store.(hookd.Waker); ok {
		go func() {
			for range w.Wakeups(loopCtx) {
				e.Notify()
			}
		}()
	}
	return nil
}

// Stop stops claiming, lets sends in flight finish for up to
// ShutdownTimeout, releases the ones still running, and records every
// outcome before it returns. Calling it again does nothing.
func (e *Engine) Stop() { e.stopOnce.Do(e.stop) }

func (e *Engine) stop() {
	e.stopLoop()
	<-e.loopDone
	done := make(chan struct{})
	go func() { e.sends.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(e.cfg.ShutdownTimeout):
		e.log.Warn("stopping: cancelling sends still in flight; they will be sent again", "after", e.cfg.ShutdownTimeout)
		e.stopSends()
		<-done
	}
	e.stopSends()
	close(e.results)
	<-e.recDone
}

func (e *Engine) loop(ctx, sendCtx context.Context) {
	defer close(e.loopDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wait := e.cfg.PollInterval
		e.mu.Lock()
		free := e.cfg.Workers - e.inflight
		e.mu.Unlock()
		if free > 0 {
			limit := min(free, e.cfg.ClaimBatch)
			now := e.clock.Now()
			res, err := e.store.ClaimDeliveries(ctx, hookd.ClaimParams{
				Now: now, Lease: e.cfg.Lease, Limit: limit, Room: e.room,
			})
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				e.log.Error("claim deliveries", "err", err)
			default:
				for _, c := range res.Claims {
					e.dispatch(sendCtx, c)
				}
				if len(res.Claims) == limit {
					continue // more may be due right now
				}
				if !res.NextDue.IsZero() && res.NextDue.After(now) {
					wait = min(wait, res.NextDue.Sub(now))
				} else if !res.NextDue.IsZero() {
					// Work is due that the claim left for lack of room:
					// finishing sends make room and wake the loop.
					e.starve()
					wait = min(wait, starvedPoll)
				}
			}
		} else {
			e.starve()
			wait = min(wait, starvedPoll)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-e.wake: // Reset above re-arms the timer; no drain needed (Go ≥1.23 timers)
		case <-timer.C:
		}
	}
}

// starvedPoll bounds the wait of a loop that left due work unclaimed.
const starvedPoll = 20 * time.Millisecond

// starve makes the loop wait for an eighth of the sends in flight (at most
// 16) to finish before it claims again: enough to batch claims, few enough
// that a busy endpoint is not left idle (measured both ways on both stores).
func (e *Engine) starve() {
	e.mu.Lock()
	e.starvedFor = max(1, min(16, e.inflight/8))
	e.mu.Unlock()
}

// room is ClaimParams.Room: how many more of a webhook's deliveries this
// process can take now, and how far to push back the rest.
func (e *Engine) room(webhookID string) (int, time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.endpoints[webhookID]
	if ep == nil {
		return e.cfg.PerEndpoint, e.cfg.DeferBy
	}
	switch {
	case ep.failing:
		return e.cfg.FailingEndpoint - ep.held, e.cfg.DeferFailing
	case ep.latency > 0 && ep.latency < e.cfg.FastAnswer:
		return e.cfg.PerEndpoint*e.cfg.FastQueue - ep.held, 0
	}
	return e.cfg.PerEndpoint - ep.held, e.cfg.DeferBy
}

func (e *Engine) dispatch(ctx context.Context, c *hookd.Claim) {
	e.mu.Lock()
	ep := e.endpoints[c.WebhookID]
	if ep == nil {
		ep = &endpoint{sends: make(chan struct{}, e.cfg.PerEndpoint)}
		e.endpoints[c.WebhookID] = ep
	}
	ep.held++
	e.inflight++
	e.mu.Unlock()
	e.sends.Add(1)
	go func() {
		defer e.sends.Done()
		r := e.deliver(ctx, c, ep)
		e.mu.Lock()
		ep.held--
		e.inflight--
		if r != nil && r.Attempt != nil {
			a := r.Attempt
			ep.failing = !a.Success && a.StatusCode == 0
			if a.StatusCode != 0 {
				if ep.latency == 0 {
					ep.latency = a.Duration
				} else {
					ep.latency = (7*ep.latency + a.Duration) / 8
				}
			}
		}
		wakeUp := false
		if e.starvedFor > 0 {
			e.starvedFor--
			wakeUp = e.starvedFor == 0
		}
		e.mu.Unlock()
		if r != nil {
			e.results <- r
		}
		if wakeUp {
			e.Notify()
		}
	}()
}

// webhook returns the webhook of a claim from the cache, reading it again
// when it changed since it was cached.
func (e *Engine) webhook(ctx context.Context, c *hookd.Claim) (*hookd.Webhook, error) {
	e.mu.Lock()
	wh := e.hooks[c.WebhookID]
	e.mu.Unlock()
	if wh != nil && wh.UpdatedAt.Equal(c.WebhookUpdatedAt) {
		return wh, nil
	}
	wh, err := e.store.GetWebhook(ctx, c.TenantID, c.WebhookID)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.hooks[c.WebhookID] = wh
	e.mu.Unlock()
	return wh, nil
}

// deliver makes one attempt of a claim and returns what to record (nil:
// nothing, the delivery is gone).
func (e *Engine) deliver(ctx context.Context, c *hookd.Claim, ep *endpoint) *hookd.AttemptResult {
	release := &hookd.AttemptResult{DeliveryID: c.DeliveryID, Release: true, NextAttemptAt: e.clock.Now()}
	wh, err := e.webhook(ctx, c)
	switch {
	case errors.Is(err, hookd.ErrNotFound):
		return nil // deleted with its deliveries
	case err != nil:
		if ctx.Err() == nil {
			e.log.Error("read webhook", "webhook", c.WebhookID, "err", err)
		}
		return release
	case !wh.Enabled:
		return release // the next claim ends it FAILED
	}
	select {
	case ep.sends <- struct{}{}:
		defer func() { <-ep.sends }()
	case <-ctx.Done():
		return release
	}
	now := e.clock.Now()
	a := e.sender.send(ctx, wh, c.EventID, c.EventType, c.DeliveryID, c.Attempts+1, c.Payload, now)
	if ctx.Err() != nil && !a.Success {
		return release // stopped mid-attempt: it did not count
	}
	return e.outcome(wh, c, a)
}

func (e *Engine) outcome(wh *hookd.Webhook, c *hookd.Claim, a *hookd.Attempt) *hookd.AttemptResult {
	r := &hookd.AttemptResult{DeliveryID: c.DeliveryID, Attempt: a}
	switch {
	case a.Success:
		r.Status = hookd.StatusSuccess
	case c.Manual || a.Number >= wh.MaxAttempts:
		r.Status = hookd.StatusFailed
	default:
		r.Status = hookd.StatusRetrying
		wait := Backoff(e.cfg.RetrySchedule, a.Number, jitterRand())
		if a.StatusCode == 429 || a.StatusCode == 503 {
			wait = max(wait, RetryAfter(a.ResponseHeaders["Retry-After"], a.StartedAt))
		}
		r.NextAttemptAt = a.StartedAt.Add(a.Duration).Add(wait)
	}
	return r
}

// record writes attempt outcomes in batches: whatever has arrived, up to
// RecordBatch, in one store call.
func (e *Engine) record() {
	defer close(e.recDone)
	batch := make([]*hookd.AttemptResult, 0, e.cfg.RecordBatch)
	for r := range e.results {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < e.cfg.RecordBatch {
			select {
			case r, ok := <-e.results:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		// Outcomes that cannot be written are not lost work: their
		// deliveries stay leased and are sent again when the lease ends.
		var err error
		for try := 0; try < 3; try++ {
			if err = e.store.RecordAttempts(context.Background(), batch); err == nil {
				break
			}
			time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
		}
		if err != nil {
			e.log.Error("record attempts; their deliveries will be sent again after the lease", "count", len(batch), "err", err)
		}
	}
}

// TestEventType is the type of a test send when the caller names none.
const TestEventType = "webhook.test"

// Test sends one request to wh now, waits for it, and keeps it as a
// delivery of a new event (a single manual attempt).
func (e *Engine) Test(ctx context.Context, wh *hookd.Webhook, eventType string, data json.RawMessage) (*hookd.TestResult, error) {
	if eventType == "" {
		eventType = TestEventType
	}
	if len(data) == 0 {
		data = json.RawMessage(`{"message":"This is a test event from hookd.","webhookId":"` + wh.ID + `"}`)
	}
	now := e.clock.Now()
	ev := &hookd.Event{ID: hookd.NewID(hookd.PrefixEvent, now), TenantID: wh.TenantID, Type: eventType, Timestamp: now}
	if err := ev.BuildPayload(data, nil); err != nil {
		return nil, hookd.Invalid("data", "is not valid JSON")
	}
	d, err := e.store.CreateTestDelivery(ctx, ev, wh.ID, now.Add(e.cfg.Lease))
	if err != nil {
		return nil, fmt.Errorf("test send: %w", err)
	}
	a := e.sender.send(ctx, wh, ev.ID, ev.Type, d.ID, 1, ev.Payload, e.clock.Now())
	r := e.outcome(wh, &hookd.Claim{DeliveryID: d.ID, Manual: true}, a)
	if err := e.store.RecordAttempts(context.WithoutCancel(ctx), []*hookd.AttemptResult{r}); err != nil {
		return nil, fmt.Errorf("test send: record: %w", err)
	}
	res := &hookd.TestResult{Success: a.Success, ResponseTimeMs: a.Duration.Milliseconds(), DeliveryID: d.ID, EventID: ev.ID}
	if a.StatusCode != 0 {
		code, body := a.StatusCode, string(a.ResponseBody)
		res.StatusCode, res.ResponseBody = &code, &body
	}
	if a.Error != "" {
		msg := a.Error
		res.Error = &msg
	}
	return res, nil
}
