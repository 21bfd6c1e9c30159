package quota_test

import (
	"context"
	"testing"
	"time"

	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
)

// settlements records what Settle was given; nothing else is used.
type settlements struct {
	quota.Reservations
	got []quota.Settlement
}

func (s *settlements) Settle(_ context.Context, st quota.Settlement) (quota.Entry, error) {
	s.got = append(s.got, st)
	return quota.Entry{CostMicros: st.CostMicros}, nil
}

// Cache reads and writes, as each provider reports them through
// provider.Usage (prompt including both), are priced at their own rates.
func TestSettleUsagePricesCacheReadsAndWrites(t *testing.T) {
	sonnet := pricing.Price{Input: 3_000_000, Output: 15_000_000, CachedInput: 300_000, CacheWrite: 3_750_000}
	gpt4o := pricing.Price{Input: 2_500_000, Output: 10_000_000, CachedInput: 1_250_000, CacheWrite: 2_500_000}
	for _, c := range []struct {
		name     string
		price    pricing.Price
		unpriced bool
		usage    quota.TokenUsage
		want     int64
	}{
		{
			// input_tokens 1000 + cache_read_input_tokens 10000 +
			// cache_creation_input_tokens 2000 = prompt 13000; output 500:
			// $0.003 + $0.003 + $0.0075 + $0.0075.
			"anthropic 1000 in, 10000 cache read, 2000 cache write, 500 out at sonnet prices is $0.021",
			sonnet, false, quota.TokenUsage{Prompt: 13_000, Completion: 500, Cached: 10_000, CacheWrite: 2_000}, 21_000,
		},
		{
			// prompt_tokens 2000 of which cached_tokens 1024, completion 300:
			// 976 × $2.50 + 1024 × $1.25 + 300 × $10 per 1M.
			"openai 2000 prompt with 1024 cached and 300 out at gpt-4o prices is $0.00672",
			gpt4o, false, quota.TokenUsage{Prompt: 2_000, Completion: 300, Cached: 1_024}, 6_720,
		},
		{"an unpriced model is metered at $0", pricing.Price{}, true, quota.TokenUsage{Prompt: 10, Completion: 10}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			led := &settlements{}
			l := &quota.Limiter{Ledger: led, Now: func() time.Time { return time.Unix(1e9, 0) }}
			r := quota.Reservation{ID: "r", PrincipalID: "key:a", Price: c.price, Unpriced: c.unpriced, CostMicros: 1_000_000}
			e, err := l.SettleUsage(t.Context(), r, c.usage)
			if err != nil || e.CostMicros != c.want || len(led.got) != 1 {
				t.Fatalf("SettleUsage = %+v, %v; want cost %d", e, err, c.want)
			}
			st := led.got[0]
			if st.Price != c.price || st.Unpriced != c.unpriced || st.CachedTokens != c.usage.Cached || st.CacheWriteTokens != c.usage.CacheWrite {
				t.Errorf("settlement %+v does not carry the price and cache tokens", st)
			}
		})
	}
}

func TestUSDDenialNamesDollarsAndTenant(t *testing.T) {
	d := &quota.Denial{Tenant: "acme", Limit: quota.LimitUSDPerDay, Max: 5_000_000, Used: 4_999_999, ResetAt: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	want := "quota: tenant acme usd_per_day limit $5.00 reached ($4.999999 used), resets at 2026-01-02T00:00:00Z"
	if got := d.Error(); got != want || !d.Budget() || !d.USD() {
		t.Errorf("Error() = %q, want %q, a USD budget", got, want)
	}
}
