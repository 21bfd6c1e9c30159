package e2e_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/echo"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

func TestChatCompletionAnswersAndIsSettledInTheLedger(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig())
	id, secret := s.key(t, keys.Spec{Tenant: "acme", Limits: record.Limits{RPM: 10, TPM: 100_000}})
	var resp *http.Response
	c := s.client(secret)
	got, err := c.Chat.Completions.New(t.Context(), chatParams("echo", "hello there, world"), option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != "hello there, world" || got.Model != "echo" {
		t.Errorf("answer = %q from %q, want the echo", got.Choices[0].Message.Content, got.Model)
	}
	wantUsage := quota.Entry{PromptTokens: echo.PromptTokens("hello there, world"), CompletionTokens: 3}
	if got.Usage.PromptTokens != wantUsage.PromptTokens || got.Usage.CompletionTokens != wantUsage.CompletionTokens {
		t.Errorf("usage = %+v, want %+v", got.Usage, wantUsage)
	}
	es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
	if len(es) != 1 {
		t.Fatalf("ledger = %+v, want one entry", es)
	}
	e := es[0]
	if e.Tenant != "acme" || e.Model != "echo" || e.PromptTokens != wantUsage.PromptTokens || e.CompletionTokens != 3 ||
		e.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("ledger entry = %+v, want acme/echo with the answer's usage and request id %s", e, resp.Header.Get("X-Request-Id"))
	}
	// The headers describe the minute window after the reservation.
	for h, want := range map[string]string{
		quota.HeaderLimitRequests:     "10",
		quota.HeaderRemainingRequests: "9",
		quota.HeaderLimitTokens:       "100000",
		quota.HeaderRemainingTokens:   strconv.FormatInt(100_000-e.ReservedTokens, 10),
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	for _, h := range []string{quota.HeaderResetRequests, quota.HeaderResetTokens} {
		if v := resp.Header.Get(h); !strings.HasSuffix(v, "s") {
			t.Errorf("%s = %q, want a duration like 17s", h, v)
		}
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}

// The reservation's bound is the body's bytes plus the output cap; the cap
// is the caller's max_tokens, or the configured default.
func TestReservationBoundsTheRequest(t *testing.T) {
	cfg := aiapi.DefaultConfig()
	cfg.DefaultMaxTokens = 100
	s := newStack(t, cfg)
	id, secret := s.key(t, keys.Spec{})
	c := s.client(secret)
	params := chatParams("echo", "one two three four five")
	if _, err := c.Chat.Completions.New(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	params.MaxTokens = openai.Int(2)
	got, err := c.Chat.Completions.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != "one two" || got.Choices[0].FinishReason != "length" {
		t.Errorf("capped answer = %q (%s), want \"one two\" (length)", got.Choices[0].Message.Content, got.Choices[0].FinishReason)
	}
	es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
	if len(es) != 2 {
		t.Fatalf("ledger = %+v", es)
	}
	// The first body is the second's without `"max_tokens":2,` (15 bytes).
	if d := es[0].ReservedTokens - 100 - (es[1].ReservedTokens - 2 - 15); d != 0 {
		t.Errorf("reserved %d and %d tokens: the bounds are not body + cap", es[0].ReservedTokens, es[1].ReservedTokens)
	}
}

func TestStreamingRelaysChunksAndUsage(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig())
	id, secret := s.key(t, keys.Spec{Limits: record.Limits{RPM: 10}})
	c := s.client(secret)
	for _, includeUsage := range []bool{true, false} {
		t.Run("include_usage="+strconv.FormatBool(includeUsage), func(t *testing.T) {
			params := chatParams("echo", "streams arrive word by word")
			if includeUsage {
				params.StreamOptions.IncludeUsage = openai.Bool(true)
			}
			var resp *http.Response
			stream := c.Chat.Completions.NewStreaming(t.Context(), params, option.WithResponseInto(&resp))
			var (
				acc    openai.ChatCompletionAccumulator
				chunks int
				usage  int
			)
			for stream.Next() {
				ch := stream.Current()
				acc.AddChunk(ch)
				chunks++
				if ch.Usage.TotalTokens > 0 {
					usage++
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if got := acc.Choices[0].Message.Content; got != "streams arrive word by word" {
				t.Errorf("streamed answer = %q", got)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || resp.Header.Get(quota.HeaderLimitRequests) != "10" {
				t.Errorf("Content-Type %q, %s %q", ct, quota.HeaderLimitRequests, resp.Header.Get(quota.HeaderLimitRequests))
			}
			// role, 5 words, finish (+ usage)
			want := 7
			if includeUsage {
				want = 8
				if usage != 1 || acc.Usage.CompletionTokens != 5 {
					t.Errorf("usage chunks = %d, usage %+v; want one with 5 completion tokens", usage, acc.Usage)
				}
			} else if usage != 0 {
				t.Errorf("a usage chunk reached a client that did not ask for one")
			}
			if chunks != want {
				t.Errorf("%d chunks, want %d", chunks, want)
			}
			es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
			if e := es[len(es)-1]; e.CompletionTokens != 5 || e.PromptTokens != echo.PromptTokens("streams arrive word by word") {
				t.Errorf("ledger entry = %+v, want the echo's usage", e)
			}
		})
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}

func TestEmbeddings(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig())
	id, secret := s.key(t, keys.Spec{Models: []string{"echo"}})
	c := s.client(secret)
	inputs := []string{"first text", "second, longer text"}
	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
		t.Run(string(format), func(t *testing.T) {
			got, err := c.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
				Model:          "echo",
				Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs},
				EncodingFormat: format,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Data) != 2 {
				t.Fatalf("%d embeddings, want 2", len(got.Data))
			}
			for i, d := range got.Data {
				want := echo.Embed(inputs[i])
				vec := d.Embedding
				if len(vec) != len(want) {
					t.Fatalf("embedding %d has %d numbers, want %d", i, len(vec), len(want))
				}
				for j := range want {
					if float32(vec[j]) != want[j] {
						t.Errorf("embedding %d[%d] = %v, want %v", i, j, vec[j], want[j])
						break
					}
				}
			}
			if got.Usage.PromptTokens != echo.PromptTokens(inputs...) {
				t.Errorf("usage = %+v", got.Usage)
			}
		})
	}
	if es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}); len(es) != 2 || es[0].PromptTokens != echo.PromptTokens(inputs...) {
		t.Errorf("ledger = %+v", es)
	}
}

