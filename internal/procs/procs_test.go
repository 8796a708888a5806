package procs

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"lower at raise", Config{Lower: 0.3, Raise: 0.3}, false},
		{"lower over raise", Config{Lower: 0.5, Raise: 0.4}, false},
		{"raise a whole core", Config{Raise: 1}, false},
		{"hold under interval", Config{Interval: time.Second, Hold: 500 * time.Millisecond}, false},
		{"negative interval", Config{Interval: -time.Second}, false},
		{"tuned", Config{Interval: 100 * time.Millisecond, Hold: time.Second, Lower: 0.1, Raise: 0.2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// A sample is the CPU used over the interval that ends at it, in cores.
func TestObserve(t *testing.T) {
	cfg := Config{Interval: time.Second, Hold: 3 * time.Second, Lower: 0.25, Raise: 0.35}.withDefaults()
	for _, tc := range []struct {
		name  string
		one   bool
		cores []float64
		want  []change
	}{
		{"busy stays", false, []float64{0.9, 0.6, 0.3, 0.5, 0.5, 0.5}, []change{keep, keep, keep, keep, keep, keep}},
		{"calm for the hold lowers", false, []float64{0.1, 0.1, 0.1}, []change{keep, keep, lowerToOne}},
		{"an interval over Lower counts in the mean", false, []float64{0.1, 0.1, 0.3}, []change{keep, keep, lowerToOne}},
		{"a busy window, then a calm one", false, []float64{0.1, 0.1, 0.9, 0.1, 0.1, 0.1}, []change{keep, keep, keep, keep, keep, lowerToOne}},
		{"a mean between Lower and Raise is not calm", false, []float64{0.3, 0.3, 0.3, 0.3, 0.3, 0.3}, []change{keep, keep, keep, keep, keep, keep}},
		{"one P raises at once", true, []float64{0.1, 0.35}, []change{keep, raiseToDefault}},
		{"one P between the two stays", true, []float64{0.3, 0.3, 0.3, 0.3}, []change{keep, keep, keep, keep}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s state
			start := time.Unix(1000, 0)
			var used time.Duration
			if got := s.observe(cfg, start, used, waits{}, tc.one); got != keep {
				t.Fatalf("first sample: %v, want keep (it has nothing to compare with)", got)
			}
			for i, c := range tc.cores {
				used += time.Duration(c * float64(cfg.Interval))
				if got := s.observe(cfg, start.Add(time.Duration(i+1)*cfg.Interval), used, waits{}, tc.one); got != tc.want[i] {
					t.Fatalf("sample %d (%.2f cores): %v, want %v", i+1, c, got, tc.want[i])
				}
			}
		})
	}
}

// The controller's loop, driven by the test's ticks and CPU readings:
// calm lowers, a burst raises, Stop gives the default back.
func TestControllerFollowsLoad(t *testing.T) {
	c, err := New(Config{Interval: time.Second, Hold: 2 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ticks := make(chan time.Time)
	var used atomic.Int64
	changes := make(chan bool, 4)
	c.ticks = func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }
	c.cpu = func() (time.Duration, bool) { return time.Duration(used.Load()), true }
	var w atomic.Pointer[waits]
	w.Store(&waits{})
	c.waits = func() waits { return *w.Load() }
	c.one = func(one bool) { changes <- one }
	c.Start(context.Background())

	now := time.Unix(1000, 0)
	tick := func(cores float64) {
		used.Add(int64(cores * float64(time.Second)))
		now = now.Add(time.Second)
		ticks <- now
	}
	expect := func(want bool) {
		t.Helper()
		select {
		case got := <-changes:
			if got != want {
				t.Fatalf("one P = %v, want %v", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no change to one P = %v", want)
		}
	}
	tick(0) // the first reading
	tick(0.1)
	tick(0.1)
	expect(true)
	tick(0.8)
	expect(false)
	tick(0.1)
	tick(0.1)
	expect(true)
	// Little CPU, but a tenth of the goroutines waited long to run: the
	// one P is short (it waits in system calls).
	w.Store(&waits{all: 1000, long: 100})
	tick(0.1)
	expect(false)
	// The stall doubled the hold: four calm seconds, not two.
	w.Store(&waits{all: 2000, long: 100})
	for range 3 {
		tick(0.1)
	}
	// The third tick received means the second was handled.
	if len(changes) != 0 {
		t.Fatal("lowered again within the doubled hold")
	}
	tick(0.1)
	expect(true)
	c.Stop()
	expect(false)
	select {
	case got := <-changes:
		t.Fatalf("a change after Stop: one P = %v", got)
	default:
	}
}

func TestObserveStalls(t *testing.T) {
	cfg := Config{Interval: time.Second, Hold: 3 * time.Second}.withDefaults()
	for _, tc := range []struct {
		name      string
		all, long uint64
		want      change
	}{
		{"no waits counted", 0, 0, keep},
		{"a few long waits", 1000, 10, keep},
		{"too few waits timed to judge", 10, 5, keep},
		{"a twentieth waited long", 1000, 50, raiseToDefault},
		{"most waited long", 1000, 600, raiseToDefault},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s state
			start := time.Unix(1000, 0)
			base := waits{all: 5000, long: 7}
			s.observe(cfg, start, 0, base, true)
			got := s.observe(cfg, start.Add(time.Second), 100*time.Millisecond, waits{all: base.all + tc.all, long: base.long + tc.long}, true)
			if got != tc.want {
				t.Fatalf("%v, want %v", got, tc.want)
			}
		})
	}
}

// A stall on one P with CPU to spare (still little use after the raise)
// doubles the hold before the next lowering; a busy raise, stalled or not,
// does not, nor a stall that turns out to be a burst's start.
func TestStallsBackOff(t *testing.T) {
	cfg := Config{Interval: time.Second, Hold: 2 * time.Second}.withDefaults()
	var s state
	now := time.Unix(1000, 0)
	var used time.Duration
	var w waits
	one := false
	step := func(cores float64, long uint64) change {
		now = now.Add(time.Second)
		used += time.Duration(cores * float64(time.Second))
		w.all += 100
		w.long += long
		return s.observe(cfg, now, used, w, one)
	}
	// lowered counts the calm seconds on the default before it lowers.
	lowered := func() int {
		t.Helper()
		for i := 1; i <= 1000; i++ {
			if step(0.1, 0) == lowerToOne {
				one = true
				return i
			}
		}
		t.Fatal("never lowered")
		return 0
	}
	raise := func(cores float64, long uint64) {
		t.Helper()
		if got := step(cores, long); got != raiseToDefault {
			t.Fatalf("%v on one P at %.2f cores with %d long waits, want a raise", got, cores, long)
		}
		one = false
	}
	s.observe(cfg, now, used, w, false)
	if n := lowered(); n != 2 {
		t.Fatalf("first lowering after %d s, want the hold's 2", n)
	}
	raise(0.1, 50) // a stall, and the use stays low after it
	if n := lowered(); n != 4 {
		t.Fatalf("after a stall: lowered after %d s, want twice the hold", n)
	}
	raise(0.1, 50)
	if n := lowered(); n != 8 {
		t.Fatalf("after two stalls: lowered after %d s, want four holds", n)
	}
	raise(0.9, 0) // busy, not stalled: the backoff stays
	if n := lowered(); n != 8 {
		t.Fatalf("after a busy raise: lowered after %d s, want four holds still", n)
	}
	raise(0.9, 50) // busy and stalled, as in a burst: the backoff stays
	if n := lowered(); n != 8 {
		t.Fatalf("after a busy, stalled raise: lowered after %d s, want four holds still", n)
	}
	// A burst that began late in an interval: stalled with little use at
	// first, busy in the next. No backoff.
	raise(0.3, 50)
	if got := step(0.9, 0); got != keep {
		t.Fatalf("%v in the burst", got)
	}
	if n := lowered(); n != 7 {
		t.Fatalf("after a burst's stalled start: lowered after %d s (plus the busy one), want four holds still", n)
	}
	// One P held for the longest backoff's hold: the backoff is forgiven.
	for range maxBackoff * 2 {
		if got := step(0.1, 0); got != keep {
			t.Fatalf("%v while calm on one P", got)
		}
	}
	raise(0.9, 0)
	if n := lowered(); n != 2 {
		t.Fatalf("after a long calm on one P: lowered after %d s, want the hold's 2", n)
	}
}

// The runtime's histogram is read: a goroutine made to wait for the only
// P is counted.
func TestSchedWaitsCounts(t *testing.T) {
	read := schedWaits(time.Millisecond)
	never := schedWaits(time.Hour) // no bucket's lower bound reaches it
	before, beforeNever := read(), never()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Goroutines made ready while this one spins on the one P wait
		// for it; the runtime samples some of them.
		done := make(chan struct{})
		for range 64 {
			go func() { <-done }()
		}
		close(done)
		for t0 := time.Now(); time.Since(t0) < 3*time.Millisecond; {
		}
		if after := read(); after.long > before.long && after.all > before.all {
			if n := never(); n.long != beforeNever.long || n.all <= beforeNever.all {
				t.Fatalf("waits of an hour or more: %+v then %+v", beforeNever, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no wait of 1ms counted: %+v then %+v", before, read())
		}
	}
}

// The runtime side: one P and the default back.
func TestSetsTheRuntime(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS set: the runtime's default ignores it")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0)) // as go test -cpu set it
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	if def < 2 {
		t.Skip("one P by default")
	}
	c, err := New(Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	c.one(true)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS = %d after lowering, want 1", got)
	}
	c.one(false)
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Errorf("GOMAXPROCS = %d after raising, want the default %d", got, def)
	}
}

func TestProcessCPUAdvances(t *testing.T) {
	a, ok := processCPU()
	if !ok {
		t.Skip("no process CPU time here")
	}
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for {
		for i := 0; i < 1e6; i++ {
			x += i
		}
		b, _ := processCPU()
		if b > a {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process CPU time stayed at %v (x %d)", a, x)
		}
	}
}

func TestEnabledLeavesAnOperatorsChoice(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one P: nothing to lower")
	}
	t.Setenv("GOMAXPROCS", "")
	if !Enabled() {
		t.Fatal("not Enabled with several Ps and GOMAXPROCS unset")
	}
	t.Setenv("GOMAXPROCS", "2")
	if Enabled() {
		t.Fatal("Enabled with GOMAXPROCS set")
	}
}
