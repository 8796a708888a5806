// Package delivery is hookd's delivery engine: it claims due deliveries
// through the queue (package queue), signs and sends them, and hands each
// outcome to one recorder that writes them in batches.
//
// The engine's own part is policy and sending. Isolation: the engine holds
// at most Workers deliveries, from their claim until their outcome is
// written, and each endpoint has a room: how many of its deliveries it may
// hold. The room is small while the endpoint gets no answer
// (FailingEndpoint), PerEndpoint until it has shown it answers fast, and
// FastQueue times that after; at most PerEndpoint are sent at once. So an
// endpoint that hangs holds a few sends, not the engine, and one that
// answers fast is not throttled.
//
// Leases: every claim is the engine's until its lease ends, and the engine
// never starts an attempt that could outlast it: a delivery whose lease has
// less than the attempt's timeout (and the time to record it) left is given
// a longer lease first, and dropped unsent if another process took it
// meanwhile.
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/traceparent"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/queue"
)

// Config configures the engine. Zero values take the documented defaults.
type Config struct {
	Store  hookd.Deliverer
	Logger *slog.Logger
	Clock  hookd.Clock
	// Guard is checked on every address dialled; nil blocks private ranges.
	Guard *netguard.Policy
	// RetrySchedule is the wait before attempt 2, 3, …; default
	// hookd.DefaultRetrySchedule.
	RetrySchedule []time.Duration
	// Workers caps the deliveries this process holds, from their claim
	// until their outcome is written. Default 2048.
	Workers int
	// PerEndpoint caps concurrent sends to one webhook, and its room until
	// it has answered fast. Default 32.
	PerEndpoint int
	// FastQueue multiplies PerEndpoint for the room of a webhook whose
	// answers come within FastAnswer on average. Default 8.
	FastQueue int
	// FastAnswer is what counts as answering fast. Default 250ms. A fast
	// endpoint whose sends have all gone unanswered for stallFactor times
	// this is fast no more: the deliveries waiting their turn at it go back
	// to the queue.
	FastAnswer time.Duration
	// RecheckAfter is how long a claimed delivery may wait behind other
	// sends to its endpoint before it reads its webhook again and asks the
	// store whether it is still held and waiting (each at most once in this
	// long an endpoint: stillLive). A fast endpoint's claims run ahead of its
	// sends (FastQueue); without this, those claimed before a DELETE, a
	// disable, a cancel or a new URL were still sent as claimed, seconds
	// after the change was answered. Default 100ms.
	RecheckAfter time.Duration
	// FailingEndpoint is the room while the webhook's last attempt got no
	// answer (timeout, refused connection), and until its first answer
	// comes: an endpoint that hangs without ever answering holds this
	// many workers, not PerEndpoint, for its timeout. Default 2.
	FailingEndpoint int
	// TenantReserve is how many free workers a tenant that holds this many
	// deliveries or more may not take: they are kept for the others, so
	// that one tenant's hanging endpoints (each holding its room for its
	// timeout) never hold every worker. A tenant alone thus holds at most
	// Workers-TenantReserve. Default Workers/8 (256 of 2048) when Workers
	// is 64 or more, else none (too few to split); negative: none.
	TenantReserve int
	// ClaimBatch caps deliveries per claim. A claim waits for a commit, so
	// this is how many deliveries one commit cycle can start. Default 1024.
	ClaimBatch int
	// Lease is how long a claimed delivery stays this process's; one whose
	// process died is sent again when its lease ends. An attempt must end
	// and have its outcome written within its lease: one that could not
	// (its timeout, BodyTimeout, and twice StoreTimeout for the write it
	// may queue behind and its own) gets a longer lease before it starts.
	// Default 2m.
	Lease time.Duration
	// BodyTimeout bounds reading a response body once its status line
	// arrived; the status line alone decides the outcome. Default 1s.
	BodyTimeout time.Duration
	// StoreTimeout bounds each claim, and is the least a lease's extension
	// or a record's write may take (each may take until the leases of its
	// deliveries end; a write under way when Stop begins, StoreTimeout
	// more). It must be shorter than Lease. Default 10s, or Lease/4 when
	// that is shorter.
	StoreTimeout time.Duration
	// DeferBy is how long a webhook without room is passed over by claims.
	// Default 250ms.
	DeferBy time.Duration
	// DeferFailing is the same for a webhook whose last attempt got no
	// answer. Default 5s.
	DeferFailing time.Duration
	// PollInterval is the longest the engine sleeps without a wake-up.
	// Default 1s.
	PollInterval time.Duration
	// ShutdownTimeout bounds how long Stop lets sends in flight finish;
	// the rest are released to be sent again. Default 10s.
	ShutdownTimeout time.Duration
	// RecordBatch caps outcomes per write. Default 2048.
	RecordBatch int
	// RecordWait is how long an outcome may wait for others (up to 32,
	// and no more than RecordBatch) to share its write when the store is
	// idle: at a few hundred events a second each outcome would otherwise
	// pay a commit of its own, rewriting the same pages (the webhook's
	// health row, due_webhooks, the newest index leaves). The wait ends
	// when the engine holds Workers deliveries. A delivery's status
	// shows its outcome this much later at most; an attempt's lease budget
	// counts it. Shorter than Lease. Default 20ms.
	RecordWait time.Duration
	// CacheIdle is how long an endpoint's state and a webhook (with its
	// secrets) stay cached after their last delivery, and a send's
	// goroutine is kept idle for the next. Default 5m.
	CacheIdle time.Duration
	// FailureLogEvery, when set, limits failed-attempt lines to one per
	// webhook in this time, counting the ones left out in the next
	// (--failed-attempt-log-every). Default 0: every failed attempt is
	// logged, as the contract says.
	FailureLogEvery time.Duration
	// FailureLogBurst, when set, caps failed-attempt lines per second
	// across webhooks. Default 0: no cap.
	FailureLogBurst int
	// DisableAfter disables a webhook whose every attempt has failed for
	// this long, with a delivery out of attempts in the streak
	// (--disable-after); 0 never. A 410 Gone disables at once, always.
	// The record of an attempt decides it, and the claim loop looks every
	// tenth of it (at most a minute, at least its poll) for webhooks with
	// nothing more to send whose time is up.
	DisableAfter time.Duration
	// Tracer is where attempt spans go. Default: nowhere (a no-op).
	Tracer trace.TracerProvider
	// Observer is told of attempts, finished deliveries and disables (the
	// metrics). Default: nothing is told.
	Observer hookd.Observer
}

// Handed-off deliveries (Reserve, Take) hold at most half of Workers: the
// other half is always there for claims (retries, backlogs, deliveries
// published by other processes), which a steady stream of publishes to
// fast endpoints would otherwise never let in.
const handoffShare = 2

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider()
	}
	if c.Observer == nil {
		c.Observer = hookd.NopObserver{}
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
	switch {
	case c.TenantReserve == 0 && c.Workers >= 64:
		c.TenantReserve = c.Workers / 8
	case c.TenantReserve < 0:
		c.TenantReserve = 0
	}
	setDefault(&c.RecheckAfter, 100*time.Millisecond)
	setDefault(&c.ClaimBatch, 1024)
	setDefault(&c.RecordBatch, 2048)
	setDefault(&c.RecordWait, 20*time.Millisecond)
	setDefault(&c.Lease, 2*time.Minute)
	setDefault(&c.BodyTimeout, time.Second)
	setDefault(&c.StoreTimeout, min(10*time.Second, c.Lease/4))
	setDefault(&c.DeferBy, 250*time.Millisecond)
	setDefault(&c.DeferFailing, 5*time.Second)
	setDefault(&c.PollInterval, time.Second)
	setDefault(&c.ShutdownTimeout, 10*time.Second)
	setDefault(&c.CacheIdle, 5*time.Minute)
}

