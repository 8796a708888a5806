package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

func (s *Store) GetDelivery(ctx context.Context, tenantID, id string) (*hookd.DeliveryDetail, error) {
	dd := &hookd.DeliveryDetail{}
	row := s.pool.QueryRow(ctx, `SELECT `+sqlrow.Prefixed("d.", sqlrow.DeliveryCols)+`, e.payload FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE d.tenant_id = $1 AND d.id = $2`, tenantID, id)
	d, err := sqlrow.ScanDelivery(withTail{row, &dd.Payload})
	if err != nil {
		return nil, wrap("get delivery", err)
	}
	dd.Delivery = d
	rows, err := s.pool.Query(ctx, `SELECT `+sqlrow.AttemptCols+`
		FROM attempts WHERE delivery_id = $1 ORDER BY number`, id)
	attempts, err := collect(rows, err, "get delivery attempts", sqlrow.ScanAttempt)
	if err != nil {
		return nil, err
	}
	if len(attempts) > 0 {
		dd.Attempts = attempts
	}
	return dd, nil
}

// withTail scans the trailing columns of a row into extra destinations, so
// a shared scan function can read a row with more columns.
type withTail struct {
	r    sqlrow.Scanner
	tail any
}

func (w withTail) Scan(dest ...any) error { return w.r.Scan(append(dest, w.tail)...) }

func (s *Store) ListDeliveries(ctx context.Context, q hookd.DeliveryQuery) ([]*hookd.Delivery, int, error) {
	where := `tenant_id = $1 AND webhook_id = $2`
	args := []any{q.TenantID, q.WebhookID}
	if q.Status != "" {
		args = append(args, string(q.Status))
		where += fmt.Sprintf(` AND status = $%d`, len(args)) + sqlrow.Waiting(q.Status)
	}
	total := -1
	if q.Before == "" {
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE `+where, args...).Scan(&total); err != nil {
			return nil, 0, wrap("count deliveries", err)
		}
	} else {
		args = append(args, q.Before)
		where += fmt.Sprintf(` AND id < $%d`, len(args))
	}
	n := len(args)
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT %s FROM deliveries WHERE %s ORDER BY id DESC LIMIT $%d OFFSET $%d`, sqlrow.DeliveryCols, where, n+1, n+2),
		append(args, q.Limit, q.Offset)...)
	out, err := collect(rows, err, "list deliveries", sqlrow.ScanDelivery)
	return out, total, err
}

func (s *Store) ListTenantDeliveries(ctx context.Context, q hookd.TenantDeliveryQuery) ([]*hookd.Delivery, error) {
	where, args := sqlrow.TenantDeliveriesWhere(q, func(i int) string { return fmt.Sprintf("$%d", i) })
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT %s FROM deliveries WHERE %s ORDER BY created_at DESC, id DESC LIMIT $%d`, sqlrow.DeliveryCols, where, len(args)+1),
		append(args, q.Limit)...)
	return collect(rows, err, "list deliveries", sqlrow.ScanDelivery)
}

func (s *Store) CountTenantDeliveries(ctx context.Context, q hookd.TenantDeliveryQuery) (int, error) {
	q.BeforeAt, q.BeforeID = time.Time{}, ""
	where, args := sqlrow.TenantDeliveriesWhere(q, func(i int) string { return fmt.Sprintf("$%d", i) })
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE `+where, args...).Scan(&n)
	return n, wrap("count deliveries", err)
}

func (s *Store) ListFailedDeliveries(ctx context.Context, tenantID string, p hookd.Page) ([]*hookd.Delivery, int, error) {
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE tenant_id = $1 AND status = 'FAILED'`, tenantID).Scan(&total); err != nil {
		return nil, 0, wrap("count failed deliveries", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+sqlrow.DeliveryCols+` FROM deliveries WHERE tenant_id = $1 AND status = 'FAILED'
		ORDER BY updated_at DESC, id DESC LIMIT $2 OFFSET $3`, tenantID, p.Limit, p.Offset)
	out, err := collect(rows, err, "list failed deliveries", sqlrow.ScanDelivery)
	return out, total, err
}

// retrySet makes a delivery due now ($1) for one manual attempt with a new
// lease token (see the SQLite store).
const retrySet = `status = CASE WHEN attempts > 0 THEN 'RETRYING' ELSE 'PENDING' END, next_attempt_at = n.now, manual = true,
	leased = false, lease_token = lease_token + 1, updated_at = n.now`

func (s *Store) RetryDelivery(ctx context.Context, tenantID, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var webhookID string
		var now int64
		err := tx.QueryRow(ctx, `UPDATE deliveries d SET `+retrySet+` FROM (SELECT coalesce($1::bigint, `+dbNow+`) AS now) n
			WHERE d.tenant_id = $2 AND d.id = $3 AND NOT (d.leased AND d.next_attempt_at > n.now)
			RETURNING d.webhook_id, n.now`, s.nowArg(), tenantID, id).Scan(&webhookID, &now)
		if errors.Is(err, pgx.ErrNoRows) {
			return changedOrGone(ctx, tx, "deliveries", tenantID, id, "retry delivery", fmt.Errorf("an attempt is being sent: %w", hookd.ErrConflict))
		}
		if err != nil {
			return wrap("retry delivery", err)
		}
		if err := s.markOne(ctx, tx, webhookID, now); err != nil {
			return wrap("retry", err)
		}
		return writeAudit(ctx, tx)
	})
}

func (s *Store) RetryFailed(ctx context.Context, tenantID, webhookID string, w hookd.Window) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var now int64
		if err := tx.QueryRow(ctx, `SELECT coalesce($1::bigint, `+dbNow+`)`, s.nowArg()).Scan(&now); err != nil {
			return wrap("retry failed deliveries", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET `+retrySet+` FROM (SELECT $1::bigint AS now) n
			WHERE tenant_id = $2 AND webhook_id = $3 AND status = 'FAILED' AND created_at >= $4 AND ($5::bigint = 0 OR created_at <= $5)`,
			now, tenantID, webhookID, sqlrow.Micros(w.Since), sqlrow.Micros(w.Until))
		if err != nil {
			return wrap("retry failed deliveries", err)
		}
		if n = int(tag.RowsAffected()); n == 0 {
			return nil // nothing changed: no audit entry
		}
		if err := s.markOne(ctx, tx, webhookID, now); err != nil {
			return wrap("retry", err)
		}
		return writeAudit(ctx, tx)
	})
	return n, err
}

