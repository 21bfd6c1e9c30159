package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/option"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/anthropic/anthropictest"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// withPrices returns cfg pricing each named model at price.
func withPrices(cfg aiapi.Config, price pricing.Price, models ...string) aiapi.Config {
	var es []pricing.Entry
	for _, m := range models {
		es = append(es, pricing.Entry{Model: m, Price: price})
	}
	cfg.Pricing = pricing.NewTable(es)
	return cfg
}

// dollar is $1 per 1M tokens in and $2 out: a token costs a micro-dollar
// or two, so a cost is never rounded away.
var dollar = pricing.Price{Input: 1_000_000, Output: 2_000_000, CachedInput: 100_000, CacheWrite: 1_250_000}

// checkCharged fails unless e was charged at price for the output it
// recorded, and something was.
func checkCharged(t *testing.T, e quota.Entry, price pricing.Price) {
	t.Helper()
	want, err := price.Cost(pricing.UsageOf(e.PromptTokens, e.CompletionTokens, e.CachedTokens, e.CacheWriteTokens))
	if err != nil {
		t.Fatal(err)
	}
	if e.CompletionTokens == 0 || e.CostMicros == 0 || e.CostMicros != int64(want) || e.Price != price || e.Unpriced {
		t.Errorf("ledger row %+v: want output charged, $%s at %+v", e, want, price)
	}
}

func waitLedger(t *testing.T, s *stack, q quota.Query, n int) []quota.Entry {
	t.Helper()
	var es []quota.Entry
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if es = s.ledger(t, q); len(es) >= n {
			break
		}
	}
	if len(es) != n {
		t.Fatalf("ledger = %+v, want %d rows", es, n)
	}
	return es
}

func TestStreamCutByTheClientIsChargedInDollars(t *testing.T) {
	s := newStack(t, withPrices(aiapi.DefaultConfig(), dollar, "echo"))
	id, secret := s.key(t, keys.Spec{Limits: record.Limits{USDPerDay: 1_000_000}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := s.client(secret)
	st := c.Chat.Completions.NewStreaming(ctx, chatParams("echo", strings.Repeat("word ", 200)), option.WithJSONSet("delay_ms", 20))
	got := 0
	for st.Next() {
		if st.Current().Choices[0].Delta.Content != "" {
			if got++; got == 3 {
				cancel()
				break
			}
		}
	}
	st.Close()
	e := waitLedger(t, s, quota.Query{PrincipalID: record.KeyPrincipalID(id)}, 1)[0]
	if e.CompletionTokens < 3 || e.CompletionTokens >= 200 {
		t.Errorf("settled %d output tokens, want the 3 words produced or a few more", e.CompletionTokens)
	}
	checkCharged(t, e, dollar)
}

func TestStreamedToolCallAnswerIsCharged(t *testing.T) {
	// An upstream that streams a tool call and reports no usage: the
	// output is estimated from the call's bytes, and charged.
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range []string{
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"up-internal","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}`,
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"up-internal","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\"}"}}]}}]}`,
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"up-internal","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		} {
			fmt.Fprintf(w, "data: %s\n\n", d)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	s := newStack(t, withPrices(withUpstream(t, u, 0), dollar, "up-internal"))
	id, secret := s.key(t, keys.Spec{Limits: record.Limits{USDPerMonth: 5_000_000}})
	c := s.client(secret)
	st := c.Chat.Completions.NewStreaming(t.Context(), chatParams("up", "weather in Paris?"))
	calls := 0
	for st.Next() {
		if len(st.Current().Choices) > 0 && len(st.Current().Choices[0].Delta.ToolCalls) > 0 {
			calls++
		}
	}
	if err := st.Err(); err != nil || calls != 2 {
		t.Fatalf("stream: %d tool-call chunks, %v", calls, err)
	}
	checkCharged(t, waitLedger(t, s, quota.Query{PrincipalID: record.KeyPrincipalID(id)}, 1)[0], dollar)
}

func TestModelWithoutPriceRefusesOnlyCallersWithAUSDBudget(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig()) // echo has no built-in price
	if _, err := s.Keys.SetTenant(t.Context(), "budgeted", keys.TenantChange{USDPerDay: ptr(int64(5_000_000))}); err != nil {
		t.Fatal(err)
	}
	_, withUSD := s.key(t, keys.Spec{Limits: record.Limits{USDPerDay: 1_000_000}})
	_, ofTenant := s.key(t, keys.Spec{Tenant: "budgeted"})
	freeID, free := s.key(t, keys.Spec{Limits: record.Limits{TokensPerDay: 100_000}})
	body := `{"model":"echo","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`
	for name, secret := range map[string]string{"key with a USD budget": withUSD, "key of a tenant with one": ofTenant} {
		// OpenAI's shape carries the code; Anthropic's has none, its
		// message says it.
		for path, want := range map[string]string{"/v1/chat/completions": `"code":"model_not_priced"`, "/v1/messages": `"type":"error"`} {
			status, _, b, err := s.post(t.Context(), secret, path, body)
			if err != nil || status != http.StatusForbidden || !strings.Contains(string(b), want) || !strings.Contains(string(b), "has no price") {
				t.Errorf("%s on %s: %d %s %v; want 403 with %s", name, path, status, b, err, want)
			}
		}
	}
	if status, _, b, err := s.post(t.Context(), free, "/v1/chat/completions", body); err != nil || status != http.StatusOK {
		t.Fatalf("key without a USD budget: %d %s %v; want 200", status, b, err)
	}
	e := waitLedger(t, s, quota.Query{PrincipalID: record.KeyPrincipalID(freeID)}, 1)[0]
	if !e.Unpriced || e.CostMicros != 0 {
		t.Errorf("ledger row %+v, want unpriced at $0", e)
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations left pending by the refusals", n)
	}
}

