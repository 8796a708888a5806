package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hookd/hookd"
)

// A reader connection opened while the writer holds its transaction open
// reads at once: opening one must not take the write lock (a connection's
// setup once ran PRAGMA auto_vacuum, which writes the header, so under
// full write load a new reader waited for a gap in the writer's
// transactions, up to its 10 s busy timeout, and failed).
func TestNewReaderDoesNotWaitForTheWriter(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "hookd.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Every read from here opens a new connection.
	s.rdb.SetMaxIdleConns(0)
	holding, release := make(chan struct{}), make(chan struct{})
	writeDone := make(chan error, 1)
	go func() {
		writeDone <- s.QueueTx(ctx, func(q hookd.QueueTx) error {
			if _, err := q.(*queueTx).tx.Exec(`UPDATE due_webhooks SET due_at = due_at`); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	// The writer holds the write lock until release: the read must not
	// need it.
	_, _, err = s.ListTenants(ctx, hookd.TenantQuery{Page: hookd.Page{Limit: 1}})
	close(release)
	if err != nil {
		t.Fatalf("a read on a new connection while the writer held its transaction: %v", err)
	}
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
}
