// Package loadgen is hookd bench's load generator: a receiver that
// measures publish → receive latency, an open-loop publisher, latency
// percentiles, and a process's CPU and memory from /proc. It knows the
// API's publish route and nothing else of hookd.
package loadgen

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Receiver is the bench's webhook endpoint: POST /ok/N answers 200 at once
// and records the publish → receive latency carried in the body (its
// "sent" field, set by EventBody); /other/N keeps the latencies of a
// second tenant apart; /hang/N holds the request until the client gives up.
type Receiver struct {
	URL   string
	srv   *http.Server
	mu    sync.Mutex
	lat   []time.Duration
	other []time.Duration
	count atomic.Int64
	last  atomic.Int64 // unix ns of the last /ok delivery
	// seen, when set, holds every webhook-id received, to count duplicates
	// (too big for a million-delivery backlog, so only on request).
	seen atomic.Pointer[sync.Map]
	dups atomic.Int64
	stop chan struct{}
}

// StartReceiver listens on 127.0.0.1.
func StartReceiver() (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Receiver{URL: "http://" + ln.Addr().String(), stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ok/{n}", func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		now := time.Now()
		if sent := SentAt(body); sent > 0 {
			d := time.Duration(now.UnixNano() - sent)
			r.mu.Lock()
			r.lat = append(r.lat, d)
			r.mu.Unlock()
		}
		if seen := r.seen.Load(); seen != nil {
			// An event reaches each of its webhooks (one path each) once.
			if _, dup := seen.LoadOrStore(req.PathValue("n")+" "+req.Header.Get("webhook-id"), struct{}{}); dup {
				r.dups.Add(1)
			}
		}
		r.count.Add(1)
		r.last.Store(now.UnixNano())
	})
	mux.HandleFunc("POST /other/{n}", func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if sent := SentAt(body); sent > 0 {
			r.mu.Lock()
			r.other = append(r.other, time.Duration(time.Now().UnixNano()-sent))
			r.mu.Unlock()
		}
	})
	mux.HandleFunc("POST /hang/{n}", func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-r.stop:
		}
	})
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// Reset returns the /ok latencies so far and starts counting afresh.
func (r *Receiver) Reset() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := r.lat
	r.lat = make([]time.Duration, 0, 1<<16)
	r.other = nil
	r.count.Store(0)
	r.last.Store(0)
	r.seen.Store(nil)
	r.dups.Store(0)
	return lat
}

// Count is how many /ok requests arrived since the last Reset.
func (r *Receiver) Count() int64 { return r.count.Load() }

// Last is when the last /ok request arrived, zero before any.
func (r *Receiver) Last() time.Time {
	if ns := r.last.Load(); ns > 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Other returns the /other latencies so far.
func (r *Receiver) Other() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.other...)
}

// CountDuplicates makes the receiver remember every webhook-id from now
// until the next Reset, counting those that come again.
func (r *Receiver) CountDuplicates() { r.seen.Store(&sync.Map{}) }

// Duplicates is how many /ok requests repeated a webhook-id on one path
// (one webhook).
func (r *Receiver) Duplicates() int64 { return r.dups.Load() }

// Close stops the receiver, letting hanging requests go.
func (r *Receiver) Close() {
	close(r.stop)
	r.srv.Close()
}

// SentAt finds "sent":NNN in a body without decoding it.
func SentAt(body []byte) int64 {
	i := bytes.Index(body, []byte(`"sent":`))
	if i < 0 {
		return 0
	}
	j := i + len(`"sent":`)
	k := j
	for k < len(body) && body[k] >= '0' && body[k] <= '9' {
		k++
	}
	n, _ := strconv.ParseInt(string(body[j:k]), 10, 64)
	return n
}

// EventBody returns a maker of publish request bodies of about payload
// bytes of data, each carrying the time it was made.
func EventBody(payload int) func() []byte {
	pad := strings.Repeat("x", max(payload-40, 0))
	return func() []byte {
		return []byte(`{"type":"bench.event","data":{"sent":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `,"pad":"` + pad + `"}}`)
	}
}
