package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/queue"
	"github.com/hookd/hookd/sqlite"
)

// BenchmarkPublish measures durable publishes (event + one delivery, fsync
// per commit) with many concurrent callers sharing commits, as the API does.
func BenchmarkPublish(b *testing.B) {
	for _, fanout := range []int{1, 10} {
		b.Run(fmt.Sprintf("fanout=%d", fanout), func(b *testing.B) {
			s, hooks := benchStore(b, fanout)
			defer s.Close()
			benchPublish(b, s, hooks, false)
		})
	}
	// One webhook of a tenant with a thousand: the publish must not read
	// every webhook of the tenant.
	b.Run("fanout=1/of-1000-webhooks", func(b *testing.B) {
		s, hooks := benchStore(b, 1000)
		defer s.Close()
		benchPublish(b, s, hooks[:1], false)
	})
	// As a process that also delivers publishes: its deliveries handed
	// off, stored leased to it.
	b.Run("fanout=1/handed-off", func(b *testing.B) {
		s, hooks := benchStore(b, 1)
		defer s.Close()
		benchPublish(b, s, hooks, true)
	})
}

// BenchmarkPublishCosts measures what parts of the schema cost publishing
// (fan-out 10, where a delivery's indexes count ten times): the database
// as hookd makes it; without the index the tenant-wide deliveries list
// walks (deliveries_tenant_created); and made without auto-vacuum (as
// databases made before it were), whose writes keep no pointer map.
func BenchmarkPublishCosts(b *testing.B) {
	b.Run("as made", func(b *testing.B) {
		s, hooks := benchStore(b, 10)
		defer s.Close()
		benchPublish(b, s, hooks, false)
	})
	b.Run("without deliveries_tenant_created_status", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "hookd.db")
		s, hooks := benchStoreAt(b, path, 10)
		defer s.Close()
		raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			b.Fatal(err)
		}
		defer raw.Close()
		if _, err := raw.Exec(`DROP INDEX deliveries_tenant_created_status`); err != nil {
			b.Fatal(err)
		}
		benchPublish(b, s, hooks, false)
	})
	b.Run("auto_vacuum none", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "hookd.db")
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			b.Fatal(err)
		}
		// A table first: the file is no longer empty when hookd opens it.
		if _, err := raw.Exec(`PRAGMA auto_vacuum = NONE; CREATE TABLE made_before (x INTEGER)`); err != nil {
			b.Fatal(err)
		}
		raw.Close()
		s, hooks := benchStoreAt(b, path, 10)
		defer s.Close()
		raw, err = sql.Open("sqlite", path)
		if err != nil {
			b.Fatal(err)
		}
		defer raw.Close()
		var mode int
		if err := raw.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 0 {
			b.Fatalf("auto_vacuum = %d, %v", mode, err)
		}
		benchPublish(b, s, hooks, false)
	})
}

func benchPublish(b *testing.B, s *sqlite.Store, hooks []string, handOff bool) {
	fanout := len(hooks)
	var h *hookd.Handoff
	if handOff {
		h = &hookd.Handoff{WebhookIDs: hooks, Lease: time.Minute}
	}
	{
		{
			ctx := context.Background()
			now := time.Now().UTC()
			data := json.RawMessage(`{"invocation":"abc","status":"ok","durationMs":1234}`)
			var n atomic.Int64
			b.SetParallelism(64) // 64 × GOMAXPROCS callers, like concurrent API requests
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ev := &hookd.Event{ID: hookd.NewID(hookd.PrefixEvent, now), TenantID: "t", Type: "a.b", Timestamp: now}
					if err := ev.BuildPayload(data, nil); err != nil {
						b.Error(err)
						return
					}
					if _, err := s.PublishEvent(ctx, ev, hooks, h); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			})
			b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(n.Load()*int64(fanout))/b.Elapsed().Seconds(), "deliveries/s")
		}
	}
}

// BenchmarkClaimRecord measures the queue's write path per delivery: claim
// a batch of 256 (lease), then record each outcome (attempt row + delivery
// update), batched as the engine batches them, over events of fan-out 100.
// room is each webhook's room: "all" lets one webhook fill a batch (each
// delivery of it belongs to another event, so a batch touches 256 events'
// rows); 8 spreads a batch over 32 webhooks, as rooms do in the engine.
func BenchmarkClaimRecord(b *testing.B) {
	for _, room := range []int{1 << 20, 8} {
		name := "room=8"
		if room > 8 {
			name = "room=all"
		}
		b.Run(name, func(b *testing.B) { benchClaimRecord(b, room) })
	}
}

func benchClaimRecord(b *testing.B, perWebhook int) {
	s, hooks := benchStore(b, 100)
	defer s.Close()
	ctx := context.Background()
	now := time.Now().UTC()
	// Enough due deliveries for the whole run: events of fan-out 100.
	for n := 0; n < b.N; n += len(hooks) {
		ev := &hookd.Event{ID: hookd.NewID(hookd.PrefixEvent, now), TenantID: "t", Type: "a.b", Timestamp: now}
		_ = ev.BuildPayload(json.RawMessage(`{"k":"v"}`), nil)
		if _, err := s.PublishEvent(ctx, ev, hooks, nil); err != nil {
			b.Fatal(err)
		}
	}
	room := func(string, string) (int, time.Duration) { return perWebhook, 0 }
	headers := map[string]string{"Content-Type": "application/json", "User-Agent": "hookd/dev", "Webhook-Id": "evt_x"}
	b.ResetTimer()
	done := 0
	for done < b.N {
		res, err := queue.Claim(ctx, s, queue.ClaimParams{Limit: 256, Lease: time.Minute, Room: room})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Claims) == 0 {
			b.Fatal("ran out of due deliveries")
		}
		outcomes := make([]*hookd.Outcome, len(res.Claims))
		for i, c := range res.Claims {
			outcomes[i] = &hookd.Outcome{Lease: c.Lease, WebhookID: c.WebhookID, Status: hookd.StatusSuccess, Attempt: &hookd.Attempt{
				Number: 1, StartedAt: now, Duration: time.Millisecond, StatusCode: 200, Success: true,
				RequestHeaders: headers, ResponseHeaders: map[string]string{}, ResponseBody: []byte("ok"),
			}}
		}
		if _, err := queue.Record(ctx, s, outcomes, nil); err != nil {
			b.Fatal(err)
		}
		done += len(res.Claims)
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "deliveries/s")
}

// benchStore opens a store with tenant "t" and n webhooks subscribed to
// everything, and returns the webhooks' IDs.
func benchStore(b *testing.B, n int) (*sqlite.Store, []string) {
	return benchStoreAt(b, filepath.Join(b.TempDir(), "hookd.db"), n)
}

func benchStoreAt(b *testing.B, path string, n int) (*sqlite.Store, []string) {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	if err := s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	var hooks []string
	for i := 0; i < n; i++ {
		w := &hookd.Webhook{ID: fmt.Sprintf("wh_%03d", i), TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
			Timeout: time.Second, Enabled: true, MaxAttempts: 1, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateWebhook(ctx, w); err != nil {
			b.Fatal(err)
		}
		hooks = append(hooks, w.ID)
	}
	return s, hooks
}
