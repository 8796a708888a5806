package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

// dbNow is the database's clock in the stores' encoding (Unix
// microseconds). Replicas' clocks may disagree; the database's is the one
// every lease, due time and rate budget is read against. now() is the
// transaction's start, so one transaction sees one time.
const dbNow = `(extract(epoch from now()) * 1000000)::bigint`

// nowArg is the parameter that statements read as coalesce($n, dbNow): NULL
// (the database's clock) unless the store was given a clock (tests).
func (s *Store) nowArg() any {
	if s.clock == nil {
		return nil
	}
	return sqlrow.Micros(s.clock.Now())
}

// QueueTx runs fn in a transaction with a deadline, so that a database that
// stops answering cannot hold the delivery engine forever.
func (s *Store) QueueTx(ctx context.Context, fn func(hookd.QueueTx) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	return wrap("queue", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// An asynchronous commit (hookd.Queue's relaxed commit): it does
		// not wait for its WAL flush, which the WAL writer makes within
		// wal_writer_delay; a crash of PostgreSQL before it loses the
		// transaction whole, never part of it.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		return fn(&queueTx{s: s, tx: tx})
	}))
}

type queueTx struct {
	s  *Store
	tx pgx.Tx
}

var _ hookd.QueueTx = (*queueTx)(nil)

func (q *queueTx) Now(ctx context.Context) (time.Time, error) {
	if q.s.clock != nil {
		return q.s.clock.Now(), nil
	}
	var now int64
	if err := q.tx.QueryRow(ctx, `SELECT `+dbNow).Scan(&now); err != nil {
		return time.Time{}, wrap("now", err)
	}
	return sqlrow.FromMicros(now), nil
}

func (q *queueTx) DueWebhooks(ctx context.Context, p *hookd.DueWebhooksParams) ([]*hookd.DueWebhook, error) {
	rows, err := q.tx.Query(ctx, `SELECT q.webhook_id, w.tenant_id, w.enabled, w.rate_limit FROM due_webhooks q JOIN webhooks w ON w.id = q.webhook_id
		WHERE q.due_at <= $1 ORDER BY q.due_at LIMIT $2`, sqlrow.Micros(p.Now), p.Limit)
	return collect(rows, err, "due webhooks", func(r sqlrow.Scanner) (*hookd.DueWebhook, error) {
		w := &hookd.DueWebhook{}
		return w, r.Scan(&w.ID, &w.TenantID, &w.Enabled, &w.RateLimit)
	})
}

// RateBudgets locks the budgets no other claim holds until the claim
// commits (replicas spend one budget in turn), and leaves the others out:
// SKIP LOCKED, for a claim that waited for another's budgets waited as long
// as that claim, and a process frozen mid-claim (its connection blocked
// sending it a large result) held every replica's claims for as long as it
// stayed frozen. Every webhook has its budget row from its creation
// (webhookInsert, migration 0028), so no claim inserts one, which would
// wait for another claim's uncommitted insert of the same row; one found
// missing all the same is made here.
func (q *queueTx) RateBudgets(ctx context.Context, p *hookd.RateBudgetsParams) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(p.WebhookIDs))
	if len(p.WebhookIDs) == 0 {
		return out, nil
	}
	if err := q.lockBudgets(ctx, p.WebhookIDs, out); err != nil || len(out) == len(p.WebhookIDs) {
		return out, err
	}
	var absent []string
	for _, id := range p.WebhookIDs {
		if _, ok := out[id]; !ok {
			absent = append(absent, id)
		}
	}
	tag, err := q.tx.Exec(ctx, `INSERT INTO rate_budgets (webhook_id, tat) SELECT id, 0 FROM unnest($1::text[]) id
		WHERE NOT EXISTS (SELECT 1 FROM rate_budgets WHERE webhook_id = id) ON CONFLICT DO NOTHING`, absent)
	if err != nil || tag.RowsAffected() == 0 {
		return out, wrap("rate budgets", err) // held by other claims
	}
	return out, q.lockBudgets(ctx, absent, out)
}

