package pricing

// Built-in prices, USD per 1M tokens, as of 2025-11 (the vendors' public
// price pages on that date; the source of each group is named above it).
// They are a starting point, not a promise: prices change, and any entry
// in the configuration (`pricing:` in the serve config, AIGATE_PRICING for
// the Lambdas) takes precedence over every default. Within the list the
// first match wins, so longer, more specific globs come first.
//
// Each row: model glob, input, output, cache read, cache write (micro-dollars).
var defaultRows = []struct {
	model                 string
	input, output, cr, cw Micros
}{
	// OpenAI, https://openai.com/api/pricing (standard tier, as of 2025-11).
	// OpenAI charges nothing extra to write its automatic prompt cache:
	// cache writes are priced as input.
	{"gpt-5-nano*", 50_000, 400_000, 5_000, 50_000},
	{"gpt-5-mini*", 250_000, 2_000_000, 25_000, 250_000},
	{"gpt-5*", 1_250_000, 10_000_000, 125_000, 1_250_000},
	{"gpt-4.1-nano*", 100_000, 400_000, 25_000, 100_000},
	{"gpt-4.1-mini*", 400_000, 1_600_000, 100_000, 400_000},
	{"gpt-4.1*", 2_000_000, 8_000_000, 500_000, 2_000_000},
	{"gpt-4o-mini*", 150_000, 600_000, 75_000, 150_000},
	{"gpt-4o*", 2_500_000, 10_000_000, 1_250_000, 2_500_000},
	{"o4-mini*", 1_100_000, 4_400_000, 275_000, 1_100_000},
	{"o3-mini*", 1_100_000, 4_400_000, 550_000, 1_100_000},
	{"o3*", 2_000_000, 8_000_000, 500_000, 2_000_000},
	{"text-embedding-3-small*", 20_000, 0, 20_000, 20_000},
	{"text-embedding-3-large*", 130_000, 0, 130_000, 130_000},

	// Anthropic, https://www.anthropic.com/pricing (API, as of 2025-11):
	// cache writes are the 5-minute ones (1.25 × input), cache reads 0.1 ×
	// input. The same figures are Amazon Bedrock's on-demand prices for
	// these models in us-east-1 (https://aws.amazon.com/bedrock/pricing/),
	// whose ids ("anthropic.claude-…", "us.anthropic.claude-…") the
	// leading * covers.
	{"*claude-opus-4-5*", 5_000_000, 25_000_000, 500_000, 6_250_000},
	{"*claude-opus-4*", 15_000_000, 75_000_000, 1_500_000, 18_750_000},
	{"*claude-sonnet-4*", 3_000_000, 15_000_000, 300_000, 3_750_000},
	{"*claude-3-7-sonnet*", 3_000_000, 15_000_000, 300_000, 3_750_000},
	{"*claude-3-5-sonnet*", 3_000_000, 15_000_000, 300_000, 3_750_000},
	{"*claude-haiku-4-5*", 1_000_000, 5_000_000, 100_000, 1_250_000},
	{"*claude-3-5-haiku*", 800_000, 4_000_000, 80_000, 1_000_000},
	{"*claude-3-haiku*", 250_000, 1_250_000, 30_000, 300_000},

	// Amazon Nova on Bedrock, https://aws.amazon.com/bedrock/pricing/
	// (on-demand, us-east-1, as of 2025-11). Nova's cache reads are
	// discounted 75%; writes cost nothing extra.
	{"*amazon.nova-pro*", 800_000, 3_200_000, 200_000, 800_000},
	{"*amazon.nova-lite*", 60_000, 240_000, 15_000, 60_000},
	{"*amazon.nova-micro*", 35_000, 140_000, 8_750, 35_000},
}

// Defaults returns the built-in price entries (a fresh slice).
func Defaults() []Entry {
	out := make([]Entry, len(defaultRows))
	for i, r := range defaultRows {
		out[i] = Entry{Model: r.model, Price: Price{Input: r.input, Output: r.output, CachedInput: r.cr, CacheWrite: r.cw}}
	}
	return out
}
