package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/storetest"
)

// Every change to a key or a tenant, made through another handle on the
// file (as `aigate keys revoke` in another process), changes the
// generation that this handle reads, before the write returns.
func TestEveryKeyAndTenantWriteChangesTheGenerationOtherHandlesRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	reader, writer := openClosing(t, path), openClosing(t, path)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := storetest.NewKey("k1")
	revoked := *k
	revoked.Status, revoked.RevokedAt, revoked.Version = record.StatusRevoked, at, 2
	tenant := &store.Tenant{Name: "acme", CreatedAt: at, UpdatedAt: at, Version: 1}
	limited := *tenant
	limited.Limits.RPM, limited.Version = 10, 2
	for _, tc := range []struct {
		name  string
		write func(ctx context.Context) error
	}{
		{"create key", func(ctx context.Context) error { return writer.CreateKey(ctx, k, created(k)) }},
		{"revoke key", func(ctx context.Context) error {
			return writer.UpdateKey(ctx, &revoked, record.AuditEvent{Action: record.ActionRevoked, Actor: "test", At: at})
		}},
		{"create tenant", func(ctx context.Context) error {
			return writer.PutTenant(ctx, tenant, store.TenantEvent{Action: "created", Actor: "test", At: at})
		}},
		{"update tenant", func(ctx context.Context) error {
			return writer.PutTenant(ctx, &limited, store.TenantEvent{Action: "updated", Actor: "test", At: at})
		}},
	} {
		before, err := reader.KeysGeneration()
		if err != nil {
			t.Fatalf("%s: KeysGeneration before: %v", tc.name, err)
		}
		if err := tc.write(t.Context()); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		after, err := reader.KeysGeneration()
		if err != nil {
			t.Fatalf("%s: KeysGeneration after: %v", tc.name, err)
		}
		if after == before {
			t.Errorf("%s: generation still %d", tc.name, after)
		}
	}
}

// Reads and ledger writes leave the generation alone: a cache keyed on it
// is not emptied by every request.
func TestReadsAndLedgerWritesKeepTheGeneration(t *testing.T) {
	s := openClosing(t, filepath.Join(t.TempDir(), "aigate.db"))
	k := storetest.NewKey("k1")
	if err := s.CreateKey(t.Context(), k, created(k)); err != nil {
		t.Fatal(err)
	}
	before, err := s.KeysGeneration()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKey(t.Context(), "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListKeys(t.Context(), store.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExpireReservations(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if after, err := s.KeysGeneration(); err != nil || after != before {
		t.Errorf("KeysGeneration = %d, %v; want %d unchanged", after, err, before)
	}
}

// Concurrent writers in several handles never leave the generation at a
// value a reader noted before their writes (the counter race a random
// value avoids).
func TestConcurrentWritersEachChangeTheGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	reader := openClosing(t, path)
	writers := []*Store{openClosing(t, path), openClosing(t, path), openClosing(t, path)}
	seen := map[uint64]bool{}
	g, err := reader.KeysGeneration()
	if err != nil {
		t.Fatal(err)
	}
	seen[g] = true
	for round := range 20 {
		var wg sync.WaitGroup
		for i, w := range writers {
			wg.Go(func() {
				k := storetest.NewKey(string(rune('a'+i)) + string(rune('a'+round)))
				if err := w.CreateKey(t.Context(), k, created(k)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		g, err := reader.KeysGeneration()
		if err != nil {
			t.Fatal(err)
		}
		if seen[g] {
			t.Fatalf("round %d: generation %d seen before", round, g)
		}
		seen[g] = true
	}
}

func TestGenerationFileIsPrivateAndCannotBeReadAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	s := open(t, path)
	fi, err := os.Stat(path + keysGenSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != 8 {
		t.Errorf("generation file mode %v size %d, want 0600, 8 bytes", fi.Mode().Perm(), fi.Size())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KeysGeneration(); err == nil {
		t.Error("KeysGeneration after Close: nil error, want one")
	}
}

// A generation file cut short (by hand, or a crash while it was being
// created) is given a value at the next Open, not read as one.
func TestOpenRepairsAnEmptyGenerationFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	if err := open(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path+keysGenSuffix, 3); err != nil {
		t.Fatal(err)
	}
	s := openClosing(t, path)
	if _, err := s.KeysGeneration(); err != nil {
		t.Errorf("KeysGeneration after reopening a short file: %v", err)
	}
}

// BenchmarkKeysGeneration is the cost a key cache pays per decision to
// know that no key changed, against BenchmarkGetKey's store read.
func BenchmarkKeysGeneration(b *testing.B) {
	s := openClosing(b, filepath.Join(b.TempDir(), "aigate.db"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.KeysGeneration(); err != nil {
			b.Fatal(err)
		}
	}
}
