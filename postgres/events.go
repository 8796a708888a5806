package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

func channelsArg(ch []string) (any, error) {
	if ch == nil {
		return nil, nil
	}
	b, err := json.Marshal(ch)
	return string(b), err
}

func (s *Store) PublishEvent(ctx context.Context, ev *hookd.Event, webhookIDs []string) (*hookd.PublishResult, error) {
	channels, err := channelsArg(ev.Channels)
	if err != nil {
		return nil, fmt.Errorf("publish event: %w", err)
	}
	now := s.clock.Now()
	ids := make([]string, len(webhookIDs))
	for i := range ids {
		ids[i] = hookd.NewID(hookd.PrefixDelivery, now)
	}
	var res *hookd.PublishResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var seq int64
		// ON CONFLICT waits for a concurrent insert of the same key to
		// commit, so two replicas publishing one id create one event.
		err := tx.QueryRow(ctx, `INSERT INTO events (tenant_id, id, type, channels, created_at, payload) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, id) DO NOTHING RETURNING seq`,
			ev.TenantID, ev.ID, ev.Type, channels, sqlrow.Micros(ev.Timestamp), ev.Payload).Scan(&seq)
		if err == pgx.ErrNoRows {
			first, err := sqlrow.ScanEvent(tx.QueryRow(ctx, `SELECT `+sqlrow.EventCols+` FROM events WHERE tenant_id = $1 AND id = $2`, ev.TenantID, ev.ID))
			if err != nil {
				return wrap("read first event", err)
			}
			var count int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE event_seq = $1`, first.Seq).Scan(&count); err != nil {
				return wrap("count deliveries", err)
			}
			res = &hookd.PublishResult{Event: first, Deliveries: count, Duplicate: true}
			return nil
		}
		if err != nil {
			return wrap("insert event", err)
		}
		created := 0
		if len(webhookIDs) > 0 {
			t := sqlrow.Micros(now)
			tag, err := tx.Exec(ctx, `INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, created_at, updated_at)
				SELECT j.value, w.tenant_id, $1, w.id, $2, $3, 'PENDING', $4, $4, $4
				FROM jsonb_each_text($5::jsonb) j JOIN webhooks w ON w.id = j.key AND w.tenant_id = $6 AND w.enabled`,
				seq, ev.ID, ev.Type, t, sqlrow.JSONList(sqlrow.ByWebhook(ids, webhookIDs)), ev.TenantID)
			if err != nil {
				return wrap("insert deliveries", err)
			}
			created = int(tag.RowsAffected())
			// Sent on commit: idle workers in every process wake up.
			if _, err := tx.Exec(ctx, `SELECT pg_notify('`+wakeChannel+`', '')`); err != nil {
				return wrap("notify", err)
			}
		}
		ev.Seq = seq
		res = &hookd.PublishResult{Event: ev, Deliveries: created}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("publish event: %w", err)
	}
	return res, nil
}

func (s *Store) GetEvent(ctx context.Context, tenantID, id string) (*hookd.Event, error) {
	e, err := sqlrow.ScanEvent(s.pool.QueryRow(ctx, `SELECT `+sqlrow.EventCols+` FROM events WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return e, wrap("get event", err)
}

func (s *Store) ListEvents(ctx context.Context, q hookd.EventQuery) ([]*hookd.Event, error) {
	query := `SELECT ` + sqlrow.EventCols + ` FROM events WHERE tenant_id = $1`
	args := []any{q.TenantID}
	if q.Type != "" {
		args = append(args, q.Type)
		query += fmt.Sprintf(` AND type = $%d`, len(args))
	}
	if q.Before > 0 {
		args = append(args, q.Before)
		query += fmt.Sprintf(` AND seq < $%d`, len(args))
	}
	args = append(args, q.Limit)
	query += fmt.Sprintf(` ORDER BY seq DESC LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, query, args...)
	return collect(rows, err, "list events", sqlrow.ScanEvent)
}

func (s *Store) ListEventDeliveries(ctx context.Context, tenantID, eventID string) ([]*hookd.Delivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sqlrow.DeliveryCols+` FROM deliveries
		WHERE event_seq = (SELECT seq FROM events WHERE tenant_id = $1 AND id = $2) ORDER BY id`, tenantID, eventID)
	return collect(rows, err, "list event deliveries", sqlrow.ScanDelivery)
}

func (s *Store) CreateTestDelivery(ctx context.Context, ev *hookd.Event, webhookID string, leaseUntil time.Time) (*hookd.Delivery, error) {
	now := s.clock.Now()
	d := &hookd.Delivery{
		ID: hookd.NewID(hookd.PrefixDelivery, now), TenantID: ev.TenantID, EventID: ev.ID, WebhookID: webhookID,
		EventType: ev.Type, Status: hookd.StatusPending, NextAttemptAt: leaseUntil, CreatedAt: now, UpdatedAt: now,
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO events (tenant_id, id, type, channels, created_at, payload) VALUES ($1, $2, $3, NULL, $4, $5) RETURNING seq`,
			ev.TenantID, ev.ID, ev.Type, sqlrow.Micros(ev.Timestamp), ev.Payload).Scan(&ev.Seq); err != nil {
			return wrap("insert test event", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, manual, created_at, updated_at)
			SELECT $1, $2, $3, id, $4, $5, 'PENDING', $6, true, $7, $7 FROM webhooks WHERE id = $8 AND tenant_id = $2`,
			d.ID, d.TenantID, ev.Seq, d.EventID, d.EventType, sqlrow.Micros(leaseUntil), sqlrow.Micros(now), webhookID)
		if err != nil {
			return wrap("insert test delivery", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("insert test delivery: %w", hookd.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
