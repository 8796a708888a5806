package postgres

import (
	"context"
	"testing"
	"time"
)

// A transaction left idle (its process frozen between two statements) is
// ended by the server, and the row locks it held are free again: without
// that, every other process's record on that webhook timed out until the
// frozen one woke (an audit stopped a worker with SIGSTOP: 259 deliveries
// were sent twice by the live ones).
func TestIdleTransactionLetsGo(t *testing.T) {
	s, _ := openInternalWith(t, "idle", Config{IdleInTransactionTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', 0)`); err != nil {
		t.Fatal(err)
	}

	frozen, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer frozen.Rollback(ctx)
	if _, err := frozen.Exec(ctx, `SELECT 1 FROM tenants WHERE id = 't' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	// The live one waits on the lock: far longer than the idle timeout,
	// far shorter than the test's deadline.
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := s.pool.Exec(lctx, `UPDATE tenants SET name = 'live' WHERE id = 't'`); err != nil {
		t.Fatalf("the live update waited out its deadline behind the idle transaction: %v", err)
	}
	if _, err := frozen.Exec(ctx, `UPDATE tenants SET name = 'frozen' WHERE id = 't'`); err == nil {
		t.Fatal("the idle transaction went on after the server ended it")
	}
	var name string
	if err := s.pool.QueryRow(ctx, `SELECT name FROM tenants WHERE id = 't'`).Scan(&name); err != nil || name != "live" {
		t.Fatalf("name %q, %v; want live", name, err)
	}
}
