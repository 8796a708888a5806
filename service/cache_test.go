package service

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// loaded waits for the cache's background read of key to end.
func loaded[V any](t *testing.T, c *cache[V], key string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c.mu.Lock()
		busy := c.flights[key] != nil
		c.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the background read did not end")
		}
		time.Sleep(time.Millisecond)
	}
}

// age makes key's entry as old as d.
func age(c *cache[int], key string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	e.at = time.Now().Add(-d)
	c.m[key] = e
}

// An old entry is returned at once and read again in the background,
// once however many callers find it old.
func TestCacheReadsAnOldEntryInTheBackground(t *testing.T) {
	ctx := context.Background()
	c := newCache[int](time.Hour)
	if v, err := c.get(ctx, "k", func(context.Context) (int, error) { return 1, nil }); err != nil || v != 1 {
		t.Fatalf("first get = %d, %v", v, err)
	}
	age(c, "k", 90*time.Minute) // old, not too old to serve
	release, reading := make(chan struct{}), make(chan struct{})
	reads := 0
	slow := func(context.Context) (int, error) { reads++; close(reading); <-release; return 2, nil }
	for range 3 {
		if v, err := c.get(ctx, "k", slow); err != nil || v != 1 {
			t.Fatalf("while reading again: %d, %v; want the entry there was, 1", v, err)
		}
	}
	<-reading
	close(release)
	loaded(t, c, "k")
	if reads != 1 {
		t.Fatalf("read again %d times, want once", reads)
	}
	if v, _ := c.get(ctx, "k", nil); v != 2 {
		t.Fatalf("after the background read: %d, want 2", v)
	}
}

// An invalidated entry is never served, and a read begun before the
// invalidation stores nothing.
func TestCacheInvalidateWins(t *testing.T) {
	ctx := context.Background()
	c := newCache[int](time.Hour)
	c.get(ctx, "k", func(context.Context) (int, error) { return 1, nil })
	age(c, "k", 90*time.Minute)
	release, reading := make(chan struct{}), make(chan struct{})
	c.get(ctx, "k", func(context.Context) (int, error) { close(reading); <-release; return 2, nil })
	<-reading
	c.invalidate("k")
	if v, _ := c.get(ctx, "k", func(context.Context) (int, error) { return 3, nil }); v != 3 {
		t.Fatalf("after invalidate: %d, want a read", v)
	}
	close(release)
	loaded(t, c, "k")
	if v, _ := c.get(ctx, "k", nil); v != 3 {
		t.Fatalf("after the old read ended: %d, want 3 (its value dropped)", v)
	}
}

// A background read that fails keeps the entry; the background read does
// not end with the caller's context.
func TestCacheFailedReadKeepsEntry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := newCache[int](time.Hour)
	c.get(ctx, "k", func(context.Context) (int, error) { return 1, nil })
	age(c, "k", 90*time.Minute)
	var readCtx error
	c.get(ctx, "k", func(ctx context.Context) (int, error) {
		cancel() // the request that found the entry old ends
		readCtx = ctx.Err()
		return 0, errors.New("database away")
	})
	loaded(t, c, "k")
	if readCtx != nil {
		t.Fatalf("the background read's context ended with the caller's: %v", readCtx)
	}
	c.ttl = 4 * time.Hour // the kept entry is fresh again: no read
	if v, _ := c.get(ctx, "k", nil); v != 1 {
		t.Fatalf("after a failed read: %d, want the entry kept", v)
	}
}

// Callers that find no entry wait for the read under way instead of
// starting their own.
func TestCacheCallersShareARead(t *testing.T) {
	c := newCache[int](time.Hour)
	release, reading := make(chan struct{}), make(chan struct{})
	first := make(chan int)
	go func() {
		v, _ := c.get(context.Background(), "k", func(context.Context) (int, error) { close(reading); <-release; return 1, nil })
		first <- v
	}()
	<-reading
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.get(gone, "k", func(context.Context) (int, error) { t.Error("a second read while one was under way"); return 0, nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller gone while waiting for the read: %v", err)
	}
	close(release)
	if v := <-first; v != 1 {
		t.Fatalf("first caller got %d", v)
	}
	if v, _ := c.get(context.Background(), "k", nil); v != 1 {
		t.Fatalf("after the read: %d, want 1 cached", v)
	}
}

// An old entry whose key another process deleted is dropped by the
// background read that finds it gone, not kept.
func TestCacheDropsWhatIsGone(t *testing.T) {
	ctx := context.Background()
	c := newCache[int](time.Hour)
	c.get(ctx, "k", func(context.Context) (int, error) { return 1, nil })
	age(c, "k", 90*time.Minute)
	gone := func(context.Context) (int, error) { return 0, fmt.Errorf("get: %w", hookd.ErrNotFound) }
	if v, _ := c.get(ctx, "k", gone); v != 1 {
		t.Fatalf("old entry: %d", v)
	}
	loaded(t, c, "k")
	if _, err := c.get(ctx, "k", gone); !errors.Is(err, hookd.ErrNotFound) {
		t.Fatalf("after the read found it gone: %v, want not found", err)
	}
}

func TestCacheDisabledAlwaysLoads(t *testing.T) {
	c := newCache[int](-1)
	n := 0
	for range 3 {
		if _, err := c.get(context.Background(), "k", func(context.Context) (int, error) { n++; return n, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n != 3 {
		t.Fatalf("loaded %d times, want 3", n)
	}
}

// An entry older than twice the ttl is not served: the caller waits for
// it to be read again (a tenant idle for a minute must not publish with
// the webhooks it had a minute ago).
func TestCacheWaitsForAnEntryTooOld(t *testing.T) {
	ctx := context.Background()
	c := newCache[int](time.Hour)
	if v, _ := c.get(ctx, "k", func(context.Context) (int, error) { return 1, nil }); v != 1 {
		t.Fatalf("first get = %d", v)
	}
	for _, tc := range []struct {
		age  time.Duration
		want int
	}{{90 * time.Minute, 1}, {121 * time.Minute, 2}} {
		age(c, "k", tc.age)
		if v, err := c.get(ctx, "k", func(context.Context) (int, error) { return 2, nil }); err != nil || v != tc.want {
			t.Fatalf("an entry %v old: %d, %v; want %d", tc.age, v, err, tc.want)
		}
		loaded(t, c, "k")
	}
}
