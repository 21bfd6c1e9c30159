package e2e_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/anthropic/anthropictest"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// anthropicClient is the official Anthropic SDK pointed at the stack, with
// the key as a bearer token (ANTHROPIC_AUTH_TOKEN's way: the stack's
// authorizer reads Authorization). It never retries.
func (s *stack) anthropicClient(secret string) anthropic.Client {
	return anthropic.NewClient(option.WithBaseURL(s.URL), option.WithAuthToken(secret), option.WithMaxRetries(0))
}

func messageParams(model, text string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 200,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))},
	}
}

func messageText(m *anthropic.Message) string {
	var b strings.Builder
	for _, c := range m.Content {
		if c.Type == "text" {
			b.WriteString(c.AsText().Text)
		}
	}
	return b.String()
}

// The Messages API through the official Anthropic SDK, against echo (which
// answers it natively) and an anthropic provider (pass-through): answers,
// streams, token counts, usage with cache tokens settled in the ledger,
// and a refused model as the SDK's typed error.
func TestMessagesAPIThroughTheAnthropicSDK(t *testing.T) {
	up := anthropictest.NewServer(t)
	up.InputTokens, up.CacheCreationTokens, up.CacheReadTokens, up.OutputTokens = 5, 7, 11, 3
	up.CountTokens = 42
	s := newStack(t, withAnthropic(t, aiapi.DefaultConfig(), up))
	id, secret := s.key(t, keys.Spec{})
	c := s.anthropicClient(secret)
	const words = "hello aigate messages"

	for _, tc := range []struct {
		model, want string
		// usage is the answer's; prompt and completion what the ledger
		// holds (zero prompt: any positive count, echo counts its own).
		usage              anthropic.Usage
		prompt, completion int64
	}{
		{model: "echo", want: words, usage: anthropic.Usage{OutputTokens: 3}, completion: 3},
		{model: "claude", want: up.Answer,
			usage:  anthropic.Usage{InputTokens: 5, CacheCreationInputTokens: 7, CacheReadInputTokens: 11, OutputTokens: 3},
			prompt: 5 + 7 + 11, completion: 3},
	} {
		t.Run(tc.model, func(t *testing.T) {
			before := len(s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}))
			m, err := c.Messages.New(t.Context(), messageParams(tc.model, words))
			if err != nil {
				t.Fatal(err)
			}
			if messageText(m) != tc.want || string(m.Model) != tc.model || m.StopReason != anthropic.StopReasonEndTurn {
				t.Errorf("answer %q from %q, stop %q", messageText(m), m.Model, m.StopReason)
			}
			checkUsage(t, m.Usage, tc.usage)

			st := c.Messages.NewStreaming(t.Context(), messageParams(tc.model, words))
			var acc anthropic.Message
			for st.Next() {
				if err := acc.Accumulate(st.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Err(); err != nil {
				t.Fatal(err)
			}
			if messageText(&acc) != tc.want || string(acc.Model) != tc.model || acc.StopReason != anthropic.StopReasonEndTurn {
				t.Errorf("streamed %q from %q, stop %q", messageText(&acc), acc.Model, acc.StopReason)
			}
			checkUsage(t, acc.Usage, tc.usage)

			es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
			if len(es) != before+2 {
				t.Fatalf("ledger has %d new rows, want 2", len(es)-before)
			}
			for _, e := range es[before:] {
				if e.Model != tc.model || e.CompletionTokens != tc.completion || e.PromptTokens < 1 || (tc.prompt > 0 && e.PromptTokens != tc.prompt) {
					t.Errorf("settled %+v, want %d + %d tokens for %s", e, tc.prompt, tc.completion, tc.model)
				}
			}
		})
	}
	// The anthropic provider got the upstream model and its own key, never
	// the caller's.
	for _, r := range up.Requests() {
		if r.Model != "claude-upstream-1" || r.Header.Get("X-Api-Key") != anthropictest.Key || strings.Contains(r.Header.Get("Authorization"), secret) {
			t.Errorf("upstream got model %q, x-api-key %q, authorization %q", r.Model, r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"))
		}
	}

	// Counting is forwarded to an upstream that speaks Messages and
	// estimated for the others; echo, which answers Messages itself, must
	// count too.
	for model, want := range map[string]int64{"echo": 0, "claude": 42} {
		t.Run("count_tokens/"+model, func(t *testing.T) {
			n, err := c.Messages.CountTokens(t.Context(), anthropic.MessageCountTokensParams{
				Model:    anthropic.Model(model),
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(words))},
			})
			if err != nil {
				t.Fatal(err)
			}
			if n.InputTokens < 1 || (want > 0 && n.InputTokens != want) {
				t.Errorf("%d input tokens, want %d (any positive for echo)", n.InputTokens, want)
			}
		})
	}

	t.Run("refused model", func(t *testing.T) {
		_, err := c.Messages.New(t.Context(), messageParams("nope", "hi"))
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Type() != "not_found_error" {
			t.Fatalf("unknown model: %v", err)
		}
	})
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}

func checkUsage(t *testing.T, got, want anthropic.Usage) {
	t.Helper()
	if got.InputTokens != want.InputTokens && want.InputTokens > 0 || got.OutputTokens != want.OutputTokens ||
		got.CacheCreationInputTokens != want.CacheCreationInputTokens || got.CacheReadInputTokens != want.CacheReadInputTokens {
		t.Errorf("usage %s, want %+v", got.RawJSON(), want)
	}
}
