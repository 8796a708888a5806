package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/sqlrow"

	"github.com/hookd/hookd"
)

func (s *Store) PublishEvent(ctx context.Context, ev *hookd.Event, webhookIDs []string, h *hookd.Handoff) (*hookd.PublishResult, error) {
	var channels any
	if ev.Channels != nil {
		b, err := json.Marshal(ev.Channels)
		if err != nil {
			return nil, fmt.Errorf("publish event: %w", err)
		}
		channels = string(b)
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		res = nil
		r, err := s.exec(tx, insertEvent, ev.TenantID, ev.ID, ev.Type, channels, sqlrow.Micros(ev.Timestamp), ev.Payload, sqlrow.NullString(ev.TraceParent))
		if err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			first, err := sqlrow.ScanEvent(tx.QueryRow(`SELECT `+sqlrow.EventCols+` FROM events WHERE tenant_id = ? AND id = ?`, ev.TenantID, ev.ID))
			if err != nil {
				return fmt.Errorf("read first event: %w", err)
			}
			var count int
			if err := tx.QueryRow(`SELECT count(*) FROM deliveries WHERE event_seq = ?`, first.Seq).Scan(&count); err != nil {
				return fmt.Errorf("count deliveries: %w", err)
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
		// they were matched.
		if len(due) > 0 {
			r, err := s.exec(tx, insertDeliveries, seq, ev.ID, ev.Type, sqlrow.Micros(now), sqlrow.Micros(now), sqlrow.Micros(now), sqlrow.JSONList(due), ev.TenantID)
			if err != nil {
				return fmt.Errorf("insert deliveries: %w", err)
			}
			n, _ := r.RowsAffected()
			res.Deliveries = int(n)
		}
		if len(leased) > 0 {
			rows, err := s.query(tx, insertLeased, seq, ev.ID, ev.Type, sqlrow.Micros(until), sqlrow.Micros(now), sqlrow.JSONList(leased), ev.TenantID)
			if err != nil {
				return fmt.Errorf("insert leased deliveries: %w", err)
			}
			for rows.Next() {
				c := sqlrow.HandedOff(ev, until)
				var isLeased bool
				if err := rows.Scan(&c.DeliveryID, &c.WebhookID, &isLeased); err != nil {
					rows.Close()
					return fmt.Errorf("insert leased deliveries: %w", err)
				}
				res.Deliveries++
				if isLeased {
					res.Leased = append(res.Leased, c)
				}
			}
			if err := rows.Close(); err != nil {
				return fmt.Errorf("insert leased deliveries: %w", err)
			}
		}
		if res.Deliveries > 0 {
			if _, err := s.exec(tx, markPublished, seq); err != nil {
				return fmt.Errorf("mark webhooks due: %w", err)
			}
		}
		ev.Seq = seq
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
	where, args := sqlrow.EventsWhere(q, func(int) string { return "?" })
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

const insertEvent = `INSERT INTO events (tenant_id, id, type, channels, created_at, payload, traceparent) VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (tenant_id, id) DO NOTHING`

// insertDeliveries inserts one event's deliveries from a JSON object that
// maps webhook id to delivery id: json_each yields both as plain key and
// value, where an array of pairs would have JSON re-parsed per row.
const insertDeliveries = `INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, created_at, updated_at)
	SELECT j.value, w.tenant_id, ?, w.id, ?, ?, 'PENDING', ?, ?, ?
	FROM json_each(?) j CROSS JOIN webhooks w ON w.id = j.key AND w.tenant_id = ? AND w.enabled = 1`

// insertLeased is insertDeliveries for the deliveries handed off to the
// publishing process: leased to it (token 1) until ?4, but for a webhook
// with a delivery due now, waiting for a claim: a handed-off one would
// overtake it (and the next ones too, while the endpoint is busy), so this
// one waits its turn, due at once, unleased.
const insertLeased = `INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, lease_token, leased, created_at, updated_at)
	SELECT id, tid, ?1, wid, ?2, ?3, 'PENDING', CASE WHEN waits THEN ?5 ELSE ?4 END, 1 - waits, 1 - waits, ?5, ?5 FROM (
		SELECT j.value AS id, w.tenant_id AS tid, w.id AS wid, EXISTS (SELECT 1 FROM deliveries d
			WHERE d.webhook_id = w.id AND d.status IN ('PENDING', 'RETRYING') AND d.next_attempt_at <= ?5) AS waits
		FROM json_each(?6) j CROSS JOIN webhooks w ON w.id = j.key AND w.tenant_id = ?7 AND w.enabled = 1)
	WHERE true
	RETURNING id, webhook_id, leased`
