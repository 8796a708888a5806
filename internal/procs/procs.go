// Package procs runs hookd on one P (GOMAXPROCS=1) while it is nearly idle
// and gives the runtime's default back as soon as it is busy.
//
// Why: at the rates a platform sends all day (a few hundred events a second
// and less), every event is handed between goroutines about ten times (the
// HTTP server, the store's writer, the engine, a sender, the HTTP client's
// connection, the recorder). With an idle P the runtime wakes another thread
// for each hand-off, which spins looking for the work and sleeps again; with
// one P the goroutine made ready runs next on the thread that readied it.
// Measured in one process switching between the two, one P costs 17.5 %
// less CPU at 100 events a second and 14 % less at 300
// (docs/PERFORMANCE.md). One P also caps what hookd can do, so the
// controller gives the default back at the first reading that finds the
// process using at least Config.Raise of a core, or its goroutines waiting
// for the P, and lowers it only when the mean over Config.Hold is under
// Config.Lower.
//
// An operator who sets GOMAXPROCS has chosen: hookd then leaves it alone.
package procs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// Config tunes the controller. The zero value is the documented defaults.
type Config struct {
	// Interval is how often the process's CPU time is read: a burst runs
	// on one P for one to two intervals before the default is back.
	// Default 250ms.
	Interval time.Duration
	// Raise is the CPU use, in cores over one Interval, at or above which
	// one P gives way to the runtime's default. On one P hookd kept up with
	// 700 events a second here, but with a p99 of 286 ms, at 0.64 of a
	// core; it fell behind at 900 using no more, and a closed loop of
	// publishers starved its deliveries at ~1,000 a second using 0.55 (the
	// P waits in the store's fsyncs). So the default comes back well
	// before: 0.45 of a core was ~400 events a second. Default 0.45.
	Raise float64
	// Lower is the mean CPU use, in cores over Hold, under which the
	// process is given one P. It must be under Raise: the same work costs
	// more CPU on several Ps than on one, and a Lower at or above Raise
	// would switch back and forth. 0.3 of a core was ~100–150 events a
	// second on two Ps here. Default 0.3.
	Lower float64
	// Hold is the window the mean is taken over. Default 5s.
	Hold time.Duration
	// Stalled is the share of goroutines, over one Interval, that waited
	// at least StallWait to run, at or above which one P also gives way,
	// whatever the CPU use: when the one P waits in a system call (the
	// store's fsync) hookd falls behind with CPU to spare. Measured on one
	// P: none waited 5 ms at 300 or 500 events a second, 21–57 % did
	// under a closed loop of publishers. Defaults 0.05 and 5ms.
	Stalled   float64
	StallWait time.Duration
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = 250 * time.Millisecond
	}
	if c.Raise == 0 {
		c.Raise = 0.45
	}
	if c.Lower == 0 {
		c.Lower = 0.3
	}
	if c.Hold == 0 {
		c.Hold = 5 * time.Second
	}
	if c.Stalled == 0 {
		c.Stalled = 0.05
	}
	if c.StallWait == 0 {
		c.StallWait = 5 * time.Millisecond
	}
	return c
}

// Validate reports a Config whose fields do not fit together.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Interval < 0 || c.Hold < 0 || c.StallWait < 0:
		return errors.New("procs: Interval, Hold and StallWait must be positive")
	case c.Stalled < 0 || c.Stalled > 1:
		return fmt.Errorf("procs: Stalled %.2f is not a share", c.Stalled)
	case c.Hold < c.Interval:
		return fmt.Errorf("procs: Hold %v is shorter than Interval %v", c.Hold, c.Interval)
	case c.Lower <= 0 || c.Raise >= 1:
		return fmt.Errorf("procs: Lower %.2f and Raise %.2f must lie between 0 and 1 core", c.Lower, c.Raise)
	case c.Lower >= c.Raise:
		return fmt.Errorf("procs: Lower %.2f must be under Raise %.2f", c.Lower, c.Raise)
	}
	return nil
}

// Enabled reports whether the controller has anything to do in this
// process: more than one P by default, GOMAXPROCS not set by the operator,
// and the process's CPU time readable.
func Enabled() bool {
	_, ok := processCPU()
	return ok && os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) > 1
}

// Controller watches the process's CPU use and sets GOMAXPROCS. It logs
// nothing as it switches (that can be every few seconds under bursty
// traffic); /metrics' go_sched_gomaxprocs_threads shows where it stands.
type Controller struct {
	cfg   Config
	log   *slog.Logger
	cpu   func() (time.Duration, bool)
	waits func() waits
	one   func(bool)
	ticks func(time.Duration) (<-chan time.Time, func())

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a controller for this process.
func New(cfg Config, log *slog.Logger) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Controller{
		cfg:   cfg.withDefaults(),
		log:   log,
		cpu:   processCPU,
		waits: schedWaits(cfg.withDefaults().StallWait),
		one: func(one bool) {
			if one {
				runtime.GOMAXPROCS(1)
			} else {
				// The runtime's default again, which also resumes its
				// updates when a container's CPU limit changes.
				runtime.SetDefaultGOMAXPROCS()
			}
		},
		ticks: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
	}, nil
}

