package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hookd/hookd/internal/sqlrow"

	"github.com/hookd/hookd"
)

func (s *Store) PublishEvent(ctx context.Context, ev *hookd.Event, webhookIDs []string, h *hookd.Handoff) (*hookd.PublishResult, error) {
	channels, tags, err := sqlrow.EventListArgs(ev)
	if err != nil {
		return nil, fmt.Errorf("publish event: %w", err)
	}
	now := s.clock.Now()
	// IDs are made outside the writer: the writer's time is the scarce one.
	ids := make([]string, len(webhookIDs))
	for i := range ids {
		ids[i] = hookd.NewID(hookd.PrefixDelivery, now)
	}
	due, leased := sqlrow.SplitHandoff(ids, webhookIDs, h)
	var until time.Time
	if h != nil {
		until = now.Add(h.Lease)
	}
	var res *hookd.PublishResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		res = nil
		// Its delivery count as matched: set again below in the rare case
		// that the inserts skip a webhook deleted or disabled meanwhile.
		r, err := s.exec(tx, insertEvent, ev.TenantID, ev.ID, ev.Type, channels, sqlrow.Micros(ev.Timestamp), ev.Payload, sqlrow.NullString(ev.TraceParent), tags,
			len(due)+len(leased))
		if err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			first, err := sqlrow.ScanEvent(tx.QueryRow(`SELECT `+sqlrow.EventCols+` FROM events WHERE tenant_id = ? AND id = ?`, ev.TenantID, ev.ID))
			if err != nil {
				return fmt.Errorf("read first event: %w", err)
			}
			count := first.DeliveriesCreated
			if count < 0 { // an event from before the count was kept
				if err := tx.QueryRow(`SELECT count(*) FROM deliveries WHERE event_seq = ?`, first.Seq).Scan(&count); err != nil {
					return fmt.Errorf("count deliveries: %w", err)
				}
			}
			res = &hookd.PublishResult{Event: first, Deliveries: count, Duplicate: true}
			return nil
		}
		seq, err := r.LastInsertId()
		if err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		res = &hookd.PublishResult{Event: ev}
		// One statement for all of the event's due deliveries, one for its
		// leased ones; the join skips webhooks deleted or disabled since
		// they were matched. A webhook with a delivery due now, waiting for
		// a claim, gets no handed-off one: it would overtake the waiting one
		// (and the next ones too, while the endpoint is busy), so it waits
		// its turn, due at once, unleased.
		dueNow, handed := due, leased
		if len(leased) > 0 {
			waiting, err := s.waitingOf(tx, leased, now)
			if err != nil {
				return err
			}
			if len(waiting) > 0 {
				dueNow, handed = make(map[string]string, len(due)+len(waiting)), maps.Clone(leased)
				maps.Copy(dueNow, due)
				for _, w := range waiting {
					dueNow[w] = handed[w]
					delete(handed, w)
				}
			}
		}
		if len(dueNow) > 0 {
			r, err := s.exec(tx, insertDeliveries, seq, ev.ID, ev.Type, sqlrow.Micros(now), sqlrow.Micros(now), sqlrow.Micros(now), sqlrow.JSONList(dueNow), ev.TenantID)
			if err != nil {
				return fmt.Errorf("insert deliveries: %w", err)
			}
			n, _ := r.RowsAffected()
			res.Deliveries = int(n)
		}
		if len(handed) > 0 {
			r, err := s.exec(tx, insertLeased, seq, ev.ID, ev.Type, sqlrow.Micros(until), sqlrow.Micros(now), sqlrow.JSONList(handed), ev.TenantID)
			if err != nil {
				return fmt.Errorf("insert leased deliveries: %w", err)
			}
			n, _ := r.RowsAffected()
			res.Deliveries += int(n)
			if res.Leased, err = s.leasedOf(tx, ev, seq, until, handed, int(n)); err != nil {
				return err
			}
		}
		if res.Deliveries > 0 {
			if _, err := s.exec(tx, markPublished, seq); err != nil {
				return fmt.Errorf("mark webhooks due: %w", err)
			}
		}
		if res.Deliveries != len(due)+len(leased) {
			if _, err := tx.Exec(`UPDATE events SET delivery_count = ? WHERE seq = ?`, res.Deliveries, seq); err != nil {
				return fmt.Errorf("count deliveries: %w", err)
			}
		}
		ev.Seq, ev.DeliveriesCreated = seq, res.Deliveries
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("publish event: %w", err)
	}
	return res, nil
}