func (c *Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("delivery: no Store")
	case c.StoreTimeout >= c.Lease:
		return fmt.Errorf("delivery: StoreTimeout (%s) must be shorter than Lease (%s): a claim could outlast its own lease", c.StoreTimeout, c.Lease)
	case c.RecordWait >= c.Lease:
		return fmt.Errorf("delivery: RecordWait (%s) must be shorter than Lease (%s): an outcome could wait out its lease", c.RecordWait, c.Lease)
	case c.FailureLogEvery < 0 || c.FailureLogBurst < 0:
		return fmt.Errorf("delivery: FailureLogEvery (%s) and FailureLogBurst (%d) must not be negative", c.FailureLogEvery, c.FailureLogBurst)
	case c.FailingEndpoint > c.PerEndpoint:
		return fmt.Errorf("delivery: FailingEndpoint (%d) is more than PerEndpoint (%d)", c.FailingEndpoint, c.PerEndpoint)
	case c.TenantReserve >= c.Workers:
		return fmt.Errorf("delivery: TenantReserve (%d) must be less than Workers (%d): no tenant could take one", c.TenantReserve, c.Workers)
	}
	return nil
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Engine delivers. Start it once; Stop it once.
type Engine struct {
	cfg    Config
	tracer trace.Tracer
	store  hookd.Deliverer
	log    *slog.Logger
	clock  hookd.Clock
	sender *sender
	policy queue.Policy
	// failures logs failed attempts, rate-limited.
	failures *failLog

	wake    chan struct{}
	results chan *result

	mu sync.Mutex
	// held counts deliveries claimed and not yet recorded: Workers caps it.
	held int
	// starvedFor counts down recorded outcomes while due work waits for
	// room; the one that reaches zero wakes the loop. Waiting for a few,
	// not one, keeps claims batched.
	starvedFor int
	endpoints  map[string]*endpoint
	// tenantHeld is each tenant's held deliveries (none: absent).
	tenantHeld map[string]int
	// queuing are the endpoints with deliveries waiting for a send slot.
	queuing map[*endpoint]struct{}
	hooks   map[string]*cachedHook
	swept   time.Time
	// disableChecked is when the claim loop last looked for failing
	// webhooks to disable (its own: no lock).
	disableChecked time.Time
	// reserved is room held for publishes in progress (Reserve), until
	// their Take; stopped refuses new ones.
	reserved map[*hookd.Handoff]*reservation
	stopped  bool

	// changes counts Changed calls (a generation). changed is the count
	// at each webhook's last change, for a while after it, and allChanged
	// at the last change of every webhook: a delivery claimed, a webhook
	// read or a lease checked under a smaller count may not know of it.
	changes    atomic.Uint64
	changed    map[string]change
	allChanged uint64

	// checkedHook, when set (by tests), runs after a delivery's checks
	// and before its attempt begins: where a busy machine may pause it.
	checkedHook atomic.Pointer[func()]

	loopCtx    context.Context
	sendCtx    context.Context
	loops      atomic.Int64 // claim loop iterations, for tests to wait on
	stopLoop   context.CancelFunc
	stopSends  context.CancelFunc
	loopDone   chan struct{}
	recDone    chan struct{}
	listenDone chan struct{}
	sends      sync.WaitGroup
	workers    workers
	stopOnce   sync.Once
}

type endpoint struct {
	tenantID string
	held     int           // claimed and not yet recorded
	failing  bool          // the last attempt got no HTTP answer
	latency  time.Duration // moving average of answered attempts; 0 until one
	sends    chan struct{} // PerEndpoint send slots
	lastUsed time.Time
	// waiting are the held deliveries waiting for a send slot.
	waiting map[*waiter]struct{}
	// lastStart is when its last attempt began, or deliveries began to
	// wait at it if that is later (UnixNano by the engine's clock; atomic,
	// as an attempt begins without the lock).
	lastStart atomic.Int64
	// stalled: it answered fast, then every send stayed unanswered for
	// stallFactor×FastAnswer while others waited (shedStalled). Its room
	// is PerEndpoint's until it answers again.
	stalled bool
	// shed is closed when it stalls, to let its waiting deliveries go;
	// made by the first to wait after it answers again.
	shed chan struct{}
}

// waiter is a held delivery waiting for its turn at its endpoint's sends.
type waiter struct {
	lease      hookd.Lease
	checked    time.Time // when LiveLeases last looked at it; zero: never
	checkedGen uint64    // Engine.changes when that look began
	live       bool      // what it found
}

// change is a webhook's last Changed.
type change struct {
	gen uint64
	at  time.Time
}

// reservation is the room a Reserve held for a publish.
type reservation struct {
	// since is this process's clock at the Reserve, before the publish: the
	// lease the store gives ends no sooner than since plus its length.
	since time.Time
	gen   uint64 // Engine.changes at the Reserve
	// updated is each reserved webhook's UpdatedAt as the publish matched
	// it (a claim reads it from the store), to tell a cached one is stale.
	updated map[string]time.Time
}

type cachedHook struct {
	wh       *hookd.Webhook
	readAt   time.Time // from the store
	gen      uint64    // Engine.changes when that read began
	lastUsed time.Time
}

// result is what became of one claim; every claim makes exactly one.
type result struct {
	claim   *hookd.Claim
	outcome *hookd.Outcome // nil: a release, or nothing to write
	release bool
	// notBefore: a release held until then (zero: released at once), by
	// this process's clock (queue.Release.DueIn). A send cut off by Stop
	// may have reached its receiver, which may still be at it: no process
	// sends it again before it would have timed out.
	notBefore time.Time
	deadline  time.Time // the lease's end by this process's clock: writing it later is pointless
	// done is when the result reached the recorder's channel (real time:
	// it bounds a batching wait, nothing a test's clock decides).
	done time.Time
}

var (
	_ hookd.Tester = (*Engine)(nil)
	_ hookd.Taker  = (*Engine)(nil)
)

// New returns an engine; it does nothing until Start.
func New(cfg Config) (*Engine, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Engine{
		cfg: cfg, store: cfg.Store, log: cfg.Logger, clock: cfg.Clock,
		tracer:   cfg.Tracer.Tracer("github.com/hookd/hookd/delivery"),
		sender:   newSender(cfg.Guard, "hookd/"+hookd.Version, cfg.BodyTimeout),
		failures: newFailLog(cfg.Logger, cfg.FailureLogEvery, cfg.FailureLogBurst),
		workers:  workers{now: cfg.Clock.Now},
		policy:   queue.Policy{DisableAfter: cfg.DisableAfter},
		wake:     make(chan struct{}, 1),
		// Every held delivery makes one result, so a send never waits to
		// hand its result over.
		results:    make(chan *result, cfg.Workers),
		endpoints:  map[string]*endpoint{},
		tenantHeld: map[string]int{},
		queuing:    map[*endpoint]struct{}{},
		hooks:      map[string]*cachedHook{},
		changed:    map[string]change{},
		reserved:   map[*hookd.Handoff]*reservation{},
	}, nil
}