// lockBudgets adds to out the budgets of ids that no other transaction
// holds, locked.
func (q *queueTx) lockBudgets(ctx context.Context, ids []string, out map[string]time.Time) error {
	rows, err := q.tx.Query(ctx, `SELECT webhook_id, tat FROM rate_budgets WHERE webhook_id = ANY($1) ORDER BY webhook_id FOR UPDATE SKIP LOCKED`, ids)
	type tat struct {
		id string
		at int64
	}
	tats, err := collect(rows, err, "rate budgets", func(r sqlrow.Scanner) (tat, error) {
		var t tat
		err := r.Scan(&t.id, &t.at)
		return t, err
	})
	for _, t := range tats {
		out[t.id] = sqlrow.FromMicros(t.at)
	}
	return err
}

func (q *queueTx) SetRateBudgets(ctx context.Context, p *hookd.SetRateBudgetsParams) error {
	if len(p.TATs) == 0 {
		return nil
	}
	ids, tats := columns(p.TATs)
	_, err := q.tx.Exec(ctx, `UPDATE rate_budgets r SET tat = u.tat FROM unnest($1::text[], $2::bigint[]) AS u(id, tat) WHERE r.webhook_id = u.id`, ids, tats)
	return wrap("set rate budgets", err)
}

// columns splits a map of times into sorted IDs and their times, as array
// parameters.
func columns(m map[string]time.Time) ([]string, []int64) {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ts := make([]int64, len(ids))
	for i, id := range ids {
		ts[i] = sqlrow.Micros(m[id])
	}
	return ids, ts
}

func (q *queueTx) FailDue(ctx context.Context, p *hookd.FailDueParams) (int, error) {
	if len(p.WebhookIDs) == 0 {
		return 0, nil
	}
	tag, err := q.tx.Exec(ctx, `UPDATE deliveries SET status = 'FAILED', next_attempt_at = NULL, leased = false, last_error = $1, updated_at = $2
		WHERE webhook_id = ANY($3) AND status IN `+sqlrow.WaitingStatuses+` AND next_attempt_at <= $2`, p.Error, sqlrow.Micros(p.Now), p.WebhookIDs)
	if err != nil {
		return 0, wrap("fail due deliveries", err)
	}
	return int(tag.RowsAffected()), nil
}

// leaseDeliveries takes each webhook's due rows through deliveries_queue (a
// seek and a short range per webhook, however long its backlog), skips rows
// another claim is leasing, leases them and reads what sending needs, in one
// statement.
const leaseDeliveries = `WITH take AS (
		SELECT d.id FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS t(webhook_id, n, ord)
		CROSS JOIN LATERAL (
			SELECT id, next_attempt_at FROM deliveries WHERE webhook_id = t.webhook_id AND status IN ` + sqlrow.WaitingStatuses + ` AND next_attempt_at <= $3
			ORDER BY next_attempt_at LIMIT t.n FOR UPDATE SKIP LOCKED
		) d
		ORDER BY t.ord, d.next_attempt_at LIMIT $5
	), leased AS (
		UPDATE deliveries d SET next_attempt_at = $4, lease_token = d.lease_token + 1, leased = true
		FROM take WHERE d.id = take.id
		RETURNING d.id, d.tenant_id, d.event_id, d.event_type, d.webhook_id, d.attempts, d.manual, d.lease_token, d.event_seq
	)
	SELECT l.id, l.tenant_id, l.event_id, l.event_type, l.webhook_id, w.updated_at, l.attempts, l.manual, l.lease_token, e.payload, e.created_at, coalesce(e.traceparent, '')
	FROM leased l JOIN events e ON e.seq = l.event_seq JOIN webhooks w ON w.id = l.webhook_id ORDER BY l.id`

