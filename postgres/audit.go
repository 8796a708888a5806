package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

var auditInsert = `INSERT INTO audit_log (` + sqlrow.AuditCols + `) VALUES (` + params(1, 9) + `)`

// writeAudit writes the entry ctx carries (hookd.WithAudit), if any, in
// tx: the change and its record commit together or not at all.
func writeAudit(ctx context.Context, tx pgx.Tx) error {
	e := hookd.AuditFrom(ctx)
	if e == nil {
		return nil
	}
	args, err := sqlrow.AuditArgs(e)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, auditInsert, args...)
	return wrap("write audit entry", err)
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// change runs a one-statement change, in a transaction with its audit
// entry when ctx carries one.
func (s *Store) change(ctx context.Context, fn func(q execer) error) error {
	if hookd.AuditFrom(ctx) == nil {
		return fn(s.pool)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return writeAudit(ctx, tx)
	})
}

// changeOne is change for a statement that must touch one row: none is
// ErrNotFound.
func (s *Store) changeOne(ctx context.Context, what, query string, args ...any) error {
	return s.change(ctx, func(q execer) error {
		tag, err := q.Exec(ctx, query, args...)
		if err != nil {
			return wrap(what, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%s: %w", what, hookd.ErrNotFound)
		}
		return nil
	})
}

func (s *Store) ListAudit(ctx context.Context, q hookd.AuditQuery) ([]*hookd.AuditEntry, error) {
	where, args := sqlrow.AuditWhere(q, func(i int) string { return fmt.Sprintf("$%d", i) })
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT seq, %s FROM audit_log WHERE %s ORDER BY seq DESC LIMIT $%d`, sqlrow.AuditCols, where, len(args)+1),
		append(args, q.Limit)...)
	return collect(rows, err, "list audit log", sqlrow.ScanAudit)
}
