package pricing

import (
	"strings"
	"testing"
	"time"
)

func TestParseUSDIsExactToTheMicroDollar(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Micros
	}{
		{"0.1", 100_000}, {"3", 3_000_000}, {"$5.00", 5_000_000}, {"1.234567", 1_234_567},
		{"15.", 15_000_000}, {".5", 500_000}, {"0.0000010", 1}, {"9223372036854.775807", 9223372036854775807},
	} {
		got, err := ParseUSD(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseUSD(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestParseUSDRefusesWhatItCannotHoldExactly(t *testing.T) {
	for _, in := range []string{"", ".", "-1", "1e3", "0.0000001", "1.2.3", "abc", "9223372036854.775808", " 1 2", "+1", "NaN"} {
		if got, err := ParseUSD(in); err == nil {
			t.Errorf("ParseUSD(%q) = %d, want an error", in, got)
		}
	}
}

func TestMicrosStringShowsCents(t *testing.T) {
	for m, want := range map[Micros]string{0: "0.00", 5_000_000: "5.00", 125: "0.000125", 12_500_000: "12.50", -1_500_000: "-1.50"} {
		if got := m.String(); got != want {
			t.Errorf("Micros(%d).String() = %q, want %q", int64(m), got, want)
		}
	}
}

// The worked examples: each name states the arithmetic it checks.
func TestCostWorkedExamples(t *testing.T) {
	sonnet := Price{Input: 3_000_000, Output: 15_000_000, CachedInput: 300_000, CacheWrite: 3_750_000}
	gpt4o := Price{Input: 2_500_000, Output: 10_000_000, CachedInput: 1_250_000, CacheWrite: 2_500_000}
	for _, c := range []struct {
		name  string
		price Price
		usage Usage
		want  Micros
	}{
		{
			// Anthropic reports input_tokens=1000 (uncached),
			// cache_read_input_tokens=10000, cache_creation_input_tokens=2000,
			// output_tokens=500; provider.Usage's prompt is their sum, 13000.
			// 1000×$3 + 500×$15 + 10000×$0.30 + 2000×$3.75 per 1M
			// = $0.003 + $0.0075 + $0.003 + $0.0075 = $0.021.
			"anthropic sonnet 1k in + 10k cache read + 2k cache write + 500 out = $0.021",
			sonnet, UsageOf(13_000, 500, 10_000, 2_000), 21_000,
		},
		{
			// OpenAI reports prompt_tokens=2000 with
			// prompt_tokens_details.cached_tokens=1024, completion 300:
			// 976×$2.50 + 1024×$1.25 + 300×$10 per 1M
			// = $0.00244 + $0.00128 + $0.003 = $0.00672.
			"openai gpt-4o 2000 prompt of which 1024 cached + 300 out = $0.00672",
			gpt4o, UsageOf(2_000, 300, 1_024, 0), 6_720,
		},
		{
			// 1 token at $0.15/1M is $0.00000015: rounded up to 1 micro-dollar, never to 0.
			"one token at $0.15 per 1M rounds up to $0.000001",
			Price{Input: 150_000}, Usage{Input: 1}, 1,
		},
		{"no usage costs nothing", sonnet, Usage{}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.price.Cost(c.usage)
			if err != nil || got != c.want {
				t.Fatalf("Cost = %s (%d), %v; want %s", got, int64(got), err, c.want)
			}
		})
	}
}

func TestCostOverflowIsAnError(t *testing.T) {
	if _, err := (Price{Input: 1 << 50}).Cost(Usage{Input: 1 << 50}); err == nil {
		t.Fatal("an overflowing cost was accepted")
	}
}

func TestBoundPricesInputAtTheDearestInputRate(t *testing.T) {
	// 1000 input at $3.75 (cache write dearer than $3 input) + 100 out at $15 = $0.00375 + $0.0015.
	got, err := Price{Input: 3_000_000, Output: 15_000_000, CachedInput: 300_000, CacheWrite: 3_750_000}.Bound(1000, 100)
	if err != nil || got != 5_250 {
		t.Fatalf("Bound = %d, %v; want 5250", int64(got), err)
	}
}

func TestConfiguredPriceOverridesDefault(t *testing.T) {
	entries, err := ParseJSON([]byte(`[{"model":"gpt-4o*","input":"1","output":2,"cachedInput":0.5}]`))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := NewTable(entries).Lookup("gpt-4o-2024-08-06", time.Now())
	want := Price{Input: 1_000_000, Output: 2_000_000, CachedInput: 500_000, CacheWrite: 1_000_000}
	if !ok || p != want {
		t.Fatalf("Lookup = %+v, %v; want %+v", p, ok, want)
	}
	if p, ok := NewTable(nil).Lookup("us.anthropic.claude-sonnet-4-20250514-v1:0", time.Now()); !ok || p.Input != 3_000_000 {
		t.Fatalf("the Bedrock Sonnet 4 default is %+v, %v", p, ok)
	}
	if _, ok := NewTable(nil).Lookup("echo", time.Now()); ok {
		t.Fatal("echo has a price")
	}
}

func TestEffectiveDatePicksThePriceInForce(t *testing.T) {
	entries, err := ParseJSON([]byte(`[{"model":"m","input":1,"output":1},{"model":"m","input":2,"output":2,"effective":"2026-01-01"}]`))
	if err != nil {
		t.Fatal(err)
	}
	tab := NewTable(entries)
	if p, _ := tab.Lookup("m", time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC)); p.Input != 1_000_000 {
		t.Errorf("before the date: %+v", p)
	}
	if p, _ := tab.Lookup("m", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); p.Input != 2_000_000 {
		t.Errorf("from the date: %+v", p)
	}
}

func TestMalformedEntryNamesTheField(t *testing.T) {
	for _, c := range []struct{ json, field string }{
		{`[{"model":"m","output":1}]`, "pricing[0].input"},
		{`[{"model":"m","input":1,"output":1},{"model":"m","input":1,"output":"-2"}]`, "pricing[1].output"},
		{`[{"model":"m","input":1,"output":1,"cachedInput":0.0000001}]`, "pricing[0].cachedInput"},
		{`[{"model":"m","input":1,"output":1,"cacheWrite":"x"}]`, "pricing[0].cacheWrite"},
		{`[{"model":"a b","input":1,"output":1}]`, "pricing[0].model"},
		{`[{"model":"m","input":1,"output":1,"effective":"soon"}]`, "pricing[0].effective"},
		{`[{"model":"m","input":1,"output":1,"outptu":1}]`, "outptu"},
		{`[{"model":"m","input":[1],"output":1}]`, "pricing[0].input"},
	} {
		_, err := ParseJSON([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("ParseJSON(%s) = %v; want an error naming %s", c.json, err, c.field)
		}
	}
}