func asAPIError(t *testing.T, err error, status int) *openai.Error {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v, want *openai.Error", err)
	}
	if apiErr.StatusCode != status {
		t.Fatalf("status = %d (%s), want %d", apiErr.StatusCode, apiErr.RawJSON(), status)
	}
	return apiErr
}

func TestModelOutsideTheKeysGlobsIsNotFound(t *testing.T) {
	cfg := aiapi.DefaultConfig()
	cfg.Models = append(cfg.Models, aiapi.ModelRoute{Name: "echo-*", Provider: "echo"}, aiapi.ModelRoute{Name: "other", Provider: "echo"})
	s := newStack(t, cfg)
	_, secret := s.key(t, keys.Spec{Models: []string{"echo-?"}})
	c := s.client(secret)
	for _, model := range []string{"other", "echo", "echo-ab", "unrouted"} {
		_, err := c.Chat.Completions.New(t.Context(), chatParams(model, "hi"))
		e := asAPIError(t, err, http.StatusNotFound)
		if e.Code != "model_not_found" || e.Param != "model" || e.Type != "invalid_request_error" {
			t.Errorf("%s: error = %s, want model_not_found", model, e.RawJSON())
		}
	}
	if _, err := c.Chat.Completions.New(t.Context(), chatParams("echo-a", "hi")); err != nil {
		t.Errorf("echo-a, which the glob allows: %v", err)
	}
	_, err := c.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "other", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}})
	asAPIError(t, err, http.StatusNotFound)
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}

func TestModelListShowsOnlyTheCallersModels(t *testing.T) {
	cfg := aiapi.DefaultConfig()
	cfg.Models = append(cfg.Models,
		aiapi.ModelRoute{Name: "gpt-4o", Provider: "echo"},
		aiapi.ModelRoute{Name: "gpt-4o-mini", Provider: "echo"},
		aiapi.ModelRoute{Name: "claude-*", Provider: "echo"}, // a glob: served, not listed
		aiapi.ModelRoute{Name: "llama", Provider: "echo"},
	)
	s := newStack(t, cfg)
	_, secret := s.key(t, keys.Spec{Models: []string{"gpt-4o*", "claude-*"}})
	c := s.client(secret)
	page, err := c.Models.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "gpt-4o,gpt-4o-mini" {
		t.Errorf("models = %v, want [gpt-4o gpt-4o-mini]", ids)
	}
	if m, err := c.Models.Get(t.Context(), "claude-3-haiku"); err != nil || m.ID != "claude-3-haiku" {
		t.Errorf("Get(claude-3-haiku) = %+v, %v", m, err)
	}
	for _, id := range []string{"llama", "echo", "nothing"} {
		_, err := c.Models.Get(t.Context(), id)
		if e := asAPIError(t, err, http.StatusNotFound); e.Code != "model_not_found" {
			t.Errorf("Get(%s) = %s", id, e.RawJSON())
		}
	}
}

