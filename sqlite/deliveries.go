package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/sqlrow"

	"github.com/hookd/hookd"
)

// The claim's statements; see hot in sqlite.go.
const (
	claimScan = `SELECT d.id, d.webhook_id, w.enabled, w.rate_limit FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.status IN ('PENDING', 'RETRYING') AND d.next_attempt_at <= ?
		ORDER BY d.next_attempt_at LIMIT ?`
	claimFailDisabled = `UPDATE deliveries SET status = 'FAILED', next_attempt_at = NULL, last_error = ?, updated_at = ?
		WHERE id IN (SELECT value FROM json_each(?))`
	claimMove = `UPDATE deliveries SET next_attempt_at = ? WHERE id IN (SELECT value FROM json_each(?))`
	claimRead = `SELECT d.id, d.tenant_id, d.event_id, d.event_type, d.webhook_id, w.updated_at, d.attempts, d.manual, e.payload
		FROM deliveries d JOIN events e ON e.seq = d.event_seq JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.id`
	readBudgets   = `SELECT webhook_id, tat FROM rate_budgets WHERE webhook_id IN (SELECT value FROM json_each(?))`
	spendBudget   = `INSERT INTO rate_budgets (webhook_id, tat) VALUES (?, ?) ON CONFLICT (webhook_id) DO UPDATE SET tat = excluded.tat`
	nextDue       = `SELECT min(next_attempt_at) FROM deliveries WHERE status IN ('PENDING', 'RETRYING')`
	insertAttempt = `INSERT INTO attempts (delivery_id, number, tenant_id, webhook_id, started_at, duration_us, status_code, error, success, request_headers, response_headers, response_body)
		SELECT id, attempts + 1, tenant_id, webhook_id, ?, ?, ?, ?, ?, ?, ?, ? FROM deliveries WHERE id = ?`
	updateDelivery = `UPDATE deliveries SET attempts = attempts + 1, status = ?, next_attempt_at = ?, manual = 0,
		last_status_code = ?, last_error = ?, response_time_us = ?, updated_at = ? WHERE id = ?`
	releaseDelivery = `UPDATE deliveries SET next_attempt_at = ? WHERE id = ? AND status IN ('PENDING', 'RETRYING')`
)

