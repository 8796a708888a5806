package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// claimScanFactor is how many due rows one claim looks at per row it may take:
// rows of saturated webhooks are skipped (and deferred) on the way.
const claimScanFactor = 4

// The claim's statements; see hot in sqlite.go.
const (
	claimScan = `SELECT d.id, d.webhook_id, w.enabled FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.status IN ('PENDING', 'RETRYING') AND d.next_attempt_at <= ?
		ORDER BY d.next_attempt_at LIMIT ?`
	claimFailDisabled = `UPDATE deliveries SET status = 'FAILED', next_attempt_at = NULL, last_error = ?, updated_at = ?
		WHERE id IN (SELECT value FROM json_each(?))`
	claimMove = `UPDATE deliveries SET next_attempt_at = ? WHERE id IN (SELECT value FROM json_each(?))`
	claimRead = `SELECT d.id, d.tenant_id, d.event_id, d.event_type, d.webhook_id, w.updated_at, d.attempts, d.manual, e.payload
		FROM deliveries d JOIN events e ON e.seq = d.event_seq JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.id`
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
		now := micros(p.Now)
		rows, err := s.query(tx, claimScan, now, p.Limit*claimScanFactor)
		if err != nil {
			return fmt.Errorf("claim: scan: %w", err)
		}
		var picked, disabled []string
		deferred := map[time.Duration][]string{}
		type roomOf struct {
			left    int
			deferBy time.Duration
		}
		room := map[string]*roomOf{}
		for rows.Next() {
			var id, wid string
			var enabled bool
			if err := rows.Scan(&id, &wid, &enabled); err != nil {
				rows.Close()
				return fmt.Errorf("claim: scan: %w", err)
			}
			if !enabled {
				disabled = append(disabled, id)
				continue
			}
			if len(picked) == p.Limit {
				continue // due, but the batch is full: left as it is
			}
			r := room[wid]
			if r == nil {
				left, deferBy := p.Room(wid)
				r = &roomOf{left, deferBy}
				room[wid] = r
			}
			if r.left <= 0 {
				deferred[r.deferBy] = append(deferred[r.deferBy], id)
			} else {
				picked = append(picked, id)
				r.left--
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim: scan: %w", err)
		}
		if len(disabled) > 0 {
			_, err := s.exec(tx, claimFailDisabled, disabledError, now, jsonList(disabled))
			if err != nil {
				return fmt.Errorf("claim: fail disabled: %w", err)
			}
		}
		for by, ids := range deferred {
			if _, err := s.exec(tx, claimMove, micros(p.Now.Add(by)), jsonList(ids)); err != nil {
				return fmt.Errorf("claim: defer: %w", err)
			}
		}
		if len(picked) > 0 {
			_, err := s.exec(tx, claimMove, micros(p.Now.Add(p.Lease)), jsonList(picked))
			if err != nil {
				return fmt.Errorf("claim: lease: %w", err)
			}
			rows, err := s.query(tx, claimRead, jsonList(picked))
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
				c.WebhookUpdatedAt = fromMicros(updated)
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
		res.NextDue = fromMicros(next.Int64)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
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
		rq, err := jsonText(nonNil(r.Attempt.RequestHeaders))
		if err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		rs, err := jsonText(nonNil(r.Attempt.ResponseHeaders))
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
				if _, err := s.exec(tx, releaseDelivery, micros(r.NextAttemptAt), r.DeliveryID); err != nil {
					return fmt.Errorf("release delivery: %w", err)
				}
				continue
			}
			a := r.Attempt
			if _, err := ins.Exec(micros(a.StartedAt), a.Duration.Microseconds(), a.StatusCode, a.Error, a.Success,
				p.reqHeaders, p.resHeaders, a.ResponseBody, r.DeliveryID); err != nil {
				return fmt.Errorf("insert attempt: %w", err)
			}
			var next any
			if r.Status == hookd.StatusPending || r.Status == hookd.StatusRetrying {
				next = micros(r.NextAttemptAt)
			}
			end := a.StartedAt.Add(a.Duration)
			if _, err := upd.Exec(string(r.Status), next, a.StatusCode, a.Error, a.Duration.Microseconds(), micros(end), r.DeliveryID); err != nil {
				return fmt.Errorf("update delivery: %w", err)
			}
		}
		return nil
	})
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (s *Store) CreateTestDelivery(ctx context.Context, ev *hookd.Event, webhookID string, leaseUntil time.Time) (*hookd.Delivery, error) {
	now := s.clock.Now()
	d := &hookd.Delivery{
		ID: hookd.NewID(hookd.PrefixDelivery, now), TenantID: ev.TenantID, EventID: ev.ID, WebhookID: webhookID,
		EventType: ev.Type, Status: hookd.StatusPending, NextAttemptAt: leaseUntil, CreatedAt: now, UpdatedAt: now,
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.Exec(`INSERT INTO events (tenant_id, id, type, channels, created_at, payload) VALUES (?, ?, ?, NULL, ?, ?)`,
			ev.TenantID, ev.ID, ev.Type, micros(ev.Timestamp), ev.Payload)
		if err != nil {
			return fmt.Errorf("insert test event: %w", err)
		}
		seq, err := r.LastInsertId()
		if err != nil {
			return err
		}
		r, err = tx.Exec(`INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, manual, created_at, updated_at)
			SELECT ?, ?, ?, id, ?, ?, 'PENDING', ?, 1, ?, ? FROM webhooks WHERE id = ? AND tenant_id = ?`,
			d.ID, d.TenantID, seq, d.EventID, d.EventType, micros(leaseUntil), micros(now), micros(now), webhookID, ev.TenantID)
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
	row := s.queryRow(ctx, `SELECT `+prefixed("d.", deliveryCols)+`, e.payload FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE d.tenant_id = ? AND d.id = ?`, tenantID, id)
	dd := &hookd.DeliveryDetail{}
	var next sql.NullInt64
	var rt, created, updated int64
	d := &hookd.Delivery{}
	if err := row.Scan(&d.ID, &d.TenantID, &d.EventID, &d.WebhookID, &d.EventType, &d.Status, &d.Attempts, &next,
		&d.LastStatusCode, &d.LastError, &rt, &created, &updated, &dd.Payload); err != nil {
		return nil, notFound("get delivery", err)
	}
	d.NextAttemptAt, d.ResponseTime = fromMicros(next.Int64), microDuration(rt)
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	dd.Delivery = d
	rows, err := s.queryRead(ctx, `SELECT number, started_at, duration_us, status_code, error, success, request_headers, response_headers, response_body
		FROM attempts WHERE delivery_id = ? ORDER BY number`, id)
	if err != nil {
		return nil, fmt.Errorf("get delivery attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a := &hookd.Attempt{}
		var started, dur int64
		var rq, rs string
		if err := rows.Scan(&a.Number, &started, &dur, &a.StatusCode, &a.Error, &a.Success, &rq, &rs, &a.ResponseBody); err != nil {
			return nil, fmt.Errorf("get delivery attempts: %w", err)
		}
		a.StartedAt, a.Duration = fromMicros(started), microDuration(dur)
		if err := json.Unmarshal([]byte(rq), &a.RequestHeaders); err != nil {
			return nil, fmt.Errorf("attempt request headers: %w", err)
		}
		if err := json.Unmarshal([]byte(rs), &a.ResponseHeaders); err != nil {
			return nil, fmt.Errorf("attempt response headers: %w", err)
		}
		dd.Attempts = append(dd.Attempts, a)
	}
	return dd, rows.Err()
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func (s *Store) queryDeliveries(ctx context.Context, query string, args ...any) ([]*hookd.Delivery, error) {
	rows, err := s.queryRead(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	out := []*hookd.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
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
	out, err := s.queryDeliveries(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE `+where+` ORDER BY id DESC LIMIT ? OFFSET ?`,
		append(args, q.Limit, q.Offset)...)
	return out, total, err
}

func (s *Store) ListFailedDeliveries(ctx context.Context, tenantID string, p hookd.Page) ([]*hookd.Delivery, int, error) {
	var total int
	if err := s.queryRow(ctx, `SELECT count(*) FROM deliveries WHERE tenant_id = ? AND status = 'FAILED'`, tenantID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count failed deliveries: %w", err)
	}
	out, err := s.queryDeliveries(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE tenant_id = ? AND status = 'FAILED'
		ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`, tenantID, p.Limit, p.Offset)
	return out, total, err
}

// A manual retry is due now, flagged manual so that its failure ends the
// delivery FAILED again instead of starting the schedule over.
const retryStatus = `CASE WHEN attempts > 0 THEN 'RETRYING' ELSE 'PENDING' END`

func (s *Store) RetryDelivery(ctx context.Context, tenantID, id string, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.Exec(`UPDATE deliveries SET status = `+retryStatus+`, next_attempt_at = ?, manual = 1, updated_at = ?
			WHERE tenant_id = ? AND id = ?`, micros(now), micros(now), tenantID, id)
		return affected("retry delivery", r, err)
	})
}

func (s *Store) RetryFailed(ctx context.Context, tenantID, webhookID string, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.Exec(`UPDATE deliveries SET status = `+retryStatus+`, next_attempt_at = ?, manual = 1, updated_at = ?
			WHERE tenant_id = ? AND webhook_id = ? AND status = 'FAILED'`, micros(now), micros(now), tenantID, webhookID)
		if err != nil {
			return fmt.Errorf("retry failed deliveries: %w", err)
		}
		n, err = r.RowsAffected()
		return err
	})
	return int(n), err
}

