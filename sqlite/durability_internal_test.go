package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

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
