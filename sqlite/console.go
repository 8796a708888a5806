package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

func (s *Store) CreateConsoleSession(ctx context.Context, cs *hookd.ConsoleSession) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		// Expired sessions are swept here, where sessions are made, so the
		// table stays as small as the live sessions without a timer.
		if _, err := tx.Exec(`DELETE FROM console_sessions WHERE expires_at < ?`, sqlrow.Micros(cs.CreatedAt)); err != nil {
			return fmt.Errorf("sweep console sessions: %w", err)
		}
		_, err := tx.Exec(`INSERT INTO console_sessions (`+sqlrow.SessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sqlrow.SessionArgs(cs)...)
		return insertErr("create console session", err)
	})
}

func (s *Store) RedeemPortalLink(ctx context.Context, linkHash, tokenHash []byte, now time.Time) (*hookd.ConsoleSession, error) {
	var cs *hookd.ConsoleSession
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		cs, err = sqlrow.ScanSession(tx.QueryRow(`UPDATE console_sessions SET link_hash = NULL, token_hash = ?
			WHERE link_hash = ? AND expires_at > ? RETURNING `+sqlrow.SessionColumns, tokenHash, linkHash, sqlrow.Micros(now)))
		if err != nil {
			return notFound("redeem portal link", err)
		}
		return nil
	})
	return cs, err
}

func (s *Store) ConsoleSessionByToken(ctx context.Context, tokenHash []byte, now time.Time) (*hookd.ConsoleSession, error) {
	cs, err := sqlrow.ScanSession(s.queryRow(ctx, `SELECT `+sqlrow.SessionColumns+` FROM console_sessions
		WHERE token_hash = ? AND expires_at > ?`, tokenHash, sqlrow.Micros(now)))
	if err != nil {
		return nil, notFound("console session", err)
	}
	return cs, nil
}

func (s *Store) DeleteConsoleSession(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM console_sessions WHERE id = ?`, id)
		return affected("delete console session", res, err)
	})
}

func (s *Store) StatsSeries(ctx context.Context, q hookd.SeriesQuery) ([]*hookd.SeriesBucket, error) {
	attempts, deliveries, ordered := sqlrow.SeriesSQL(q, num)
	series := sqlrow.NewSeries(q)
	rows, err := s.queryRead(ctx, attempts, ordered...)
	if err != nil {
		return nil, fmt.Errorf("attempt series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var bucket int64
		var bin, n, ok int
		var sumUs int64
		if err := rows.Scan(&bucket, &bin, &n, &ok, &sumUs); err != nil {
			return nil, fmt.Errorf("attempt series: %w", err)
		}
		series.AddAttempts(bucket, bin, n, ok, sumUs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attempt series: %w", err)
	}
	rows, err = s.queryRead(ctx, deliveries, ordered...)
	if err != nil {
		return nil, fmt.Errorf("delivery series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var bucket int64
		var status string
		var n int
		if err := rows.Scan(&bucket, &status, &n); err != nil {
			return nil, fmt.Errorf("delivery series: %w", err)
		}
		series.AddDeliveries(bucket, status, n)
	}
	return series.Buckets, rows.Err()
}
