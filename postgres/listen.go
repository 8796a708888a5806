package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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
// payload. syncPrefix and ackPrefix start a Settle's notice and the
// answers to it: a token follows, and the answering listener's name.
const (
	changePrefix = "changed:"
	syncPrefix   = "sync:"
	ackPrefix    = "ack:"
)

// settleWait bounds a Settle's wait for a listener's answer: one that does
// not answer by then is frozen or gone (its leases end in time).
const settleWait = 2 * time.Second

// listenerPrefix begins the application_name of the store's listening
// connections (with a hash of its channel: the name is cut at 63 bytes),
// so that a Settle finds them in pg_stat_activity; the listener's own
// name follows.
func (s *Store) listenerPrefix() string {
	h := sha256.Sum256([]byte(s.wake))
	return "hookd-listen:" + hex.EncodeToString(h[:6]) + ":"
}

func randomToken() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

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
	// Named, for Settles to find; the name goes when the connection goes
	// back to the pool.
	name := s.listenerPrefix() + randomToken()
	if _, err := conn.Exec(ctx, `SELECT set_config('application_name', $1, false)`, name); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), `RESET application_name`)
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
		switch p := n.Payload; {
		case strings.HasPrefix(p, changePrefix):
			changed(strings.TrimPrefix(p, changePrefix))
		case strings.HasPrefix(p, syncPrefix):
			// Every notice before it was handled (changed returned): say so.
			// Bounded: a pool with no connection free must not hold the
			// notices behind this one past the settle's own wait.
			token := strings.TrimPrefix(p, syncPrefix)
			actx, cancel := context.WithTimeout(ctx, settleWait)
			if _, err := s.pool.Exec(actx, `SELECT pg_notify($1, $2)`, s.wake, ackPrefix+token+":"+name); err != nil {
				s.log.Warn("answer a settle", "err", err)
			}
			cancel()
		case strings.HasPrefix(p, ackPrefix):
		default:
			due()
		}
	}
}

// Settle implements hookd.Waker: it finds the listening connections of
// every process on this channel, notifies them after the changes already
// committed (NOTIFY is delivered in commit order), and waits for each to
// answer, up to settleWait, on a connection of its own listening for the
// answers (a process with no engine listens to nothing else).
func (s *Store) Settle(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrap("settle", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{s.wake}.Sanitize()); err != nil {
		return wrap("settle", err)
	}
	defer func() {
		if _, err := conn.Exec(context.Background(), `UNLISTEN *`); err != nil {
			conn.Conn().Close(context.Background()) // never back to the pool listening
		}
	}()
	rows, err := conn.Query(ctx, `SELECT application_name FROM pg_stat_activity
		WHERE datname = current_database() AND starts_with(application_name, $1)`, s.listenerPrefix())
	if err != nil {
		return wrap("settle", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(names) == 0 {
		return wrap("settle", err)
	}
	waiting := make(map[string]bool, len(names))
	for _, n := range names {
		waiting[n] = true
	}
	token := randomToken()
	if _, err := conn.Exec(ctx, `SELECT pg_notify($1, $2)`, s.wake, syncPrefix+token); err != nil {
		return wrap("settle", err)
	}
	wctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	for len(waiting) > 0 {
		n, err := conn.Conn().WaitForNotification(wctx)
		if err != nil {
			conn.Conn().Close(context.Background()) // mid-wait: not for the pool
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("a change's answer did not wait for every process: some did not answer in time", "processes", len(waiting), "after", settleWait)
			return nil
		}
		if name, ok := strings.CutPrefix(n.Payload, ackPrefix+token+":"); ok {
			delete(waiting, name)
		}
	}
	return nil
}
