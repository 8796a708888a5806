package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

func (s *Store) SavedResponse(ctx context.Context, scope, key string, since time.Time) (*hookd.SavedResponse, error) {
	r := &hookd.SavedResponse{}
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT status, body, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at >= $3`,
		scope, key, sqlrow.Micros(since)).Scan(&r.Status, &r.Body, &created)
	if err != nil {
		return nil, wrap("saved response", err)
	}
	r.CreatedAt = sqlrow.FromMicros(created)
	return r, nil
}

func (s *Store) ReserveResponse(ctx context.Context, p *hookd.ReserveResponseParams) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, status, body, created_at) VALUES ($1, $2, 0, '', $3)
		ON CONFLICT (scope, key) DO UPDATE SET status = 0, body = '', created_at = $3
		WHERE idempotency_keys.created_at < $4 OR (idempotency_keys.status = 0 AND idempotency_keys.created_at < $5)`,
		p.Scope, p.Key, sqlrow.Micros(p.At), sqlrow.Micros(p.Since), sqlrow.Micros(p.StaleBefore))
	if err != nil {
		return false, wrap("reserve response", err)
	}
	return tag.RowsAffected() == 1, nil
}

func (s *Store) ReleaseResponse(ctx context.Context, scope, key string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = 0 AND created_at = $3`, scope, key, sqlrow.Micros(at))
	return wrap("release response", err)
}

func (s *Store) SaveResponse(ctx context.Context, scope, key string, r *hookd.SavedResponse, keep time.Duration) error {
	return wrap("save response", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, sqlrow.Micros(r.CreatedAt.Add(-keep))); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, status, body, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (scope, key) DO UPDATE SET status = $3, body = $4, created_at = $5 WHERE idempotency_keys.status = 0 AND idempotency_keys.created_at = excluded.created_at`,
			scope, key, r.Status, sqlrow.Bytes(r.Body), sqlrow.Micros(r.CreatedAt))
		return err
	}))
}
