// Package metrics is hookd's Prometheus metrics: the contract's names, an
// hookd.Observer the service and the engine report to, and the queue's
// gauges, sampled from the store now and then rather than counted on
// every scrape. No label carries a tenant or a webhook id.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookd/hookd"
)

// Metrics holds hookd's metrics in a registry of their own.
type Metrics struct {
	reg          *prometheus.Registry
	published    prometheus.Counter
	created      prometheus.Counter
	finished     *prometheus.CounterVec
	attempts     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	toDelivery   prometheus.Histogram
	disabled     *prometheus.CounterVec
	queueDue     prometheus.Gauge
	queueOldest  prometheus.Gauge
	sampleErrors prometheus.Counter
}

var _ hookd.Observer = (*Metrics)(nil)

// New registers the metrics, with Go's runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "hookd_events_published_total",
			Help: "Events stored by publishing (a repeated idempotency key is not counted again)."}),
		created: prometheus.NewCounter(prometheus.CounterOpts{Name: "hookd_deliveries_created_total",
			Help: "Deliveries created: one per event and matching webhook."}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookd_deliveries_finished_total",
			Help: "Deliveries that reached a final status."}, []string{"status"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookd_attempts_total",
			Help: "Delivery attempts, by outcome: success is a 2xx status line within the timeout."}, []string{"outcome"}),
		// Named and labelled per the OpenTelemetry HTTP client conventions.
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_client_request_duration_seconds",
			Help:    "Duration of delivery attempts, to the status line (or the failure).",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60}},
			[]string{"http_request_method", "http_response_status_code", "error_type"}),
		toDelivery: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hookd_publish_to_delivery_seconds",
			Help:    "From an event's publish to its delivery's first success.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400}}),
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookd_webhooks_disabled_total",
			Help: "Webhooks hookd disabled: gone (410) or failing (--disable-after)."}, []string{"reason"}),
		queueDue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hookd_queue_due",
			Help: "Deliveries due now and not being sent (sampled)."}),
		queueOldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hookd_queue_oldest_due_seconds",
			Help: "How long the oldest due delivery has waited (sampled); 0 when none waits."}),
		sampleErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "hookd_queue_sample_errors_total",
			Help: "Failed samples of the queue gauges."}),
	}
	reg.MustRegister(m.published, m.created, m.finished, m.attempts, m.duration, m.toDelivery, m.disabled,
		m.queueDue, m.queueOldest, m.sampleErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every label value that can appear, at zero, so rates work from the start.
	for _, s := range []hookd.DeliveryStatus{hookd.StatusSuccess, hookd.StatusFailed, hookd.StatusCanceled} {
		m.finished.WithLabelValues(string(s))
	}
	m.attempts.WithLabelValues("success")
	m.attempts.WithLabelValues("failure")
	m.duration.WithLabelValues("POST", "200", "") // so the family is there before the first attempt
	m.disabled.WithLabelValues(hookd.DisabledGone)
	m.disabled.WithLabelValues(hookd.DisabledFailing)
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) Published(deliveries int) {
	m.published.Inc()
	m.created.Add(float64(deliveries))
}

func (m *Metrics) Created(deliveries int) { m.created.Add(float64(deliveries)) }

func (m *Metrics) Attempted(a *hookd.Attempt) {
	outcome := "failure"
	if a.Success {
		outcome = "success"
	}
	m.attempts.WithLabelValues(outcome).Inc()
	code := ""
	if a.StatusCode != 0 {
		code = strconv.Itoa(a.StatusCode)
	}
	m.duration.WithLabelValues("POST", code, errorType(a)).Observe(a.Duration.Seconds())
}

func (m *Metrics) Finished(status hookd.DeliveryStatus, n int) {
	m.finished.WithLabelValues(string(status)).Add(float64(n))
}

func (m *Metrics) Delivered(sincePublish time.Duration) {
	m.toDelivery.Observe(max(sincePublish, 0).Seconds())
}

func (m *Metrics) Disabled(reason string) { m.disabled.WithLabelValues(reason).Inc() }

// errorType is OpenTelemetry's error.type of an attempt: "" on success,
// the status code when the answer was not a 2xx, else a short, bounded
// name of why there was no answer.
func errorType(a *hookd.Attempt) string {
	switch {
	case a.Success:
		return ""
	case a.StatusCode != 0:
		return strconv.Itoa(a.StatusCode)
	}
	e := strings.ToLower(a.Error)
	switch {
	case strings.HasPrefix(e, "timeout"):
		return "timeout"
	case strings.Contains(e, "ssrf guard"):
		return "blocked"
	case strings.Contains(e, "connection refused"):
		return "connection_refused"
	case strings.Contains(e, "no such host"):
		return "dns"
	case strings.Contains(e, "tls") || strings.Contains(e, "certificate"):
		return "tls"
	case strings.Contains(e, "connection reset") || strings.Contains(e, "eof"):
		return "connection_reset"
	}
	return "_OTHER"
}

// Sample sets the queue gauges from the store every interval until ctx
// ends: a count through the due index, not a scan on every scrape. A
// sample that took long spaces the next ones out (samplePause).
func (m *Metrics) Sample(ctx context.Context, q hookd.QueueDepther, every time.Duration, clock hookd.Clock, log *slog.Logger) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		m.sampleOnce(ctx, q, clock, log)
		t.Reset(samplePause(every, time.Since(start)))
	}
}

// samplePause is the wait after a sample that took took: every, or long
// enough that sampling keeps the database busy under 5 % of the time (a
// backlog of millions makes each count slower), but never over a minute
// (one sample that hit its timeout would have frozen the gauges 200 s).
func samplePause(every, took time.Duration) time.Duration {
	return min(max(every, 20*took), max(every, time.Minute))
}

func (m *Metrics) sampleOnce(ctx context.Context, q hookd.QueueDepther, clock hookd.Clock, log *slog.Logger) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d, err := q.QueueDepth(sctx)
	if err != nil {
		if ctx.Err() == nil {
			m.sampleErrors.Inc()
			log.Warn("sample the queue's depth", "err", err)
		}
		return
	}
	m.queueDue.Set(float64(d.Due))
	oldest := 0.0
	if !d.OldestDue.IsZero() {
		oldest = max(clock.Now().Sub(d.OldestDue).Seconds(), 0)
	}
	m.queueOldest.Set(oldest)
}
