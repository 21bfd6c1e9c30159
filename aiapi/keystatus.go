package aiapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aigate/aigate/authz"
)

// keyStatusCacheSize bounds the key status cache; past it an arbitrary entry
// goes, as in authz's key cache.
const keyStatusCacheSize = 10000

// keyStatus reads API keys' status back from the store, at most ttl stale.
// It exists because API Gateway caches the authorizer's Allow (300 s by
// default): without it a revoked key would keep working that long.
type keyStatus struct {
	keys authz.KeyStore
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]keyEntry
}

type keyEntry struct {
	usable  bool      // active when loaded
	expires time.Time // the key's expiry; zero: never
	loaded  time.Time
}

func newKeyStatus(keys authz.KeyStore, ttl time.Duration, now func() time.Time) *keyStatus {
	return &keyStatus{keys: keys, ttl: ttl, now: now, entries: map[string]keyEntry{}}
}

// usable reports whether the key may still be used. An error means the
// status could not be read, and the caller must fail closed.
func (k *keyStatus) usable(ctx context.Context, id string) (bool, error) {
	now := k.now()
	k.mu.Lock()
	e, ok := k.entries[id]
	k.mu.Unlock()
	if !ok || now.Sub(e.loaded) >= k.ttl || now.Before(e.loaded) {
		key, err := k.keys.GetKey(ctx, id)
		switch {
		case errors.Is(err, authz.ErrNotFound):
			e = keyEntry{loaded: now}
		case err != nil:
			return false, fmt.Errorf("aiapi: read status of key %s: %w", id, err)
		default:
			e = keyEntry{usable: key.Status == authz.StatusActive, expires: key.ExpiresAt, loaded: now}
		}
		k.mu.Lock()
		if _, ok := k.entries[id]; !ok && len(k.entries) >= keyStatusCacheSize {
			for old := range k.entries {
				delete(k.entries, old)
				break
			}
		}
		k.entries[id] = e
		k.mu.Unlock()
	}
	return e.usable && (e.expires.IsZero() || now.Before(e.expires)), nil
}
