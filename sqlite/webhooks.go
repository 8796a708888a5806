package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/sqlrow"

	"github.com/hookd/hookd"
)

var (
	webhookInsert = `INSERT INTO webhooks (` + sqlrow.WebhookCols + `) VALUES (` + placeholders(sqlrow.WebhookColCount) + `)`
	// webhookUpdate writes a webhook's fields over the version read. Its
	// health is the store's: left alone, except that re-enabling a webhook
	// starts it afresh, from its new updated_at (SET's right-hand sides see
	// the row as it was; the four parameters after the columns are the new
	// enabled, the last with the new updated_at).
	// It sets every column but the key (id, tenant_id; webhookKeyCols):
	// SQLite checks every table that references webhooks when an UPDATE
	// sets a parent key, even to the value it has, counting each
	// referencing row (every delivery of the webhook, twice: ~1 s a save
	// for a busy one).
	webhookUpdate = `UPDATE webhooks SET (` + strings.TrimPrefix(sqlrow.WebhookCols, webhookKeyCols) + `) = (` + placeholders(sqlrow.WebhookColCount-2) + `),
		consecutive_failures = CASE WHEN enabled = 0 AND ? THEN 0 ELSE consecutive_failures END,
		failing_since = CASE WHEN enabled = 0 AND ? THEN 0 ELSE failing_since END,
		exhausted = CASE WHEN enabled = 0 AND ? THEN 0 ELSE exhausted END,
		health_reset_at = CASE WHEN enabled = 0 AND ? THEN ? ELSE health_reset_at END
		WHERE tenant_id = ? AND id = ? AND updated_at = ?`
)

// webhookKeyCols begin sqlrow.WebhookCols (TestWebhookUpdateSetsNoKey).
const webhookKeyCols = "id, tenant_id, "

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func (s *Store) CreateWebhook(ctx context.Context, w *hookd.Webhook) error {
	args, err := sqlrow.WebhookArgs(s.box, w)
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := s.sealable(tx); err != nil {
			return err
		}
		_, err := tx.Exec(webhookInsert, args...)
		if err := insertErr("create webhook", err); err != nil {
			return err
		}
		return writeAudit(ctx, tx)
	})
}

func (s *Store) GetWebhook(ctx context.Context, tenantID, id string) (*hookd.Webhook, error) {
	w, err := sqlrow.ScanWebhook(s.box, s.queryRow(ctx, `SELECT `+sqlrow.WebhookReadCols+` FROM webhooks WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, notFound("get webhook", err)
	}
	return w, nil
}

func (s *Store) WebhookIDByUID(ctx context.Context, tenantID, uid string) (string, error) {
	var id string
	if err := s.queryRow(ctx, `SELECT id FROM webhooks WHERE tenant_id = ? AND uid = ?`, tenantID, uid).Scan(&id); err != nil {
		return "", notFound("webhook by uid", err)
	}
	return id, nil
}

func (s *Store) ListWebhooks(ctx context.Context, q hookd.WebhookQuery) ([]*hookd.Webhook, int, error) {
	where := `tenant_id = ?`
	args := []any{q.TenantID}
	if q.Enabled != nil {
		where += ` AND enabled = ?`
		args = append(args, *q.Enabled)
	}
	var total int
	if err := s.queryRow(ctx, `SELECT count(*) FROM webhooks WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count webhooks: %w", err)
	}
	if q.AfterID != "" {
		where += ` AND id ` + sqlrow.WebhookAfter(q) + ` ?`
		args = append(args, q.AfterID)
	}
	out, err := s.queryWebhooks(ctx, `SELECT `+sqlrow.WebhookReadCols+` FROM webhooks WHERE `+where+` ORDER BY `+sqlrow.WebhookOrder(q)+` LIMIT ? OFFSET ?`,
		append(args, q.Limit, q.Offset)...)
	return out, total, err
}

func (s *Store) EnabledWebhooks(ctx context.Context, tenantID string) ([]*hookd.Webhook, error) {
	return s.queryWebhooks(ctx, `SELECT `+sqlrow.WebhookReadCols+` FROM webhooks WHERE tenant_id = ? AND enabled = 1 ORDER BY id`, tenantID)
}

func (s *Store) queryWebhooks(ctx context.Context, query string, args ...any) ([]*hookd.Webhook, error) {
	rows, err := s.queryRead(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	out := []*hookd.Webhook{}
	for rows.Next() {
		w, err := sqlrow.ScanWebhook(s.box, rows)
		if err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (s *Store) UpdateWebhook(ctx context.Context, w *hookd.Webhook, read time.Time) (int, error) {
	args, err := sqlrow.WebhookArgs(s.box, w)
	if err != nil {
		return 0, fmt.Errorf("update webhook: %w", err)
	}
	ended := 0
	now := sqlrow.Micros(s.clock.Now())
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := s.sealable(tx); err != nil {
			return err
		}
		res, err := tx.Exec(webhookUpdate, append(args[2:], w.Enabled, w.Enabled, w.Enabled, w.Enabled, sqlrow.Micros(w.UpdatedAt), w.TenantID, w.ID, sqlrow.Micros(read))...)
		if err := insertErr("update webhook", err); errors.Is(err, hookd.ErrConflict) {
			return hookd.Errorf(hookd.ErrConflict, "uid %s is taken by another webhook of tenant %s", w.UID, w.TenantID)
		} else if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return changedOrGone(tx, "webhooks", w.TenantID, w.ID, "update webhook", hookd.ErrStale)
		}
		if !w.Enabled {
			// Deliveries being sent right now finish; their outcome is
			// recorded as it comes.
			res, err := tx.Exec(`UPDATE deliveries SET status = 'FAILED', next_attempt_at = NULL, leased = 0, last_error = ?, updated_at = ?
				WHERE webhook_id = ? AND status IN ('PENDING', 'RETRYING') AND NOT (leased = 1 AND next_attempt_at > ?)`,
				hookd.DisabledError, now, w.ID, now)
			if err != nil {
				return fmt.Errorf("update webhook: fail waiting deliveries: %w", err)
			}
			n, _ := res.RowsAffected()
			ended = int(n)
		}
		return writeAudit(ctx, tx)
	})
	if err != nil {
		return 0, err
	}
	return ended, nil
}

func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM webhooks WHERE tenant_id = ? AND id = ?`, tenantID, id)
		if err := affected("delete webhook", res, err); err != nil {
			return err
		}
		return writeAudit(ctx, tx)
	})
}