func (q *queueTx) LeaseDeliveries(ctx context.Context, p *hookd.LeaseDeliveriesParams) ([]*hookd.Claim, error) {
	var ids []string
	var ns []int32
	for _, t := range p.Take {
		if t.N > 0 {
			ids, ns = append(ids, t.WebhookID), append(ns, int32(t.N))
		}
	}
	if len(ids) == 0 || p.Limit <= 0 {
		return nil, nil
	}
	rows, err := q.tx.Query(ctx, leaseDeliveries, ids, ns, sqlrow.Micros(p.Now), sqlrow.Micros(p.Until), p.Limit)
	return collect(rows, err, "lease deliveries", func(r sqlrow.Scanner) (*hookd.Claim, error) {
		c := &hookd.Claim{LeasedUntil: p.Until}
		var updated, published int64
		err := r.Scan(&c.DeliveryID, &c.TenantID, &c.EventID, &c.EventType, &c.WebhookID, &updated, &c.Attempts, &c.Manual, &c.Token, &c.Payload, &published, &c.TraceParent)
		c.WebhookUpdatedAt, c.PublishedAt = sqlrow.FromMicros(updated), sqlrow.FromMicros(published)
		return c, err
	})
}

// RequeueWebhooks first locks the webhooks' rows, passing over those a
// concurrent transaction holds (it is marking them due: they stay due),
// and only then, in a second statement and so with a snapshot taken after
// the locks, reads each webhook's earliest waiting delivery. A delivery
// made waiting by a transaction that has not committed yet cannot be
// missed: that transaction marks its webhook due before it commits, and so
// either held the lock first (the webhook is passed over) or waits for this
// claim to commit and then lowers due_at itself.
func (q *queueTx) RequeueWebhooks(ctx context.Context, p *hookd.RequeueWebhooksParams) error {
	if len(p.NotBefore) == 0 {
		return nil
	}
	ids, nbs := columns(p.NotBefore)
	rows, err := q.tx.Query(ctx, `SELECT webhook_id FROM due_webhooks WHERE webhook_id = ANY($1) ORDER BY webhook_id FOR UPDATE SKIP LOCKED`, ids)
	locked, err := collect(rows, err, "requeue webhooks: lock", scanID)
	if err != nil || len(locked) == 0 {
		return err
	}
	_, err = q.tx.Exec(ctx, `WITH m AS (
			SELECT u.id, u.nb, (SELECT min(d.next_attempt_at) FROM deliveries d WHERE d.webhook_id = u.id AND d.status IN `+sqlrow.WaitingStatuses+`) AS next
			FROM unnest($1::text[], $2::bigint[]) AS u(id, nb) WHERE u.id = ANY($3)
		), gone AS (
			DELETE FROM due_webhooks q USING m WHERE q.webhook_id = m.id AND m.next IS NULL
		)
		UPDATE due_webhooks q SET due_at = GREATEST(m.nb, m.next) FROM m WHERE q.webhook_id = m.id AND m.next IS NOT NULL`, ids, nbs, locked)
	return wrap("requeue webhooks", err)
}

func (q *queueTx) NextDue(ctx context.Context) (time.Time, error) {
	var next *int64
	if err := q.tx.QueryRow(ctx, `SELECT min(due_at) FROM due_webhooks`).Scan(&next); err != nil {
		return time.Time{}, wrap("next due", err)
	}
	if next == nil {
		return time.Time{}, nil
	}
	return sqlrow.FromMicros(*next), nil
}

