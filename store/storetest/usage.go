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

// usageTests are the quota.Ledger tests, which Run runs after the key tests.
func usageTests() []conformanceTest {
	return append([]conformanceTest{
		{"ReserveWithinEachLimitSucceedsAndOverItIsDenied", testReserveLimits},
		{"DeniedReserveChangesNothing", testDeniedReserveChangesNothing},
		{"ZeroLimitsAreUnlimited", testZeroLimitsAreUnlimited},
		{"ReserveReportsTheMinuteWindow", testReserveStatus},
		{"SettleAdjustsTheReservationsOwnWindows", testSettleAdjustsOwnWindows},
		{"SettleTwiceFailsWithErrNotFound", testSettleTwice},
		{"ReleaseGivesTokensBackButCountsTheRequest", testRelease},
		{"ExpireReservationsReleasesOnlyExpiredOnes", testExpireReservations},
		{"UsageFiltersByPrincipalTenantAndTime", testUsageFilters},
		{"ConcurrentReservesNeverExceedABudget", testConcurrentReserves},
		{"PrincipalsOfEachKindAreApart", testPrincipalsOfEachKindAreApart},
	}, lapseTests()...)
}

// usageBase is in the middle of a minute, day and month, with a
// sub-millisecond part.
var usageBase = time.Date(2025, time.March, 14, 15, 9, 26, 535_897_932, time.UTC)

// reservation returns a pending reservation of tokens for principal p made
// at at, expiring ten minutes later.
func reservation(id, p string, tokens int64, at time.Time) quota.Reservation {
	return quota.Reservation{
		ID: id, PrincipalID: p, Tenant: "acme", Model: "gpt-4o-mini", Tokens: tokens,
		Windows: quota.WindowsAt(at), CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute),
	}
}

func mustReserve(t *testing.T, s store.Store, r quota.Reservation, l record.Limits) quota.Status {
	t.Helper()
	st, err := s.Reserve(t.Context(), r, l)
	if err != nil {
		t.Fatalf("Reserve(%s, %d tokens): %v", r.ID, r.Tokens, err)
	}
	return st
}

// denial returns the *quota.Denial err wraps, failing the test if none.
func denial(t *testing.T, err error, what string) *quota.Denial {
	t.Helper()
	var d *quota.Denial
	if !errors.As(err, &d) {
		t.Fatalf("%s = %v, want a *quota.Denial", what, err)
	}
	return d
}

func mustSettle(t *testing.T, s store.Store, id string, prompt, completion int64, at time.Time) quota.Entry {
	t.Helper()
	e, err := s.Settle(t.Context(), quota.Settlement{Reservation: quota.Reservation{ID: id}, PromptTokens: prompt, CompletionTokens: completion, At: at})
	if err != nil {
		t.Fatalf("Settle(%s): %v", id, err)
	}
	return e
}

func mustUsage(t *testing.T, s store.Store, q quota.Query) []quota.Entry {
	t.Helper()
	es, err := s.Usage(t.Context(), q)
	if err != nil {
		t.Fatalf("Usage(%+v): %v", q, err)
	}
	return es
}

// fits reports whether a reservation of tokens for p at at fits limits, and
// if it does, releases it again so that the probe leaves no trace but the
// request it counts (probes therefore use limits without RPM).
func fits(t *testing.T, s store.Store, p string, tokens int64, at time.Time, l record.Limits) bool {
	t.Helper()
	id := fmt.Sprintf("probe-%s-%d-%d", p, tokens, at.UnixNano())
	_, err := s.Reserve(t.Context(), reservation(id, p, tokens, at), l)
	if err == nil {
		if err := s.Release(t.Context(), id); err != nil {
			t.Fatalf("Release(probe): %v", err)
		}
		return true
	}
	denial(t, err, "probe Reserve")
	return false
}

