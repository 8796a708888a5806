// Package sqlrow is the row encoding the SQL stores share: which columns a
// domain type has, how its values are written as parameters and read back.
// Both engines keep times as Unix microseconds and lists and maps as JSON
// text, so one encoding serves both; each engine's SQL stays in its own
// package.
package sqlrow

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// WebhookCols are a webhook's columns in the order WebhookArgs writes and
// ScanWebhook reads them.
const WebhookCols = `id, tenant_id, name, url, events, headers, timeout_ms, enabled, ssl_verification,
	channels, filter, max_attempts, rate_limit, description, metadata, signature,
	secret, previous_secret, previous_secret_expires_at, created_at, updated_at, disabled_reason, disabled_at, body_mode, uid,
	older_secrets`

// WebhookReadCols are WebhookCols and the health the store keeps, which
// only UpdateHealth writes, in the order ScanWebhook reads them.
const WebhookReadCols = WebhookCols + `, consecutive_failures, failing_since, last_success_at`

// WebhookColIndex is the 1-based place of col in WebhookCols (0: none),
// for a statement that names a column's parameter again.
func WebhookColIndex(col string) int {
	for i, c := range strings.Split(WebhookCols, ",") {
		if strings.TrimSpace(c) == col {
			return i + 1
		}
	}
	return 0
}

// WebhookColCount is how many WebhookCols there are, for placeholders.
const WebhookColCount = 26