// recordOutcomes writes a whole batch in one statement: the fenced update
// of each delivery whose lease is current, and an attempt row for each one
// updated. It returns the IDs written.
const recordOutcomes = `WITH o AS (
		SELECT * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::int[], $9::text[],
			$10::bool[], $11::bool[], $12::text[], $13::text[], $14::bytea[])
		AS o(id, token, status, next_at, started_at, duration_us, status_code, error, success, manual, request_headers, response_headers, response_body)
	), u AS (
		UPDATE deliveries d SET attempts = d.attempts + 1, manual = false, leased = false,
			-- cancelled while being sent (the cancel kept its lease): CANCELED unless it succeeded
			status = CASE WHEN d.status = 'CANCELED' AND o.status <> 'SUCCESS' THEN 'CANCELED' ELSE o.status END,
			next_attempt_at = CASE WHEN d.status = 'CANCELED' AND o.status <> 'SUCCESS' THEN NULL ELSE o.next_at END,
			last_status_code = o.status_code, last_error = o.error, response_time_us = o.duration_us, updated_at = $1
		FROM o WHERE d.id = o.id AND d.lease_token = o.token AND d.leased
		RETURNING d.id, d.lease_token, d.attempts, d.tenant_id, d.webhook_id, d.status
	), a AS (
	INSERT INTO attempts (delivery_id, number, tenant_id, webhook_id, started_at, duration_us, status_code, error, success, manual, request_headers, response_headers, response_body)
	SELECT u.id, u.attempts, u.tenant_id, u.webhook_id, o.started_at, o.duration_us, o.status_code, o.error, o.success, o.manual, o.request_headers, o.response_headers, o.response_body
	FROM u JOIN o ON o.id = u.id AND o.token = u.lease_token
	RETURNING delivery_id
	)
	SELECT a.delivery_id, u.status = 'CANCELED' FROM a JOIN u ON u.id = a.delivery_id`

func (q *queueTx) RecordOutcomes(ctx context.Context, p *hookd.RecordOutcomesParams) (written, canceled []string, err error) {
	n := len(p.Outcomes)
	if n == 0 {
		return nil, nil, nil
	}
	var (
		ids, statuses, errs, reqH, resH = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		tokens, started, durs           = make([]int64, n), make([]int64, n), make([]int64, n)
		next                            = make([]*int64, n)
		codes                           = make([]int32, n)
		oks, manual                     = make([]bool, n), make([]bool, n)
		bodies                          = make([][]byte, n)
	)
	for i, o := range p.Outcomes {
		a := sqlrow.AttemptRowOf(o.Attempt)
		ids[i], tokens[i], statuses[i] = o.DeliveryID, o.Token, string(o.Status)
		if t := o.NextAttemptAt(p.Now); !t.IsZero() {
			v := sqlrow.Micros(t)
			next[i] = &v
		}
		started[i], durs[i], codes[i], errs[i], oks[i] = a.StartedAt, a.DurationUs, int32(a.StatusCode), a.Error, a.Success
		manual[i] = a.Manual
		reqH[i], resH[i], bodies[i] = a.RequestHeaders, a.ResponseHeaders, a.ResponseBody
	}
	rows, err := q.tx.Query(ctx, recordOutcomes, sqlrow.Micros(p.Now), ids, tokens, statuses, next, started, durs, codes, errs, oks, manual, reqH, resH, bodies)
	return idsAndCanceled(rows, err, "record outcomes")
}

// idsAndCanceled reads rows of (delivery id, stays CANCELED): every id,
// and apart those that stay CANCELED.
func idsAndCanceled(rows pgx.Rows, err error, what string) (ids, canceled []string, _ error) {
	type row struct {
		id    string
		stays bool
	}
	out, err := collect(rows, err, what, func(r sqlrow.Scanner) (row, error) {
		var w row
		return w, r.Scan(&w.id, &w.stays)
	})
	if err != nil {
		return nil, nil, err
	}
	for _, w := range out {
		ids = append(ids, w.id)
		if w.stays {
			canceled = append(canceled, w.id)
		}
	}
	return ids, canceled, nil
}

func scanID(r sqlrow.Scanner) (string, error) {
	var id string
	return id, r.Scan(&id)
}

// fenced runs a lease statement whose parameters are $1, the leases' IDs
// ($2) and their tokens ($3), and returns the IDs it changed.
func (q *queueTx) fenced(ctx context.Context, what, query string, first any, leases []hookd.Lease) ([]string, error) {
	if len(leases) == 0 {
		return nil, nil
	}
	ids, tokens := make([]string, len(leases)), make([]int64, len(leases))
	for i, l := range leases {
		ids[i], tokens[i] = l.DeliveryID, l.Token
	}
	rows, err := q.tx.Query(ctx, query, first, ids, tokens)
	return collect(rows, err, what, scanID)
}

