package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookd/hookd"
)

const webhookCols = `id, tenant_id, name, url, events, headers, timeout_ms, enabled, ssl_verification,
	channels, filter, max_attempts, rate_limit, description, metadata, signature,
	secret, previous_secret, previous_secret_expires_at, created_at, updated_at`

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func (s *Store) webhookArgs(w *hookd.Webhook) ([]any, error) {
	events, err := jsonText(w.Events)
	if err != nil {
		return nil, err
	}
	headers := w.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	hdr, err := jsonText(headers)
	if err != nil {
		return nil, err
	}
	md := w.Metadata
	if md == nil {
		md = map[string]string{}
	}
	meta, err := jsonText(md)
	if err != nil {
		return nil, err
	}
	var channels, filter, sig any
	if w.Channels != nil {
		if channels, err = jsonText(w.Channels); err != nil {
			return nil, err
		}
	}
	if w.Filter != "" {
		filter = w.Filter
	}
	if w.Signature != nil {
		if sig, err = jsonText(w.Signature); err != nil {
			return nil, err
		}
	}
	return []any{
		w.ID, w.TenantID, w.Name, w.URL, events, hdr, w.Timeout.Milliseconds(), w.Enabled, w.SSLVerification,
		channels, filter, w.MaxAttempts, w.RateLimit, w.Description, meta, sig,
		s.box.Seal(w.Secret), s.box.Seal(w.PreviousSecret), micros(w.PreviousSecretExpiresAt),
		micros(w.CreatedAt), micros(w.UpdatedAt),
	}, nil
}

func (s *Store) scanWebhook(r scanner) (*hookd.Webhook, error) {
	w := &hookd.Webhook{}
	var events, headers, meta string
	var channels, filter, sig sql.NullString
	var timeoutMs, prevExp, created, updated int64
	var secret, prev string
	if err := r.Scan(&w.ID, &w.TenantID, &w.Name, &w.URL, &events, &headers, &timeoutMs, &w.Enabled, &w.SSLVerification,
		&channels, &filter, &w.MaxAttempts, &w.RateLimit, &w.Description, &meta, &sig,
		&secret, &prev, &prevExp, &created, &updated); err != nil {
		return nil, err
	}
	w.Timeout = time.Duration(timeoutMs) * time.Millisecond
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s events: %w", w.ID, err)
	}
	if err := json.Unmarshal([]byte(headers), &w.Headers); err != nil {
		return nil, fmt.Errorf("webhook %s headers: %w", w.ID, err)
	}
	if err := json.Unmarshal([]byte(meta), &w.Metadata); err != nil {
		return nil, fmt.Errorf("webhook %s metadata: %w", w.ID, err)
	}
	if channels.Valid {
		if err := json.Unmarshal([]byte(channels.String), &w.Channels); err != nil {
			return nil, fmt.Errorf("webhook %s channels: %w", w.ID, err)
		}
	}
	w.Filter = filter.String
	if sig.Valid {
		w.Signature = &hookd.Signature{}
		if err := json.Unmarshal([]byte(sig.String), w.Signature); err != nil {
			return nil, fmt.Errorf("webhook %s signature: %w", w.ID, err)
		}
	}
	var err error
	if w.Secret, err = s.box.Open(secret); err != nil {
		return nil, fmt.Errorf("webhook %s secret: %w", w.ID, err)
	}
	if w.PreviousSecret, err = s.box.Open(prev); err != nil {
		return nil, fmt.Errorf("webhook %s previous secret: %w", w.ID, err)
	}
	w.PreviousSecretExpiresAt = fromMicros(prevExp)
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	return w, nil
}

func (s *Store) CreateWebhook(ctx context.Context, w *hookd.Webhook) error {
	args, err := s.webhookArgs(w)
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO webhooks (`+webhookCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, args...)
		if isUnique(err) {
			return fmt.Errorf("create webhook: %w", hookd.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("create webhook: %w", err)
		}
		return nil
	})
}

func (s *Store) GetWebhook(ctx context.Context, tenantID, id string) (*hookd.Webhook, error) {
	w, err := s.scanWebhook(s.queryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, notFound("get webhook", err)
	}
	return w, nil
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
	out, err := s.queryWebhooks(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE `+where+` ORDER BY id LIMIT ? OFFSET ?`,
		append(args, q.Limit, q.Offset)...)
	return out, total, err
}

func (s *Store) EnabledWebhooks(ctx context.Context, tenantID string) ([]*hookd.Webhook, error) {
	return s.queryWebhooks(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE tenant_id = ? AND enabled = 1 ORDER BY id`, tenantID)
}

func (s *Store) queryWebhooks(ctx context.Context, query string, args ...any) ([]*hookd.Webhook, error) {
	rows, err := s.queryRead(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	out := []*hookd.Webhook{}
	for rows.Next() {
		w, err := s.scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Disabling ends the webhook's waiting deliveries here, in the same
// transaction, so no worker can claim one after the answer.
const disabledError = "webhook disabled"

func (s *Store) UpdateWebhook(ctx context.Context, w *hookd.Webhook) error {
	args, err := s.webhookArgs(w)
	if err != nil {
		return fmt.Errorf("update webhook: %w", err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE webhooks SET (`+webhookCols+`) = (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
			WHERE tenant_id = ? AND id = ?`, append(args, w.TenantID, w.ID)...)
		if err := affected("update webhook", res, err); err != nil {
			return err
		}
		if !w.Enabled {
			_, err := tx.Exec(`UPDATE deliveries SET status = 'FAILED', next_attempt_at = NULL, last_error = ?, updated_at = ?
				WHERE webhook_id = ? AND status IN ('PENDING', 'RETRYING')`, disabledError, micros(w.UpdatedAt), w.ID)
			if err != nil {
				return fmt.Errorf("update webhook: fail waiting deliveries: %w", err)
			}
		}
		return nil
	})
}

func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM webhooks WHERE tenant_id = ? AND id = ?`, tenantID, id)
		return affected("delete webhook", res, err)
	})
}
