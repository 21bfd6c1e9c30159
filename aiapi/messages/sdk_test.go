package messages_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"

	"github.com/aigate/aigate/aiapi/messages"
	"github.com/aigate/aigate/aiapi/provider"
)

// The Anthropic SDK is the judge of the wire: what it sends, Parse reads;
// what aigate answers, it decodes. Nothing here touches a network.

func TestParseReadsWhatTheSDKSends(t *testing.T) {
	params := anthropic.MessageNewParams{
		Model:         "claude-sonnet-4-5",
		MaxTokens:     1024,
		System:        []anthropic.TextBlockParam{{Text: "Be brief."}},
		StopSequences: []string{"END"},
		Messages: []anthropic.MessageParam{
			anthropic.NewUserMessage(anthropic.NewTextBlock("weather in Paris?")),
			anthropic.NewAssistantMessage(anthropic.NewToolUseBlock("toolu_1", map[string]string{"city": "Paris"}, "weather")),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_1", "sunny", false)),
		},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name: "weather", Description: anthropic.String("Weather of a city"),
			InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]string{"type": "string"}}, Required: []string{"city"}},
		}}},
		ToolChoice: anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{}},
	}
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	r, err := messages.Parse(body)
	if err != nil {
		t.Fatalf("Parse refused the SDK's body %s: %v", body, err)
	}
	if r.Model != "claude-sonnet-4-5" || r.MaxTokens != 1024 {
		t.Fatalf("read model %q, max_tokens %d", r.Model, r.MaxTokens)
	}
	chat, msgs, err := r.Chat(r.MaxTokens)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Messages []struct {
			Role       string `json:"role"`
			ToolCallID string `json:"tool_call_id"`
			ToolCalls  []struct {
				Function struct{ Name, Arguments string } `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		ToolChoice string   `json:"tool_choice"`
		Stop       []string `json:"stop"`
	}
	if err := json.Unmarshal(chat.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	roles := ""
	for _, m := range got.Messages {
		roles += m.Role + " "
	}
	if roles != "system user assistant tool " || got.Messages[2].ToolCalls[0].Function.Arguments != `{"city":"Paris"}` ||
		got.Messages[3].ToolCallID != "toolu_1" || got.ToolChoice != "required" || got.Stop[0] != "END" || len(msgs) != 4 {
		t.Fatalf("translated to %s", chat.Bytes())
	}

	count, err := json.Marshal(anthropic.MessageCountTokensParams{Model: "claude-sonnet-4-5", Messages: params.Messages, System: anthropic.MessageCountTokensParamsSystemUnion{OfString: anthropic.String("Be brief.")}})
	if err != nil {
		t.Fatal(err)
	}
	cr, err := messages.ParseCountTokens(count)
	if err != nil {
		t.Fatalf("ParseCountTokens refused the SDK's body %s: %v", count, err)
	}
	if n := messages.CountTokens(cr); n < 1 {
		t.Fatalf("CountTokens = %d", n)
	}
}

func TestFromChatDecodesAsAnSDKMessage(t *testing.T) {
	chat := `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Checking.",
		"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],
		"usage":{"prompt_tokens":120,"completion_tokens":15,"prompt_tokens_details":{"cached_tokens":100}}}`
	out, err := messages.FromChat([]byte(chat), "msg_abc", "claude-x")
	if err != nil {
		t.Fatal(err)
	}
	var m anthropic.Message
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	checkMessage(t, m, "Checking.", anthropic.Usage{InputTokens: 20, CacheReadInputTokens: 100, OutputTokens: 15})
	if m.ID != "msg_abc" || m.Model != "claude-x" || m.Role != "assistant" {
		t.Fatalf("message %s", out)
	}
}

// checkMessage checks a text block, a weather tool_use block, the stop
// reason and the usage of m.
func checkMessage(t *testing.T, m anthropic.Message, text string, u anthropic.Usage) {
	t.Helper()
	if len(m.Content) != 2 {
		t.Fatalf("%d blocks: %s", len(m.Content), m.RawJSON())
	}
	if tb := m.Content[0].AsText(); m.Content[0].Type != "text" || tb.Text != text {
		t.Fatalf("first block %s", m.Content[0].RawJSON())
	}
	tu := m.Content[1].AsToolUse()
	var input struct{ City string }
	if m.Content[1].Type != "tool_use" || tu.ID != "call_1" || tu.Name != "weather" || json.Unmarshal(tu.Input, &input) != nil || input.City != "Paris" {
		t.Fatalf("second block %s", m.Content[1].RawJSON())
	}
	if m.StopReason != anthropic.StopReasonToolUse {
		t.Fatalf("stop_reason %q", m.StopReason)
	}
	if m.Usage.InputTokens != u.InputTokens || m.Usage.OutputTokens != u.OutputTokens ||
		m.Usage.CacheReadInputTokens != u.CacheReadInputTokens || m.Usage.CacheCreationInputTokens != u.CacheCreationInputTokens {
		t.Fatalf("usage %s", m.Usage.RawJSON())
	}
}

// sdkStream decodes wire bytes as the SDK decodes a streamed answer.
func sdkStream(wire []byte) *ssestream.Stream[anthropic.MessageStreamEventUnion] {
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/v1/messages", nil)
	res := &http.Response{StatusCode: 200, Request: req, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(wire))}
	return ssestream.NewStream[anthropic.MessageStreamEventUnion](ssestream.NewDecoder(res), nil)
}

func TestStreamAccumulatesAsAnSDKMessage(t *testing.T) {
	s := messages.NewStream("msg_s", "claude-x")
	var wire bytes.Buffer
	for _, ev := range s.Start(provider.Usage{PromptTokens: 130}) {
		wire.Write(ev.Bytes())
	}
	wire.Write(s.Ping().Bytes())
	for _, c := range []string{
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"content":"Check"},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"content":"ing."},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"weather","arguments":""}}]},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		`{"choices":[],"usage":{"prompt_tokens":130,"completion_tokens":15}}`,
	} {
		evs, err := s.Chunk([]byte(c))
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			wire.Write(ev.Bytes())
		}
	}
	for _, ev := range s.Complete(provider.Usage{PromptTokens: 130, CompletionTokens: 15, CacheReadTokens: 100, CacheWriteTokens: 10}, "") {
		wire.Write(ev.Bytes())
	}

	stream := sdkStream(wire.Bytes())
	var m anthropic.Message
	events := 0
	for stream.Next() {
		if err := m.Accumulate(stream.Current()); err != nil {
			t.Fatalf("Accumulate: %v", err)
		}
		events++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	checkMessage(t, m, "Checking.", anthropic.Usage{InputTokens: 20, CacheReadInputTokens: 100, CacheCreationInputTokens: 10, OutputTokens: 15})
	if m.ID != "msg_s" || m.Model != "claude-x" || events != 11 {
		t.Fatalf("message %s after %d events", m.RawJSON(), events)
	}
}

// A stream that fails after it began ends with an error event, which the
// SDK turns into a typed API error.
func TestStreamFailureIsAnSDKError(t *testing.T) {
	s := messages.NewStream("msg_s", "claude-x")
	var wire bytes.Buffer
	for _, ev := range s.Start(provider.Usage{}) {
		wire.Write(ev.Bytes())
	}
	evs, _ := s.Chunk([]byte(`{"choices":[{"index":0,"delta":{"content":"par"}}]}`))
	for _, ev := range evs {
		wire.Write(ev.Bytes())
	}
	wire.Write(s.Fail(messages.ErrorType(http.StatusServiceUnavailable), "The model's upstream is unavailable.").Bytes())

	stream := sdkStream(wire.Bytes())
	for stream.Next() {
	}
	var apiErr *anthropic.Error
	if !errors.As(stream.Err(), &apiErr) {
		t.Fatalf("stream ended with %v, want an *anthropic.Error", stream.Err())
	}
	if apiErr.Type() != "overloaded_error" || apiErr.Message != "The model's upstream is unavailable." {
		t.Fatalf("error type %q, message %q", apiErr.Type(), apiErr.Message)
	}
}

func TestErrorBodyDecodesAsAnSDKError(t *testing.T) {
	var e anthropic.Error
	if err := e.UnmarshalJSON(messages.ErrorBody(messages.ErrorType(http.StatusNotFound), `The model "haiku" does not exist or you do not have access to it.`)); err != nil {
		t.Fatal(err)
	}
	if e.Type() != anthropic.ErrorTypeNotFoundError || e.Message == "" {
		t.Fatalf("decoded type %q, message %q", e.Type(), e.Message)
	}
}

func TestModelsListDecodesAsSDKModels(t *testing.T) {
	released := time.Date(2025, 9, 29, 0, 0, 0, 0, time.UTC)
	var page struct {
		Data    []anthropic.ModelInfo `json:"data"`
		HasMore bool                  `json:"has_more"`
		FirstID string                `json:"first_id"`
		LastID  string                `json:"last_id"`
	}
	body := messages.ModelsList([]messages.ModelInfo{{ID: "claude-sonnet-4-5", DisplayName: "Claude Sonnet 4.5", CreatedAt: released}, {ID: "echo"}})
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 2 || page.HasMore || page.FirstID != "claude-sonnet-4-5" || page.LastID != "echo" ||
		page.Data[0].DisplayName != "Claude Sonnet 4.5" || !page.Data[0].CreatedAt.Equal(released) || page.Data[1].Type != "model" {
		t.Fatalf("decoded %+v from %s", page, body)
	}
}
