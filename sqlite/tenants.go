package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hookd/hookd/internal/sqlrow"

	"github.com/hookd/hookd"
)

func (s *Store) AdminKeyHash(ctx context.Context) ([]byte, error) {
	var h []byte
	err := s.queryRow(ctx, `SELECT value FROM settings WHERE key = 'admin_key_hash'`).Scan(&h)
	if err != nil {
		return nil, notFound("admin key", err)
	}
	return h, nil
}

func (s *Store) SetAdminKeyHash(ctx context.Context, hash []byte) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO settings (key, value) VALUES ('admin_key_hash', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, hash)
		if err != nil {
			return fmt.Errorf("set admin key: %w", err)
		}
		return nil
	})
}

func (s *Store) CreateTenant(ctx context.Context, t *hookd.Tenant) error {
	meta, err := sqlrow.TenantMetadata(t)
	if err != nil {
		return fmt.Errorf("create tenant: %w", err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO tenants (id, name, created_at, metadata, updated_at) VALUES (?, ?, ?, ?, ?)`, t.ID, t.Name, sqlrow.Micros(t.CreatedAt), meta, sqlrow.Micros(t.CreatedAt))
		if isUnique(err) {
			return fmt.Errorf("create tenant %s: %w", t.ID, hookd.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("create tenant: %w", err)
		}
		return nil
	})
}

func (s *Store) GetTenant(ctx context.Context, id string) (*hookd.Tenant, error) {
	t, err := sqlrow.ScanTenant(s.queryRow(ctx, `SELECT `+sqlrow.TenantCols+` FROM tenants WHERE id = ?`, id))
	if err != nil {
		return nil, notFound("get tenant", err)
	}
	return t, nil
}

func (s *Store) ListTenants(ctx context.Context, q hookd.TenantQuery) ([]*hookd.Tenant, int, error) {
	var total int
	if err := s.queryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count tenants: %w", err)
	}
	where, args := "", []any{}
	if q.AfterID != "" {
		where, args = `WHERE (created_at, id) `+sqlrow.TenantAfter(q)+` (?, ?)`, []any{sqlrow.Micros(q.AfterCreatedAt), q.AfterID}
	}
	rows, err := s.queryRead(ctx, `SELECT `+sqlrow.TenantCols+` FROM tenants `+where+` ORDER BY `+sqlrow.TenantOrder(q)+` LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	out := []*hookd.Tenant{}
	for rows.Next() {
		t, err := sqlrow.ScanTenant(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list tenants: %w", err)
		}
		out = append(out, t)
	}
	return out, total, rows.Err()
}

func (s *Store) UpdateTenant(ctx context.Context, t *hookd.Tenant) error {
	meta, err := sqlrow.TenantMetadata(t)
	if err != nil {
		return fmt.Errorf("update tenant: %w", err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE tenants SET name = ?, metadata = ?, updated_at = ? WHERE id = ?`, t.Name, meta, sqlrow.Micros(t.UpdatedAt), t.ID)
		if err := affected("update tenant", res, err); err != nil {
			return err
		}
		return writeAudit(ctx, tx)
	})
}

func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM tenants WHERE id = ?`, id)
		return affected("delete tenant", res, err)
	})
}

func affected(what string, res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, hookd.ErrNotFound)
	}
	return nil
}

func (s *Store) CreateAPIKey(ctx context.Context, k *hookd.APIKey) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO api_keys (id, tenant_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.TenantID, k.Name, k.Hash, sqlrow.Micros(k.CreatedAt))
		if err := insertErr("create api key", err); err != nil {
			return err
		}
		return writeAudit(ctx, tx)
	})
}

func (s *Store) ListAPIKeys(ctx context.Context, tenantID string) ([]*hookd.APIKey, error) {
	rows, err := s.queryRead(ctx, `SELECT id, tenant_id, name, hash, created_at FROM api_keys WHERE tenant_id = ? ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	out := []*hookd.APIKey{}
	for rows.Next() {
		k, err := sqlrow.ScanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *Store) DeleteAPIKey(ctx context.Context, tenantID, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM api_keys WHERE tenant_id = ? AND id = ?`, tenantID, id)
		if err := affected("delete api key", res, err); err != nil {
			return err
		}
		return writeAudit(ctx, tx)
	})
}

func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (*hookd.APIKey, error) {
	k, err := sqlrow.ScanKey(s.queryRow(ctx, `SELECT id, tenant_id, name, hash, created_at FROM api_keys WHERE hash = ?`, hash))
	if err != nil {
		return nil, notFound("api key", err)
	}
	return k, nil
}

func (s *Store) CreateEventType(ctx context.Context, et *hookd.EventType) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO event_types (`+sqlrow.EventTypeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sqlrow.EventTypeArgs(et)...)
		if isUnique(err) {
			return fmt.Errorf("create event type %s: %w", et.Name, hookd.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("create event type: %w", err)
		}
		return nil
	})
}

func (s *Store) GetEventType(ctx context.Context, name string) (*hookd.EventType, error) {
	et, err := sqlrow.ScanEventType(s.queryRow(ctx, `SELECT `+sqlrow.EventTypeCols+` FROM event_types WHERE name = ?`, name))
	if err != nil {
		return nil, notFound("get event type", err)
	}
	return et, nil
}

func (s *Store) ListEventTypes(ctx context.Context) ([]*hookd.EventType, error) {
	rows, err := s.queryRead(ctx, `SELECT `+sqlrow.EventTypeCols+` FROM event_types ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list event types: %w", err)
	}
	defer rows.Close()
	out := []*hookd.EventType{}
	for rows.Next() {
		et, err := sqlrow.ScanEventType(rows)
		if err != nil {
			return nil, fmt.Errorf("list event types: %w", err)
		}
		out = append(out, et)
	}
	return out, rows.Err()
}

func (s *Store) UpdateEventType(ctx context.Context, et *hookd.EventType) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		a := sqlrow.EventTypeArgs(et) // its creation time, a[4], stays as it is
		res, err := tx.Exec(`UPDATE event_types SET description = ?2, schema = ?3, archived = ?4, updated_at = ?5, examples = ?6,
			deprecated = ?7, feature_flag = ?8, group_name = ?9 WHERE name = ?1`, append(a[:4:4], a[5:]...)...)
		return affected("update event type", res, err)
	})
}

func (s *Store) DeleteEvents(ctx context.Context, p hookd.DeleteEventsParams) (int, int64, error) {
	return deleteStep(ctx, s, "delete events", sqlrow.DeleteEventsSQL(question), sqlrow.DeleteEventsArgs(p), p.After)
}

// deleteStep runs a delete step's statement, which returns the keys it
// deleted, and says how many and the greatest (after when none). Relaxed:
// a step lost to a power cut leaves rows that the delete's last, full
// commit removes anyway.
func deleteStep[K int64 | string](ctx context.Context, s *Store, what, query string, args []any, after K) (n int, last K, err error) {
	last = after
	err = s.writeRelaxed(ctx, func(tx *sql.Tx) error {
		rows, err := tx.Query(query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k K
			if err := rows.Scan(&k); err != nil {
				return err
			}
			n, last = n+1, max(last, k)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, after, fmt.Errorf("%s: %w", what, err)
	}
	return n, last, nil
}
