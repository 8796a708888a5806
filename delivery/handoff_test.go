package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
)

// leaseCounter is the real store, counting the deliveries claims lease.
type leaseCounter struct {
	hookd.Deliverer
	leased *atomic.Int64
}

func (s leaseCounter) QueueTx(ctx context.Context, fn func(hookd.QueueTx) error) error {
	return s.Deliverer.QueueTx(ctx, func(tx hookd.QueueTx) error { return fn(countingTx{tx, s.leased}) })
}

type countingTx struct {
	hookd.QueueTx
	leased *atomic.Int64
}

func (tx countingTx) LeaseDeliveries(ctx context.Context, p *hookd.LeaseDeliveriesParams) ([]*hookd.Claim, error) {
	cs, err := tx.QueueTx.LeaseDeliveries(ctx, p)
	if err == nil {
		tx.leased.Add(int64(len(cs)))
	}
	return cs, err
}

// handOff publishes an event as the service does in a process that
// delivers: the engine reserves room, the store leases the deliveries to
// it, the engine takes them.
func (h *harness) handOff(hooks ...*hookd.Webhook) (*hookd.Event, *hookd.PublishResult) {
	h.t.Helper()
	ev := newEvent(h)
	ids := make([]string, len(hooks))
	for i, w := range hooks {
		ids[i] = w.ID
	}
	ho := h.engine.Reserve(hooks)
	res, err := h.store.PublishEvent(context.Background(), ev, ids, ho)
	if ho != nil {
		var leased []*hookd.Claim
		if err == nil {
			leased = res.Leased
		}
		h.engine.Take(ho, leased)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return ev, res
}

func TestHandedOffDeliveryIsSentWithoutAClaim(t *testing.T) {
	var leased atomic.Int64
	h := newHarness(t, func(c *delivery.Config) { c.Store = leaseCounter{c.Store, &leased} })
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	wh := h.webhook(srv.URL)
	ev, res := h.handOff(wh)
	if len(res.Leased) != 1 {
		t.Fatalf("handed off %d deliveries, want 1", len(res.Leased))
	}
	h.wait(ev, wh, "success", func(d *hookd.DeliveryDetail) bool { return d.Delivery.Status == hookd.StatusSuccess })
	h.settle()
	if got.Load() != 1 || leased.Load() != 0 {
		t.Fatalf("receiver got %d requests, claims leased %d deliveries; want 1 and 0", got.Load(), leased.Load())
	}
	if h.engine.Held() != 0 {
		t.Fatalf("held %d after the outcome", h.engine.Held())
	}
}

func TestReserveHoldsRoom(t *testing.T) {
	h := newHarness(t, func(c *delivery.Config) { c.PerEndpoint, c.FailingEndpoint, c.Workers = 2, 2, 6 })
	hook := func(id string, mods ...func(*hookd.Webhook)) *hookd.Webhook {
		w := &hookd.Webhook{ID: id, TenantID: "acme", Enabled: true}
		for _, m := range mods {
			m(w)
		}
		return w
	}
	a := hook("wh_a")
	first, second := h.engine.Reserve([]*hookd.Webhook{a}), h.engine.Reserve([]*hookd.Webhook{a})
	if first == nil || second == nil {
		t.Fatal("no room reserved within the endpoint's room")
	}
	if ho := h.engine.Reserve([]*hookd.Webhook{a}); ho != nil {
		t.Fatalf("reserved %v past the endpoint's room", ho.WebhookIDs)
	}
	h.engine.Take(second, nil) // the publish failed: its room is free again
	third := h.engine.Reserve([]*hookd.Webhook{a})
	if third == nil {
		t.Fatal("room not freed by an empty Take")
	}
	// Rate-limited and disabled webhooks are left to claims; a webhook
	// listed twice gets one delivery; handoffs hold at most half the
	// engine's Workers (6): two are held by wh_a already.
	limited := hook("wh_rl", func(w *hookd.Webhook) { w.RateLimit = 5 })
	off := hook("wh_off", func(w *hookd.Webhook) { w.Enabled = false })
	b := hook("wh_b")
	ho := h.engine.Reserve([]*hookd.Webhook{limited, off, b, b, hook("wh_c"), hook("wh_d")})
	if ho == nil || len(ho.WebhookIDs) != 1 || ho.WebhookIDs[0] != "wh_b" || ho.Lease != h.cfg.Lease {
		t.Fatalf("reserved %+v, want wh_b alone for the engine's lease", ho)
	}
	if h.engine.Held() != 3 {
		t.Fatalf("held %d, want 3", h.engine.Held())
	}
	for _, r := range []*hookd.Handoff{first, third, ho} {
		h.engine.Take(r, nil)
	}
	h.engine.Take(ho, nil) // a second Take of one handoff frees nothing twice
	if h.engine.Held() != 0 {
		t.Fatalf("held %d after every Take", h.engine.Held())
	}
	h.engine.Stop()
	if ho := h.engine.Reserve([]*hookd.Webhook{a}); ho != nil {
		t.Fatal("a stopped engine reserved room")
	}
}

// blockingReads is a store whose first GetWebhook returns only once
// release1 closes (having read the row), and whose second waits for
// release2 before it reads.
type blockingReads struct {
	hookd.Deliverer
	n                  atomic.Int64
	read1, in2         chan struct{}
	release1, release2 chan struct{}
}

func (s *blockingReads) GetWebhook(ctx context.Context, tenantID, id string) (*hookd.Webhook, error) {
	switch s.n.Add(1) {
	case 1:
		w, err := s.Deliverer.GetWebhook(ctx, tenantID, id)
		close(s.read1)
		<-s.release1
		return w, err
	case 2:
		close(s.in2)
		<-s.release2
	}
	return s.Deliverer.GetWebhook(ctx, tenantID, id)
}

// A webhook read before a change commits and returned after the engine
// was told of it serves its reader, but is not cached as current: a
// delivery handed off after the change, by a publish that matched the
// webhook as it was, reads it again and goes to the new URL.
func TestReadAcrossChangeNotCached(t *testing.T) {
	bs := &blockingReads{read1: make(chan struct{}), in2: make(chan struct{}), release1: make(chan struct{}), release2: make(chan struct{})}
	h := newHarness(t, func(c *delivery.Config) { bs.Deliverer = c.Store; c.Store = bs })
	var once sync.Once
	release2 := func() { once.Do(func() { close(bs.release2) }) }
	defer release2()
	rcv, moved := newReceiver(t, nil), newReceiver(t, nil)
	wh := h.webhook(rcv.URL)
	matched, err := h.store.GetWebhook(context.Background(), "acme", wh.ID) // as the publishing side matched it
	if err != nil {
		t.Fatal(err)
	}
	h.publish(wh) // claimed: its webhook read is the first
	<-bs.read1
	repoint(h, wh, moved.URL) // committed
	h.engine.Changed(wh.ID)   // told, answered
	close(bs.release1)        // the read from before the commit returns
	<-bs.in2                  // its delivery checks again (the second read, held)
	ho := h.engine.Reserve([]*hookd.Webhook{matched})
	if ho == nil {
		t.Fatal("no room reserved")
	}
	ev := newEvent(h)
	res, err := h.store.PublishEvent(context.Background(), ev, []string{wh.ID}, ho)
	if err != nil {
		t.Fatal(err)
	}
	h.engine.Take(ho, res.Leased)
	h.wait(ev, wh, "the handed-off delivery sent", status(hookd.StatusSuccess))
	release2()
	h.settle()
	wantSent(t, rcv, moved, 0, 2)
}