func testReserveLimits(t *testing.T, s store.Store) {
	minuteEnd := quota.WindowsAt(usageBase).MinuteEnd()
	for _, tc := range []struct {
		name   string
		limits record.Limits
		// each reservation: tokens and the time it is made at
		within []int64
		step   time.Duration
		over   int64
		limit  string
		used   int64
		reset  time.Time
	}{
		{"requests per minute", record.Limits{RPM: 3}, []int64{5, 5, 5}, time.Second, 1,
			quota.LimitRequestsPerMinute, 3, minuteEnd},
		{"tokens per minute", record.Limits{TPM: 100}, []int64{60, 40}, time.Second, 1,
			quota.LimitTokensPerMinute, 100, minuteEnd},
		{"tokens per day", record.Limits{TokensPerDay: 1000, TPM: 600}, []int64{400, 400, 200}, time.Minute, 1,
			quota.LimitTokensPerDay, 1000, time.Date(2025, time.March, 15, 0, 0, 0, 0, time.UTC)},
		{"tokens per month", record.Limits{TokensPerMonth: 5000, TokensPerDay: 3000}, []int64{2500, 2500}, 24 * time.Hour, 1,
			quota.LimitTokensPerMonth, 5000, time.Date(2025, time.April, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "p-" + tc.name
			at := usageBase
			for i, tokens := range tc.within {
				at = usageBase.Add(time.Duration(i) * tc.step)
				mustReserve(t, s, reservation(fmt.Sprintf("%s-%d", p, i), p, tokens, at), tc.limits)
			}
			_, err := s.Reserve(t.Context(), reservation(p+"-over", p, tc.over, at), tc.limits)
			d := denial(t, err, "Reserve over the limit")
			if d.Limit != tc.limit || d.Used != tc.used || !d.ResetAt.Equal(tc.reset) {
				t.Errorf("Denial = %+v, want limit %s, used %d, reset %v", d, tc.limit, tc.used, tc.reset)
			}
			if want := map[string]int64{
				quota.LimitRequestsPerMinute: tc.limits.RPM, quota.LimitTokensPerMinute: tc.limits.TPM,
				quota.LimitTokensPerDay: tc.limits.TokensPerDay, quota.LimitTokensPerMonth: tc.limits.TokensPerMonth,
			}[tc.limit]; d.Max != want {
				t.Errorf("Denial.Max = %d, want %d", d.Max, want)
			}
			if d.Budget() != (tc.limit == quota.LimitTokensPerDay || tc.limit == quota.LimitTokensPerMonth) {
				t.Errorf("Denial.Budget() = %v for %s", d.Budget(), tc.limit)
			}
			// The window that resets admits the request again.
			mustReserve(t, s, reservation(p+"-after-reset", p, tc.over, tc.reset), tc.limits)
		})
	}
}

func testDeniedReserveChangesNothing(t *testing.T, s store.Store) {
	l := record.Limits{TPM: 100, TokensPerDay: 1000}
	mustReserve(t, s, reservation("r1", "p", 70, usageBase), l)
	for i := range 3 {
		_, err := s.Reserve(t.Context(), reservation(fmt.Sprint("denied-", i), "p", 31, usageBase), l)
		denial(t, err, "Reserve over TPM")
	}
	// Exactly the remaining 30 still fit: the denials reserved nothing.
	mustReserve(t, s, reservation("r2", "p", 30, usageBase), l)
	for i := range 3 {
		if err := s.Release(t.Context(), fmt.Sprint("denied-", i)); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("Release of a denied reservation = %v, want ErrNotFound", err)
		}
	}
}

func testZeroLimitsAreUnlimited(t *testing.T, s store.Store) {
	for i := range 50 {
		st := mustReserve(t, s, reservation(fmt.Sprint("r", i), "p", 1<<40, usageBase), record.Limits{})
		if st.RequestsLimit != 0 || st.TokensLimit != 0 {
			t.Fatalf("Status with no limits = %+v, want zero limits", st)
		}
	}
	// One unlimited dimension next to a limited one.
	l := record.Limits{RPM: 0, TPM: 10}
	for i := range 10 {
		mustReserve(t, s, reservation(fmt.Sprint("q", i), "q", 1, usageBase), l)
	}
	_, err := s.Reserve(t.Context(), reservation("q-over", "q", 1, usageBase), l)
	if d := denial(t, err, "Reserve over TPM"); d.Limit != quota.LimitTokensPerMinute {
		t.Errorf("Denial.Limit = %s, want %s", d.Limit, quota.LimitTokensPerMinute)
	}
}

