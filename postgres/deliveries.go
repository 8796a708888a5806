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

func (s *Store) ClaimDeliveries(ctx context.Context, p hookd.ClaimParams) (*hookd.ClaimResult, error) {
	res := &hookd.ClaimResult{}
	if p.Limit <= 0 {
		return res, nil
	}
	now := sqlrow.Micros(p.Now)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res.Claims = nil
		// SKIP LOCKED: rows another process is claiming right now are
		// passed over, never waited for or claimed twice.
		rows, err := tx.Query(ctx, `SELECT d.id, d.webhook_id, w.enabled, w.rate_limit FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.status IN ('PENDING', 'RETRYING') AND d.next_attempt_at <= $1
			ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED`, now, p.Limit*sqlrow.ScanFactor)
		due, err := collect(rows, err, "claim: scan", func(r sqlrow.Scanner) (sqlrow.DueRow, error) {
			var d sqlrow.DueRow
			err := r.Scan(&d.ID, &d.WebhookID, &d.Enabled, &d.RateLimit)
			return d, err
		})
		if err != nil {
			return err
		}
		pick := sqlrow.NewPicker(p)
		if err := budgets(ctx, tx, pick, due); err != nil {
			return err
		}
		for _, r := range due {
			pick.Add(r)
		}
		for wid, tat := range pick.Spent() {
			if _, err := tx.Exec(ctx, `UPDATE rate_budgets SET tat = $2 WHERE webhook_id = $1`, wid, sqlrow.Micros(tat)); err != nil {
				return wrap("claim: spend rate budget", err)
			}
		}
		if len(pick.Disabled) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'FAILED', next_attempt_at = NULL, last_error = $1, updated_at = $2 WHERE id = ANY($3)`,
				sqlrow.DisabledError, now, pick.Disabled); err != nil {
				return wrap("claim: fail disabled", err)
			}
		}
		for by, ids := range pick.Deferred {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET next_attempt_at = $1 WHERE id = ANY($2)`, sqlrow.Micros(p.Now.Add(by)), ids); err != nil {
				return wrap("claim: defer", err)
			}
		}
		if len(pick.Picked) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET next_attempt_at = $1 WHERE id = ANY($2)`, sqlrow.Micros(p.Now.Add(p.Lease)), pick.Picked); err != nil {
				return wrap("claim: lease", err)
			}
			rows, err := tx.Query(ctx, `SELECT d.id, d.tenant_id, d.event_id, d.event_type, d.webhook_id, w.updated_at, d.attempts, d.manual, e.payload
				FROM deliveries d JOIN events e ON e.seq = d.event_seq JOIN webhooks w ON w.id = d.webhook_id
				WHERE d.id = ANY($1) ORDER BY d.id`, pick.Picked)
			claims, err := collect(rows, err, "claim: read", func(r sqlrow.Scanner) (*hookd.Claim, error) {
				c := &hookd.Claim{}
				var updated int64
				err := r.Scan(&c.DeliveryID, &c.TenantID, &c.EventID, &c.EventType, &c.WebhookID, &updated, &c.Attempts, &c.Manual, &c.Payload)
				c.WebhookUpdatedAt = sqlrow.FromMicros(updated)
				return c, err
			})
			if err != nil {
				return err
			}
			res.Claims = claims
		}
		var next *int64
		if err := tx.QueryRow(ctx, `SELECT min(next_attempt_at) FROM deliveries WHERE status IN ('PENDING', 'RETRYING')`).Scan(&next); err != nil {
			return wrap("claim: next due", err)
		}
		res.NextDue = time.Time{}
		if next != nil {
			res.NextDue = sqlrow.FromMicros(*next)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// budgets gives the picker the budget of each rate-limited webhook among
// the due rows, locking it (in webhook order, so that replicas never
// deadlock) until the claim commits: replicas spend one budget in turn.
func budgets(ctx context.Context, tx pgx.Tx, pick *sqlrow.Picker, due []sqlrow.DueRow) error {
	ids, rates := sqlrow.RateLimited(due)
	if len(ids) == 0 {
		return nil
	}
	// A budget row must exist before it can be locked.
	if _, err := tx.Exec(ctx, `INSERT INTO rate_budgets (webhook_id, tat) SELECT unnest($1::text[]), 0 ON CONFLICT DO NOTHING`, ids); err != nil {
		return wrap("claim: rate budgets", err)
	}
	rows, err := tx.Query(ctx, `SELECT webhook_id, tat FROM rate_budgets WHERE webhook_id = ANY($1) ORDER BY webhook_id FOR UPDATE`, ids)
	type tat struct {
		id string
		at int64
	}
	tats, err := collect(rows, err, "claim: rate budgets", func(r sqlrow.Scanner) (tat, error) {
		var t tat
		err := r.Scan(&t.id, &t.at)
		return t, err
	})
	if err != nil {
		return err
	}
	for _, t := range tats {
		pick.Budget(t.id, sqlrow.FromMicros(t.at), rates[t.id])
	}
	return nil
}

func (s *Store) RecordAttempts(ctx context.Context, results []*hookd.AttemptResult) error {
	b := &pgx.Batch{}
	for _, r := range results {
		if r.Release {
			b.Queue(`UPDATE deliveries SET next_attempt_at = $1 WHERE id = $2 AND status IN ('PENDING', 'RETRYING')`, sqlrow.Micros(r.NextAttemptAt), r.DeliveryID)
			continue
		}
		a := r.Attempt
		rq, err := json.Marshal(sqlrow.NonNil(a.RequestHeaders))
		if err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		rs, err := json.Marshal(sqlrow.NonNil(a.ResponseHeaders))
		if err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		b.Queue(`INSERT INTO attempts (delivery_id, number, tenant_id, webhook_id, started_at, duration_us, status_code, error, success, request_headers, response_headers, response_body)
			SELECT id, attempts + 1, tenant_id, webhook_id, $1, $2, $3, $4, $5, $6, $7, $8 FROM deliveries WHERE id = $9`,
			sqlrow.Micros(a.StartedAt), a.Duration.Microseconds(), a.StatusCode, a.Error, a.Success, string(rq), string(rs), a.ResponseBody, r.DeliveryID)
		var next any
		if r.Status == hookd.StatusPending || r.Status == hookd.StatusRetrying {
			next = sqlrow.Micros(r.NextAttemptAt)
		}
		b.Queue(`UPDATE deliveries SET attempts = attempts + 1, status = $1, next_attempt_at = $2, manual = false,
			last_status_code = $3, last_error = $4, response_time_us = $5, updated_at = $6 WHERE id = $7`,
			string(r.Status), next, a.StatusCode, a.Error, a.Duration.Microseconds(), sqlrow.Micros(a.StartedAt.Add(a.Duration)), r.DeliveryID)
	}
	// One transaction, one round trip: the batch is sent as a pipeline.
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return wrap("record attempts", tx.SendBatch(ctx, b).Close())
	})
}

func (s *Store) GetDelivery(ctx context.Context, tenantID, id string) (*hookd.DeliveryDetail, error) {
	dd := &hookd.DeliveryDetail{}
	row := s.pool.QueryRow(ctx, `SELECT `+sqlrow.Prefixed("d.", sqlrow.DeliveryCols)+`, e.payload FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE d.tenant_id = $1 AND d.id = $2`, tenantID, id)
	d, err := sqlrow.ScanDelivery(withTail{row, &dd.Payload})
	if err != nil {
		return nil, wrap("get delivery", err)
	}
	dd.Delivery = d
	rows, err := s.pool.Query(ctx, `SELECT number, started_at, duration_us, status_code, error, success, request_headers, response_headers, response_body
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
		where += fmt.Sprintf(` AND status = $%d`, len(args))
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

