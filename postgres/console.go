package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

func (s *Store) CreateConsoleSession(ctx context.Context, cs *hookd.ConsoleSession) error {
	// Expired sessions are swept here, where sessions are made, so the table
	// stays as small as the live sessions without a timer.
	_, err := s.pool.Exec(ctx, `WITH swept AS (DELETE FROM console_sessions WHERE expires_at < $8)
		INSERT INTO console_sessions (`+sqlrow.SessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, sqlrow.SessionArgs(cs)...)
	return wrap("create console session", err)
}

func (s *Store) RedeemPortalLink(ctx context.Context, linkHash, tokenHash []byte, now time.Time) (*hookd.ConsoleSession, error) {
	cs, err := sqlrow.ScanSession(s.pool.QueryRow(ctx, `UPDATE console_sessions SET link_hash = NULL, token_hash = $1
		WHERE link_hash = $2 AND expires_at > $3 RETURNING `+sqlrow.SessionColumns, tokenHash, linkHash, sqlrow.Micros(now)))
	if err != nil {
		return nil, wrap("redeem portal link", err)
	}
	return cs, nil
}

func (s *Store) ConsoleSessionByToken(ctx context.Context, tokenHash []byte, now time.Time) (*hookd.ConsoleSession, error) {
	cs, err := sqlrow.ScanSession(s.pool.QueryRow(ctx, `SELECT `+sqlrow.SessionColumns+` FROM console_sessions
		WHERE token_hash = $1 AND expires_at > $2`, tokenHash, sqlrow.Micros(now)))
	if err != nil {
		return nil, wrap("console session", err)
	}
	return cs, nil
}

func (s *Store) DeleteConsoleSession(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete console session", `DELETE FROM console_sessions WHERE id = $1`, id)
}

func (s *Store) StatsSeries(ctx context.Context, q hookd.SeriesQuery) ([]*hookd.SeriesBucket, error) {
	attempts, deliveries, args := sqlrow.SeriesSQL(q, func(i int) string { return "$" + strconv.Itoa(i) })
	series := sqlrow.NewSeries(q)
	rows, err := s.pool.Query(ctx, attempts, args...)
	if err != nil {
		return nil, wrap("attempt series", err)
	}
	for rows.Next() {
		var bucket int64
		var bin, n, ok int
		var sumUs int64
		if err := rows.Scan(&bucket, &bin, &n, &ok, &sumUs); err != nil {
			rows.Close()
			return nil, wrap("attempt series", err)
		}
		series.AddAttempts(bucket, bin, n, ok, sumUs)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("attempt series", err)
	}
	rows, err = s.pool.Query(ctx, deliveries, args...)
	if err != nil {
		return nil, wrap("delivery series", err)
	}
	defer rows.Close()
	for rows.Next() {
		var bucket int64
		var status string
		var n int
		if err := rows.Scan(&bucket, &status, &n); err != nil {
			return nil, wrap("delivery series", err)
		}
		series.AddDeliveries(bucket, status, n)
	}
	return series.Buckets, wrap("delivery series", rows.Err())
}
