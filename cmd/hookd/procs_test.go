package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleProcessRunsOnOneP: the hookd binary, left idle, gives itself one
// P (internal/procs), which its /metrics shows, and takes the runtime's
// default back when publishers keep it busy.
func TestIdleProcessRunsOnOneP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hookd")
	}
	if runtime.NumCPU() < 2 || os.Getenv("GOMAXPROCS") != "" {
		t.Skip("one CPU, or GOMAXPROCS set: hookd leaves it alone")
	}
	p := startReplica(t, buildHookd(t), filepath.Join(t.TempDir(), "hookd.db"))
	procs := func() string {
		res, err := http.Get(p.url + "/metrics")
		if err != nil {
			return ""
		}
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "go_sched_gomaxprocs_threads "); ok {
				return v
			}
		}
		return ""
	}
	// The webhook the burst below publishes to is made before the wait,
	// so that its requests cannot be what a raise answers.
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer rcv.Close()
	c := &client{t: t, base: p.url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "fast", "url": rcv.URL, "events": []string{"*"}})

	// With GOMAXPROCS unset nothing but the controller sets one P (a
	// container's CPU limit gives Go at least 2). The first 5 s window may
	// hold the start's work, so one P can take two windows; the deadline
	// leaves room for a busy test machine.
	for deadline := time.Now().Add(30 * time.Second); procs() != "1"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("go_sched_gomaxprocs_threads = %q after 30 s idle, want 1", procs())
		}
	}

	var stop atomic.Bool
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer cl.CloseIdleConnections()
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				req, _ := http.NewRequest("POST", p.url+"/v1/tenants/acme/events", strings.NewReader(`{"type":"a.b","data":{}}`))
				req.Header.Set("Authorization", "Bearer adm")
				req.Header.Set("Content-Type", "application/json")
				res, err := cl.Do(req)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	for deadline := time.Now().Add(20 * time.Second); procs() == "1"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still one P after 20 s of 32 publishers in a closed loop")
		}
	}
}
