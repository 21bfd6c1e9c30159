package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "aigate.db"))
	})
}

// open opens path; the caller closes the store.
func open(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// openClosing opens path and closes the store when the test ends.
func openClosing(t testing.TB, path string) *Store {
	t.Helper()
	s := open(t, path)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func created(k *record.Key) record.AuditEvent {
	return record.AuditEvent{KeyID: k.ID, Action: record.ActionCreated, Actor: "test", At: k.CreatedAt}
}

func TestReopeningKeepsKeysAndHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	s := open(t, path)
	k := storetest.NewKey("k1")
	if err := s.CreateKey(t.Context(), k, created(k)); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	next := *k
	next.Status, next.RevokedAt, next.Version = record.StatusRevoked, k.CreatedAt.Add(time.Hour), 2
	if err := s.UpdateKey(t.Context(), &next, record.AuditEvent{Action: record.ActionRevoked, Actor: "test", At: next.RevokedAt}); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openClosing(t, path)
	got, err := s.GetKey(t.Context(), "k1")
	if err != nil {
		t.Fatalf("GetKey after reopening: %v", err)
	}
	if got.Version != 2 || got.Status != record.StatusRevoked || !got.RevokedAt.Equal(next.RevokedAt) {
		t.Errorf("after reopening: version %d status %q revoked %v, want 2 revoked %v", got.Version, got.Status, got.RevokedAt, next.RevokedAt)
	}
	evs, err := s.KeyHistory(t.Context(), "k1")
	if err != nil || len(evs) != 2 {
		t.Errorf("KeyHistory after reopening = %+v, %v; want 2 events", evs, err)
	}
}

// The database holds key hashes: only its owner may read it, nor the WAL
// that holds its recent changes.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	s := openClosing(t, path)
	k := storetest.NewKey("k1")
	if err := s.CreateKey(t.Context(), k, created(k)); err != nil { // so that the WAL exists
		t.Fatalf("CreateKey: %v", err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", filepath.Base(name), mode)
		}
	}
}

func TestOpeningAnExistingFileKeepsItsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil { // past the umask
		t.Fatal(err)
	}
	openClosing(t, path)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after Open = %v, %v; want the operator's -rw-r-----", fi.Mode().Perm(), err)
	}
}

func userVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&v); err != nil {
		t.Fatalf("read user_version: %v", err)
	}
	return v
}

func TestMigrationSetsUserVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	if err := open(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	if v := userVersion(t, path); v != len(migrations) {
		t.Fatalf("user_version = %d, want %d", v, len(migrations))
	}
	// Reopening an up-to-date database runs no migration again (it would
	// fail: the tables exist).
	if err := open(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	if v := userVersion(t, path); v != len(migrations) {
		t.Errorf("user_version after reopening = %d, want %d", v, len(migrations))
	}
}

func TestOpenRefusesADatabaseFromANewerBuild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a database from a newer build")
	}
	// The error tells the operator what is wrong and what to do.
	want := fmt.Sprintf("schema version %d is newer than this build knows (%d): use a newer aigate", len(migrations)+1, len(migrations))
	if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "sqlite: ") {
		t.Errorf("Open = %q, want a sqlite error saying %q", err, want)
	}
	if v := userVersion(t, path); v != len(migrations)+1 {
		t.Errorf("user_version = %d after the refusal: the newer database was changed", v)
	}
}

func TestOpenRefusesAFileThatIsNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("this is not an sqlite database, but it is long enough to have a header: listen: 127.0.0.1:8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), path); err == nil {
		s.Close()
		t.Fatal("Open succeeded on a text file")
	}
}

func TestOpenFailsWithoutTheDirectory(t *testing.T) {
	if s, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing", "aigate.db")); err == nil {
		s.Close()
		t.Fatal("Open created the missing directory, want an error")
	}
}

// The path goes into a file: URI; characters that mean something there must
// still name the file.
func TestPathWithURICharactersNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "odd ?name#with%25 chars.db")
	s := openClosing(t, path)
	k := storetest.NewKey("k1")
	if err := s.CreateKey(t.Context(), k, created(k)); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at its path: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		switch strings.TrimPrefix(e.Name(), filepath.Base(path)) {
		case "", "-wal", "-shm", keysGenSuffix:
		default:
			t.Errorf("stray file %q", e.Name())
		}
	}
}

