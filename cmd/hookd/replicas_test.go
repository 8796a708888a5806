package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// TestReplicasSurviveKill runs three hookd processes on one PostgreSQL
// database and kills one with SIGKILL while it holds claimed deliveries in
// flight. Every accepted event must reach the receiver, the victim's held
// deliveries re-sent by the others once its lease runs out (an attempt's
// lease covers its timeout, 1s here, and the time to record it). Duplicates
// are allowed (a process died holding them) and reported.
func TestReplicasSurviveKill(t *testing.T) {
	bin, db := replicaSetup(t)

	var mu sync.Mutex
	okHits, slowAfter := map[string]int{}, map[string]int{}
	var killed atomic.Bool
	victimHolding := make(chan struct{}, 100)
	release := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		switch r.URL.Path {
		case "/ok":
			mu.Lock()
			okHits[id]++
			mu.Unlock()
		case "/slow":
			if !killed.Load() {
				victimHolding <- struct{}{}
				<-release // held until the victim is dead; its answer goes nowhere
				return
			}
			mu.Lock()
			slowAfter[id]++
			mu.Unlock()
		}
	}))
	defer rcv.Close()
	defer close(release)

	startProc := func() *proc { return startReplica(t, bin, db) }
	publish := func(p *proc, n int) []string {
		pc := &client{t: t, base: p.url, key: "adm"}
		var ids []string
		for i := 0; i < n; i++ {
			ids = append(ids, pc.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{"i": i}})["id"].(string))
		}
		return ids
	}

	victim := startProc()
	c := &client{t: t, base: victim.url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	// Timeouts of 1s: a dead process's deliveries wait for the longer of
	// the lease (3s) and what an attempt needs (its timeout, and the time
	// to record it), which a default 30s timeout would make 32s.
	c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "ok", "url": rcv.URL + "/ok", "events": []string{"*"}, "timeoutMs": 1000})
	c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "slow", "url": rcv.URL + "/slow", "events": []string{"*"}, "timeoutMs": 1000})

	// The victim alone delivers first, and dies with sends in flight.
	accepted := publish(victim, 20)
	<-victimHolding
	killed.Store(true)
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.cmd.Wait()

	b, d := startProc(), startProc()
	accepted = append(accepted, publish(b, 30)...)
	accepted = append(accepted, publish(d, 30)...)

	delivered := func() (ok, slow, dup int) {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range accepted {
			if okHits[id] > 0 {
				ok++
			}
			if slowAfter[id] > 0 {
				slow++
			}
			dup += max(okHits[id]-1, 0) + max(slowAfter[id]-1, 0)
		}
		return
	}
	eventually(t, "every accepted event at both endpoints", func() bool {
		ok, slow, _ := delivered()
		return ok == len(accepted) && slow == len(accepted)
	})
	_, _, dup := delivered()
	t.Logf("%d events accepted by 3 replicas, one killed mid-send; every one delivered to both endpoints; %d duplicate requests", len(accepted), dup)
}

// replicaSetup skips without PostgreSQL or in -short mode, and otherwise
// returns a freshly built hookd and a --db of a schema of the test's own.
func replicaSetup(t *testing.T) (bin, db string) {
	t.Helper()
	db, ok := dbs(t)["postgres"]
	if !ok {
		t.Skip("HOOKD_TEST_POSTGRES is not set")
	}
	if testing.Short() {
		t.Skip("builds hookd")
	}
	return buildHookd(t), db
}

type proc struct {
	cmd *exec.Cmd
	url string
}

// startReplica runs `hookd serve` on db and waits until it is ready; env
// is added to its environment.
func startReplica(t *testing.T, bin, db string, env ...string) *proc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--db", db, "--admin-key", "adm", "--allow-networks", "127.0.0.0/8",
		"--lease", "3s", "--retry-schedule", "200ms", "--log-format", "json")
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("replica %s:\n%s", addr, out.String())
		}
	})
	p := &proc{cmd: cmd, url: "http://" + addr}
	eventually(t, "a replica ready", func() bool {
		res, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// TestReplicasShareRateLimit: a webhook's rateLimit is one budget for all
// replicas, not one per process.
func TestReplicasShareRateLimit(t *testing.T) {
	bin, db := replicaSetup(t)
	var mu sync.Mutex
	var arrivals []time.Time
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
	}))
	defer rcv.Close()
	procs := []*proc{startReplica(t, bin, db), startReplica(t, bin, db), startReplica(t, bin, db)}
	c := &client{t: t, base: procs[0].url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	const perSecond, events = 10, 36
	c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "limited", "url": rcv.URL, "events": []string{"*"}, "rateLimit": perSecond})
	for i := 0; i < events; i++ {
		pc := &client{t: t, base: procs[i%3].url, key: "adm"}
		pc.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{"i": i}})
	}
	eventually(t, "every event delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrivals) >= events
	})
	mu.Lock()
	defer mu.Unlock()
	// Three per-process budgets would let about 30 a second through.
	worst := 0
	for i := range arrivals {
		n := 0
		for _, a := range arrivals[i:] {
			if a.Sub(arrivals[i]) < time.Second {
				n++
			}
		}
		worst = max(worst, n)
	}
	if limit := perSecond + hookd.RateBurst(perSecond) + 1; worst > limit {
		t.Fatalf("%d requests within one second to a webhook limited to %d/s by 3 replicas (at most %d allowed)", worst, perSecond, limit)
	}
	t.Logf("%d events through 3 replicas at %d/s: at most %d in any second, %v in all", events, perSecond, worst, arrivals[len(arrivals)-1].Sub(arrivals[0]))
}

