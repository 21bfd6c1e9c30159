// Package ttlcache is aigate's one in-memory cache: a bounded map whose
// entries answer until their expiry, least recently used evicted first.
// It only saves work (a store read, a signature check, an authorizer
// invocation): dropping an entry must never change an answer.
package ttlcache

import (
	"sync"
	"time"
)

// Cache maps keys to values, each until its expiry, holding at most max
// entries. It is safe for concurrent use.
//
// Eviction: an expired entry goes when it is next read; past max entries
// the least recently used (read or written) goes. A caller's own
// staleness rule (a key set that lost a key, a clock that went back) is a
// Remove after Get.
//
// Copies: a value is stored and returned as Go assigns it, so a value
// that holds references (a pointer, a slice, a map) is shared by every
// caller that gets it. Store only values no one mutates after Put, and
// clone what a caller may modify on its way out (as authz and jwtauth do).
type Cache[K comparable, V any] struct {
	mu      sync.Mutex
	max     int
	entries map[K]*entry[K, V]
	// head is a sentinel of the circular recency list: head.next is the
	// most recently used entry, head.prev the least. An intrusive list
	// (rather than container/list) keeps Get free of allocations and
	// type assertions.
	head entry[K, V]
}

type entry[K comparable, V any] struct {
	key        K
	value      V
	expires    time.Time
	prev, next *entry[K, V]
}

// New returns a cache of at most size entries (size < 1 is taken as 1).
func New[K comparable, V any](size int) *Cache[K, V] {
	size = max(size, 1)
	c := &Cache[K, V]{max: size, entries: make(map[K]*entry[K, V], min(size, 1024))}
	c.head.prev, c.head.next = &c.head, &c.head
	return c
}

// Get returns the value for key if it is still live at now (now before its
// expiry), and marks it recently used. An expired entry is removed.
func (c *Cache[K, V]) Get(key K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		var zero V
		return zero, false
	}
	if !now.Before(e.expires) {
		c.drop(e)
		var zero V
		return zero, false
	}
	c.unlink(e)
	c.pushFront(e)
	return e.value, true
}

// Put stores value for key until expires, replacing any entry for key,
// and evicts the least recently used entries past the bound.
func (c *Cache[K, V]) Put(key K, value V, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		e.value, e.expires = value, expires
		c.unlink(e)
		c.pushFront(e)
		return
	}
	e := &entry[K, V]{key: key, value: value, expires: expires}
	c.entries[key] = e
	c.pushFront(e)
	for len(c.entries) > c.max {
		c.drop(c.head.prev)
	}
}

// Remove forgets key.
func (c *Cache[K, V]) Remove(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		c.drop(e)
	}
}

// Len is the number of entries held, expired ones not yet read included.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (c *Cache[K, V]) drop(e *entry[K, V]) {
	c.unlink(e)
	delete(c.entries, e.key)
}

func (c *Cache[K, V]) unlink(e *entry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (c *Cache[K, V]) pushFront(e *entry[K, V]) {
	e.prev, e.next = &c.head, c.head.next
	c.head.next.prev = e
	c.head.next = e
}
