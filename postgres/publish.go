package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

// Publishing is group-committed, as in the SQLite store: one goroutine takes
// whatever publishes are waiting (up to maxPublishBatch) and runs them as
// one pipelined batch in one transaction, so a burst of publishes pays for
// one round trip and one WAL flush, not one each.
const maxPublishBatch = 256

type publishReq struct {
	ctx        context.Context
	ev         *hookd.Event
	webhookIDs []string
	h          *hookd.Handoff
	ids        []string          // its deliveries' ids, one a webhook
	leased     map[string]string // handed-off webhook → delivery
	matched    int               // webhooks matched: its delivery count, unless the insert skips some
	args       []any
	res        *hookd.PublishResult
	err        error
	done       chan struct{}
}

// insertEventAndDeliveries stores an event and its deliveries in one
// statement, and returns the new seq (NULL when the id was taken), how
// many deliveries were created, the database's now, and the deliveries
// handed off to the publishing process (those to the webhooks in $10,
// leased until now + $11 microseconds) with their webhooks. The webhooks
// are locked as the deliveries' foreign key would lock them, but first:
// one whose delete (or disable) commits meanwhile is waited for and left
// out, where the key's check would fail the whole publish. A webhook with
// a delivery due now, waiting for a claim, gets its delivery due too: a
// handed-off one would overtake the one waiting (and the next ones, while
// the endpoint is busy).
const insertEventAndDeliveries = `WITH e AS (
		INSERT INTO events (tenant_id, id, type, channels, created_at, payload, traceparent, tags, delivery_count) VALUES ($1, $2, $3, $4, $5, $6, $9, $12, $13)
		ON CONFLICT (tenant_id, id) DO NOTHING RETURNING seq
	), n AS (SELECT coalesce($7::bigint, ` + dbNow + `) AS now
	), d AS (
		INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, lease_token, leased, created_at, updated_at)
		SELECT j.value, w.tenant_id, e.seq, w.id, $2, $3, 'PENDING', n.now + CASE WHEN l.leased THEN $11::bigint ELSE 0 END,
			CASE WHEN l.leased THEN 1 ELSE 0 END, l.leased, n.now, n.now
		FROM e CROSS JOIN n CROSS JOIN jsonb_each_text($8::jsonb) j
		JOIN (SELECT id, tenant_id FROM webhooks WHERE tenant_id = $1 AND enabled AND id IN (SELECT jsonb_object_keys($8::jsonb))
			FOR KEY SHARE) w ON w.id = j.key
		CROSS JOIN LATERAL (SELECT coalesce(j.key = ANY($10::text[]), false) AND NOT EXISTS (SELECT 1 FROM deliveries x
			WHERE x.webhook_id = w.id AND x.status IN ('PENDING', 'RETRYING') AND x.next_attempt_at <= n.now) AS leased) l
		RETURNING id, webhook_id, leased
	)
	SELECT (SELECT seq FROM e), (SELECT count(*) FROM d), (SELECT now FROM n),
		coalesce((SELECT array_agg(id ORDER BY id) FROM d WHERE leased), '{}'),
		coalesce((SELECT array_agg(webhook_id ORDER BY id) FROM d WHERE leased), '{}')`

func (s *Store) PublishEvent(ctx context.Context, ev *hookd.Event, webhookIDs []string, h *hookd.Handoff) (*hookd.PublishResult, error) {
	req, err := s.newPublishReq(ctx, ev, webhookIDs, h)
	if err != nil {
		return nil, fmt.Errorf("publish event: %w", err)
	}
	select {
	case s.publishes <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.stop:
		return nil, errors.New("postgres: store closed")
	}
	<-req.done // once queued it may commit: wait for the outcome
	if req.err != nil {
		return nil, fmt.Errorf("publish event: %w", req.err)
	}
	return req.res, nil
}

