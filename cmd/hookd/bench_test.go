package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs `hookd bench` for a few seconds against a freshly
// built hookd to keep it working. It checks that every row ran and every
// event was delivered, never how fast: speed is measured by the bench
// itself, on a quiet machine (docs/PERFORMANCE.md).
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hookd")
	}
	bin := buildHookd(t)
	var out, progress bytes.Buffer
	cfg := &benchConfig{
		Hookd: bin, Scenarios: []string{"baseline", "relay", "fanout1", "traced", "half", "traced-half", "fanout10", "isolation-control", "isolation", "backlog", "fairness", "prune", "soak"},
		Duration: time.Second, Rate: 200, Publishers: 4, Backlog: 500, DrainWait: 60 * time.Second, JSON: true, Progress: &progress,
		FairBacklog: 500, FairRate: 20, SoakDuration: 2 * time.Second, SoakRate: 100, PruneHistory: 300,
	}
	rep, err := runBench(context.Background(), cfg, &out)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, progress.String())
	}
	var decoded BenchReport
	if err := json.Unmarshal(out.Bytes(), &decoded); err != nil || len(decoded.Rows) != len(cfg.Scenarios) {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	for _, r := range rep.Rows {
		if r.Delivered == 0 || r.Delivered < r.Expected {
			t.Errorf("%s: delivered %d of %d", r.Scenario, r.Delivered, r.Expected)
		}
		if r.Scenario != "baseline" && r.Scenario != "relay" && (r.CPUCores <= 0 || r.PeakRSSMB <= 0) {
			t.Errorf("%s: no process figures: %+v", r.Scenario, r)
		}
		// Every publish is fsynced to the WAL before its 202: a loaded row
		// writes to the disk, in write calls.
		if r.Scenario == "fanout1" && (r.WriteCallsPerEvent < 1 || r.DiskKBPerEvent <= 0) {
			t.Errorf("fanout1: wrote %.1f KB an event in %.1f calls", r.DiskKBPerEvent, r.WriteCallsPerEvent)
		}
		if r.Scenario == "isolation" && !strings.Contains(r.Note, "hang") {
			t.Errorf("isolation note = %q", r.Note)
		}
		if r.Scenario == "soak" && (r.WALPeakMB <= 0 || r.DBBytesPerEvent <= 0 || r.RSSEndMB <= 0 || r.Duplicates != 0) {
			t.Errorf("soak figures: %+v", r)
		}
		if r.Scenario == "prune" && !regexp.MustCompile(`first pass pruned [1-9]\d{2,} events`).MatchString(r.Note) {
			t.Errorf("prune note = %q: no pass pruned the history", r.Note)
		}
		// Every event traced: its publish span and its attempt's, all
		// exported by the time hookd stopped (a publish cut off by the
		// row's end may still have been stored, sent and traced).
		if (r.Scenario == "traced" || r.Scenario == "traced-half") && r.SpansExported < 2*r.Expected {
			t.Errorf("%s: %d spans exported for %d events (%s)", r.Scenario, r.SpansExported, r.Expected, r.Note)
		}
		if r.Scenario == "traced-half" && !strings.Contains(r.Note, "against the half row's") {
			t.Errorf("traced-half note = %q", r.Note)
		}
		if r.Scenario == "fairness" && r.Duplicates != 0 {
			t.Errorf("fairness: %d received twice", r.Duplicates)
		}
	}
}

// A row's failed attempts are read from hookd's /metrics: the attempt
// histogram's counts with an error type, summed by type.
func TestFailedAttemptsFromMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `# TYPE http_client_request_duration_seconds histogram
http_client_request_duration_seconds_bucket{error_type="",http_request_method="POST",http_response_status_code="200",le="0.005"} 3
http_client_request_duration_seconds_count{error_type="",http_request_method="POST",http_response_status_code="200"} 90
http_client_request_duration_seconds_count{error_type="500",http_request_method="POST",http_response_status_code="500"} 2
http_client_request_duration_seconds_count{error_type="timeout",http_request_method="POST",http_response_status_code=""} 1
http_client_request_duration_seconds_count{error_type="timeout",http_request_method="POST",http_response_status_code="504"} 4
hookd_attempts_total{outcome="failure"} 7
`)
	}))
	defer srv.Close()
	got := failedAttempts(srv.URL)
	if len(got) != 2 || got["500"] != 2 || got["timeout"] != 5 {
		t.Fatalf("failed attempts = %v", got)
	}
	if got := failedAttempts("http://127.0.0.1:1"); got != nil {
		t.Fatalf("no /metrics to read: %v", got)
	}
}

// The load rows read PostgreSQL's CPU only where its processes are this
// machine's.
func TestLocalPostgres(t *testing.T) {
	for db, want := range map[string]bool{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable": true,
		"postgresql://u:p@localhost/hookd":                        true,
		"postgres://u@[::1]:5432/hookd":                           true,
		"postgres:///hookd?host=/run/postgresql":                  true,
		"postgres://u@db.internal:5432/hookd":                     false,
		"hookd.db":                                                false,
		"":                                                        false,
	} {
		if got := localPostgres(db); got != want {
			t.Errorf("localPostgres(%q) = %v", db, got)
		}
	}
}
