package service

import (
	"context"
	"sync"
	"time"
)

// cache holds what publishing reads on every event (a tenant's existence,
// an event type, a tenant's enabled webhooks). Writes made through this API
// invalidate their entries at once. A key is read by one caller at a time:
// callers that find no entry wait for the read under way, and an entry
// older than ttl is read again in the background while callers go on with
// the one they have, for another ttl at most: one older than 2×ttl is not
// served (callers wait for its read, as for a missing one, and see its
// error if it fails).
//
// So 2×ttl bounds how long a write made by another process (a replica, an
// api/worker split) takes to be seen here, however long a tenant went
// without a publish (an idle tenant's entry was once served at any age: a
// webhook made or enabled elsewhere a minute before was missed by the next
// publish). A busy tenant's publishes, which read it again every ttl, wait
// only when a read takes longer than ttl (an entry's age counts from its
// read's start). Every publish that found an entry missing or old used to
// read it, dozens at once (all the publishers of a busy tenant, each
// second); on SQLite under full load one of those reads then waited seconds
// for its snapshot. Values are shared: callers must not change them.
type cache[V any] struct {
	ttl     time.Duration
	mu      sync.Mutex
	m       map[string]cached[V]
	flights map[string]*flight[V] // reads under way, by key
	gen     uint64                // bumped by every invalidation, so a slow load cannot store a stale value
}

type cached[V any] struct {
	v   V
	at  time.Time
	gen uint64
}

// flight is one read of a key; done closes when v and err are set.
type flight[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// readTimeout bounds a read that callers share.
const readTimeout = 30 * time.Second

func newCache[V any](ttl time.Duration) *cache[V] {
	return &cache[V]{ttl: ttl, m: map[string]cached[V]{}, flights: map[string]*flight[V]{}}
}

// get returns key's entry. With none, or one older than 2×ttl, it waits
// for the read under way or starts one (every caller reads when the cache
// is off: ttl < 0); an older one than ttl is returned as it is and read
// again in the background. Shared reads
// run with ctx's values but not its end: the caller that started one may
// be gone before the others have their answer.
func (c *cache[V]) get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	now := time.Now()
	if c.ttl < 0 {
		return load(ctx)
	}
	c.mu.Lock()
	e, ok := c.m[key]
	if ok && now.Sub(e.at) < c.ttl {
		c.mu.Unlock()
		return e.v, nil
	}
	ok = ok && now.Sub(e.at) < 2*c.ttl // servable while it is read again
	f := c.flights[key]
	if f == nil {
		f = &flight[V]{done: make(chan struct{})}
		c.flights[key] = f
		go c.read(context.WithoutCancel(ctx), key, f, c.gen, now, load)
	}
	c.mu.Unlock()
	if ok {
		return e.v, nil
	}
	select {
	case <-f.done:
		return f.v, f.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// read loads key for the callers waiting on f, and stores it unless an
// invalidation came since gen. If the read finds the key gone (deleted by
// another process), the entry goes too; if it fails otherwise, an entry
// there was stays and the next get tries again.
func (c *cache[V]) read(ctx context.Context, key string, f *flight[V], gen uint64, at time.Time, load func(context.Context) (V, error)) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	f.v, f.err = load(ctx)
	c.mu.Lock()
	if c.flights[key] == f {
		delete(c.flights, key)
	}
	if isNotFound(f.err) {
		delete(c.m, key) // gone: an old entry must not outlive it
	}
	if f.err == nil && c.gen == gen {
		if len(c.m) > 100_000 {
			clear(c.m)
		}
		c.m[key] = cached[V]{v: f.v, at: at, gen: gen}
	}
	c.mu.Unlock()
	close(f.done)
}

func (c *cache[V]) invalidate(key string) {
	c.mu.Lock()
	delete(c.m, key)
	delete(c.flights, key) // a read begun before this one must not answer after it
	c.gen++
	c.mu.Unlock()
}
