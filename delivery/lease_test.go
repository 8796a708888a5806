package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/queue"
	"github.com/hookd/hookd/sqlite"
)

var errGated = errors.New("gated")

// gated is a real store whose queue can be held at one step (RecordOutcomes,
// ExtendLeases or LeaseDeliveries): a transaction that reaches it while the gate is
// shut returns errGated, is rolled back, and runs again from scratch once
// the gate opens (a QueueTx function may always be run again). So the
// step waits outside any transaction, and the rest of the store goes on.
type gated struct {
	*sqlite.Store
	step    string
	open    chan struct{}
	once    sync.Once
	reached chan struct{} // signalled whenever a transaction meets the shut gate
	met     atomic.Int64  // how many times one did
	written atomic.Int64  // outcomes written
	records atomic.Int64  // RecordOutcomes calls that wrote
	lastDue atomic.Int64  // the deadline (Unix ns) of the last transaction to meet the gate
}

func gate(step string) func(*delivery.Config) *gated {
	return func(c *delivery.Config) *gated {
		g := &gated{Store: c.Store.(*sqlite.Store), step: step, open: make(chan struct{}), reached: make(chan struct{}, 1)}
		c.Store = g
		return g
	}
}

func (g *gated) Open() { g.once.Do(func() { close(g.open) }) }

func (g *gated) QueueTx(ctx context.Context, fn func(hookd.QueueTx) error) error {
	for {
		err := g.Store.QueueTx(ctx, func(tx hookd.QueueTx) error { return fn(&gatedTx{QueueTx: tx, g: g}) })
		if !errors.Is(err, errGated) {
			return err
		}
		if due, ok := ctx.Deadline(); ok {
			g.lastDue.Store(due.UnixNano())
		}
		g.met.Add(1)
		select {
		case g.reached <- struct{}{}:
		default:
		}
		select {
		case <-g.open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type gatedTx struct {
	hookd.QueueTx
	g *gated
}

func (t *gatedTx) shut(step string) bool {
	select {
	case <-t.g.open:
		return false
	default:
		return t.g.step == step
	}
}

func (t *gatedTx) RecordOutcomes(ctx context.Context, p *hookd.RecordOutcomesParams) ([]string, []string, error) {
	if t.shut("record") {
		return nil, nil, errGated
	}
	ids, canceled, err := t.QueueTx.RecordOutcomes(ctx, p)
	t.g.written.Add(int64(len(ids))) // counted before the commit: errs on the side of fewer outstanding
	if len(ids) > 0 {
		t.g.records.Add(1)
	}
	return ids, canceled, err
}

func (t *gatedTx) ExtendLeases(ctx context.Context, p *hookd.ExtendLeasesParams) ([]string, error) {
	if t.shut("extend") {
		return nil, errGated
	}
	return t.QueueTx.ExtendLeases(ctx, p)
}

func (t *gatedTx) LeaseDeliveries(ctx context.Context, p *hookd.LeaseDeliveriesParams) ([]*hookd.Claim, error) {
	if t.shut("lease") {
		return nil, errGated
	}
	return t.QueueTx.LeaseDeliveries(ctx, p)
}

// hits counts requests per webhook-id.
type hits struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *hits) add(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	h.n[id]++
}

func (h *hits) twice() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for id, n := range h.n {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", id, n))
		}
	}
	return out
}

// A 1 s lease, 8 deliveries held for a slow endpoint with one send at a
// time: the last ones wait longer than their lease. Each attempt's lease is
// extended before it starts, so none is claimed again while queued, and
// every delivery is sent exactly once.
func TestShortLeaseSlowReceiverSendsOnce(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) {
		c.Lease, c.PerEndpoint, c.FastQueue, c.FastAnswer, c.FailingEndpoint = time.Second, 1, 8, time.Second, 1
	})
	var got hits
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		got.add(r.Header.Get("webhook-id"))
		time.Sleep(300 * time.Millisecond) // the receiver's work
	})
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.Timeout = time.Second })
	// One answer first, so the endpoint counts as answering fast: its room
	// is 8 with one send at a time.
	h.wait(h.publish(wh), wh, "first", status(hookd.StatusSuccess))
	var events []*hookd.Event
	for i := 0; i < 9; i++ {
		events = append(events, h.publish(wh))
	}
	for _, ev := range events {
		h.wait(ev, wh, "success", status(hookd.StatusSuccess))
	}
	if dup := got.twice(); len(dup) > 0 {
		t.Fatalf("sent more than once by one healthy process: %v", dup)
	}
}

