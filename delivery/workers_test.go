package delivery

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkersReuseIdleGoroutines(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := &workers{now: clock}
	started := func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.started }
	idle := func() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.idle) }

	// Three at once need three goroutines.
	release := make(chan struct{})
	var running, done sync.WaitGroup
	running.Add(3)
	done.Add(3)
	for range 3 {
		p.run(func() { running.Done(); <-release; done.Done() })
	}
	running.Wait()
	close(release)
	done.Wait()
	waitFor(t, func() bool { return idle() == 3 })

	// Then one after the other, each finds one of them idle.
	for range 5 {
		ran := make(chan struct{})
		p.run(func() { close(ran) })
		<-ran
		waitFor(t, func() bool { return idle() == 3 })
	}
	if got := started(); got != 3 {
		t.Fatalf("started %d goroutines, want 3 (the others reused)", got)
	}

	// The two idle longest are retired; the one used last stays.
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	ran := make(chan struct{})
	p.run(func() { close(ran) })
	<-ran
	waitFor(t, func() bool { return idle() == 3 })
	p.retire(now)
	if got := idle(); got != 1 {
		t.Fatalf("%d idle after retire, want 1", got)
	}
	p.run(func() {})
	waitFor(t, func() bool { return idle() == 1 })
	if got := started(); got != 3 {
		t.Fatalf("started %d goroutines, want 3: the one not retired runs it", got)
	}

	// close ends them all, the retired ones too, and waits.
	p.close()
	if got := idle(); got != 0 {
		t.Fatalf("%d idle after close", got)
	}
}

func TestWorkersCloseWaitsForAJobRunning(t *testing.T) {
	p := &workers{now: time.Now}
	release, running := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	p.run(func() { close(running); <-release; finished.Store(true) })
	<-running
	closing := make(chan struct{})
	go func() { <-closing; close(release) }()
	close(closing)
	p.close()
	if !finished.Load() {
		t.Fatal("close returned before the job running ended")
	}
	if len(p.idle) != 0 {
		t.Fatalf("%d idle after close: the worker parked in a closed pool", len(p.idle))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
