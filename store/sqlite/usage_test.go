package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/storetest"
)

var t0 = time.Date(2026, time.November, 25, 14, 53, 12, 0, time.UTC)

func pendingReservation(id string, tokens int64, at time.Time) quota.Reservation {
	return quota.Reservation{ID: id, PrincipalID: "p", Tenant: "acme", Model: "echo", Tokens: tokens,
		Windows: quota.WindowsAt(at), CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
}

// A process killed mid-request leaves its reservation pending in the file;
// the next process releases it once it has expired, and the budget is whole.
func TestReservationOfAKilledProcessIsReleasedAfterExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	l := record.Limits{TokensPerDay: 1000}
	dead := open(t, path)
	if _, err := dead.Reserve(t.Context(), pendingReservation("orphan", 800, t0), l); err != nil {
		t.Fatal(err)
	}
	// The "process" dies: no Settle, no Release. Close only releases the
	// file, as the kernel would.
	if err := dead.Close(); err != nil {
		t.Fatal(err)
	}

	s := openClosing(t, path)
	ctx := t.Context()
	if _, err := s.Reserve(ctx, pendingReservation("blocked", 201, t0), l); err == nil {
		t.Fatal("the orphaned reservation was not counted after reopening")
	}
	if n, err := s.ExpireReservations(ctx, t0.Add(30*time.Second)); err != nil || n != 0 {
		t.Fatalf("ExpireReservations before the expiry = %d, %v; want 0", n, err)
	}
	if n, err := s.ExpireReservations(ctx, t0.Add(time.Minute+time.Millisecond)); err != nil || n != 1 {
		t.Fatalf("ExpireReservations after the expiry = %d, %v; want 1", n, err)
	}
	if _, err := s.Reserve(ctx, pendingReservation("after", 1000, t0), l); err != nil {
		t.Errorf("the whole budget is not back: %v", err)
	}
}

// A database made by a keys-only build (schema version 1) gains the quota
// tables and keeps its keys.
func TestMigrationFromVersionOneKeepsKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), migrations[0]+"; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := openClosing(t, path)
	k := storetest.NewKey("k1")
	if err := s.CreateKey(t.Context(), k, created(k)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve(t.Context(), pendingReservation("r", 1, t0), record.Limits{}); err != nil {
		t.Fatalf("Reserve after migrating: %v", err)
	}
	if v := userVersion(t, path); v != len(migrations) {
		t.Errorf("user_version = %d, want %d", v, len(migrations))
	}
}

// Two processes sharing the file (the server and another instance) must not
// together overspend: the check and the increment are one IMMEDIATE
// transaction.
func TestConcurrentReservesAcrossStoresKeepTheBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	stores := []*Store{openClosing(t, path), openClosing(t, path), openClosing(t, path)}
	const n, tries = 10, 48
	l := record.Limits{TPM: n * 10}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range tries {
		wg.Go(func() {
			_, err := stores[i%len(stores)].Reserve(context.Background(), pendingReservation(fmt.Sprint("r", i), 10, t0), l)
			var d *quota.Denial
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case !errors.As(err, &d):
				t.Errorf("Reserve: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != n {
		t.Errorf("%d reservations won, want %d", wins, n)
	}
}

func TestEndedWindowsArePruned(t *testing.T) {
	s := openClosing(t, filepath.Join(t.TempDir(), "aigate.db"))
	ctx := t.Context()
	if _, err := s.Reserve(ctx, pendingReservation("old", 5, t0), record.Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: "old"}, PromptTokens: 1, At: t0}); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM quota_windows`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := s.ExpireReservations(ctx, t0.Add(time.Hour)); err != nil || count() != 3 {
		t.Fatalf("an hour later: %d windows, %v; want all 3 kept", count(), err)
	}
	if _, err := s.ExpireReservations(ctx, t0.AddDate(0, 0, 5)); err != nil || count() != 1 {
		t.Fatalf("five days later: %d windows, %v; want only the month", count(), err)
	}
	if _, err := s.ExpireReservations(ctx, t0.AddDate(0, 3, 0)); err != nil || count() != 0 {
		t.Fatalf("three months later: %d windows, %v; want none", count(), err)
	}
	if es, err := s.Usage(ctx, quota.Query{}); err != nil || len(es) != 1 {
		t.Errorf("pruning touched the ledger: %d entries, %v", len(es), err)
	}
}

// BenchmarkReserveSettle is the store's share of every AI API request: two
// write transactions.
func BenchmarkReserveSettle(b *testing.B) {
	s := openClosing(b, filepath.Join(b.TempDir(), "aigate.db"))
	ctx := b.Context()
	l := record.Limits{RPM: 1 << 40, TPM: 1 << 40, TokensPerDay: 1 << 40, TokensPerMonth: 1 << 40}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		id := fmt.Sprint("r", i)
		if _, err := s.Reserve(ctx, pendingReservation(id, 100, t0), l); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: id}, PromptTokens: 10, CompletionTokens: 20, At: t0}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReserveSettleParallel(b *testing.B) {
	s := openClosing(b, filepath.Join(b.TempDir(), "aigate.db"))
	ctx := b.Context()
	var (
		mu sync.Mutex
		i  int
	)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			id := fmt.Sprint("r", i)
			mu.Unlock()
			if _, err := s.Reserve(ctx, pendingReservation(id, 100, t0), record.Limits{}); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: id}, PromptTokens: 10, At: t0}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReserveSettleWithTenant is BenchmarkReserveSettle for a request
// that also counts in its tenant's windows, with USD budgets on both: the
// cost of a tenant (three more window rows in each transaction).
func BenchmarkReserveSettleWithTenant(b *testing.B) {
	s := openClosing(b, filepath.Join(b.TempDir(), "aigate.db"))
	ctx := b.Context()
	l := record.Limits{RPM: 1 << 40, TokensPerDay: 1 << 40, USDPerDay: 1 << 50, USDPerMonth: 1 << 50}
	tl := l
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		r := pendingReservation(fmt.Sprint("r", i), 100, t0)
		r.CostMicros, r.TenantLimits = 1_000, &tl
		if _, err := s.Reserve(ctx, r, l); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: r.ID}, PromptTokens: 10, CompletionTokens: 20, CostMicros: 40, At: t0}); err != nil {
			b.Fatal(err)
		}
	}
}
