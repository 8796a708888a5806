package sqlrow

import (
	"strconv"
	"strings"

	"github.com/hookd/hookd"
)

// hourUs is an hour in the stores' microseconds: roll-ups are keyed by the
// start of the hour.
const hourUs = 3600_000_000

// EventAge is an event the pruner looked at.
type EventAge struct {
	Seq       int64
	CreatedAt int64
}

// ScanEventAge reads a row of PruneScanSQL.
func ScanEventAge(r Scanner) (EventAge, error) {
	var e EventAge
	return e, r.Scan(&e.Seq, &e.CreatedAt)
}

// PruneScanSQL lists the events after a seq (ph(1)), oldest first, up to
// ph(2) of them.
func PruneScanSQL(ph func(int) string) string {
	return `SELECT seq, created_at FROM events WHERE seq > ` + ph(1) + ` ORDER BY seq LIMIT ` + ph(2)
}

// OldEnough takes the events scanned (oldest first) up to the first that
// is not older than before, and says where the next batch starts and
// whether none older is left.
func OldEnough(scanned []EventAge, p hookd.PruneParams) (old []int64, res *hookd.PruneResult) {
	res = &hookd.PruneResult{Next: p.After, Done: len(scanned) < p.Limit}
	before := Micros(p.Before)
	for _, e := range scanned {
		if e.CreatedAt >= before {
			res.Done = true
			break
		}
		old = append(old, e.Seq)
		res.Next = e.Seq
	}
	return old, res
}

// SeqList renders seqs for an IN (…) list: they are integers the store
// gave, so they are written into the statement, the same for both engines.
func SeqList(seqs []int64) string {
	var b strings.Builder
	for i, s := range seqs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(s, 10))
	}
	return b.String()
}

// PruneWaitingSQL lists which of the events in seqs have a delivery still
// waiting, or one whose attempt is still in flight (its lease, live at
// now, an SQL expression: a canceled delivery keeps the lease of the
// attempt it was sending, whose outcome is still to be recorded); suffix
// locks the rows on engines that need it.
func PruneWaitingSQL(seqs, now, suffix string) string {
	return `SELECT event_seq, coalesce(status IN ` + WaitingStatuses + ` OR (leased AND next_attempt_at > ` + now + `), false) FROM deliveries WHERE event_seq IN (` + seqs + `)` + suffix
}

// hourOf is the start of the hour of a column of microseconds.
func hourOf(col string) string { return col + " - " + col + " % " + strconv.Itoa(hourUs) }

// PruneSQL are the statements that roll up and delete the events in seqs,
// in order; the last three delete attempts, deliveries and events.
func PruneSQL(seqs string) []string {
	return []string{
		`INSERT INTO stats_hourly (tenant_id, webhook_id, hour, attempts, successes, answered, answered_us)
		SELECT a.tenant_id, a.webhook_id, ` + hourOf("a.started_at") + `, count(*),
			sum(CASE WHEN a.success THEN 1 ELSE 0 END), sum(CASE WHEN a.status_code > 0 THEN 1 ELSE 0 END),
			sum(CASE WHEN a.status_code > 0 THEN a.duration_us ELSE 0 END)
		FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_seq IN (` + seqs + `)
		GROUP BY 1, 2, 3
		ON CONFLICT (tenant_id, webhook_id, hour) DO UPDATE SET attempts = stats_hourly.attempts + excluded.attempts,
			successes = stats_hourly.successes + excluded.successes, answered = stats_hourly.answered + excluded.answered,
			answered_us = stats_hourly.answered_us + excluded.answered_us`,
		`INSERT INTO stats_hourly_bins (tenant_id, webhook_id, hour, bin, attempts, successes, answered_us)
		SELECT a.tenant_id, a.webhook_id, ` + hourOf("a.started_at") + `, ` + latencyBin("a.") + `,
			count(*), sum(CASE WHEN a.success THEN 1 ELSE 0 END), sum(CASE WHEN a.status_code > 0 THEN a.duration_us ELSE 0 END)
		FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_seq IN (` + seqs + `)
		GROUP BY 1, 2, 3, 4
		ON CONFLICT (tenant_id, webhook_id, hour, bin) DO UPDATE SET attempts = stats_hourly_bins.attempts + excluded.attempts,
			successes = stats_hourly_bins.successes + excluded.successes, answered_us = stats_hourly_bins.answered_us + excluded.answered_us`,
		`INSERT INTO stats_hourly (tenant_id, webhook_id, hour, delivered_success, delivered_failed, delivered_canceled)
		SELECT tenant_id, webhook_id, ` + hourOf("created_at") + `,
			sum(CASE WHEN status = 'SUCCESS' THEN 1 ELSE 0 END), sum(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END),
			sum(CASE WHEN status = 'CANCELED' THEN 1 ELSE 0 END)
		FROM deliveries WHERE event_seq IN (` + seqs + `)
		GROUP BY 1, 2, 3
		ON CONFLICT (tenant_id, webhook_id, hour) DO UPDATE SET delivered_success = stats_hourly.delivered_success + excluded.delivered_success,
			delivered_failed = stats_hourly.delivered_failed + excluded.delivered_failed,
			delivered_canceled = stats_hourly.delivered_canceled + excluded.delivered_canceled`,
		`DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_seq IN (` + seqs + `))`,
		`DELETE FROM deliveries WHERE event_seq IN (` + seqs + `)`,
		`DELETE FROM events WHERE seq IN (` + seqs + `)`,
	}
}