func (q *queueTx) ReleaseLeases(ctx context.Context, p *hookd.ReleaseLeasesParams) (released, canceled []string, err error) {
	if len(p.Leases) == 0 {
		return nil, nil, nil
	}
	ids, tokens := make([]string, len(p.Leases)), make([]int64, len(p.Leases))
	for i, l := range p.Leases {
		ids[i], tokens[i] = l.DeliveryID, l.Token
	}
	// A cancelled delivery released unsent is due never again.
	rows, err := q.tx.Query(ctx, `UPDATE deliveries d SET next_attempt_at = CASE WHEN d.status = 'CANCELED' THEN NULL ELSE $1::bigint END, leased = false
		FROM unnest($2::text[], $3::bigint[]) AS l(id, token) WHERE d.id = l.id AND d.lease_token = l.token AND d.leased
		RETURNING d.id, d.status = 'CANCELED'`, sqlrow.Micros(p.At), ids, tokens)
	return idsAndCanceled(rows, err, "release leases")
}

func (s *Store) LiveLeases(ctx context.Context, p *hookd.LiveLeasesParams) ([]string, error) {
	if len(p.Leases) == 0 {
		return nil, nil
	}
	ids, tokens := make([]string, len(p.Leases)), make([]int64, len(p.Leases))
	for i, l := range p.Leases {
		ids[i], tokens[i] = l.DeliveryID, l.Token
	}
	rows, err := s.pool.Query(ctx, `SELECT d.id FROM unnest($1::text[], $2::bigint[]) AS l(id, token)
		JOIN deliveries d ON d.id = l.id WHERE d.lease_token = l.token AND d.leased AND d.status IN `+sqlrow.WaitingStatuses, ids, tokens)
	return collect(rows, err, "live leases", scanID)
}

func (q *queueTx) ExtendLeases(ctx context.Context, p *hookd.ExtendLeasesParams) ([]string, error) {
	status := `d.status IN ` + sqlrow.WaitingStatuses
	if p.Canceled {
		status = `d.status = 'CANCELED'`
	}
	return q.fenced(ctx, "extend leases", `UPDATE deliveries d SET next_attempt_at = $1
		FROM unnest($2::text[], $3::bigint[]) AS l(id, token) WHERE d.id = l.id AND d.lease_token = l.token AND d.leased
		AND `+status+` RETURNING d.id`,
		sqlrow.Micros(p.Until), p.Leases)
}

func (q *queueTx) MarkDue(ctx context.Context, p *hookd.MarkDueParams) error {
	if len(p.Due) == 0 {
		return nil
	}
	ids, dues := columns(p.Due)
	at := make([]*int64, len(dues))
	for i := range dues {
		at[i] = &dues[i]
	}
	b := &pgx.Batch{}
	q.s.queueMarkDue(b, ids, at, nil)
	return wrap("mark due", q.tx.SendBatch(ctx, b).Close())
}