// Outcomes that cannot be written hold their deliveries while their write
// waits (up to their leases' end): the engine never has more than Workers
// deliveries sent and not recorded.
func TestRecordingStalledCapsSends(t *testing.T) {
	const workers = 16
	var g *gated
	h := newHarness(t, func(c *delivery.Config) {
		c.Workers, c.PerEndpoint = workers, workers
		// A lease far longer than the stall: a held delivery whose lease
		// ran out would be let go and sent again, by design, which under a
		// loaded -race run (a stall of several seconds) read as a cap broken.
		c.Lease = 2 * time.Minute
		g = gate("record")(c)
	})
	defer g.Open()
	var received, worst atomic.Int64
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if out := received.Add(1) - g.written.Load(); out > worst.Load() {
			worst.Store(out)
		}
	})
	wh := h.webhook(rcv.URL)
	var events []*hookd.Event
	for i := 0; i < 200; i++ {
		events = append(events, h.publish(wh))
	}
	for received.Load() < workers {
		time.Sleep(time.Millisecond)
	}
	// The recorder's write waits at the gate, and meanwhile the engine is
	// full: more turns of its claim loop claim nothing.
	for g.met.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	for loops := h.engine.Loops(); h.engine.Loops() < loops+3; {
		h.engine.Notify()
		runtime.Gosched()
	}
	if n := received.Load(); n != workers || h.engine.Held() != workers {
		t.Fatalf("with recording stalled: %d sent, %d held; at most %d may be outstanding", n, h.engine.Held(), workers)
	}
	g.Open()
	for _, ev := range events {
		h.wait(ev, wh, "success", status(hookd.StatusSuccess))
	}
	if w := worst.Load(); w > workers {
		t.Fatalf("%d sends outstanding at once, Workers is %d", w, workers)
	}
}

// slowRecord is a harness whose outcomes' writes wait at a gate, with a
// StoreTimeout of 100 ms and a minute's lease, and a webhook whose
// receiver counts what it gets. It returns once a write met the gate,
// after send began what is written, having checked that the write may
// take until its lease ends, not only StoreTimeout: cut off and tried
// again, a write under contention (records of many processes queueing on
// one webhook's row) started over at the back of the queue, and with a
// short lease outcomes went unwritten until their deliveries were sent
// again.
func slowRecord(t *testing.T, send func(*harness, *hookd.Webhook)) (*harness, *gated, *hits, *hookd.Webhook) {
	t.Helper()
	var g *gated
	h := newHarness(t, func(c *delivery.Config) {
		c.StoreTimeout, c.Lease = 100*time.Millisecond, time.Minute
		g = gate("record")(c)
	})
	t.Cleanup(g.Open)
	got := &hits{}
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { got.add(r.Header.Get("webhook-id")) })
	wh := h.webhook(rcv.URL)
	send(h, wh)
	<-g.reached
	if left := time.Until(time.Unix(0, g.lastDue.Load())); left < 30*time.Second {
		t.Fatalf("the write of an outcome whose lease has a minute left may take %s", left)
	}
	return h, g, got, wh
}

func TestSlowRecordHasItsLease(t *testing.T) {
	var ev *hookd.Event
	h, g, got, wh := slowRecord(t, func(h *harness, wh *hookd.Webhook) { ev = h.publish(wh) })
	g.Open()
	h.wait(ev, wh, "success", status(hookd.StatusSuccess))
	if dup := got.twice(); len(dup) > 0 || g.met.Load() != 1 {
		t.Fatalf("sent %v more than once; the write met the gate %d times, want once", dup, g.met.Load())
	}
}