func TestExhaustedUSDBudgetIs429NamingItAndItsReset(t *testing.T) {
	// $100 per 1M tokens: a bound of ~1000 tokens is about $0.10, over
	// the key's $0.05 a day.
	dear := pricing.Price{Input: 100_000_000, Output: 100_000_000, CachedInput: 100_000_000, CacheWrite: 100_000_000}
	s := newStack(t, withPrices(aiapi.DefaultConfig(), dear, "echo"))
	_, secret := s.key(t, keys.Spec{Limits: record.Limits{USDPerDay: 50_000}})
	body := `{"model":"echo","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}`
	reset := quota.WindowsAt(s.Clock.Now()).DayEnd().Format(time.RFC3339)
	for _, c := range []struct{ path, shape string }{
		{"/v1/chat/completions", `"insufficient_quota"`},
		{"/v1/messages", `"type":"error"`},
	} {
		status, h, b, err := s.post(t.Context(), secret, c.path, body)
		if err != nil || status != http.StatusTooManyRequests {
			t.Fatalf("%s: %d %s %v; want 429", c.path, status, b, err)
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil || !strings.Contains(string(b), c.shape) || !strings.Contains(string(b), "usd_per_day: limit $0.05") ||
			!strings.Contains(string(b), reset) || h.Get("Retry-After") == "" {
			t.Errorf("%s: %s (Retry-After %q); want %s naming usd_per_day $0.05 and the reset %s", c.path, b, h.Get("Retry-After"), c.shape, reset)
		}
	}
}

func TestTenantUSDBudgetIsSharedByItsKeys(t *testing.T) {
	dear := pricing.Price{Input: 100_000_000, Output: 100_000_000, CachedInput: 100_000_000, CacheWrite: 100_000_000}
	s := newStack(t, withPrices(aiapi.DefaultConfig(), dear, "echo"))
	if _, err := s.Keys.SetTenant(t.Context(), "acme", keys.TenantChange{USDPerDay: ptr(int64(300_000))}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, name := range []string{"a", "b"} {
		id, secret := s.key(t, keys.Spec{Name: name, Tenant: "acme"})
		ids[secret] = id
	}
	// A long prompt and a short answer: the bound (~$0.20) is far above
	// the cost (~$0.05), so the tenant's $0.30 admit several requests, and
	// then refuse whichever key asks next.
	body := `{"model":"echo","max_tokens":10,"messages":[{"role":"user","content":"` + strings.Repeat("spend ", 300) + `"}]}`
	var okBy = map[string]int{}
	var refusal string
	for i := 0; i < 20 && refusal == ""; i++ {
		for secret, id := range ids {
			status, _, b, err := s.post(t.Context(), secret, "/v1/chat/completions", body)
			switch {
			case err != nil:
				t.Fatal(err)
			case status == http.StatusOK:
				okBy[id]++
			case status == http.StatusTooManyRequests:
				refusal = string(b)
			default:
				t.Fatalf("%d %s", status, b)
			}
			if refusal != "" {
				break
			}
		}
	}
	if len(okBy) != 2 || !strings.Contains(refusal, "tenant acme") || !strings.Contains(refusal, "usd_per_day") {
		t.Fatalf("answered per key %v, refusal %q; want both keys answered, then the tenant's budget named", okBy, refusal)
	}
	var total int64
	for _, e := range s.ledger(t, quota.Query{Tenant: "acme"}) {
		total += e.CostMicros
	}
	if total > 300_000 || total == 0 {
		t.Errorf("the tenant's keys spent $%s of its $0.30", pricing.Micros(total))
	}
}

func ptr[T any](v T) *T { return &v }

// Cache reads and writes, as each upstream reports them, are priced at the
// configured rates through the whole path (worked examples in the names).
func TestCacheReadsAndWritesArePricedAsConfigured(t *testing.T) {
	sonnet := pricing.Price{Input: 3_000_000, Output: 15_000_000, CachedInput: 300_000, CacheWrite: 3_750_000}
	gpt4o := pricing.Price{Input: 2_500_000, Output: 10_000_000, CachedInput: 1_250_000, CacheWrite: 2_500_000}
	t.Run("anthropic 1000 in + 10000 cache read + 2000 cache write + 500 out at sonnet prices is $0.021 a request", func(t *testing.T) {
		up := anthropictest.NewServer(t)
		up.InputTokens, up.CacheReadTokens, up.CacheCreationTokens, up.OutputTokens = 1_000, 10_000, 2_000, 500
		cfg := withAnthropic(t, aiapi.DefaultConfig(), up)
		cfg.Pricing = pricing.NewTable([]pricing.Entry{{Model: "claude-upstream-1", Price: sonnet}})
		s := newStack(t, cfg)
		id, secret := s.key(t, keys.Spec{Limits: record.Limits{USDPerDay: 1_000_000}})
		for _, body := range []string{
			`{"model":"claude","max_tokens":600,"messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"claude","max_tokens":600,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		} {
			if status, _, b, err := s.post(t.Context(), secret, "/v1/messages", body); err != nil || status != http.StatusOK {
				t.Fatalf("%d %s %v", status, b, err)
			}
		}
		es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
		if len(es) != 2 {
			t.Fatalf("ledger = %+v, want the answer and the stream", es)
		}
		for _, e := range es {
			if e.CostMicros != 21_000 || e.CachedTokens != 10_000 || e.CacheWriteTokens != 2_000 || e.PromptTokens != 13_000 || e.Price != sonnet {
				t.Errorf("settled %+v, want $0.021 at sonnet's prices", e)
			}
		}
	})
	t.Run("openai 2000 prompt of which 1024 cached + 300 out at gpt-4o prices is $0.00672", func(t *testing.T) {
		u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"id":"c1","object":"chat.completion","created":1,"model":"up-internal","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":2000,"completion_tokens":300,"total_tokens":2300,"prompt_tokens_details":{"cached_tokens":1024}}}`)
		})
		s := newStack(t, withPrices(withUpstream(t, u, 0), gpt4o, "up-internal"))
		id, secret := s.key(t, keys.Spec{})
		if status, _, b, err := s.post(t.Context(), secret, "/v1/chat/completions", `{"model":"up","messages":[{"role":"user","content":"hi"}]}`); err != nil || status != http.StatusOK {
			t.Fatalf("%d %s %v", status, b, err)
		}
		es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
		if len(es) != 1 || es[0].CostMicros != 6_720 || es[0].CachedTokens != 1_024 {
			t.Errorf("settled %+v, want $0.00672 with 1024 cached", es)
		}
	})
}
