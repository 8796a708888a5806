package delivery

import (
	"slices"
	"sync"
	"time"
)

// workers runs each send on a goroutine kept from an earlier one. A new
// goroutine's stack starts small, and every delivery's grew it again
// (copied it, twice or more) on its way through net/http's client and
// the attempt span's start: 2–3 % of hookd's CPU at full load
// (docs/PERFORMANCE.md, session 26). The idle ones are taken last in,
// first out, so the longest idle are the ones retire ends.
type workers struct {
	now func() time.Time

	mu      sync.Mutex
	idle    []*worker // oldest first
	closed  bool
	started int // goroutines started, for tests
	live    sync.WaitGroup
}

type worker struct {
	jobs      chan func()
	idleSince time.Time
}

// run runs f on an idle worker, or on a new one.
func (p *workers) run(f func()) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.jobs <- f // buffered: the worker may not be waiting yet
		return
	}
	p.started++
	p.live.Add(1)
	p.mu.Unlock()
	go p.loop(&worker{jobs: make(chan func(), 1)}, f)
}

func (p *workers) loop(w *worker, f func()) {
	defer p.live.Done()
	for {
		f()
		if !p.park(w) {
			return
		}
		var ok bool
		if f, ok = <-w.jobs; !ok {
			return
		}
	}
}

// park makes w idle, unless the pool is closed.
func (p *workers) park(w *worker) bool {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	w.idleSince = now
	p.idle = append(p.idle, w)
	return true
}

// retire ends the workers idle since before.
func (p *workers) retire(before time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && p.idle[n].idleSince.Before(before) {
		close(p.idle[n].jobs)
		n++
	}
	p.idle = slices.Delete(p.idle, 0, n)
}

// close ends every worker once its job is done, and waits for them. No
// run may follow it.
func (p *workers) close() {
	p.mu.Lock()
	p.closed = true
	for _, w := range p.idle {
		close(w.jobs)
	}
	p.idle = nil
	p.mu.Unlock()
	p.live.Wait()
}