// Notify tells the engine that deliveries may be due now (an event was
// published, a retry requested). It never blocks.
func (e *Engine) Notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Changed tells the engine that a webhook or its deliveries changed in the
// store (an edit, a disable, a rotation, a delete, a cancel; "": every
// webhook, as a tenant's delete), after the change committed and before
// its caller is answered: every delivery to it that this engine claimed
// before and has not begun to send is checked against the store first,
// however short its wait, so that nothing the change stopped is sent after
// the answer. A store that tells of changes made through another process
// (hookd.Waker) calls it for those too, a moment after their commit;
// without one, they are seen by the check a delivery makes once it has
// waited RecheckAfter.
func (e *Engine) Changed(webhookID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sendCtx == nil {
		return // never started (an API process's test sends): it holds nothing
	}
	gen := e.changes.Add(1)
	if webhookID == "" {
		e.allChanged = gen
		clear(e.hooks)
		return
	}
	e.changed[webhookID] = change{gen: gen, at: e.clock.Now()}
	// Whatever has not yet read its webhook reads it from the store: a
	// delivery handed off by a publish that matched the webhook before
	// the change (its Reserve after it) would otherwise find the old one
	// here, under the UpdatedAt it was matched with.
	delete(e.hooks, webhookID)
}

// changedSince says whether webhookID changed after generation gen.
func (e *Engine) changedSince(webhookID string, gen uint64) bool {
	if e.changes.Load() == gen {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changedLocked(webhookID) > gen
}

// changedLocked is Engine.changes at webhookID's last change (0: none
// known): what was claimed, read or checked under less may not know of it.
func (e *Engine) changedLocked(webhookID string) uint64 {
	return max(e.changed[webhookID].gen, e.allChanged)
}

// Start runs the claim loop and the recorder until Stop.
func (e *Engine) Start(ctx context.Context) error {
	loopCtx, stopLoop := context.WithCancel(context.WithoutCancel(ctx))
	sendCtx, stopSends := context.WithCancel(context.WithoutCancel(ctx))
	e.mu.Lock()
	e.loopCtx, e.sendCtx, e.stopLoop, e.stopSends = loopCtx, sendCtx, stopLoop, stopSends
	e.mu.Unlock()
	e.loopDone, e.recDone = make(chan struct{}), make(chan struct{})
	go e.record()
	go e.loop(loopCtx, sendCtx)
	e.listenDone = make(chan struct{})
	go func() {
		defer close(e.listenDone)
		if w, ok := e.store.(hookd.Waker); ok {
			w.Listen(loopCtx, e.Notify, e.Changed)
		}
	}()
	return nil
}

// Stop stops claiming, lets sends in flight finish for up to
// ShutdownTimeout, cuts off the ones still running (held until they would
// have timed out, then due), and writes every outcome before it returns.
// Calling it again does nothing.
func (e *Engine) Stop() { e.stopOnce.Do(e.stop) }

func (e *Engine) stop() {
	e.stopLoop()
	<-e.loopDone
	<-e.listenDone // its connection back in the pool before the store may close
	// No more handoffs; those reserved hold e.sends until their Take.
	e.mu.Lock()
	e.stopped = true
	inFlight := e.held
	e.mu.Unlock()
	if inFlight > 0 {
		// What the operator waits for, and at most how long.
		e.log.Info("stopping: waiting for the deliveries in flight", "deliveries", inFlight, "upTo", e.cfg.ShutdownTimeout)
	}
	done := make(chan struct{})
	go func() { e.sends.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(e.cfg.ShutdownTimeout):
		e.log.Warn("stopping: cancelling sends still in flight; they will be sent again once their timeout has passed", "after", e.cfg.ShutdownTimeout)
		e.stopSends()
		<-done
	}
	e.stopSends()
	close(e.results)
	<-e.recDone
	e.workers.close()
	// Receivers see the connections end now, not when they time out.
	e.sender.closeIdle()
}

func (e *Engine) loop(ctx, sendCtx context.Context) {
	defer close(e.loopDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		e.loops.Add(1)
		e.shedStalled()
		wait := e.cfg.PollInterval
		e.mu.Lock()
		free := e.cfg.Workers - e.held
		e.mu.Unlock()
		if free > 0 {
			limit := min(free, e.cfg.ClaimBatch)
			before, gen := e.clock.Now(), e.changes.Load()
			// The claim is not cut off by Stop: what it leased is released
			// at once below, not left to its lease.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.StoreTimeout)
			res, err := queue.Claim(cctx, e.store, queue.ClaimParams{Limit: limit, Lease: e.cfg.Lease, Room: e.room, SendRoom: e.sendRoom})
			cancel()
			var eps []*endpoint
			var surplus []bool
			if err == nil {
				eps, surplus = make([]*endpoint, len(res.Claims)), make([]bool, len(res.Claims))
				for i, c := range res.Claims {
					eps[i], surplus[i] = e.holdClaimed(c)
				}
			}
			stopping := ctx.Err() != nil
			switch {
			case err != nil:
				if !stopping {
					e.log.Error("claim deliveries", "err", err)
				}
			case stopping:
				for _, c := range res.Claims {
					e.results <- &result{claim: c, release: true, deadline: before.Add(e.cfg.Lease)}
				}
			default:
				deadline := before.Add(e.cfg.Lease)
				for i, c := range res.Claims {
					if surplus[i] {
						e.results <- &result{claim: c, release: true, deadline: deadline}
						continue
					}
					e.start(sendCtx, c, eps[i], deadline, gen)
				}
				if res.Failed > 0 {
					e.cfg.Observer.Finished(hookd.StatusFailed, res.Failed)
					e.log.Info("deliveries of disabled webhooks ended FAILED", "count", res.Failed)
				}
				if len(res.Claims) == limit {
					continue // more may be due right now
				}
				if next := res.NextDue; !next.IsZero() && next.After(res.Now) {
					wait = min(wait, next.Sub(res.Now))
				} else if !next.IsZero() {
					// Work is due that the claim left for lack of room:
					// recorded outcomes make room and wake the loop.
					e.starve()
					wait = min(wait, starvedPoll)
				}
			}
			if stopping {
				return
			}
		} else {
			e.starve()
			wait = min(wait, starvedPoll)
		}
		e.sweep()
		e.disableFailing(ctx)
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

// starve makes the loop wait for an eighth of the deliveries held (at most
// 16) to be recorded before it claims again: enough to batch claims, few
// enough that a busy endpoint is not left idle (measured both ways on both
// stores).
func (e *Engine) starve() {
	e.mu.Lock()
	e.starvedFor = max(1, min(16, e.held/8))
	e.mu.Unlock()
}

// room is queue.ClaimParams.Room: how many more of a webhook's deliveries
// this process can take now, and how long to pass it over when none.
func (e *Engine) room(tenantID, webhookID string) (int, time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.roomLocked(tenantID, webhookID)
}

// sendRoom is queue.ClaimParams.SendRoom: the send slots of a webhook free
// for deliveries not yet held (its held ones wait for, or use, the rest).
func (e *Engine) sendRoom(webhookID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ep := e.endpoints[webhookID]; ep != nil {
		return e.cfg.PerEndpoint - ep.held
	}
	return e.cfg.PerEndpoint
}

// roomLocked is the webhook's room within its tenant's. A claim asks each
// webhook's against what is held before it, not what it is leasing (its
// due count is unknown: counting a webhook's whole room as taken made
// later webhooks of a fan-out wait a round), so it may lease past the
// tenant's room: holdClaimed lets the surplus go.
func (e *Engine) roomLocked(tenantID, webhookID string) (int, time.Duration) {
	n, wait := e.endpointRoomLocked(webhookID)
	t := e.tenantRoomLocked(tenantID)
	if t <= 0 {
		return 0, e.cfg.DeferBy
	}
	return min(n, t), wait
}

// tenantRoomLocked is how many more deliveries a tenant may hold: up to
// TenantReserve whatever others hold, and past it only what leaves
// TenantReserve workers free for the other tenants.
func (e *Engine) tenantRoomLocked(tenantID string) int {
	free := e.cfg.Workers - e.held
	return max(e.cfg.TenantReserve-e.tenantHeld[tenantID], free-e.cfg.TenantReserve)
}

// holdClaimed holds a claimed delivery, and says whether it is past its
// tenant's room (surplus): a claim that leased more of a tenant than its
// room lets those go at once (released: no attempt counted), as it would
// with no room.
func (e *Engine) holdClaimed(c *hookd.Claim) (*endpoint, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	surplus := e.tenantRoomLocked(c.TenantID) <= 0
	return e.holdLocked(c.TenantID, c.WebhookID), surplus
}

func (e *Engine) endpointRoomLocked(webhookID string) (int, time.Duration) {
	ep := e.endpoints[webhookID]
	if ep == nil {
		// Until it answers, as little as a failing one: an endpoint that
		// never answers must not hold PerEndpoint workers for its timeout.
		return e.cfg.FailingEndpoint, e.cfg.DeferBy
	}
	switch {
	case ep.failing:
		return e.cfg.FailingEndpoint - ep.held, e.cfg.DeferFailing
	case ep.latency == 0:
		return e.cfg.FailingEndpoint - ep.held, e.cfg.DeferBy
	case ep.latency < e.cfg.FastAnswer && !ep.stalled:
		// A fast endpoint frees room in moments: consider it again on the
		// next claim.
		return e.cfg.PerEndpoint*e.cfg.FastQueue - ep.held, 0
	}
	return e.cfg.PerEndpoint - ep.held, e.cfg.DeferBy
}

// holdLocked counts a delivery against Workers, its tenant's room and its
// endpoint's until its result is recorded.
func (e *Engine) holdLocked(tenantID, webhookID string) *endpoint {
	ep := e.endpoints[webhookID]
	if ep == nil {
		ep = &endpoint{tenantID: tenantID, sends: make(chan struct{}, e.cfg.PerEndpoint)}
		e.endpoints[webhookID] = ep
	}
	ep.held++
	ep.lastUsed = e.clock.Now()
	e.held++
	e.tenantHeld[tenantID]++
	return ep
}

// unhold frees the claims of recorded results, and wakes a starved loop.
func (e *Engine) unhold(rs []*result) {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.claim.WebhookID
	}
	e.free(ids)
}

// free gives back one held delivery of each webhook listed.
func (e *Engine) free(webhookIDs []string) {
	e.mu.Lock()
	wakeUp := false
	for _, id := range webhookIDs {
		if ep := e.endpoints[id]; ep != nil { // held, so never swept
			ep.held--
			if e.tenantHeld[ep.tenantID]--; e.tenantHeld[ep.tenantID] <= 0 {
				delete(e.tenantHeld, ep.tenantID)
			}
		}
		e.held--
		if e.starvedFor > 0 {
			e.starvedFor--
			wakeUp = wakeUp || e.starvedFor == 0
		}
	}
	e.mu.Unlock()
	if wakeUp {
		e.Notify()
	}
}

// Reserve is hookd.Taker's: it holds room, as a claim would, for one
// delivery to each webhook this engine can send to now, for a publish about
// to store them leased to it. A rate-limited webhook is left to claims,
// which keep its budget in the store for every replica.
func (e *Engine) Reserve(webhooks []*hookd.Webhook) *hookd.Handoff {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped || e.sendCtx == nil {
		return nil
	}
	var h *hookd.Handoff
	var r *reservation
	for _, wh := range webhooks {
		if !wh.Enabled || wh.RateLimit > 0 || e.held >= e.cfg.Workers/handoffShare {
			continue
		}
		if room, _ := e.roomLocked(wh.TenantID, wh.ID); room <= 0 {
			continue
		}
		if h == nil {
			h = &hookd.Handoff{Lease: e.cfg.Lease}
			r = &reservation{since: e.clock.Now(), gen: e.changes.Load(), updated: map[string]time.Time{}}
		} else if _, twice := r.updated[wh.ID]; twice {
			continue
		}
		e.holdLocked(wh.TenantID, wh.ID)
		h.WebhookIDs = append(h.WebhookIDs, wh.ID)
		r.updated[wh.ID] = wh.UpdatedAt
	}
	if h == nil {
		return nil
	}
	e.reserved[h] = r
	e.sends.Add(1) // Stop waits for the Take
	return h
}

// Take is hookd.Taker's: it sends the deliveries the publish stored leased
// to this engine, with no claim, and frees the room of the webhooks that
// got none (deleted or disabled meanwhile, or the publish failed).
func (e *Engine) Take(h *hookd.Handoff, leased []*hookd.Claim) {
	e.mu.Lock()
	r := e.reserved[h]
	delete(e.reserved, h)
	sendCtx := e.sendCtx
	e.mu.Unlock()
	if r == nil {
		return
	}
	defer e.sends.Done()
	deadline := r.since.Add(h.Lease)
	for _, c := range leased {
		updated, ok := r.updated[c.WebhookID]
		if !ok {
			continue // not reserved: a store's mistake, and its lease will end
		}
		delete(r.updated, c.WebhookID)
		c.WebhookUpdatedAt = updated
		e.mu.Lock()
		ep := e.endpoints[c.WebhookID] // held since the Reserve, so not swept
		e.mu.Unlock()
		e.start(sendCtx, c, ep, deadline, r.gen)
	}
	if len(r.updated) > 0 {
		e.free(slices.Collect(maps.Keys(r.updated)))
	}
}

// start sends a held delivery, claimed (or reserved) when Engine.changes
// was gen, and hands its result to the recorder.
func (e *Engine) start(ctx context.Context, c *hookd.Claim, ep *endpoint, deadline time.Time, gen uint64) {
	e.sends.Add(1)
	e.workers.run(func() {
		defer e.sends.Done()
		r := e.deliver(ctx, c, ep, deadline, gen)
		r.done = time.Now()
		e.results <- r
	})
}

// webhook returns the webhook of a claim from the cache, reading it again
// when it changed since it was cached.
func (e *Engine) webhook(ctx context.Context, c *hookd.Claim) (*hookd.Webhook, error) {
	return e.cachedWebhook(ctx, c, func(ch *cachedHook, _ time.Time) bool { return ch.wh.UpdatedAt.Equal(c.WebhookUpdatedAt) })
}

// freshWebhook returns the webhook of a claim as the store has it now, or
// as it was read less than RecheckAfter ago and since its last Changed.
func (e *Engine) freshWebhook(ctx context.Context, c *hookd.Claim) (*hookd.Webhook, error) {
	return e.cachedWebhook(ctx, c, func(ch *cachedHook, now time.Time) bool {
		return ch.gen >= e.changedLocked(c.WebhookID) && now.Sub(ch.readAt) < e.cfg.RecheckAfter
	})
}

// cachedWebhook returns the claim's webhook from the cache where usable
// says (under e.mu) the cached copy will do, else from the store.
func (e *Engine) cachedWebhook(ctx context.Context, c *hookd.Claim, usable func(ch *cachedHook, now time.Time) bool) (*hookd.Webhook, error) {
	now := e.clock.Now()
	e.mu.Lock()
	if ch := e.hooks[c.WebhookID]; ch != nil && usable(ch, now) {
		ch.lastUsed = now
		e.mu.Unlock()
		return ch.wh, nil
	}
	e.mu.Unlock()
	return e.readWebhook(ctx, c, now)
}

func (e *Engine) readWebhook(ctx context.Context, c *hookd.Claim, now time.Time) (*hookd.Webhook, error) {
	gen := e.changes.Load()
	wh, err := e.store.GetWebhook(ctx, c.TenantID, c.WebhookID)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case errors.Is(err, hookd.ErrNotFound):
		delete(e.hooks, c.WebhookID) // its secrets go with it
		return nil, err
	case err != nil:
		return nil, err
	}
	// A change told while the read ran may have come after the row was
	// read: that copy serves this caller (whose checks see the change)
	// but is not kept, or a handoff matched under the old version would
	// find it current and send to the old URL after the change answered.
	if e.changedLocked(c.WebhookID) <= gen {
		e.hooks[c.WebhookID] = &cachedHook{wh: wh, readAt: now, gen: gen, lastUsed: now}
	}
	return wh, nil
}

// sweep forgets endpoints and webhooks unused for CacheIdle, so that
// deleted webhooks' secrets do not stay in memory, and reports failed
// attempts the log left out.
func (e *Engine) sweep() {
	now := e.clock.Now()
	e.failures.sweep(now)
	e.mu.Lock()
	defer e.mu.Unlock()
	if now.Sub(e.swept) < e.cfg.CacheIdle/4 {
		return
	}
	e.swept = now
	e.workers.retire(now.Add(-e.cfg.CacheIdle))
	for id, ep := range e.endpoints {
		if ep.held == 0 && now.Sub(ep.lastUsed) >= e.cfg.CacheIdle {
			delete(e.endpoints, id)
		}
	}
	for id, ch := range e.hooks {
		if now.Sub(ch.lastUsed) >= e.cfg.CacheIdle {
			delete(e.hooks, id)
		}
	}
	// What was claimed before a change and is still unsent after this
	// long has waited RecheckAfter (so checks anyway) or lost its lease.
	for id, c := range e.changed {
		if now.Sub(c.at) >= 2*max(e.cfg.Lease, e.cfg.RecheckAfter) {
			delete(e.changed, id)
		}
	}
}

// disableFailing disables, every tenth of DisableAfter (at most a minute),
// the webhooks out of attempts whose time is up though no attempt of
// theirs is being recorded: without it a dead endpoint with nothing more
// to send stayed enabled (and unannounced) until its next event failed.
func (e *Engine) disableFailing(ctx context.Context) {
	if e.cfg.DisableAfter <= 0 {
		return
	}
	now := e.clock.Now()
	if now.Sub(e.disableChecked) < min(e.cfg.DisableAfter/10, time.Minute) {
		return
	}
	e.disableChecked = now
	cctx, cancel := context.WithTimeout(ctx, e.cfg.StoreTimeout)
	defer cancel()
	rec, err := e.policy.DisableFailing(cctx, e.store)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error("disable failing webhooks", "err", err)
		}
		return
	}
	e.observe(rec, nil)
	if rec.Created > 0 {
		e.Notify() // the announcements are due now
	}
}

