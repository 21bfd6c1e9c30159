package messages

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
)

// The chat completions shapes Chat writes.
type (
	chatMessage struct {
		Role string `json:"role"`
		// Content is a string, []chatPart (a user turn with images), or
		// nil (an assistant turn that only calls tools: JSON null, as
		// OpenAI writes it).
		Content    any            `json:"content"`
		ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
		ToolCallID string         `json:"tool_call_id,omitempty"`
	}
	chatPart struct {
		Type     string    `json:"type"`
		Text     *string   `json:"text,omitempty"`
		ImageURL *imageURL `json:"image_url,omitempty"`
	}
	imageURL struct {
		URL string `json:"url"`
	}
	chatToolCall struct {
		ID       string       `json:"id"`
		Type     string       `json:"type"`
		Function chatFunction `json:"function"`
	}
	chatFunction struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	}
	chatTool struct {
		Type     string          `json:"type"`
		Function chatToolFuncDef `json:"function"`
	}
	chatToolFuncDef struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters"`
	}
)

// Chat translates the request into the equivalent chat completions body,
// for a provider that speaks only chat completions, with maxTokens (the
// admitted output cap) as max_tokens, and the conversation as
// provider.Messages as aiapi reads a chat body.
//
// What translates: system (its text blocks joined with "\n") becomes a
// system message; text blocks become content (joined with "\n", or content
// parts beside images); images become image_url parts (base64 sources as
// data URLs); an assistant's tool_use blocks become tool_calls whose
// arguments are the JSON of input; a user's tool_result blocks become
// "tool" messages, placed before the rest of that user turn, as chat
// completions wants every tool call answered right after it; tools become
// function tools; tool_choice any → "required", tool → that function, none
// → "none", and disable_parallel_tool_use → parallel_tool_calls false;
// stop_sequences → stop; temperature and top_p as they are. A stream asks
// for usage (stream_options.include_usage) so that it can be metered.
//
// What is dropped, having no chat completions equivalent: thinking and
// redacted_thinking blocks and the thinking option, top_k, metadata,
// cache_control, tool_result's is_error. What is refused, as an
// *ijson.Error naming the member: server tools (web search, code execution,
// …), images inside tool results, image sources other than base64 and url,
// block types other than the ones above (documents, search results, …), and
// a conversation left with no message once thinking is dropped.
func (r *Request) Chat(maxTokens int64) (*ijson.Object, []provider.Message, error) {
	var (
		out  []chatMessage
		msgs []provider.Message
	)
	if len(r.system) > 0 {
		s := strings.Join(r.system, "\n")
		out = append(out, chatMessage{Role: "system", Content: s})
		msgs = append(msgs, provider.Message{Role: "system", Text: s})
	}
	system := len(out)
	for _, m := range r.messages {
		cm, pm, err := translateMessage(m)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, cm...)
		msgs = append(msgs, pm...)
	}
	// A conversation of thinking blocks only would go upstream empty,
	// which chat completions refuses with a less useful message.
	if len(out) == system {
		return nil, nil, invalid("messages", "no message has content that can be translated for this model's provider")
	}
	var tools []chatTool
	for _, t := range r.tools {
		if t.server {
			return nil, nil, invalid(t.path+".type", "%s tools run on Anthropic's servers: this model's provider cannot serve them", t.typ)
		}
		tools = append(tools, chatTool{Type: "function", Function: chatToolFuncDef{
			Name: t.name, Description: t.description, Parameters: compact(t.schema)}})
	}

	body := &ijson.Object{}
	body.Set("model", r.Model)
	body.Set("messages", marshal(out))
	body.Set("max_tokens", maxTokens)
	if r.Stream {
		body.Set("stream", true)
		body.Set("stream_options", json.RawMessage(`{"include_usage":true}`))
	}
	if r.temperature != nil {
		body.Set("temperature", *r.temperature)
	}
	if r.topP != nil {
		body.Set("top_p", *r.topP)
	}
	if len(r.stop) > 0 {
		body.Set("stop", r.stop)
	}
	// OpenAI refuses tool_choice and parallel_tool_calls without tools.
	if len(tools) > 0 {
		body.Set("tools", marshal(tools))
		if tc := r.toolChoice; tc != nil {
			switch tc.typ {
			case "auto", "none":
				body.Set("tool_choice", tc.typ)
			case "any":
				body.Set("tool_choice", "required")
			case "tool":
				body.Set("tool_choice", marshal(map[string]any{"type": "function", "function": map[string]string{"name": tc.name}}))
			}
			if tc.disableParallel {
				body.Set("parallel_tool_calls", false)
			}
		}
	}
	return body, msgs, nil
}

