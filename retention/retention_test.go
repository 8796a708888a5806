package retention_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/queue"
	"github.com/hookd/hookd/retention"
	"github.com/hookd/hookd/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  retention.Config
		ok   bool
	}{
		{"defaults", retention.Config{Retention: 720 * time.Hour}, true},
		{"keep everything", retention.Config{}, true},
		{"shorter than the default pass", retention.Config{Retention: 2 * time.Second}, true},
		{"negative", retention.Config{Retention: -time.Hour}, false},
		{"shorter than a pass", retention.Config{Retention: time.Minute, Interval: time.Hour}, false},
		{"negative batch", retention.Config{Retention: time.Hour, Batch: -1}, false},
		{"share above 1", retention.Config{Retention: time.Hour, Share: 2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := retention.New(nil, tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v", err)
			}
		})
	}
}

// A pass goes through the whole history in batches, deletes every finished
// event past retention and keeps the rest; with retention 0 it deletes
// nothing.
func TestPass(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "hookd.db"), Clock: c.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	must(t, s.CreateTenant(ctx, &hookd.Tenant{ID: "acme", Name: "Acme", CreatedAt: c.now()}))
	must(t, s.CreateWebhook(ctx, &hookd.Webhook{ID: "wh_a", TenantID: "acme", Name: "a", URL: "https://example.com/a",
		Events: []string{"*"}, Timeout: hookd.DefaultTimeout, Enabled: true, SSLVerification: true, MaxAttempts: 3,
		Secret: hookd.GenerateSecret(hookd.SchemeStandard), CreatedAt: c.now(), UpdatedAt: c.now()}))
	publish := func(id string) {
		// Payloads of a few pages each, so that pruning frees pages.
		ev := &hookd.Event{ID: id, TenantID: "acme", Type: "a.b", Timestamp: c.now()}
		must(t, ev.BuildPayload([]byte(`{"pad":"`+strings.Repeat("x", 10000)+`"}`), nil))
		_, err := s.PublishEvent(ctx, ev, []string{"wh_a"}, nil)
		must(t, err)
	}
	deliverAll := func() {
		res, err := queue.Claim(ctx, s, queue.ClaimParams{Limit: 100, Lease: time.Minute,
			Room: func(string, string) (int, time.Duration) { return 100, 0 }})
		must(t, err)
		var outs []*hookd.Outcome
		for _, cl := range res.Claims {
			if cl.EventID == "waiting" { // claimed, being sent: not finished
				continue
			}
			outs = append(outs, &hookd.Outcome{Lease: cl.Lease, WebhookID: cl.WebhookID, Status: hookd.StatusSuccess,
				Attempt: &hookd.Attempt{Number: 1, StartedAt: c.now(), Duration: time.Millisecond, StatusCode: 204, Success: true}})
		}
		_, err = queue.Record(ctx, s, outs, nil)
		must(t, err)
	}
	for i := range 7 {
		publish(fmt.Sprintf("old%d", i))
	}
	deliverAll()
	publish("waiting")
	c.advance(2 * time.Hour)
	publish("recent")
	deliverAll()

	keepAll, err := retention.New(s, retention.Config{Clock: c.now})
	must(t, err)
	if n, err := keepAll.Pass(ctx); err != nil || n.Events != 0 {
		t.Fatalf("retention 0 pruned %+v, %v", n, err)
	}
	p, err := retention.New(s, retention.Config{Retention: time.Hour, Batch: 3, Clock: c.now})
	must(t, err)
	n, err := p.Pass(ctx)
	must(t, err)
	if n.Events != 7 || n.Deliveries != 7 || n.Attempts != 7 {
		t.Fatalf("pruned %+v, want the 7 delivered old events", n)
	}
	if n.PagesReclaimed < 7*2 {
		t.Fatalf("the pass gave back %d pages, want the pruned payloads' (at least 14)", n.PagesReclaimed)
	}
	for _, id := range []string{"waiting", "recent"} {
		if _, err := s.GetEvent(ctx, "acme", id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	st, err := s.Stats(ctx, hookd.StatsQuery{TenantID: "acme"})
	must(t, err)
	if st.TotalDeliveries != 8 || st.ByStatus[hookd.StatusSuccess] != 8 {
		t.Fatalf("stats after the pass: %+v", st)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