// deliver makes one attempt of a claim, if its lease allows, and returns
// what to record.
func (e *Engine) deliver(ctx context.Context, c *hookd.Claim, ep *endpoint, deadline time.Time, gen uint64) *result {
	release := &result{claim: c, release: true, deadline: deadline}
	wh, err := e.webhook(ctx, c)
	if r := e.unusable(ctx, c, wh, err, release); r != nil {
		return r
	}
	queued := e.clock.Now()
	var w *waiter
	waited := false
	select {
	case ep.sends <- struct{}{}: // its turn at once: nothing changed since the claim, unless Changed says so
		if e.changes.Load() != gen {
			e.mu.Lock()
			if e.changedLocked(c.WebhookID) > gen {
				w = &waiter{lease: c.Lease} // checked alone: it waits for nothing
			}
			e.mu.Unlock()
		}
	default:
		if w = e.wait(ctx, ep, c.Lease); w == nil {
			return release
		}
		waited = true
	}
	defer func() { <-ep.sends }()
	if waited && e.failing(ep) {
		// Its endpoint stopped answering while it waited (claimed when it
		// answered fast, in its larger room): it goes back to the queue,
		// for claims to take at the failing room, instead of every waiting
		// one holding a worker for the endpoint's timeout in turn.
		return release
	}
	claimed := gen // the changes this claim's checks had seen
	var start time.Time
	for {
		if ctx.Err() != nil {
			return release
		}
		if w != nil {
			checked := e.changes.Load() // what the checks below see of changes, at least
			var r *result
			if wh, r = e.recheck(ctx, c, ep, w, wh, queued, gen, release); r != nil {
				return r
			}
			gen = checked
		}
		need := e.attemptLease(wh)
		// Never start an attempt that could outlast the lease, with the
		// writing of its outcome: the delivery would fall due before it.
		if now := e.clock.Now(); now.Add(need).After(deadline) {
			d := max(e.cfg.Lease, need)
			ok, err := e.extend(ctx, c, d, deadline)
			// Not held, after a change to its webhook since the claim (a
			// delete, a cancel): a user's doing, not a lost lease.
			if r := e.notHeld(ctx, c, ok, err, "extend lease", !ok && e.changedSince(c.WebhookID, claimed), release); r != nil {
				return r
			}
			deadline = now.Add(d)
		}
		if h := e.checkedHook.Load(); h != nil {
			(*h)()
		}
		var ok bool
		if start, ok = e.begin(c.WebhookID, gen); ok {
			ep.lastStart.Store(start.UnixNano())
			break
		}
		// Changed since its checks (its goroutine waited to run again on a
		// busy machine, or its lease's extension took a while): the change
		// was answered as holding for it, so it checks again.
		if w == nil {
			w = &waiter{lease: c.Lease}
		}
	}
	sctx, span := startAttempt(ctx, e.tracer, c, wh)
	a, sendErr := e.sender.send(sctx, wh, c.EventID, c.EventType, c.DeliveryID, c.Attempts+1, wh.Body(c.Payload), start)
	endAttempt(span, a)
	if ctx.Err() != nil && !a.Success {
		// Stopped mid-attempt: it did not count, and it is due again once
		// it would have timed out, not while its receiver may still be at it.
		release.notBefore = start.Add(wh.Timeout)
		return release
	}
	// An answer whose headers stalled held its send for the timeout: the
	// endpoint is as slow as a silent one, whatever its status line said
	// (a review: a 503 status line then nothing took the room of a fast
	// endpoint, 20 sends at once where a failing one gets 2).
	headersStalled := errors.Is(sendErr, errHeadersStalled)
	e.mu.Lock()
	ep.failing = (!a.Success && a.StatusCode == 0) || headersStalled
	if a.StatusCode != 0 && !headersStalled {
		if ep.stalled {
			ep.stalled, ep.shed = false, nil
		}
		if ep.latency == 0 {
			ep.latency = a.Duration
		} else {
			ep.latency = (7*ep.latency + a.Duration) / 8
		}
	}
	e.mu.Unlock()
	e.cfg.Observer.Attempted(a)
	o := e.outcome(wh, c, a)
	if !a.Success {
		e.failures.failed(e.clock.Now(), c, o, sendErr)
	}
	return &result{claim: c, outcome: o, deadline: deadline}
}

