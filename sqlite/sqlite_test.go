package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
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

	// Without the key the webhook is read without its secret, and says why.
	s, err = sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if w, err := s.GetWebhook(ctx, "t", "wh_1"); err != nil || w.SecretUnreadable != hookd.ErrNoEncryptionKey.Error() || w.Secret != "" {
		t.Fatalf("read without key: %+v, %v", w, err)
	}
}

// A webhook sealed with another key (or none) is read, marked, and kept
// as stored until rotated (storetest.UnreadableSecret).
func TestUnreadableSecret(t *testing.T) {
	for _, readKey := range [][]byte{nil, []byte("another key, 32 bytes long......")} {
		path := filepath.Join(t.TempDir(), "hookd.db")
		sealBox, _ := hookd.NewSecretBox([]byte("0123456789abcdef0123456789abcdef"))
		var readBox *hookd.SecretBox
		if readKey != nil {
			readBox, _ = hookd.NewSecretBox(readKey)
		}
		sealer, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, Box: sealBox})
		if err != nil {
			t.Fatal(err)
		}
		reader, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, Box: readBox})
		if err != nil {
			t.Fatal(err)
		}
		storetest.UnreadableSecret(t, sealer, reader)
		reader.Close()
		sealer.Close()
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

// A new database is made with incremental auto-vacuum, so that the space
// the pruner frees goes back to the file system: after a prune and the
// reclaim steps, the file has no free page and fewer pages than before.
func TestPruneReclaimsSpace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookd.db")
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	raw, _ := sql.Open("sqlite", path)
	defer raw.Close()
	pragma := func(name string) int {
		var n int
		if err := raw.QueryRow(`PRAGMA ` + name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if mode := pragma("auto_vacuum"); mode != 2 {
		t.Fatalf("auto_vacuum = %d, want 2 (incremental)", mode)
	}
	if err := s.CreateTenant(ctx, &hookd.Tenant{ID: "acme", Name: "Acme", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"pad":"` + strings.Repeat("x", 4000) + `"}`)
	for i := range 500 {
		ev := &hookd.Event{ID: "e" + strconv.Itoa(i), TenantID: "acme", Type: "a.b", Timestamp: time.Now().Add(-time.Hour)}
		if err := ev.BuildPayload(data, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PublishEvent(ctx, ev, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	full := pragma("page_count")
	res, err := s.PruneEvents(ctx, hookd.PruneParams{Before: time.Now(), Limit: 1000})
	if err != nil || res.Events != 500 {
		t.Fatalf("prune: %+v, %v", res, err)
	}
	if pragma("freelist_count") < 500 {
		t.Fatalf("the prune freed %d pages, want the events' 500 or more", pragma("freelist_count"))
	}
	steps := 0
	for {
		n, err := s.ReclaimSpace(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if n > 100 {
			t.Fatalf("a step of 100 pages gave back %d", n)
		}
		steps++
	}
	if free, pages := pragma("freelist_count"), pragma("page_count"); free != 0 || pages > full-500 || steps < 5 {
		t.Fatalf("after %d reclaim steps: %d free pages, %d pages (were %d)", steps, free, pages, full)
	}
}
