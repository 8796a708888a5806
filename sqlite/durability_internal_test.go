package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// A batch of queue transactions commits relaxed (synchronous NORMAL); any
// other write commits on disk (FULL); the writer switches back and forth.
func TestQueueCommitsRelaxed(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "hookd.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func(fn func(*sql.Tx) error) error { return s.write(ctx, fn) }
	queue := func(fn func(*sql.Tx) error) error {
		return s.QueueTx(ctx, func(q hookd.QueueTx) error { return fn(q.(*queueTx).tx) })
	}
	const normal, full = 1, 2
	for i, step := range []struct {
		run  func(func(*sql.Tx) error) error
		want int
	}{{write, full}, {queue, normal}, {queue, normal}, {write, full}, {queue, normal}, {write, full}} {
		var got int
		if err := step.run(func(tx *sql.Tx) error { return tx.QueryRow(`PRAGMA synchronous`).Scan(&got) }); err != nil {
			t.Fatal(err)
		}
		if got != step.want {
			t.Fatalf("step %d: synchronous = %d, want %d", i, got, step.want)
		}
	}
}

// A queue transaction that writes an audit entry (or hookd's own events)
// runs again as a full write: what it stores must survive a power cut.
func TestQueueDurableWritesCommitFull(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "hookd.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateTenant(ctx, &hookd.Tenant{ID: "t", Name: "t", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	runs, sync := 0, 0
	err = s.QueueTx(ctx, func(q hookd.QueueTx) error {
		runs++
		if err := q.(*queueTx).tx.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil {
			return err
		}
		return q.WriteAudit(ctx, []*hookd.AuditEntry{{ID: "aud_1", TenantID: "t", At: time.Now(), Action: "webhook.disabled",
			Actor: hookd.Actor{Type: "system"}, Target: hookd.AuditTarget{Type: "webhook", ID: "wh_1"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := s.ListAudit(ctx, hookd.AuditQuery{TenantID: "t", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 || sync != 2 || len(entries) != 1 {
		t.Fatalf("runs %d, synchronous %d at the last, %d entries written", runs, sync, len(entries))
	}
}
