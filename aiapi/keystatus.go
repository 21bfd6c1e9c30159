package aiapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/internal/ttlcache"
	"github.com/aigate/aigate/record"
)

// keyStatusCacheSize bounds the key status cache; past it the least
// recently used entry goes (ttlcache), as in authz's key cache.
const keyStatusCacheSize = 10000

// keyStatus reads API keys' status and secrets back from the store, at most
// ttl stale. It exists because API Gateway caches the authorizer's Allow
// (300 s by default) per credential: without it a revoked key, or a secret
// that a rotation replaced, would keep working that long.
type keyStatus struct {
	keys authz.KeyStore
	ttl  time.Duration
	now  func() time.Time

	entries *ttlcache.Cache[string, keyEntry]
}

type keyEntry struct {
	usable  bool      // active when loaded
	expires time.Time // the key's expiry; zero: never
	// current and previous are the fingerprints (record.SecretFingerprint)
	// of the key's secret hashes; previous is accepted until
	// previousUntil, the end of a rotation's grace.
	current, previous string
	previousUntil     time.Time
	version           int64
	loaded            time.Time
}

func newKeyStatus(keys authz.KeyStore, ttl time.Duration, now func() time.Time) *keyStatus {
	return &keyStatus{keys: keys, ttl: ttl, now: now, entries: ttlcache.New[string, keyEntry](keyStatusCacheSize)}
}

// usable reports whether the key may still be used with the secret whose
// fingerprint the authorizer put in the context. An error means the status
// could not be read, and the caller must fail closed.
func (k *keyStatus) usable(ctx context.Context, id, fingerprint string) (bool, error) {
	now := k.now()
	// An entry loaded "after" now (the clock went back) is reloaded too.
	e, ok := k.entries.Get(id, now)
	if !ok || now.Before(e.loaded) {
		key, err := k.keys.GetKey(ctx, id)
		switch {
		case errors.Is(err, record.ErrNotFound):
			e = keyEntry{loaded: now}
		case err != nil:
			return false, fmt.Errorf("aiapi: read status of key %s: %w", id, err)
		default:
			e = keyEntry{
				usable: key.Status == record.StatusActive, expires: key.ExpiresAt,
				current: record.SecretFingerprint(key.SecretHash), previous: record.SecretFingerprint(key.PreviousSecretHash),
				previousUntil: key.PreviousExpiresAt, version: key.Version, loaded: now,
			}
		}
		k.entries.Put(id, e, now.Add(k.ttl))
	}
	return e.usable && (e.expires.IsZero() || now.Before(e.expires)) && e.secretAccepted(fingerprint, now), nil
}

// secretAccepted reports whether the secret with that fingerprint is one
// the key accepts at now: its current secret, or the previous one until a
// rotation's grace ends. The fingerprints are not secrets (they only name a
// stored hash), so a plain comparison is fine.
//
// A context without a fingerprint comes from an authorizer older than this
// check, whose Allow API Gateway may still hold for its TTL after an
// upgrade. It is accepted only for a key that has never changed (version 1):
// such a key has had one secret only, so whichever was presented is current.
func (e keyEntry) secretAccepted(fingerprint string, now time.Time) bool {
	switch {
	case fingerprint == "":
		return e.version == 1
	case fingerprint == e.current:
		return true
	default:
		return e.previous != "" && fingerprint == e.previous && now.Before(e.previousUntil)
	}
}