// translateMessage turns one Messages turn into chat messages, and into
// the provider.Messages aiapi would read from them.
func translateMessage(m message) ([]chatMessage, []provider.Message, error) {
	if m.stringContent {
		return []chatMessage{{Role: m.role, Content: m.text}}, []provider.Message{{Role: m.role, Text: m.text}}, nil
	}
	var (
		out       []chatMessage
		msgs      []provider.Message
		texts     []string
		parts     []chatPart
		hasImage  bool
		toolCalls []chatToolCall
	)
	for _, b := range m.blocks {
		switch b.typ {
		case "text":
			texts = append(texts, b.text)
			parts = append(parts, chatPart{Type: "text", Text: &b.text})
		case "image":
			u, err := b.imageURL()
			if err != nil {
				return nil, nil, err
			}
			hasImage = true
			parts = append(parts, chatPart{Type: "image_url", ImageURL: &imageURL{URL: u}})
		case "tool_use":
			toolCalls = append(toolCalls, chatToolCall{ID: b.id, Type: "function",
				Function: chatFunction{Name: b.name, Arguments: string(compact(b.input))}})
		case "tool_result":
			text, err := b.resultContent()
			if err != nil {
				return nil, nil, err
			}
			out = append(out, chatMessage{Role: "tool", Content: text, ToolCallID: b.toolUseID})
			msgs = append(msgs, provider.Message{Role: "tool", Text: text})
		case "thinking", "redacted_thinking":
			// Anthropic's signed reasoning means nothing to another model.
		default:
			return nil, nil, invalid(b.path+".type", "%s blocks cannot be translated for this model's provider", b.typ)
		}
	}
	switch {
	case hasImage:
		// aiapi joins text parts without a separator.
		out = append(out, chatMessage{Role: m.role, Content: parts})
		msgs = append(msgs, provider.Message{Role: m.role, Text: strings.Join(texts, ""), NonText: true})
	case len(texts) > 0 || len(toolCalls) > 0:
		cm := chatMessage{Role: m.role, ToolCalls: toolCalls}
		if len(texts) > 0 {
			cm.Content = strings.Join(texts, "\n")
		}
		out = append(out, cm)
		text, _ := cm.Content.(string)
		msgs = append(msgs, provider.Message{Role: m.role, Text: text, NonText: len(toolCalls) > 0})
	}
	return out, msgs, nil
}

// imageURL is an image block's source as chat completions' image_url.
func (b *block) imageURL() (string, error) {
	switch b.sourceType {
	case "base64":
		return "data:" + b.mediaType + ";base64," + b.data, nil
	case "url":
		return b.url, nil
	}
	return "", invalid(b.path+".source.type", "%s image sources cannot be translated for this model's provider", b.sourceType)
}

// resultContent is a tool_result's content as the text of a tool message:
// chat completions' tool messages carry text only.
func (b *block) resultContent() (string, error) {
	if b.resultBlocks == nil {
		return b.resultText, nil
	}
	texts := make([]string, 0, len(b.resultBlocks))
	for _, rb := range b.resultBlocks {
		if rb.typ != "text" {
			return "", invalid(rb.path+".type", "%s blocks in a tool_result cannot be translated for this model's provider", rb.typ)
		}
		texts = append(texts, rb.text)
	}
	return strings.Join(texts, "\n"), nil
}

// marshal encodes v without HTML escaping (Claude Code's prompts are full
// of <tags>, which would otherwise travel as \u003c).
func marshal(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("messages: marshal: " + err.Error()) // only strings, numbers and checked JSON
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// compact removes the insignificant space of a JSON value read by ijson.
func compact(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw
	}
	return buf.Bytes()
}