// newPublishReq is a publish for the publisher: its deliveries' ids made,
// and its statement's arguments.
func (s *Store) newPublishReq(ctx context.Context, ev *hookd.Event, webhookIDs []string, h *hookd.Handoff) (*publishReq, error) {
	channels, tags, err := sqlrow.EventListArgs(ev)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(webhookIDs))
	for i := range ids {
		ids[i] = hookd.NewID(hookd.PrefixDelivery, s.clock.Now())
	}
	_, leased := sqlrow.SplitHandoff(ids, webhookIDs, h)
	var leasedHooks []string
	var lease int64
	if len(leased) > 0 {
		leasedHooks = slices.Sorted(maps.Keys(leased))
		lease = h.Lease.Microseconds()
	}
	byWebhook := sqlrow.ByWebhook(ids, webhookIDs)
	req := &publishReq{ctx: ctx, ev: ev, webhookIDs: webhookIDs, h: h, ids: ids, leased: leased, matched: len(byWebhook), done: make(chan struct{}), args: []any{
		ev.TenantID, ev.ID, ev.Type, channels, sqlrow.Micros(ev.Timestamp), ev.Payload, s.nowArg(),
		sqlrow.JSONList(byWebhook), sqlrow.NullString(ev.TraceParent), leasedHooks, lease, tags, len(byWebhook),
	}}
	return req, nil
}