// ListArg is a list as a JSON text column holds it (an event's channels or
// tags): NULL for none.
func ListArg(l []string) (any, error) {
	if l == nil {
		return nil, nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

// EventListArgs are an event's channels and tags as its columns hold them.
func EventListArgs(ev *hookd.Event) (channels, tags any, err error) {
	if channels, err = ListArg(ev.Channels); err == nil {
		tags, err = ListArg(ev.Tags)
	}
	return channels, tags, err
}

// JSONText encodes v for a JSON-valued text column.
func JSONText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// WebhookArgs returns w's column values (WebhookCols), its secrets sealed
// with box.
func WebhookArgs(box *hookd.SecretBox, w *hookd.Webhook) ([]any, error) {
	events, err := JSONText(w.Events)
	if err != nil {
		return nil, err
	}
	headers := w.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	hdr, err := JSONText(headers)
	if err != nil {
		return nil, err
	}
	md := w.Metadata
	if md == nil {
		md = map[string]string{}
	}
	meta, err := JSONText(md)
	if err != nil {
		return nil, err
	}
	var channels, filter, sig any
	if w.Channels != nil {
		if channels, err = JSONText(w.Channels); err != nil {
			return nil, err
		}
	}
	if w.Filter != "" {
		filter = w.Filter
	}
	if w.Signature != nil {
		if sig, err = JSONText(w.Signature); err != nil {
			return nil, err
		}
	}
	// The newest previous secret keeps the columns it had before there
	// could be several (rows written then read as they are); the older
	// ones are one sealed JSON list.
	var prev hookd.OldSecret
	var older string
	if len(w.PreviousSecrets) > 0 {
		prev = w.PreviousSecrets[0]
		if len(w.PreviousSecrets) > 1 {
			b, err := json.Marshal(w.PreviousSecrets[1:])
			if err != nil {
				return nil, err
			}
			older = string(b)
		}
	}
	sealed := hookd.SealedSecrets{Secret: box.Seal(w.Secret), Previous: box.Seal(prev.Secret), PreviousExpiresAt: prev.ExpiresAt, Older: box.Seal(older)}
	if w.SecretUnreadable != "" && w.Sealed != nil {
		sealed = *w.Sealed // kept as stored until a rotation replaces it
	}
	return []any{
		w.ID, w.TenantID, w.Name, w.URL, events, hdr, w.Timeout.Milliseconds(), w.Enabled, w.SSLVerification,
		channels, filter, w.MaxAttempts, w.RateLimit, w.Description, meta, sig,
		sealed.Secret, sealed.Previous, Micros(sealed.PreviousExpiresAt),
		Micros(w.CreatedAt), Micros(w.UpdatedAt), NullString(w.DisabledReason), Micros(w.DisabledAt), w.BodyModeName(), NullString(w.UID),
		sealed.Older,
	}, nil
}

// ScanWebhook reads a webhook row (WebhookReadCols), opening its secrets
// with box.
func ScanWebhook(box *hookd.SecretBox, r Scanner) (*hookd.Webhook, error) {
	w := &hookd.Webhook{}
	var events, headers, meta string
	var channels, filter, sig, reason, uid sql.NullString
	var timeoutMs, prevExp, created, updated, disabledAt, failingSince, lastSuccess int64
	var secret, prev, older string
	if err := r.Scan(&w.ID, &w.TenantID, &w.Name, &w.URL, &events, &headers, &timeoutMs, &w.Enabled, &w.SSLVerification,
		&channels, &filter, &w.MaxAttempts, &w.RateLimit, &w.Description, &meta, &sig,
		&secret, &prev, &prevExp, &created, &updated, &reason, &disabledAt, &w.BodyMode, &uid, &older,
		&w.Health.ConsecutiveFailures, &failingSince, &lastSuccess); err != nil {
		return nil, err
	}
	w.DisabledReason, w.DisabledAt, w.UID = reason.String, FromMicros(disabledAt), uid.String
	w.Health.FailingSince, w.Health.LastSuccessAt = FromMicros(failingSince), FromMicros(lastSuccess)
	w.Timeout = time.Duration(timeoutMs) * time.Millisecond
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s events: %w", w.ID, err)
	}
	if err := json.Unmarshal([]byte(headers), &w.Headers); err != nil {
		return nil, fmt.Errorf("webhook %s headers: %w", w.ID, err)
	}
	if err := json.Unmarshal([]byte(meta), &w.Metadata); err != nil {
		return nil, fmt.Errorf("webhook %s metadata: %w", w.ID, err)
	}
	if channels.Valid {
		if err := json.Unmarshal([]byte(channels.String), &w.Channels); err != nil {
			return nil, fmt.Errorf("webhook %s channels: %w", w.ID, err)
		}
	}
	w.Filter = filter.String
	if sig.Valid {
		w.Signature = &hookd.Signature{}
		if err := json.Unmarshal([]byte(sig.String), w.Signature); err != nil {
			return nil, fmt.Errorf("webhook %s signature: %w", w.ID, err)
		}
	}
	w.CreatedAt, w.UpdatedAt = FromMicros(created), FromMicros(updated)
	var err error
	if w.Secret, err = box.Open(secret); err != nil {
		// The webhook is read all the same (its tenant's publishes match
		// every webhook), marked: it signs nothing, and its writes keep
		// what is stored.
		w.SecretUnreadable = err.Error()
		w.Sealed = &hookd.SealedSecrets{Secret: secret, Previous: prev, PreviousExpiresAt: FromMicros(prevExp), Older: older}
		return w, nil
	}
	// A previous secret that cannot be opened is left out: it cannot sign.
	if prev, err = box.Open(prev); err == nil && prev != "" {
		w.PreviousSecrets = []hookd.OldSecret{{Secret: prev, ExpiresAt: FromMicros(prevExp)}}
	}
	var list []hookd.OldSecret
	if older, err = box.Open(older); err == nil && older != "" && json.Unmarshal([]byte(older), &list) == nil {
		w.PreviousSecrets = append(w.PreviousSecrets, list...)
	}
	return w, nil
}

// EventCols are an event's columns in the order ScanEvent reads them.
const EventCols = `seq, tenant_id, id, type, channels, tags, created_at, payload, delivery_count`

// ScanEvent reads an event row (EventCols).
func ScanEvent(r Scanner) (*hookd.Event, error) {
	e := &hookd.Event{}
	var channels, tags sql.NullString
	var created int64
	var count sql.NullInt64
	if err := r.Scan(&e.Seq, &e.TenantID, &e.ID, &e.Type, &channels, &tags, &created, &e.Payload, &count); err != nil {
		return nil, err
	}
	e.DeliveriesCreated = -1
	if count.Valid {
		e.DeliveriesCreated = int(count.Int64)
	}
	for _, l := range []struct {
		text sql.NullString
		to   *[]string
	}{{channels, &e.Channels}, {tags, &e.Tags}} {
		if l.text.Valid {
			if err := json.Unmarshal([]byte(l.text.String), l.to); err != nil {
				return nil, err
			}
		}
	}
	e.Timestamp = FromMicros(created)
	return e, nil
}

// DeliveryCols are a delivery's columns in the order ScanDelivery reads them.
const DeliveryCols = `id, tenant_id, event_id, webhook_id, event_type, status, attempts, next_attempt_at,
	last_status_code, last_error, response_time_us, created_at, updated_at`

// ScanDelivery reads a delivery row (DeliveryCols).
func ScanDelivery(r Scanner) (*hookd.Delivery, error) {
	d := &hookd.Delivery{}
	var next sql.NullInt64
	var rt, created, updated int64
	if err := r.Scan(&d.ID, &d.TenantID, &d.EventID, &d.WebhookID, &d.EventType, &d.Status, &d.Attempts, &next,
		&d.LastStatusCode, &d.LastError, &rt, &created, &updated); err != nil {
		return nil, err
	}
	// A delivery cancelled while being sent keeps its lease's end in the
	// column until its outcome is recorded: no next attempt all the same.
	if d.Status != hookd.StatusCanceled {
		d.NextAttemptAt = FromMicros(next.Int64)
	}
	d.ResponseTime = MicroDuration(rt)
	d.CreatedAt, d.UpdatedAt = FromMicros(created), FromMicros(updated)
	return d, nil
}

// ByWebhook maps each webhook ID to its new delivery's ID. A webhook
// listed twice gets one delivery.
func ByWebhook(deliveryIDs, webhookIDs []string) map[string]string {
	out := make(map[string]string, len(webhookIDs))
	for i, w := range webhookIDs {
		out[w] = deliveryIDs[i]
	}
	return out
}

// SplitHandoff is ByWebhook in two: the deliveries due now, and those
// handed off to the publishing process (h may be nil).
func SplitHandoff(deliveryIDs, webhookIDs []string, h *hookd.Handoff) (due, leased map[string]string) {
	due = ByWebhook(deliveryIDs, webhookIDs)
	if h == nil {
		return due, nil
	}
	leased = make(map[string]string, len(h.WebhookIDs))
	for _, w := range h.WebhookIDs {
		if id, ok := due[w]; ok {
			leased[w] = id
			delete(due, w)
		}
	}
	return due, leased
}

// HandedOff is the claim of a delivery of ev stored leased to the
// publishing process until until, with token 1 (the first lease); the
// caller sets its delivery and webhook.
func HandedOff(ev *hookd.Event, until time.Time) *hookd.Claim {
	return &hookd.Claim{Lease: hookd.Lease{Token: 1}, TenantID: ev.TenantID, EventID: ev.ID, EventType: ev.Type,
		Payload: ev.Payload, LeasedUntil: until, PublishedAt: ev.Timestamp, TraceParent: ev.TraceParent}
}

// Scanner is a row of database/sql or pgx.
type Scanner interface{ Scan(dest ...any) error }

// ScanKey reads an API key row: id, tenant_id, name, hash, created_at.
func ScanKey(r Scanner) (*hookd.APIKey, error) {
	k := &hookd.APIKey{}
	var created int64
	if err := r.Scan(&k.ID, &k.TenantID, &k.Name, &k.Hash, &created); err != nil {
		return nil, err
	}
	k.CreatedAt = FromMicros(created)
	return k, nil
}

// EventTypeCols are an event type's columns in the order ScanEventType reads them.
const EventTypeCols = `name, description, schema, archived, created_at, updated_at, examples, deprecated, feature_flag, group_name`

// ScanEventType reads an event type row (EventTypeCols).
func ScanEventType(r Scanner) (*hookd.EventType, error) {
	et := &hookd.EventType{}
	var schema, examples, flag, group sql.NullString
	var created, updated int64
	if err := r.Scan(&et.Name, &et.Description, &schema, &et.Archived, &created, &updated, &examples, &et.Deprecated, &flag, &group); err != nil {
		return nil, err
	}
	et.FeatureFlag, et.GroupName = flag.String, group.String
	et.Examples = []json.RawMessage{}
	if examples.Valid {
		if err := json.Unmarshal([]byte(examples.String), &et.Examples); err != nil {
			return nil, err
		}
	}
	if schema.Valid {
		et.Schema = []byte(schema.String)
	}
	et.CreatedAt, et.UpdatedAt = FromMicros(created), FromMicros(updated)
	return et, nil
}

// EventTypeArgs are an event type's values for EventTypeCols.
func EventTypeArgs(et *hookd.EventType) []any {
	return []any{et.Name, et.Description, NullText(et.Schema), et.Archived, Micros(et.CreatedAt), Micros(et.UpdatedAt), ExamplesText(et.Examples),
		et.Deprecated, NullText([]byte(et.FeatureFlag)), NullText([]byte(et.GroupName))}
}

// ExamplesText is an event type's examples as stored: a JSON array, NULL
// when there are none.
func ExamplesText(ex []json.RawMessage) any {
	if len(ex) == 0 {
		return nil
	}
	b, _ := json.Marshal(ex)
	return string(b)
}

// NullText is b as a text parameter, NULL when empty.
func NullText(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// NonNil returns m, or an empty map for nil, so it encodes as {}.
func NonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Prefixed qualifies each column of a list with p (a table alias and a dot).
func Prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// Bytes is b, or an empty slice for nil: both drivers write a nil slice
// as NULL, which a NOT NULL column of bytes refuses (an answer without a
// body).
func Bytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Micros is t as Unix microseconds, the stores' time encoding; 0 for the zero time.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros reverses Micros.
func FromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// MicroDuration is a stored microsecond count as a duration.
func MicroDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// JSONList encodes a list or map as one JSON parameter (json_each,
// jsonb_each_text), so that statements over variable-length lists keep one text.
func JSONList(v any) string {
	// A publish writes one or two maps of webhook to delivery id, and
	// reads one: written by hand, as an attempt's headers are.
	if m, ok := v.(map[string]string); ok && m != nil {
		return StringMapJSON(m)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// AttemptCols are the attempt log's columns in the order ScanAttempt reads.
const AttemptCols = `number, started_at, duration_us, status_code, error, success, manual, request_headers, response_headers, response_body`

// ScanAttempt reads one attempt of the log (AttemptCols).
func ScanAttempt(r Scanner) (*hookd.Attempt, error) {
	a := &hookd.Attempt{}
	var started, dur int64
	var rq, rs string
	if err := r.Scan(&a.Number, &started, &dur, &a.StatusCode, &a.Error, &a.Success, &a.Manual, &rq, &rs, &a.ResponseBody); err != nil {
		return nil, err
	}
	a.StartedAt, a.Duration = FromMicros(started), MicroDuration(dur)
	if err := json.Unmarshal([]byte(rq), &a.RequestHeaders); err != nil {
		return nil, fmt.Errorf("attempt request headers: %w", err)
	}
	if err := json.Unmarshal([]byte(rs), &a.ResponseHeaders); err != nil {
		return nil, fmt.Errorf("attempt response headers: %w", err)
	}
	return a, nil
}

// TenantAttempts is the condition for a tenant's attempts, p its id's
// placeholder: through its webhooks, so that attempts need no index by
// tenant (each index is a page more in every record's commit) and a
// tenant's are read webhook by webhook from attempts_webhook_started.
func TenantAttempts(p string) string { return TenantWebhooks(p) }

// TenantWebhooks is the condition for a tenant's rows of a table read
// webhook by webhook (attempts, the roll-ups), p the tenant id's
// placeholder.
func TenantWebhooks(p string) string {
	return "webhook_id IN (SELECT id FROM webhooks WHERE tenant_id = " + p + ")"
}

// StatsWhere builds the WHERE clauses of the two statistics queries:
// attempts by start time, deliveries by creation time. ph renders the i-th
// (1-based) placeholder of the engine's SQL.
func StatsWhere(q hookd.StatsQuery, ph func(int) string) (attemptWhere, deliveryWhere string, attemptArgs, deliveryArgs []any) {
	args := []any{q.TenantID}
	where := "tenant_id = " + ph(1)
	attemptWhere = TenantAttempts(ph(1))
	if q.WebhookID != "" {
		args = append(args, q.WebhookID)
		where += " AND webhook_id = " + ph(len(args))
		attemptWhere = where
	}
	deliveryWhere = where
	for _, b := range []struct {
		t  time.Time
		op string
	}{{q.Since, ">="}, {q.Until, "<="}} {
		if b.t.IsZero() {
			continue
		}
		args = append(args, Micros(b.t))
		attemptWhere += " AND started_at " + b.op + " " + ph(len(args))
		deliveryWhere += " AND created_at " + b.op + " " + ph(len(args))
	}
	return attemptWhere, deliveryWhere, args, args
}

// NewStats returns empty statistics with every status present.
func NewStats() *hookd.Stats {
	return &hookd.Stats{ByStatus: map[hookd.DeliveryStatus]int{
		hookd.StatusPending: 0, hookd.StatusRetrying: 0, hookd.StatusSuccess: 0, hookd.StatusFailed: 0, hookd.StatusCanceled: 0,
	}}
}

// FinishStats sets the attempt figures from their totals: failures, the
// rate and the mean response time over the attempts that got an answer.
func FinishStats(st *hookd.Stats, t AttemptTotals) {
	st.TotalDeliveries, st.SuccessfulDeliveries = int(t.Attempts), int(t.Successes)
	st.FailedDeliveries = st.TotalDeliveries - st.SuccessfulDeliveries
	if st.TotalDeliveries > 0 {
		st.SuccessRate = float64(st.SuccessfulDeliveries) / float64(st.TotalDeliveries)
	}
	if t.Answered > 0 {
		st.AverageResponseTimeMs = float64(t.AnsweredUs) / float64(t.Answered) / 1000
	}
}

// AttemptRow is an attempt as the attempts table keeps it: cleaned and
// capped (hookd.Attempt.Cleaned), so that no receiver's answer can make a
// store refuse the row, and its headers as JSON text.
type AttemptRow struct {
	StartedAt       int64
	DurationUs      int64
	StatusCode      int
	Error           string
	Success         bool
	Manual          bool
	RequestHeaders  string
	ResponseHeaders string
	ResponseBody    []byte
}

// AttemptRowOf encodes a for the attempts table.
func AttemptRowOf(a *hookd.Attempt) AttemptRow {
	c := a.Cleaned()
	return AttemptRow{StartedAt: Micros(c.StartedAt), DurationUs: c.Duration.Microseconds(), StatusCode: c.StatusCode,
		Error: c.Error, Success: c.Success, Manual: c.Manual, RequestHeaders: StringMapJSON(c.RequestHeaders),
		ResponseHeaders: StringMapJSON(c.ResponseHeaders), ResponseBody: c.ResponseBody}
}

// WaitingStatuses is the SQL list of statuses that wait in the queue.
const WaitingStatuses = `('PENDING', 'RETRYING')`

// Waiting is the condition to add to a filter on status st when st waits
// in the queue: it implies deliveries_queue's own WHERE, which a planner
// needs to see before it reads one webhook's waiting deliveries through
// that partial index instead of all the tenant's; "" for another status.
func Waiting(st hookd.DeliveryStatus) string {
	if st == hookd.StatusPending || st == hookd.StatusRetrying {
		return ` AND status IN ` + WaitingStatuses
	}
	return ""
}

// AuditCols are the audit log's columns as AuditArgs gives them.
const AuditCols = `id, tenant_id, at, actor_type, actor_id, action, target_type, target_id, changes`

// AuditArgs is an audit entry as row values.
func AuditArgs(e *hookd.AuditEntry) ([]any, error) {
	e.Stamp()
	changes, err := JSONText(NonNilChanges(e.Changes))
	if err != nil {
		return nil, fmt.Errorf("audit changes: %w", err)
	}
	return []any{e.ID, e.TenantID, Micros(e.At), string(e.Actor.Type), e.Actor.ID, e.Action, e.Target.Type, e.Target.ID, changes}, nil
}

// NonNilChanges renders no changes as {}, not null.
func NonNilChanges(m map[string]hookd.Change) map[string]hookd.Change {
	if m == nil {
		return map[string]hookd.Change{}
	}
	return m
}

// ScanAudit reads seq, then AuditCols.
func ScanAudit(r Scanner) (*hookd.AuditEntry, error) {
	var e hookd.AuditEntry
	var at int64
	var actorType, changes string
	if err := r.Scan(&e.Seq, &e.ID, &e.TenantID, &at, &actorType, &e.Actor.ID, &e.Action, &e.Target.Type, &e.Target.ID, &changes); err != nil {
		return nil, err
	}
	e.At, e.Actor.Type = FromMicros(at), hookd.ActorType(actorType)
	if err := json.Unmarshal([]byte(changes), &e.Changes); err != nil {
		return nil, fmt.Errorf("audit changes: %w", err)
	}
	return &e, nil
}

// AuditWhere is the filter of an audit query, with ph making the n-th
// placeholder.
func AuditWhere(q hookd.AuditQuery, ph func(int) string) (string, []any) {
	where, args := `tenant_id = `+ph(1), []any{q.TenantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += ` AND ` + cond + ph(len(args))
	}
	if q.Action != "" {
		add(`action = `, q.Action)
	}
	if q.TargetID != "" {
		add(`target_id = `, q.TargetID)
	}
	if !q.Since.IsZero() {
		add(`at >= `, Micros(q.Since))
	}
	if !q.Until.IsZero() {
		add(`at <= `, Micros(q.Until))
	}
	if q.Before > 0 {
		add(`seq < `, q.Before)
	}
	return where, args
}

// NullString is s, or NULL when empty.
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// HealthBeforeCols are what ScanHealthBefore reads of a webhook.
const HealthBeforeCols = `id, tenant_id, name, url, enabled, consecutive_failures, failing_since, last_success_at, exhausted, health_reset_at`

// ScanHealthBefore reads HealthBeforeCols.
func ScanHealthBefore(r Scanner) (string, *hookd.HealthBefore, error) {
	var id string
	var b hookd.HealthBefore
	var since, last, reset int64
	if err := r.Scan(&id, &b.TenantID, &b.Name, &b.URL, &b.Enabled, &b.Health.ConsecutiveFailures, &since, &last, &b.Exhausted, &reset); err != nil {
		return "", nil, err
	}
	b.Health.FailingSince, b.Health.LastSuccessAt, b.ResetAt = FromMicros(since), FromMicros(last), FromMicros(reset)
	return id, &b, nil
}

// EventsWhere is the filter of an events query, with ph making the n-th
// placeholder; the order is seq DESC. The window filters on created_at
// while the scan follows (tenant_id, seq): creation times rise with seq, so
// a window near the newest events reads few rows, and one far back reads
// the newer ones on its way (no index on created_at: it would cost every
// publish).
func EventsWhere(q hookd.EventQuery, ph func(int) string) (string, []any) {
	if len(q.Types) < 2 || q.Type != "" || q.Limit <= 0 {
		return eventsWhere(q, ph)
	}
	// Several types: each one's newest page through events_tenant_type_seq,
	// merged. `type IN (…)` walked the tenant's events until a page of them
	// turned up: every event of the tenant for rare types (140 ms at
	// 200,000 on SQLite; 533 ms in PostgreSQL's generic plan).
	args := []any{q.TenantID}
	parts := make([]string, len(q.Types))
	for i, t := range q.Types {
		one := q
		one.Types, one.Type = nil, t
		base := len(args)
		w, a := eventsWhere(one, func(n int) string { return ph(base + n) })
		args = append(append(args, a...), q.Limit)
		parts[i] = `SELECT seq FROM (SELECT seq FROM events WHERE ` + w + ` ORDER BY seq DESC LIMIT ` + ph(len(args)) + `) AS t` + strconv.Itoa(i)
	}
	return `tenant_id = ` + ph(1) + ` AND seq IN (` + strings.Join(parts, ` UNION ALL `) + `)`, args
}

func eventsWhere(q hookd.EventQuery, ph func(int) string) (string, []any) {
	where, args := `tenant_id = `+ph(1), []any{q.TenantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += ` AND ` + cond + ph(len(args))
	}
	if q.Type != "" {
		add(`type = `, q.Type)
	}
	if len(q.Types) > 0 {
		where += ` AND type IN (`
		for i, t := range q.Types {
			args = append(args, t)
			if i > 0 {
				where += `, `
			}
			where += ph(len(args))
		}
		where += `)`
	}
	// channels and tags are the JSON lists the event was stored with: an
	// entry is its JSON string, quotes included, which no other entry
	// holds (a quote inside one is escaped). replace() finds it,
	// case-sensitive and with no pattern characters, on both engines
	// (SQLite's LIKE ignores case).
	for _, l := range []struct{ col, entry string }{{"channels", q.Channel}, {"tags", q.Tag}} {
		if l.entry != "" {
			b, _ := json.Marshal(l.entry)
			args = append(args, string(b))
			where += ` AND replace(` + l.col + `, ` + ph(len(args)) + `, '') <> ` + l.col
		}
	}
	if q.NoSystem {
		where += ` AND substr(type, 1, ` + strconv.Itoa(len(hookd.SystemEventPrefix)) + `) <> '` + hookd.SystemEventPrefix + `'`
	}
	if !q.Since.IsZero() {
		add(`created_at >= `, Micros(q.Since))
	}
	if !q.Until.IsZero() {
		add(`created_at <= `, Micros(q.Until))
	}
	if q.Before > 0 {
		add(`seq < `, q.Before)
	}
	return where, args
}

// TenantDeliveriesWhere is the filter of a tenant's deliveries query, with
// ph making the n-th placeholder; the order is created_at DESC, id DESC,
// through deliveries_tenant_created.
func TenantDeliveriesWhere(q hookd.TenantDeliveryQuery, ph func(int) string) (string, []any) {
	where, args := `tenant_id = `+ph(1), []any{q.TenantID}
	if q.EventID != "" || q.WebhookID != "" {
		// One event's or one webhook's deliveries are read through its own
		// index (deliveries_event, deliveries_webhook or deliveries_queue):
		// the tenant's would read every delivery of the tenant to find a
		// quiet webhook's (200 ms at 200,000). The tenant's condition is
		// written as an expression so that neither planner takes its
		// index for the order it gives (PostgreSQL's generic plan ANDed
		// both indexes' bitmaps).
		where = `tenant_id || '' = ` + ph(1)
	}
	if q.EventID != "" {
		// No index holds event_id: the event's seq is found by its key.
		args = append(args, q.TenantID, q.EventID)
		where += ` AND event_seq = (SELECT seq FROM events WHERE tenant_id = ` + ph(2) + ` AND id = ` + ph(3) + `)`
	}
	add := func(cond string, v any) {
		args = append(args, v)
		where += ` AND ` + cond + ph(len(args))
	}
	if q.Status != "" {
		add(`status = `, string(q.Status))
		where += Waiting(q.Status)
	}
	if q.WebhookID != "" {
		add(`webhook_id = `, q.WebhookID)
	}
	if q.EventType != "" {
		add(`event_type = `, q.EventType)
	}
	if !q.Since.IsZero() {
		add(`created_at >= `, Micros(q.Since))
	}
	if !q.Until.IsZero() {
		add(`created_at <= `, Micros(q.Until))
	}
	if !q.BeforeAt.IsZero() {
		// The first term is the one an index seeks to: the OR alone made
		// a deep page read every newer row (290 ms at 200,000).
		at := Micros(q.BeforeAt)
		args = append(args, at, at, at, q.BeforeID)
		n := len(args)
		where += ` AND created_at <= ` + ph(n-3) + ` AND (created_at < ` + ph(n-2) + ` OR (created_at = ` + ph(n-1) + ` AND id < ` + ph(n) + `))`
	}
	return where, args
}

// TenantCols are the tenants table's columns in the order ScanTenant reads.
const TenantCols = `id, name, created_at, metadata, coalesce(nullif(updated_at, 0), created_at)`

// ScanTenant reads one tenant (TenantCols).
func ScanTenant(r Scanner) (*hookd.Tenant, error) {
	t := &hookd.Tenant{}
	var created, updated int64
	var meta sql.NullString
	if err := r.Scan(&t.ID, &t.Name, &created, &meta, &updated); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = FromMicros(created), FromMicros(updated)
	if meta.Valid {
		if err := json.Unmarshal([]byte(meta.String), &t.Metadata); err != nil {
			return nil, fmt.Errorf("tenant %s metadata: %w", t.ID, err)
		}
	}
	return t, nil
}

// TenantMetadata is a tenant's metadata for its column: NULL when none.
func TenantMetadata(t *hookd.Tenant) (any, error) {
	if len(t.Metadata) == 0 {
		return nil, nil
	}
	return JSONText(t.Metadata)
}

// WebhookAfter is the comparison that keeps the webhooks after
// q.AfterID in q's order.
func WebhookAfter(q hookd.WebhookQuery) string {
	if q.Newest {
		return "<"
	}
	return ">"
}

// WebhookOrder is a webhook list's ORDER BY: by id (creation time), oldest
// first unless q asks for the newest.
func WebhookOrder(q hookd.WebhookQuery) string {
	if q.Newest {
		return "id DESC"
	}
	return "id"
}

// TenantAfter is the comparison that keeps a tenant list's rows after
// its cursor, (created_at, id) against the cursor's.
func TenantAfter(q hookd.TenantQuery) string {
	if q.Newest {
		return "<"
	}
	return ">"
}

// TenantOrder is a tenant list's ORDER BY, oldest first unless q asks for
// the newest.
func TenantOrder(q hookd.TenantQuery) string {
	if q.Newest {
		return "created_at DESC, id DESC"
	}
	return "created_at, id"
}

// WarnSchemaAhead says, when the database's newest migration (db) is past
// the newest this binary has (known), that a newer hookd migrated it: an
// older one runs on its additive migrations (a rolling upgrade's old
// processes do), but may not know what the newer one stores.
func WarnSchemaAhead(log *slog.Logger, db, known int) {
	if db > known {
		log.Warn("the database's schema is newer than this hookd's: a newer hookd migrated it; run that version",
			"schemaVersion", db, "knownVersion", known, "version", hookd.Version)
	}
}