// queueMarkDue queues on b the lowering of webhooks' due_at (a nil time:
// the store's now, as nowArg, plus the webhook's after, in microseconds;
// after may be nil when no time is), in webhook order so that concurrent
// transactions never deadlock, and a wake-up for the other processes unless
// every webhook is due only later (deliveries handed off to this process,
// due when their lease ends). It always takes the rows' locks, even where
// due_at is low enough already: that is what keeps a concurrent claim from
// requeueing a webhook past a delivery this transaction made waiting (see
// RequeueWebhooks).
func (s *Store) queueMarkDue(b *pgx.Batch, ids []string, at []*int64, after []int64) {
	// A webhook due only later (all its new deliveries handed off) is due
	// no later than its earliest waiting delivery either: the publish may
	// have stored one due after all (another was waiting for a claim), and
	// a claim that requeued the webhook before this transaction committed
	// did not see it.
	b.Queue(`INSERT INTO due_webhooks (webhook_id, due_at)
		SELECT u.id, coalesce(u.due, CASE WHEN u.after > 0 THEN least(n.now + u.after, (SELECT min(d.next_attempt_at) FROM deliveries d
				WHERE d.webhook_id = u.id AND d.status IN ('PENDING', 'RETRYING'))) ELSE n.now END)
		FROM unnest($1::text[], $2::bigint[], $4::bigint[]) AS u(id, due, after)
		CROSS JOIN (SELECT coalesce($3::bigint, `+dbNow+`) AS now) n
		JOIN webhooks w ON w.id = u.id ORDER BY u.id
		ON CONFLICT (webhook_id) DO UPDATE SET due_at = excluded.due_at WHERE excluded.due_at < due_webhooks.due_at`, ids, at, s.nowArg(), after)
	if after == nil || slices.Contains(after, 0) {
		b.Queue(`SELECT pg_notify($1, '')`, s.wake)
	}
}

// markOne marks one webhook due at a time in microseconds, in tx.
func (s *Store) markOne(ctx context.Context, tx pgx.Tx, webhookID string, at int64) error {
	b := &pgx.Batch{}
	s.queueMarkDue(b, []string{webhookID}, []*int64{&at}, nil)
	return tx.SendBatch(ctx, b).Close()
}

// updateHealth folds one batch's attempts into a webhook's health: a
// success restarts the streak after it, unless the stored streak began
// after it (another process recorded newer failures first); failures
// without one extend the streak, which begins at the earliest failure.
const updateHealth = `UPDATE webhooks SET
	consecutive_failures = CASE WHEN $1::boolean AND (failing_since = 0 OR $4::bigint > failing_since) THEN $2::int ELSE consecutive_failures + $2::int END,
	failing_since = CASE WHEN $1::boolean AND (failing_since = 0 OR $4::bigint > failing_since) THEN $3::bigint
		WHEN failing_since = 0 OR ($3::bigint > 0 AND $3::bigint < failing_since) THEN $3::bigint ELSE failing_since END,
	last_success_at = CASE WHEN $1::boolean AND $4::bigint > last_success_at THEN $4::bigint ELSE last_success_at END,
	exhausted = CASE WHEN $1::boolean AND (failing_since = 0 OR $4::bigint > failing_since) THEN $5::boolean ELSE (exhausted OR $5::boolean) END,
	exhausted_by = CASE WHEN $1::boolean AND (failing_since = 0 OR $4::bigint > failing_since) THEN (CASE WHEN $5::boolean THEN $7::text END)
		WHEN $5::boolean AND NOT exhausted THEN $7::text ELSE exhausted_by END
	WHERE id = $6`

// disableWebhooks disables the enabled webhooks among $5, moving
// updated_at forward so an edit based on the version before fails and
// reads again.
const disableWebhooks = `UPDATE webhooks SET enabled = false, disabled_reason = $1, disabled_at = $2,
	updated_at = greatest($2, updated_at + 1)
	WHERE id = ANY($3) AND enabled %s RETURNING id, tenant_id, exhausted_by`

