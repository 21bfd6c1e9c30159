package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// The tests of a reservation that outlives its expiry, or not: Extend, and
// Settle of a reservation no longer pending (quota.Ledger states both).

// lapseTests are registered in usageTests.
func lapseTests() []conformanceTest {
	return []conformanceTest{
		{"ExtendMovesAPendingExpiryLaterNeverEarlier", testExtend},
		{"ExtendOfAReservationNotPendingFailsWithErrNotFound", testExtendNotPending},
		{"SettleAfterExpiryRecordsTheUsageLate", testSettleAfterExpiry},
		{"SettleAfterReleaseRecordsTheUsageLate", testSettleAfterRelease},
		{"SettleOfASettledRequestChangesNothing", testSettleOfSettledRequest},
		{"ExtendRacingExpiryEitherExtendsOrFindsItGone", testExtendRacingExpiry},
		{"ConcurrentSettlesOfOneRequestRecordItOnce", testConcurrentSettlesOfOneRequest},
		{"SettledEntryKeepsTheReservationsProtocol", testSettledEntryKeepsProtocol},
	}
}

func settlement(r quota.Reservation, prompt, completion int64, at time.Time) quota.Settlement {
	return quota.Settlement{Reservation: r, PromptTokens: prompt, CompletionTokens: completion, At: at}
}

func mustExpire(t *testing.T, s store.Store, now time.Time, want int) {
	t.Helper()
	if n, err := s.ExpireReservations(t.Context(), now); err != nil || n != want {
		t.Fatalf("ExpireReservations(%v) = %d, %v; want %d", now, n, err, want)
	}
}

// holds checks that the windows of r's principal at r's time hold exactly
// tokens (of a day budget of 10,000).
func holds(t *testing.T, s store.Store, r quota.Reservation, tokens int64, what string) {
	t.Helper()
	probe := record.Limits{TokensPerDay: 10_000}
	if left := probe.TokensPerDay - tokens; !fits(t, s, r.PrincipalID, left, r.CreatedAt, probe) ||
		fits(t, s, r.PrincipalID, left+1, r.CreatedAt, probe) {
		t.Errorf("%s: the day does not hold exactly %d tokens", what, tokens)
	}
}

func testExtend(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := reservation("r1", "p", 400, usageBase)
	mustReserve(t, s, r, record.Limits{})
	later := r.ExpiresAt.Add(time.Hour)
	if err := s.Extend(ctx, "r1", later); err != nil {
		t.Fatalf("Extend of a pending reservation: %v", err)
	}
	// The old expiry has passed, the new one has not: still pending.
	mustExpire(t, s, r.ExpiresAt.Add(time.Minute), 0)
	holds(t, s, r, 400, "extended reservation")
	// An earlier expiry leaves it as it is, and succeeds.
	if err := s.Extend(ctx, "r1", r.ExpiresAt); err != nil {
		t.Fatalf("Extend to an earlier time: %v", err)
	}
	mustExpire(t, s, later.Add(-time.Millisecond), 0)
	// Past its expiry but not yet taken: still pending, so extended.
	if err := s.Extend(ctx, "r1", later.Add(time.Hour)); err != nil {
		t.Fatalf("Extend of a reservation past its expiry, not yet taken: %v", err)
	}
	mustExpire(t, s, later.Add(time.Minute), 0)
	mustExpire(t, s, later.Add(time.Hour+time.Millisecond), 1)
	holds(t, s, r, 0, "expired reservation")
}

func testExtendNotPending(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := record.Limits{}
	for _, id := range []string{"settled", "released", "expired"} {
		mustReserve(t, s, reservation(id, "p", 100, usageBase), l)
	}
	mustSettle(t, s, "settled", 1, 2, usageBase)
	if err := s.Release(ctx, "released"); err != nil {
		t.Fatal(err)
	}
	mustExpire(t, s, usageBase.Add(time.Hour), 1)
	for _, id := range []string{"settled", "released", "expired", "never"} {
		if err := s.Extend(ctx, id, usageBase.Add(2*time.Hour)); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("Extend(%s) = %v, want ErrNotFound", id, err)
		}
	}
	// Nothing was brought back: no reservation is pending, so none expires.
	mustExpire(t, s, usageBase.Add(3*time.Hour), 0)
	holds(t, s, reservation("", "p", 0, usageBase), 3, "after the refused Extends")
}

