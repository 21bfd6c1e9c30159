package anthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
)

// The Messages API request, as far as a chat completion translates into it.
type messagesRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int64           `json:"max_tokens"`
	System        []block         `json:"system,omitempty"`
	Messages      []message       `json:"messages"`
	Tools         []tool          `json:"tools,omitempty"`
	ToolChoice    json.RawMessage `json:"tool_choice,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
}

type message struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

// block is a content block of a request: text, image, tool_use or
// tool_result.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Source    *imageSource    `json:"source,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   string          `json:"content,omitempty"`
}

type imageSource struct {
	Type      string `json:"type"` // "base64" or "url"
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// The chat completion fields read here beyond those the AI API reads; a
// case variant of any is refused, as the AI API does for its own.
var (
	bodyFields     = []string{"messages", "tools", "tool_choice", "parallel_tool_calls", "response_format"}
	messageFields  = []string{"role", "content", "tool_calls", "tool_call_id"}
	toolCallFields = []string{"id", "type", "function"}
	functionFields = []string{"name", "arguments", "description", "parameters"}
	partFields     = []string{"type", "text", "image_url", "refusal"}
)

// badRequest is a request that cannot be translated: a 400 whose message
// names the member; the *ijson.Error in Err keeps its path.
func badRequest(path, format string, a ...any) *provider.Error {
	msg := fmt.Sprintf(format, a...)
	return &provider.Error{Kind: provider.BadRequest, Message: msg, Err: &ijson.Error{Path: path, Message: msg}}
}

// fromIJSON makes ijson's refusal a 400.
func fromIJSON(err error) error {
	var je *ijson.Error
	if errors.As(err, &je) {
		return &provider.Error{Kind: provider.BadRequest, Message: je.Message, Err: je}
	}
	return err
}

// translateRequest turns a chat completion request into a Messages API
// request for r.Model: system and developer messages become the system
// prompt, tool calls tool_use blocks, tool messages tool_result blocks in
// the next user turn, and consecutive messages of one role one turn (the
// Messages API wants turns to alternate).
func translateRequest(r *provider.ChatRequest) (*messagesRequest, error) {
	body := r.Body
	if err := body.Check("", bodyFields...); err != nil {
		return nil, fromIJSON(err)
	}
	if r.N > 1 {
		return nil, badRequest("n", "model %s answers with one choice only (n=1)", r.ResponseModel)
	}
	if raw, ok := body.Get("response_format"); ok {
		rf, err := ijson.ParseObject(raw, "response_format")
		if err != nil {
			return nil, fromIJSON(err)
		}
		if t, _ := rf.Get("type"); string(t) != `"text"` {
			return nil, badRequest("response_format", "model %s does not take response_format other than text", r.ResponseModel)
		}
	}
	out := &messagesRequest{
		Model: r.Model, MaxTokens: r.MaxTokens, StopSequences: r.Stop,
		Temperature: r.Temperature, TopP: r.TopP, Stream: r.Stream,
	}
	raw, ok := body.Get("messages")
	if !ok {
		return nil, badRequest("messages", "messages must be a non-empty array")
	}
	msgs, err := ijson.Elements(raw, "messages")
	if err != nil {
		return nil, fromIJSON(err)
	}
	for i, raw := range msgs {
		if err := out.addMessage(raw, fmt.Sprintf("messages[%d]", i)); err != nil {
			return nil, err
		}
	}
	for i := range out.Messages {
		// Tool results come first in their turn, as the Messages API
		// requires; the rest keep their order.
		slices.SortStableFunc(out.Messages[i].Content, func(a, b block) int {
			return boolInt(b.Type == "tool_result") - boolInt(a.Type == "tool_result")
		})
	}
	if raw, ok := body.Get("tools"); ok {
		if out.Tools, err = translateTools(raw); err != nil {
			return nil, err
		}
	}
	if out.ToolChoice, err = translateToolChoice(body); err != nil {
		return nil, err
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// addMessage translates one chat message, appending it to the turn before
// when that has the same role.
func (out *messagesRequest) addMessage(raw json.RawMessage, path string) error {
	m, err := ijson.ParseObject(raw, path)
	if err != nil {
		return fromIJSON(err)
	}
	if err := m.Check(path, messageFields...); err != nil {
		return fromIJSON(err)
	}
	roleRaw, _ := m.Get("role")
	role, err := ijson.String(roleRaw, path+".role")
	if err != nil {
		return fromIJSON(err)
	}
	var blocks []block
	switch role {
	case "system", "developer":
		if blocks, err = contentBlocks(m, path, false); err != nil {
			return err
		}
		out.System = append(out.System, blocks...)
		return nil
	case "user":
		if blocks, err = contentBlocks(m, path, true); err != nil {
			return err
		}
	case "assistant":
		if blocks, err = contentBlocks(m, path, false); err != nil {
			return err
		}
		calls, err := toolUses(m, path)
		if err != nil {
			return err
		}
		blocks = append(blocks, calls...)
	case "tool":
		res, err := toolResult(m, path)
		if err != nil {
			return err
		}
		role, blocks = "user", []block{res}
	default:
		return badRequest(path+".role", "%s.role %q is not translated to the Messages API", path, role)
	}
	if len(blocks) == 0 {
		return nil // an empty text block would be refused
	}
	if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
		out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
		return nil
	}
	out.Messages = append(out.Messages, message{Role: role, Content: blocks})
	return nil
}

// contentBlocks reads a message's content (a string, or an array of parts)
// as text blocks, and images when images are allowed. Empty texts are
// left out: the Messages API refuses empty text blocks.
func contentBlocks(m *ijson.Object, path string, images bool) ([]block, error) {
	raw, ok := m.Get("content")
	if !ok {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: s}}, nil
	}
	parts, err := ijson.Elements(raw, path+".content")
	if err != nil {
		return nil, badRequest(path+".content", "%s.content must be a string or an array of content parts", path)
	}
	var blocks []block
	for j, raw := range parts {
		pp := fmt.Sprintf("%s.content[%d]", path, j)
		p, err := ijson.ParseObject(raw, pp)
		if err != nil {
			return nil, fromIJSON(err)
		}
		if err := p.Check(pp, partFields...); err != nil {
			return nil, fromIJSON(err)
		}
		typRaw, _ := p.Get("type")
		typ, _ := ijson.String(typRaw, pp+".type")
		switch {
		case typ == "text" || typ == "refusal":
			t, _ := p.Get(typ)
			text, err := ijson.String(t, pp+"."+typ)
			if err != nil {
				return nil, fromIJSON(err)
			}
			if text != "" {
				blocks = append(blocks, block{Type: "text", Text: text})
			}
		case typ == "image_url" && images:
			img, err := imageBlock(p, pp)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, img)
		default:
			return nil, badRequest(pp+".type", "%s.type %q is not translated to the Messages API", pp, typ)
		}
	}
	return blocks, nil
}

