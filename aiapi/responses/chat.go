package responses

import (
	"encoding/json"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
)

// chatMessage is one chat completions message. Content is a string, a
// []chatPart, or nil (null: an assistant message with tool calls only).
type chatMessage struct {
	Role       string         `json:"role"`
	Content    any            `json:"content"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatPart struct {
	Type     string        `json:"type"`
	Text     *string       `json:"text,omitempty"`
	ImageURL *chatImageURL `json:"image_url,omitempty"`
}

type chatImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

type chatToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type chatResponseFormat struct {
	Type       string         `json:"type"`
	JSONSchema chatJSONSchema `json:"json_schema"`
}

type chatJSONSchema struct {
	Name        string          `json:"name"`
	Description *string         `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema"`
	Strict      *bool           `json:"strict,omitempty"`
}

type chatTool struct {
	Type     string          `json:"type"`
	Function chatFunctionDef `json:"function"`
}

type chatFunctionDef struct {
	Name        string          `json:"name"`
	Description *string         `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// Chat returns the chat completions body equivalent to r, and its messages
// as provider.Message (as the AI API builds them for a chat request), for a
// provider that does not speak Responses. maxTokens is the output cap the
// AI API admitted (sent as max_tokens; 0: r.MaxOutputTokens, if set); the
// body names r.Model, which the handler replaces.
//
// It refuses, as *ijson.Error naming the member, what chat completions
// cannot carry: previous_response_id (the response lives at an upstream
// that keeps responses), tools other than function tools, input items
// other than messages and function calls, and parts other than text and
// image URLs. Reasoning items, which clients such as Codex send back, are
// left out: a chat upstream cannot read another model's reasoning.
func (r *Request) Chat(maxTokens int64) (*ijson.Object, []provider.Message, error) {
	if r.PreviousResponseID != "" {
		return nil, nil, refuse("previous_response_id", "previous_response_id needs an upstream that keeps responses; this model's provider does not")
	}
	if !r.hasInput {
		return nil, nil, refuse("input", "input is required")
	}
	var msgs []chatMessage
	if r.instructions != "" {
		msgs = append(msgs, chatMessage{Role: "system", Content: r.instructions})
	}
	// fromMessage marks the last chat message as an assistant message item
	// that the function calls after it belong to (one assistant turn).
	fromMessage := false
	for _, it := range r.items {
		switch it.typ {
		case "message":
			content, err := chatContent(it.content)
			if err != nil {
				return nil, nil, err
			}
			role := it.role
			if role == "developer" {
				role = "system" // the role every chat upstream knows
			}
			msgs = append(msgs, chatMessage{Role: role, Content: content})
			fromMessage = role == "assistant"
			continue
		case "function_call":
			call := chatToolCall{ID: it.callID, Type: "function", Function: chatFunction{Name: it.name, Arguments: it.arguments}}
			if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" && (fromMessage || len(msgs[n-1].ToolCalls) > 0) {
				msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, call)
			} else {
				msgs = append(msgs, chatMessage{Role: "assistant", ToolCalls: []chatToolCall{call}})
			}
		case "function_call_output":
			text, ok := joinText(it.output)
			if !ok {
				return nil, nil, refuse(it.path+".output", "%s.output can only be text for this model's provider", it.path)
			}
			msgs = append(msgs, chatMessage{Role: "tool", ToolCallID: it.callID, Content: text})
		case "reasoning":
		default:
			return nil, nil, refuse(it.path+".type", "%s is a %s item, which this model's provider cannot take", it.path, it.typ)
		}
		fromMessage = false
	}
	if len(msgs) == 0 {
		return nil, nil, refuse("input", "input must hold at least one message")
	}

	body := &ijson.Object{}
	body.Set("model", r.Model)
	body.Set("messages", msgs)
	if maxTokens <= 0 {
		maxTokens = r.MaxOutputTokens
	}
	if maxTokens > 0 {
		body.Set("max_tokens", maxTokens)
	}
	if r.temperature != nil {
		body.Set("temperature", *r.temperature)
	}
	if r.topP != nil {
		body.Set("top_p", *r.topP)
	}
	if len(r.tools) > 0 {
		tools := make([]chatTool, len(r.tools))
		for i, t := range r.tools {
			if t.typ != "function" {
				return nil, nil, refuse(t.path+".type", "%s is a %s tool; this model's provider takes function tools only", t.path, t.typ)
			}
			tools[i] = chatTool{Type: "function", Function: chatFunctionDef{Name: t.name, Description: t.description, Parameters: t.parameters, Strict: t.strict}}
		}
		body.Set("tools", tools)
		if r.parallelToolCalls != nil {
			body.Set("parallel_tool_calls", *r.parallelToolCalls)
		}
	}
	if r.toolChoice != nil {
		choice, err := chatToolChoice(r.toolChoice)
		if err != nil {
			return nil, nil, err
		}
		body.Set("tool_choice", choice)
	}
	if f := r.format; f != nil {
		switch f.typ {
		case "json_object":
			body.Set("response_format", map[string]string{"type": "json_object"})
		case "json_schema":
			body.Set("response_format", chatResponseFormat{Type: "json_schema", JSONSchema: chatJSONSchema{
				Name: f.name, Description: f.description, Schema: f.schema, Strict: f.strict}})
		default:
			return nil, nil, refuse("text.format.type", "text.format.type %s cannot be served by this model's provider", f.typ)
		}
	}
	if r.Stream {
		body.Set("stream", true)
		// Usage is what gets settled.
		body.Set("stream_options", map[string]bool{"include_usage": true})
	}
	return body, providerMessages(msgs), nil
}

// chatContent is a message item's content in chat form: a string when it
// is all text, parts when it holds images.
func chatContent(parts []part) (any, error) {
	if text, ok := joinText(parts); ok {
		return text, nil
	}
	out := make([]chatPart, len(parts))
	for i, p := range parts {
		switch p.typ {
		case "input_text", "output_text", "refusal":
			out[i] = chatPart{Type: "text", Text: &p.text}
		case "input_image":
			if p.imageURL == "" {
				return nil, refuse(p.path+".image_url", "%s needs an image_url for this model's provider (file ids are not served)", p.path)
			}
			out[i] = chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: p.imageURL, Detail: p.detail}}
		default:
			return nil, refuse(p.path+".type", "%s is an %s part, which this model's provider cannot take", p.path, p.typ)
		}
	}
	return out, nil
}

// chatToolChoice maps tool_choice to chat's form: the strings are the same;
// {"type":"function","name":N} becomes {"type":"function","function":{"name":N}}.
func chatToolChoice(raw json.RawMessage) (any, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil // Parse admitted auto, none or required
	}
	var c struct{ Type, Name string }
	if err := json.Unmarshal(raw, &c); err != nil || c.Type != "function" {
		return nil, refuse("tool_choice", "tool_choice of type %s cannot be served by this model's provider", c.Type)
	}
	return map[string]any{"type": "function", "function": map[string]string{"name": c.Name}}, nil
}

// providerMessages reduces the chat messages as the AI API does for a chat
// request: role, text, and whether anything but text was there.
func providerMessages(msgs []chatMessage) []provider.Message {
	out := make([]provider.Message, len(msgs))
	for i, m := range msgs {
		pm := provider.Message{Role: m.Role, NonText: len(m.ToolCalls) > 0}
		switch c := m.Content.(type) {
		case string:
			pm.Text = c
		case []chatPart:
			for _, p := range c {
				if p.Text != nil {
					pm.Text += *p.Text
				} else {
					pm.NonText = true
				}
			}
		}
		out[i] = pm
	}
	return out
}