// failing says whether ep's last attempt got no answer.
func (e *Engine) failing(ep *endpoint) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return ep.failing
}

// begin is the start of an attempt of a delivery to webhookID whose
// checks knew of Engine.changes up to gen, and whether it may begin: not
// if the webhook changed since. A change (Changed) made after it is after
// the attempt's start, so a change's answer follows every attempt it lets
// start: one that had begun is being sent and finishes; the rest check again.
func (e *Engine) begin(webhookID string, gen uint64) (time.Time, bool) {
	now := e.clock.Now()
	if e.changes.Load() == gen {
		return now, true // nothing changed since: a change counted after this load is after now
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock.Now(), e.changedLocked(webhookID) <= gen
}

// wait waits for a send slot at ep as a waiter that other waiters' checks
// see (stillLive); nil when ctx ended first or the endpoint stalled
// (shedStalled), with no slot taken.
func (e *Engine) wait(ctx context.Context, ep *endpoint, lease hookd.Lease) *waiter {
	w := &waiter{lease: lease}
	e.mu.Lock()
	if ep.waiting == nil {
		ep.waiting = map[*waiter]struct{}{}
	}
	if ep.shed == nil {
		ep.shed = make(chan struct{})
	}
	shed := ep.shed
	if len(ep.waiting) == 0 {
		// Its stall is reckoned from now at the earliest: an endpoint idle
		// for a while began no attempt meanwhile, and the deliveries
		// holding its slots now may not have begun theirs yet.
		ep.lastStart.Store(max(ep.lastStart.Load(), e.clock.Now().UnixNano()))
	}
	ep.waiting[w] = struct{}{}
	e.queuing[ep] = struct{}{}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(ep.waiting, w)
		if len(ep.waiting) == 0 {
			delete(e.queuing, ep)
		}
		e.mu.Unlock()
	}()
	select {
	case ep.sends <- struct{}{}:
		return w
	case <-shed:
		return nil
	case <-ctx.Done():
		return nil
	}
}

