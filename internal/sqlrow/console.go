package sqlrow

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// SessionColumns are the console_sessions columns ScanSession reads.
const SessionColumns = "id, tenant_id, key_id, read_only, link_hash, token_hash, expires_at, created_at"

// SessionArgs are a session's values in SessionColumns order.
func SessionArgs(s *hookd.ConsoleSession) []any {
	return []any{s.ID, nullString(s.TenantID), nullString(s.KeyID), s.ReadOnly, nullBytes(s.LinkHash), nullBytes(s.TokenHash),
		Micros(s.ExpiresAt), Micros(s.CreatedAt)}
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ScanSession reads a row of SessionColumns.
func ScanSession(r Scanner) (*hookd.ConsoleSession, error) {
	s := &hookd.ConsoleSession{}
	var tenant, key sql.NullString
	var expires, created int64
	if err := r.Scan(&s.ID, &tenant, &key, &s.ReadOnly, &s.LinkHash, &s.TokenHash, &expires, &created); err != nil {
		return nil, err
	}
	s.TenantID, s.KeyID = tenant.String, key.String
	s.ExpiresAt, s.CreatedAt = FromMicros(expires), FromMicros(created)
	return s, nil
}

// SeriesSQL builds the two queries of hookd.Store.StatsSeries: attempts per
// (bucket, latency bin) with their successes, and deliveries per (bucket,
// status). Bin -1 holds attempts that got no answer. ph renders the i-th
// (1-based) placeholder of the engine's SQL.
func SeriesSQL(q hookd.SeriesQuery, ph func(int) string) (attempts, deliveries string, args []any) {
	args = []any{Micros(q.Since), q.Step.Microseconds(), q.TenantID, Micros(q.Since), Micros(q.Until())}
	where := "tenant_id = " + ph(3)
	attemptWhere := TenantAttempts(ph(3))
	// The roll-ups, keyed by tenant, webhook, hour, are read webhook by
	// webhook so that the series' hours are all that is read.
	rollupWhere := where + " AND " + TenantWebhooks(ph(3))
	if q.WebhookID != "" {
		args = append(args, q.WebhookID)
		where += " AND webhook_id = " + ph(6)
		attemptWhere, rollupWhere = where, where
	}
	bucket := "(%s - " + ph(1) + ") / " + ph(2)
	// The roll-ups of pruned rows, by the hours that overlap the series; an
	// hour counts whole in the bucket its start (or the series' start)
	// falls in.
	rolled := " FROM %s WHERE " + rollupWhere + " AND hour > " + ph(4) + " - " + fmt.Sprint(hourUs) + " AND hour < " + ph(5)
	hourBucket := "CASE WHEN hour < " + ph(1) + " THEN 0 ELSE (hour - " + ph(1) + ") / " + ph(2) + " END"
	attempts = "SELECT " + fmt.Sprintf(bucket, "started_at") + " AS bucket, " + latencyBin("") + " AS bin, count(*), CAST(sum(CASE WHEN success THEN 1 ELSE 0 END) AS BIGINT)," +
		" CAST(sum(CASE WHEN status_code > 0 THEN duration_us ELSE 0 END) AS BIGINT)" +
		" FROM attempts WHERE " + attemptWhere + " AND started_at >= " + ph(4) + " AND started_at < " + ph(5) + " GROUP BY 1, 2" +
		" UNION ALL SELECT " + hourBucket + ", bin, CAST(sum(attempts) AS BIGINT), CAST(sum(successes) AS BIGINT), CAST(sum(answered_us) AS BIGINT)" +
		fmt.Sprintf(rolled, "stats_hourly_bins") + " GROUP BY 1, 2"
	deliveries = "SELECT " + fmt.Sprintf(bucket, "created_at") + " AS bucket, status, count(*)" +
		" FROM deliveries WHERE " + where + " AND created_at >= " + ph(4) + " AND created_at < " + ph(5) + " GROUP BY 1, 2"
	for _, c := range [][2]string{{"SUCCESS", "delivered_success"}, {"FAILED", "delivered_failed"}, {"CANCELED", "delivered_canceled"}} {
		deliveries += " UNION ALL SELECT " + hourBucket + ", '" + c[0] + "', CAST(sum(" + c[1] + ") AS BIGINT)" + fmt.Sprintf(rolled, "stats_hourly") + " GROUP BY 1"
	}
	return attempts, deliveries, args
}

// latencyBin is an attempt's bin of hookd.LatencyBounds, -1 when it got
// no answer; prefix qualifies the attempts table's columns ("a.").
func latencyBin(prefix string) string {
	var bins strings.Builder
	fmt.Fprintf(&bins, "CASE WHEN %sstatus_code = 0 THEN -1", prefix)
	for i, b := range hookd.LatencyBounds {
		fmt.Fprintf(&bins, " WHEN %sduration_us < %d THEN %d", prefix, b.Microseconds(), i)
	}
	fmt.Fprintf(&bins, " ELSE %d END", len(hookd.LatencyBounds))
	return bins.String()
}

// Series collects the rows of SeriesSQL's queries into buckets.
type Series struct{ Buckets []*hookd.SeriesBucket }

// NewSeries returns q's empty buckets.
func NewSeries(q hookd.SeriesQuery) *Series {
	s := &Series{Buckets: make([]*hookd.SeriesBucket, q.Buckets)}
	for i := range s.Buckets {
		b := NewStats()
		s.Buckets[i] = &hookd.SeriesBucket{Start: q.Since.Add(time.Duration(i) * q.Step), ByStatus: b.ByStatus}
	}
	return s
}

// AddAttempts adds a row of the attempts query: n attempts, successes of
// them, and the answered ones' response times added up (sumUs).
func (s *Series) AddAttempts(bucket int64, bin, n, successes int, sumUs int64) {
	if bucket < 0 || bucket >= int64(len(s.Buckets)) {
		return
	}
	b := s.Buckets[bucket]
	b.Attempts += n
	b.Successes += successes
	b.Latency.Observe(bin, n, MicroDuration(sumUs))
}

// AddDeliveries adds a row of the deliveries query.
func (s *Series) AddDeliveries(bucket int64, status string, n int) {
	if bucket < 0 || bucket >= int64(len(s.Buckets)) {
		return
	}
	s.Buckets[bucket].ByStatus[hookd.DeliveryStatus(status)] += n
}
