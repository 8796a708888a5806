package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

func (s *Store) GetEvent(ctx context.Context, tenantID, id string) (*hookd.Event, error) {
	e, err := sqlrow.ScanEvent(s.pool.QueryRow(ctx, `SELECT `+sqlrow.EventCols+` FROM events WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return e, wrap("get event", err)
}

func (s *Store) ListEvents(ctx context.Context, q hookd.EventQuery) ([]*hookd.Event, error) {
	where, args := sqlrow.EventsWhere(q, func(n int) string { return fmt.Sprintf("$%d", n) })
	args = append(args, q.Limit)
	query := `SELECT ` + sqlrow.EventCols + ` FROM events WHERE ` + where + fmt.Sprintf(` ORDER BY seq DESC LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, query, args...)
	return collect(rows, err, "list events", sqlrow.ScanEvent)
}

func (s *Store) ListEventDeliveries(ctx context.Context, tenantID, eventID string) ([]*hookd.Delivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sqlrow.DeliveryCols+` FROM deliveries
		WHERE event_seq = (SELECT seq FROM events WHERE tenant_id = $1 AND id = $2) ORDER BY id`, tenantID, eventID)
	return collect(rows, err, "list event deliveries", sqlrow.ScanDelivery)
}

func (s *Store) CreateTestDelivery(ctx context.Context, ev *hookd.Event, webhookID string, lease time.Duration) (*hookd.Claim, error) {
	c := &hookd.Claim{
		Lease:    hookd.Lease{DeliveryID: hookd.NewID(hookd.PrefixDelivery, time.Now()), Token: 1},
		TenantID: ev.TenantID, EventID: ev.ID, EventType: ev.Type, WebhookID: webhookID, Manual: true, Payload: ev.Payload, PublishedAt: ev.Timestamp,
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var now int64
		if err := tx.QueryRow(ctx, `INSERT INTO events (tenant_id, id, type, channels, created_at, payload, test) VALUES ($1, $2, $3, NULL, $4, $5, true)
			RETURNING seq, coalesce($6::bigint, `+dbNow+`)`,
			ev.TenantID, ev.ID, ev.Type, sqlrow.Micros(ev.Timestamp), ev.Payload, s.nowArg()).Scan(&ev.Seq, &now); err != nil {
			return wrap("insert test event", err)
		}
		until := now + lease.Microseconds()
		tag, err := tx.Exec(ctx, `INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, manual, lease_token, leased, created_at, updated_at)
			SELECT $1, $2, $3, id, $4, $5, 'PENDING', $6, true, $7, true, $8, $8 FROM webhooks WHERE id = $9 AND tenant_id = $2`,
			c.DeliveryID, c.TenantID, ev.Seq, c.EventID, c.EventType, until, c.Token, now, webhookID)
		if err != nil {
			return wrap("insert test delivery", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("insert test delivery: %w", hookd.ErrNotFound)
		}
		c.LeasedUntil = sqlrow.FromMicros(until)
		// Should the caller die, the delivery falls due when its lease ends.
		return wrap("insert test delivery", s.markOne(ctx, tx, webhookID, until))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
