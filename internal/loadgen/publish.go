package loadgen

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// NewClient is an HTTP client that keeps conns connections per host.
func NewClient(conns int) *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: time.Minute,
	}}
}

// Load is what Publish sends.
type Load struct {
	URL        string // the publish route, e.g. http://127.0.0.1:8080/v1/tenants/bench/events
	Key        string // the bearer key
	Publishers int    // concurrent publishers
	Body       func() []byte
	Rate       float64       // events a second offered in all; 0 as fast as answered
	Duration   time.Duration // how long to publish
	Limit      int64         // stop once this many are accepted; 0 no limit
	Progress   func(accepted int64)
	// Slowest, when set, holds the slowest accepted publish call, and where
	// its time went: a stall on hookd's publish side shows here.
	Slowest *Call
}

// Call keeps the slowest of publish calls.
type Call struct {
	mu   sync.Mutex
	slow Times
}

// Times is one publish call's time, in its phases.
type Times struct {
	// Total is from the call's start to its answer's status line.
	Total time.Duration
	// Conn is the wait for a connection (a dial, unless Reused); Server
	// from the request written to the status line: hookd's share.
	Conn, Server time.Duration
	Reused       bool
}

// Load returns the slowest call's times.
func (c *Call) Load() Times {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slow
}

// keep keeps t if it was slower.
func (c *Call) keep(t *Times) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Total > c.slow.Total {
		c.slow = *t
	}
}

// trace times a call's phases into c.
func (c *Times) trace(ctx context.Context, t0 time.Time) context.Context {
	var wrote atomic.Int64 // since t0; the transport writes and reads on goroutines of its own
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn:      func(i httptrace.GotConnInfo) { c.Conn, c.Reused = time.Since(t0), i.Reused },
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(int64(time.Since(t0))) },
		GotFirstResponseByte: func() {
			c.Total = time.Since(t0)
			if w := wrote.Load(); w > 0 {
				c.Server = c.Total - time.Duration(w)
			}
		},
	})
}

// Publish sends events for l.Duration (or until l.Limit are accepted) and
// returns how many were accepted (202) and for how long it ran. Progress,
// when set, is called every second.
func Publish(ctx context.Context, l Load) (int64, time.Duration) {
	client := NewClient(l.Publishers)
	var lim *rate.Limiter
	if l.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(l.Rate), max(1, int(l.Rate/100)))
	}
	var accepted atomic.Int64
	pctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range l.Publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pctx.Err() == nil && (l.Limit == 0 || accepted.Load() < l.Limit) {
				if lim != nil && lim.Wait(pctx) != nil {
					return
				}
				body := l.Body()
				t0 := time.Now()
				var call Times
				req, _ := http.NewRequestWithContext(call.trace(pctx, t0), "POST", l.URL, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+l.Key)
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusAccepted {
					accepted.Add(1)
					if l.Slowest != nil {
						l.Slowest.keep(&call)
					}
				}
			}
		}()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			return accepted.Load(), time.Since(start)
		case <-tick.C:
			if l.Progress != nil {
				l.Progress(accepted.Load())
			}
		}
	}
}

// Latencies are percentiles of a set of latencies, in milliseconds.
type Latencies struct{ P50, P90, P99, Max float64 }

// Summarize sorts lat and returns its percentiles; all zero when empty.
func Summarize(lat []time.Duration) Latencies {
	if len(lat) == 0 {
		return Latencies{}
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		i := min(int(p*float64(len(lat))), len(lat)-1)
		return float64(lat[i]) / float64(time.Millisecond)
	}
	return Latencies{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: float64(lat[len(lat)-1]) / float64(time.Millisecond)}
}
