package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

// params returns "$from, $from+1, …" for n parameters.
func params(from, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = fmt.Sprintf("$%d", from+i)
	}
	return strings.Join(p, ", ")
}

// webhookInsert makes a webhook and its rate budget row: claims lock the
// budgets they spend with SKIP LOCKED and never insert one (see
// queueTx.RateBudgets).
var webhookInsert = `WITH w AS (INSERT INTO webhooks (` + sqlrow.WebhookCols + `) VALUES (` + params(1, sqlrow.WebhookColCount) + `) RETURNING id)
	INSERT INTO rate_budgets (webhook_id, tat) SELECT id, 0 FROM w`

func (s *Store) CreateWebhook(ctx context.Context, w *hookd.Webhook) error {
	args, err := sqlrow.WebhookArgs(s.box, w)
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, webhookInsert, args...); err != nil {
			return wrap("create webhook", err)
		}
		// After the write: a rekey holds the table against writes, so a
		// write that waited for one sees its fingerprint here.
		if err := s.sealable(ctx, tx); err != nil {
			return err
		}
		if hookd.AuditFrom(ctx) == nil {
			return nil
		}
		return writeAudit(ctx, tx)
	})
}

func (s *Store) scanWebhook(r sqlrow.Scanner) (*hookd.Webhook, error) {
	return sqlrow.ScanWebhook(s.box, r)
}

func (s *Store) GetWebhook(ctx context.Context, tenantID, id string) (*hookd.Webhook, error) {
	w, err := s.scanWebhook(s.pool.QueryRow(ctx, `SELECT `+sqlrow.WebhookReadCols+` FROM webhooks WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return w, wrap("get webhook", err)
}

func (s *Store) WebhookIDByUID(ctx context.Context, tenantID, uid string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id FROM webhooks WHERE tenant_id = $1 AND uid = $2`, tenantID, uid).Scan(&id)
	return id, wrap("webhook by uid", err)
}

func (s *Store) ListWebhooks(ctx context.Context, q hookd.WebhookQuery) ([]*hookd.Webhook, int, error) {
	where := `tenant_id = $1`
	args := []any{q.TenantID}
	if q.Enabled != nil {
		where += ` AND enabled = $2`
		args = append(args, *q.Enabled)
	}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, wrap("count webhooks", err)
	}
	if q.AfterID != "" {
		args = append(args, q.AfterID)
		where += fmt.Sprintf(` AND id %s $%d`, sqlrow.WebhookAfter(q), len(args))
	}
	n := len(args)
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT %s FROM webhooks WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d`, sqlrow.WebhookReadCols, where, sqlrow.WebhookOrder(q), n+1, n+2),
		append(args, q.Limit, q.Offset)...)
	out, err := collect(rows, err, "list webhooks", s.scanWebhook)
	return out, total, err
}

func (s *Store) EnabledWebhooks(ctx context.Context, tenantID string) ([]*hookd.Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sqlrow.WebhookReadCols+` FROM webhooks WHERE tenant_id = $1 AND enabled ORDER BY id`, tenantID)
	return collect(rows, err, "list webhooks", s.scanWebhook)
}

// webhookUpdate writes a webhook's fields over the version read. Its health
// is the store's: left alone, except that re-enabling a webhook starts it
// afresh (SET's right-hand sides see the row as it was).
var webhookUpdate = fmt.Sprintf(`UPDATE webhooks SET (%s) = (%s), %s WHERE tenant_id = $%d AND id = $%d AND updated_at = $%d`,
	sqlrow.WebhookCols, params(1, sqlrow.WebhookColCount), healthOnEnable("$"+strconv.Itoa(sqlrow.WebhookColIndex("enabled"))),
	sqlrow.WebhookColCount+1, sqlrow.WebhookColCount+2, sqlrow.WebhookColCount+3)

// healthOnEnable resets the health columns when enabled (the old value)
// is false and the new one (the parameter) is true, from the new
// updated_at (its parameter).
func healthOnEnable(newEnabled string) string {
	reset := `NOT enabled AND ` + newEnabled + `::boolean`
	return `consecutive_failures = CASE WHEN ` + reset + ` THEN 0 ELSE consecutive_failures END,
	failing_since = CASE WHEN ` + reset + ` THEN 0 ELSE failing_since END,
	exhausted = CASE WHEN ` + reset + ` THEN false ELSE exhausted END,
	health_reset_at = CASE WHEN ` + reset + ` THEN $` + strconv.Itoa(sqlrow.WebhookColIndex("updated_at")) + ` ELSE health_reset_at END`
}

func (s *Store) UpdateWebhook(ctx context.Context, w *hookd.Webhook, read time.Time) (int, error) {
	args, err := sqlrow.WebhookArgs(s.box, w)
	if err != nil {
		return 0, fmt.Errorf("update webhook: %w", err)
	}
	ended := 0
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, webhookUpdate, append(args, w.TenantID, w.ID, sqlrow.Micros(read))...)
		if err := wrap("update webhook", err); errors.Is(err, hookd.ErrConflict) {
			return hookd.Errorf(hookd.ErrConflict, "uid %s is taken by another webhook of tenant %s", w.UID, w.TenantID)
		} else if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return changedOrGone(ctx, tx, "webhooks", w.TenantID, w.ID, "update webhook", hookd.ErrStale)
		}
		// After the write: one that waited for a rekey's lock sees its
		// fingerprint here.
		if err := s.sealable(ctx, tx); err != nil {
			return err
		}
		if !w.Enabled {
			// Deliveries being sent right now finish; their outcome is
			// recorded as it comes.
			tag, err := tx.Exec(ctx, `UPDATE deliveries d SET status = 'FAILED', next_attempt_at = NULL, leased = false, last_error = $1, updated_at = n.now
				FROM (SELECT coalesce($2::bigint, `+dbNow+`) AS now) n
				WHERE d.webhook_id = $3 AND d.status IN `+sqlrow.WaitingStatuses+` AND NOT (d.leased AND d.next_attempt_at > n.now)`,
				hookd.DisabledError, s.nowArg(), w.ID)
			if err != nil {
				return wrap("update webhook: fail waiting deliveries", err)
			}
			ended = int(tag.RowsAffected())
		}
		if err := s.announce(ctx, tx, w.ID); err != nil {
			return err
		}
		return writeAudit(ctx, tx)
	})
	if err != nil {
		return 0, err
	}
	return ended, nil
}

func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return wrap("delete webhook", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("delete webhook: %w", hookd.ErrNotFound)
		}
		if err := s.announce(ctx, tx, id); err != nil {
			return err
		}
		return writeAudit(ctx, tx)
	})
}