func (q *queueTx) UpdateHealth(ctx context.Context, p *hookd.UpdateHealthParams) (*hookd.HealthResult, error) {
	var gone, all []string
	for _, u := range p.Updates {
		if _, err := q.tx.Exec(ctx, updateHealth, u.Succeeded, u.Failures, sqlrow.Micros(u.FirstFailureAt), sqlrow.Micros(u.LastSuccessAt),
			u.Exhausted, u.WebhookID, u.ExhaustedDelivery()); err != nil {
			return nil, wrap("update health", err)
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
	disable := func(reason string, ids []string, cond string, args ...any) error {
		if len(ids) == 0 {
			return nil
		}
		rows, err := q.tx.Query(ctx, fmt.Sprintf(disableWebhooks, cond), append([]any{reason, now, ids}, args...)...)
		if err != nil {
			return wrap("disable webhooks", err)
		}
		ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hookd.DisabledWebhook, error) {
			d := hookd.DisabledWebhook{Reason: reason}
			var by *string
			err := r.Scan(&d.WebhookID, &d.TenantID, &by)
			if by != nil {
				d.DeliveryID = *by // the queue names a record's own cause instead
			}
			return d, err
		})
		if err != nil {
			return wrap("disable webhooks", err)
		}
		out = append(out, ds...)
		return nil
	}
	if err := disable(hookd.DisabledGone, gone, ""); err != nil {
		return nil, err
	}
	if !p.DisableFailingSince.IsZero() {
		if err := disable(hookd.DisabledFailing, all, `AND failing_since > 0 AND failing_since <= $4 AND exhausted`, sqlrow.Micros(p.DisableFailingSince)); err != nil {
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
		tag, err := q.tx.Exec(ctx, `UPDATE deliveries SET status = 'FAILED', next_attempt_at = NULL, leased = false, last_error = $1, updated_at = $2
			WHERE webhook_id = ANY($3) AND status IN `+sqlrow.WaitingStatuses+` AND NOT (leased AND next_attempt_at > $2)`,
			hookd.DisabledError, now, ids)
		if err != nil {
			return nil, wrap("disable webhooks: fail waiting deliveries", err)
		}
		if err := q.s.announce(ctx, q.tx, ids...); err != nil {
			return nil, err
		}
		res.Failed = int(tag.RowsAffected())
	}
	return res, nil
}

func (q *queueTx) WriteAudit(ctx context.Context, entries []*hookd.AuditEntry) error {
	if err := q.durable(ctx, len(entries)); err != nil {
		return err
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
const queueDepth = `WITH n AS (SELECT coalesce($1::bigint, ` + dbNow + `) AS now)
	SELECT coalesce(sum(c.due), 0)::bigint, coalesce(min(c.oldest), 0)::bigint, (SELECT now FROM n)
	FROM due_webhooks w, n
	CROSS JOIN LATERAL (SELECT count(*) AS due, min(d.next_attempt_at) AS oldest FROM deliveries d
		WHERE d.webhook_id = w.webhook_id AND d.status IN ` + sqlrow.WaitingStatuses + ` AND d.next_attempt_at <= n.now) c`

func (s *Store) QueueDepth(ctx context.Context) (hookd.QueueDepth, error) {
	var d hookd.QueueDepth
	var oldest, now int64
	if err := s.pool.QueryRow(ctx, queueDepth, s.nowArg()).Scan(&d.Due, &oldest, &now); err != nil {
		return d, wrap("queue depth", err)
	}
	if oldest > 0 && oldest <= now {
		d.OldestDue = sqlrow.FromMicros(oldest)
	}
	return d, nil
}

// LockWebhooks locks the webhooks' rows in id order before the
// transaction touches any of their deliveries: a user's disable or delete
// locks the webhook, then its deliveries, and a record must not take them
// the other way round. FOR NO KEY UPDATE is the lock the record's own
// updates of those rows take (they change no key): it keeps out other
// writers of the rows, not a publish's foreign-key check on them.
func (q *queueTx) LockWebhooks(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := q.tx.Exec(ctx, `SELECT 1 FROM webhooks WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
	return wrap("lock webhooks", err)
}

// noteSuccesses sets the last success of the healthy webhooks among $1
// ($2 each one's success, in microseconds).
const noteSuccesses = `UPDATE webhooks w SET last_success_at = greatest(w.last_success_at, u.at)
	FROM unnest($1::text[], $2::bigint[]) AS u(id, at)
	WHERE w.id = u.id AND w.consecutive_failures = 0 AND w.failing_since = 0 AND NOT w.exhausted
	RETURNING w.id`

func (q *queueTx) NoteSuccesses(ctx context.Context, p *hookd.NoteSuccessesParams) ([]string, error) {
	if len(p.Updates) == 0 {
		return nil, nil
	}
	ids, at := make([]string, len(p.Updates)), make([]int64, len(p.Updates))
	for i, u := range p.Updates {
		ids[i], at[i] = u.WebhookID, sqlrow.Micros(u.LastSuccessAt)
	}
	rows, err := q.tx.Query(ctx, noteSuccesses, ids, at)
	if err != nil {
		return nil, wrap("note successes", err)
	}
	noted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("note successes", err)
	}
	return noted, nil
}

// WebhookHealth reads the webhooks' health as it is (LockWebhooks has
// locked their rows).
func (q *queueTx) WebhookHealth(ctx context.Context, ids []string) (map[string]*hookd.HealthBefore, error) {
	out := make(map[string]*hookd.HealthBefore, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.tx.Query(ctx, `SELECT `+sqlrow.HealthBeforeCols+` FROM webhooks WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, wrap("read health", err)
	}
	defer rows.Close()
	for rows.Next() {
		id, b, err := sqlrow.ScanHealthBefore(rows)
		if err != nil {
			return nil, wrap("read health", err)
		}
		out[id] = b
	}
	return out, wrap("read health", rows.Err())
}

func (q *queueTx) EnabledWebhooks(ctx context.Context, tenantID string) ([]*hookd.Webhook, error) {
	rows, err := q.tx.Query(ctx, `SELECT `+sqlrow.WebhookReadCols+` FROM webhooks WHERE tenant_id = $1 AND enabled ORDER BY id`, tenantID)
	return collect(rows, err, "list webhooks", q.s.scanWebhook)
}

// durable makes the transaction's commit wait for its WAL flush again when
// it writes n things that must not be lost to a crash of PostgreSQL:
// hookd's own events and audit entries (an operational event sent and
// then lost would be made again under another id). The commit follows the
// last setting.
func (q *queueTx) durable(ctx context.Context, n int) error {
	if n == 0 {
		return nil
	}
	_, err := q.tx.Exec(ctx, `SET LOCAL synchronous_commit = on`)
	return wrap("durable commit", err)
}

func (q *queueTx) AddEvents(ctx context.Context, p *hookd.AddEventsParams) error {
	if err := q.durable(ctx, len(p.Events)); err != nil {
		return err
	}
	for _, e := range p.Events {
		ev := e.Event // hookd's own events carry no channels or tags
		ids := make([]string, len(e.WebhookIDs))
		for i := range ids {
			ids[i] = hookd.NewID(hookd.PrefixDelivery, p.Now)
		}
		var seq *int64
		var n, now int64
		var leased []string
		if err := q.tx.QueryRow(ctx, insertEventAndDeliveries, ev.TenantID, ev.ID, ev.Type, nil, sqlrow.Micros(ev.Timestamp), ev.Payload,
			sqlrow.Micros(p.Now), sqlrow.JSONList(sqlrow.ByWebhook(ids, e.WebhookIDs)), sqlrow.NullString(ev.TraceParent), nil, int64(0), nil,
			nil). // hookd's own events keep no delivery count: nobody publishes them again
			Scan(&seq, &n, &now, &leased, &leased); err != nil {
			return wrap("add event", err)
		}
	}
	return nil
}

// failingWebhooks is FailingWebhooks' query, on the partial index
// webhooks_failing (migration 0023).
const failingWebhooks = `SELECT id FROM webhooks WHERE exhausted AND enabled
	AND failing_since > 0 AND failing_since <= $1 ORDER BY id LIMIT $2`

func (q *queueTx) FailingWebhooks(ctx context.Context, p *hookd.FailingWebhooksParams) ([]string, error) {
	rows, err := q.tx.Query(ctx, failingWebhooks, sqlrow.Micros(p.FailingSince), p.Limit)
	if err != nil {
		return nil, wrap("failing webhooks", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("failing webhooks", err)
}