func (s *Store) ClaimDeliveries(ctx context.Context, p hookd.ClaimParams) (*hookd.ClaimResult, error) {
	res := &hookd.ClaimResult{}
	if p.Limit <= 0 {
		return res, nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res.Claims = nil
		now := sqlrow.Micros(p.Now)
		rows, err := s.query(tx, claimScan, now, p.Limit*sqlrow.ScanFactor)
		if err != nil {
			return fmt.Errorf("claim: scan: %w", err)
		}
		var due []sqlrow.DueRow
		for rows.Next() {
			var r sqlrow.DueRow
			if err := rows.Scan(&r.ID, &r.WebhookID, &r.Enabled, &r.RateLimit); err != nil {
				rows.Close()
				return fmt.Errorf("claim: scan: %w", err)
			}
			due = append(due, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim: scan: %w", err)
		}
		pick := sqlrow.NewPicker(p)
		if err := s.budgets(tx, pick, due); err != nil {
			return err
		}
		for _, r := range due {
			pick.Add(r)
		}
		for wid, tat := range pick.Spent() {
			if _, err := s.exec(tx, spendBudget, wid, sqlrow.Micros(tat)); err != nil {
				return fmt.Errorf("claim: spend rate budget: %w", err)
			}
		}
		if len(pick.Disabled) > 0 {
			_, err := s.exec(tx, claimFailDisabled, sqlrow.DisabledError, now, sqlrow.JSONList(pick.Disabled))
			if err != nil {
				return fmt.Errorf("claim: fail disabled: %w", err)
			}
		}
		for by, ids := range pick.Deferred {
			if _, err := s.exec(tx, claimMove, sqlrow.Micros(p.Now.Add(by)), sqlrow.JSONList(ids)); err != nil {
				return fmt.Errorf("claim: defer: %w", err)
			}
		}
		if len(pick.Picked) > 0 {
			_, err := s.exec(tx, claimMove, sqlrow.Micros(p.Now.Add(p.Lease)), sqlrow.JSONList(pick.Picked))
			if err != nil {
				return fmt.Errorf("claim: lease: %w", err)
			}
			rows, err := s.query(tx, claimRead, sqlrow.JSONList(pick.Picked))
			if err != nil {
				return fmt.Errorf("claim: read: %w", err)
			}
			defer rows.Close()
			for rows.Next() {
				c := &hookd.Claim{}
				var updated int64
				if err := rows.Scan(&c.DeliveryID, &c.TenantID, &c.EventID, &c.EventType, &c.WebhookID, &updated, &c.Attempts, &c.Manual, &c.Payload); err != nil {
					return fmt.Errorf("claim: read: %w", err)
				}
				c.WebhookUpdatedAt = sqlrow.FromMicros(updated)
				res.Claims = append(res.Claims, c)
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("claim: read: %w", err)
			}
		}
		var next sql.NullInt64
		nrows, err := s.query(tx, nextDue)
		if err != nil {
			return fmt.Errorf("claim: next due: %w", err)
		}
		defer nrows.Close()
		nrows.Next()
		if err := nrows.Scan(&next); err != nil {
			return fmt.Errorf("claim: next due: %w", err)
		}
		res.NextDue = sqlrow.FromMicros(next.Int64)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// budgets gives the picker the stored budget of each rate-limited webhook
// among the due rows.
func (s *Store) budgets(tx *sql.Tx, pick *sqlrow.Picker, due []sqlrow.DueRow) error {
	ids, rates := sqlrow.RateLimited(due)
	if len(ids) == 0 {
		return nil
	}
	tats := map[string]int64{}
	rows, err := s.query(tx, readBudgets, sqlrow.JSONList(ids))
	if err != nil {
		return fmt.Errorf("claim: read rate budgets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var tat int64
		if err := rows.Scan(&id, &tat); err != nil {
			return fmt.Errorf("claim: read rate budgets: %w", err)
		}
		tats[id] = tat
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("claim: read rate budgets: %w", err)
	}
	for _, id := range ids {
		pick.Budget(id, sqlrow.FromMicros(tats[id]), rates[id])
	}
	return nil
}

func (s *Store) RecordAttempts(ctx context.Context, results []*hookd.AttemptResult) error {
	type row struct {
		r                      *hookd.AttemptResult
		reqHeaders, resHeaders string
	}
	prepared := make([]row, len(results))
	for i, r := range results {
		prepared[i].r = r
		if r.Release {
			continue
		}
		rq, err := sqlrow.JSONText(sqlrow.NonNil(r.Attempt.RequestHeaders))
		if err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		rs, err := sqlrow.JSONText(sqlrow.NonNil(r.Attempt.ResponseHeaders))
		if err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		prepared[i].reqHeaders, prepared[i].resHeaders = rq, rs
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		ins, upd := tx.Stmt(s.stmts[insertAttempt]), tx.Stmt(s.stmts[updateDelivery])
		for _, p := range prepared {
			r := p.r
			if r.Release {
				if _, err := s.exec(tx, releaseDelivery, sqlrow.Micros(r.NextAttemptAt), r.DeliveryID); err != nil {
					return fmt.Errorf("release delivery: %w", err)
				}
				continue
			}
			a := r.Attempt
			if _, err := ins.Exec(sqlrow.Micros(a.StartedAt), a.Duration.Microseconds(), a.StatusCode, a.Error, a.Success,
				p.reqHeaders, p.resHeaders, a.ResponseBody, r.DeliveryID); err != nil {
				return fmt.Errorf("insert attempt: %w", err)
			}
			var next any
			if r.Status == hookd.StatusPending || r.Status == hookd.StatusRetrying {
				next = sqlrow.Micros(r.NextAttemptAt)
			}
			end := a.StartedAt.Add(a.Duration)
			if _, err := upd.Exec(string(r.Status), next, a.StatusCode, a.Error, a.Duration.Microseconds(), sqlrow.Micros(end), r.DeliveryID); err != nil {
				return fmt.Errorf("update delivery: %w", err)
			}
		}
		return nil
	})
}

func (s *Store) CreateTestDelivery(ctx context.Context, ev *hookd.Event, webhookID string, leaseUntil time.Time) (*hookd.Delivery, error) {
	now := s.clock.Now()
	d := &hookd.Delivery{
		ID: hookd.NewID(hookd.PrefixDelivery, now), TenantID: ev.TenantID, EventID: ev.ID, WebhookID: webhookID,
		EventType: ev.Type, Status: hookd.StatusPending, NextAttemptAt: leaseUntil, CreatedAt: now, UpdatedAt: now,
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.Exec(`INSERT INTO events (tenant_id, id, type, channels, created_at, payload) VALUES (?, ?, ?, NULL, ?, ?)`,
			ev.TenantID, ev.ID, ev.Type, sqlrow.Micros(ev.Timestamp), ev.Payload)
		if err != nil {
			return fmt.Errorf("insert test event: %w", err)
		}
		seq, err := r.LastInsertId()
		if err != nil {
			return err
		}
		r, err = tx.Exec(`INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, manual, created_at, updated_at)
			SELECT ?, ?, ?, id, ?, ?, 'PENDING', ?, 1, ?, ? FROM webhooks WHERE id = ? AND tenant_id = ?`,
			d.ID, d.TenantID, seq, d.EventID, d.EventType, sqlrow.Micros(leaseUntil), sqlrow.Micros(now), sqlrow.Micros(now), webhookID, ev.TenantID)
		if err := affected("insert test delivery", r, err); err != nil {
			return err
		}
		ev.Seq = seq
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
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
	where := `tenant_id = ? AND webhook_id = ?`
	args := []any{q.TenantID, q.WebhookID}
	if q.Status != "" {
		where += ` AND status = ?`
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
// delivery FAILED again instead of starting the schedule over.
const retryStatus = `CASE WHEN attempts > 0 THEN 'RETRYING' ELSE 'PENDING' END`

func (s *Store) RetryDelivery(ctx context.Context, tenantID, id string, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.Exec(`UPDATE deliveries SET status = `+retryStatus+`, next_attempt_at = ?, manual = 1, updated_at = ?
			WHERE tenant_id = ? AND id = ?`, sqlrow.Micros(now), sqlrow.Micros(now), tenantID, id)
		return affected("retry delivery", r, err)
	})
}

func (s *Store) RetryFailed(ctx context.Context, tenantID, webhookID string, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.Exec(`UPDATE deliveries SET status = `+retryStatus+`, next_attempt_at = ?, manual = 1, updated_at = ?
			WHERE tenant_id = ? AND webhook_id = ? AND status = 'FAILED'`, sqlrow.Micros(now), sqlrow.Micros(now), tenantID, webhookID)
		if err != nil {
			return fmt.Errorf("retry failed deliveries: %w", err)
		}
		n, err = r.RowsAffected()
		return err
	})
	return int(n), err
}

func (s *Store) Stats(ctx context.Context, q hookd.StatsQuery) (*hookd.Stats, error) {
	attemptWhere, deliveryWhere, attemptArgs, deliveryArgs := sqlrow.StatsWhere(q, func(int) string { return "?" })
	st := sqlrow.NewStats()
	var avgUs sql.NullFloat64
	if err := s.queryRow(ctx, `SELECT count(*), coalesce(sum(success), 0), avg(CASE WHEN status_code > 0 THEN duration_us END)
		FROM attempts WHERE `+attemptWhere, attemptArgs...).Scan(&st.TotalDeliveries, &st.SuccessfulDeliveries, &avgUs); err != nil {
		return nil, fmt.Errorf("attempt stats: %w", err)
	}
	sqlrow.FinishStats(st, avgUs.Float64)
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
		st.ByStatus[hookd.DeliveryStatus(status)] = n
	}
	return st, rows.Err()
}
