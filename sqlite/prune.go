package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

var _ hookd.Reclaimer = (*Store)(nil)

// ReclaimSpace runs one step of incremental vacuum in the writer: the
// file shrinks by the free pages it moves to the end and cuts off. A
// database made before hookd set auto_vacuum (see migrate) has none, and
// returns 0: its file keeps reusing its free pages instead.
func (s *Store) ReclaimSpace(ctx context.Context, pages int) (int, error) {
	var freed int
	err := s.write(ctx, func(tx *sql.Tx) error {
		var before, after int
		if err := tx.QueryRow(`PRAGMA freelist_count`).Scan(&before); err != nil {
			return err
		}
		if before == 0 {
			freed = 0
			return nil
		}
		rows, err := tx.Query(fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, pages))
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := tx.QueryRow(`PRAGMA freelist_count`).Scan(&after); err != nil {
			return err
		}
		freed = before - after
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reclaim space: %w", err)
	}
	return freed, nil
}

func (s *Store) PruneEvents(ctx context.Context, p hookd.PruneParams) (*hookd.PruneResult, error) {
	var res *hookd.PruneResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, sqlrow.PruneScanSQL(question), p.After, p.Limit)
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
		rows, err = tx.QueryContext(ctx, sqlrow.PruneWaitingSQL(sqlrow.SeqList(old), "?", ""), sqlrow.Micros(s.clock.Now()))
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