func testSettleAfterExpiry(t *testing.T, s store.Store) {
	l := record.Limits{RPM: 2, TokensPerDay: 10_000}
	r := reservation("r1", "p", 600, usageBase)
	mustReserve(t, s, r, l)
	mustExpire(t, s, r.ExpiresAt.Add(time.Millisecond), 1)

	at := r.ExpiresAt.Add(time.Minute)
	e, err := s.Settle(t.Context(), settlement(r, 100, 200, at))
	if err != nil {
		t.Fatalf("Settle after expiry: %v", err)
	}
	want := quota.Entry{RequestID: "r1", PrincipalID: "p", Tenant: "acme", Model: "gpt-4o-mini",
		PromptTokens: 100, CompletionTokens: 200, ReservedTokens: 600, At: at, Late: true}
	checkEntries(t, []quota.Entry{e}, []quota.Entry{want})
	want.Late = false // not kept in the ledger
	checkEntries(t, mustUsage(t, s, quota.Query{}), []quota.Entry{want})
	// The request counts once, as Reserve counted it: one more fits RPM 2
	// (checked first: the probes below count requests too)...
	mustReserve(t, s, reservation("r2", "p", 0, usageBase), l)
	_, err = s.Reserve(t.Context(), reservation("r3", "p", 0, usageBase), l)
	if d := denial(t, err, "third Reserve in the minute"); d.Limit != quota.LimitRequestsPerMinute || d.Used != 2 {
		t.Errorf("Denial = %+v, want requests per minute with 2 used", d)
	}
	// ...and all 300 real tokens count in the reservation's windows.
	holds(t, s, r, 300, "settled late")
}

func testSettleAfterRelease(t *testing.T, s store.Store) {
	r := reservation("r1", "p", 500, usageBase)
	mustReserve(t, s, r, record.Limits{})
	if err := s.Release(t.Context(), "r1"); err != nil {
		t.Fatal(err)
	}
	e, err := s.Settle(t.Context(), settlement(r, 40, 2, usageBase.Add(time.Second)))
	if err != nil {
		t.Fatalf("Settle after Release: %v", err)
	}
	if !e.Late || e.PromptTokens != 40 || e.CompletionTokens != 2 || e.ReservedTokens != 500 {
		t.Errorf("entry = %+v, want a late one of 40+2 tokens, 500 reserved", e)
	}
	if es := mustUsage(t, s, quota.Query{PrincipalID: "p"}); len(es) != 1 || es[0].RequestID != "r1" {
		t.Errorf("ledger = %+v, want r1", es)
	}
	holds(t, s, r, 42, "settled after release")
	// The settlement does not bring the reservation back.
	if err := s.Release(t.Context(), "r1"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("Release after a late Settle = %v, want ErrNotFound", err)
	}
	mustExpire(t, s, r.ExpiresAt.Add(time.Hour), 0)
}

func testSettleOfSettledRequest(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		// lapse does what happens to the reservation before the first Settle.
		lapse func(t *testing.T, r quota.Reservation)
		late  bool
	}{
		{"settled in time", func(*testing.T, quota.Reservation) {}, false},
		{"settled after expiry", func(t *testing.T, r quota.Reservation) {
			mustExpire(t, s, r.ExpiresAt.Add(time.Millisecond), 1)
		}, true},
		{"settled after release", func(t *testing.T, r quota.Reservation) {
			if err := s.Release(t.Context(), r.ID); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "p-" + tc.name
			r := reservation("r-"+tc.name, p, 700, usageBase)
			mustReserve(t, s, r, record.Limits{})
			tc.lapse(t, r)
			first, err := s.Settle(t.Context(), settlement(r, 10, 20, usageBase))
			if err != nil || first.Late != tc.late {
				t.Fatalf("first Settle = %+v, %v; want Late %v", first, err, tc.late)
			}
			// Again, at the same time (the same ledger key) and later.
			for _, at := range []time.Time{usageBase, usageBase.Add(time.Second), r.ExpiresAt.Add(time.Hour)} {
				if e, err := s.Settle(t.Context(), settlement(r, 1000, 1, at)); !errors.Is(err, record.ErrNotFound) {
					t.Errorf("Settle again at %v = %+v, %v; want ErrNotFound", at, e, err)
				}
			}
			es := mustUsage(t, s, quota.Query{PrincipalID: p})
			if len(es) != 1 || es[0].PromptTokens != 10 || es[0].CompletionTokens != 20 {
				t.Errorf("ledger = %+v, want the first settlement only", es)
			}
			holds(t, s, r, 30, "after the refused Settles")
			mustExpire(t, s, r.ExpiresAt.Add(2*time.Hour), 0)
		})
	}
}