func (s *Store) publisher() {
	defer close(s.pubDone)
	for {
		var batch []*publishReq
		select {
		case r := <-s.publishes:
			batch = append(batch, r)
		case <-s.stop:
			// Run what was queued before Close, then stop.
			for {
				select {
				case r := <-s.publishes:
					r.err = s.publishBatch([]*publishReq{r})
					close(r.done)
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxPublishBatch {
			select {
			case r := <-s.publishes:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if err := s.publishBatch(batch); err != nil {
			// Something in the batch failed and took the transaction with it
			// (or its COMMIT's answer was lost after the server applied it):
			// run each alone, so the failure stays with its own request, and
			// a committed one is answered as its own (firstPublish). A batch
			// of one runs again too: a lost answer to its COMMIT would
			// otherwise be a 503 for a stored event whose handed-off
			// deliveries wait out their lease.
			for _, r := range batch {
				r.err = s.publishBatch([]*publishReq{r})
			}
		}
		for _, r := range batch {
			close(r.done)
		}
	}
}

// publishBatch runs a batch of publishes in one transaction. Its results
// are set only once it has committed: a rerun never answers with what a
// rolled-back run saw.
func (s *Store) publishBatch(batch []*publishReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opTimeout)
	defer cancel()
	res := make([]*hookd.PublishResult, len(batch))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		clear(res)
		b := &pgx.Batch{}
		// Each webhook is due now, or when the lease of its deliveries ends
		// if all of them were handed off.
		hooks := map[string]int64{}
		for _, r := range batch {
			b.Queue(insertEventAndDeliveries, r.args...)
			for _, id := range r.webhookIDs {
				after := int64(0)
				if _, ok := r.leased[id]; ok {
					after = r.h.Lease.Microseconds()
				}
				if prev, ok := hooks[id]; !ok || after < prev {
					hooks[id] = after
				}
			}
		}
		// Marked due last, just before the commit, so that the webhooks'
		// rows are locked (see markDue) for as short a time as can be.
		if len(hooks) > 0 {
			ids := slices.Sorted(maps.Keys(hooks))
			after := make([]int64, len(ids))
			for i, id := range ids {
				after[i] = hooks[id]
			}
			// Every webhook matched is marked, even one disabled by now: the
			// insert above read enabled in its own snapshot, so a disable that
			// committed between the two statements has a delivery of this
			// publish that only a due mark lets a claim find (and end FAILED).
			s.queueMarkDue(b, ids, make([]*int64, len(ids)), after)
		}
		br := tx.SendBatch(ctx, b)
		for i, r := range batch {
			var seq *int64
			var created int
			var now int64
			var leasedIDs, leasedHooks []string
			if err := br.QueryRow().Scan(&seq, &created, &now, &leasedIDs, &leasedHooks); err != nil {
				br.Close()
				return wrap("insert event", err)
			}
			if seq != nil {
				ev := *r.ev
				ev.Seq = *seq
				res[i] = &hookd.PublishResult{Event: &ev, Deliveries: created}
				for k, id := range leasedIDs {
					c := sqlrow.HandedOff(r.ev, sqlrow.FromMicros(now+r.h.Lease.Microseconds()))
					c.DeliveryID, c.WebhookID = id, leasedHooks[k]
					res[i].Leased = append(res[i].Leased, c)
				}
			}
		}
		if err := br.Close(); err != nil {
			return wrap("publish batch", err)
		}
		// Duplicates (rare): read the first event inside the same
		// transaction, after the batch. An event whose insert skipped a
		// webhook (deleted or disabled meanwhile: rare too) has its count
		// set to what was made.
		for i, r := range batch {
			if res[i] != nil {
				if res[i].Deliveries != r.matched {
					if _, err := tx.Exec(ctx, `UPDATE events SET delivery_count = $1 WHERE seq = $2`, res[i].Deliveries, res[i].Event.Seq); err != nil {
						return wrap("count deliveries", err)
					}
				}
				res[i].Event.DeliveriesCreated = res[i].Deliveries
				continue
			}
			first, err := s.firstPublish(ctx, tx, r)
			if err != nil {
				return err
			}
			res[i] = first
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, r := range batch {
		r.ev.Seq = res[i].Event.Seq
		r.res = res[i]
		if !res[i].Duplicate {
			r.res.Event = r.ev
		}
	}
	return nil
}

// firstPublish answers a publish whose event id is taken: a duplicate of
// the first event, unless the event is this request's own, committed by an
// earlier run whose COMMIT's answer was lost (the connection cut after the
// server applied it; the publisher then runs the request again). Its own
// deliveries' ids tell it: it is then answered as made now, with its
// handed-off deliveries, which would else wait out their lease unsent, and
// the publish would read as a duplicate to a caller that never sent it
// before. (An event with no delivery cannot be told: it reads as a
// duplicate, having nothing to send.)
func (s *Store) firstPublish(ctx context.Context, tx pgx.Tx, r *publishReq) (*hookd.PublishResult, error) {
	first, err := sqlrow.ScanEvent(tx.QueryRow(ctx, `SELECT `+sqlrow.EventCols+` FROM events WHERE tenant_id = $1 AND id = $2`, r.ev.TenantID, r.ev.ID))
	if err != nil {
		return nil, wrap("read first event", err)
	}
	rows, err := tx.Query(ctx, `SELECT id, webhook_id, leased AND lease_token = 1, COALESCE(next_attempt_at, 0) FROM deliveries WHERE event_seq = $1`, first.Seq)
	if err != nil {
		return nil, wrap("read first event's deliveries", err)
	}
	defer rows.Close()
	res := &hookd.PublishResult{Event: first, Duplicate: true}
	own := false
	// next_attempt_at is NULL once a delivery has ended (COALESCE): a
	// duplicate of an event whose deliveries are all done is the common case.
	for rows.Next() {
		var id, webhook string
		var leased bool
		var until int64
		if err := rows.Scan(&id, &webhook, &leased, &until); err != nil {
			return nil, wrap("read first event's deliveries", err)
		}
		res.Deliveries++
		own = own || slices.Contains(r.ids, id)
		if leased && r.leased[webhook] == id {
			c := sqlrow.HandedOff(r.ev, sqlrow.FromMicros(until))
			c.DeliveryID, c.WebhookID = id, webhook
			res.Leased = append(res.Leased, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("read first event's deliveries", err)
	}
	if !own {
		res.Leased = nil
		if first.DeliveriesCreated >= 0 { // else an event from before the count was kept
			res.Deliveries = first.DeliveriesCreated
		}
		return res, nil
	}
	ev := *r.ev
	ev.Seq = first.Seq
	res.Event, res.Duplicate = &ev, false
	return res, nil
}