// So may a test send's: cut off at StoreTimeout, the test delivery stayed
// PENDING and was claimed and sent again once its lease ended.
func TestSlowTestSendRecordHasItsLease(t *testing.T) {
	type answer struct {
		res *hookd.TestResult
		err error
	}
	done := make(chan answer, 1)
	h, g, got, wh := slowRecord(t, func(h *harness, wh *hookd.Webhook) {
		go func() {
			res, err := h.engine.Test(context.Background(), wh, "", nil)
			done <- answer{res, err}
		}()
	})
	g.Open()
	a := <-done
	if a.err != nil || !a.res.Success {
		t.Fatalf("test send: %+v, %v", a.res, a.err)
	}
	d, err := h.store.GetDelivery(context.Background(), wh.TenantID, a.res.DeliveryID)
	if err != nil || d.Delivery.Status != hookd.StatusSuccess || d.Delivery.Attempts != 1 || len(got.twice()) > 0 {
		t.Fatalf("after a slow write: %+v, %v; sent twice: %v", d, err, got.twice())
	}
}

// A lease's extension before an attempt may take until the lease ends,
// not only StoreTimeout: cut off under contention, extensions with a short
// lease timed out and their deliveries went back to the queue unsent.
func TestSlowExtensionHasItsLease(t *testing.T) {
	var g *gated
	h := newHarness(t, func(c *delivery.Config) {
		// The webhook's 5 s timeout needs a longer lease than 5 s: each
		// attempt's lease is extended before it starts.
		c.StoreTimeout, c.Lease = 100*time.Millisecond, 5*time.Second
		g = gate("extend")(c)
	})
	defer g.Open()
	var got hits
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { got.add(r.Header.Get("webhook-id")) })
	wh := h.webhook(rcv.URL)
	ev := h.publish(wh)
	select {
	case <-g.reached:
	case <-time.After(time.Minute):
		t.Fatal("no extension before the attempt")
	}
	if left := time.Until(time.Unix(0, g.lastDue.Load())); left < 2*time.Second {
		t.Fatalf("the extension of a lease with 5 s left may take %s", left)
	}
	g.Open()
	h.wait(ev, wh, "success", status(hookd.StatusSuccess))
	if dup := got.twice(); len(dup) > 0 || g.met.Load() != 1 {
		t.Fatalf("sent %v more than once; the extension met the gate %d times, want once", dup, g.met.Load())
	}
}

// Stop cuts a write under way to StoreTimeout, however long its leases
// would let it wait: a stalled store at shutdown holds Stop that long, not
// for the lease (an hour here).
func TestStopCutsALongWrite(t *testing.T) {
	var g *gated
	h := newHarness(t, func(c *delivery.Config) {
		c.StoreTimeout, c.Lease = 100*time.Millisecond, time.Hour
		g = gate("record")(c)
	})
	defer g.Open()
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {})
	wh := h.webhook(rcv.URL)
	h.publish(wh)
	<-g.reached
	stopped := make(chan struct{})
	go func() {
		h.engine.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(time.Minute): // a minute, where the write's leases would hold it an hour
		t.Fatal("Stop waits for a write at the gate until its leases end")
	}
}

// outcomesWaiting sets up three delivered outcomes waiting (RecordWait
// an hour) for company while a fourth delivery, to a receiver that holds
// its request until release is closed, is still being sent.
func outcomesWaiting(t *testing.T) (h *harness, g *gated, fast []*hookd.Event, slow *hookd.Event, whFast, whSlow *hookd.Webhook, release chan struct{}) {
	h = newHarness(t, func(c *delivery.Config) {
		c.RecordWait, c.Lease, c.Workers = time.Hour, 2*time.Hour, 5
		g = gate("")(c)
	})
	release = make(chan struct{})
	var received atomic.Int64
	quick := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { received.Add(1) })
	held := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	whSlow = h.webhook(held.URL)
	slow = h.publish(whSlow)
	whFast = h.webhook(quick.URL)
	fast = []*hookd.Event{h.publish(whFast), h.publish(whFast), h.publish(whFast)}
	for received.Load() < 4 {
		time.Sleep(time.Millisecond)
	}
	// Three outcomes are in, or coming; the fourth cannot come: no write
	// may happen (the wait is an hour, and the engine holds fewer than
	// Workers).
	for h.engine.Held() != 4 {
		time.Sleep(time.Millisecond)
	}
	if n := g.records.Load(); n != 0 {
		t.Fatalf("%d writes while the outcomes' wait lasts", n)
	}
	return h, g, fast, slow, whFast, whSlow, release
}