// TestReplicasNeverSendTwice: with no process dying, no delivery is
// received twice, though three processes claim from one queue with a lease
// (3s) shorter than an attempt needs (its 1s timeout and the time to record
// it: every attempt's lease is extended before it starts), and though one
// replica's clock is a minute fast and another's a minute slow (leases are
// read against the database's clock).
func TestReplicasNeverSendTwice(t *testing.T) {
	bin, db := replicaSetup(t)
	var mu sync.Mutex
	hits := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(150 * time.Millisecond) // the receiver's work
		}
		mu.Lock()
		hits[r.URL.Path+" "+r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer rcv.Close()
	procs := []*proc{
		startReplica(t, bin, db),
		startReplica(t, bin, db, "HOOKD_TEST_CLOCK_SKEW=1m"),
		startReplica(t, bin, db, "HOOKD_TEST_CLOCK_SKEW=-1m"),
	}
	c := &client{t: t, base: procs[0].url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	for _, path := range []string{"/fast", "/slow"} {
		c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": path, "url": rcv.URL + path, "events": []string{"*"}, "timeoutMs": 1000})
	}
	const events = 300
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(p *proc) {
			defer wg.Done()
			pc := &client{t: t, base: p.url, key: "adm"}
			for j := 0; j < events/3; j++ {
				pc.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{"j": j}})
			}
		}(procs[i])
	}
	wg.Wait()
	eventually(t, "every event at both endpoints", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hits) == 2*events
	})
	mu.Lock()
	defer mu.Unlock()
	for k, n := range hits {
		if n > 1 {
			t.Errorf("%s received %d times", k, n)
		}
	}
	if !t.Failed() {
		t.Logf("%d deliveries through 3 replicas (clocks -1m, 0, +1m, lease 3s): none received twice", len(hits))
	}
}

// TestReplicasDisableOnce: three replicas record a failing endpoint's
// attempts at once; the webhook is disabled once, with one audit entry and
// one hookd.webhook.disabled alert between them.
func TestReplicasDisableOnce(t *testing.T) {
	bin, db := replicaSetup(t)
	var alerts atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ops":
			if r.Header.Get("hookd-event-type") == hookd.EventWebhookDisabled {
				alerts.Add(1)
			}
		default:
			w.WriteHeader(500)
		}
	}))
	defer rcv.Close()
	var procs []*proc
	for range 3 {
		procs = append(procs, startReplica(t, bin, db, "HOOKD_DISABLE_AFTER=1s"))
	}
	c := &client{t: t, base: procs[0].url, key: "adm"}
	c.must(201, "POST", "/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	c.must(201, "POST", "/v1/event-types", map[string]any{"name": "a.b", "description": ""})
	failing := c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "fail", "url": rcv.URL + "/fail", "events": []string{"a.b"}})["id"].(string)
	c.must(201, "POST", "/v1/tenants/acme/webhooks", map[string]any{"name": "ops", "url": rcv.URL + "/ops", "events": []string{"hookd.webhook.disabled"}})
	// Events through every replica until the webhook is disabled: each
	// has 2 attempts 200 ms apart, so deliveries run out of attempts and
	// failures keep coming past --disable-after.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		pc := &client{t: t, base: procs[i%3].url, key: "adm"}
		if _, wh := pc.call("GET", "/v1/tenants/acme/webhooks/"+failing, nil); wh["enabled"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failing webhook was never disabled")
		}
		for range 5 {
			pc.must(202, "POST", "/v1/tenants/acme/events", map[string]any{"type": "a.b", "data": map[string]any{}})
		}
		time.Sleep(100 * time.Millisecond) // the publishing rate, not a wait for anything
	}
	eventually(t, "the alert", func() bool { return alerts.Load() >= 1 })
	log := c.must(200, "GET", "/v1/tenants/acme/audit-log?action=webhook.disabled", nil)["data"].([]any)
	evs := c.must(200, "GET", "/v1/tenants/acme/events?type=hookd.webhook.disabled", nil)["data"].([]any)
	if len(log) != 1 || len(evs) != 1 {
		t.Fatalf("%d audit entries and %d events for one disable", len(log), len(evs))
	}
	// The one alert's delivery is done; no second one was ever made.
	eventually(t, "the alert's delivery recorded", func() bool {
		_, ev := c.call("GET", "/v1/tenants/acme/events/"+evs[0].(map[string]any)["id"].(string), nil)
		ds, _ := ev["deliveries"].([]any)
		return len(ds) == 1 && ds[0].(map[string]any)["status"] == "SUCCESS"
	})
	if n := alerts.Load(); n != 1 {
		t.Fatalf("%d alerts", n)
	}
}