func (s *Store) GetEvent(ctx context.Context, tenantID, id string) (*hookd.Event, error) {
	e, err := sqlrow.ScanEvent(s.queryRow(ctx, `SELECT `+sqlrow.EventCols+` FROM events WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, notFound("get event", err)
	}
	return e, nil
}

func (s *Store) ListEvents(ctx context.Context, q hookd.EventQuery) ([]*hookd.Event, error) {
	where, args := sqlrow.EventsWhere(q, question)
	query := `SELECT ` + sqlrow.EventCols + ` FROM events WHERE ` + where + ` ORDER BY seq DESC LIMIT ?`
	args = append(args, q.Limit)
	rows, err := s.queryRead(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	out := []*hookd.Event{}
	for rows.Next() {
		e, err := sqlrow.ScanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Store) ListEventDeliveries(ctx context.Context, tenantID, eventID string) ([]*hookd.Delivery, error) {
	rows, err := s.queryRead(ctx, `SELECT `+sqlrow.DeliveryCols+` FROM deliveries
		WHERE event_seq = (SELECT seq FROM events WHERE tenant_id = ? AND id = ?) ORDER BY id`, tenantID, eventID)
	if err != nil {
		return nil, fmt.Errorf("list event deliveries: %w", err)
	}
	defer rows.Close()
	out := []*hookd.Delivery{}
	for rows.Next() {
		d, err := sqlrow.ScanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list event deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

const insertEvent = `INSERT INTO events (tenant_id, id, type, channels, created_at, payload, traceparent, tags, delivery_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (tenant_id, id) DO NOTHING`

// insertDeliveries inserts one event's deliveries from a JSON object that
// maps webhook id to delivery id: json_each yields both as plain key and
// value, where an array of pairs would have JSON re-parsed per row.
const insertDeliveries = `INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, created_at, updated_at)
	SELECT j.value, w.tenant_id, ?, w.id, ?, ?, 'PENDING', ?, ?, ?
	FROM json_each(?) j CROSS JOIN webhooks w ON w.id = j.key AND w.tenant_id = ? AND w.enabled = 1`

// insertLeased is insertDeliveries for the deliveries handed off to the
// publishing process: leased to it (token 1) until ?4. Neither insert reads
// deliveries: an INSERT that selects from its own table has SQLite gather
// the rows in an ephemeral table first, a B-tree with its own pager and
// page cache, opened and freed each time (so does a RETURNING clause).
const insertLeased = `INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, lease_token, leased, created_at, updated_at)
	SELECT j.value, w.tenant_id, ?1, w.id, ?2, ?3, 'PENDING', ?4, 1, 1, ?5, ?5
	FROM json_each(?6) j CROSS JOIN webhooks w ON w.id = j.key AND w.tenant_id = ?7 AND w.enabled = 1`

// waitingFor lists the webhooks of a JSON object (webhook id to delivery
// id) that have a delivery due now, through deliveries_queue.
const waitingFor = `SELECT j.key FROM json_each(?1) j WHERE EXISTS (SELECT 1 FROM deliveries d
	WHERE d.webhook_id = j.key AND d.status IN ('PENDING', 'RETRYING') AND d.next_attempt_at <= ?2)`

// leasedBack reads a new event's leased deliveries back, when the insert
// skipped some of those it was given.
const leasedBack = `SELECT id, webhook_id FROM deliveries WHERE event_seq = ? AND leased = 1`

func (s *Store) waitingOf(tx *sql.Tx, leased map[string]string, now time.Time) ([]string, error) {
	rows, err := s.query(tx, waitingFor, sqlrow.JSONList(leased), sqlrow.Micros(now))
	if err != nil {
		return nil, fmt.Errorf("read waiting webhooks: %w", err)
	}
	var waiting []string
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read waiting webhooks: %w", err)
		}
		waiting = append(waiting, w)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read waiting webhooks: %w", err)
	}
	return waiting, nil
}

// leasedOf returns the claims of the n deliveries insertLeased stored of
// handed (webhook id to delivery id): all of them, as a rule, and then
// nothing needs reading; otherwise those it finds.
func (s *Store) leasedOf(tx *sql.Tx, ev *hookd.Event, seq int64, until time.Time, handed map[string]string, n int) ([]*hookd.Claim, error) {
	var out []*hookd.Claim
	if n == len(handed) {
		for _, w := range slices.Sorted(maps.Keys(handed)) {
			c := sqlrow.HandedOff(ev, until)
			c.DeliveryID, c.WebhookID = handed[w], w
			out = append(out, c)
		}
		return out, nil
	}
	rows, err := s.query(tx, leasedBack, seq)
	if err != nil {
		return nil, fmt.Errorf("read leased deliveries: %w", err)
	}
	for rows.Next() {
		c := sqlrow.HandedOff(ev, until)
		if err := rows.Scan(&c.DeliveryID, &c.WebhookID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read leased deliveries: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read leased deliveries: %w", err)
	}
	return out, nil
}
