package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// moneyTests check USD budgets (micro-dollars) and tenants: reserved at a
// bound, settled at the cost, shared by a tenant's principals.
func moneyTests() []conformanceTest {
	return []conformanceTest{
		{"TenantsReadBackAndKeepTheirHistory", testTenants},
		{"TenantsAreNoKeys", testTenantsAreNoKeys},
		{"USDBudgetOfAKeyIsReservedAndSettled", testUSDBudgetOfAKey},
		{"TenantBudgetIsSharedByItsPrincipals", testTenantBudgetShared},
		{"ReleaseGivesDollarsBackToKeyAndTenant", testReleaseGivesDollarsBack},
		{"LedgerRowKeepsCostPriceAndCacheTokens", testLedgerKeepsMoney},
		{"ConcurrentRequestsOfTwoKeysNeverExceedTheTenantsUSDBudget", testConcurrentTenantUSD},
		{"ConcurrentRequestsNeverExceedAKeysUSDBudget", testConcurrentKeyUSD},
	}
}

func tenant(name string, v int64, l record.Limits, at time.Time) *store.Tenant {
	return &store.Tenant{Name: name, Limits: l, CreatedAt: at, UpdatedAt: at, Version: v}
}

func testTenants(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := usageBase
	if _, err := s.GetTenant(ctx, "acme"); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("GetTenant of none = %v, want ErrNotFound", err)
	}
	l1 := record.Limits{USDPerDay: 5_000_000, RPM: 60}
	if err := s.PutTenant(ctx, tenant("acme", 1, l1, at), store.TenantEvent{Action: "created", Actor: "test", At: at, Detail: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTenant(ctx, tenant("acme", 1, l1, at), store.TenantEvent{Action: "created", Actor: "test", At: at}); !errors.Is(err, record.ErrExists) {
		t.Errorf("second create = %v, want ErrExists", err)
	}
	if err := s.PutTenant(ctx, tenant("beta", 2, l1, at), store.TenantEvent{Action: "updated", At: at}); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("update of none = %v, want ErrNotFound", err)
	}
	l2 := record.Limits{USDPerMonth: 100_000_000, TokensPerDay: 1000}
	later := at.Add(time.Hour)
	up := tenant("acme", 2, l2, at)
	up.UpdatedAt = later
	if err := s.PutTenant(ctx, up, store.TenantEvent{Action: "updated", Actor: "test", At: later, Detail: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTenant(ctx, up, store.TenantEvent{Action: "updated", At: later}); !errors.Is(err, record.ErrConflict) {
		t.Errorf("stale update = %v, want ErrConflict", err)
	}
	got, err := s.GetTenant(ctx, "acme")
	if err != nil || got.Limits != l2 || got.Version != 2 || !got.CreatedAt.Truncate(time.Millisecond).Equal(at.Truncate(time.Millisecond)) ||
		!got.UpdatedAt.Truncate(time.Millisecond).Equal(later.Truncate(time.Millisecond)) {
		t.Fatalf("GetTenant = %+v, %v; want limits %+v at version 2", got, err, l2)
	}
	if err := s.PutTenant(ctx, tenant("beta", 1, record.Limits{}, at), store.TenantEvent{Action: "created", At: at}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListTenants(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "acme" || list[1].Name != "beta" {
		t.Fatalf("ListTenants = %v, %v; want acme, beta", list, err)
	}
	h, err := s.TenantHistory(ctx, "acme")
	if err != nil || len(h) != 2 || h[0].Action != "created" || h[0].Detail != "a" || h[1].Action != "updated" || h[1].Detail != "b" || h[1].Tenant != "acme" {
		t.Fatalf("TenantHistory = %+v, %v; want created then updated", h, err)
	}
}

func testTenantsAreNoKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.PutTenant(ctx, tenant("acme", 1, record.Limits{}, usageBase), store.TenantEvent{Action: "created", At: usageBase}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.ListKeys(ctx, store.ListOptions{})
	if err != nil || len(keys) != 0 {
		t.Fatalf("ListKeys = %d keys, %v; want none (a tenant is no key)", len(keys), err)
	}
	for _, id := range []string{"acme", "tenant:acme"} {
		if _, err := s.GetKey(ctx, id); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("GetKey(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

// spend is a reservation of tokens and a cost bound, for principal p of
// tenant acme, counted in the tenant's windows when tl is not nil.
func spend(id, p string, cost int64, tl *record.Limits, at time.Time) quota.Reservation {
	r := reservation(id, p, 10, at)
	r.CostMicros, r.TenantLimits = cost, tl
	return r
}

func settleCost(t *testing.T, s store.Store, r quota.Reservation, cost int64) quota.Entry {
	t.Helper()
	e, err := s.Settle(t.Context(), quota.Settlement{Reservation: r, PromptTokens: 5, CompletionTokens: 5, CostMicros: cost, At: usageBase})
	if err != nil {
		t.Fatalf("Settle(%s): %v", r.ID, err)
	}
	return e
}

// spendFits probes whether a request of cost fits p's (and, with tl, the
// tenant's) USD budgets, leaving nothing behind but a counted request.
func spendFits(t *testing.T, s store.Store, p string, cost int64, l record.Limits, tl *record.Limits) bool {
	t.Helper()
	id := fmt.Sprintf("probe-%s-%d", p, cost)
	_, err := s.Reserve(t.Context(), spend(id, p, cost, tl, usageBase), l)
	if err == nil {
		if err := s.Release(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		return true
	}
	denial(t, err, "probe Reserve")
	return false
}

func testUSDBudgetOfAKey(t *testing.T, s store.Store) {
	l := record.Limits{USDPerDay: 1_000_000, USDPerMonth: 1_200_000} // $1 a day, $1.20 a month
	r1 := spend("u1", "key:a", 700_000, nil, usageBase)
	mustReserve(t, s, r1, l)
	_, err := s.Reserve(t.Context(), spend("u2", "key:a", 400_000, nil, usageBase), l)
	d := denial(t, err, "Reserve over the day's dollars")
	if d.Limit != quota.LimitUSDPerDay || d.Max != 1_000_000 || d.Used != 700_000 || d.Tenant != "" ||
		!d.ResetAt.Equal(quota.WindowsAt(usageBase).DayEnd()) || !d.Budget() {
		t.Errorf("denial = %+v, want usd_per_day of $1 with $0.70 used, reset at the day's end", d)
	}
	settleCost(t, s, r1, 250_000) // the bound was $0.70, the cost $0.25
	if !spendFits(t, s, "key:a", 750_000, l, nil) || spendFits(t, s, "key:a", 750_001, l, nil) {
		t.Errorf("after settling $0.25 the day does not have exactly $0.75 left")
	}
	// The next day: $0.90 + $0.06 fit the day, but the month then holds
	// $0.25 + $0.96 > $1.20.
	next := usageBase.AddDate(0, 0, 1)
	r3 := spend("u3", "key:a", 900_000, nil, next)
	mustReserve(t, s, r3, l)
	_, err = s.Reserve(t.Context(), spend("u4", "key:a", 60_000, nil, next), l)
	if d := denial(t, err, "Reserve over the month's dollars"); d.Limit != quota.LimitUSDPerMonth {
		t.Errorf("denial = %+v, want usd_per_month", d)
	}
}

func testTenantBudgetShared(t *testing.T, s store.Store) {
	tl := &record.Limits{USDPerDay: 1_000_000}
	own := record.Limits{USDPerDay: 900_000}
	mustReserve(t, s, spend("t1", "key:a", 600_000, tl, usageBase), own)
	// key:b has room of its own, but the tenant has $0.40 left.
	_, err := s.Reserve(t.Context(), spend("t2", "jwt:iss#b", 500_000, tl, usageBase), own)
	d := denial(t, err, "Reserve over the tenant's dollars")
	if d.Tenant != "acme" || d.Limit != quota.LimitUSDPerDay || d.Max != 1_000_000 || d.Used != 600_000 {
		t.Errorf("denial = %+v, want tenant acme's usd_per_day with $0.60 used", d)
	}
	// The refused request changed nothing: b's own windows are empty.
	if !spendFits(t, s, "jwt:iss#b", 900_000, own, nil) {
		t.Error("the tenant's refusal left dollars counted in the principal's windows")
	}
	mustReserve(t, s, spend("t3", "jwt:iss#b", 400_000, tl, usageBase), own)
	// A key's own limit binds even when the tenant has room.
	roomy := &record.Limits{USDPerDay: 100_000_000}
	_, err = s.Reserve(t.Context(), spend("t4", "key:c", 950_000, roomy, usageBase), own)
	if d := denial(t, err, "Reserve over the key's own dollars"); d.Tenant != "" || d.Limit != quota.LimitUSDPerDay {
		t.Errorf("denial = %+v, want the key's own usd_per_day", d)
	}
	// A reservation that does not count for the tenant (nil limits: no
	// tenant defined) leaves its windows alone.
	mustReserve(t, s, spend("t5", "key:d", 900_000, nil, usageBase), record.Limits{})
	if spendFits(t, s, "key:e", 1, record.Limits{}, tl) {
		t.Error("the tenant's $1 are not fully used by t1 and t3")
	}
}

func testReleaseGivesDollarsBack(t *testing.T, s store.Store) {
	tl := &record.Limits{USDPerDay: 1_000_000}
	l := record.Limits{USDPerDay: 1_000_000}
	mustReserve(t, s, spend("r1", "key:a", 1_000_000, tl, usageBase), l)
	if spendFits(t, s, "key:b", 1, record.Limits{}, tl) {
		t.Fatal("the tenant has room while r1 holds all of it")
	}
	if err := s.Release(t.Context(), "r1"); err != nil {
		t.Fatal(err)
	}
	if !spendFits(t, s, "key:a", 1_000_000, l, tl) {
		t.Error("the release did not give the dollars back to both the key and the tenant")
	}
}

func testLedgerKeepsMoney(t *testing.T, s store.Store) {
	price := pricing.Price{Input: 3_000_000, Output: 15_000_000, CachedInput: 300_000, CacheWrite: 3_750_000}
	r := spend("m1", "key:a", 50_000, &record.Limits{}, usageBase)
	mustReserve(t, s, r, record.Limits{})
	e, err := s.Settle(t.Context(), quota.Settlement{Reservation: r, PromptTokens: 13_000, CompletionTokens: 500,
		CachedTokens: 10_000, CacheWriteTokens: 2_000, CostMicros: 21_000, Price: price, At: usageBase})
	if err != nil {
		t.Fatal(err)
	}
	r2 := spend("m2", "key:a", 0, nil, usageBase)
	r2.Model = "echo"
	mustReserve(t, s, r2, record.Limits{})
	if _, err := s.Settle(t.Context(), quota.Settlement{Reservation: r2, PromptTokens: 1, CompletionTokens: 1, Unpriced: true, At: usageBase.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	// A late settlement keeps its money too.
	r3 := spend("m3", "key:a", 9_000, &record.Limits{}, usageBase)
	mustReserve(t, s, r3, record.Limits{})
	if err := s.Release(t.Context(), "m3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settle(t.Context(), quota.Settlement{Reservation: r3, PromptTokens: 3, CompletionTokens: 4,
		CachedTokens: 1, CostMicros: 7, Price: price, At: usageBase.Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	es := mustUsage(t, s, quota.Query{PrincipalID: "key:a"})
	if len(es) != 3 {
		t.Fatalf("ledger has %d rows, want 3", len(es))
	}
	if g := es[0]; g.CostMicros != 21_000 || g.Price != price || g.CachedTokens != 10_000 || g.CacheWriteTokens != 2_000 || g.Unpriced || e.CostMicros != 21_000 {
		t.Errorf("priced row = %+v (Settle said %+v)", g, e)
	}
	if g := es[1]; !g.Unpriced || g.CostMicros != 0 || g.Price != (pricing.Price{}) {
		t.Errorf("unpriced row = %+v", g)
	}
	if g := es[2]; g.CostMicros != 7 || g.Price != price || g.CachedTokens != 1 {
		t.Errorf("late row = %+v", g)
	}
	// The tenant's windows hold what was settled: $0.021 + $0.000007.
	if !spendFits(t, s, "key:z", 1_000_000-21_007, record.Limits{}, &record.Limits{USDPerDay: 1_000_000}) ||
		spendFits(t, s, "key:z", 1_000_000-21_006, record.Limits{}, &record.Limits{USDPerDay: 1_000_000}) {
		t.Error("the tenant's day window does not hold exactly the settled $0.021007")
	}
}

// concurrentUSD sends 64 reservations at once, spread over the principals,
// each with a cost bound of bound, against limits admitting exactly n; it
// then settles the admitted ones at less than their bound, and checks
// that the total settled stays within budget and the rest were refused by
// the USD limit named want.
func concurrentUSD(t *testing.T, s store.Store, principals []string, l record.Limits, tl *record.Limits, budget, bound int64, n int, want string, wantTenant string) {
	const goroutines = 64
	var (
		start sync.WaitGroup
		done  sync.WaitGroup
		errs  [goroutines]error
		rs    [goroutines]quota.Reservation
	)
	start.Add(1)
	for i := range goroutines {
		rs[i] = spend(fmt.Sprint("c", i), principals[i%len(principals)], bound, tl, usageBase.Add(time.Duration(i)*time.Millisecond))
		done.Go(func() {
			start.Wait()
			_, errs[i] = s.Reserve(context.Background(), rs[i], l)
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
			if d.Limit != want || d.Tenant != wantTenant {
				t.Errorf("reserve %d denied by %q %s, want %q %s", i, d.Tenant, d.Limit, wantTenant, want)
			}
		default:
			t.Errorf("reserve %d: %v", i, err)
		}
	}
	if len(won) != n {
		t.Fatalf("%d of %d requests admitted, want exactly %d (budget %d, bound %d)", len(won), goroutines, n, budget, bound)
	}
	var want64 int64
	for _, i := range won {
		cost := bound - int64(i) // less than the bound, never 0
		want64 += cost
		done.Go(func() {
			if _, err := s.Settle(context.Background(), quota.Settlement{Reservation: rs[i], PromptTokens: 1, CompletionTokens: 1, CostMicros: cost, At: usageBase}); err != nil {
				t.Errorf("Settle(c%d): %v", i, err)
			}
		})
	}
	done.Wait()
	var total int64
	for _, e := range mustUsage(t, s, quota.Query{Tenant: "acme"}) {
		total += e.CostMicros
	}
	if total != want64 || total > budget {
		t.Errorf("settled $%s in the ledger, want $%s, within the budget of $%s", pricing.Micros(total), pricing.Micros(want64), pricing.Micros(budget))
	}
	t.Logf("%d of %d admitted, %d refused; settled $%s of a $%s budget", n, goroutines, goroutines-n, pricing.Micros(total), pricing.Micros(budget))
}

func testConcurrentTenantUSD(t *testing.T, s store.Store) {
	// $1 for the tenant, $0.045 bound per request: 22 fit ($0.99), the
	// 23rd would make $1.035. Each key has a budget of its own, $2, which
	// its 32 requests ($1.44) cannot reach: a store may count a request in
	// the key's and the tenant's windows at once (DynamoDB does), so a
	// binding key limit could refuse a request that a refused one held
	// room for, and the number admitted would not be exact.
	own := record.Limits{USDPerDay: 2_000_000}
	tl := &record.Limits{USDPerDay: 1_000_000}
	concurrentUSD(t, s, []string{"key:a", "key:b"}, own, tl, 1_000_000, 45_000, 22, quota.LimitUSDPerDay, "acme")
}

func testConcurrentKeyUSD(t *testing.T, s store.Store) {
	// $0.50 for the one key, $0.03 bound per request: 16 fit ($0.48).
	own := record.Limits{USDPerMonth: 500_000}
	concurrentUSD(t, s, []string{"key:a"}, own, nil, 500_000, 30_000, 16, quota.LimitUSDPerMonth, "")
}