func (s *Store) Stats(ctx context.Context, q hookd.StatsQuery) (*hookd.Stats, error) {
	where := `tenant_id = ?`
	args := []any{q.TenantID}
	if q.WebhookID != "" {
		where += ` AND webhook_id = ?`
		args = append(args, q.WebhookID)
	}
	attemptWhere, attemptArgs := where, append([]any{}, args...)
	deliveryWhere, deliveryArgs := where, append([]any{}, args...)
	if !q.Since.IsZero() {
		attemptWhere += ` AND started_at >= ?`
		attemptArgs = append(attemptArgs, micros(q.Since))
		deliveryWhere += ` AND created_at >= ?`
		deliveryArgs = append(deliveryArgs, micros(q.Since))
	}
	if !q.Until.IsZero() {
		attemptWhere += ` AND started_at <= ?`
		attemptArgs = append(attemptArgs, micros(q.Until))
		deliveryWhere += ` AND created_at <= ?`
		deliveryArgs = append(deliveryArgs, micros(q.Until))
	}
	st := &hookd.Stats{ByStatus: map[hookd.DeliveryStatus]int{
		hookd.StatusPending: 0, hookd.StatusRetrying: 0, hookd.StatusSuccess: 0, hookd.StatusFailed: 0,
	}}
	var avgUs sql.NullFloat64
	if err := s.queryRow(ctx, `SELECT count(*), coalesce(sum(success), 0), avg(CASE WHEN status_code > 0 THEN duration_us END)
		FROM attempts WHERE `+attemptWhere, attemptArgs...).Scan(&st.TotalDeliveries, &st.SuccessfulDeliveries, &avgUs); err != nil {
		return nil, fmt.Errorf("attempt stats: %w", err)
	}
	st.FailedDeliveries = st.TotalDeliveries - st.SuccessfulDeliveries
	if st.TotalDeliveries > 0 {
		st.SuccessRate = float64(st.SuccessfulDeliveries) / float64(st.TotalDeliveries)
	}
	st.AverageResponseTimeMs = avgUs.Float64 / 1000
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
