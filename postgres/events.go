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