// The CLI changes keys while the server runs: each must see the other's
// writes at once.
func TestStoresOnOneFileSeeEachOthersWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	server, cli := openClosing(t, path), openClosing(t, path)
	ctx := t.Context()

	k := storetest.NewKey("k1")
	if err := cli.CreateKey(ctx, k, created(k)); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	got, err := server.GetKey(ctx, "k1")
	if err != nil {
		t.Fatalf("server GetKey after the CLI created it: %v", err)
	}
	got.Status, got.Version = record.StatusExpired, got.Version+1
	if err := server.UpdateKey(ctx, got, record.AuditEvent{Action: record.ActionExpired, Actor: "server", At: got.UpdatedAt}); err != nil {
		t.Fatalf("server UpdateKey: %v", err)
	}
	if again, err := cli.GetKey(ctx, "k1"); err != nil || again.Status != record.StatusExpired || again.Version != 2 {
		t.Fatalf("CLI GetKey after the server's update = %+v, %v; want expired at version 2", again, err)
	}
	// The CLI revoking from the version it read before the server's update
	// must lose.
	stale := *k
	stale.Status, stale.Version = record.StatusRevoked, 2
	if err := cli.UpdateKey(ctx, &stale, record.AuditEvent{Action: record.ActionRevoked, Actor: "cli"}); !errors.Is(err, record.ErrConflict) {
		t.Errorf("CLI UpdateKey from a stale version = %v, want ErrConflict", err)
	}
	if list, err := server.ListKeys(ctx, store.ListOptions{}); err != nil || len(list) != 1 {
		t.Errorf("server ListKeys = %d keys, %v; want 1", len(list), err)
	}
	if evs, err := server.KeyHistory(ctx, "k1"); err != nil || len(evs) != 2 {
		t.Errorf("server KeyHistory = %+v, %v; want created, expired", evs, err)
	}
}

// Across processes the write lock, not database/sql's single connection,
// serializes writers: BEGIN IMMEDIATE and the busy timeout must hold there too.
func TestConcurrentUpdatesAcrossStoresHaveOneWinner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	stores := []*Store{openClosing(t, path), openClosing(t, path), openClosing(t, path), openClosing(t, path)}
	k := storetest.NewKey("k1")
	if err := stores[0].CreateKey(t.Context(), k, created(k)); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	const writers = 16
	var (
		wg   sync.WaitGroup
		errs [writers]error
	)
	for i := range writers {
		next := *k
		next.Name, next.Version = fmt.Sprint("writer ", i), 2
		wg.Go(func() {
			errs[i] = stores[i%len(stores)].UpdateKey(context.Background(), &next, record.AuditEvent{Action: record.ActionRotated, Actor: next.Name})
		})
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, record.ErrConflict):
			t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d writers won, want 1", wins)
	}
	if evs, err := stores[1].KeyHistory(t.Context(), "k1"); err != nil || len(evs) != 2 {
		t.Errorf("KeyHistory = %d events, %v; want 2", len(evs), err)
	}
}

// The conformance suite asks for milliseconds; this store keeps nanoseconds.
func TestTimesKeepNanoseconds(t *testing.T) {
	s := openClosing(t, filepath.Join(t.TempDir(), "aigate.db"))
	k := storetest.NewKey("k1")
	k.CreatedAt = time.Date(2030, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("CET", 3600))
	k.RevokedAt = time.Unix(0, 1) // the first nanosecond after the epoch is not the zero time
	if err := s.CreateKey(t.Context(), k, created(k)); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	got, err := s.GetKey(t.Context(), "k1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(k.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, k.CreatedAt)
	}
	if !got.RevokedAt.Equal(k.RevokedAt) {
		t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, k.RevokedAt)
	}
}

func TestTimesOutsideInt64NanosecondsAreRefused(t *testing.T) {
	s := openClosing(t, filepath.Join(t.TempDir(), "aigate.db"))
	for _, at := range []time.Time{
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), // a "never" some callers reach for
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		k := storetest.NewKey("k1")
		k.ExpiresAt = at
		if err := s.CreateKey(t.Context(), k, created(k)); err == nil {
			t.Errorf("CreateKey with ExpiresAt %v succeeded, want an error", at)
		}
		ev := created(storetest.NewKey("k2"))
		ev.At = at
		if err := s.CreateKey(t.Context(), storetest.NewKey("k2"), ev); err == nil {
			t.Errorf("CreateKey with event at %v succeeded, want an error", at)
		}
	}
}

func TestErrorsNameThePackage(t *testing.T) {
	s := openClosing(t, filepath.Join(t.TempDir(), "aigate.db"))
	_, err := s.GetKey(t.Context(), "missing")
	if want := `sqlite: get key "missing": not found`; err == nil || err.Error() != want {
		t.Errorf("GetKey error = %v, want %q", err, want)
	}
}

func benchStore(b *testing.B) (*Store, *record.Key) {
	s := openClosing(b, filepath.Join(b.TempDir(), "aigate.db"))
	// A realistic table: the key looked up is one of many.
	for i := range 1000 {
		k := storetest.NewKey(fmt.Sprintf("key%04d", i))
		if err := s.CreateKey(b.Context(), k, created(k)); err != nil {
			b.Fatal(err)
		}
	}
	k, err := s.GetKey(b.Context(), "key0500")
	if err != nil {
		b.Fatal(err)
	}
	return s, k
}

func BenchmarkGetKey(b *testing.B) {
	s, k := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetKey(ctx, k.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetKeyParallel(b *testing.B) {
	s, k := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer() // RunParallel, unlike b.Loop, would time the setup
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GetKey(ctx, k.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUpdateKey(b *testing.B) {
	s, k := benchStore(b)
	ctx := b.Context()
	ev := record.AuditEvent{Action: record.ActionRotated, Actor: "bench", At: k.UpdatedAt}
	b.ReportAllocs()
	for b.Loop() {
		k.Version++
		if err := s.UpdateKey(ctx, k, ev); err != nil {
			b.Fatal(err)
		}
	}
}
