package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

// writeAudit writes the entry ctx carries (hookd.WithAudit), if any, in
// tx: the change and its record commit together or not at all.
func writeAudit(ctx context.Context, tx *sql.Tx) error {
	e := hookd.AuditFrom(ctx)
	if e == nil {
		return nil
	}
	args, err := sqlrow.AuditArgs(e)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO audit_log (`+sqlrow.AuditCols+`) VALUES (?,?,?,?,?,?,?,?,?)`, args...); err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

func (s *Store) ListAudit(ctx context.Context, q hookd.AuditQuery) ([]*hookd.AuditEntry, error) {
	where, args := sqlrow.AuditWhere(q, question)
	rows, err := s.queryRead(ctx, `SELECT seq, `+sqlrow.AuditCols+` FROM audit_log WHERE `+where+` ORDER BY seq DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	out := []*hookd.AuditEntry{}
	for rows.Next() {
		e, err := sqlrow.ScanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit log: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
