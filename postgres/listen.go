package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// wakeChannel is the NOTIFY channel that every transaction making work due
// signals on commit. Channels are per database, not per schema, so a store
// given a schema of its own (tests) listens on one of its own too.
func wakeChannel(schema string) string {
	if schema == "" {
		return "hookd_due"
	}
	return "hookd_due_" + schema
}

// Wakeups implements hookd.Waker with LISTEN on a connection of its own,
// reconnecting after errors (a database restart) until ctx ends.
func (s *Store) Wakeups(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			if err := s.listen(ctx, out); err != nil && ctx.Err() == nil {
				s.log.Warn("listen for new work; retrying", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	return out
}

func (s *Store) listen(ctx context.Context, out chan<- struct{}) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{s.wake}.Sanitize()); err != nil {
		return err
	}
	// Work queued while we were not listening is picked up by the
	// engine's poll; one wake-up now covers a reconnect.
	select {
	case out <- struct{}{}:
	default:
	}
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			// The connection may be mid-wait; do not return it to the pool.
			conn.Conn().Close(context.Background())
			return err
		}
		select {
		case out <- struct{}{}:
		default:
		}
	}
}
