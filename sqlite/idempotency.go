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

func (s *Store) ReserveResponse(ctx context.Context, p *hookd.ReserveResponseParams) (bool, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO idempotency_keys (scope, key, status, body, created_at) VALUES (?1, ?2, 0, x'', ?3)
			ON CONFLICT (scope, key) DO UPDATE SET status = 0, body = x'', created_at = ?3
			WHERE idempotency_keys.created_at < ?4 OR (idempotency_keys.status = 0 AND idempotency_keys.created_at < ?5)`,
			p.Scope, p.Key, sqlrow.Micros(p.At), sqlrow.Micros(p.Since), sqlrow.Micros(p.StaleBefore))
		if err != nil {
			return fmt.Errorf("reserve response: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

func (s *Store) ReleaseResponse(ctx context.Context, scope, key string, at time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status = 0 AND created_at = ?`, scope, key, sqlrow.Micros(at))
		if err != nil {
			return fmt.Errorf("release response: %w", err)
		}
		return nil
	})
}

func (s *Store) SaveResponse(ctx context.Context, scope, key string, r *hookd.SavedResponse, keep time.Duration) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM idempotency_keys WHERE created_at < ?`, sqlrow.Micros(r.CreatedAt.Add(-keep))); err != nil {
			return fmt.Errorf("save response: %w", err)
		}
		_, err := tx.Exec(`INSERT INTO idempotency_keys (scope, key, status, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
			ON CONFLICT (scope, key) DO UPDATE SET status = ?3, body = ?4, created_at = ?5 WHERE idempotency_keys.status = 0 AND idempotency_keys.created_at = excluded.created_at`,
			scope, key, r.Status, sqlrow.Bytes(r.Body), sqlrow.Micros(r.CreatedAt))
		if err != nil {
			return fmt.Errorf("save response: %w", err)
		}
		return nil
	})
}
