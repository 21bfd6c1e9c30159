package gateway

import (
	"sync"
	"time"

	"github.com/aigate/aigate/internal/ttlcache"
)

// resultCache is one authorizer's result cache: authorizer outputs by
// identity-source values, each until its expiry. It holds at most max
// entries, least recently used evicted first (ttlcache: the cache only
// saves invocations, dropping an entry never changes a decision). An
// output is shared by every request that hits it and never written after
// its invocation.
//
// Concurrent misses on one key share one invocation (flights), so that a
// burst of new requests from one client does not queue up on an emulator
// that serves one invocation at a time.
type resultCache struct {
	entries *ttlcache.Cache[string, *authOutput]

	mu      sync.Mutex // guards flights
	flights map[string]*flight

	// followed, when set, is called (c.mu held; it must not block) each
	// time a request joins a flight it does not lead: tests learn from it
	// that requests wait, without sleeping. Nil outside tests.
	followed func()
}

// flight is one invocation that concurrent misses on a key wait for.
type flight struct {
	done    chan struct{} // closed when out, err and latency are set
	out     *authOutput
	err     error
	latency time.Duration
}

func newResultCache(max int) *resultCache {
	return &resultCache{entries: ttlcache.New[string, *authOutput](max), flights: map[string]*flight{}}
}

// get returns the live entry for key, or nil.
func (c *resultCache) get(key string, now time.Time) *authOutput {
	out, _ := c.entries.Get(key, now)
	return out
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
func (c *resultCache) land(key string, f *flight, expires time.Time) {
	if f.err == nil && f.out != nil {
		// Stored before the flight ends, so that a request arriving after
		// it finds the entry rather than leading a new flight.
		c.entries.Put(key, f.out, expires)
	}
	c.mu.Lock()
	delete(c.flights, key)
	c.mu.Unlock()
	close(f.done)
}

func (c *resultCache) len() int { return c.entries.Len() }

// parsedOutputs remembers an authorizer's checked outputs by their exact
// bytes. An authorizer invoked for every request (no identity source, or a
// TTL of 0, as `aigate serve`'s default is) answers the same bytes to the
// same caller time after time, and decoding and checking them (a policy
// document, a context) cost more than the rest of the gateway's work on
// the request. An output is a pure function of its bytes and the API's
// type, so a remembered one is the output parsing would give again:
// nothing is cached that API Gateway would not recompute identically, and
// the function is still invoked every time.
//
// It holds at most parsedOutputsMax outputs of at most parsedOutputMaxBytes
// each; when full, an arbitrary entry makes room (a miss only costs the
// parse it would have cost anyway).
type parsedOutputs struct {
	mu  sync.Mutex
	out map[string]*authOutput
}

const (
	parsedOutputsMax     = 1024
	parsedOutputMaxBytes = 16 << 10
)

// get returns the output parsed from raw before, or nil.
func (p *parsedOutputs) get(raw []byte) *authOutput {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out[string(raw)] // no copy: the compiler looks up by the bytes
}

// put remembers out as what raw parses to.
func (p *parsedOutputs) put(raw []byte, out *authOutput) {
	if len(raw) > parsedOutputMaxBytes {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out == nil {
		p.out = make(map[string]*authOutput)
	}
	if len(p.out) >= parsedOutputsMax {
		for k := range p.out {
			delete(p.out, k)
			break
		}
	}
	p.out[string(raw)] = out
}