func testReserveStatus(t *testing.T, s store.Store) {
	l := record.Limits{RPM: 10, TPM: 1000, TokensPerDay: 1 << 30}
	w := quota.WindowsAt(usageBase)
	st := mustReserve(t, s, reservation("r1", "p", 300, usageBase), l)
	want := quota.Status{RequestsLimit: 10, RequestsRemaining: 9, TokensLimit: 1000, TokensRemaining: 700, Reset: w.MinuteEnd()}
	if !sameStatus(st, want) {
		t.Errorf("Status after the first reserve = %+v, want %+v", st, want)
	}
	st = mustReserve(t, s, reservation("r2", "p", 650, usageBase.Add(20*time.Second)), l)
	want.RequestsRemaining, want.TokensRemaining = 8, 50
	if !sameStatus(st, want) {
		t.Errorf("Status after the second reserve = %+v, want %+v", st, want)
	}
	// Another principal has windows of its own.
	st = mustReserve(t, s, reservation("r3", "other", 1, usageBase), l)
	if st.RequestsRemaining != 9 || st.TokensRemaining != 999 {
		t.Errorf("another principal's Status = %+v, want 9 requests and 999 tokens remaining", st)
	}
	// The next minute starts afresh.
	st = mustReserve(t, s, reservation("r4", "p", 1, w.MinuteEnd()), l)
	if st.RequestsRemaining != 9 || st.TokensRemaining != 999 || !st.Reset.Equal(w.MinuteEnd().Add(time.Minute)) {
		t.Errorf("next minute's Status = %+v", st)
	}
}

func sameStatus(a, b quota.Status) bool {
	return a.RequestsLimit == b.RequestsLimit && a.RequestsRemaining == b.RequestsRemaining &&
		a.TokensLimit == b.TokensLimit && a.TokensRemaining == b.TokensRemaining && a.Reset.Equal(b.Reset)
}

func testSettleAdjustsOwnWindows(t *testing.T, s store.Store) {
	l := record.Limits{TPM: 1000, TokensPerDay: 5000}
	r := reservation("r1", "p", 800, usageBase)
	mustReserve(t, s, r, l)
	// Settled 90 s later, in another minute: the reservation's minute gets
	// the real 300 tokens, and the current minute nothing.
	later := usageBase.Add(90 * time.Second)
	e := mustSettle(t, s, "r1", 100, 200, later)
	want := quota.Entry{RequestID: "r1", PrincipalID: "p", Tenant: "acme", Model: "gpt-4o-mini",
		PromptTokens: 100, CompletionTokens: 200, ReservedTokens: 800, At: later}
	checkEntries(t, []quota.Entry{e}, []quota.Entry{want})

	probe := record.Limits{TPM: l.TPM, TokensPerDay: l.TokensPerDay}
	if !fits(t, s, "p", 700, usageBase, probe) || fits(t, s, "p", 701, usageBase, probe) {
		t.Error("the reservation's minute does not hold exactly the 300 settled tokens")
	}
	if !fits(t, s, "p", 1000, later, probe) {
		t.Error("the minute of the settlement was charged")
	}
	dayProbe := record.Limits{TokensPerDay: l.TokensPerDay}
	if !fits(t, s, "p", 4700, later, dayProbe) || fits(t, s, "p", 4701, later, dayProbe) {
		t.Error("the day does not hold exactly the 300 settled tokens")
	}
	// Usage above the reservation is recorded as it was.
	mustReserve(t, s, reservation("r2", "p", 10, later), l)
	e = mustSettle(t, s, "r2", 15, 5, later)
	if e.PromptTokens+e.CompletionTokens != 20 || e.ReservedTokens != 10 {
		t.Errorf("entry of a settlement above its reservation = %+v", e)
	}
}

func testSettleTwice(t *testing.T, s store.Store) {
	l := record.Limits{TPM: 1000}
	mustReserve(t, s, reservation("r1", "p", 100, usageBase), l)
	mustSettle(t, s, "r1", 10, 20, usageBase)
	_, err := s.Settle(t.Context(), quota.Settlement{Reservation: quota.Reservation{ID: "r1"}, PromptTokens: 1, CompletionTokens: 1, At: usageBase})
	if !errors.Is(err, record.ErrNotFound) {
		t.Errorf("second Settle = %v, want ErrNotFound", err)
	}
	if err := s.Release(t.Context(), "r1"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("Release after Settle = %v, want ErrNotFound", err)
	}
	if _, err := s.Settle(t.Context(), quota.Settlement{Reservation: quota.Reservation{ID: "never"}, At: usageBase}); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("Settle of an unknown reservation = %v, want ErrNotFound", err)
	}
	mustReserve(t, s, reservation("r2", "p", 100, usageBase), l)
	if err := s.Release(t.Context(), "r2"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := s.Settle(t.Context(), quota.Settlement{Reservation: quota.Reservation{ID: "r2"}, At: usageBase}); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("Settle after Release, knowing only the id = %v, want ErrNotFound", err)
	}
	es := mustUsage(t, s, quota.Query{})
	if len(es) != 1 || es[0].RequestID != "r1" || es[0].PromptTokens != 10 || es[0].CompletionTokens != 20 {
		t.Errorf("ledger = %+v, want only r1 with 10+20 tokens", es)
	}
	if !fits(t, s, "p", 970, usageBase, l) || fits(t, s, "p", 971, usageBase, l) {
		t.Error("the refused Settle changed the window")
	}
}