func TestUnknownKeyIsUnauthorizedAtTheGateway(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig())
	c := s.client("aig_not-a-key")
	_, err := c.Chat.Completions.New(t.Context(), chatParams("echo", "hi"))
	asAPIError(t, err, http.StatusUnauthorized)
}

// API Gateway caches the authorizer's Allow for 300 s; the AI API reads the
// key's status back, at most a second stale, and refuses it.
func TestRevokedKeyIsRefusedWithinASecondDespiteTheCachedAllow(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig())
	id, secret := s.key(t, keys.Spec{})
	c := s.client(secret)
	if _, err := c.Chat.Completions.New(t.Context(), chatParams("echo", "hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Keys.Revoke(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(aiapi.DefaultKeyStatusTTL.Std())
	_, err := c.Chat.Completions.New(t.Context(), chatParams("echo", "hi"))
	e := asAPIError(t, err, http.StatusUnauthorized)
	// OpenAI's shape, not the gateway's {"message":"Unauthorized"}: the
	// refusal came from the AI API behind the cached Allow.
	if e.Code != "invalid_api_key" {
		t.Errorf("error = %s, want invalid_api_key", e.RawJSON())
	}
	if es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}); len(es) != 1 {
		t.Errorf("ledger has %d entries, want only the request before the revocation", len(es))
	}
}

func TestRateLimitsAnswer429WithRetryAfterAndHeaders(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig())
	for _, tc := range []struct {
		name       string
		limits     record.Limits
		ok         int
		typ, code  string
		limitHdr   string
		limitValue string
	}{
		{"requests per minute", record.Limits{RPM: 2, TPM: 1_000_000}, 2, "requests", "rate_limit_exceeded", quota.HeaderLimitRequests, "2"},
		{"tokens per minute", record.Limits{TPM: 9000, RPM: 100}, 2, "tokens", "rate_limit_exceeded", quota.HeaderLimitTokens, "9000"},
		{"tokens per day", record.Limits{TokensPerDay: 9000}, 2, "insufficient_quota", "insufficient_quota", "", ""},
		{"tokens per month", record.Limits{TokensPerMonth: 9000}, 2, "insufficient_quota", "insufficient_quota", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, secret := s.key(t, keys.Spec{Limits: tc.limits})
			c := s.client(secret)
			params := chatParams("echo", "hi")
			params.MaxTokens = openai.Int(4000) // fits 9000 tokens, and is settled to 2
			for i := range tc.ok {
				if _, err := c.Chat.Completions.New(t.Context(), params); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			// The 4 settled tokens leave less than this one's bound.
			params.MaxTokens = openai.Int(8990)
			_, err := c.Chat.Completions.New(t.Context(), params)
			e := asAPIError(t, err, http.StatusTooManyRequests)
			if e.Type != tc.typ || e.Code != tc.code {
				t.Errorf("error = %s, want type %s, code %s", e.RawJSON(), tc.typ, tc.code)
			}
			h := e.Response.Header
			ra, err := strconv.Atoi(h.Get("Retry-After"))
			if err != nil || ra < 1 {
				t.Errorf("Retry-After = %q, want whole seconds ≥ 1", h.Get("Retry-After"))
			}
			if tc.limitHdr != "" {
				if ra > 60 {
					t.Errorf("Retry-After = %d for a minute window", ra)
				}
				if got := h.Get(tc.limitHdr); got != tc.limitValue {
					t.Errorf("%s = %q, want %q", tc.limitHdr, got, tc.limitValue)
				}
			}
			if tc.name == "requests per minute" && h.Get(quota.HeaderRemainingRequests) != "0" {
				t.Errorf("%s = %q on a denial, want 0", quota.HeaderRemainingRequests, h.Get(quota.HeaderRemainingRequests))
			}
			// Two echoes of "hi" settled 1 + 1 tokens each.
			if tc.name == "tokens per minute" && h.Get(quota.HeaderRemainingTokens) != "8996" {
				t.Errorf("%s = %q on a denial, want 8996", quota.HeaderRemainingTokens, h.Get(quota.HeaderRemainingTokens))
			}
			if es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}); len(es) != tc.ok {
				t.Errorf("ledger has %d entries, want %d", len(es), tc.ok)
			}
		})
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}
