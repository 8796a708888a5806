package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

func (s *Store) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, name).Scan(&v)
	return v, wrap("setting "+name, err)
}

func (s *Store) SetSetting(ctx context.Context, name string, value []byte) error {
	return setSetting(ctx, s.pool, name, value)
}

// sealable refuses to store secrets sealed with this process's key when
// hookd rekey has moved the stored ones to another since it started
// (SecretBox.CheckSealing).
func (s *Store) sealable(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	var fp []byte
	err := q.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, hookd.SettingKeyFingerprint).Scan(&fp)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return wrap("read the encryption key's fingerprint", err)
	}
	return s.box.CheckSealing(string(fp))
}

func setSetting(ctx context.Context, q execer, name string, value []byte) error {
	_, err := q.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, name, value)
	return wrap("set "+name, err)
}

func (s *Store) InitSetting(ctx context.Context, name string, value []byte) ([]byte, error) {
	var got []byte
	err := s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO settings (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE length(settings.value) = 0
			RETURNING value)
		SELECT value FROM ins UNION ALL SELECT value FROM settings WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM ins)`, name, value).Scan(&got)
	return got, wrap("init "+name, err)
}

func (s *Store) EncryptedSecret(ctx context.Context) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT secret FROM webhooks WHERE secret LIKE 'aes:%'
		UNION ALL SELECT previous_secret FROM webhooks WHERE previous_secret LIKE 'aes:%'
		UNION ALL SELECT older_secrets FROM webhooks WHERE older_secrets LIKE 'aes:%' LIMIT 1`).Scan(&v)
	return v, wrap("encrypted secret", err)
}

func (s *Store) Reseal(ctx context.Context, p hookd.ResealParams) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		// The table is held against writes (not reads) for the rewrite: a
		// concurrent create or edit waits, then reads the new fingerprint
		// after its write and fails (sealable) unless its process has the
		// new key. Row locks alone let an insert through unseen.
		if _, err := tx.Exec(ctx, `LOCK TABLE webhooks IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return wrap("reseal", err)
		}
		rows, err := tx.Query(ctx, `SELECT id, secret, previous_secret, older_secrets FROM webhooks ORDER BY id`)
		if err != nil {
			return wrap("reseal", err)
		}
		type row struct{ id, secret, prev, older string }
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.id, &x.secret, &x.prev, &x.older)
			return x, err
		})
		if err != nil {
			return wrap("reseal", err)
		}
		for _, r := range all {
			secret, prev, older := r.secret, r.prev, r.older
			for _, v := range []*string{&secret, &prev, &older} {
				if *v == "" {
					continue
				}
				if *v, err = p.Reseal(*v); err != nil {
					return fmt.Errorf("reseal webhook %s: %w", r.id, err)
				}
				n++
			}
			if _, err := tx.Exec(ctx, `UPDATE webhooks SET secret = $1, previous_secret = $2, older_secrets = $3 WHERE id = $4`, secret, prev, older, r.id); err != nil {
				return wrap("reseal webhook "+r.id, err)
			}
		}
		if p.Fingerprint == "" {
			_, err := tx.Exec(ctx, `DELETE FROM settings WHERE key = $1`, hookd.SettingKeyFingerprint)
			return wrap("reseal", err)
		}
		return setSetting(ctx, tx, hookd.SettingKeyFingerprint, []byte(p.Fingerprint))
	})
	return n, err
}
