package messages

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/aigate/aigate/aiapi/provider"
)

// The Messages answer shapes.
type (
	messageJSON struct {
		ID           string      `json:"id"`
		Type         string      `json:"type"`
		Role         string      `json:"role"`
		Model        string      `json:"model"`
		Content      []blockJSON `json:"content"`
		StopReason   *string     `json:"stop_reason"`
		StopSequence *string     `json:"stop_sequence"`
		Usage        usageJSON   `json:"usage"`
	}
	// blockJSON is a text or tool_use content block.
	blockJSON struct {
		Type  string          `json:"type"`
		Text  *string         `json:"text,omitempty"`
		ID    string          `json:"id,omitempty"`
		Name  *string         `json:"name,omitempty"`
		Input json.RawMessage `json:"input,omitempty"`
	}
	usageJSON struct {
		InputTokens              int64 `json:"input_tokens"`
		CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
		OutputTokens             int64 `json:"output_tokens"`
	}
)

// toUsage writes u in Anthropic's terms, where input_tokens excludes the
// cache reads and writes that provider.Usage counts in PromptTokens.
func toUsage(u provider.Usage) usageJSON {
	return usageJSON{
		InputTokens:              max(u.PromptTokens-u.CacheReadTokens-u.CacheWriteTokens, 0),
		CacheCreationInputTokens: u.CacheWriteTokens,
		CacheReadInputTokens:     u.CacheReadTokens,
		OutputTokens:             u.CompletionTokens,
	}
}

// StopReason is Anthropic's stop_reason for a chat completions
// finish_reason: stop → end_turn, length → max_tokens, tool_calls (and the
// older function_call) → tool_use, content_filter → refusal; anything else,
// or none, → end_turn. Chat completions does not say when a stop sequence
// ended the turn ("stop" covers both), so stop_sequence is never reported.
func StopReason(finishReason string) string {
	switch finishReason {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// messageID is id as a Messages id: Anthropic's ids start with "msg_", and
// clients may rely on it.
func messageID(id string) string {
	if strings.HasPrefix(id, "msg_") {
		return id
	}
	return "msg_" + id
}

// The chat completion shapes FromChat and Stream read.
type (
	chatCompletion struct {
		Choices []struct {
			Index        int        `json:"index"`
			Message      chatAnswer `json:"message"`
			Delta        chatAnswer `json:"delta"`
			FinishReason *string    `json:"finish_reason"`
		} `json:"choices"`
		Usage *chatUsage `json:"usage"`
	}
	chatAnswer struct {
		// Content is a string, null, or (from some servers) an array of
		// text parts.
		Content   json.RawMessage `json:"content"`
		Refusal   *string         `json:"refusal"`
		ToolCalls []struct {
			Index    *int   `json:"index"`
			ID       string `json:"id"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	}
	chatUsage struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens     int64 `json:"cached_tokens"`
			CacheWriteTokens int64 `json:"cache_write_tokens"`
		} `json:"prompt_tokens_details"`
		CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	}
)

// text reads a chat message's content: a string, null, or text parts.
func (a chatAnswer) text() string {
	var s string
	if json.Unmarshal(a.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	json.Unmarshal(a.Content, &parts) // anything else carries no text
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// usage reads a chat completion's usage as provider.Usage. Cache reads are
// OpenAI's prompt_tokens_details.cached_tokens; cache writes, which OpenAI
// does not report, are read where gateways that translate from Anthropic
// put them (prompt_tokens_details.cache_write_tokens, or
// cache_creation_input_tokens beside prompt_tokens). prompt_tokens counts
// them all.
func (u *chatUsage) usage() provider.Usage {
	if u == nil {
		return provider.Usage{}
	}
	pu := provider.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		CacheWriteTokens: u.CacheCreationInputTokens}
	if d := u.PromptTokensDetails; d != nil {
		pu.CacheReadTokens = d.CachedTokens
		pu.CacheWriteTokens = max(pu.CacheWriteTokens, d.CacheWriteTokens)
	}
	return pu
}

// FromChat translates a chat.completion (a provider's answer to the body
// Chat built) into a Messages answer with the given id and model.
//
// The first choice's text (and refusal) becomes a text block, its tool
// calls tool_use blocks, in that order, as chat completions does not say
// how they interleaved. A tool call's input is its arguments parsed as a
// JSON object; arguments that are not one (a model's malformed output)
// become {} and the answer is still given, since failing the whole turn
// would lose the text beside it, and the client's tool then reports the
// missing arguments. Usage comes from the chat completion's usage (zeros
// when it has none); see StopReason for stop_reason.
func FromChat(chat []byte, id, model string) ([]byte, error) {
	var c chatCompletion
	if err := json.Unmarshal(chat, &c); err != nil {
		return nil, errors.New("messages: the upstream answer is not a chat completion")
	}
	if len(c.Choices) == 0 {
		return nil, errors.New("messages: the upstream answer has no choices")
	}
	ch := c.Choices[0]
	msg := messageJSON{ID: messageID(id), Type: "message", Role: "assistant", Model: model,
		Content: []blockJSON{}, Usage: toUsage(c.Usage.usage())}
	text := ch.Message.text()
	if ch.Message.Refusal != nil {
		text += *ch.Message.Refusal
	}
	if text != "" {
		msg.Content = append(msg.Content, blockJSON{Type: "text", Text: &text})
	}
	for i, tc := range ch.Message.ToolCalls {
		tid := tc.ID
		if tid == "" {
			tid = "toolu_" + strings.TrimPrefix(msg.ID, "msg_") + "_" + strconv.Itoa(i)
		}
		name := tc.Function.Name
		msg.Content = append(msg.Content, blockJSON{Type: "tool_use", ID: tid, Name: &name, Input: toolInput(tc.Function.Arguments)})
	}
	finish := ""
	if ch.FinishReason != nil {
		finish = *ch.FinishReason
	}
	reason := StopReason(finish)
	msg.StopReason = &reason
	return marshal(msg), nil
}

// toolInput is a tool call's arguments as a tool_use input: a JSON object,
// or {} when the arguments are not one.
func toolInput(args string) json.RawMessage {
	var o map[string]json.RawMessage
	if json.Unmarshal([]byte(args), &o) != nil || o == nil {
		return json.RawMessage(`{}`)
	}
	return compact(json.RawMessage(args))
}
