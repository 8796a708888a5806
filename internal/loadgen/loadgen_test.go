package loadgen

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSentAt(t *testing.T) {
	tests := []struct {
		body string
		want int64
	}{
		{`{"data":{"sent":1234,"pad":"x"}}`, 1234},
		{`{"sent":5}`, 5},
		{`{"data":{}}`, 0},
		{`"sent":`, 0},
	}
	for _, tt := range tests {
		if got := SentAt([]byte(tt.body)); got != tt.want {
			t.Errorf("SentAt(%s) = %d, want %d", tt.body, got, tt.want)
		}
	}
	before := time.Now().UnixNano()
	body := EventBody(1024)()
	if sent := SentAt(body); sent < before || sent > time.Now().UnixNano() {
		t.Fatalf("EventBody carries %d", sent)
	}
	if n := len(body); n < 1000 || n > 1100 {
		t.Fatalf("a 1 KiB body is %d bytes", n)
	}
}

func TestSummarize(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	got := Summarize(lat)
	if got != (Latencies{P50: 51, P90: 91, P99: 100, Max: 100}) {
		t.Fatalf("Summarize = %+v", got)
	}
	if Summarize(nil) != (Latencies{}) {
		t.Fatal("no latencies are not zero")
	}
}

// The receiver counts, times and de-duplicates what it gets, and Reset
// starts over.
func TestReceiver(t *testing.T) {
	r, err := StartReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.CountDuplicates()
	post := func(path, id string) {
		req, _ := http.NewRequest("POST", r.URL+path, bytes.NewReader(EventBody(10)()))
		req.Header.Set("webhook-id", id)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	post("/ok/0", "a")
	post("/ok/1", "b")
	post("/ok/0", "a")
	post("/ok/1", "a") // the same event at another webhook
	post("/other/0", "c")
	if r.Count() != 4 || r.Duplicates() != 1 || len(r.Other()) != 1 || r.Last().IsZero() {
		t.Fatalf("count %d, duplicates %d, other %d, last %v", r.Count(), r.Duplicates(), len(r.Other()), r.Last())
	}
	if lat := r.Reset(); len(lat) != 4 || lat[0] <= 0 {
		t.Fatalf("latencies %v", lat)
	}
	if r.Count() != 0 || r.Duplicates() != 0 || !r.Last().IsZero() {
		t.Fatal("Reset kept counts")
	}
}

// Publish stops at its limit, counts only 202s, and holds its rate.
func TestPublish(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(401)
			return
		}
		if n.Add(1)%2 == 0 {
			w.WriteHeader(429)
			return
		}
		w.WriteHeader(202)
	}))
	defer srv.Close()
	accepted, _ := Publish(context.Background(), Load{URL: srv.URL, Key: "k", Publishers: 4, Body: EventBody(10), Duration: 10 * time.Second, Limit: 20})
	if accepted < 20 || accepted > 24 { // each publisher may finish the request it started
		t.Fatalf("accepted %d with a limit of 20", accepted)
	}
	n.Store(0)
	accepted, took := Publish(context.Background(), Load{URL: srv.URL, Key: "k", Publishers: 2, Body: EventBody(10), Rate: 100, Duration: 500 * time.Millisecond})
	// Requests cut off at the deadline reach the server but not the count.
	if sent := n.Load(); sent > 60 || accepted > (sent+1)/2 || accepted < sent/2-2 || took < 450*time.Millisecond {
		t.Fatalf("at 100/s for 0.5 s: %d sent, %d accepted, %v", sent, accepted, took)
	}
	// Slowest holds the longest accepted call, most of it in the server.
	// The server's share is timed from the client's "request written" hook,
	// which a busy machine may run some milliseconds late (a CI run saw 22
	// of a 30 ms sleep): the sleep is long enough that only the bulk of it
	// is asked for.
	var first atomic.Bool
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			time.Sleep(200 * time.Millisecond)
		}
		w.WriteHeader(202)
	}))
	defer slow.Close()
	var slowest Call
	Publish(context.Background(), Load{URL: slow.URL, Key: "k", Publishers: 2, Body: EventBody(10), Duration: 10 * time.Second, Limit: 10, Slowest: &slowest})
	if c := slowest.Load(); c.Total < 200*time.Millisecond || c.Total > 5*time.Second || c.Server < 100*time.Millisecond || c.Server > c.Total || c.Conn > c.Total-c.Server {
		t.Fatalf("slowest call %+v, one took 200 ms in the server", c)
	}
}

// CommandCPU sums the processes of one name: this test's own among them.
func TestCommandCPU(t *testing.T) {
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skip("no /proc")
	}
	own := ProcCPU(os.Getpid())
	if got := CommandCPU(strings.TrimSpace(string(comm))); own <= 0 || got < own {
		t.Fatalf("CommandCPU = %v, this process alone used %v", got, own)
	}
	if got := CommandCPU("no-such-command-here"); got != 0 {
		t.Fatalf("CommandCPU of nothing = %v", got)
	}
}
