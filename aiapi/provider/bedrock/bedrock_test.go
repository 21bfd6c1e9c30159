package bedrock_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/bedrock"
	"github.com/aigate/aigate/aiapi/provider/bedrock/bedrocktest"
)

func request(stream bool) *provider.ChatRequest {
	temp := 0.5
	return &provider.ChatRequest{
		RequestID: "req1", Model: "anthropic.claude-3-haiku-20240307-v1:0", ResponseModel: "claude-haiku",
		Messages: []provider.Message{
			{Role: "system", Text: "Be brief."},
			{Role: "user", Text: "Hi."},
			{Role: "user", Text: "Are you there?"},
			{Role: "assistant", Text: "Yes."},
			{Role: "user", Text: "Good."},
		},
		MaxTokens: 64, N: 1, Stream: stream, Temperature: &temp, Stop: []string{"END"},
	}
}

func TestConverseTranslatesRequestAndAnswer(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	c := &bedrock.Client{Runtime: srv.Runtime()}
	resp, err := c.Chat(t.Context(), request(false))
	if err != nil {
		t.Fatal(err)
	}
	if got := gjson.GetBytes(resp.Body, "choices.0.message.content").Str; got != "Hello from Bedrock" {
		t.Errorf("content = %q", got)
	}
	if m := gjson.GetBytes(resp.Body, "model").Str; m != "claude-haiku" {
		t.Errorf("model = %q, want the caller's name", m)
	}
	if resp.Usage == nil || *resp.Usage != (provider.Usage{PromptTokens: 12, CompletionTokens: 3}) {
		t.Errorf("usage = %+v", resp.Usage)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.ModelID != "anthropic.claude-3-haiku-20240307-v1:0" || !r.Signed {
		t.Errorf("model %q, signed %v", r.ModelID, r.Signed)
	}
	if len(r.System) != 1 || r.System[0].Text != "Be brief." {
		t.Errorf("system = %+v", r.System)
	}
	// Consecutive user messages become one turn.
	if len(r.Messages) != 3 || len(r.Messages[0].Content) != 2 || r.Messages[1].Role != "assistant" {
		t.Errorf("messages = %+v", r.Messages)
	}
	if r.InferenceConfig.MaxTokens != 64 || *r.InferenceConfig.Temperature != 0.5 || r.InferenceConfig.StopSequences[0] != "END" {
		t.Errorf("inference config = %+v", r.InferenceConfig)
	}
}

func TestConverseStreamYieldsChunksAndUsage(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	srv.Answer = "one two three"
	c := &bedrock.Client{Runtime: srv.Runtime()}
	st, err := c.ChatStream(t.Context(), request(true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var (
		text   strings.Builder
		usage  *provider.Usage
		finish string
	)
	for {
		ch, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(gjson.GetBytes(ch.Data, "choices.0.delta.content").Str)
		if f := gjson.GetBytes(ch.Data, "choices.0.finish_reason").Str; f != "" {
			finish = f
		}
		if ch.UsageOnly {
			usage = ch.Usage
		}
	}
	if text.String() != "one two three" || finish != "stop" {
		t.Errorf("streamed %q, finish %q", text.String(), finish)
	}
	if usage == nil || *usage != (provider.Usage{PromptTokens: 12, CompletionTokens: 3}) {
		t.Errorf("usage = %+v", usage)
	}
	if r := srv.Requests(); len(r) != 1 || !r[0].Stream {
		t.Errorf("requests = %+v", r)
	}
}

func TestBedrockErrorsAreClassifiedWithoutTheUpstreamModel(t *testing.T) {
	for _, tc := range []struct {
		exception string
		kind      provider.Kind
	}{
		{"ValidationException", provider.BadRequest},
		{"ThrottlingException", provider.Upstream},
		{"InternalServerException", provider.Upstream},
		{"ModelTimeoutException", provider.Timeout},
	} {
		t.Run(tc.exception, func(t *testing.T) {
			srv := bedrocktest.NewServer(t)
			srv.FailWith = tc.exception
			c := &bedrock.Client{Runtime: srv.Runtime()}
			for _, stream := range []bool{false, true} {
				var err error
				if stream {
					_, err = c.ChatStream(t.Context(), request(true))
				} else {
					_, err = c.Chat(t.Context(), request(false))
				}
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Kind != tc.kind {
					t.Fatalf("stream %v: error = %v, want kind %d", stream, err, tc.kind)
				}
				if strings.Contains(pe.Message, "anthropic.") || strings.Contains(pe.Message, srv.URL) {
					t.Errorf("message %q shows the upstream", pe.Message)
				}
			}
		})
	}
}

func TestRequestsBedrockCannotServeAreRefused(t *testing.T) {
	c := &bedrock.Client{Runtime: bedrocktest.NewServer(t).Runtime()}
	for name, change := range map[string]func(r *provider.ChatRequest){
		"image":   func(r *provider.ChatRequest) { r.Messages[1].NonText = true },
		"tool":    func(r *provider.ChatRequest) { r.Messages[1].Role = "tool" },
		"n=2":     func(r *provider.ChatRequest) { r.N = 2 },
		"unknown": func(r *provider.ChatRequest) { r.Messages[1].Role = "narrator" },
	} {
		r := request(false)
		change(r)
		var pe *provider.Error
		if _, err := c.Chat(t.Context(), r); !errors.As(err, &pe) || pe.Kind != provider.BadRequest {
			t.Errorf("%s: error = %v, want a BadRequest", name, err)
		}
	}
	if _, err := c.Embeddings(t.Context(), &provider.EmbeddingsRequest{ResponseModel: "x"}); err == nil {
		t.Error("Embeddings succeeded")
	}
}