// stallFactor times FastAnswer is how long every send to a fast endpoint
// may go unanswered, with deliveries waiting behind them, before it counts
// as fast no more. Sends at a fast endpoint end every few milliseconds
// (PerEndpoint of them, each within FastAnswer on average).
const stallFactor = 4

// shedStalled lets go the deliveries waiting at fast endpoints whose sends
// have all gone unanswered for stallFactor×FastAnswer: they go back to the
// queue, for claims to take at the endpoint's smaller room, instead of
// holding workers for its timeout. An audit: eight tenants' fast endpoints
// turned to hang held PerEndpoint×FastQueue workers each (all 2,048) for
// the 30 s their sends took to time out, and another tenant's events
// waited 15 s. Its slots full, an endpoint with no attempt begun since
// then has none in flight that began later.
func (e *Engine) shedStalled() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.queuing) == 0 {
		return
	}
	now := e.clock.Now().UnixNano()
	for ep := range e.queuing {
		// No shed: an answer ended its stall while the deliveries it let
		// go were still leaving (and those waiting since made a new one).
		if !ep.stalled && ep.shed != nil && now-ep.lastStart.Load() >= int64(stallFactor*e.cfg.FastAnswer) {
			ep.stalled = true
			close(ep.shed)
		}
	}
}

// recheck is what a delivery claimed when Engine.changes was gen, that
// waited its turn (w, since queued) or was told of a change (Changed),
// sends with: wh, or the webhook as read since; or, as a result, why it is
// not sent. A change since the claim (a delete, a disable, a cancel, a new
// URL or secret) must hold for what had not started. What other waiters'
// checks learned holds for it however short its wait; after RecheckAfter,
// or a Changed since its claim, it reads its webhook again and asks the
// store whether it is still to be sent.
func (e *Engine) recheck(ctx context.Context, c *hookd.Claim, ep *endpoint, w *waiter, wh *hookd.Webhook, queued time.Time, gen uint64, release *result) (*hookd.Webhook, *result) {
	e.mu.Lock()
	known := !w.checked.IsZero() && !w.live
	changed := e.changedLocked(c.WebhookID)
	if ch := e.hooks[c.WebhookID]; ch != nil && ch.readAt.After(queued) && ch.gen >= changed {
		wh = ch.wh
	}
	e.mu.Unlock()
	if r := e.unusable(ctx, c, wh, nil, release); r != nil {
		return nil, r
	}
	if known {
		return nil, e.notHeld(ctx, c, false, nil, "", true, release)
	}
	if changed <= gen && e.clock.Now().Sub(queued) < e.cfg.RecheckAfter {
		return wh, nil
	}
	wh, err := e.freshWebhook(ctx, c)
	if r := e.unusable(ctx, c, wh, err, release); r != nil {
		return nil, r
	}
	live, err := e.stillLive(ctx, c, ep, w)
	return wh, e.notHeld(ctx, c, live, err, "check a held delivery", true, release)
}

// notHeld is what becomes of a claim that a check of its lease (what)
// found still held (ok) or not, or could not make (err); nil when it is
// still this process's to send. A delivery found not held while it waited
// its turn was almost always cancelled or deleted by a user, hundreds at
// once: quiet logs it at debug, not as a lost lease.
func (e *Engine) notHeld(ctx context.Context, c *hookd.Claim, ok bool, err error, what string, quiet bool, release *result) *result {
	switch {
	case err != nil:
		if ctx.Err() == nil {
			e.log.Error(what+"; the delivery is released, to be claimed again", "delivery", c.DeliveryID, "err", err)
		}
		return release
	case !ok && quiet:
		e.log.Debug("not sent: cancelled, deleted or claimed elsewhere before it was sent", "delivery", c.DeliveryID, "webhook", c.WebhookID)
		return release
	case !ok:
		// Its lease was lost (the release changes nothing), or it was
		// cancelled while held (the release ends it CANCELED).
		e.failures.leaseLost(e.clock.Now(), c)
		return release
	}
	return nil
}

// stillLive says whether w's delivery is still held under its lease and
// waiting (not cancelled). One read of the store checks, with it, every
// delivery waiting at the endpoint that was not checked in the last
// RecheckAfter (or not since its webhook's last Changed), so a backlog's deliveries
// cost one read each RecheckAfter, not one each.
func (e *Engine) stillLive(ctx context.Context, c *hookd.Claim, ep *endpoint, w *waiter) (bool, error) {
	now, gen := e.clock.Now(), e.changes.Load()
	e.mu.Lock()
	changed := e.changedLocked(c.WebhookID)
	if w.checkedGen >= changed && now.Sub(w.checked) < e.cfg.RecheckAfter {
		live := w.live
		e.mu.Unlock()
		return live, nil
	}
	// One waiter a delivery: the process may hold one twice (its lease
	// ran out and it claimed it again), and the answer names deliveries.
	batch := []*waiter{w}
	ids := map[string]bool{w.lease.DeliveryID: true}
	for o := range ep.waiting {
		if len(batch) == liveCheckBatch {
			break
		}
		if (o.checkedGen < changed || now.Sub(o.checked) >= e.cfg.RecheckAfter) && !ids[o.lease.DeliveryID] {
			batch = append(batch, o)
			ids[o.lease.DeliveryID] = true
		}
	}
	e.mu.Unlock()
	leases := make([]hookd.Lease, len(batch))
	for i, o := range batch {
		leases[i] = o.lease
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.StoreTimeout)
	defer cancel()
	held, err := e.store.LiveLeases(ctx, &hookd.LiveLeasesParams{Leases: leases})
	if err != nil {
		return false, err
	}
	live := make(map[string]bool, len(held))
	for _, id := range held {
		live[id] = true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, o := range batch {
		if gen > o.checkedGen || gen == o.checkedGen && now.After(o.checked) { // a check begun later may have ended first
			o.checked, o.checkedGen, o.live = now, gen, live[o.lease.DeliveryID]
		}
	}
	return live[w.lease.DeliveryID], nil
}

// liveCheckBatch caps the deliveries one LiveLeases reads.
const liveCheckBatch = 512

// unusable is what becomes of a claim whose webhook (read with err) is
// gone or disabled, or could not be read; nil when it can be sent to.
func (e *Engine) unusable(ctx context.Context, c *hookd.Claim, wh *hookd.Webhook, err error, release *result) *result {
	switch {
	case errors.Is(err, hookd.ErrNotFound):
		return &result{claim: c} // deleted with its deliveries
	case err != nil:
		if ctx.Err() == nil {
			e.log.Error("read webhook", "webhook", c.WebhookID, "err", err)
		}
		return release
	case !wh.Enabled:
		return release // the next claim ends it FAILED
	}
	return nil
}

// attemptLease is the most an attempt of wh can take from its start until
// its outcome is written: the timeout to the status line, the body's read,
// and the recorder's write it may wait behind and its own, each bounded by
// StoreTimeout.
func (e *Engine) attemptLease(wh *hookd.Webhook) time.Duration {
	return wh.Timeout + e.cfg.BodyTimeout + 2*e.cfg.StoreTimeout + e.cfg.RecordWait
}

// extend lengthens a claim's lease, held until deadline, to d and reports
// whether it is still this process's. It may take until deadline
// (storeBudget): cut off at StoreTimeout under contention, extensions with
// a short --lease timed out and their deliveries went back to the queue
// unsent.
func (e *Engine) extend(ctx context.Context, c *hookd.Claim, d time.Duration, deadline time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, e.storeBudget(deadline))
	defer cancel()
	ok, _, err := queue.Extend(ctx, e.store, []hookd.Lease{c.Lease}, d)
	return len(ok) == 1, err
}

