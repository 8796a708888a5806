package service

import (
	"context"
	"sync"
	"time"
)

// cache holds what publishing reads on every event (a tenant's existence,
// an event type, a tenant's enabled webhooks). Writes made through this API
// invalidate their entries at once. An entry older than ttl is read again
// in the background, once, while callers go on with the one they have: so
// ttl, plus one read, bounds how long a write made by another process (a
// replica, an api/worker split) takes to be seen here. A publish never waits
// for a read of an entry it has: on SQLite under full load a read could wait
// seconds for its snapshot (every commit moving the WAL under it), and every
// publish finding the entry old at once used to read it, dozens at a time.
// Values are shared: callers must not change them.
type cache[V any] struct {
	ttl     time.Duration
	mu      sync.Mutex
	m       map[string]cached[V]
	loading map[string]bool // keys being read again in the background
	gen     uint64          // bumped by every invalidation, so a slow load cannot store a stale value
}

type cached[V any] struct {
	v   V
	at  time.Time
	gen uint64
}

// refreshTimeout bounds a background read.
const refreshTimeout = 30 * time.Second

func newCache[V any](ttl time.Duration) *cache[V] {
	return &cache[V]{ttl: ttl, m: map[string]cached[V]{}, loading: map[string]bool{}}
}

// get returns key's entry, loading it when there is none (or the cache is
// off: ttl < 0); an old one is returned as it is and read again in the
// background, with ctx's values but not its end.
func (c *cache[V]) get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	gen := c.gen
	switch {
	case ok && now.Sub(e.at) < c.ttl:
		c.mu.Unlock()
		return e.v, nil
	case ok && c.ttl > 0:
		if !c.loading[key] {
			c.loading[key] = true
			go c.refresh(context.WithoutCancel(ctx), key, gen, now, load)
		}
		c.mu.Unlock()
		return e.v, nil
	}
	c.mu.Unlock()
	v, err := load(ctx)
	if err != nil {
		return v, err
	}
	c.put(key, v, now, gen)
	return v, nil
}

// refresh reads an old entry again; if the read fails, the entry stays and
// the next get tries again.
func (c *cache[V]) refresh(ctx context.Context, key string, gen uint64, at time.Time, load func(context.Context) (V, error)) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	if v, err := load(ctx); err == nil {
		c.put(key, v, at, gen)
	}
	c.mu.Lock()
	delete(c.loading, key)
	c.mu.Unlock()
}

// put stores what was read at at, unless an invalidation came since.
func (c *cache[V]) put(key string, v V, at time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.m) > 100_000 {
		clear(c.m)
	}
	c.m[key] = cached[V]{v: v, at: at, gen: gen}
}

func (c *cache[V]) invalidate(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.gen++
	c.mu.Unlock()
}