// testExtendRacingExpiry races Extend with ExpireReservations, over a few
// rounds: each time, exactly one of them takes effect, and the reservation
// is pending exactly when Extend succeeded.
func testExtendRacingExpiry(t *testing.T, s store.Store) {
	const rounds = 12
	for i := range rounds {
		r := reservation(fmt.Sprint("r", i), "p", 100, usageBase)
		r.ExpiresAt = usageBase.Add(time.Duration(i+1) * time.Hour)
		mustReserve(t, s, r, record.Limits{})
		var (
			wg        sync.WaitGroup
			extendErr error
			expired   int
			expireErr error
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			extendErr = s.Extend(context.Background(), r.ID, r.ExpiresAt.Add(24*time.Hour))
		})
		wg.Go(func() {
			<-start
			expired, expireErr = s.ExpireReservations(context.Background(), r.ExpiresAt.Add(time.Millisecond))
		})
		close(start)
		wg.Wait()
		if expireErr != nil || (extendErr != nil && !errors.Is(extendErr, record.ErrNotFound)) {
			t.Fatalf("round %d: Extend = %v, ExpireReservations = %v", i, extendErr, expireErr)
		}
		if (extendErr == nil) == (expired == 1) || expired > 1 {
			t.Fatalf("round %d: Extend = %v and ExpireReservations took %d: want exactly one to win", i, extendErr, expired)
		}
		// Pending exactly when extended: then Release finds it.
		if err := s.Release(t.Context(), r.ID); (err == nil) != (extendErr == nil) {
			t.Fatalf("round %d: Release = %v after Extend = %v", i, err, extendErr)
		}
	}
	holds(t, s, reservation("", "p", 0, usageBase), 0, "after the rounds")
}

// testConcurrentSettlesOfOneRequestRecordItOnce races several Settles of
// one request (at different times) with the expiry of its reservation:
// whether the winner settles in time or late, exactly one succeeds, and
// the ledger and windows count the request once.
func testConcurrentSettlesOfOneRequest(t *testing.T, s store.Store) {
	const (
		rounds  = 6
		settles = 4
	)
	for i := range rounds {
		p := fmt.Sprint("p", i)
		r := reservation("r-"+p, p, 900, usageBase)
		mustReserve(t, s, r, record.Limits{})
		var (
			wg    sync.WaitGroup
			errs  [settles]error
			late  [settles]bool
			start = make(chan struct{})
		)
		for j := range settles {
			wg.Go(func() {
				<-start
				var e quota.Entry
				e, errs[j] = s.Settle(context.Background(), settlement(r, 50, 25, r.ExpiresAt.Add(time.Duration(j)*time.Second)))
				late[j] = e.Late
			})
		}
		wg.Go(func() {
			<-start
			if _, err := s.ExpireReservations(context.Background(), r.ExpiresAt.Add(time.Millisecond)); err != nil {
				t.Errorf("ExpireReservations: %v", err)
			}
		})
		close(start)
		wg.Wait()
		won := 0
		for j, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, record.ErrNotFound):
				t.Errorf("round %d: Settle %d: %v", i, j, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d Settles succeeded (late: %v), want 1: %v", i, won, late, errs)
		}
		if es := mustUsage(t, s, quota.Query{PrincipalID: p}); len(es) != 1 || es[0].PromptTokens+es[0].CompletionTokens != 75 {
			t.Errorf("round %d: ledger = %+v, want one entry of 75 tokens", i, es)
		}
		holds(t, s, r, 75, fmt.Sprint("round ", i))
	}
}

// A reservation's protocol comes back on its entry, and in the ledger,
// however it is settled: from the store's pending copy, or late from the
// settlement's. None stays none (requests from before it was kept).
func testSettledEntryKeepsProtocol(t *testing.T, s store.Store) {
	for i, tc := range []struct {
		protocol string
		end      string // how the reservation stops being pending before Settle, if it does
	}{
		{"responses", ""},
		{"messages", "expire"},
		{"chat", "release"},
		{"", ""},
	} {
		id := fmt.Sprintf("r%d", i)
		at := usageBase.Add(time.Duration(i) * 24 * time.Hour) // apart, so expiring one leaves the others
		r := reservation(id, "p", 100, at)
		r.Protocol = tc.protocol
		mustReserve(t, s, r, record.Limits{})
		late := false
		switch tc.end {
		case "expire":
			mustExpire(t, s, r.ExpiresAt.Add(time.Millisecond), 1)
			late = true
		case "release":
			if err := s.Release(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			late = true
		}
		// A pending reservation settles by its id alone, so the protocol
		// can only come from the store's own copy.
		st := settlement(quota.Reservation{ID: id}, 10, 20, at.Add(time.Second))
		if late {
			st.Reservation = r
		}
		e, err := s.Settle(t.Context(), st)
		if err != nil {
			t.Fatalf("Settle(%s, %q, %s): %v", id, tc.protocol, tc.end, err)
		}
		if e.Protocol != tc.protocol || e.Late != late {
			t.Errorf("Settle(%s) of a %q reservation (%s) = protocol %q, late %v; want %q, %v",
				id, tc.protocol, tc.end, e.Protocol, e.Late, tc.protocol, late)
		}
	}
	got := map[string]string{}
	for _, e := range mustUsage(t, s, quota.Query{}) {
		got[e.RequestID] = e.Protocol
	}
	want := map[string]string{"r0": "responses", "r1": "messages", "r2": "chat", "r3": ""}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ledger protocols by request = %v, want %v", got, want)
	}
}
