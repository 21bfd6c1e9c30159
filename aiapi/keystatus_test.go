package aiapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/record"
)

// memKeys is a KeyStore over one mutable key.
type memKeys struct {
	mu  sync.Mutex
	key record.Key
}

func (m *memKeys) GetKey(_ context.Context, id string) (*record.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id != m.key.ID {
		return nil, record.ErrNotFound
	}
	k := m.key
	return &k, nil
}

// rotate gives the key a new secret hash, keeping the old one for grace.
func (m *memKeys) rotate(hash []byte, now time.Time, grace time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.key.PreviousSecretHash, m.key.PreviousExpiresAt = nil, time.Time{}
	if grace > 0 {
		m.key.PreviousSecretHash, m.key.PreviousExpiresAt = m.key.SecretHash, now.Add(grace)
	}
	m.key.SecretHash = hash
	m.key.Version++
}

// A rotation stops the replaced secret within the status TTL, like a
// revocation, whatever API Gateway still caches for it: at once without a
// grace, at the end of the grace with one. The new secret works throughout.
func TestRotatedSecretIsRefusedWithinTheStatusTTL(t *testing.T) {
	const ttl = time.Second
	oldHash, newHash := []byte("hash of the old secret"), []byte("hash of the new secret")
	oldFP, newFP := record.SecretFingerprint(oldHash), record.SecretFingerprint(newHash)
	for _, tc := range []struct {
		name  string
		grace time.Duration
		// whether the old secret is accepted one TTL after the rotation,
		// and once the grace has ended (plus a TTL)
		oldAfterTTL, oldAfterGrace bool
	}{
		{"without grace", 0, false, false},
		{"with a grace", time.Hour, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			keys := &memKeys{key: record.Key{ID: "k1", Status: record.StatusActive, SecretHash: oldHash, Version: 1}}
			ks := newKeyStatus(keys, ttl, func() time.Time { return now })
			check := func(fp string, want bool) {
				t.Helper()
				got, err := ks.usable(context.Background(), "k1", fp)
				if err != nil || got != want {
					t.Fatalf("usable(%q) at %s = %v, %v; want %v", fp, now.Format(time.TimeOnly), got, err, want)
				}
			}
			check(oldFP, true)
			check(newFP, false) // not yet issued
			keys.rotate(newHash, now, tc.grace)
			now = now.Add(ttl)
			check(oldFP, tc.oldAfterTTL)
			check(newFP, true)
			now = now.Add(tc.grace)
			check(oldFP, tc.oldAfterGrace)
			check(newFP, true)
		})
	}
}

// A context without a fingerprint (from an authorizer older than the
// check) is taken only for a key that never changed, which has had one
// secret only.
func TestContextWithoutFingerprintIsTakenOnlyForAnUnchangedKey(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	keys := &memKeys{key: record.Key{ID: "k1", Status: record.StatusActive, SecretHash: []byte("h1"), Version: 1}}
	ks := newKeyStatus(keys, time.Second, func() time.Time { return now })
	if ok, err := ks.usable(context.Background(), "k1", ""); err != nil || !ok {
		t.Fatalf("unchanged key: %v, %v", ok, err)
	}
	keys.rotate([]byte("h2"), now, time.Hour)
	now = now.Add(time.Second)
	if ok, err := ks.usable(context.Background(), "k1", ""); err != nil || ok {
		t.Fatalf("rotated key: %v, %v; want refused", ok, err)
	}
	if ok, err := ks.usable(context.Background(), "k1", "0123456789abcdef"); err != nil || ok {
		t.Fatalf("unknown fingerprint: %v, %v; want refused", ok, err)
	}
}
