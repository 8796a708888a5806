// Package tasks runs long operations users start (a replay of stored
// events) in the background, in bounded chunks, on whichever process holds
// the task's lease.
//
// The algorithm is here once; each store offers the primitives of
// hookd.Tasks. A chunk's deliveries, the task's cursor and its progress
// are written in one transaction, fenced by the lease token: a runner
// that resumes a task after a crash starts after the last chunk
// committed, so no event is replayed twice, and a runner whose lease was
// taken over writes nothing.
package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// Store is what the runner needs of a store.
type Store interface {
	hookd.Tasks
	GetWebhook(ctx context.Context, tenantID, id string) (*hookd.Webhook, error)
}

// Config configures a Runner.
type Config struct {
	// Chunk is how many events one transaction goes through; default 500,
	// so that a chunk holds SQLite's writer for a few milliseconds.
	Chunk int
	// Lease is how long a claimed task is the runner's without a chunk
	// written; default 30s. Another process takes it over after that.
	Lease time.Duration
	// Poll is how often an idle runner looks for a task (Notify looks at
	// once); default 1s.
	Poll time.Duration
	// Pause is a wait between two chunks, leaving the database to live
	// traffic; default none.
	Pause time.Duration
	// Wake is told when a chunk made deliveries (the engine's Notify).
	Wake func()
	// Observer counts the deliveries replays make; default none.
	Observer hookd.Observer
	// Clock defaults to time.Now.
	Clock hookd.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Chunk == 0 {
		c.Chunk = 500
	}
	if c.Lease == 0 {
		c.Lease = 30 * time.Second
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.Observer == nil {
		c.Observer = hookd.NopObserver{}
	}
	if c.Chunk < 0 || c.Lease < 0 || c.Poll < 0 || c.Pause < 0 {
		return errors.New("tasks: Chunk, Lease, Poll and Pause must not be negative")
	}
	if c.Pause >= c.Lease {
		return fmt.Errorf("tasks: Pause %s must be shorter than the Lease %s, or every chunk would find its lease gone", c.Pause, c.Lease)
	}
	if c.Wake == nil {
		c.Wake = func() {}
	}
	if c.Clock == nil {
		c.Clock = func() time.Time { return time.Now() }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Runner claims tasks and runs them.
type Runner struct {
	store Store
	cfg   Config
	log   *slog.Logger
	kick  chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Runner; its config is validated here.
func New(store Store, cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Runner{store: store, cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1)}, nil
}

// Notify makes an idle runner look for a task now (one was created).
func (r *Runner) Notify() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Start runs tasks until Stop or ctx ends.
func (r *Runner) Start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.cfg.Poll)
		defer t.Stop()
		for {
			for {
				ran, err := r.RunOne(ctx)
				if err != nil && ctx.Err() == nil {
					r.log.Warn("task", "err", err)
				}
				if !ran || ctx.Err() != nil {
					break
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-r.kick:
			}
		}
	}()
}

// Stop stops the runner and waits for its chunk in progress; the task's
// lease runs out and a runner (this process's next, or another's) goes
// on from the last chunk written.
func (r *Runner) Stop() {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
}

// RunOne claims one task and runs it until it ends, its lease is lost or
// ctx ends; ran is false when no task was waiting.
func (r *Runner) RunOne(ctx context.Context) (ran bool, err error) {
	t, err := r.store.ClaimTask(ctx, hookd.ClaimTaskParams{Lease: r.cfg.Lease})
	if err != nil || t == nil {
		return false, err
	}
	switch t.Kind {
	case hookd.TaskReplay:
		err = r.replay(ctx, t)
	default:
		_, err = r.store.AdvanceTask(ctx, hookd.AdvanceTaskParams{TaskID: t.ID, Token: t.Token, Lease: r.cfg.Lease,
			Cursor: t.Cursor, Status: hookd.TaskFailed, Error: "unknown kind of task " + t.Kind})
	}
	if errors.Is(err, hookd.ErrLeaseLost) {
		r.log.Warn("task taken over: its lease ran out between two chunks", "task", t.ID)
		return true, nil
	}
	if err != nil {
		return true, fmt.Errorf("task %s: %w", t.ID, err)
	}
	return true, nil
}

// replay makes a new delivery to the webhook of each event in the window
// that it subscribes to, a chunk at a time, matched as publish matches.
func (r *Runner) replay(ctx context.Context, t *hookd.Task) error {
	var p hookd.ReplayParams
	if err := json.Unmarshal(t.Params, &p); err != nil {
		return r.fail(ctx, t, "unreadable parameters")
	}
	w := hookd.Window{Since: p.Since, Until: p.Until}
	if !t.Prepared {
		first, last, count, err := r.store.ReplaySpan(ctx, t.TenantID, w)
		if err != nil {
			return err
		}
		adv := hookd.AdvanceTaskParams{TaskID: t.ID, Token: t.Token, Lease: r.cfg.Lease,
			Prepare: true, Total: count, End: last, Cursor: max(first-1, 0)}
		if count == 0 {
			adv.Status = hookd.TaskFinished
		}
		if _, err := r.store.AdvanceTask(ctx, adv); err != nil {
			return err
		}
		if count == 0 {
			return nil
		}
		t.Prepared, t.Total, t.End, t.Cursor = true, count, last, adv.Cursor
	}
	for {
		wh, err := r.store.GetWebhook(ctx, t.TenantID, p.WebhookID)
		switch {
		case errors.Is(err, hookd.ErrNotFound):
			return r.fail(ctx, t, "the webhook was deleted")
		case err != nil:
			return err
		case !wh.Enabled:
			return r.fail(ctx, t, "the webhook was disabled")
		}
		evs, err := r.store.ReplayEvents(ctx, hookd.ReplayEventsParams{TenantID: t.TenantID, After: t.Cursor, Through: t.End, Window: w, Limit: r.cfg.Chunk})
		if err != nil {
			return err
		}
		adv := hookd.AdvanceTaskParams{TaskID: t.ID, Token: t.Token, Lease: r.cfg.Lease, Cursor: t.End, Done: len(evs)}
		if len(evs) == r.cfg.Chunk {
			adv.Cursor = evs[len(evs)-1].Seq
		}
		if adv.Cursor >= t.End {
			adv.Status = hookd.TaskFinished
		}
		now := r.cfg.Clock.Now()
		d := &hookd.NewDeliveries{TenantID: t.TenantID, WebhookID: wh.ID, OnlyMissing: p.OnlyMissing}
		for _, ev := range evs {
			if wh.Matches(ev, func() *hookd.FilterInput { return hookd.StoredFilterInput(ev) }) {
				d.EventSeqs = append(d.EventSeqs, ev.Seq)
				d.IDs = append(d.IDs, hookd.NewID(hookd.PrefixDelivery, now))
			}
		}
		adv.Deliveries = d
		res, err := r.store.AdvanceTask(ctx, adv)
		if err != nil {
			return err
		}
		if res.Created > 0 {
			r.cfg.Observer.Created(res.Created)
			r.cfg.Wake()
		}
		t.Cursor, t.Done = adv.Cursor, t.Done+adv.Done
		if adv.Status == hookd.TaskFinished {
			r.log.Info("replay finished", "task", t.ID, "tenant", t.TenantID, "webhook", wh.ID, "events", t.Done)
			return nil
		}
		if r.cfg.Pause > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(r.cfg.Pause):
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func (r *Runner) fail(ctx context.Context, t *hookd.Task, why string) error {
	r.log.Warn("task failed", "task", t.ID, "tenant", t.TenantID, "err", why)
	_, err := r.store.AdvanceTask(ctx, hookd.AdvanceTaskParams{TaskID: t.ID, Token: t.Token, Lease: r.cfg.Lease,
		Cursor: t.Cursor, Status: hookd.TaskFailed, Error: why})
	return err
}