func testRelease(t *testing.T, s store.Store) {
	l := record.Limits{RPM: 2, TPM: 100}
	mustReserve(t, s, reservation("r1", "p", 100, usageBase), l)
	if err := s.Release(t.Context(), "r1"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := s.Release(t.Context(), "r1"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("second Release = %v, want ErrNotFound", err)
	}
	// All 100 tokens are back...
	mustReserve(t, s, reservation("r2", "p", 100, usageBase), l)
	// ...but both requests counted.
	_, err := s.Reserve(t.Context(), reservation("r3", "p", 0, usageBase), l)
	if d := denial(t, err, "third Reserve"); d.Limit != quota.LimitRequestsPerMinute || d.Used != 2 {
		t.Errorf("Denial = %+v, want requests per minute with 2 used", d)
	}
	if es := mustUsage(t, s, quota.Query{}); len(es) != 0 {
		t.Errorf("ledger after a release = %+v, want empty", es)
	}
}

func testExpireReservations(t *testing.T, s store.Store) {
	l := record.Limits{TokensPerDay: 1000}
	early := reservation("early", "p", 300, usageBase)
	late := reservation("late", "p", 200, usageBase)
	late.ExpiresAt = usageBase.Add(time.Hour)
	settled := reservation("settled", "p", 100, usageBase)
	for _, r := range []quota.Reservation{early, late, settled} {
		mustReserve(t, s, r, l)
	}
	mustSettle(t, s, "settled", 10, 10, usageBase)

	ctx := t.Context()
	if n, err := s.ExpireReservations(ctx, early.ExpiresAt.Add(-time.Millisecond)); err != nil || n != 0 {
		t.Fatalf("ExpireReservations before any expiry = %d, %v; want 0", n, err)
	}
	if n, err := s.ExpireReservations(ctx, early.ExpiresAt.Add(time.Millisecond)); err != nil || n != 1 {
		t.Fatalf("ExpireReservations after the first expiry = %d, %v; want 1", n, err)
	}
	if n, err := s.ExpireReservations(ctx, early.ExpiresAt.Add(2*time.Millisecond)); err != nil || n != 0 {
		t.Fatalf("ExpireReservations again = %d, %v; want 0", n, err)
	}
	if _, err := s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: "early"}, PromptTokens: 1, At: usageBase}); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("Settle of an expired reservation, knowing only the id = %v, want ErrNotFound", err)
	}
	// Day: 20 settled + 200 still reserved; the expired 300 are back.
	probe := record.Limits{TokensPerDay: l.TokensPerDay}
	if !fits(t, s, "p", 780, usageBase, probe) || fits(t, s, "p", 781, usageBase, probe) {
		t.Error("the expired reservation's tokens were not given back exactly")
	}
	if n, err := s.ExpireReservations(ctx, late.ExpiresAt.Add(time.Millisecond)); err != nil || n != 1 {
		t.Fatalf("ExpireReservations after the second expiry = %d, %v; want 1", n, err)
	}
	if !fits(t, s, "p", 980, usageBase, probe) {
		t.Error("the second expired reservation's tokens were not given back")
	}
	if es := mustUsage(t, s, quota.Query{}); len(es) != 1 || es[0].RequestID != "settled" {
		t.Errorf("ledger = %+v, want only the settled request", es)
	}
}

func checkEntries(t *testing.T, got, want []quota.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		at := g.At
		g.At, w.At = time.Time{}, time.Time{}
		if g != w || !sameTime(at, want[i].At) {
			g.At = at
			t.Errorf("entry %d = %+v, want %+v", i, g, want[i])
		}
	}
}