// imageBlock translates an image_url part: a data: URL into a base64
// source, an http(s) URL into a url source.
func imageBlock(p *ijson.Object, path string) (block, error) {
	raw, _ := p.Get("image_url")
	img, err := ijson.ParseObject(raw, path+".image_url")
	if err != nil {
		return block{}, fromIJSON(err)
	}
	if err := img.Check(path+".image_url", "url", "detail"); err != nil {
		return block{}, fromIJSON(err)
	}
	u, _ := img.Get("url")
	url, err := ijson.String(u, path+".image_url.url")
	if err != nil {
		return block{}, fromIJSON(err)
	}
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isBase64 || !strings.HasPrefix(mediaType, "image/") {
			return block{}, badRequest(path+".image_url.url", "%s.image_url.url must be a base64 data: URL of an image", path)
		}
		return block{Type: "image", Source: &imageSource{Type: "base64", MediaType: mediaType, Data: data}}, nil
	}
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return block{}, badRequest(path+".image_url.url", "%s.image_url.url must be an http(s) or data: URL", path)
	}
	return block{Type: "image", Source: &imageSource{Type: "url", URL: url}}, nil
}

// toolUses translates an assistant's tool_calls into tool_use blocks whose
// input is the call's arguments, read once (ijson) and re-encoded.
func toolUses(m *ijson.Object, path string) ([]block, error) {
	raw, ok := m.Get("tool_calls")
	if !ok {
		return nil, nil
	}
	calls, err := ijson.Elements(raw, path+".tool_calls")
	if err != nil {
		return nil, fromIJSON(err)
	}
	blocks := make([]block, 0, len(calls))
	for j, raw := range calls {
		cp := fmt.Sprintf("%s.tool_calls[%d]", path, j)
		call, err := ijson.ParseObject(raw, cp)
		if err != nil {
			return nil, fromIJSON(err)
		}
		if err := call.Check(cp, toolCallFields...); err != nil {
			return nil, fromIJSON(err)
		}
		if t, ok := call.Get("type"); ok && string(t) != `"function"` {
			return nil, badRequest(cp+".type", "%s.type must be function", cp)
		}
		id, err := requiredString(call, cp, "id")
		if err != nil {
			return nil, err
		}
		fraw, ok := call.Get("function")
		if !ok {
			return nil, badRequest(cp+".function", "%s.function is required", cp)
		}
		fp := cp + ".function"
		fn, err := ijson.ParseObject(fraw, fp)
		if err != nil {
			return nil, fromIJSON(err)
		}
		if err := fn.Check(fp, functionFields...); err != nil {
			return nil, fromIJSON(err)
		}
		name, err := requiredString(fn, fp, "name")
		if err != nil {
			return nil, err
		}
		input := json.RawMessage(`{}`)
		if a, ok := fn.Get("arguments"); ok {
			args, err := ijson.String(a, fp+".arguments")
			if err != nil {
				return nil, fromIJSON(err)
			}
			if strings.TrimSpace(args) != "" {
				obj, err := ijson.Parse([]byte(args))
				if err != nil {
					return nil, badRequest(fp+".arguments", "%s.arguments must be a JSON object", fp)
				}
				input = obj.Bytes()
			}
		}
		blocks = append(blocks, block{Type: "tool_use", ID: id, Name: name, Input: input})
	}
	return blocks, nil
}

