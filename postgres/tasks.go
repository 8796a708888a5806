package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

func dollar(i int) string { return "$" + strconv.Itoa(i) }

func (s *Store) CreateTask(ctx context.Context, t *hookd.Task) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlrow.InsertTaskSQL(dollar), sqlrow.TaskInsertArgs(t)...); err != nil {
			return wrap("create task", err)
		}
		return writeAudit(ctx, tx)
	})
}

func (s *Store) GetTask(ctx context.Context, tenantID, id string) (*hookd.Task, error) {
	t, err := sqlrow.ScanTask(s.pool.QueryRow(ctx, `SELECT `+sqlrow.TaskCols+` FROM tasks WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return t, wrap("get task", err)
}

func (s *Store) FindTask(ctx context.Context, id string) (*hookd.Task, error) {
	t, err := sqlrow.ScanTask(s.pool.QueryRow(ctx, `SELECT `+sqlrow.TaskCols+` FROM tasks WHERE id = $1`, id))
	return t, wrap("find task", err)
}

// ClaimTask skips a task another replica is claiming (SKIP LOCKED) and
// leases by the database's clock, so replicas' clocks do not matter.
func (s *Store) ClaimTask(ctx context.Context, p hookd.ClaimTaskParams) (*hookd.Task, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	t, err := sqlrow.ScanTask(s.pool.QueryRow(ctx, `WITH n AS (SELECT coalesce($2::bigint, `+dbNow+`) AS now)
		UPDATE tasks SET lease_token = lease_token + 1, lease_until = n.now + $1::bigint FROM n
		WHERE id = (SELECT id FROM tasks, n WHERE status = 'running' AND lease_until <= n.now ORDER BY created_at LIMIT 1 FOR UPDATE OF tasks SKIP LOCKED)
		RETURNING `+sqlrow.Prefixed("tasks.", sqlrow.TaskCols), p.Lease.Microseconds(), s.nowArg()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return t, wrap("claim task", err)
}

func (s *Store) ReplaySpan(ctx context.Context, tenantID string, w hookd.Window) (first, last int64, count int, err error) {
	err = s.pool.QueryRow(ctx, sqlrow.ReplaySpanSQL(dollar), tenantID, sqlrow.Micros(w.Since), sqlrow.Micros(w.Until)).Scan(&first, &last, &count)
	return first, last, count, wrap("replay span", err)
}

func (s *Store) ReplayEvents(ctx context.Context, p hookd.ReplayEventsParams) ([]*hookd.Event, error) {
	rows, err := s.pool.Query(ctx, sqlrow.ReplayEventsSQL(dollar), sqlrow.ReplayEventsArgs(p)...)
	return collect(rows, err, "replay events", sqlrow.ScanEvent)
}

func (s *Store) AdvanceTask(ctx context.Context, p hookd.AdvanceTaskParams) (*hookd.AdvanceTaskResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	res := &hookd.AdvanceTaskResult{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var now int64
		if err := tx.QueryRow(ctx, `SELECT coalesce($1::bigint, `+dbNow+`)`, s.nowArg()).Scan(&now); err != nil {
			return err
		}
		// The task's row first: its lock holds off a runner that claimed
		// it since, until this chunk commits or rolls back.
		tag, err := tx.Exec(ctx, sqlrow.AdvanceTaskSQL(dollar, p.Prepare), sqlrow.AdvanceTaskArgs(p, now, now+p.Lease.Microseconds())...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return hookd.ErrLeaseLost
		}
		d := p.Deliveries
		if d == nil || len(d.EventSeqs) == 0 {
			return nil
		}
		pairs := `jsonb_each_text($1::jsonb)`
		tag, err = tx.Exec(ctx, sqlrow.ReplayDeliveriesSQL(dollar, pairs, d.OnlyMissing), sqlrow.ReplayPairs(d), d.WebhookID, d.TenantID, now)
		if err != nil {
			return err
		}
		res.Created = int(tag.RowsAffected())
		if res.Created > 0 {
			return s.markOne(ctx, tx, d.WebhookID, now)
		}
		return nil
	})
	if errors.Is(err, hookd.ErrLeaseLost) {
		return nil, err
	}
	if err != nil {
		return nil, wrap("advance task", err)
	}
	return res, nil
}
