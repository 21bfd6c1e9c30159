package jwtauth

import (
	"slices"
	"time"

	"github.com/aigate/aigate/internal/ttlcache"
	"github.com/aigate/aigate/record"
)

// tokenCache remembers verified tokens by the SHA-256 of the token (never
// the token itself), least recently used evicted first (ttlcache). An entry
// answers until its token's exp, and no longer once its issuer's keys have
// lost a key since it was verified, or are due for a refresh.
type tokenCache struct {
	entries *ttlcache.Cache[[32]byte, cacheEntry]
}

type cacheEntry struct {
	p    record.Principal // Models is this entry's own: never handed out
	keys *keySet
	gen  uint64
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{entries: ttlcache.New[[32]byte, cacheEntry](max)}
}

// get returns a copy of the cached principal, so that a caller that
// modifies it cannot change what the next caller gets.
func (c *tokenCache) get(sum [32]byte, now time.Time) (*record.Principal, bool) {
	e, ok := c.entries.Get(sum, now)
	if !ok {
		return nil, false
	}
	if !e.keys.answers(e.gen, now) {
		c.entries.Remove(sum)
		return nil, false
	}
	p := e.p
	p.Models = slices.Clone(p.Models)
	return &p, true
}

func (c *tokenCache) put(sum [32]byte, p *record.Principal, keys *keySet, gen uint64) {
	e := cacheEntry{p: *p, keys: keys, gen: gen}
	e.p.Models = slices.Clone(p.Models)
	c.entries.Put(sum, e, p.ExpiresAt)
}

func (c *tokenCache) len() int { return c.entries.Len() }
