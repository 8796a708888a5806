package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

// The queue's statements (hookd.QueueTx); all are prepared at Open (hot).
const (
	dueWebhooks = `SELECT q.webhook_id, w.tenant_id, w.enabled, w.rate_limit FROM due_webhooks q JOIN webhooks w ON w.id = q.webhook_id
		WHERE q.due_at <= ? ORDER BY q.due_at LIMIT ?`
	readBudgets = `SELECT webhook_id, tat FROM rate_budgets WHERE webhook_id IN (SELECT value FROM json_each(?))`
	spendBudget = `INSERT INTO rate_budgets (webhook_id, tat) VALUES (?, ?) ON CONFLICT (webhook_id) DO UPDATE SET tat = excluded.tat`
	failDue     = `UPDATE deliveries SET status = 'FAILED', next_attempt_at = NULL, leased = 0, last_error = ?, updated_at = ?
		WHERE webhook_id IN (SELECT value FROM json_each(?)) AND status IN ('PENDING', 'RETRYING') AND next_attempt_at <= ?`
	// dueOf reads one webhook's due rows through deliveries_queue: a seek
	// and a short range, however long its backlog; leaseOne leases each.
	// Not one UPDATE … WHERE id IN (SELECT …) RETURNING: SQLite builds the
	// IN set and the returned rows as ephemeral tables, B-trees with pagers
	// and page caches of their own, opened and freed each time.
	dueOf = `SELECT id, lease_token FROM deliveries WHERE webhook_id = ? AND status IN ('PENDING', 'RETRYING') AND next_attempt_at <= ?
		ORDER BY next_attempt_at LIMIT ?`
	leaseOne = `UPDATE deliveries SET next_attempt_at = ?, lease_token = lease_token + 1, leased = 1 WHERE id = ?`
	// claimRead reads the leased deliveries in the order of its list (a
	// join from it: an IN list would be an ephemeral table).
	claimRead = `SELECT d.id, d.tenant_id, d.event_id, d.event_type, d.webhook_id, w.updated_at, d.attempts, d.manual, e.payload, e.created_at, coalesce(e.traceparent, '')
		FROM json_each(?) j CROSS JOIN deliveries d ON d.id = j.value JOIN events e ON e.seq = d.event_seq JOIN webhooks w ON w.id = d.webhook_id`
	// requeueDrop and requeueSet read each webhook's earliest waiting
	// delivery with one seek of deliveries_queue.
	requeueDrop = `DELETE FROM due_webhooks WHERE webhook_id IN (SELECT key FROM json_each(?))
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = due_webhooks.webhook_id AND d.status IN ('PENDING', 'RETRYING'))`
	requeueSet = `UPDATE due_webhooks SET due_at = max(j.value, (SELECT min(d.next_attempt_at) FROM deliveries d
			WHERE d.webhook_id = due_webhooks.webhook_id AND d.status IN ('PENDING', 'RETRYING')))
		FROM json_each(?) j WHERE due_webhooks.webhook_id = j.key`
	nextDue = `SELECT min(due_at) FROM due_webhooks`
	// The fence: an attempt's writes apply only while its lease is current.
	insertAttempt = `INSERT INTO attempts (delivery_id, number, tenant_id, webhook_id, started_at, duration_us, status_code, error, success, manual, request_headers, response_headers, response_body)
		SELECT id, attempts + 1, tenant_id, webhook_id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM deliveries WHERE id = ? AND lease_token = ? AND leased = 1`
	// updateDelivery writes an outcome to a delivery not cancelled (the
	// usual case); updateCanceled to one cancelled while it was being sent
	// (the cancel kept its lease), which stays CANCELED unless its attempt
	// succeeded. See fencedCanceled.
	updateDelivery = `UPDATE deliveries SET attempts = attempts + 1, manual = 0, leased = 0, status = ?1, next_attempt_at = ?2,
		last_status_code = ?3, last_error = ?4, response_time_us = ?5, updated_at = ?6
		WHERE id = ?7 AND lease_token = ?8 AND leased = 1 AND status <> 'CANCELED'`
	updateCanceled = `UPDATE deliveries SET attempts = attempts + 1, manual = 0, leased = 0,
		status = CASE WHEN ?1 = 'SUCCESS' THEN ?1 ELSE 'CANCELED' END, next_attempt_at = CASE WHEN ?1 = 'SUCCESS' THEN ?2 END,
		last_status_code = ?3, last_error = ?4, response_time_us = ?5, updated_at = ?6
		WHERE id = ?7 AND lease_token = ?8 AND leased = 1 AND status = 'CANCELED'`
	// A cancelled delivery released unsent is due never again.
	releaseLease = `UPDATE deliveries SET next_attempt_at = ?1, leased = 0
		WHERE id = ?2 AND lease_token = ?3 AND leased = 1 AND status <> 'CANCELED'`
	releaseCanceled = `UPDATE deliveries SET next_attempt_at = NULL, leased = 0
		WHERE id = ?2 AND lease_token = ?3 AND leased = 1 AND status = 'CANCELED'`
	extendLease         = `UPDATE deliveries SET next_attempt_at = ? WHERE id = ? AND lease_token = ? AND leased = 1 AND status IN ` + sqlrow.WaitingStatuses
	extendCanceledLease = `UPDATE deliveries SET next_attempt_at = ? WHERE id = ? AND lease_token = ? AND leased = 1 AND status = 'CANCELED'`
	// markDue lowers due_at, and writes nothing when it is low enough
	// already (the usual case for a busy webhook). A webhook deleted
	// meanwhile is skipped by the join.
	markDue = `INSERT INTO due_webhooks (webhook_id, due_at) SELECT w.id, j.value FROM json_each(?) j JOIN webhooks w ON w.id = j.key WHERE true
		ON CONFLICT (webhook_id) DO UPDATE SET due_at = excluded.due_at WHERE excluded.due_at < due_webhooks.due_at`
	// markPublished is markDue for a new event's deliveries, each due at
	// its next_attempt_at: now, or the end of its lease when it was handed
	// off (a webhook deleted since is gone from the insert already).
	markPublished = `INSERT INTO due_webhooks (webhook_id, due_at) SELECT webhook_id, next_attempt_at FROM deliveries WHERE event_seq = ?
		ON CONFLICT (webhook_id) DO UPDATE SET due_at = excluded.due_at WHERE excluded.due_at < due_webhooks.due_at`
)

