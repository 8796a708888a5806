package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics and parses it as Prometheus does.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the sum of a family's samples whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	total := 0.0
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// /metrics counts what happened, by the contract's names, with no tenant
// or webhook id in any label; --metrics-addr moves it to its own address.
func TestMetrics(t *testing.T) {
	for name, db := range dbs(t) {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int32
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/gone":
					w.WriteHeader(410)
				case "/fail":
					w.WriteHeader(500)
				default:
					n.Add(1)
				}
			}))
			defer rcv.Close()
			url, stderr, stop := start(t, "--db", db, "--admin-key", "adm", "--allow-networks", "127.0.0.0/8", "--metrics-addr", "127.0.0.1:0")
			defer stop()
			c := &client{t: t, base: url, key: "adm"}
			c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
			c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
			for _, path := range []string{"/ok", "/ok2", "/gone", "/fail"} {
				body := map[string]any{"name": path, "url": rcv.URL + path, "events": []string{"*"}}
				if path == "/fail" {
					body["maxAttempts"] = 1
				}
				c.must(201, "POST", "/v1/tenants/acme/webhooks", body)
			}
			for range 3 {
				c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{}})
			}
			m := regexp.MustCompile(`"?metrics listening"? addr=(\S+)`).FindStringSubmatch(stderr.String())
			if m == nil {
				t.Fatalf("no metrics address in the log:\n%s", stderr)
			}
			metricsURL := "http://" + m[1] + "/metrics"
			defer func() {
				if t.Failed() {
					_, evs := c.call("GET", "/v1/tenants/acme/events", nil)
					for _, e := range evs["data"].([]any) {
						_, d := c.call("GET", "/v1/tenants/acme/events/"+e.(map[string]any)["id"].(string), nil)
						b, _ := json.Marshal(d["deliveries"])
						t.Logf("event %s %s: %s", e.(map[string]any)["id"], e.(map[string]any)["type"], b)
					}
					t.Logf("hookd log:\n%s", stderr)
				}
			}()
			// 3 events × 4 webhooks, less the gone webhook's once the first
			// 410 disabled it (an event published after that does not match
			// it; the first event's deliveries are handed to the engine as
			// it commits, so its 410 may disable the webhook before the
			// second publish): 10 to 12 deliveries, all counted when the
			// last 202 came back, every one of them finished.
			var fams map[string]*dto.MetricFamily
			eventually(t, "every delivery to finish", func() bool {
				fams = scrape(t, metricsURL)
				created := value(fams, "hookd_deliveries_created_total", nil)
				return created >= 10 && value(fams, "hookd_deliveries_finished_total", nil) == created
			})
			created := value(fams, "hookd_deliveries_created_total", nil)
			// The gone webhook's deliveries in flight when the first 410
			// disabled it were sent: 1 to 3 of them.
			gone := value(fams, "http_client_request_duration_seconds", map[string]string{"http_response_status_code": "410"})
			if gone < 1 || gone > 3 {
				t.Fatalf("%v attempts answered 410", gone)
			}
			checks := []struct {
				name   string
				labels map[string]string
				want   float64
			}{
				{"hookd_events_published_total", nil, 3},
				{"hookd_deliveries_finished_total", map[string]string{"status": "SUCCESS"}, 6},
				{"hookd_deliveries_finished_total", map[string]string{"status": "FAILED"}, created - 6},
				{"hookd_attempts_total", map[string]string{"outcome": "success"}, 6},
				{"hookd_attempts_total", map[string]string{"outcome": "failure"}, 3 + gone},
				{"http_client_request_duration_seconds", map[string]string{"http_request_method": "POST", "http_response_status_code": "200", "error_type": ""}, 6},
				{"http_client_request_duration_seconds", map[string]string{"http_response_status_code": "500", "error_type": "500"}, 3},
				{"http_client_request_duration_seconds", map[string]string{"http_response_status_code": "410", "error_type": "410"}, gone},
				{"hookd_publish_to_delivery_seconds", nil, 6},
				{"hookd_webhooks_disabled_total", map[string]string{"reason": "gone"}, 1},
				{"hookd_webhooks_disabled_total", map[string]string{"reason": "failing"}, 0},
			}
			for _, ck := range checks {
				if got := value(fams, ck.name, ck.labels); got != ck.want {
					t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
				}
			}
			for _, name := range []string{"hookd_queue_due", "hookd_queue_oldest_due_seconds", "go_goroutines", "process_cpu_seconds_total"} {
				if value(fams, name, nil) < 0 {
					t.Errorf("no %s", name)
				}
			}
			for name, f := range fams {
				for _, m := range f.Metric {
					for _, l := range m.Label {
						if v := l.GetValue(); strings.Contains(v, "acme") || strings.Contains(v, "wh_") || strings.Contains(v, "evt_") {
							t.Errorf("%s has an id in label %s=%s", name, l.GetName(), v)
						}
					}
				}
			}
			// A manual retry of a delivery that succeeded finishes it once
			// more (counted), but is no second "first success" for the
			// latency histogram (it was).
			ok := c.must(200, "GET", "/v1/tenants/acme/deliveries?status=SUCCESS&limit=1", nil)["data"].([]any)[0].(map[string]any)["id"].(string)
			c.must(202, "POST", "/v1/tenants/acme/deliveries/"+ok+"/retry", nil)
			eventually(t, "the manual retry's success", func() bool {
				return value(scrape(t, metricsURL), "hookd_attempts_total", map[string]string{"outcome": "success"}) == 7
			})
			eventually(t, "the manual retry to be counted finished", func() bool {
				return value(scrape(t, metricsURL), "hookd_deliveries_finished_total", map[string]string{"status": "SUCCESS"}) == 7
			})
			if got := value(scrape(t, metricsURL), "hookd_publish_to_delivery_seconds", nil); got != 6 {
				t.Errorf("after a manual retry of a delivered event, %v first successes, want 6", got)
			}
			const refinished = 1 // the retried delivery, finished twice
			// A user's disable ends the webhook's waiting deliveries FAILED
			// in its own write, which no claim sees again: the request
			// counts them, before the next scrape.
			c.must(201, "POST", "/v1/event-types", map[string]any{"name": "c.d", "description": ""})
			retrying := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "retrying", "url": rcv.URL + "/fail", "events": []string{"c.d"}})["id"].(string)
			c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "c.d", "data": map[string]any{}})
			// The other webhooks take c.d too ("*"): wait for every
			// delivery but the retrying one to finish.
			eventually(t, "the delivery to wait for its retry, every other finished", func() bool {
				ds := c.must(200, "GET", "/v1/tenants/acme/webhooks/"+retrying+"/deliveries", nil)["data"].([]any)
				f := scrape(t, metricsURL)
				return len(ds) == 1 && ds[0].(map[string]any)["status"] == "RETRYING" &&
					value(f, "hookd_deliveries_finished_total", nil) == value(f, "hookd_deliveries_created_total", nil)-1+refinished
			})
			failed := value(scrape(t, metricsURL), "hookd_deliveries_finished_total", map[string]string{"status": "FAILED"})
			c.must(200, "PATCH", "/v1/tenants/acme/webhooks/"+retrying, map[string]any{"enabled": false})
			if got := value(scrape(t, metricsURL), "hookd_deliveries_finished_total", map[string]string{"status": "FAILED"}); got != failed+1 {
				t.Errorf("after a user's disable ended one waiting delivery, FAILED went from %v to %v", failed, got)
			}
			// A replay's deliveries are created too: the four events so far,
			// to a new webhook that takes them all.
			before := value(scrape(t, metricsURL), "hookd_deliveries_created_total", nil)
			late := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "late", "url": rcv.URL + "/late", "events": []string{"*"}})["id"].(string)
			task := c.must(202, "POST", "/v1/tenants/acme/webhooks/"+late+"/replay", map[string]any{"since": "2000-01-01T00:00:00Z"})["id"].(string)
			eventually(t, "the replay", func() bool {
				return c.must(200, "GET", "/v1/tenants/acme/tasks/"+task, nil)["status"] == "finished"
			})
			if got := value(scrape(t, metricsURL), "hookd_deliveries_created_total", nil); got != before+4 {
				t.Errorf("a replay of 4 events: deliveries created went from %v to %v", before, got)
			}
			// A backlog shows in the queue's gauges within a sample or two
			// (every 2 s): ten deliveries to a webhook taking one a second.
			slow := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "slow", "url": rcv.URL + "/slow", "events": []string{"c.d"}, "rateLimit": 1})["id"].(string)
			for range 10 {
				c.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "c.d", "data": map[string]any{}})
			}
			eventually(t, "the queue's gauges to show the backlog", func() bool {
				f := scrape(t, metricsURL)
				return value(f, "hookd_queue_due", nil) >= 3 && value(f, "hookd_queue_oldest_due_seconds", nil) > 0
			})
			c.must(204, "DELETE", "/v1/tenants/acme/webhooks/"+slow, nil)
			// With --metrics-addr, the API's address does not serve them.
			if code := get(t, url+"/metrics", ""); code != 404 {
				t.Errorf("/metrics on --addr with --metrics-addr set: %d", code)
			}
		})
	}
	// Without it, /metrics is on --addr, with no key.
	url, _, stop := start(t, "--db", t.TempDir()+"/m.db", "--admin-key", "adm")
	defer stop()
	if fams := scrape(t, url+"/metrics"); value(fams, "hookd_events_published_total", nil) != 0 {
		t.Error("a fresh process counted events")
	}
}