func testUsageFilters(t *testing.T, s store.Store) {
	type req struct {
		id, principal, tenant string
		at                    time.Duration
	}
	var all []quota.Entry
	// Written out of time order: Usage sorts by time.
	for i, r := range []req{
		{"a1", "pa", "acme", 3 * time.Hour},
		{"b1", "pb", "globex", time.Hour},
		{"a2", "pa", "acme", 2 * time.Hour},
		{"c1", "pc", "acme", 4 * time.Hour},
		{"b2", "pb", "globex", 5*time.Hour + time.Millisecond},
	} {
		rv := reservation(r.id, r.principal, 1000, usageBase)
		rv.Tenant, rv.Model = r.tenant, fmt.Sprint("model-", i%2)
		mustReserve(t, s, rv, record.Limits{})
		all = append(all, mustSettle(t, s, r.id, int64(10*i), int64(i), usageBase.Add(r.at)))
	}
	byID := map[string]quota.Entry{}
	for _, e := range all {
		byID[e.RequestID] = e
	}
	entries := func(ids ...string) []quota.Entry {
		out := []quota.Entry{}
		for _, id := range ids {
			out = append(out, byID[id])
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    quota.Query
		want []quota.Entry
	}{
		{"everything, oldest first", quota.Query{}, entries("b1", "a2", "a1", "c1", "b2")},
		{"one principal", quota.Query{PrincipalID: "pa"}, entries("a2", "a1")},
		{"one tenant", quota.Query{Tenant: "acme"}, entries("a2", "a1", "c1")},
		// Since is inclusive, compared at the precision the store keeps.
		{"since, inclusive", quota.Query{Since: usageBase.Add(3 * time.Hour).Truncate(Precision)}, entries("a1", "c1", "b2")},
		{"since a millisecond before", quota.Query{Since: usageBase.Add(5 * time.Hour).Truncate(Precision)}, entries("b2")},
		{"all three", quota.Query{PrincipalID: "pb", Tenant: "globex", Since: usageBase.Add(2 * time.Hour)}, entries("b2")},
		{"no match", quota.Query{Tenant: "initech"}, nil},
		{"principal of another tenant", quota.Query{PrincipalID: "pa", Tenant: "globex"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkEntries(t, mustUsage(t, s, tc.q), tc.want)
		})
	}
}

// testConcurrentReserves races 64 reservations of 100 tokens against a
// budget of exactly n of them: n succeed, the others are denied, and what is
// settled is exactly what the ledger says.
func testConcurrentReserves(t *testing.T, s store.Store) {
	const (
		goroutines = 64
		n          = 23
		bound      = 100
	)
	l := record.Limits{TokensPerDay: n * bound}
	var (
		start sync.WaitGroup
		done  sync.WaitGroup
		errs  [goroutines]error
	)
	start.Add(1)
	for i := range goroutines {
		done.Go(func() {
			start.Wait()
			at := usageBase.Add(time.Duration(i) * time.Millisecond)
			_, errs[i] = s.Reserve(context.Background(), reservation(fmt.Sprint("c", i), "p", bound, at), l)
		})
	}
	start.Done()
	done.Wait()

	var won []int
	for i, err := range errs {
		var d *quota.Denial
		switch {
		case err == nil:
			won = append(won, i)
		case errors.As(err, &d):
			if d.Limit != quota.LimitTokensPerDay {
				t.Errorf("reserve %d denied by %s, want %s", i, d.Limit, quota.LimitTokensPerDay)
			}
		default:
			t.Errorf("reserve %d: %v", i, err)
		}
	}
	if len(won) != n {
		t.Fatalf("%d reservations succeeded, want exactly %d", len(won), n)
	}
	// Settle them concurrently too, each with its own usage.
	var settled int64
	for _, i := range won {
		settled += int64(i%bound) + 1
	}
	for _, i := range won {
		done.Go(func() {
			_, err := s.Settle(context.Background(), quota.Settlement{
				Reservation: quota.Reservation{ID: fmt.Sprint("c", i)}, PromptTokens: int64(i % bound), CompletionTokens: 1, At: usageBase,
			})
			if err != nil {
				t.Errorf("Settle(c%d): %v", i, err)
			}
		})
	}
	done.Wait()
	var sum int64
	es := mustUsage(t, s, quota.Query{PrincipalID: "p"})
	for _, e := range es {
		sum += e.PromptTokens + e.CompletionTokens
	}
	if len(es) != n || sum != settled {
		t.Errorf("ledger has %d entries for %d tokens, want %d entries for %d", len(es), sum, n, settled)
	}
	if settled > n*bound {
		t.Errorf("settled %d tokens over a budget of %d", settled, n*bound)
	}
	probe := record.Limits{TokensPerDay: l.TokensPerDay}
	if left := n*bound - settled; !fits(t, s, "p", left, usageBase, probe) || fits(t, s, "p", left+1, usageBase, probe) {
		t.Errorf("the day window does not hold exactly the %d settled tokens", settled)
	}
}
