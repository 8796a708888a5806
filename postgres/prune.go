package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

// pruneLock is the advisory lock that makes one replica at a time prune.
// Advisory locks are per database, not per schema: the schema is in its
// key, so that stores in schemas of their own (tests running in parallel)
// do not take each other's turn, which read as "nothing to prune".
const pruneLock = `SELECT pg_try_advisory_xact_lock(hashtext('hookd.retention.' || current_schema()))`

func (s *Store) PruneEvents(ctx context.Context, p hookd.PruneParams) (*hookd.PruneResult, error) {
	var res *hookd.PruneResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, pruneLock).Scan(&mine); err != nil {
			return err
		}
		if !mine { // another replica is pruning
			res = &hookd.PruneResult{Next: p.After, Done: true}
			return nil
		}
		// The events are locked so that nothing adds a delivery to one
		// between the check below and its deletion.
		rows, err := tx.Query(ctx, sqlrow.PruneScanSQL(func(i int) string { return fmt.Sprintf("$%d", i) })+` FOR UPDATE`, p.After, p.Limit)
		scanned, err := collect(rows, err, "scan events", sqlrow.ScanEventAge)
		if err != nil {
			return err
		}
		var old []int64
		old, res = sqlrow.OldEnough(scanned, p)
		if len(old) == 0 {
			return nil
		}
		// The deliveries of the finished ones are locked, and looked at again
		// (a manual retry that committed meanwhile keeps its event). The
		// waiting ones are never locked: a claim locks those, and the two
		// must not wait on each other.
		finished := old
		for _, lock := range []string{"", " FOR UPDATE"} {
			rows, err = tx.Query(ctx, sqlrow.PruneWaitingSQL(sqlrow.SeqList(finished), `coalesce($1::bigint, `+dbNow+`)`, lock), s.nowArg())
			if err != nil {
				return err
			}
			waiting := map[int64]bool{}
			var seq int64
			var w bool
			if _, err := pgx.ForEachRow(rows, []any{&seq, &w}, func() error {
				waiting[seq] = waiting[seq] || w
				return nil
			}); err != nil {
				return err
			}
			if finished = sqlrow.Finished(finished, waiting); len(finished) == 0 {
				return nil
			}
		}
		var deleted []int64
		for _, stmt := range sqlrow.PruneSQL(sqlrow.SeqList(finished)) {
			tag, err := tx.Exec(ctx, stmt)
			if err != nil {
				return err
			}
			deleted = append(deleted, tag.RowsAffected())
		}
		sqlrow.Pruned(res, deleted)
		return nil
	})
	if err != nil {
		return nil, wrap("prune events", err)
	}
	return res, nil
}
