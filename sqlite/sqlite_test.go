package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
	"github.com/hookd/hookd/storetest"
)

func open(t testing.TB, box *hookd.SecretBox) *sqlite.Store { return openClock(t, box, nil) }

func openClock(t testing.TB, box *hookd.SecretBox, clock hookd.Clock) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "hookd.db"), Box: box, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock hookd.Clock) hookd.Store { return openClock(t, nil, clock) })
}

func TestConformanceEncrypted(t *testing.T) {
	box, err := hookd.NewSecretBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T, clock hookd.Clock) hookd.Store { return openClock(t, box, clock) })
}

func TestSecretsEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookd.db")
	box, _ := hookd.NewSecretBox([]byte("0123456789abcdef0123456789abcdef"))
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, Box: box})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}))
	secret := hookd.GenerateSecret(hookd.SchemeStandard)
	must(s.CreateWebhook(ctx, &hookd.Webhook{ID: "wh_1", TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
		Timeout: time.Second, Enabled: true, MaxAttempts: 1, Secret: secret, CreatedAt: now, UpdatedAt: now}))
	must(s.Close())

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var stored string
	must(raw.QueryRow(`SELECT secret FROM webhooks WHERE id = 'wh_1'`).Scan(&stored))
	if !strings.HasPrefix(stored, "aes:") || strings.Contains(stored, secret[6:]) {
		t.Fatalf("stored secret = %q, want AES-GCM ciphertext", stored)
	}

	// Without the key the webhook cannot be read, and says why.
	s, err = sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetWebhook(ctx, "t", "wh_1"); !errors.Is(err, hookd.ErrNoEncryptionKey) {
		t.Fatalf("read without key: %v", err)
	}
}

func TestDurabilitySettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookd.db")
	s := open(t, nil)
	s.Close()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw, _ := sql.Open("sqlite", path)
	defer raw.Close()
	var mode string
	if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
}