// Outcomes that come within RecordWait of the first share its write, which
// happens as soon as the engine holds Workers deliveries.
func TestOutcomesShareAWrite(t *testing.T) {
	h, g, fast, _, whFast, _, release := outcomesWaiting(t)
	defer close(release)
	fast = append(fast, h.publish(whFast)) // the fifth held: Workers
	for _, ev := range fast {
		h.wait(ev, whFast, "success", status(hookd.StatusSuccess))
	}
	if n, w := g.records.Load(), g.written.Load(); n != 1 || w != 4 {
		t.Fatalf("wrote %d outcomes in %d writes, want 4 in 1", w, n)
	}
}

// Stop writes the outcomes waiting at once, not after their wait.
func TestStopWritesWaitingOutcomes(t *testing.T) {
	h, g, fast, _, whFast, _, release := outcomesWaiting(t)
	defer close(release)
	h.engine.Stop() // the held send is cut off after ShutdownTimeout, and released
	if n, w := g.records.Load(), g.written.Load(); n != 1 || w != int64(len(fast)) {
		t.Fatalf("Stop wrote %d outcomes in %d writes, want %d in 1", w, n, len(fast))
	}
	for _, ev := range fast {
		h.wait(ev, whFast, "success", status(hookd.StatusSuccess))
	}
}

// A 2xx status line within the timeout is a success, even if the body then
// stalls: one attempt, no retry.
func TestStalledBodyIsOneSuccess(t *testing.T) {
	stall := make(chan struct{})
	defer close(stall)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("started"))
		w.(http.Flusher).Flush()
		select { // the body never ends
		case <-stall:
		case <-r.Context().Done():
		}
	})
	h := newHarness(t, func(c *delivery.Config) { c.BodyTimeout = 100 * time.Millisecond })
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.Timeout = 2 * time.Second })
	dd := h.wait(h.publish(wh), wh, "success", status(hookd.StatusSuccess))
	if dd.Delivery.Attempts != 1 || dd.Delivery.LastStatusCode != 200 || len(rcv.got()) != 1 || dd.Attempts[0].Error != "" {
		t.Fatalf("delivery %+v, attempt %+v, %d requests", dd.Delivery, dd.Attempts[0], len(rcv.got()))
	}
	if string(dd.Attempts[0].ResponseBody) != "started" {
		t.Fatalf("body kept = %q", dd.Attempts[0].ResponseBody)
	}
}

