package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
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

// While publishes come often, a queue transaction alone waits for the next
// one and shares its commit (and so its fsync) instead of paying for its
// own.
func TestQueueTxLingersForAPublish(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "hookd.db"), Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lingering := make(chan struct{}, 1)
	s.lingering = func() { lingering <- struct{}{} }
	for range 2 { // two writes in quick succession: durable writes are frequent
		if err := s.write(ctx, func(*sql.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	var inQueue, inWrite *sql.Tx
	var sync int
	done := make(chan error, 1)
	go func() {
		done <- s.QueueTx(ctx, func(q hookd.QueueTx) error {
			inQueue = q.(*queueTx).tx
			return inQueue.QueryRow(`PRAGMA synchronous`).Scan(&sync)
		})
	}()
	select {
	case <-lingering: // an hour's linger: only the write below ends it
	case err := <-done:
		t.Fatalf("the queue transaction did not wait for a publish (err %v)", err)
	}
	if err := s.write(ctx, func(tx *sql.Tx) error { inWrite = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if inQueue != inWrite || sync != 2 {
		t.Fatalf("the queue transaction ran alone (%v) or relaxed (synchronous %d): it did not share the write's commit", inQueue != inWrite, sync)
	}
}

func TestPace(t *testing.T) {
	const linger = 5 * time.Millisecond
	now := time.Now()
	for _, tc := range []struct {
		name  string
		gaps  []time.Duration // between durable batches, the last one just now
		since time.Duration   // since the last
		want  bool
	}{
		{"none yet", nil, 0, false},
		{"one alone", []time.Duration{}, 0, false},
		{"every 2ms", []time.Duration{2 * time.Millisecond, 2 * time.Millisecond}, time.Millisecond, true},
		{"every 20ms", []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}, time.Millisecond, false},
		{"every 2ms, but not for a while", []time.Duration{2 * time.Millisecond, 2 * time.Millisecond}, time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p pace
			if tc.gaps != nil {
				at := now.Add(-tc.since)
				for _, g := range tc.gaps {
					at = at.Add(-g)
				}
				p.durable(at)
				for _, g := range tc.gaps {
					at = at.Add(g)
					p.durable(at)
				}
			}
			if got := p.frequent(linger); got != tc.want {
				t.Fatalf("frequent = %v (gap %s), want %v", got, p.gap, tc.want)
			}
		})
	}
}

// A database a newer hookd migrated (a version this binary lacks) is used,
// as a rolling upgrade's old processes use it, with a warning that says so.
func TestSchemaAheadWarned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookd.db")
	s, err := Open(context.Background(), Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var log strings.Builder
	if err := Migrate(context.Background(), path, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "schema is newer than this hookd's") || !strings.Contains(log.String(), "schemaVersion=9999") {
		t.Fatalf("log: %s", log.String())
	}
}
