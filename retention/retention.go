// Package retention prunes finished events older than --retention, with
// their deliveries and attempts, in small batches; the store rolls their
// totals up into hourly statistics in the same transaction, so statistics
// outlive the rows.
//
// The loop is here once; each store offers the one primitive,
// hookd.Retention.PruneEvents. On PostgreSQL the primitive takes an
// advisory lock, so that across replicas one prunes at a time.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// Config configures a Pruner.
type Config struct {
	// Retention is how long a finished event is kept; 0 keeps everything.
	Retention time.Duration
	// Interval is the time between passes; default 1m, or Retention when
	// that is shorter (an event lives at most Retention plus Interval).
	Interval time.Duration
	// Batch is how many events one transaction looks at; default 200, so
	// that a batch holds SQLite's writer for a few milliseconds.
	Batch int
	// Share is the most of the time a pass spends in batches: after each
	// batch it waits so long that the batches take at most this share, so
	// that pruning a long history leaves the database to live traffic.
	// Default 0.1; 1 never waits.
	Share float64
	// ReclaimStep is how many free pages one step of giving space back
	// returns (on a store that keeps it, SQLite); default 1024 (4 MiB of
	// 4 KiB pages), a few milliseconds of the writer.
	ReclaimStep int
	// Clock defaults to time.Now.
	Clock hookd.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Retention < 0 {
		return errors.New("retention: Retention must not be negative")
	}
	if c.Interval == 0 {
		c.Interval = min(time.Minute, max(c.Retention, time.Second))
	}
	if c.Batch == 0 {
		c.Batch = 200
	}
	if c.Share == 0 {
		c.Share = 0.1
	}
	if c.ReclaimStep == 0 {
		c.ReclaimStep = 1024
	}
	if c.Interval < 0 || c.Batch < 0 || c.ReclaimStep < 0 || c.Share < 0 || c.Share > 1 {
		return errors.New("retention: Interval, Batch and ReclaimStep must be positive, Share in (0, 1]")
	}
	if c.Retention > 0 && c.Retention < c.Interval {
		return fmt.Errorf("retention: Retention %s is shorter than the pass Interval %s", c.Retention, c.Interval)
	}
	if c.Clock == nil {
		c.Clock = func() time.Time { return time.Now() }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Pruner runs passes every Interval.
type Pruner struct {
	store hookd.Retention
	cfg   Config

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Pruner; its config is validated here.
func New(store hookd.Retention, cfg Config) (*Pruner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Pruner{store: store, cfg: cfg}, nil
}

// Totals is what a pass deleted.
type Totals struct {
	Events, Deliveries, Attempts int
	// PagesReclaimed is the database pages given back to the file system
	// afterwards (SQLite).
	PagesReclaimed int
}

// Pass prunes every finished event created before now minus Retention, one
// batch at a time, and returns what it deleted. With Retention 0 it does
// nothing.
func (p *Pruner) Pass(ctx context.Context) (Totals, error) {
	var t Totals
	if p.cfg.Retention == 0 {
		return t, nil
	}
	params := hookd.PruneParams{Before: p.cfg.Clock.Now().Add(-p.cfg.Retention), Limit: p.cfg.Batch}
	for {
		began := time.Now()
		res, err := p.store.PruneEvents(ctx, params)
		if err != nil {
			return t, err
		}
		t.Events, t.Deliveries, t.Attempts = t.Events+res.Events, t.Deliveries+res.Deliveries, t.Attempts+res.Attempts
		if res.Done || res.Next == params.After {
			break
		}
		params.After = res.Next
		if err := p.pace(ctx, began); err != nil {
			return t, err
		}
	}
	if r, ok := p.store.(hookd.Reclaimer); ok && t.Events > 0 {
		// The file gives back what the pass freed, a step at a time, paced
		// as the batches are.
		for {
			began := time.Now()
			n, err := r.ReclaimSpace(ctx, p.cfg.ReclaimStep)
			if err != nil {
				return t, err
			}
			t.PagesReclaimed += n
			if n < p.cfg.ReclaimStep {
				return t, nil
			}
			if err := p.pace(ctx, began); err != nil {
				return t, err
			}
		}
	}
	return t, nil
}

// pace waits after a step that began at began so that steps take at most
// Share of the time. Real time, not the clock: this paces work, it
// decides nothing.
func (p *Pruner) pace(ctx context.Context, began time.Time) error {
	if p.cfg.Share >= 1 {
		return nil
	}
	took := time.Since(began)
	pause := time.NewTimer(time.Duration(float64(took) * (1 - p.cfg.Share) / p.cfg.Share))
	defer pause.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-pause.C:
		return nil
	}
}

// Start runs a pass now and then every Interval until Stop or ctx ends.
func (p *Pruner) Start(ctx context.Context) {
	if p.cfg.Retention == 0 {
		return
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(p.cfg.Interval)
		defer tick.Stop()
		for {
			t, err := p.Pass(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				p.cfg.Logger.Error("retention pass failed", "err", err)
			case t.Events > 0:
				p.cfg.Logger.Info("retention pass", "events", t.Events, "deliveries", t.Deliveries, "attempts", t.Attempts, "pages_reclaimed", t.PagesReclaimed)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// Stop ends the loop and waits for a batch under way.
func (p *Pruner) Stop() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
}
