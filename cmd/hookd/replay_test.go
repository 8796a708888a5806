package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A replay of 10,000 events runs as a task; the process running it is
// killed with SIGKILL mid-way, another takes the task over once its lease
// ran out, and every event ends with exactly one delivery more: received
// under two delivery ids, never three.
func TestReplaySurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hookd and publishes 10,000 events")
	}
	bin := buildHookd(t)
	for name, db := range dbs(t) {
		t.Run(name, func(t *testing.T) { replaySurvivesKill(t, bin, db) })
	}
}

func replaySurvivesKill(t *testing.T, bin, db string) {
	const events = 10000
	var mu sync.Mutex
	got := map[string]map[string]bool{} // event id → delivery ids received
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ev := r.Header.Get("webhook-id")
		if got[ev] == nil {
			got[ev] = map[string]bool{}
		}
		got[ev][r.Header.Get("hookd-delivery-id")] = true
	}))
	defer rcv.Close()
	// each reports how many events were received under n delivery ids.
	each := func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		c := 0
		for _, ds := range got {
			if len(ds) == n {
				c++
			}
		}
		return c
	}
	start := time.Now()
	wait := func(what string, fn func() bool) {
		t.Helper()
		defer func() { t.Logf("%5.1fs %s", time.Since(start).Seconds(), what) }()
		for deadline := time.Now().Add(2 * time.Minute); !fn(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	// The webhook's timeout of 1s: the deliveries the killed process held
	// fall due again after the longer of the lease and what an attempt
	// needs (its timeout and the time to record it), 32s with the default.
	// A pause between chunks to kill the process in; a lease short enough
	// for the next process to take the task over soon.
	env := []string{"HOOKD_TEST_TASK_PAUSE=100ms", "HOOKD_TEST_TASK_LEASE=2s"}
	first := startReplica(t, bin, db, env...)
	c := &client{t: t, base: first.url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	wh := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "r", "url": rcv.URL, "events": []string{"*"}, "timeoutMs": 1000})["id"].(string)
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)

	var wg sync.WaitGroup
	work := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if code, body := c.call("POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{"i": i}}); code != 202 {
					t.Errorf("publish %d: %d %v", i, code, body)
				}
			}
		}()
	}
	for i := range events {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		return
	}
	wait("every event delivered once", func() bool { return each(1) == events })

	task := c.must(202, "POST", "/v1/tenants/acme/webhooks/"+wh+"/replay", map[string]any{"since": since})["id"].(string)
	var done float64
	wait("the replay part-way", func() bool {
		t := c.must(200, "GET", "/v1/tenants/acme/tasks/"+task, nil)
		done = t["done"].(float64)
		return t["status"] == "running" && done >= 1000
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	if done >= events {
		t.Fatalf("the replay had finished (%v done) before the kill", done)
	}

	second := startReplica(t, bin, db, env...)
	c2 := &client{t: t, base: second.url, key: "adm"}
	wait("the replay to finish on the second process", func() bool {
		t := c2.must(200, "GET", "/v1/tenants/acme/tasks/"+task, nil)
		return t["status"] == "finished"
	})
	final := c2.must(200, "GET", "/v1/tenants/acme/tasks/"+task, nil)
	if final["total"] != float64(events) || final["done"] != float64(events) {
		t.Fatalf("the finished task: %v", final)
	}
	wait("every event received under a second delivery id", func() bool { return each(2) == events })
	// Every delivery the store holds was received: no third one waits.
	list := c2.must(200, "GET", "/v1/tenants/acme/webhooks/"+wh+"/deliveries?limit=1", nil)
	if list["total"] != float64(2*events) {
		t.Fatalf("the webhook has %v deliveries, want %d", list["total"], 2*events)
	}
	if n := each(3); n != 0 {
		t.Fatalf("%d events were replayed twice", n)
	}
	t.Logf("killed at %v of %d events replayed; the second process finished the task", done, events)
}
