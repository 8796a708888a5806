package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

func (s *Store) SavedResponse(ctx context.Context, scope, key string, since time.Time) (*hookd.SavedResponse, error) {
	r := &hookd.SavedResponse{}
	var created int64
	err := s.queryRow(ctx, `SELECT status, body, created_at FROM idempotency_keys WHERE scope = ? AND key = ? AND created_at >= ?`,
		scope, key, sqlrow.Micros(since)).Scan(&r.Status, &r.Body, &created)
	if err != nil {
		return nil, notFound("saved response", err)
	}
	r.CreatedAt = sqlrow.FromMicros(created)
	return r, nil
}

func (s *Store) SaveResponse(ctx context.Context, scope, key string, r *hookd.SavedResponse, keep time.Duration) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM idempotency_keys WHERE created_at < ?`, sqlrow.Micros(r.CreatedAt.Add(-keep))); err != nil {
			return fmt.Errorf("save response: %w", err)
		}
		_, err := tx.Exec(`INSERT INTO idempotency_keys (scope, key, status, body, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			scope, key, r.Status, sqlrow.Bytes(r.Body), sqlrow.Micros(r.CreatedAt))
		if err != nil {
			return fmt.Errorf("save response: %w", err)
		}
		return nil
	})
}
