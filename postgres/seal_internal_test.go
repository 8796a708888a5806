package postgres

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// A process still on the old key that saves a webhook while hookd rekey
// runs waits for the rekey, then is refused: neither an edit (which waited
// on its row) nor a create (which row locks would not have held) stores a
// secret sealed with the old key, which no process could open after.
func TestSealingWaitsForReseal(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	box1, _ := hookd.NewSecretBox(k1)
	box2, _ := hookd.NewSecretBox(k2)
	s, _ := openInternalWith(t, "sealwait", Config{Box: box1})
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(hookd.CheckEncryptionKey(ctx, s, k1))
	now := hookd.Truncate(time.Now())
	must(s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: now}))
	webhook := func(id string) *hookd.Webhook {
		return &hookd.Webhook{ID: id, TenantID: "t", Name: "w", URL: "https://example.com", Events: []string{"*"},
			Timeout: time.Second, Enabled: true, MaxAttempts: 1, CreatedAt: now, UpdatedAt: now, Secret: hookd.GenerateSecret(hookd.SchemeStandard)}
	}
	wh := webhook("wh_1")
	must(s.CreateWebhook(ctx, wh))

	inReseal, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let) // a failed test lets the rekey end before its schema is dropped
	resealed := make(chan error, 1)
	go func() {
		first := true
		_, err := s.Reseal(ctx, hookd.ResealParams{Fingerprint: hookd.KeyFingerprint(k2), Reseal: func(stored string) (string, error) {
			if first {
				first = false
				close(inReseal)
				<-release
			}
			v, err := box1.Open(stored)
			return box2.Seal(v), err
		}})
		resealed <- err
	}()
	<-inReseal // the table held, the fingerprint not yet changed
	read := wh.UpdatedAt
	wh.Name = "renamed"
	wh.Touch(now)
	updated, created := make(chan error, 1), make(chan error, 1)
	go func() { _, err := s.UpdateWebhook(ctx, wh, read); updated <- err }()
	go func() { created <- s.CreateWebhook(ctx, webhook("wh_2")) }()
	// Both wait on the rekey's lock.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		must(s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND (query LIKE 'UPDATE webhooks SET%' OR query LIKE '%INSERT INTO webhooks%')`).Scan(&n))
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes wait on the rekey", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	let()
	must(<-resealed)
	for what, ch := range map[string]chan error{"edit": updated, "create": created} {
		if err := <-ch; !errors.Is(err, hookd.ErrUnavailable) {
			t.Errorf("an old-key %s after the rekey: %v", what, err)
		}
	}
	var n int
	must(s.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks`).Scan(&n))
	var secret, name string
	must(s.pool.QueryRow(ctx, `SELECT secret, name FROM webhooks WHERE id = 'wh_1'`).Scan(&secret, &name))
	if _, err := box2.Open(secret); err != nil || name != "w" || n != 1 {
		t.Fatalf("after the rekey: %d webhooks, wh_1 named %q, its secret under the new key: %v", n, name, err)
	}
}
