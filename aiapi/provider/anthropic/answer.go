package anthropic

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/aigate/aigate/aiapi/messages"
	"github.com/aigate/aigate/aiapi/provider"
)

// finishReason maps a Messages API stop_reason to chat's finish_reason.
func finishReason(stop *string) string {
	if stop == nil {
		return "stop"
	}
	switch *stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn
		return "stop"
	}
}

// The chat completion shapes the answers are translated into.
type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage,omitempty"`
}

type chatChoice struct {
	Index        int          `json:"index"`
	Message      *chatMessage `json:"message,omitempty"`
	Delta        *chatDelta   `json:"delta,omitempty"`
	FinishReason *string      `json:"finish_reason"`
	Logprobs     *struct{}    `json:"logprobs"`
}

// chatMessage is a complete answer's message: content is null when the
// answer is only tool calls, as OpenAI sends it.
type chatMessage struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"`
	ToolCalls []toolCall `json:"tool_calls,omitempty"`
}

type chatDelta struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	ToolCalls []toolCall `json:"tool_calls,omitempty"`
}

type toolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function toolFunction `json:"function"`
}

type toolFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type chatUsage struct {
	PromptTokens        int64               `json:"prompt_tokens"`
	CompletionTokens    int64               `json:"completion_tokens"`
	TotalTokens         int64               `json:"total_tokens"`
	PromptTokensDetails promptTokensDetails `json:"prompt_tokens_details"`
}

type promptTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

// total is prompt plus completion tokens, saturating: u's counts are
// never negative (messages.Usage.Metered) but may be an upstream's absurd
// ones.
func total(u provider.Usage) int64 {
	if u.CompletionTokens > math.MaxInt64-u.PromptTokens {
		return math.MaxInt64
	}
	return u.PromptTokens + u.CompletionTokens
}

func toChatUsage(u provider.Usage) *chatUsage {
	return &chatUsage{
		PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		TotalTokens:         total(u),
		PromptTokensDetails: promptTokensDetails{CachedTokens: u.CacheReadTokens},
	}
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("anthropic: marshal: " + err.Error()) // only fixed shapes of strings, numbers and checked JSON
	}
	return b
}

// arguments is a tool_use input as chat's arguments: its JSON text,
// compacted; "{}" when there is none.
func arguments(input json.RawMessage) string {
	var b bytes.Buffer
	if len(input) == 0 || json.Compact(&b, input) != nil {
		return "{}"
	}
	return b.String()
}

// translateAnswer turns a Messages API answer into a chat.completion.
func translateAnswer(a *messages.Answer, id, model string, created int64) (body []byte, u *provider.Usage, out int64) {
	var (
		text  bytes.Buffer
		calls []toolCall
		has   bool
	)
	for i := range a.Content {
		b := &a.Content[i]
		out += b.OutputBytes()
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
			has = true
		case "tool_use":
			calls = append(calls, toolCall{ID: b.ID, Type: "function", Function: toolFunction{Name: b.Name, Arguments: arguments(b.Input)}})
		}
	}
	msg := &chatMessage{Role: "assistant", ToolCalls: calls}
	if has || len(calls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	reason := finishReason(a.StopReason)
	u = a.Usage.Metered()
	c := chatCompletion{
		ID: id, Object: "chat.completion", Created: created, Model: model,
		Choices: []chatChoice{{Message: msg, FinishReason: &reason}},
	}
	if u != nil {
		c.Usage = toChatUsage(*u)
	}
	return mustMarshal(c), u, out
}