// A receiver answering with 2,000 headers: what is kept is capped at 8 KiB
// and neither the database nor the process grows with it.
func TestManyResponseHeadersCapped(t *testing.T) {
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 2000; i++ {
			w.Header().Set(fmt.Sprintf("X-Header-%04d", i), fmt.Sprintf("value-%04d-%s", i, "abcdefghijklmnop"))
		}
	})
	h := newHarness(t)
	// Reading 2,000 headers twenty times over is slow under -race on a
	// loaded machine: an attempt timed out (5 s) in CI, and its retry and
	// the failing endpoint's pass-over outlasted the wait.
	wh := h.webhook(rcv.URL, func(w *hookd.Webhook) { w.Timeout = 30 * time.Second })
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var events []*hookd.Event
	for i := 0; i < 20; i++ {
		events = append(events, h.publish(wh))
	}
	for _, ev := range events {
		dd := h.wait(ev, wh, "success", status(hookd.StatusSuccess))
		n := 0
		for k, v := range dd.Attempts[0].ResponseHeaders {
			n += len(k) + len(v)
		}
		if n > hookd.MaxResponseHeaders+64 || dd.Attempts[0].ResponseHeaders["…"] == "" {
			t.Fatalf("kept %d bytes of response headers (%d headers)", n, len(dd.Attempts[0].ResponseHeaders))
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 32<<20 {
		t.Fatalf("heap grew %d MB over 20 attempts", grew>>20)
	}
}

// The engine forgets a deleted webhook (and its secrets) once it has been
// idle for CacheIdle.
func TestCachesForgetDeletedWebhooks(t *testing.T) {
	clock := &movable{t: time.Now()}
	h := newHarness(t, func(c *delivery.Config) { c.Clock = clock.Now })
	rcv := newReceiver(t, nil)
	wh := h.webhook(rcv.URL)
	h.wait(h.publish(wh), wh, "success", status(hookd.StatusSuccess))
	if hooks, eps := h.engine.Cached(); hooks != 1 || eps != 1 {
		t.Fatalf("cached %d webhooks, %d endpoints", hooks, eps)
	}
	if err := h.store.DeleteWebhook(context.Background(), "acme", wh.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Minute)
	for {
		h.engine.Notify()
		if hooks, eps := h.engine.Cached(); hooks == 0 && eps == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
}

// A Stop while a claim is being written does not strand what it leased:
// the claimed deliveries are released, due at once.
func TestStopDuringClaimReleases(t *testing.T) {
	var g *gated
	h := newHarness(t, func(c *delivery.Config) { g = gate("lease")(c) })
	rcv := newReceiver(t, nil)
	wh := h.webhook(rcv.URL)
	for i := 0; i < 5; i++ {
		h.publish(wh)
	}
	<-g.reached // a claim is under way
	stopped := make(chan struct{})
	go func() { h.engine.Stop(); close(stopped) }()
	for !h.engine.Stopping() {
		runtime.Gosched()
	}
	g.Open()
	<-stopped
	if len(rcv.got()) != 0 {
		t.Fatalf("sent %d after Stop", len(rcv.got()))
	}
	res, err := queue.Claim(context.Background(), h.store, queue.ClaimParams{Limit: 10, Lease: time.Minute,
		Room: func(string, string) (int, time.Duration) { return 10, 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Claims) != 5 {
		t.Fatalf("after a stop mid-claim, %d of 5 deliveries due; the rest are stranded in a lease", len(res.Claims))
	}
}

func TestConfigRelations(t *testing.T) {
	store, err := sqlite.Open(context.Background(), sqlite.Config{Path: t.TempDir() + "/hookd.db"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, tc := range []struct {
		name string
		cfg  delivery.Config
		ok   bool
	}{
		{"defaults", delivery.Config{Store: store}, true},
		{"short lease, derived store timeout", delivery.Config{Store: store, Lease: time.Second}, true},
		{"store timeout not shorter than the lease", delivery.Config{Store: store, Lease: time.Second, StoreTimeout: time.Second}, false},
		{"failing room above the send cap", delivery.Config{Store: store, PerEndpoint: 2, FailingEndpoint: 3}, false},
		{"negative failure log limit", delivery.Config{Store: store, FailureLogEvery: -time.Second}, false},
		{"record wait not shorter than the lease", delivery.Config{Store: store, Lease: time.Second, RecordWait: time.Second}, false},
		{"no store", delivery.Config{}, false},
	} {
		_, err := delivery.New(tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

// movable is a clock that moves only when told.
type movable struct {
	mu sync.Mutex
	t  time.Time
}

func (m *movable) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

func (m *movable) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t = m.t.Add(d)
}

// finishedCount counts the deliveries an engine says finished, by status.
type finishedCount struct {
	hookd.NopObserver
	mu sync.Mutex
	n  map[hookd.DeliveryStatus]int
}

func (f *finishedCount) Finished(st hookd.DeliveryStatus, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[hookd.DeliveryStatus]int{}
	}
	f.n[st] += n
}

// A delivery cancelled while being sent, then let go unsent because the
// engine stops, stays CANCELED, due never, and is counted finished once;
// it is held as being sent until its timeout would have ended it (its
// receiver may still be at it), so a retry by hand meanwhile is refused.
func TestCanceledThenReleasedIsFinished(t *testing.T) {
	obs := &finishedCount{}
	h := newHarness(t, func(c *delivery.Config) { c.Observer = obs })
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	wh := h.webhook(rcv.URL)
	ev := h.publish(wh)
	<-arrived
	if n, sending, err := h.store.CancelDeliveries(context.Background(), "acme", wh.ID, time.Time{}); err != nil || n != 1 || sending != 1 {
		t.Fatalf("cancel: %d (sending %d) %v", n, sending, err)
	}
	h.engine.Stop() // cuts the send off after ShutdownTimeout and releases it
	dd := h.wait(ev, wh, "cancelled", status(hookd.StatusCanceled))
	if len(dd.Attempts) != 0 {
		t.Fatalf("released after its cancel: %d attempts", len(dd.Attempts))
	}
	if err := h.store.RetryDelivery(context.Background(), "acme", dd.Delivery.ID); !errors.Is(err, hookd.ErrConflict) {
		t.Fatalf("a retry by hand within the cut-off send's timeout: %v", err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.n[hookd.StatusCanceled] != 1 || len(obs.n) != 1 {
		t.Fatalf("finished %v, want one CANCELED", obs.n)
	}
}
