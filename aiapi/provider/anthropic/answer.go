package anthropic

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aigate/aigate/aiapi/provider"
)

// answer is a Messages API message (the non-streamed answer, and the
// message of a message_start event).
type answer struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Model      string         `json:"model"`
	Content    []contentBlock `json:"content"`
	StopReason *string        `json:"stop_reason"`
	Usage      *usageFields   `json:"usage"`
}

// contentBlock is a content block of an answer.
type contentBlock struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
	Thinking string          `json:"thinking"`
}

// usageFields is the Messages API's usage. In a message_delta event every
// field is cumulative, and the input fields may be absent (nil).
type usageFields struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

// count is a token count from the upstream: never negative.
func count(p *int64) int64 {
	if p == nil {
		return 0
	}
	return max(*p, 0)
}

// sum adds counts without overflowing: an upstream's numbers are not
// trusted to be small.
func sum(a ...int64) int64 {
	var s int64
	for _, v := range a {
		if v > math.MaxInt64-s {
			return math.MaxInt64
		}
		s += v
	}
	return s
}

// usage is u as the AI API meters it: every input token in PromptTokens
// (input_tokens excludes the cache reads and writes, which are added), the
// cache parts also apart.
func (u *usageFields) usage() *provider.Usage {
	if u == nil {
		return nil
	}
	in, write, read := count(u.InputTokens), count(u.CacheCreationInputTokens), count(u.CacheReadInputTokens)
	return &provider.Usage{
		PromptTokens:     sum(in, write, read),
		CompletionTokens: count(u.OutputTokens),
		CacheReadTokens:  read,
		CacheWriteTokens: write,
	}
}

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

// outputBytes is the size of a content block's generated output: text,
// a tool call's name and input, thinking.
func (b *contentBlock) outputBytes() int64 {
	n := len(b.Text) + len(b.Thinking)
	if b.Type == "tool_use" {
		n += len(b.Name) + len(b.Input)
	}
	return int64(n)
}

// UsageOf reads the usage of a non-streamed Messages API answer; nil when
// it reports none.
func UsageOf(message []byte) *provider.Usage {
	var a answer
	if json.Unmarshal(message, &a) != nil {
		return nil
	}
	return a.Usage.usage()
}

// OutputBytesOf is the size of everything a non-streamed Messages API
// answer generated (text, tool calls, thinking), for an estimate when it
// reports no usage.
func OutputBytesOf(message []byte) int64 {
	var a answer
	if json.Unmarshal(message, &a) != nil {
		return int64(len(message)) // unreadable: count it all, never zero
	}
	var n int64
	for i := range a.Content {
		n += a.Content[i].outputBytes()
	}
	return n
}

// RenameModel returns data, a Messages API answer or a message_start
// event's data, naming model instead of the upstream's model id; any
// other event, or data naming no model, is returned as it is. The rest of
// the bytes are kept.
func RenameModel(data []byte, model string) []byte {
	var path string
	switch gjson.GetBytes(data, "type").Str {
	case "message":
		path = "model"
	case "message_start":
		path = "message.model"
	default:
		return data
	}
	if m := gjson.GetBytes(data, path); m.Type != gjson.String || m.Str == model {
		return data
	}
	out, err := sjson.SetBytes(bytes.Clone(data), path, model)
	if err != nil {
		return data
	}
	return out
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

func toChatUsage(u provider.Usage) *chatUsage {
	return &chatUsage{
		PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		TotalTokens:         sum(u.PromptTokens, u.CompletionTokens),
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
func translateAnswer(a *answer, id, model string, created int64) (body []byte, u *provider.Usage, out int64) {
	var (
		text  bytes.Buffer
		calls []toolCall
		has   bool
	)
	for i := range a.Content {
		b := &a.Content[i]
		out += b.outputBytes()
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
	u = a.Usage.usage()
	c := chatCompletion{
		ID: id, Object: "chat.completion", Created: created, Model: model,
		Choices: []chatChoice{{Message: msg, FinishReason: &reason}},
	}
	if u != nil {
		c.Usage = toChatUsage(*u)
	}
	return mustMarshal(c), u, out
}