// QueueTx runs fn in the writer's current transaction: claims and records
// share commits with publishes (group commit).
func (s *Store) QueueTx(ctx context.Context, fn func(hookd.QueueTx) error) error {
	err := s.writeRelaxed(ctx, func(tx *sql.Tx) error { return fn(&queueTx{s: s, tx: tx, relaxed: true}) })
	if errors.Is(err, errDurable) {
		// It holds what must be on disk when it returns: run it again,
		// from scratch, as a full write (SQLite cannot change a
		// transaction's synchronous once it has begun).
		return s.write(ctx, func(tx *sql.Tx) error { return fn(&queueTx{s: s, tx: tx}) })
	}
	return err
}

// errDurable stops a relaxed queue transaction that is about to write what
// must not be lost to a power cut: hookd's own events and audit entries
// (an operational event sent and then lost would be made again under
// another id).
var errDurable = errors.New("queue transaction needs a full commit")

type queueTx struct {
	s  *Store
	tx *sql.Tx
	// relaxed: the transaction commits with synchronous=NORMAL, so the
	// durable writes ask for a full one (errDurable) instead.
	relaxed bool
}

var _ hookd.QueueTx = (*queueTx)(nil)

func (q *queueTx) exec(query string, args ...any) (int64, error) {
	r, err := q.s.exec(q.tx, query, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (q *queueTx) Now(context.Context) (time.Time, error) { return q.s.clock.Now(), nil }

// refused marks a value SQLite will not hold (a constraint, a mismatch, a
// value too big) as hookd.ErrRefused.
func refused(err error) error {
	var se interface{ Code() int }
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 18, 19, 20: // SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_MISMATCH
			return fmt.Errorf("%w: %w", hookd.ErrRefused, err)
		}
	}
	return err
}

