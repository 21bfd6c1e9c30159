package gateway

import (
	"sync"
	"time"
)

// resultCache is one authorizer's result cache: authorizer outputs by
// identity-source values, each until its expiry. It holds at most max
// entries; when full it drops the expired ones, then arbitrary ones (the
// cache only saves invocations: dropping an entry never changes a decision).
//
// Concurrent misses on one key share one invocation (flights), so that a
// burst of new requests from one client does not queue up on an emulator
// that serves one invocation at a time.
type resultCache struct {
	max int

	mu      sync.RWMutex
	entries map[string]cacheEntry
	flights map[string]*flight

	// followed, when set, is called (c.mu held; it must not block) each
	// time a request joins a flight it does not lead: tests learn from it
	// that requests wait, without sleeping. Nil outside tests.
	followed func()
}

type cacheEntry struct {
	out     *authOutput
	expires time.Time
}

// flight is one invocation that concurrent misses on a key wait for.
type flight struct {
	done    chan struct{} // closed when out, err and latency are set
	out     *authOutput
	err     error
	latency time.Duration
}

func newResultCache(max int) *resultCache {
	return &resultCache{max: max, entries: map[string]cacheEntry{}, flights: map[string]*flight{}}
}

// get returns the live entry for key, or nil.
func (c *resultCache) get(key string, now time.Time) *authOutput {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil
	}
	return e.out
}

// join returns the flight for key, and whether the caller leads it (must
// invoke, then call land).
func (c *resultCache) join(key string) (f *flight, leader bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.flights[key]; ok {
		if c.followed != nil {
			c.followed()
		}
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	c.flights[key] = f
	return f, true
}

// land ends the flight for key, storing its output until expires when it
// succeeded.
func (c *resultCache) land(key string, f *flight, expires time.Time, now time.Time) {
	c.mu.Lock()
	delete(c.flights, key)
	if f.err == nil && f.out != nil {
		if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
			c.evict(now)
		}
		c.entries[key] = cacheEntry{out: f.out, expires: expires}
	}
	c.mu.Unlock()
	close(f.done)
}

// evict makes room for one entry. c.mu is held.
func (c *resultCache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, k)
	}
}

func (c *resultCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
