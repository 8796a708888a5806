package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// A batch of publishes that fails leaves no request holding a result: each
// is answered only from a transaction that committed (a rerun of one that
// meanwhile became a duplicate once answered with the rolled-back insert).
func TestFailedPublishBatchAnswersNothing(t *testing.T) {
	s, _ := openInternal(t, "publish")
	ctx := context.Background()
	now := time.Now()
	if err := s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	req := func(tenant, id string) *publishReq {
		ev := &hookd.Event{ID: id, TenantID: tenant, Type: "a.b", Timestamp: now}
		if err := ev.BuildPayload([]byte(`{}`), nil); err != nil {
			t.Fatal(err)
		}
		return &publishReq{ctx: ctx, ev: ev, done: make(chan struct{}),
			args: []any{tenant, id, "a.b", nil, now.UnixMicro(), ev.Payload, s.nowArg(), "{}", nil, nil, int64(0), nil, 0}}
	}
	good, bad := req("t", "e1"), req("no-such-tenant", "e2")
	if err := s.publishBatch([]*publishReq{good, bad}); err == nil {
		t.Fatal("a batch with a publish for a missing tenant committed")
	}
	if good.res != nil || good.ev.Seq != 0 {
		t.Fatalf("a request holds a result from a rolled-back batch: %+v", good.res)
	}
	if err := s.publishBatch([]*publishReq{good}); err != nil || good.res == nil || good.res.Duplicate || good.ev.Seq == 0 {
		t.Fatalf("alone: %v, %+v", err, good.res)
	}
}

// A queue transaction commits asynchronously; other transactions keep the
// server's synchronous_commit.
func TestQueueCommitsAsynchronously(t *testing.T) {
	s, _ := openInternal(t, "async")
	ctx := context.Background()
	var inQueue, outside string
	if err := s.QueueTx(ctx, func(q hookd.QueueTx) error {
		return q.(*queueTx).tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&inQueue)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&outside); err != nil {
		t.Fatal(err)
	}
	if inQueue != "off" || outside != "on" {
		t.Fatalf("synchronous_commit: %q in a queue transaction, %q outside", inQueue, outside)
	}
	// One that writes an audit entry (or hookd's own events) waits for its
	// flush again.
	if err := s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var after string
	if err := s.QueueTx(ctx, func(q hookd.QueueTx) error {
		if err := q.WriteAudit(ctx, []*hookd.AuditEntry{{ID: "aud_1", TenantID: "t", At: time.Now(), Action: "webhook.disabled",
			Actor: hookd.Actor{Type: "system"}, Target: hookd.AuditTarget{Type: "webhook", ID: "wh_1"}}}); err != nil {
			return err
		}
		return q.(*queueTx).tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&after)
	}); err != nil {
		t.Fatal(err)
	}
	if after != "on" {
		t.Fatalf("synchronous_commit after an audit entry: %q", after)
	}
}

// A publish that matched a webhook whose delete is committing meanwhile
// stores its event, without a delivery to it, instead of failing on the
// deliveries' foreign key (which answered 404 to a valid publish).
func TestPublishRacingAWebhookDelete(t *testing.T) {
	s, _ := openInternal(t, "pubdelete")
	ctx := context.Background()
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}))
	for _, id := range []string{"wh_gone", "wh_kept"} {
		must(s.CreateWebhook(ctx, &hookd.Webhook{ID: id, TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
			Timeout: time.Second, Enabled: true, MaxAttempts: 1, CreatedAt: now, UpdatedAt: now}))
	}
	// The delete holds the webhook's row, uncommitted, while the publish
	// runs; it commits once the publish waits for that row.
	tx, err := s.pool.Begin(ctx)
	must(err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `DELETE FROM webhooks WHERE id = 'wh_gone'`)
	must(err)
	ev := &hookd.Event{ID: "e1", TenantID: "t", Type: "a.b", Timestamp: now}
	must(ev.BuildPayload([]byte(`{}`), nil))
	type answer struct {
		res *hookd.PublishResult
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := s.PublishEvent(ctx, ev, []string{"wh_gone", "wh_kept"}, nil)
		done <- answer{res, err}
	}()
	for waiting := false; !waiting; {
		must(s.pool.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND datname = current_database() AND query LIKE '%INSERT INTO events%'`).Scan(&waiting))
	}
	must(tx.Commit(ctx))
	a := <-done
	if a.err != nil || a.res.Deliveries != 1 {
		t.Fatalf("publish: %v, %+v; want the event with one delivery", a.err, a.res)
	}
}

// A publish run again after its COMMIT's answer was lost (the server had
// applied it) finds its own event: answered as made now, not a duplicate,
// with its handed-off delivery, which would else wait out its lease unsent.
// Another publish of the same id is a duplicate, handed nothing.
func TestPublishRunAgainFindsItsOwnCommit(t *testing.T) {
	s, _ := openInternal(t, "ownpublish")
	ctx := context.Background()
	now := time.Now()
	if err := s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"wh_a", "wh_b"} {
		if err := s.CreateWebhook(ctx, &hookd.Webhook{ID: id, TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
			Timeout: time.Second, Enabled: true, MaxAttempts: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	req := func() *publishReq {
		ev := &hookd.Event{ID: "evt_1", TenantID: "t", Type: "a.b", Timestamp: now}
		if err := ev.BuildPayload([]byte(`{}`), nil); err != nil {
			t.Fatal(err)
		}
		r, err := s.newPublishReq(ctx, ev, []string{"wh_a", "wh_b"}, &hookd.Handoff{WebhookIDs: []string{"wh_b"}, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := req()
	if err := s.publishBatch([]*publishReq{r}); err != nil || r.res.Duplicate || len(r.res.Leased) != 1 {
		t.Fatalf("first run: %v %+v", err, r.res)
	}
	handed := r.res.Leased[0].DeliveryID
	r.res, r.ev.Seq = nil, 0 // its answer lost
	if err := s.publishBatch([]*publishReq{r}); err != nil || r.res.Duplicate || r.res.Deliveries != 2 || r.ev.Seq == 0 ||
		len(r.res.Leased) != 1 || r.res.Leased[0].DeliveryID != handed || r.res.Leased[0].WebhookID != "wh_b" {
		t.Fatalf("run again: %v %+v", err, r.res)
	}
	other := req()
	if err := s.publishBatch([]*publishReq{other}); err != nil || !other.res.Duplicate || other.res.Deliveries != 2 || len(other.res.Leased) != 0 {
		t.Fatalf("another publish of the id: %v %+v", err, other.res)
	}
}
