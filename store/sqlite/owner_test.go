package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/ledgerlog"
	"github.com/aigate/aigate/store/storetest"
)

func TestOwnerConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		o, err := OpenOwner(t.Context(), filepath.Join(t.TempDir(), "aigate.db"))
		if err != nil {
			t.Fatalf("OpenOwner: %v", err)
		}
		return o
	})
}

// writeLog writes records to the ledger log beside the database at db,
// after what it holds.
func writeLog(t *testing.T, db string, tail []byte, records ...ledgerlog.Record) {
	t.Helper()
	var b []byte
	for i := range records {
		b = ledgerlog.Append(b, &records[i])
	}
	f, err := os.OpenFile(db+logSuffix, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, tail...)); err != nil {
		t.Fatal(err)
	}
}

// crashLog is what a dead Owner left: r1 reserved and settled, r2
// reserved, both by key:p in the windows of at.
func crashLog(at time.Time) []ledgerlog.Record {
	w := quota.WindowsAt(at)
	r := func(id string) ledgerlog.Reservation {
		return ledgerlog.Reservation{ID: id, PrincipalID: "key:p", Model: "echo", Tokens: 100,
			Minute: w.Minute.UnixNano(), Day: w.Day.UnixNano(), Month: w.Month.UnixNano(),
			CreatedAt: at.UnixNano(), ExpiresAt: at.Add(time.Hour).UnixNano()}
	}
	return []ledgerlog.Record{
		{Seq: 1, Op: ledgerlog.OpReserve, Reservation: r("r1")},
		{Seq: 2, Op: ledgerlog.OpSettle, Reservation: r("r1"), Usage: ledgerlog.Usage{Prompt: 10, Completion: 20, At: at.UnixNano()}},
		{Seq: 3, Op: ledgerlog.OpReserve, Reservation: r("r2")},
	}
}

// TestReplayAppliesTheLogOnceAndCutsABadTail: what a dead Owner logged is
// in the database after the next open (by an Owner or a Store), once,
// however often the log is replayed, and a torn or corrupt last record
// (never acknowledged) is dropped.
func TestReplayAppliesTheLogOnceAndCutsABadTail(t *testing.T) {
	at := time.Now().UTC()
	settle2 := ledgerlog.Record{Seq: 4, Op: ledgerlog.OpSettle, Reservation: crashLog(at)[2].Reservation,
		Usage: ledgerlog.Usage{Prompt: 1, Completion: 1, At: at.UnixNano()}}
	frame := ledgerlog.Append(nil, &settle2)
	flipped := bytes.Clone(frame)
	flipped[len(flipped)-1] ^= 0x40
	for _, tc := range []struct {
		name    string
		tail    []byte
		owner   bool // opened by OpenOwner, else by Open
		twice   bool // the log replayed again after a first open (a crash between apply and truncate)
		settled []string
	}{
		{"owner", nil, true, false, []string{"r1"}},
		{"store", nil, false, false, []string{"r1"}},
		{"owner, torn tail", frame[:len(frame)-3], true, false, []string{"r1"}},
		{"owner, bad checksum", flipped, true, false, []string{"r1"}},
		{"store, bad checksum", flipped, false, false, []string{"r1"}},
		{"owner, whole tail", frame, true, false, []string{"r1", "r2"}},
		{"owner, replayed twice", nil, true, true, []string{"r1"}},
		{"store, replayed twice", nil, false, true, []string{"r1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "aigate.db")
			open(t, db).Close()
			writeLog(t, db, tc.tail, crashLog(at)...)
			reopen := func() store.Store {
				if tc.owner {
					o, err := OpenOwner(t.Context(), db)
					if err != nil {
						t.Fatal(err)
					}
					return o
				}
				return open(t, db)
			}
			if tc.twice {
				reopen().Close()
				writeLog(t, db, nil, crashLog(at)...)
			}
			s := reopen()
			defer s.Close()
			entries, err := s.Usage(t.Context(), quota.Query{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.RequestID)
			}
			if !slices.Equal(got, tc.settled) {
				t.Fatalf("ledger holds %v, want %v", got, tc.settled)
			}
			if empty, err := ledgerlog.Empty(db + logSuffix); err != nil || !empty {
				t.Fatalf("the log is not empty after the replay (%v)", err)
			}
			// r2 is pending unless settled: releasing it tells. The day
			// holds r1's 30 tokens, and r2's 100 reserved or 2 settled.
			err = s.Release(t.Context(), "r2")
			if pending := !slices.Contains(tc.settled, "r2"); pending != (err == nil) {
				t.Fatalf("Release r2 = %v, want it pending: %v", err, pending)
			}
			_, err = s.Reserve(t.Context(), quota.Reservation{ID: "probe", PrincipalID: "key:p", Tokens: 1,
				Windows: quota.WindowsAt(at), CreatedAt: at, ExpiresAt: at.Add(time.Hour)}, record.Limits{TokensPerDay: 1})
			var d *quota.Denial
			want := int64(30)
			if slices.Contains(tc.settled, "r2") {
				want += 2
			}
			if !errors.As(err, &d) || d.Used != want {
				t.Fatalf("probe Reserve = %v, want a denial with %d used", err, want)
			}
		})
	}
}

