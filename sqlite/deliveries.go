package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/sqlrow"

	"github.com/hookd/hookd"
)

func (s *Store) CreateTestDelivery(ctx context.Context, ev *hookd.Event, webhookID string, lease time.Duration) (*hookd.Claim, error) {
	now := s.clock.Now()
	c := &hookd.Claim{
		Lease:    hookd.Lease{DeliveryID: hookd.NewID(hookd.PrefixDelivery, now), Token: 1},
		TenantID: ev.TenantID, EventID: ev.ID, EventType: ev.Type, WebhookID: webhookID,
		Manual: true, Payload: ev.Payload, LeasedUntil: now.Add(lease), PublishedAt: ev.Timestamp,
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.Exec(`INSERT INTO events (tenant_id, id, type, channels, created_at, payload, test) VALUES (?, ?, ?, NULL, ?, ?, 1)`,
			ev.TenantID, ev.ID, ev.Type, sqlrow.Micros(ev.Timestamp), ev.Payload)
		if err != nil {
			return fmt.Errorf("insert test event: %w", err)
		}
		seq, err := r.LastInsertId()
		if err != nil {
			return err
		}
		until := sqlrow.Micros(c.LeasedUntil)
		r, err = tx.Exec(`INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, manual, lease_token, leased, created_at, updated_at)
			SELECT ?, ?, ?, id, ?, ?, 'PENDING', ?, 1, ?, 1, ?, ? FROM webhooks WHERE id = ? AND tenant_id = ?`,
			c.DeliveryID, c.TenantID, seq, c.EventID, c.EventType, until, c.Token, sqlrow.Micros(now), sqlrow.Micros(now), webhookID, ev.TenantID)
		if err := affected("insert test delivery", r, err); err != nil {
			return err
		}
		// Should the caller die, the delivery falls due when its lease ends.
		if _, err := s.exec(tx, markDue, sqlrow.JSONList(map[string]int64{webhookID: until})); err != nil {
			return fmt.Errorf("insert test delivery: %w", err)
		}
		ev.Seq = seq
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Store) GetDelivery(ctx context.Context, tenantID, id string) (*hookd.DeliveryDetail, error) {
	row := s.queryRow(ctx, `SELECT `+sqlrow.Prefixed("d.", sqlrow.DeliveryCols)+`, e.payload FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE d.tenant_id = ? AND d.id = ?`, tenantID, id)
	dd := &hookd.DeliveryDetail{}
	var next sql.NullInt64
	var rt, created, updated int64
	d := &hookd.Delivery{}
	if err := row.Scan(&d.ID, &d.TenantID, &d.EventID, &d.WebhookID, &d.EventType, &d.Status, &d.Attempts, &next,
		&d.LastStatusCode, &d.LastError, &rt, &created, &updated, &dd.Payload); err != nil {
		return nil, notFound("get delivery", err)
	}
	d.NextAttemptAt, d.ResponseTime = sqlrow.FromMicros(next.Int64), sqlrow.MicroDuration(rt)
	d.CreatedAt, d.UpdatedAt = sqlrow.FromMicros(created), sqlrow.FromMicros(updated)
	dd.Delivery = d
	rows, err := s.queryRead(ctx, `SELECT `+sqlrow.AttemptCols+` FROM attempts WHERE delivery_id = ? ORDER BY number`, id)
	if err != nil {
		return nil, fmt.Errorf("get delivery attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := sqlrow.ScanAttempt(rows)
		if err != nil {
			return nil, fmt.Errorf("get delivery attempts: %w", err)
		}
		dd.Attempts = append(dd.Attempts, a)
	}
	return dd, rows.Err()
}

func (s *Store) queryDeliveries(ctx context.Context, query string, args ...any) ([]*hookd.Delivery, error) {
	rows, err := s.queryRead(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	out := []*hookd.Delivery{}
	for rows.Next() {
		d, err := sqlrow.ScanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *Store) ListDeliveries(ctx context.Context, q hookd.DeliveryQuery) ([]*hookd.Delivery, int, error) {
	// Unary + keeps the planner off the tenant's indexes, which it picked
	// for the count and then read every delivery of the tenant to find the
	// webhook's (~40 ms a count with 200,000; the console counts each
	// webhook of a page); the webhook's own index reads only its rows. But
	// FAILED ones are fewest through the tenant's partial index of them.
	where := `+tenant_id = ? AND webhook_id = ?`
	if q.Status == hookd.StatusFailed {
		where = `tenant_id = ? AND webhook_id = ?`
	}
	args := []any{q.TenantID, q.WebhookID}
	if q.Status != "" {
		where += ` AND status = ?` + sqlrow.Waiting(q.Status)
		args = append(args, string(q.Status))
	}
	total := -1
	if q.Before == "" {
		if err := s.queryRow(ctx, `SELECT count(*) FROM deliveries WHERE `+where, args...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("count deliveries: %w", err)
		}
	} else {
		where += ` AND id < ?`
		args = append(args, q.Before)
	}
	out, err := s.queryDeliveries(ctx, `SELECT `+sqlrow.DeliveryCols+` FROM deliveries WHERE `+where+` ORDER BY id DESC LIMIT ? OFFSET ?`,
		append(args, q.Limit, q.Offset)...)
	return out, total, err
}

func (s *Store) ListTenantDeliveries(ctx context.Context, q hookd.TenantDeliveryQuery) ([]*hookd.Delivery, error) {
	where, args := sqlrow.TenantDeliveriesWhere(q, question)
	return s.queryDeliveries(ctx, `SELECT `+sqlrow.DeliveryCols+` FROM deliveries WHERE `+where+` ORDER BY created_at DESC, id DESC LIMIT ?`,
		append(args, q.Limit)...)
}

func (s *Store) CountTenantDeliveries(ctx context.Context, q hookd.TenantDeliveryQuery) (int, error) {
	q.BeforeAt, q.BeforeID = time.Time{}, ""
	where, args := sqlrow.TenantDeliveriesWhere(q, question)
	var n int
	if err := s.queryRow(ctx, `SELECT count(*) FROM deliveries WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count deliveries: %w", err)
	}
	return n, nil
}

func (s *Store) ListFailedDeliveries(ctx context.Context, tenantID string, p hookd.Page) ([]*hookd.Delivery, int, error) {
	var total int
	if err := s.queryRow(ctx, `SELECT count(*) FROM deliveries WHERE tenant_id = ? AND status = 'FAILED'`, tenantID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count failed deliveries: %w", err)
	}
	out, err := s.queryDeliveries(ctx, `SELECT `+sqlrow.DeliveryCols+` FROM deliveries WHERE tenant_id = ? AND status = 'FAILED'
		ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`, tenantID, p.Limit, p.Offset)
	return out, total, err
}

// A manual retry is due now, flagged manual so that its failure ends the
// delivery FAILED again instead of starting the schedule over. It takes a
// new lease token, so an outcome of an earlier lease that ran out changes
// nothing.
const (
	retryStatus = `CASE WHEN attempts > 0 THEN 'RETRYING' ELSE 'PENDING' END`
	retrySet    = `status = ` + retryStatus + `, next_attempt_at = ?, manual = 1, leased = 0, lease_token = lease_token + 1, updated_at = ?`
)

func (s *Store) RetryDelivery(ctx context.Context, tenantID, id string) error {
	now := sqlrow.Micros(s.clock.Now())
	return s.write(ctx, func(tx *sql.Tx) error {
		var webhookID string
		// A live lease: an attempt is being sent (a delivery cancelled
		// meanwhile is CANCELED and keeps its lease).
		err := tx.QueryRow(`UPDATE deliveries SET `+retrySet+` WHERE tenant_id = ? AND id = ?
			AND NOT (leased = 1 AND next_attempt_at > ?) RETURNING webhook_id`,
			now, now, tenantID, id, now).Scan(&webhookID)
		if errors.Is(err, sql.ErrNoRows) {
			return changedOrGone(tx, "deliveries", tenantID, id, "retry delivery", fmt.Errorf("an attempt is being sent: %w", hookd.ErrConflict))
		}
		if err != nil {
			return fmt.Errorf("retry delivery: %w", err)
		}
		if _, err := s.exec(tx, markDue, sqlrow.JSONList(map[string]int64{webhookID: now})); err != nil {
			return fmt.Errorf("retry delivery: %w", err)
		}
		return writeAudit(ctx, tx)
	})
}

func (s *Store) RetryFailed(ctx context.Context, tenantID, webhookID string, w hookd.Window) (int, error) {
	now := sqlrow.Micros(s.clock.Now())
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.Exec(`UPDATE deliveries SET `+retrySet+` WHERE tenant_id = ? AND webhook_id = ? AND status = 'FAILED'
			AND created_at >= ? AND (? = 0 OR created_at <= ?)`,
			now, now, tenantID, webhookID, sqlrow.Micros(w.Since), sqlrow.Micros(w.Until), sqlrow.Micros(w.Until))
		if err != nil {
			return fmt.Errorf("retry failed deliveries: %w", err)
		}
		if n, err = r.RowsAffected(); err != nil || n == 0 {
			return err
		}
		if _, err := s.exec(tx, markDue, sqlrow.JSONList(map[string]int64{webhookID: now})); err != nil {
			return fmt.Errorf("retry failed deliveries: %w", err)
		}
		return writeAudit(ctx, tx)
	})
	return int(n), err
}

func (s *Store) Stats(ctx context.Context, q hookd.StatsQuery) (*hookd.Stats, error) {
	attemptWhere, deliveryWhere, attemptArgs, deliveryArgs := sqlrow.StatsWhere(q, question)
	st := sqlrow.NewStats()
	var t sqlrow.AttemptTotals
	if err := s.queryRow(ctx, `SELECT `+sqlrow.AttemptTotalsCols+` FROM attempts WHERE `+attemptWhere, attemptArgs...).
		Scan(&t.Attempts, &t.Successes, &t.Answered, &t.AnsweredUs); err != nil {
		return nil, fmt.Errorf("attempt stats: %w", err)
	}
	rollups, rargs := sqlrow.RollupSQL(q, question)
	if err := sqlrow.AddRollups(s.queryRow(ctx, rollups, rargs...), st, &t); err != nil {
		return nil, fmt.Errorf("rolled-up stats: %w", err)
	}
	sqlrow.FinishStats(st, t)
	rows, err := s.queryRead(ctx, `SELECT status, count(*) FROM deliveries WHERE `+deliveryWhere+` GROUP BY status`, deliveryArgs...)
	if err != nil {
		return nil, fmt.Errorf("delivery stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("delivery stats: %w", err)
		}
		st.ByStatus[hookd.DeliveryStatus(status)] += n
	}
	return st, rows.Err()
}

func (s *Store) ExpungeAttemptContent(ctx context.Context, tenantID, deliveryID string, number int) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE attempts SET response_body = NULL, response_headers = '{}' WHERE delivery_id = ? AND number = ? AND tenant_id = ?`, deliveryID, number, tenantID)
		if err != nil {
			return fmt.Errorf("expunge attempt: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFound("expunge attempt", cmp.Or(err, sql.ErrNoRows))
		}
		return nil
	})
}

func (s *Store) CancelDeliveries(ctx context.Context, tenantID, webhookID string, before time.Time) (canceled, sending int, err error) {
	now := sqlrow.Micros(s.clock.Now())
	err = s.write(ctx, func(tx *sql.Tx) error {
		canceled, sending = 0, 0
		// One being sent (a live lease) keeps its lease: its attempt
		// finishes, and its outcome ends it CANCELED unless it succeeded
		// (the record's updateDelivery).
		where := `tenant_id = ?2 AND webhook_id = ?3 AND status IN ` + sqlrow.WaitingStatuses
		args := []any{now, tenantID, webhookID}
		if !before.IsZero() {
			// Unary + keeps the planner off the tenant's creation-time
			// index, which would walk the tenant's whole history back
			// from ?4, for the webhook's waiting rows (deliveries_queue).
			where += ` AND +created_at < ?4`
			args = append(args, sqlrow.Micros(before))
		}
		rows, err := tx.Query(`UPDATE deliveries SET status = 'CANCELED', last_error = 'canceled', updated_at = ?1,
			next_attempt_at = CASE WHEN leased = 1 AND next_attempt_at > ?1 THEN next_attempt_at END,
			lease_token = CASE WHEN leased = 1 AND next_attempt_at > ?1 THEN lease_token ELSE lease_token + 1 END,
			leased = CASE WHEN leased = 1 AND next_attempt_at > ?1 THEN 1 ELSE 0 END
			WHERE `+where+` RETURNING leased`, args...)
		if err != nil {
			return fmt.Errorf("cancel deliveries: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var leased bool
			if err := rows.Scan(&leased); err != nil {
				return fmt.Errorf("cancel deliveries: %w", err)
			}
			canceled++
			if leased {
				sending++
			}
		}
		if err := rows.Err(); err != nil || canceled == 0 {
			return err // nothing changed: no audit entry
		}
		return writeAudit(ctx, tx)
	})
	return canceled, sending, err
}

func (s *Store) DeleteDeliveries(ctx context.Context, p hookd.DeleteDeliveriesParams) (int, string, error) {
	return deleteStep(ctx, s, "delete deliveries", sqlrow.DeleteDeliveriesSQL(question), sqlrow.DeleteDeliveriesArgs(p), p.After)
}