func (e *Engine) outcome(wh *hookd.Webhook, c *hookd.Claim, a *hookd.Attempt) *hookd.Outcome {
	a.Manual = c.Manual
	o := &hookd.Outcome{Lease: c.Lease, WebhookID: c.WebhookID, EventID: c.EventID, EventType: c.EventType, Manual: c.Manual, Attempt: a}
	switch {
	case a.Success:
		o.Status = hookd.StatusSuccess
	case c.Manual || a.Number >= wh.MaxAttempts || a.StatusCode == http.StatusGone:
		// 410 Gone: the receiver says the endpoint is no more; the
		// webhook is disabled as this outcome is recorded.
		o.Status = hookd.StatusFailed
	default:
		o.Status = hookd.StatusRetrying
		o.RetryIn = Backoff(e.cfg.RetrySchedule, a.Number, jitterRand())
		if a.StatusCode == 429 || a.StatusCode == 503 {
			o.RetryIn = max(o.RetryIn, RetryAfter(a.ResponseHeaders["Retry-After"], a.StartedAt))
		}
	}
	return o
}

// recordEnough is how many outcomes end a record's wait for company: the
// pages they share are then shared enough, and a fast endpoint's deliveries
// held the longer are few beside its room (PerEndpoint×FastQueue), which a
// wait measured only in time would fill at a few thousand a second.
const recordEnough = 32

// record writes results in batches: whatever has arrived, up to
// RecordBatch, in one write, after waiting, while fewer than recordEnough
// have come, until the oldest has waited RecordWait. A busy store needs no
// wait: outcomes gather while it writes, and the oldest is past its wait
// when the write ends. A
// delivery is held (counted against Workers and its endpoint's room) until
// its result is written here, so a slow store slows the claims, never the
// other way round.
func (e *Engine) record() {
	defer close(e.recDone)
	batch := make([]*result, 0, e.cfg.RecordBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for r := range e.results {
		batch = append(batch[:0], r)
		closed := false
	fill:
		for len(batch) < e.cfg.RecordBatch {
			select {
			case r, ok := <-e.results:
				if !ok {
					closed = true
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		enough := min(recordEnough, e.cfg.RecordBatch)
		if wait := e.cfg.RecordWait - time.Since(batch[0].done); !closed && wait > 0 && len(batch) < enough && !e.full() {
			timer.Reset(wait)
		linger:
			for len(batch) < enough {
				select {
				case r, ok := <-e.results:
					if !ok {
						break linger
					}
					batch = append(batch, r)
					if e.full() {
						break linger
					}
				case <-timer.C:
					break linger
				}
			}
			timer.Stop()
		}
		e.write(batch)
		e.unhold(batch)
	}
}

// full says whether the engine holds Workers deliveries: then it takes
// no more until a write frees room, and an outcome waiting for company
// would only hold up the next claims (Workers below 32, or a store slower
// than its senders).
func (e *Engine) full() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.held >= e.cfg.Workers
}

// observe tells the observer what a Record wrote (final statuses, first
// successes after their publish) and logs the webhooks it disabled.
func (e *Engine) observe(rec *queue.Recorded, results []*result) {
	if len(rec.Written) > 0 {
		written := make(map[string]bool, len(rec.Written))
		for _, id := range rec.Written {
			written[id] = true
		}
		// Cancelled while being sent: finished now, CANCELED (the cancel
		// counted only the others).
		finished := map[hookd.DeliveryStatus]int{hookd.StatusCanceled: len(rec.Canceled)}
		for _, id := range rec.Canceled {
			delete(written, id)
		}
		for _, r := range results {
			o := r.outcome
			if o == nil || !written[o.DeliveryID] || (o.Status != hookd.StatusSuccess && o.Status != hookd.StatusFailed) {
				continue
			}
			finished[o.Status]++
			if o.Status == hookd.StatusSuccess && !r.claim.PublishedAt.IsZero() && !r.claim.Manual {
				e.cfg.Observer.Delivered(o.Attempt.StartedAt.Add(o.Attempt.Duration).Sub(r.claim.PublishedAt))
			}
		}
		for st, n := range finished {
			if n > 0 {
				e.cfg.Observer.Finished(st, n)
			}
		}
	}
	if n := len(rec.ReleasedCanceled); n > 0 {
		// Cancelled while held, then let go unsent (the engine stopping):
		// finished now, as the cancel left them to this process.
		e.cfg.Observer.Finished(hookd.StatusCanceled, n)
	}
	for _, d := range rec.Disabled {
		e.cfg.Observer.Disabled(d.Reason)
		e.Changed(d.WebhookID) // what this process holds for it waits no more
	}
	if rec.FailedWithDisabled > 0 {
		e.cfg.Observer.Finished(hookd.StatusFailed, rec.FailedWithDisabled)
	}
	if rec.Created > 0 {
		e.cfg.Observer.Created(rec.Created)
	}
	e.logDisabled(rec.Disabled)
}

// wakeForRetries wakes the claim loop when the soonest retry the recorded
// outcomes scheduled falls due, if that is before the loop's next poll:
// otherwise a retry schedule's waits under PollInterval (and their jitter
// below it) stretched to the poll.
func (e *Engine) wakeForRetries(outcomes []*hookd.Outcome) {
	soonest := e.cfg.PollInterval
	for _, o := range outcomes {
		if o.Status == hookd.StatusRetrying && o.RetryIn < soonest {
			soonest = o.RetryIn
		}
	}
	if soonest < e.cfg.PollInterval {
		time.AfterFunc(soonest, e.Notify)
	}
}

// logDisabled says which webhooks the recorded attempts disabled.
func (e *Engine) logDisabled(ds []hookd.DisabledWebhook) {
	for _, d := range ds {
		why := "its receiver answered 410 Gone"
		if d.Reason == hookd.DisabledFailing {
			why = fmt.Sprintf("every attempt has failed for %s, with a delivery out of attempts", e.cfg.DisableAfter)
		}
		attrs := []any{"tenant", d.TenantID, "webhook", d.WebhookID, "reason", d.Reason, "why", why}
		if d.DeliveryID != "" {
			attrs = append(attrs, "delivery", d.DeliveryID)
		}
		e.log.Warn("webhook disabled", attrs...)
	}
}

// write records a batch of results. What the store cannot take is tried
// again for as long as its lease lasts, and its delivery stays held
// meanwhile: a store that is slow or away stops the claims, instead of
// outcomes going unwritten and their deliveries being sent again. What is
// still unwritten when its lease ends (or when the engine stops) is not
// lost work: the delivery is sent again.
func (e *Engine) write(batch []*result) {
	pending := batch
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		var outcomes []*hookd.Outcome
		var releases []queue.Release
		for _, r := range pending {
			switch {
			case r.outcome != nil:
				outcomes = append(outcomes, r.outcome)
			case r.release:
				rel := queue.Release{Lease: r.claim.Lease, WebhookID: r.claim.WebhookID}
				if !r.notBefore.IsZero() {
					rel.DueIn = r.notBefore.Sub(e.clock.Now())
				}
				releases = append(releases, rel)
			}
		}
		if len(outcomes)+len(releases) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), e.writeTimeout(pending))
		// A write that may last until its leases end is cut to
		// StoreTimeout once the engine stops: Stop waits for it.
		stopping := context.AfterFunc(e.loopCtx, func() { time.AfterFunc(e.cfg.StoreTimeout, cancel) })
		rec, err := e.policy.Record(ctx, e.store, outcomes, releases)
		stopping()
		cancel()
		e.observe(rec, pending)
		if rec.Stale > 0 {
			// A lease ran out before its outcome came, a manual retry took
			// the delivery, or it was deleted with its webhook: the outcome
			// or release changed nothing. Only the first is a fault, and a
			// delete makes hundreds at once: info, not a warning.
			e.log.Info("outcomes not recorded: the delivery was deleted, retried by hand or its lease ran out", "count", rec.Stale)
		}
		if err == nil {
			e.wakeForRetries(outcomes)
			return
		}
		failed := make(map[string]bool, len(rec.Failed))
		for _, id := range rec.Failed {
			failed[id] = true
		}
		now := e.clock.Now()
		var again []*result
		for _, r := range pending {
			if failed[r.claim.DeliveryID] && now.Before(r.deadline) {
				again = append(again, r)
			}
		}
		if len(again) == 0 || e.loopCtx.Err() != nil {
			e.log.Error("record attempts; what was not written is sent again after its lease", "notWritten", len(rec.Failed), "err", err)
			return
		}
		e.log.Warn("record attempts; trying again", "count", len(again), "err", err)
		pending = again
		select {
		case <-time.After(wait):
		case <-e.loopCtx.Done():
		}
	}
}

