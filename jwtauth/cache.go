package jwtauth

import (
	"container/list"
	"slices"
	"sync"
	"time"

	"github.com/aigate/aigate/authz"
)

// tokenCache remembers verified tokens by the SHA-256 of the token (never
// the token itself), least recently used evicted first. An entry answers
// until its token's exp, and no longer once its issuer's keys have lost a
// key since it was verified, or are due for a refresh.
type tokenCache struct {
	mu      sync.Mutex
	max     int
	order   *list.List // front: most recently used; values are *cacheEntry
	entries map[[32]byte]*list.Element
}

type cacheEntry struct {
	sum  [32]byte
	p    authz.Principal
	keys *keySet
	gen  uint64
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, order: list.New(), entries: make(map[[32]byte]*list.Element, min(max, 1024))}
}

// get returns a copy of the cached principal, so that a caller that
// modifies it cannot change what the next caller gets.
func (c *tokenCache) get(sum [32]byte, now time.Time) (*authz.Principal, bool) {
	c.mu.Lock()
	el, ok := c.entries[sum]
	if !ok {
		c.mu.Unlock()
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.p.ExpiresAt) || !e.keys.answers(e.gen, now) {
		c.order.Remove(el)
		delete(c.entries, sum)
		c.mu.Unlock()
		return nil, false
	}
	c.order.MoveToFront(el)
	p := e.p
	c.mu.Unlock()
	p.Models = slices.Clone(p.Models)
	return &p, true
}

func (c *tokenCache) put(sum [32]byte, p *authz.Principal, keys *keySet, gen uint64) {
	e := &cacheEntry{sum: sum, p: *p, keys: keys, gen: gen}
	e.p.Models = slices.Clone(p.Models)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[sum]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.entries[sum] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).sum)
	}
}

func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