// TestOneOwnerPerDatabase: a second Owner is refused, naming the database
// and the first one's pid; a Store may read and write keys but not the
// ledger while an Owner runs; a Store that wrote the ledger keeps Owners
// out until it closes.
func TestOneOwnerPerDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "aigate.db")
	o, err := OpenOwner(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenOwner(t.Context(), db)
	if !errors.Is(err, ErrOwned) || !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second OpenOwner = %v, want ErrOwned naming %s and pid %d", err, db, os.Getpid())
	}

	s := open(t, db)
	if err := s.CreateKey(t.Context(), storetest.NewKey("k1"), record.AuditEvent{Action: record.ActionCreated}); err != nil {
		t.Fatalf("CreateKey beside an Owner: %v", err)
	}
	if _, err := o.GetKey(t.Context(), "k1"); err != nil {
		t.Fatalf("the Owner does not see the key: %v", err)
	}
	now := time.Now()
	r := quota.Reservation{ID: "x", PrincipalID: "key:k1", Tokens: 1, Windows: quota.WindowsAt(now), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, err := s.Reserve(t.Context(), r, record.Limits{}); !errors.Is(err, ErrOwned) {
		t.Fatalf("Store.Reserve beside an Owner = %v, want ErrOwned", err)
	}
	if _, err := s.ExpireReservations(t.Context(), now); !errors.Is(err, ErrOwned) {
		t.Fatalf("Store.ExpireReservations beside an Owner = %v, want ErrOwned", err)
	}
	if _, err := s.Usage(t.Context(), quota.Query{}); err != nil {
		t.Fatalf("Store.Usage beside an Owner: %v", err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}

	// Once the Owner is gone the Store writes the ledger, and holds it.
	if _, err := s.Reserve(t.Context(), r, record.Limits{}); err != nil {
		t.Fatalf("Store.Reserve after the Owner closed: %v", err)
	}
	_, err = OpenOwner(t.Context(), db)
	if !errors.Is(err, ErrOwned) || !strings.Contains(err.Error(), "writing its ledger") {
		t.Fatalf("OpenOwner beside a Store writing the ledger = %v, want ErrOwned saying so", err)
	}
	s.Close()
	o, err = OpenOwner(t.Context(), db)
	if err != nil {
		t.Fatalf("OpenOwner after the Store closed: %v", err)
	}
	defer o.Close()
	if err := o.Release(t.Context(), "x"); err != nil {
		t.Fatalf("the Owner did not load the Store's reservation: %v", err)
	}
}

// TestOwnerNeverOverspendsAndKeepsWhatItAdmitted: 64 goroutines reserve
// and settle against one day budget; exactly what fits is admitted, and
// after a reopen the windows still hold it.
func TestOwnerNeverOverspendsAndKeepsWhatItAdmitted(t *testing.T) {
	db := filepath.Join(t.TempDir(), "aigate.db")
	o, err := OpenOwner(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	const budget, bound, real = 10_000, 100, 60
	limits := record.Limits{TokensPerDay: budget}
	now := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted int64
	)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				r := quota.Reservation{ID: fmt.Sprintf("g%d-%d", g, i), PrincipalID: "key:p", Tokens: bound,
					Windows: quota.WindowsAt(now), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				_, err := o.Reserve(t.Context(), r, limits)
				var d *quota.Denial
				if errors.As(err, &d) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := o.Settle(t.Context(), quota.Settlement{Reservation: r, PromptTokens: real / 2, CompletionTokens: real / 2, At: now}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	entries, err := o.Usage(t.Context(), quota.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(entries)) != admitted || admitted == 0 || admitted*real > budget {
		t.Fatalf("%d admitted, %d in the ledger: %d tokens of %d", admitted, len(entries), admitted*real, budget)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o, err = OpenOwner(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	r := quota.Reservation{ID: "after", PrincipalID: "key:p", Tokens: budget, Windows: quota.WindowsAt(now), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	_, err = o.Reserve(t.Context(), r, limits)
	var d *quota.Denial
	if !errors.As(err, &d) || d.Used != admitted*real {
		t.Fatalf("Reserve after reopening = %v, want a denial with %d used", err, admitted*real)
	}
}

// BenchmarkReserveSettleStoreVsOwner is one request's ledger work, Reserve then
// Settle, through a Store (two SQLite write transactions) and through an
// Owner (memory and two log appends), alone and from parallel callers.
func BenchmarkReserveSettleStoreVsOwner(b *testing.B) {
	for _, kind := range []string{"store", "owner"} {
		for _, parallel := range []bool{false, true} {
			name := kind
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				db := filepath.Join(b.TempDir(), "aigate.db")
				var l quota.Ledger
				if kind == "owner" {
					o, err := OpenOwner(b.Context(), db)
					if err != nil {
						b.Fatal(err)
					}
					defer o.Close()
					l = o
				} else {
					s := open(b, db)
					defer s.Close()
					l = s
				}
				limits := record.Limits{RPM: 1 << 40, TPM: 1 << 40, TokensPerDay: 1 << 50}
				var n atomic.Int64
				one := func() {
					now := time.Now()
					r := quota.Reservation{ID: fmt.Sprintf("r%d", n.Add(1)), PrincipalID: "key:bench", Model: "echo", Tokens: 100,
						Windows: quota.WindowsAt(now), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
					if _, err := l.Reserve(b.Context(), r, limits); err != nil {
						b.Error(err)
						return
					}
					if _, err := l.Settle(b.Context(), quota.Settlement{Reservation: r, PromptTokens: 10, CompletionTokens: 20, At: now}); err != nil {
						b.Error(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				if parallel {
					b.SetParallelism(8) // 16 callers on 2 cores
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							one()
						}
					})
				} else {
					for b.Loop() {
						one()
					}
				}
			})
		}
	}
}

// BenchmarkOwnerReserveSettleApplied is one request's ledger work through
// an Owner with its applier's share included: b.N Reserve+Settle pairs,
// then the wait until SQLite holds them all. cpu-ns/op is the process's
// CPU time (user and system, every goroutine) per pair: on a machine
// where the CPU is the limit, that and not the wall time bounds the
// server's throughput.
func BenchmarkOwnerReserveSettleApplied(b *testing.B) {
	for _, callers := range []int{1, 16} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			o, err := OpenOwner(b.Context(), filepath.Join(b.TempDir(), "aigate.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			limits := record.Limits{RPM: 1 << 40, TPM: 1 << 40, TokensPerDay: 1 << 50}
			var n atomic.Int64
			one := func() {
				now := time.Now()
				r := quota.Reservation{ID: fmt.Sprintf("r%d", n.Add(1)), PrincipalID: "key:bench", Model: "echo", Tokens: 100,
					Windows: quota.WindowsAt(now), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
				if _, err := o.Reserve(b.Context(), r, limits); err != nil {
					b.Error(err)
					return
				}
				if _, err := o.Settle(b.Context(), quota.Settlement{Reservation: r, PromptTokens: 10, CompletionTokens: 20, At: now}); err != nil {
					b.Error(err)
				}
			}
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / callers
			for c := range callers {
				k := per
				if c == 0 {
					k += b.N % callers
				}
				wg.Go(func() {
					for range k {
						one()
					}
				})
			}
			wg.Wait()
			o.mu.Lock()
			seq := o.seq
			o.mu.Unlock()
			if err := o.waitApplied(b.Context(), seq); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
