package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/sqlrow"
)

func (s *Store) AdminKeyHash(ctx context.Context) ([]byte, error) {
	var h []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'admin_key_hash'`).Scan(&h)
	return h, wrap("admin key", err)
}

func (s *Store) SetAdminKeyHash(ctx context.Context, hash []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('admin_key_hash', $1)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, hash)
	return wrap("set admin key", err)
}

func (s *Store) CreateTenant(ctx context.Context, t *hookd.Tenant) error {
	meta, err := sqlrow.TenantMetadata(t)
	if err != nil {
		return fmt.Errorf("create tenant: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO tenants (id, name, created_at, metadata, updated_at) VALUES ($1, $2, $3, $4, $3)`, t.ID, t.Name, sqlrow.Micros(t.CreatedAt), meta)
	return wrap("create tenant "+t.ID, err)
}

func (s *Store) GetTenant(ctx context.Context, id string) (*hookd.Tenant, error) {
	t, err := sqlrow.ScanTenant(s.pool.QueryRow(ctx, `SELECT `+sqlrow.TenantCols+` FROM tenants WHERE id = $1`, id))
	return t, wrap("get tenant", err)
}

func (s *Store) ListTenants(ctx context.Context, q hookd.TenantQuery) ([]*hookd.Tenant, int, error) {
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&total); err != nil {
		return nil, 0, wrap("count tenants", err)
	}
	where, args := "", []any{q.Limit, q.Offset}
	if q.AfterID != "" {
		where, args = `WHERE (created_at, id) `+sqlrow.TenantAfter(q)+` ($3, $4)`, append(args, sqlrow.Micros(q.AfterCreatedAt), q.AfterID)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+sqlrow.TenantCols+` FROM tenants `+where+` ORDER BY `+sqlrow.TenantOrder(q)+` LIMIT $1 OFFSET $2`, args...)
	out, err := collect(rows, err, "list tenants", sqlrow.ScanTenant)
	return out, total, err
}

func (s *Store) UpdateTenant(ctx context.Context, t *hookd.Tenant) error {
	meta, err := sqlrow.TenantMetadata(t)
	if err != nil {
		return fmt.Errorf("update tenant: %w", err)
	}
	return s.changeOne(ctx, "update tenant", `UPDATE tenants SET name = $1, metadata = $3, updated_at = $4 WHERE id = $2`, t.Name, t.ID, meta, sqlrow.Micros(t.UpdatedAt))
}

// DeleteTenant locks the tenant's webhooks first, in id order, as
// DeleteEvents does: the cascade may reach deliveries before their
// webhooks otherwise, the order a record's transaction must not meet.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM webhooks WHERE tenant_id = $1 ORDER BY id FOR UPDATE`, id)
		if err != nil {
			return wrap("delete tenant", err)
		}
		hooks, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return wrap("delete tenant", err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, id)
		if err != nil {
			return wrap("delete tenant", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("delete tenant: %w", hookd.ErrNotFound)
		}
		return s.announce(ctx, tx, hooks...)
	})
}

func (s *Store) CreateAPIKey(ctx context.Context, k *hookd.APIKey) error {
	return s.change(ctx, func(q execer) error {
		_, err := q.Exec(ctx, `INSERT INTO api_keys (id, tenant_id, name, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
			k.ID, k.TenantID, k.Name, k.Hash, sqlrow.Micros(k.CreatedAt))
		return wrap("create api key", err)
	})
}

func (s *Store) ListAPIKeys(ctx context.Context, tenantID string) ([]*hookd.APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, tenant_id, name, hash, created_at FROM api_keys WHERE tenant_id = $1 ORDER BY id`, tenantID)
	return collect(rows, err, "list api keys", sqlrow.ScanKey)
}

func (s *Store) DeleteAPIKey(ctx context.Context, tenantID, id string) error {
	return s.changeOne(ctx, "delete api key", `DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (*hookd.APIKey, error) {
	k, err := sqlrow.ScanKey(s.pool.QueryRow(ctx, `SELECT id, tenant_id, name, hash, created_at FROM api_keys WHERE hash = $1`, hash))
	return k, wrap("api key", err)
}

func (s *Store) CreateEventType(ctx context.Context, et *hookd.EventType) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO event_types (`+sqlrow.EventTypeCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, sqlrow.EventTypeArgs(et)...)
	return wrap("create event type "+et.Name, err)
}

func (s *Store) GetEventType(ctx context.Context, name string) (*hookd.EventType, error) {
	et, err := sqlrow.ScanEventType(s.pool.QueryRow(ctx, `SELECT `+sqlrow.EventTypeCols+` FROM event_types WHERE name = $1`, name))
	return et, wrap("get event type", err)
}

func (s *Store) ListEventTypes(ctx context.Context) ([]*hookd.EventType, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sqlrow.EventTypeCols+` FROM event_types ORDER BY name`)
	return collect(rows, err, "list event types", sqlrow.ScanEventType)
}

func (s *Store) UpdateEventType(ctx context.Context, et *hookd.EventType) error {
	a := sqlrow.EventTypeArgs(et) // its creation time, a[4], stays as it is
	return s.execOne(ctx, "update event type", `UPDATE event_types SET description = $2, schema = $3, archived = $4, updated_at = $5, examples = $6,
		deprecated = $7, feature_flag = $8, group_name = $9 WHERE name = $1`, append(a[:4:4], a[5:]...)...)
}

// DeleteEvents locks the tenant's webhooks first, in id order, as every
// writer of their deliveries does: its cascade deletes deliveries that a
// record or a disable may be writing (deadlock otherwise).
func (s *Store) DeleteEvents(ctx context.Context, p hookd.DeleteEventsParams) (int, int64, error) {
	return deleteStep(ctx, s, "delete events", `SELECT 1 FROM webhooks WHERE tenant_id = $1 ORDER BY id FOR NO KEY UPDATE`, []any{p.TenantID},
		sqlrow.DeleteEventsSQL(dollar), sqlrow.DeleteEventsArgs(p), p.After)
}

// deleteStep runs a delete step: the lock, then the statement, which
// returns the keys it deleted; it says how many and the greatest (after
// when none).
func deleteStep[K int64 | string](ctx context.Context, s *Store, what, lock string, lockArgs []any, query string, args []any, after K) (n int, last K, err error) {
	last = after
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lock, lockArgs...); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[K])
		n, last = len(keys), slices.Max(append(keys, after))
		return err
	})
	if err != nil {
		return 0, after, wrap(what, err)
	}
	return n, last, nil
}