// RollupSQL sums the roll-ups a statistics query covers: the hours that
// overlap its window, since roll-ups keep no finer time.
func RollupSQL(q hookd.StatsQuery, ph func(int) string) (string, []any) {
	where, args := `tenant_id = `+ph(1), []any{q.TenantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += ` AND ` + cond + ph(len(args))
	}
	if q.WebhookID != "" {
		add(`webhook_id = `, q.WebhookID)
	} else {
		// Webhook by webhook, so that a window reads its hours alone
		// (the key is tenant, webhook, hour): by tenant alone it read
		// every hour the tenant ever had.
		args = append(args, q.TenantID)
		where += ` AND ` + TenantWebhooks(ph(len(args)))
	}
	// An hour's totals count when the whole hour is in the window: they
	// cannot be split, and an hour the window only touches counted whole
	// put attempts from outside it in (an audit read 20 attempts in a
	// window of ten quiet minutes once the hour around it was pruned).
	if !q.Since.IsZero() {
		add(`hour >= `, Micros(q.Since))
	}
	if !q.Until.IsZero() {
		add(`hour <= `, Micros(q.Until)-hourUs+1) // until is inclusive
	}
	sum := func(col string) string { return `CAST(coalesce(sum(` + col + `), 0) AS BIGINT)` }
	return `SELECT ` + sum("attempts") + `, ` + sum("successes") + `, ` + sum("answered") + `, ` + sum("answered_us") + `, ` +
		sum("delivered_success") + `, ` + sum("delivered_failed") + `, ` + sum("delivered_canceled") + `
		FROM stats_hourly WHERE ` + where, args
}

// AttemptTotalsCols are the attempt sums of a statistics query, over the
// attempts table, for AttemptTotals.
const AttemptTotalsCols = `count(*), CAST(coalesce(sum(CASE WHEN success THEN 1 ELSE 0 END), 0) AS BIGINT),
	CAST(coalesce(sum(CASE WHEN status_code > 0 THEN 1 ELSE 0 END), 0) AS BIGINT),
	CAST(coalesce(sum(CASE WHEN status_code > 0 THEN duration_us ELSE 0 END), 0) AS BIGINT)`

// AttemptTotals are the sums statistics are made of.
type AttemptTotals struct {
	Attempts, Successes, Answered, AnsweredUs int64
}

// AddRollups scans RollupSQL's row into st and t.
func AddRollups(r Scanner, st *hookd.Stats, t *AttemptTotals) error {
	var a, s, n, us, ok, failed, canceled int64
	if err := r.Scan(&a, &s, &n, &us, &ok, &failed, &canceled); err != nil {
		return err
	}
	t.Attempts, t.Successes, t.Answered, t.AnsweredUs = t.Attempts+a, t.Successes+s, t.Answered+n, t.AnsweredUs+us
	st.ByStatus[hookd.StatusSuccess] += int(ok)
	st.ByStatus[hookd.StatusFailed] += int(failed)
	st.ByStatus[hookd.StatusCanceled] += int(canceled)
	return nil
}

// Finished drops from old the events that PruneWaitingSQL's rows show a
// waiting delivery of.
func Finished(old []int64, waiting map[int64]bool) []int64 {
	out := old[:0:0]
	for _, seq := range old {
		if !waiting[seq] {
			out = append(out, seq)
		}
	}
	return out
}

// Pruned sets the counts of res from the rows the last three of PruneSQL's
// statements deleted.
func Pruned(res *hookd.PruneResult, deleted []int64) {
	n := len(deleted)
	res.Attempts, res.Deliveries, res.Events = int(deleted[n-3]), int(deleted[n-2]), int(deleted[n-1])
}

// DeleteEventsSQL deletes up to ph(4) of tenant ph(1)'s events after seq
// ph(2) created by ph(3), in seq order (events_tenant_seq), returning
// their seqs; their deliveries and attempts go by the references' cascade.
func DeleteEventsSQL(ph func(int) string) string {
	return `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE tenant_id = ` + ph(1) + ` AND seq > ` + ph(2) +
		` AND created_at <= ` + ph(3) + ` ORDER BY seq LIMIT ` + ph(4) + `) RETURNING seq`
}

// DeleteEventsArgs are DeleteEventsSQL's arguments.
func DeleteEventsArgs(p hookd.DeleteEventsParams) []any {
	return []any{p.TenantID, p.After, Micros(p.Until), p.Limit}
}

// DeleteDeliveriesSQL deletes up to ph(5) of webhook ph(1)'s deliveries
// (of tenant ph(2)) with id after ph(3) created by ph(4), in id order
// (deliveries_webhook), returning their ids; their attempts go by the
// cascade. The tenant is checked on the webhook, once (a subquery that is
// the webhook's id only if it is the tenant's), not on each delivery: a
// tenant_id condition on deliveries offers the planner the tenant's whole
// index range (deliveries_tenant_created_status), which a PostgreSQL
// without statistics chose, reading a big tenant's every delivery at each
// step while the webhook stayed locked.
func DeleteDeliveriesSQL(ph func(int) string) string {
	return `DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE webhook_id = (SELECT w.id FROM webhooks w WHERE w.id = ` + ph(1) +
		` AND w.tenant_id = ` + ph(2) + `) AND id > ` + ph(3) + ` AND created_at <= ` + ph(4) + ` ORDER BY id LIMIT ` + ph(5) + `) RETURNING id`
}

// DeleteDeliveriesArgs are DeleteDeliveriesSQL's arguments.
func DeleteDeliveriesArgs(p hookd.DeleteDeliveriesParams) []any {
	return []any{p.WebhookID, p.TenantID, p.After, Micros(p.Until), p.Limit}
}
