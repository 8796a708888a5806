package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// BenchmarkPublish measures durable publishes (event + one delivery, fsync
// per commit) with many concurrent callers sharing commits, as the API does.
func BenchmarkPublish(b *testing.B) {
	for _, fanout := range []int{1, 10} {
		b.Run(fmt.Sprintf("fanout=%d", fanout), func(b *testing.B) {
			s := open(b, nil)
			defer s.Close()
			ctx := context.Background()
			now := time.Now().UTC()
			if err := s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}); err != nil {
				b.Fatal(err)
			}
			var hooks []string
			for i := 0; i < fanout; i++ {
				w := &hookd.Webhook{ID: fmt.Sprintf("wh_%d", i), TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
					Timeout: time.Second, Enabled: true, MaxAttempts: 1, CreatedAt: now, UpdatedAt: now}
				if err := s.CreateWebhook(ctx, w); err != nil {
					b.Fatal(err)
				}
				hooks = append(hooks, w.ID)
			}
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
					if _, err := s.PublishEvent(ctx, ev, hooks); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			})
			b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(n.Load()*int64(fanout))/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
