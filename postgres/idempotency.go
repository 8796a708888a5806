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

func (s *Store) SaveResponse(ctx context.Context, scope, key string, r *hookd.SavedResponse, keep time.Duration) error {
	return wrap("save response", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, sqlrow.Micros(r.CreatedAt.Add(-keep))); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, status, body, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			scope, key, r.Status, sqlrow.Bytes(r.Body), sqlrow.Micros(r.CreatedAt))
		return err
	}))
}