// storeBudget is how long a write about deliveries whose lease ends at
// deadline may take (a lease's extension, a write of outcomes): until the
// lease ends, and StoreTimeout at least. Such a write is tried again until
// then anyway, and under contention (processes recording for one webhook
// queue on its row's lock) one cut off at StoreTimeout is rolled back and
// starts again at the back of the queue: with a short --lease on
// PostgreSQL, outcomes went unwritten until their leases ended and
// deliveries were sent again by living processes. One that commits after
// the lease ended is still fenced by the lease's token.
func (e *Engine) storeBudget(deadline time.Time) time.Duration {
	return max(e.cfg.StoreTimeout, deadline.Sub(e.clock.Now()))
}

// writeTimeout is storeBudget for a batch: until the last of its leases
// ends. (write cuts it to StoreTimeout once the engine stops.)
func (e *Engine) writeTimeout(pending []*result) time.Duration {
	var last time.Time
	for _, r := range pending {
		if r.deadline.After(last) {
			last = r.deadline
		}
	}
	return e.storeBudget(last)
}

// TestEventType is the type of a test send when the caller names none.
const TestEventType = "webhook.test"

// Test sends one request to wh now, waits for it, and keeps it as a
// delivery of a new event (a single manual attempt). It needs no Start: an
// API-only process makes its test sends with an engine it never starts.
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
	if wait, err := queue.TakeRate(ctx, e.store, wh.ID, wh.RateLimit); err != nil {
		return nil, fmt.Errorf("test send: %w", err)
	} else if wait > 0 {
		return nil, hookd.Errorf(hookd.ErrRateLimited, "the webhook's rateLimit (%d a second) leaves no request to send now: try again in %s",
			wh.RateLimit, max(wait.Round(time.Millisecond), time.Millisecond))
	}
	lease := max(e.cfg.Lease, e.attemptLease(wh))
	deadline := now.Add(lease) // no later than the store's lease, which starts after now
	c, err := e.store.CreateTestDelivery(ctx, ev, wh.ID, lease)
	if err != nil {
		return nil, fmt.Errorf("test send: %w", err)
	}
	a, sendErr := e.sender.send(ctx, wh, ev.ID, ev.Type, c.DeliveryID, 1, wh.Body(ev.Payload), e.clock.Now())
	e.cfg.Observer.Attempted(a)
	o := e.outcome(wh, c, a)
	if !a.Success {
		// Logged as every failed attempt is (the contract), an SSRF
		// refusal as such: the operator reads why a test did not arrive.
		e.failures.failed(e.clock.Now(), c, o, sendErr)
	}
	rec, err := e.recordTest(context.WithoutCancel(ctx), o, deadline)
	// A test send is not a delivery of the platform's events: it counts as
	// an attempt, not as a delivery created or finished.
	e.observe(rec, nil)
	if err != nil {
		return nil, fmt.Errorf("test send: %w", err)
	}
	return a.TestResult(c.DeliveryID, ev.ID), nil
}

// recordTest writes a test send's outcome, as write does an engine's: each
// try may take until the test delivery's lease ends (storeBudget), and one that fails is
// tried again until then. An outcome left unwritten has its delivery, still
// PENDING, claimed and sent again once its lease ends (session 22 noticed
// it: one try of StoreTimeout, and a store slow for a moment made the
// receiver get the test twice).
func (e *Engine) recordTest(ctx context.Context, o *hookd.Outcome, deadline time.Time) (*queue.Recorded, error) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		rctx, cancel := context.WithTimeout(ctx, e.storeBudget(deadline))
		rec, err := e.policy.Record(rctx, e.store, []*hookd.Outcome{o}, nil)
		cancel()
		if err == nil || len(rec.Failed) == 0 || !e.clock.Now().Add(wait).Before(deadline) {
			return rec, err
		}
		e.log.Warn("record a test send; trying again", "delivery", o.DeliveryID, "err", err)
		time.Sleep(wait)
	}
}

// startAttempt starts an attempt's span, a child of its event's publish
// span (stored with the event, so an attempt hours later still joins the
// trace), named and described per the OpenTelemetry HTTP client
// conventions. The sender passes its context on to the receiver as
// traceparent. Its attributes are few, as every attempt pays for them at
// full load: the tenant and the event are its parent's, and are repeated
// only on an attempt with no parent (an event published untraced). They
// are set once the span is known to record, so that an attempt not
// sampled (or not traced at all) builds none.
func startAttempt(ctx context.Context, tracer trace.Tracer, c *hookd.Claim, wh *hookd.Webhook) (context.Context, trace.Span) {
	ctx = traceparent.Context(ctx, c.TraceParent)
	ctx, span := tracer.Start(ctx, http.MethodPost, trace.WithSpanKind(trace.SpanKindClient))
	if !span.IsRecording() {
		return ctx, span
	}
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, attribute.String("http.request.method", http.MethodPost),
		attribute.String("hookd.webhook.id", c.WebhookID), attribute.String("hookd.delivery.id", c.DeliveryID))
	if c.TraceParent == "" {
		attrs = append(attrs, attribute.String("hookd.tenant.id", c.TenantID), attribute.String("hookd.event.id", c.EventID))
	}
	if c.Attempts > 0 {
		attrs = append(attrs, attribute.Int("http.request.resend_count", c.Attempts))
	}
	if u, err := url.Parse(wh.URL); err == nil {
		attrs = append(attrs, attribute.String("server.address", u.Hostname()))
	}
	span.SetAttributes(attrs...)
	return ctx, span
}

func endAttempt(span trace.Span, a *hookd.Attempt) {
	if a.StatusCode != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", a.StatusCode))
	}
	if !a.Success {
		span.SetStatus(codes.Error, a.Error)
	}
	span.End()
}
