package authz_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/sqlite"
)

// generationStore is a countingStore with a KeysGeneration the test sets.
type generationStore struct {
	*countingStore
	gen    atomic.Uint64
	genErr atomic.Pointer[error]
}

func (s *generationStore) KeysGeneration() (uint64, error) {
	if err := s.genErr.Load(); err != nil {
		return 0, *err
	}
	return s.gen.Load(), nil
}

func (f *fixture) generationAuthorizer(t *testing.T, ttl time.Duration) (*authz.Authorizer, *generationStore) {
	t.Helper()
	gs := &generationStore{countingStore: f.store}
	a, err := authz.New(authz.Config{Keys: gs, Hasher: f.hasher, CacheTTL: ttl, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	return a, gs
}

func decideN(t *testing.T, a *authz.Authorizer, key string, n int) {
	t.Helper()
	for range n {
		if d, err := a.Decide(t.Context(), key); err != nil || d.Outcome != authz.Allow {
			t.Fatalf("Decide = %v, %v; want allow", d.Outcome, err)
		}
	}
}

// The cache answers while the generation stays, and reads the key again at
// the first decision after it changed, well within the TTL.
func TestCachedKeyIsReadAgainWhenTheGenerationChanges(t *testing.T) {
	f := newFixture(t)
	k := f.addKey(t, nil)
	a, gs := f.generationAuthorizer(t, time.Hour)
	decideN(t, a, k, 3)
	if n := f.store.reads.Load(); n != 1 {
		t.Fatalf("reads = %d, want 1 while the generation stays", n)
	}
	gs.gen.Add(1)
	decideN(t, a, k, 3)
	if n := f.store.reads.Load(); n != 2 {
		t.Fatalf("reads = %d, want 2: one more after the generation changed", n)
	}
}

// Fail closed: while the generation cannot be read, every decision reads
// the store, and nothing read meanwhile is served from the cache later.
func TestUnreadableGenerationReadsTheStore(t *testing.T) {
	f := newFixture(t)
	k := f.addKey(t, nil)
	a, gs := f.generationAuthorizer(t, time.Hour)
	decideN(t, a, k, 1) // cached under generation 0
	broken := errors.New("generation file gone")
	gs.genErr.Store(&broken)
	decideN(t, a, k, 3)
	if n := f.store.reads.Load(); n != 4 {
		t.Fatalf("reads = %d, want 4: every decision reads the store while the generation is unreadable", n)
	}
	gs.genErr.Store(nil)
	gs.gen.Add(1)
	decideN(t, a, k, 2)
	if n := f.store.reads.Load(); n != 5 {
		t.Fatalf("reads = %d, want 5: one read to fill the cache again", n)
	}
}

// sqliteKey creates an active key in s and returns its secret form.
func (f *fixture) sqliteKey(t testing.TB, s *sqlite.Store) (*record.Key, string) {
	t.Helper()
	full, k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	key := &record.Key{
		ID: k.ID, Name: "test", Tenant: "acme", Models: []string{"echo"},
		Status: record.StatusActive, SecretHash: f.hasher.Hash(k), CreatedAt: f.now, UpdatedAt: f.now, Version: 1,
	}
	if err := s.CreateKey(t.Context(), key, record.AuditEvent{Action: record.ActionCreated, Actor: "test", At: f.now}); err != nil {
		t.Fatal(err)
	}
	return key, full
}

func openSQLite(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A key revoked through a second handle on the database file, as `aigate
// keys revoke` in another process does, is refused by the next decision of
// an authorizer whose cache holds it, with an hour left on its TTL.
func TestKeyRevokedByAnotherProcessIsRefusedAtTheNextDecision(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "aigate.db")
	served, cli := openSQLite(t, path), openSQLite(t, path)
	key, full := f.sqliteKey(t, cli)
	a, err := authz.New(authz.Config{Keys: served, Hasher: f.hasher, CacheTTL: time.Hour, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	decideN(t, a, full, 2)

	revoked := *key
	revoked.Status, revoked.RevokedAt, revoked.Version = record.StatusRevoked, f.now, 2
	if err := cli.UpdateKey(t.Context(), &revoked, record.AuditEvent{Action: record.ActionRevoked, Actor: "test", At: f.now}); err != nil {
		t.Fatal(err)
	}
	d, err := a.Decide(t.Context(), full)
	if err != nil || d.Outcome != authz.Unauthorized || d.Reason != "revoked api key" {
		t.Fatalf("after revocation by another handle: %v %q, %v; want unauthorized, revoked api key", d.Outcome, d.Reason, err)
	}
}

// A change committed without the generation changing (a writer that died
// between its commit and its bump; here, SQL run on the file directly) is
// seen once the cache's TTL has passed: the TTL is the backstop that keeps
// "revocation within the TTL" true even then.
func TestTTLBoundsAChangeTheGenerationMissed(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "aigate.db")
	served := openSQLite(t, path)
	_, full := f.sqliteKey(t, served)
	const ttl = time.Second
	a, err := authz.New(authz.Config{Keys: served, Hasher: f.hasher, CacheTTL: ttl, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	decideN(t, a, full, 1)

	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `UPDATE keys SET status = 'revoked', version = version + 1`); err != nil {
		t.Fatal(err)
	}

	f.now = f.now.Add(ttl - time.Nanosecond)
	decideN(t, a, full, 1) // the cache still answers: nothing said the key changed
	f.now = f.now.Add(time.Nanosecond)
	if d, err := a.Decide(t.Context(), full); err != nil || d.Outcome != authz.Unauthorized {
		t.Fatalf("after the TTL: %v, %v; want unauthorized", d.Outcome, err)
	}
}

// BenchmarkAuthorizeAPIKeySQLite is a decision over the SQLite store as
// `aigate serve` makes it: with the key cache checked against the store's
// KeysGeneration (serve's default), and without a cache (serve before it).
func BenchmarkAuthorizeAPIKeySQLite(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Second}, {"uncached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b)
			s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "aigate.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			full, k, err := apikey.Generate()
			if err != nil {
				b.Fatal(err)
			}
			key := &record.Key{ID: k.ID, Name: "bench", Models: []string{"echo"}, Status: record.StatusActive,
				SecretHash: f.hasher.Hash(k), CreatedAt: f.now, UpdatedAt: f.now, Version: 1}
			if err := s.CreateKey(b.Context(), key, record.AuditEvent{Action: record.ActionCreated, Actor: "bench", At: f.now}); err != nil {
				b.Fatal(err)
			}
			a, err := authz.New(authz.Config{Keys: s, Hasher: f.hasher, CacheTTL: bc.ttl, Now: func() time.Time { return f.now }})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if d, err := a.Decide(b.Context(), full); err != nil || d.Outcome != authz.Allow {
					b.Fatal(d.Outcome, err)
				}
			}
		})
	}
}