// toolResult translates a tool message into a tool_result block.
func toolResult(m *ijson.Object, path string) (block, error) {
	id, err := requiredString(m, path, "tool_call_id")
	if err != nil {
		return block{}, err
	}
	parts, err := contentBlocks(m, path, false)
	if err != nil {
		return block{}, err
	}
	var text strings.Builder
	for _, p := range parts {
		text.WriteString(p.Text)
	}
	return block{Type: "tool_result", ToolUseID: id, Content: text.String()}, nil
}

func requiredString(o *ijson.Object, path, name string) (string, error) {
	raw, ok := o.Get(name)
	if !ok {
		return "", badRequest(path+"."+name, "%s.%s is required", path, name)
	}
	s, err := ijson.String(raw, path+"."+name)
	if err != nil {
		return "", fromIJSON(err)
	}
	if s == "" {
		return "", badRequest(path+"."+name, "%s.%s must not be empty", path, name)
	}
	return s, nil
}

// translateTools turns function tools into Messages API tools; their
// parameters are the input_schema (an object schema without properties
// when absent, as the Messages API requires one).
func translateTools(raw json.RawMessage) ([]tool, error) {
	items, err := ijson.Elements(raw, "tools")
	if err != nil {
		return nil, fromIJSON(err)
	}
	tools := make([]tool, 0, len(items))
	for i, raw := range items {
		tp := fmt.Sprintf("tools[%d]", i)
		t, err := ijson.ParseObject(raw, tp)
		if err != nil {
			return nil, fromIJSON(err)
		}
		if err := t.Check(tp, "type", "function"); err != nil {
			return nil, fromIJSON(err)
		}
		if typ, _ := t.Get("type"); string(typ) != `"function"` {
			return nil, badRequest(tp+".type", "%s.type must be function: other tools are not translated to the Messages API", tp)
		}
		fraw, ok := t.Get("function")
		if !ok {
			return nil, badRequest(tp+".function", "%s.function is required", tp)
		}
		fp := tp + ".function"
		fn, err := ijson.ParseObject(fraw, fp)
		if err != nil {
			return nil, fromIJSON(err)
		}
		if err := fn.Check(fp, append(functionFields, "strict")...); err != nil {
			return nil, fromIJSON(err)
		}
		out := tool{InputSchema: json.RawMessage(`{"type":"object","properties":{}}`)}
		if out.Name, err = requiredString(fn, fp, "name"); err != nil {
			return nil, err
		}
		if d, ok := fn.Get("description"); ok {
			if out.Description, err = ijson.String(d, fp+".description"); err != nil {
				return nil, fromIJSON(err)
			}
		}
		if p, ok := fn.Get("parameters"); ok {
			schema, err := ijson.ParseObject(p, fp+".parameters")
			if err != nil {
				return nil, fromIJSON(err)
			}
			out.InputSchema = schema.Bytes()
		}
		tools = append(tools, out)
	}
	return tools, nil
}

// translateToolChoice maps tool_choice ("auto", "none", "required", or a
// named function) and parallel_tool_calls onto the Messages API's
// tool_choice; nil when neither is set.
func translateToolChoice(body *ijson.Object) (json.RawMessage, error) {
	choice := ijson.Object{}
	if raw, ok := body.Get("tool_choice"); ok {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			switch s {
			case "auto", "none":
				choice.Set("type", s)
			case "required":
				choice.Set("type", "any")
			default:
				return nil, badRequest("tool_choice", "tool_choice must be auto, none, required or a function")
			}
		} else {
			tc, err := ijson.ParseObject(raw, "tool_choice")
			if err != nil {
				return nil, badRequest("tool_choice", "tool_choice must be auto, none, required or a function")
			}
			if err := tc.Check("tool_choice", "type", "function"); err != nil {
				return nil, fromIJSON(err)
			}
			fraw, ok := tc.Get("function")
			if t, _ := tc.Get("type"); string(t) != `"function"` || !ok {
				return nil, badRequest("tool_choice", "tool_choice must be auto, none, required or a function")
			}
			fn, err := ijson.ParseObject(fraw, "tool_choice.function")
			if err != nil {
				return nil, fromIJSON(err)
			}
			if err := fn.Check("tool_choice.function", "name"); err != nil {
				return nil, fromIJSON(err)
			}
			name, err := requiredString(fn, "tool_choice.function", "name")
			if err != nil {
				return nil, err
			}
			choice.Set("type", "tool")
			choice.Set("name", name)
		}
	}
	if raw, ok := body.Get("parallel_tool_calls"); ok {
		parallel, err := ijson.Bool(raw, "parallel_tool_calls")
		if err != nil {
			return nil, fromIJSON(err)
		}
		if t, _ := choice.Get("type"); !parallel && string(t) != `"none"` {
			if len(choice.Members) == 0 {
				choice.Set("type", "auto")
			}
			choice.Set("disable_parallel_tool_use", true)
		}
	}
	if len(choice.Members) == 0 {
		return nil, nil
	}
	return choice.Bytes(), nil
}
