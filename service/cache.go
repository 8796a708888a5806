package service

import (
	"sync"
	"time"
)

// cache holds what publishing reads on every event (a tenant's existence,
// an event type, a tenant's enabled webhooks) for at most ttl. Writes made
// through this API invalidate their entries at once; the ttl bounds how
// long a write made by another process (a replica, an api/worker split)
// takes to be seen here. Values are shared: callers must not change them.
type cache[V any] struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cached[V]
	gen uint64 // bumped by every invalidation, so a slow load cannot store a stale value
}

type cached[V any] struct {
	v   V
	at  time.Time
	gen uint64
}

func newCache[V any](ttl time.Duration) *cache[V] {
	return &cache[V]{ttl: ttl, m: map[string]cached[V]{}}
}

func (c *cache[V]) get(key string, load func() (V, error)) (V, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if len(c.m) > 100_000 {
			clear(c.m)
		}
		c.m[key] = cached[V]{v: v, at: now, gen: gen}
	}
	c.mu.Unlock()
	return v, nil
}

func (c *cache[V]) invalidate(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.gen++
	c.mu.Unlock()
}
