package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

// num numbers SQLite's placeholders (?1, ?2…), for the texts that use one
// parameter twice.
func num(i int) string { return "?" + strconv.Itoa(i) }

// question is SQLite's plain placeholder, for the statements sqlrow builds.
func question(int) string { return "?" }

func (s *Store) CreateTask(ctx context.Context, t *hookd.Task) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(sqlrow.InsertTaskSQL(num), sqlrow.TaskInsertArgs(t)...); err != nil {
			return insertErr("create task", err)
		}
		return writeAudit(ctx, tx)
	})
}

func (s *Store) GetTask(ctx context.Context, tenantID, id string) (*hookd.Task, error) {
	t, err := sqlrow.ScanTask(s.queryRow(ctx, `SELECT `+sqlrow.TaskCols+` FROM tasks WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, notFound("get task", err)
	}
	return t, nil
}

func (s *Store) FindTask(ctx context.Context, id string) (*hookd.Task, error) {
	t, err := sqlrow.ScanTask(s.queryRow(ctx, `SELECT `+sqlrow.TaskCols+` FROM tasks WHERE id = ?`, id))
	if err != nil {
		return nil, notFound("find task", err)
	}
	return t, nil
}

func (s *Store) ClaimTask(ctx context.Context, p hookd.ClaimTaskParams) (*hookd.Task, error) {
	now := s.clock.Now()
	var t *hookd.Task
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = sqlrow.ScanTask(tx.QueryRow(`UPDATE tasks SET lease_token = lease_token + 1, lease_until = ?1
			WHERE id = (SELECT id FROM tasks WHERE status = 'running' AND lease_until <= ?2 ORDER BY created_at LIMIT 1)
			RETURNING `+sqlrow.TaskCols, sqlrow.Micros(now.Add(p.Lease)), sqlrow.Micros(now)))
		if err == sql.ErrNoRows {
			t, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim task: %w", err)
	}
	return t, nil
}

func (s *Store) ReplaySpan(ctx context.Context, tenantID string, w hookd.Window) (first, last int64, count int, err error) {
	err = s.queryRow(ctx, sqlrow.ReplaySpanSQL(num), tenantID, sqlrow.Micros(w.Since), sqlrow.Micros(w.Until)).Scan(&first, &last, &count)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("replay span: %w", err)
	}
	return first, last, count, nil
}

func (s *Store) ReplayEvents(ctx context.Context, p hookd.ReplayEventsParams) ([]*hookd.Event, error) {
	rows, err := s.queryRead(ctx, sqlrow.ReplayEventsSQL(num), sqlrow.ReplayEventsArgs(p)...)
	if err != nil {
		return nil, fmt.Errorf("replay events: %w", err)
	}
	defer rows.Close()
	var out []*hookd.Event
	for rows.Next() {
		e, err := sqlrow.ScanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("replay events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Store) AdvanceTask(ctx context.Context, p hookd.AdvanceTaskParams) (*hookd.AdvanceTaskResult, error) {
	now := s.clock.Now()
	res := &hookd.AdvanceTaskResult{}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res.Created = 0
		r, err := tx.Exec(sqlrow.AdvanceTaskSQL(num, p.Prepare), sqlrow.AdvanceTaskArgs(p, sqlrow.Micros(now), sqlrow.Micros(now.Add(p.Lease)))...)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return hookd.ErrLeaseLost
		}
		d := p.Deliveries
		if d == nil || len(d.EventSeqs) == 0 {
			return nil
		}
		pairs := `json_each(?1)`
		r, err = tx.Exec(sqlrow.ReplayDeliveriesSQL(num, pairs, d.OnlyMissing), sqlrow.ReplayPairs(d), d.WebhookID, d.TenantID, sqlrow.Micros(now))
		if err != nil {
			return fmt.Errorf("insert deliveries: %w", err)
		}
		n, _ := r.RowsAffected()
		res.Created = int(n)
		if n > 0 {
			if _, err := s.exec(tx, markDue, sqlrow.JSONList(map[string]int64{d.WebhookID: sqlrow.Micros(now)})); err != nil {
				return fmt.Errorf("mark due: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("advance task: %w", err)
	}
	return res, nil
}
