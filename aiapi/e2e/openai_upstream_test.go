package e2e_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// answerChat answers like an OpenAI-compatible server: a completion, or a
// stream whose last chunk carries usage when asked for.
func answerChat(w http.ResponseWriter, r *http.Request, body string) {
	if gjson.Get(body, "stream").Bool() {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, word := range []string{"Hello", " from", " upstream"} {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"up-internal\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", word)
		}
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"up-internal\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
		if gjson.Get(body, "stream_options.include_usage").Bool() {
			fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"up-internal\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":3,\"total_tokens\":14}}\n\n")
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"up-internal","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from upstream"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}`)
}

func TestOpenAIUpstreamGetsTheCallersFieldsWithTheCapAndUsageRequest(t *testing.T) {
	var u *upstream
	u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk-upstream-secret" {
			t.Errorf("upstream got Authorization %q", r.Header.Get("Authorization"))
		}
		answerChat(w, r, u.lastBody())
	})
	cfg := withUpstream(t, u, 0)
	cfg.DefaultMaxTokens = 321
	s := newStack(t, cfg)
	id, secret := s.key(t, keys.Spec{})
	c := s.client(secret)

	got, err := c.Chat.Completions.New(t.Context(), chatParams("up", "hi"),
		option.WithJSONSet("vendor_extension", map[string]any{"keep": []int{1, 2}}), option.WithJSONSet("seed", 7))
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "up" || got.Choices[0].Message.Content != "Hello from upstream" {
		t.Errorf("answer = %q from %q", got.Choices[0].Message.Content, got.Model)
	}
	body := u.lastBody()
	for path, want := range map[string]string{
		"model":            "up-internal",
		"max_tokens":       "321",
		"vendor_extension": `{"keep":[1,2]}`,
		"seed":             "7",
		"messages.0.role":  "user",
	} {
		if v := gjson.Get(body, path); v.Raw != want && v.Str != want {
			t.Errorf("upstream body %s = %s, want %s (body %s)", path, v.Raw, want, body)
		}
	}
	if es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}); len(es) != 1 || es[0].PromptTokens != 11 || es[0].CompletionTokens != 3 {
		t.Errorf("ledger = %+v, want the upstream's 11 + 3", es)
	}

	// A caller's own cap goes through as it is.
	params := chatParams("up", "hi")
	params.MaxCompletionTokens = openai.Int(50)
	if _, err := c.Chat.Completions.New(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	if b := u.lastBody(); gjson.Get(b, "max_completion_tokens").Int() != 50 || gjson.Get(b, "max_tokens").Exists() {
		t.Errorf("upstream body %s, want the caller's max_completion_tokens only", b)
	}

	// Streams ask the upstream for usage; a caller that did not ask does
	// not get the usage chunk.
	for _, include := range []bool{false, true} {
		params := chatParams("up", "hi")
		if include {
			params.StreamOptions.IncludeUsage = openai.Bool(true)
		}
		st := c.Chat.Completions.NewStreaming(t.Context(), params)
		var (
			acc    openai.ChatCompletionAccumulator
			usages int
			models []string
		)
		for st.Next() {
			acc.AddChunk(st.Current())
			models = append(models, st.Current().Model)
			if st.Current().Usage.TotalTokens > 0 {
				usages++
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != "Hello from upstream" || (usages == 1) != include {
			t.Errorf("include_usage %v: streamed %q with %d usage chunks", include, acc.Choices[0].Message.Content, usages)
		}
		if strings.Join(models, ",") != strings.TrimSuffix(strings.Repeat("up,", len(models)), ",") {
			t.Errorf("chunks name models %v, want up only", models)
		}
		if !gjson.Get(u.lastBody(), "stream_options.include_usage").Bool() {
			t.Errorf("upstream stream request without include_usage: %s", u.lastBody())
		}
		es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
		if e := es[len(es)-1]; e.PromptTokens != 11 || e.CompletionTokens != 3 {
			t.Errorf("stream settled %+v, want the upstream's usage", e)
		}
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}

func TestEmbeddingsPassThroughToAnOpenAIUpstream(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","model":"up-internal","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.5]}],"usage":{"prompt_tokens":4,"total_tokens":4}}`)
	})
	s := newStack(t, withUpstream(t, u, 0))
	id, secret := s.key(t, keys.Spec{})
	c := s.client(secret)
	got, err := c.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
		Model: "up", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfTokens: []int64{1, 2, 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "up" || len(got.Data) != 1 || got.Data[0].Embedding[1] != -0.5 {
		t.Errorf("answer = %+v", got)
	}
	if b := u.lastBody(); gjson.Get(b, "model").Str != "up-internal" || gjson.Get(b, "input").Raw != "[1,2,3]" {
		t.Errorf("upstream body = %s", b)
	}
	if es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}); len(es) != 1 || es[0].PromptTokens != 4 {
		t.Errorf("ledger = %+v", es)
	}
}