func (q *queueTx) DueWebhooks(_ context.Context, p *hookd.DueWebhooksParams) ([]*hookd.DueWebhook, error) {
	rows, err := q.s.query(q.tx, dueWebhooks, sqlrow.Micros(p.Now), p.Limit)
	if err != nil {
		return nil, fmt.Errorf("due webhooks: %w", err)
	}
	defer rows.Close()
	var out []*hookd.DueWebhook
	for rows.Next() {
		w := &hookd.DueWebhook{}
		if err := rows.Scan(&w.ID, &w.TenantID, &w.Enabled, &w.RateLimit); err != nil {
			return nil, fmt.Errorf("due webhooks: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (q *queueTx) RateBudgets(_ context.Context, p *hookd.RateBudgetsParams) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(p.WebhookIDs))
	if len(p.WebhookIDs) == 0 {
		return out, nil
	}
	// The single writer serialises claims: nothing to lock, and none is
	// held by another claim.
	for _, id := range p.WebhookIDs {
		out[id] = time.Time{}
	}
	rows, err := q.s.query(q.tx, readBudgets, sqlrow.JSONList(p.WebhookIDs))
	if err != nil {
		return nil, fmt.Errorf("rate budgets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var tat int64
		if err := rows.Scan(&id, &tat); err != nil {
			return nil, fmt.Errorf("rate budgets: %w", err)
		}
		out[id] = sqlrow.FromMicros(tat)
	}
	return out, rows.Err()
}

func (q *queueTx) SetRateBudgets(_ context.Context, p *hookd.SetRateBudgetsParams) error {
	for id, tat := range p.TATs {
		if _, err := q.exec(spendBudget, id, sqlrow.Micros(tat)); err != nil {
			return fmt.Errorf("set rate budget: %w", err)
		}
	}
	return nil
}

func (q *queueTx) FailDue(_ context.Context, p *hookd.FailDueParams) (int, error) {
	if len(p.WebhookIDs) == 0 {
		return 0, nil
	}
	now := sqlrow.Micros(p.Now)
	n, err := q.exec(failDue, p.Error, now, sqlrow.JSONList(p.WebhookIDs), now)
	if err != nil {
		return 0, fmt.Errorf("fail due deliveries: %w", err)
	}
	return int(n), nil
}

func (q *queueTx) LeaseDeliveries(_ context.Context, p *hookd.LeaseDeliveriesParams) ([]*hookd.Claim, error) {
	now, until := sqlrow.Micros(p.Now), sqlrow.Micros(p.Until)
	tokens := map[string]int64{}
	var ids []string
	for _, t := range p.Take {
		n := min(t.N, p.Limit-len(ids))
		if n <= 0 {
			continue
		}
		rows, err := q.s.query(q.tx, dueOf, t.WebhookID, now, n)
		if err != nil {
			return nil, fmt.Errorf("lease deliveries: %w", err)
		}
		first := len(ids)
		for rows.Next() {
			var id string
			var token int64
			if err := rows.Scan(&id, &token); err != nil {
				rows.Close()
				return nil, fmt.Errorf("lease deliveries: %w", err)
			}
			tokens[id] = token + 1
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("lease deliveries: %w", err)
		}
		for _, id := range ids[first:] {
			if _, err := q.exec(leaseOne, until, id); err != nil {
				return nil, fmt.Errorf("lease deliveries: %w", err)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := q.s.query(q.tx, claimRead, sqlrow.JSONList(ids))
	if err != nil {
		return nil, fmt.Errorf("lease deliveries: read: %w", err)
	}
	defer rows.Close()
	out := make([]*hookd.Claim, 0, len(ids))
	for rows.Next() {
		c := &hookd.Claim{LeasedUntil: p.Until}
		var updated, published int64
		if err := rows.Scan(&c.DeliveryID, &c.TenantID, &c.EventID, &c.EventType, &c.WebhookID, &updated, &c.Attempts, &c.Manual, &c.Payload, &published, &c.TraceParent); err != nil {
			return nil, fmt.Errorf("lease deliveries: read: %w", err)
		}
		c.WebhookUpdatedAt, c.PublishedAt = sqlrow.FromMicros(updated), sqlrow.FromMicros(published)
		c.Token = tokens[c.DeliveryID]
		out = append(out, c)
	}
	return out, rows.Err()
}

func (q *queueTx) RequeueWebhooks(_ context.Context, p *hookd.RequeueWebhooksParams) error {
	if len(p.NotBefore) == 0 {
		return nil
	}
	list := sqlrow.JSONList(micros(p.NotBefore))
	if _, err := q.exec(requeueDrop, list); err != nil {
		return fmt.Errorf("requeue webhooks: %w", err)
	}
	if _, err := q.exec(requeueSet, list); err != nil {
		return fmt.Errorf("requeue webhooks: %w", err)
	}
	return nil
}

func micros(m map[string]time.Time) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, t := range m {
		out[k] = sqlrow.Micros(t)
	}
	return out
}

func (q *queueTx) NextDue(context.Context) (time.Time, error) {
	var next sql.NullInt64
	rows, err := q.s.query(q.tx, nextDue)
	if err != nil {
		return time.Time{}, fmt.Errorf("next due: %w", err)
	}
	defer rows.Close()
	rows.Next()
	if err := rows.Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("next due: %w", err)
	}
	return sqlrow.FromMicros(next.Int64), nil
}

func (q *queueTx) RecordOutcomes(_ context.Context, p *hookd.RecordOutcomesParams) (written, canceled []string, err error) {
	now := sqlrow.Micros(p.Now)
	for _, o := range p.Outcomes {
		a := sqlrow.AttemptRowOf(o.Attempt)
		n, err := q.exec(insertAttempt, a.StartedAt, a.DurationUs, a.StatusCode, a.Error, a.Success, a.Manual,
			a.RequestHeaders, a.ResponseHeaders, a.ResponseBody, o.DeliveryID, o.Token)
		if err != nil {
			return nil, nil, fmt.Errorf("insert attempt: %w", refused(err))
		}
		if n == 0 {
			continue // stale: claimed again, retried by hand, or gone
		}
		var next any
		if t := o.NextAttemptAt(p.Now); !t.IsZero() {
			next = sqlrow.Micros(t)
		}
		_, wasCanceled, err := q.fencedCanceled(updateDelivery, updateCanceled, string(o.Status), next, a.StatusCode, a.Error, a.DurationUs,
			now, o.DeliveryID, o.Token)
		if err != nil {
			return nil, nil, fmt.Errorf("update delivery: %w", refused(err))
		}
		written = append(written, o.DeliveryID)
		if o.Status == hookd.StatusCanceled || wasCanceled && o.Status != hookd.StatusSuccess {
			canceled = append(canceled, o.DeliveryID)
		}
	}
	return written, canceled, nil
}

// fenced runs a lease statement (its last two parameters: delivery ID and
// token) for each lease, and returns the IDs it changed.
func (q *queueTx) fenced(query string, first any, leases []hookd.Lease) ([]string, error) {
	var done []string
	for _, l := range leases {
		n, err := q.exec(query, first, l.DeliveryID, l.Token)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			done = append(done, l.DeliveryID)
		}
	}
	return done, nil
}

func (q *queueTx) ReleaseLeases(_ context.Context, p *hookd.ReleaseLeasesParams) (released, canceled []string, err error) {
	at := sqlrow.Micros(p.At)
	for _, l := range p.Leases {
		changed, stays, err := q.fencedCanceled(releaseLease, releaseCanceled, at, l.DeliveryID, l.Token)
		if err != nil {
			return nil, nil, fmt.Errorf("release leases: %w", err)
		}
		if changed {
			released = append(released, l.DeliveryID)
		}
		if stays {
			canceled = append(canceled, l.DeliveryID)
		}
	}
	return released, canceled, nil
}

// fencedCanceled runs a fenced statement on one delivery in two forms:
// live, for a delivery not cancelled (the usual case), and, when that
// changed nothing, canceled, for one cancelled while it was held. It says
// whether either changed the row, and whether it was the cancelled form.
// Two plain statements rather than one with RETURNING: SQLite collects a
// RETURNING statement's rows in an ephemeral table, a B-tree with its own
// pager and page cache opened and freed each time (~1 % of hookd's CPU at
// full load, once an outcome).
func (q *queueTx) fencedCanceled(live, canceled string, args ...any) (changed, wasCanceled bool, err error) {
	n, err := q.exec(live, args...)
	if err != nil || n > 0 {
		return n > 0, false, err
	}
	n, err = q.exec(canceled, args...)
	return n > 0, n > 0, err
}

func (s *Store) LiveLeases(ctx context.Context, p *hookd.LiveLeasesParams) ([]string, error) {
	if len(p.Leases) == 0 {
		return nil, nil
	}
	tokens := make(map[string]int64, len(p.Leases))
	for _, l := range p.Leases {
		tokens[l.DeliveryID] = l.Token
	}
	rows, err := s.queryRead(ctx, `SELECT d.id FROM json_each(?) j JOIN deliveries d ON d.id = j.key
		WHERE d.lease_token = j.value AND d.leased = 1 AND d.status IN `+sqlrow.WaitingStatuses, sqlrow.JSONList(tokens))
	return scanIDs(rows, err, "live leases")
}

// scanIDs reads a query's one column of ids.
func scanIDs(rows *sql.Rows, err error, what string) ([]string, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ids, nil
}

func (q *queueTx) ExtendLeases(_ context.Context, p *hookd.ExtendLeasesParams) ([]string, error) {
	query := extendLease
	if p.Canceled {
		query = extendCanceledLease
	}
	done, err := q.fenced(query, sqlrow.Micros(p.Until), p.Leases)
	if err != nil {
		return nil, fmt.Errorf("extend leases: %w", err)
	}
	return done, nil
}

func (q *queueTx) MarkDue(_ context.Context, p *hookd.MarkDueParams) error {
	if len(p.Due) == 0 {
		return nil
	}
	if _, err := q.exec(markDue, sqlrow.JSONList(micros(p.Due))); err != nil {
		return fmt.Errorf("mark due: %w", err)
	}
	return nil
}

// updateHealth folds one batch's attempts into a webhook's health: a
// success restarts the streak after it, unless the stored streak began
// after it (another process recorded newer failures first); failures
// without one extend the streak, which begins at the earliest failure.
// ?1 succeeded, ?2 failures, ?3 first failure, ?4 last success, ?5
// exhausted, ?6 the webhook, ?7 the delivery that exhausted it (the
// streak's first such is kept).
const updateHealth = `UPDATE webhooks SET
	consecutive_failures = CASE WHEN ?1 AND (failing_since = 0 OR ?4 > failing_since) THEN ?2 ELSE consecutive_failures + ?2 END,
	failing_since = CASE WHEN ?1 AND (failing_since = 0 OR ?4 > failing_since) THEN ?3
		WHEN failing_since = 0 OR (?3 > 0 AND ?3 < failing_since) THEN ?3 ELSE failing_since END,
	last_success_at = CASE WHEN ?1 AND ?4 > last_success_at THEN ?4 ELSE last_success_at END,
	exhausted = CASE WHEN ?1 AND (failing_since = 0 OR ?4 > failing_since) THEN ?5 ELSE (exhausted OR ?5) END,
	exhausted_by = CASE WHEN ?1 AND (failing_since = 0 OR ?4 > failing_since) THEN (CASE WHEN ?5 THEN ?7 END)
		WHEN ?5 AND exhausted = 0 THEN ?7 ELSE exhausted_by END
	WHERE id = ?6`

// disableWebhooks disables the enabled webhooks among a JSON list, moving
// updated_at forward so an edit based on the version before fails and
// reads again.
const disableWebhooks = `UPDATE webhooks SET enabled = 0, disabled_reason = ?, disabled_at = ?,
	updated_at = CASE WHEN ? > updated_at THEN ? ELSE updated_at + 1 END
	WHERE id IN (SELECT value FROM json_each(?)) AND enabled = 1 %s RETURNING id, tenant_id, exhausted_by`

// The two texts disable runs (fixed, so prepared at Open: every record
// runs the failing one).
var (
	disableGone    = fmt.Sprintf(disableWebhooks, "")
	disableFailing = fmt.Sprintf(disableWebhooks, `AND failing_since > 0 AND failing_since <= ? AND exhausted = 1`)
)

// noteSuccess sets a healthy webhook's last success: ?1 the success, ?2
// the webhook.
const noteSuccess = `UPDATE webhooks SET last_success_at = max(last_success_at, ?1)
	WHERE id = ?2 AND consecutive_failures = 0 AND failing_since = 0 AND exhausted = 0`

// webhookHealth reads the health of the webhooks a record batch touches.
const webhookHealth = `SELECT ` + sqlrow.HealthBeforeCols + ` FROM webhooks WHERE id IN (SELECT value FROM json_each(?))`

func (q *queueTx) UpdateHealth(_ context.Context, p *hookd.UpdateHealthParams) (*hookd.HealthResult, error) {
	var gone, all []string
	for _, u := range p.Updates {
		if _, err := q.exec(updateHealth, u.Succeeded, u.Failures, sqlrow.Micros(u.FirstFailureAt), sqlrow.Micros(u.LastSuccessAt),
			u.Exhausted, u.WebhookID, u.ExhaustedDelivery()); err != nil {
			return nil, fmt.Errorf("update health: %w", err)
		}
		if u.Kept {
			continue
		}
		all = append(all, u.WebhookID)
		if u.Gone {
			gone = append(gone, u.WebhookID)
		}
	}
	now := sqlrow.Micros(p.Now)
	var out []hookd.DisabledWebhook
	disable := func(reason string, ids []string, query string, args ...any) error {
		if len(ids) == 0 {
			return nil
		}
		rows, err := q.s.query(q.tx, query, append([]any{reason, now, now, now, sqlrow.JSONList(ids)}, args...)...)
		if err != nil {
			return fmt.Errorf("disable webhooks: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			d := hookd.DisabledWebhook{Reason: reason}
			var by sql.NullString
			if err := rows.Scan(&d.WebhookID, &d.TenantID, &by); err != nil {
				return fmt.Errorf("disable webhooks: %w", err)
			}
			d.DeliveryID = by.String // the queue names a record's own cause instead
			out = append(out, d)
		}
		return rows.Err()
	}
	if err := disable(hookd.DisabledGone, gone, disableGone); err != nil {
		return nil, err
	}
	if !p.DisableFailingSince.IsZero() {
		if err := disable(hookd.DisabledFailing, all, disableFailing, sqlrow.Micros(p.DisableFailingSince)); err != nil {
			return nil, err
		}
	}
	res := &hookd.HealthResult{Disabled: out}
	if len(out) > 0 {
		ids := make([]string, len(out))
		for i, d := range out {
			ids[i] = d.WebhookID
		}
		// Deliveries being sent right now finish; their outcome is recorded
		// as it comes.
		n, err := q.exec(`UPDATE deliveries SET status = 'FAILED', next_attempt_at = NULL, leased = 0, last_error = ?, updated_at = ?
			WHERE webhook_id IN (SELECT value FROM json_each(?)) AND status IN `+sqlrow.WaitingStatuses+` AND NOT (leased = 1 AND next_attempt_at > ?)`,
			hookd.DisabledError, now, sqlrow.JSONList(ids), now)
		if err != nil {
			return nil, fmt.Errorf("disable webhooks: fail waiting deliveries: %w", err)
		}
		res.Failed = int(n)
	}
	return res, nil
}

func (q *queueTx) WriteAudit(ctx context.Context, entries []*hookd.AuditEntry) error {
	if q.relaxed && len(entries) > 0 {
		return errDurable
	}
	for _, e := range entries {
		if err := writeAudit(hookd.WithAudit(ctx, e), q.tx); err != nil {
			return err
		}
	}
	return nil
}

// queueDepth counts due deliveries per webhook with waiting work through
// deliveries_queue (a range per webhook), and finds the oldest as each
// one's first index entry. Every row of due_webhooks, not only those due
// now: a webhook the claim put off for lack of room (its concurrency, its
// rate limit) has its due time moved on while its deliveries wait, due.
const queueDepth = `SELECT
	coalesce((SELECT sum((SELECT count(*) FROM deliveries d WHERE d.webhook_id = w.webhook_id AND d.status IN ` + sqlrow.WaitingStatuses + ` AND d.next_attempt_at <= ?1))
		FROM due_webhooks w), 0),
	coalesce((SELECT min((SELECT min(d.next_attempt_at) FROM deliveries d WHERE d.webhook_id = w.webhook_id AND d.status IN ` + sqlrow.WaitingStatuses + `))
		FROM due_webhooks w), 0)`

func (s *Store) QueueDepth(ctx context.Context) (hookd.QueueDepth, error) {
	now := sqlrow.Micros(s.clock.Now())
	var d hookd.QueueDepth
	var oldest int64
	if err := s.queryRow(ctx, queueDepth, now).Scan(&d.Due, &oldest); err != nil {
		return d, fmt.Errorf("queue depth: %w", err)
	}
	if oldest > 0 && oldest <= now {
		d.OldestDue = sqlrow.FromMicros(oldest)
	}
	return d, nil
}

// LockWebhooks has nothing to do: the store's one writer runs one
// transaction at a time.
func (q *queueTx) LockWebhooks(context.Context, []string) error { return nil }

func (q *queueTx) NoteSuccesses(_ context.Context, p *hookd.NoteSuccessesParams) ([]string, error) {
	var noted []string
	for _, u := range p.Updates {
		n, err := q.exec(noteSuccess, sqlrow.Micros(u.LastSuccessAt), u.WebhookID)
		if err != nil {
			return nil, fmt.Errorf("note success: %w", err)
		}
		if n > 0 {
			noted = append(noted, u.WebhookID)
		}
	}
	return noted, nil
}

func (q *queueTx) WebhookHealth(_ context.Context, ids []string) (map[string]*hookd.HealthBefore, error) {
	out := make(map[string]*hookd.HealthBefore, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.s.query(q.tx, webhookHealth, sqlrow.JSONList(ids))
	if err != nil {
		return nil, fmt.Errorf("read health: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		id, b, err := sqlrow.ScanHealthBefore(rows)
		if err != nil {
			return nil, fmt.Errorf("read health: %w", err)
		}
		out[id] = b
	}
	return out, rows.Err()
}

func (q *queueTx) EnabledWebhooks(ctx context.Context, tenantID string) ([]*hookd.Webhook, error) {
	rows, err := q.tx.QueryContext(ctx, `SELECT `+sqlrow.WebhookReadCols+` FROM webhooks WHERE tenant_id = ? AND enabled = 1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	var out []*hookd.Webhook
	for rows.Next() {
		w, err := sqlrow.ScanWebhook(q.s.box, rows)
		if err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (q *queueTx) AddEvents(_ context.Context, p *hookd.AddEventsParams) error {
	if q.relaxed && len(p.Events) > 0 {
		return errDurable
	}
	now := sqlrow.Micros(p.Now)
	for _, e := range p.Events {
		ev := e.Event // hookd's own events carry no channels or tags
		r, err := q.tx.Exec(insertEvent, ev.TenantID, ev.ID, ev.Type, nil, sqlrow.Micros(ev.Timestamp), ev.Payload, sqlrow.NullString(ev.TraceParent), nil,
			nil) // hookd's own events keep no delivery count: nobody publishes them again
		if err != nil {
			return fmt.Errorf("add event: %w", err)
		}
		seq, err := r.LastInsertId()
		if err != nil {
			return fmt.Errorf("add event: %w", err)
		}
		ids := make([]string, len(e.WebhookIDs))
		for i := range ids {
			ids[i] = hookd.NewID(hookd.PrefixDelivery, p.Now)
		}
		if _, err := q.tx.Exec(insertDeliveries, seq, ev.ID, ev.Type, now, now, now, sqlrow.JSONList(sqlrow.ByWebhook(ids, e.WebhookIDs)), ev.TenantID); err != nil {
			return fmt.Errorf("add event deliveries: %w", err)
		}
	}
	return nil
}

// failingWebhooks is FailingWebhooks' query, on the partial index
// webhooks_failing (migration 0023): ?1 failing since, ?2 limit.
const failingWebhooks = `SELECT id FROM webhooks WHERE exhausted = 1 AND enabled = 1
	AND failing_since > 0 AND failing_since <= ?1 ORDER BY id LIMIT ?2`

func (q *queueTx) FailingWebhooks(_ context.Context, p *hookd.FailingWebhooksParams) ([]string, error) {
	rows, err := q.s.query(q.tx, failingWebhooks, sqlrow.Micros(p.FailingSince), p.Limit)
	return scanIDs(rows, err, "failing webhooks")
}
