package e2e_test

import (
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/bedrock"
	"github.com/aigate/aigate/aiapi/provider/bedrock/bedrocktest"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

func TestBedrockModelThroughTheWholeStack(t *testing.T) {
	br := bedrocktest.NewServer(t)
	cfg := aiapi.DefaultConfig()
	cfg.Upstreams = map[string]provider.Provider{"bedrock": &bedrock.Client{Runtime: br.Runtime()}}
	cfg.Models = append(cfg.Models, aiapi.ModelRoute{Name: "claude-haiku", Provider: "bedrock", UpstreamModel: "anthropic.claude-3-haiku-20240307-v1:0"})
	s := newStack(t, cfg)
	id, secret := s.key(t, keys.Spec{Models: []string{"claude-*"}})
	c := s.client(secret)

	got, err := c.Chat.Completions.New(t.Context(), chatParams("claude-haiku", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != "Hello from Bedrock" || got.Usage.PromptTokens != 12 || got.Model != "claude-haiku" {
		t.Errorf("answer = %+v", got)
	}
	params := chatParams("claude-haiku", "hi")
	params.StreamOptions.IncludeUsage = openai.Bool(true)
	st := c.Chat.Completions.NewStreaming(t.Context(), params)
	var acc openai.ChatCompletionAccumulator
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != "Hello from Bedrock" || acc.Usage.CompletionTokens != 3 {
		t.Errorf("streamed %q, usage %+v", acc.Choices[0].Message.Content, acc.Usage)
	}
	es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
	if len(es) != 2 || es[0].PromptTokens != 12 || es[1].CompletionTokens != 3 {
		t.Errorf("ledger = %+v", es)
	}
	if r := br.Requests(); len(r) != 2 || r[0].ModelID != "anthropic.claude-3-haiku-20240307-v1:0" || r[0].InferenceConfig.MaxTokens != aiapi.DefaultMaxTokens {
		t.Errorf("bedrock got %+v", r)
	}
}
