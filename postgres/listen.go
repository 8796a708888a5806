package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// wakeChannel is the NOTIFY channel that every transaction making work due,
// or changing a webhook, signals on commit. Channels are per database, not
// per schema, so a store given a schema of its own (tests) listens on one
// of its own too.
func wakeChannel(schema string) string {
	if schema == "" {
		return "hookd_due"
	}
	return "hookd_due_" + schema
}

// changePrefix starts the payload of a change's notice: the webhook's id
// follows ("" would stand for every webhook). A notice of due work has no
// payload.
const changePrefix = "changed:"

// announce queues in tx a notice, sent if tx commits, that the webhooks
// ids changed: another process's engine checks what it holds for them
// before sending, instead of after its RecheckAfter (Engine.Changed).
func (s *Store) announce(ctx context.Context, q execer, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `SELECT pg_notify($1, $2 || id) FROM unnest($3::text[]) AS id`, s.wake, changePrefix, ids)
	return wrap("announce a change", err)
}

// Listen implements hookd.Waker with LISTEN on a connection of its own,
// reconnecting after errors (a database restart) until ctx ends. A
// process's own notices come back to it too: its engine was told of the
// change already (Engine.Changed), and is told again, which costs one more
// read of the webhook.
func (s *Store) Listen(ctx context.Context, due func(), changed func(webhookID string)) {
	for ctx.Err() == nil {
		if err := s.listen(ctx, due, changed); err != nil && ctx.Err() == nil {
			s.log.Warn("listen for new work and changes; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (s *Store) listen(ctx context.Context, due func(), changed func(string)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{s.wake}.Sanitize()); err != nil {
		return err
	}
	// What was queued or changed while we were not listening: the
	// engine's poll picks up the work, and a change to every webhook
	// covers whatever changed.
	due()
	changed("")
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			// The connection may be mid-wait; do not return it to the pool.
			conn.Conn().Close(context.Background())
			return err
		}
		if id, ok := strings.CutPrefix(n.Payload, changePrefix); ok {
			changed(id)
		} else {
			due()
		}
	}
}