func (s *Store) Stats(ctx context.Context, q hookd.StatsQuery) (*hookd.Stats, error) {
	aw, dw, aargs, dargs := sqlrow.StatsWhere(q, func(i int) string { return fmt.Sprintf("$%d", i) })
	st := sqlrow.NewStats()
	var t sqlrow.AttemptTotals
	if err := s.pool.QueryRow(ctx, `SELECT `+sqlrow.AttemptTotalsCols+` FROM attempts WHERE `+aw, aargs...).
		Scan(&t.Attempts, &t.Successes, &t.Answered, &t.AnsweredUs); err != nil {
		return nil, wrap("attempt stats", err)
	}
	rollups, rargs := sqlrow.RollupSQL(q, func(i int) string { return fmt.Sprintf("$%d", i) })
	if err := sqlrow.AddRollups(s.pool.QueryRow(ctx, rollups, rargs...), st, &t); err != nil {
		return nil, wrap("rolled-up stats", err)
	}
	sqlrow.FinishStats(st, t)
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM deliveries WHERE `+dw+` GROUP BY status`, dargs...)
	if err != nil {
		return nil, wrap("delivery stats", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, wrap("delivery stats", err)
		}
		st.ByStatus[hookd.DeliveryStatus(status)] += n
	}
	return st, wrap("delivery stats", rows.Err())
}

func (s *Store) ExpungeAttemptContent(ctx context.Context, tenantID, deliveryID string, number int) error {
	tag, err := s.pool.Exec(ctx, `UPDATE attempts SET response_body = NULL, response_headers = '{}' WHERE delivery_id = $1 AND number = $2 AND tenant_id = $3`, deliveryID, number, tenantID)
	if err != nil {
		return wrap("expunge attempt", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("expunge attempt: %w", hookd.ErrNotFound)
	}
	return nil
}

func (s *Store) CancelDeliveries(ctx context.Context, tenantID, webhookID string, before time.Time) (canceled, sending int, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		canceled, sending = 0, 0
		// The webhook first, as every writer of its deliveries (a record
		// locks its webhooks, then updates their deliveries): without it a
		// cancel and a record each held deliveries the other wanted.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM webhooks WHERE id = $1 AND tenant_id = $2 FOR NO KEY UPDATE`, webhookID, tenantID); err != nil {
			return wrap("cancel deliveries", err)
		}
		var beforeArg any
		if !before.IsZero() {
			beforeArg = sqlrow.Micros(before)
		}
		// One being sent (a live lease) keeps its lease: its attempt
		// finishes, and its outcome ends it CANCELED unless it succeeded
		// (recordOutcomes).
		rows, err := tx.Query(ctx, `UPDATE deliveries d SET status = 'CANCELED', last_error = 'canceled', updated_at = n.now,
			next_attempt_at = CASE WHEN d.leased AND d.next_attempt_at > n.now THEN d.next_attempt_at END,
			lease_token = CASE WHEN d.leased AND d.next_attempt_at > n.now THEN d.lease_token ELSE d.lease_token + 1 END,
			leased = coalesce(d.leased AND d.next_attempt_at > n.now, false)
			FROM (SELECT coalesce($1::bigint, `+dbNow+`) AS now) n
			WHERE d.tenant_id = $2 AND d.webhook_id = $3 AND d.status IN `+sqlrow.WaitingStatuses+`
			AND ($4::bigint IS NULL OR d.created_at < $4::bigint) RETURNING d.leased`, s.nowArg(), tenantID, webhookID, beforeArg)
		if err != nil {
			return wrap("cancel deliveries", err)
		}
		leased, err := pgx.CollectRows(rows, pgx.RowTo[bool])
		if err != nil {
			return wrap("cancel deliveries", err)
		}
		for _, l := range leased {
			canceled++
			if l {
				sending++
			}
		}
		if canceled == 0 {
			return nil // nothing changed: no audit entry
		}
		if err := s.announce(ctx, tx, webhookID); err != nil {
			return err
		}
		return writeAudit(ctx, tx)
	})
	return canceled, sending, err
}

// DeleteDeliveries locks the webhook first, as every writer of its
// deliveries does (deadlock otherwise: see DeleteEvents).
func (s *Store) DeleteDeliveries(ctx context.Context, p hookd.DeleteDeliveriesParams) (int, string, error) {
	return deleteStep(ctx, s, "delete deliveries", `SELECT 1 FROM webhooks WHERE id = $1 AND tenant_id = $2 FOR NO KEY UPDATE`, []any{p.WebhookID, p.TenantID},
		sqlrow.DeleteDeliveriesSQL(dollar), sqlrow.DeleteDeliveriesArgs(p), p.After)
}
