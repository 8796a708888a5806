package delivery

import (
	"sync"
	"sync/atomic"
)

// Cached is how many webhooks and endpoints the engine keeps in memory.
func (e *Engine) Cached() (webhooks, endpoints int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.hooks), len(e.endpoints)
}

// Loops counts the claim loop's iterations.
func (e *Engine) Loops() int64 { return e.loops.Load() }

// Stopping reports whether Stop has told the claim loop to end.
func (e *Engine) Stopping() bool { return e.loopCtx.Err() != nil }

// Held is how many deliveries are claimed and not yet recorded.
func (e *Engine) Held() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.held
}

// Waiting is how many held deliveries wait for their turn at an endpoint.
func (e *Engine) Waiting() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ep := range e.endpoints {
		n += len(ep.waiting)
	}
	return n
}

// Changes counts the changes the engine was told of (Changed), for tests
// that wait for a store's notice of another process's change.
func (e *Engine) Changes() uint64 { return e.changes.Load() }

// PauseChecked holds the next delivery that has passed its checks, before
// its attempt begins, until release is called; reached is closed when one
// is held.
func (e *Engine) PauseChecked() (reached <-chan struct{}, release func()) {
	r, rel := make(chan struct{}), make(chan struct{})
	var taken atomic.Bool
	hook := func() {
		if taken.CompareAndSwap(false, true) { // the others pass
			close(r)
			<-rel
		}
	}
	e.checkedHook.Store(&hook)
	return r, sync.OnceFunc(func() { close(rel) })
}
