package sqlrow

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/hookd/hookd"
)

// TaskCols are a task's columns in the order ScanTask reads them.
const TaskCols = `id, tenant_id, kind, status, params, prepared, cursor_seq, end_seq, total, done, error, lease_token, created_at, finished_at`

// ScanTask reads a task row (TaskCols).
func ScanTask(r Scanner) (*hookd.Task, error) {
	t := &hookd.Task{}
	var params string
	var created int64
	var finished sql.NullInt64
	if err := r.Scan(&t.ID, &t.TenantID, &t.Kind, &t.Status, &params, &t.Prepared, &t.Cursor, &t.End, &t.Total, &t.Done,
		&t.Error, &t.Token, &created, &finished); err != nil {
		return nil, err
	}
	t.Params = []byte(params)
	t.CreatedAt, t.FinishedAt = FromMicros(created), FromMicros(finished.Int64)
	return t, nil
}

// InsertTaskSQL stores a new task (TaskInsertArgs).
func InsertTaskSQL(ph func(int) string) string {
	return fmt.Sprintf(`INSERT INTO tasks (id, tenant_id, kind, status, params, created_at, total, done, finished_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)`,
		ph(1), ph(2), ph(3), ph(4), ph(5), ph(6), ph(7), ph(8), ph(9))
}

// TaskInsertArgs are InsertTaskSQL's arguments.
func TaskInsertArgs(t *hookd.Task) []any {
	var finished *int64
	if !t.FinishedAt.IsZero() {
		v := Micros(t.FinishedAt)
		finished = &v
	}
	return []any{t.ID, t.TenantID, t.Kind, string(t.Status), string(t.Params), Micros(t.CreatedAt), t.Total, t.Done, finished}
}

// ReplaySpanSQL counts a tenant's events created in a window, with the
// first and last seq: $1 tenant, $2 since, $3 until (0: no bound).
//
// No index holds created_at, so the scan starts after the newest event
// created ReplaySpanMargin before since (found walking back from the
// newest): without that it read every event the tenant ever had. Creation
// times rise with seq but for publishes in flight together (a timestamp is
// taken before the write that assigns seq), which the margin covers many
// times over.
func ReplaySpanSQL(ph func(int) string) string {
	return fmt.Sprintf(`SELECT coalesce(min(seq), 0), coalesce(max(seq), 0), count(*) FROM events
		WHERE tenant_id = %[1]s AND created_at >= %[2]s AND (CAST(%[3]s AS BIGINT) = 0 OR created_at <= %[3]s) AND NOT test
		AND seq > coalesce((SELECT seq FROM events WHERE tenant_id = %[1]s AND created_at < CAST(%[2]s AS BIGINT) - %[4]d ORDER BY seq DESC LIMIT 1), 0)`,
		ph(1), ph(2), ph(3), ReplaySpanMargin.Microseconds())
}

// ReplaySpanMargin is how much earlier than a replay's window its span's
// search starts (ReplaySpanSQL).
const ReplaySpanMargin = 5 * time.Minute

// ReplayEventsSQL reads one chunk of a replay's events in seq order:
// $1 tenant, $2 after, $3 through, $4 since, $5 until (0: no bound), $6 limit.
func ReplayEventsSQL(ph func(int) string) string {
	return fmt.Sprintf(`SELECT `+EventCols+` FROM events
		WHERE tenant_id = %s AND seq > %s AND seq <= %s AND created_at >= %s AND (CAST(%s AS BIGINT) = 0 OR created_at <= %s) AND NOT test
		ORDER BY seq LIMIT %s`, ph(1), ph(2), ph(3), ph(4), ph(5), ph(5), ph(6))
}

// ReplayEventsArgs are ReplayEventsSQL's arguments.
func ReplayEventsArgs(p hookd.ReplayEventsParams) []any {
	return []any{p.TenantID, p.After, p.Through, Micros(p.Window.Since), Micros(p.Window.Until), p.Limit}
}

// AdvanceTaskSQL writes a chunk's progress, fenced by the lease token:
// $1 id, $2 token, $3 cursor, $4 done added, $5 lease until, $6 status,
// $7 error, $8 finished at (0: running), and when prepare, $9 total and
// $10 end. It changes no row when the lease was taken over.
func AdvanceTaskSQL(ph func(int) string, prepare bool) string {
	set := ""
	if prepare {
		set = fmt.Sprintf(`prepared = %s, total = %s, end_seq = %s, `, ph(11), ph(9), ph(10))
	}
	return fmt.Sprintf(`UPDATE tasks SET `+set+`cursor_seq = %s, done = done + %s, lease_until = %s, status = %s, error = %s,
		finished_at = CASE WHEN CAST(%s AS BIGINT) = 0 THEN NULL ELSE CAST(%s AS BIGINT) END
		WHERE id = %s AND lease_token = %s AND status = 'running'`,
		ph(3), ph(4), ph(5), ph(6), ph(7), ph(8), ph(8), ph(1), ph(2))
}

// AdvanceTaskArgs are AdvanceTaskSQL's arguments, leased until until and
// finished (when the task ends) at now.
func AdvanceTaskArgs(p hookd.AdvanceTaskParams, now, until int64) []any {
	status, finished := p.Status, int64(0)
	if status == "" {
		status = hookd.TaskRunning
	}
	if status != hookd.TaskRunning {
		finished = now
	}
	args := []any{p.TaskID, p.Token, p.Cursor, p.Done, until, string(status), hookd.CleanText(p.Error, 1024), finished}
	if p.Prepare {
		args = append(args, p.Total, p.End, true)
	}
	return args
}

// ReplayDeliveriesSQL inserts a chunk's deliveries to one webhook from
// (seq, id) pairs: $1 the pairs as a JSON object (seq → id), read by
// pairs, the engine's JSON table function over $1 (columns key and
// value), $2 webhook, $3 tenant, $4 now; only while the webhook is
// enabled, and with missing, only for events with no delivery to it. The
// joins are CROSS JOINs so that SQLite reads the pairs first and looks
// each event up by its key, not the other way round.
func ReplayDeliveriesSQL(ph func(int) string, pairs string, missing bool) string {
	q := fmt.Sprintf(`INSERT INTO deliveries (id, tenant_id, event_seq, webhook_id, event_id, event_type, status, next_attempt_at, created_at, updated_at)
	SELECT p.value, e.tenant_id, e.seq, w.id, e.id, e.type, 'PENDING', CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT)
	FROM `+pairs+` p CROSS JOIN events e CROSS JOIN webhooks w
	WHERE e.seq = CAST(p.key AS BIGINT) AND e.tenant_id = %s AND w.id = %s AND w.tenant_id = e.tenant_id AND w.enabled`,
		ph(4), ph(4), ph(4), ph(3), ph(2))
	if missing {
		q += ` AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.webhook_id = w.id)`
	}
	return q
}

// ReplayPairs encodes a chunk's deliveries as the JSON object
// ReplayDeliveriesSQL reads: seq → delivery id.
func ReplayPairs(d *hookd.NewDeliveries) string {
	m := make(map[string]string, len(d.EventSeqs))
	for i, seq := range d.EventSeqs {
		m[fmt.Sprint(seq)] = d.IDs[i]
	}
	return JSONList(m)
}