const retryStatus = `CASE WHEN attempts > 0 THEN 'RETRYING' ELSE 'PENDING' END`

func (s *Store) RetryDelivery(ctx context.Context, tenantID, id string, now time.Time) error {
	return s.execOne(ctx, "retry delivery", `UPDATE deliveries SET status = `+retryStatus+`, next_attempt_at = $1, manual = true, updated_at = $1
		WHERE tenant_id = $2 AND id = $3`, sqlrow.Micros(now), tenantID, id)
}

func (s *Store) RetryFailed(ctx context.Context, tenantID, webhookID string, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = `+retryStatus+`, next_attempt_at = $1, manual = true, updated_at = $1
		WHERE tenant_id = $2 AND webhook_id = $3 AND status = 'FAILED'`, sqlrow.Micros(now), tenantID, webhookID)
	if err != nil {
		return 0, wrap("retry failed deliveries", err)
	}
	if tag.RowsAffected() > 0 {
		_, _ = s.pool.Exec(ctx, `SELECT pg_notify('`+wakeChannel+`', '')`)
	}
	return int(tag.RowsAffected()), nil
}

func (s *Store) Stats(ctx context.Context, q hookd.StatsQuery) (*hookd.Stats, error) {
	aw, dw, aargs, dargs := sqlrow.StatsWhere(q, func(i int) string { return fmt.Sprintf("$%d", i) })
	st := sqlrow.NewStats()
	var avgUs *float64
	if err := s.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE success), avg(duration_us) FILTER (WHERE status_code > 0)
		FROM attempts WHERE `+aw, aargs...).Scan(&st.TotalDeliveries, &st.SuccessfulDeliveries, &avgUs); err != nil {
		return nil, wrap("attempt stats", err)
	}
	if avgUs != nil {
		sqlrow.FinishStats(st, *avgUs)
	} else {
		sqlrow.FinishStats(st, 0)
	}
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
		st.ByStatus[hookd.DeliveryStatus(status)] = n
	}
	return st, wrap("delivery stats", rows.Err())
}
