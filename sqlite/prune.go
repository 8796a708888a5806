package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

func (s *Store) PruneEvents(ctx context.Context, p hookd.PruneParams) (*hookd.PruneResult, error) {
	var res *hookd.PruneResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, sqlrow.PruneScanSQL(func(int) string { return "?" }), p.After, p.Limit)
		if err != nil {
			return err
		}
		var scanned []sqlrow.EventAge
		for rows.Next() {
			e, err := sqlrow.ScanEventAge(rows)
			if err != nil {
				rows.Close()
				return err
			}
			scanned = append(scanned, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var old []int64
		old, res = sqlrow.OldEnough(scanned, p)
		if len(old) == 0 {
			return nil
		}
		waiting := map[int64]bool{}
		rows, err = tx.QueryContext(ctx, sqlrow.PruneWaitingSQL(sqlrow.SeqList(old), ""))
		if err != nil {
			return err
		}
		for rows.Next() {
			var seq int64
			var w bool
			if err := rows.Scan(&seq, &w); err != nil {
				rows.Close()
				return err
			}
			waiting[seq] = waiting[seq] || w
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		finished := sqlrow.Finished(old, waiting)
		if len(finished) == 0 {
			return nil
		}
		var deleted []int64
		for _, stmt := range sqlrow.PruneSQL(sqlrow.SeqList(finished)) {
			r, err := tx.ExecContext(ctx, stmt)
			if err != nil {
				return err
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			deleted = append(deleted, n)
		}
		sqlrow.Pruned(res, deleted)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prune events: %w", err)
	}
	return res, nil
}