// Start begins watching. Stop ends it; a controller is started once.
func (c *Controller) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return
	}
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go c.run(ctx)
}

// Stop ends the watch and gives the runtime's default back.
func (c *Controller) Stop() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (c *Controller) run(ctx context.Context) {
	defer close(c.done)
	tick, stop := c.ticks(c.cfg.Interval)
	defer stop()
	var s state
	one := false
	defer func() {
		if one {
			c.one(false)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick:
			used, ok := c.cpu()
			if !ok {
				c.log.Warn("procs: the process's CPU time could not be read; GOMAXPROCS is left at the default")
				return
			}
			switch s.observe(c.cfg, now, used, c.waits(), one) {
			case lowerToOne:
				one = true
				c.one(true)
			case raiseToDefault:
				one = false
				c.one(false)
			}
		}
	}
}

type change int

const (
	keep change = iota
	lowerToOne
	raiseToDefault
)

// state is what the decision remembers between samples.
type state struct {
	at     time.Time     // the previous sample
	used   time.Duration // the process's CPU time at it
	winAt  time.Time     // where the window being averaged for Hold began
	winCPU time.Duration
	waits  waits // at the previous sample
	// backoff multiplies Hold before the next lowering: doubled by each
	// stall on one P after which the default's first interval still uses
	// under Raise, back to 1 after one P has held for the longest
	// backoff's Hold. A process whose one P stalls at a use under Lower
	// (a slow disk's fsyncs, say) so tries it less and less often.
	backoff int
	// stallRaised: the last raise was a stall's with CPU under Raise; the
	// next interval tells a stall with CPU to spare (a slow disk's: the use
	// stays low) from a burst's first moments (it climbs).
	stallRaised bool
	oneAt       time.Time // when one P was set
}

// maxBackoff caps the backoff: at the default Hold, one try in 5m20s.
const maxBackoff = 64

// observe takes one sample (the time, the process's CPU time and the
// scheduler's counts of waits so far)
// and says whether to change: on one P, raise as soon as one interval's
// use reaches Raise or its goroutines' waits to run say the P is short;
// on the default, lower when the mean use over a window of Hold (times the
// backoff) is under Lower (a mean, not every interval: hookd's use at a
// steady rate wanders ±20 % between intervals).
func (s *state) observe(cfg Config, now time.Time, used time.Duration, w waits, one bool) change {
	if s.at.IsZero() || !now.After(s.at) {
		s.at, s.used, s.waits = now, used, w
		s.winAt, s.winCPU = now, used
		s.backoff = max(s.backoff, 1)
		return keep
	}
	cores := float64(used-s.used) / float64(now.Sub(s.at))
	// The runtime times one wake-up in eight: an idle interval holds a
	// handful, where one slow wait (a GC worker's) would read as a stall.
	stalled := false
	if n := w.all - s.waits.all; n >= minWaits {
		stalled = float64(w.long-s.waits.long)/float64(n) >= cfg.Stalled
	}
	s.at, s.used, s.waits = now, used, w
	if one {
		busy := cores >= cfg.Raise
		if busy || stalled {
			s.stallRaised = !busy
			s.winAt, s.winCPU = now, used
			return raiseToDefault
		}
		if now.Sub(s.oneAt) >= maxBackoff*cfg.Hold {
			s.backoff = 1
		}
		return keep
	}
	if s.stallRaised {
		s.stallRaised = false
		if cores < cfg.Raise {
			// Still little use with the default's Ps: one P does not fit
			// this process's work. (A burst needs no backoff: a busy
			// process does not lower again soon.)
			s.backoff = min(2*s.backoff, maxBackoff)
		}
	}
	if now.Sub(s.winAt) < time.Duration(s.backoff)*cfg.Hold {
		return keep
	}
	mean := float64(used-s.winCPU) / float64(now.Sub(s.winAt))
	s.winAt, s.winCPU = now, used
	if mean < cfg.Lower {
		s.oneAt = now
		return lowerToOne
	}
	return keep
}

// minWaits is the fewest timed waits an interval needs for its share of
// long ones to count.
const minWaits = 20

// waits counts goroutines made ready to run so far (the runtime samples
// them), and those of them that waited at least StallWait for a P.
type waits struct{ all, long uint64 }

// schedWaits reads the runtime's histogram of the time goroutines waited
// to run.
func schedWaits(long time.Duration) func() waits {
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	return func() waits {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindFloat64Histogram {
			return waits{}
		}
		h := sample[0].Value.Float64Histogram()
		var w waits
		for i, n := range h.Counts {
			w.all += n
			if h.Buckets[i] >= long.Seconds() {
				w.long += n
			}
		}
		return w
	}
}
