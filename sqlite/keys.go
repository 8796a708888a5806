package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookd/hookd"
)

func (s *Store) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	if err := s.queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, name).Scan(&v); err != nil {
		return nil, notFound("setting "+name, err)
	}
	return v, nil
}

func (s *Store) SetSetting(ctx context.Context, name string, value []byte) error {
	return s.write(ctx, func(tx *sql.Tx) error { return setSetting(tx, name, value) })
}

// sealable refuses to store secrets sealed with this process's key when
// hookd rekey has moved the stored ones to another since it started
// (SecretBox.CheckSealing).
func (s *Store) sealable(tx *sql.Tx) error {
	var fp []byte
	err := tx.QueryRow(`SELECT value FROM settings WHERE key = ?`, hookd.SettingKeyFingerprint).Scan(&fp)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the encryption key's fingerprint: %w", err)
	}
	return s.box.CheckSealing(string(fp))
}

func setSetting(tx *sql.Tx, name string, value []byte) error {
	_, err := tx.Exec(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, name, value)
	if err != nil {
		return fmt.Errorf("set %s: %w", name, err)
	}
	return nil
}

func (s *Store) InitSetting(ctx context.Context, name string, value []byte) ([]byte, error) {
	var got []byte
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE length(settings.value) = 0`, name, value); err != nil {
			return fmt.Errorf("init %s: %w", name, err)
		}
		return tx.QueryRow(`SELECT value FROM settings WHERE key = ?`, name).Scan(&got)
	})
	return got, err
}

func (s *Store) EncryptedSecret(ctx context.Context) (string, error) {
	var v string
	err := s.queryRow(ctx, `SELECT secret FROM webhooks WHERE secret LIKE 'aes:%'
		UNION ALL SELECT previous_secret FROM webhooks WHERE previous_secret LIKE 'aes:%'
		UNION ALL SELECT older_secrets FROM webhooks WHERE older_secrets LIKE 'aes:%' LIMIT 1`).Scan(&v)
	if err != nil {
		return "", notFound("encrypted secret", err)
	}
	return v, nil
}

func (s *Store) Reseal(ctx context.Context, p hookd.ResealParams) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		n = 0
		type row struct{ id, secret, prev, older string }
		rows, err := tx.Query(`SELECT id, secret, previous_secret, older_secrets FROM webhooks`)
		if err != nil {
			return fmt.Errorf("reseal: %w", err)
		}
		var all []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.secret, &r.prev, &r.older); err != nil {
				rows.Close()
				return fmt.Errorf("reseal: %w", err)
			}
			all = append(all, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reseal: %w", err)
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
			if _, err := tx.Exec(`UPDATE webhooks SET secret = ?, previous_secret = ?, older_secrets = ? WHERE id = ?`, secret, prev, older, r.id); err != nil {
				return fmt.Errorf("reseal webhook %s: %w", r.id, err)
			}
		}
		if p.Fingerprint == "" {
			_, err := tx.Exec(`DELETE FROM settings WHERE key = ?`, hookd.SettingKeyFingerprint)
			return err
		}
		return setSetting(tx, hookd.SettingKeyFingerprint, []byte(p.Fingerprint))
	})
	return n, err
}
