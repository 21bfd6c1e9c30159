package messages

import (
	"encoding/json"
	"fmt"

	"github.com/aigate/aigate/aiapi/ijson"
)

// Request is a Messages API body as aigate read it, once.
type Request struct {
	// Body holds the body member by member, nulls of the fields read
	// removed; it is what a provider that speaks Messages itself is sent
	// (re-encoded by ijson, the model replaced), never the caller's bytes.
	Body *ijson.Object
	// Model is the model the caller named.
	Model string
	// MaxTokens is the caller's output cap; 0 only from ParseCountTokens
	// when the body has none.
	MaxTokens int64
	// Stream asks for server-sent events.
	Stream bool
	// BodyBytes is the size of the body as received: what a prompt estimate
	// counts (roles, tools and JSON included) when the upstream reports no
	// usage.
	BodyBytes int64

	messages    []message
	system      []string // the system prompt's text blocks, in order
	tools       []tool
	toolChoice  *toolChoice
	stop        []string
	temperature *float64
	topP        *float64
}

// message is one element of messages.
type message struct {
	path string
	role string
	// text is the content when it was a string; blocks when it was an
	// array (stringContent tells which).
	text          string
	stringContent bool
	blocks        []block
}

// block is one content block. Only the members of its type are set.
type block struct {
	path string
	typ  string
	text string // text
	// image: source.type "base64" (mediaType, data) or "url" (url); any
	// other source type is kept for pass-through and refused by Chat.
	sourceType, mediaType, data, url string
	// tool_use
	id, name string
	input    json.RawMessage
	// tool_result: its content as a string (resultText) or blocks.
	toolUseID    string
	resultText   string
	resultBlocks []block
}

// tool is one element of tools: a client tool (name, description,
// input_schema) or, when server is set, one Anthropic runs itself
// (web_search_…, code_execution_…), which only Anthropic can serve.
type tool struct {
	path        string
	server      bool
	typ         string
	name        string
	description string
	schema      json.RawMessage
}

// toolChoice is tool_choice.
type toolChoice struct {
	typ             string // auto, any, tool, none
	name            string
	disableParallel bool
}

// The fields read at each level of a body. A case variant of any of them
// is refused (ijson.Object.Check): an upstream reading JSON
// case-insensitively would take it for the field, aigate would not.
var (
	topFields = []string{"model", "max_tokens", "messages", "system", "tools", "tool_choice",
		"stream", "stop_sequences", "temperature", "top_p", "top_k", "metadata", "thinking"}
	messageFields = []string{"role", "content"}
	blockFields   = []string{"type", "text", "source", "id", "name", "input", "tool_use_id",
		"content", "is_error", "cache_control", "thinking", "signature", "data"}
	sourceFields     = []string{"type", "media_type", "data", "url"}
	toolFields       = []string{"type", "name", "description", "input_schema", "cache_control"}
	toolChoiceFields = []string{"type", "name", "disable_parallel_tool_use"}
	thinkingFields   = []string{"type", "budget_tokens"}
)

// invalid is a client mistake, worded as Anthropic words its own ("path:
// what is wrong"), so that clients matching on Anthropic's messages see the
// familiar shape.
func invalid(path, format string, a ...any) *ijson.Error {
	return &ijson.Error{Path: path, Message: path + ": " + fmt.Sprintf(format, a...)}
}

// Parse reads a POST /v1/messages body: strictly (ijson refuses
// duplicate names, invalid UTF-8 and the like; case variants of the fields
// read are refused), with max_tokens required. Client mistakes are
// *ijson.Error naming the member.
func Parse(data []byte) (*Request, error) {
	return parse(data, true)
}

// ParseCountTokens reads a POST /v1/messages/count_tokens body: the same
// body as Parse, with max_tokens optional.
func ParseCountTokens(data []byte) (*Request, error) {
	return parse(data, false)
}

func parse(data []byte, needMaxTokens bool) (*Request, error) {
	body, err := ijson.Parse(data)
	if err != nil {
		return nil, err
	}
	if err := body.Check("", topFields...); err != nil {
		return nil, err
	}
	r := &Request{Body: body, BodyBytes: int64(len(data))}
	raw, ok := body.Get("model")
	if !ok {
		return nil, invalid("model", "Field required")
	}
	if r.Model, err = ijson.String(raw, "model"); err != nil {
		return nil, err
	}
	if r.Model == "" {
		return nil, invalid("model", "String should have at least 1 character")
	}
	if raw, ok := body.Get("max_tokens"); ok {
		if r.MaxTokens, err = ijson.Int(raw, "max_tokens"); err != nil {
			return nil, err
		}
		if r.MaxTokens < 1 {
			return nil, invalid("max_tokens", "Input should be greater than or equal to 1")
		}
	} else if needMaxTokens {
		return nil, invalid("max_tokens", "Field required")
	}
	if err := r.parseMessages(body); err != nil {
		return nil, err
	}
	if err := r.parseSystem(body); err != nil {
		return nil, err
	}
	if err := r.parseTools(body); err != nil {
		return nil, err
	}
	if err := r.parseOptions(body); err != nil {
		return nil, err
	}
	// A null means unset to aigate; it is not sent on, so that no upstream
	// can read it another way.
	for _, name := range topFields {
		if body.Has(name) {
			if _, ok := body.Get(name); !ok {
				body.Delete(name)
			}
		}
	}
	return r, nil
}

func (r *Request) parseMessages(body *ijson.Object) error {
	raw, ok := body.Get("messages")
	if !ok {
		return invalid("messages", "Field required")
	}
	elems, err := ijson.Elements(raw, "messages")
	if err != nil {
		return err
	}
	if len(elems) == 0 {
		return invalid("messages", "at least one message is required")
	}
	r.messages = make([]message, len(elems))
	for i, raw := range elems {
		if r.messages[i], err = parseMessage(raw, fmt.Sprintf("messages[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func parseMessage(raw json.RawMessage, path string) (message, error) {
	m := message{path: path}
	o, err := ijson.ParseObject(raw, path)
	if err != nil {
		return m, err
	}
	if err := o.Check(path, messageFields...); err != nil {
		return m, err
	}
	rv, ok := o.Get("role")
	if !ok {
		return m, invalid(path+".role", "Field required")
	}
	if m.role, err = ijson.String(rv, path+".role"); err != nil {
		return m, err
	}
	// Claude Code sends a role "system" message after the user's turn (its
	// environment and skills, with cache_control); Anthropic's API accepts
	// it, so aigate does, and translates it as a system message.
	if m.role != "user" && m.role != "assistant" && m.role != "system" {
		return m, invalid(path+".role", "Input should be 'user', 'assistant' or 'system'")
	}
	content, ok := o.Get("content")
	if !ok {
		return m, invalid(path+".content", "Field required")
	}
	if err := json.Unmarshal(content, &m.text); err == nil {
		m.stringContent = true
		return m, nil
	}
	m.blocks, err = parseBlocks(content, path+".content")
	if err != nil {
		return m, err
	}
	// Anthropic's own rule, kept so that a translation never has to guess
	// who called a tool: tools are called by the assistant, answered by the
	// user.
	for _, b := range m.blocks {
		switch {
		case b.typ == "tool_use" && m.role != "assistant":
			return m, invalid(b.path, "tool_use blocks are only allowed in assistant messages")
		case b.typ == "tool_result" && m.role != "user":
			return m, invalid(b.path, "tool_result blocks are only allowed in user messages")
		}
	}
	return m, nil
}

// parseBlocks reads a content array. A block of a type aigate does not
// translate is kept as it is (a provider speaking Messages may serve it);
// Chat refuses it.
func parseBlocks(raw json.RawMessage, path string) ([]block, error) {
	elems, err := ijson.Elements(raw, path)
	if err != nil {
		return nil, invalid(path, "Input should be a valid string or a list of content blocks")
	}
	blocks := make([]block, len(elems))
	for j, raw := range elems {
		if blocks[j], err = parseBlock(raw, fmt.Sprintf("%s[%d]", path, j)); err != nil {
			return nil, err
		}
	}
	return blocks, nil
}

func parseBlock(raw json.RawMessage, path string) (block, error) {
	b := block{path: path}
	o, err := ijson.ParseObject(raw, path)
	if err != nil {
		return b, err
	}
	if err := o.Check(path, blockFields...); err != nil {
		return b, err
	}
	if b.typ, err = requiredString(o, path, "type"); err != nil {
		return b, err
	}
	switch b.typ {
	case "text":
		b.text, err = requiredString(o, path, "text")
	case "image":
		err = b.parseSource(o)
	case "tool_use":
		if b.id, err = requiredString(o, path, "id"); err != nil {
			return b, err
		}
		if b.name, err = requiredString(o, path, "name"); err != nil {
			return b, err
		}
		input, ok := o.Get("input")
		if !ok {
			return b, invalid(path+".input", "Field required")
		}
		if _, err := ijson.ParseObject(input, path+".input"); err != nil {
			return b, invalid(path+".input", "Input should be a valid dictionary")
		}
		b.input = input
	case "tool_result":
		if b.toolUseID, err = requiredString(o, path, "tool_use_id"); err != nil {
			return b, err
		}
		if raw, ok := o.Get("is_error"); ok {
			if _, err := ijson.Bool(raw, path+".is_error"); err != nil {
				return b, err
			}
		}
		content, ok := o.Get("content")
		if !ok {
			return b, nil
		}
		if json.Unmarshal(content, &b.resultText) == nil {
			return b, nil
		}
		b.resultBlocks, err = parseBlocks(content, path+".content")
	case "thinking":
		// Sent back by Claude Code as the model wrote them; only their
		// types are checked, since Anthropic verifies the signature.
		if _, err = requiredString(o, path, "thinking"); err == nil {
			_, err = requiredString(o, path, "signature")
		}
	case "redacted_thinking":
		_, err = requiredString(o, path, "data")
	}
	return b, err
}

// parseSource reads an image block's source.
func (b *block) parseSource(o *ijson.Object) error {
	path := b.path + ".source"
	raw, ok := o.Get("source")
	if !ok {
		return invalid(path, "Field required")
	}
	src, err := ijson.ParseObject(raw, path)
	if err != nil {
		return err
	}
	if err := src.Check(path, sourceFields...); err != nil {
		return err
	}
	if b.sourceType, err = requiredString(src, path, "type"); err != nil {
		return err
	}
	switch b.sourceType {
	case "base64":
		if b.mediaType, err = requiredString(src, path, "media_type"); err != nil {
			return err
		}
		b.data, err = requiredString(src, path, "data")
	case "url":
		b.url, err = requiredString(src, path, "url")
	}
	return err
}

// requiredString reads the string member name of o, at path.
func requiredString(o *ijson.Object, path, name string) (string, error) {
	p := path + "." + name
	raw, ok := o.Get(name)
	if !ok {
		return "", invalid(p, "Field required")
	}
	return ijson.String(raw, p)
}

// parseSystem reads system: a string, or an array of text blocks (their
// cache_control is Anthropic's business and ignored here).
func (r *Request) parseSystem(body *ijson.Object) error {
	raw, ok := body.Get("system")
	if !ok {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		r.system = []string{s}
		return nil
	}
	blocks, err := parseBlocks(raw, "system")
	if err != nil {
		return err
	}
	for _, b := range blocks {
		if b.typ != "text" {
			return invalid(b.path+".type", "Input should be 'text'")
		}
		r.system = append(r.system, b.text)
	}
	return nil
}

// parseTools reads tools and tool_choice.
func (r *Request) parseTools(body *ijson.Object) error {
	if raw, ok := body.Get("tools"); ok {
		elems, err := ijson.Elements(raw, "tools")
		if err != nil {
			return err
		}
		for i, raw := range elems {
			path := fmt.Sprintf("tools[%d]", i)
			o, err := ijson.ParseObject(raw, path)
			if err != nil {
				return err
			}
			if err := o.Check(path, toolFields...); err != nil {
				return err
			}
			t := tool{path: path}
			if raw, ok := o.Get("type"); ok {
				if t.typ, err = ijson.String(raw, path+".type"); err != nil {
					return err
				}
			}
			if t.name, err = requiredString(o, path, "name"); err != nil {
				return err
			}
			// Any typed tool but "custom" is one Anthropic runs
			// (web_search_20250305, bash_20250124, …): its members are
			// Anthropic's to check.
			if t.server = t.typ != "" && t.typ != "custom"; t.server {
				r.tools = append(r.tools, t)
				continue
			}
			if raw, ok := o.Get("description"); ok {
				if t.description, err = ijson.String(raw, path+".description"); err != nil {
					return err
				}
			}
			schema, ok := o.Get("input_schema")
			if !ok {
				return invalid(path+".input_schema", "Field required")
			}
			if _, err := ijson.ParseObject(schema, path+".input_schema"); err != nil {
				return invalid(path+".input_schema", "Input should be a valid dictionary")
			}
			t.schema = schema
			r.tools = append(r.tools, t)
		}
	}
	raw, ok := body.Get("tool_choice")
	if !ok {
		return nil
	}
	o, err := ijson.ParseObject(raw, "tool_choice")
	if err != nil {
		return err
	}
	if err := o.Check("tool_choice", toolChoiceFields...); err != nil {
		return err
	}
	tc := &toolChoice{}
	if tc.typ, err = requiredString(o, "tool_choice", "type"); err != nil {
		return err
	}
	switch tc.typ {
	case "auto", "any", "none":
	case "tool":
		if tc.name, err = requiredString(o, "tool_choice", "name"); err != nil {
			return err
		}
	default:
		return invalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'")
	}
	if raw, ok := o.Get("disable_parallel_tool_use"); ok {
		if tc.disableParallel, err = ijson.Bool(raw, "tool_choice.disable_parallel_tool_use"); err != nil {
			return err
		}
	}
	r.toolChoice = tc
	return nil
}

// parseOptions reads the sampling and streaming members.
func (r *Request) parseOptions(body *ijson.Object) error {
	var err error
	if raw, ok := body.Get("stream"); ok {
		if r.Stream, err = ijson.Bool(raw, "stream"); err != nil {
			return err
		}
	}
	if raw, ok := body.Get("stop_sequences"); ok {
		elems, err := ijson.Elements(raw, "stop_sequences")
		if err != nil {
			return err
		}
		for i, raw := range elems {
			s, err := ijson.String(raw, fmt.Sprintf("stop_sequences[%d]", i))
			if err != nil {
				return err
			}
			r.stop = append(r.stop, s)
		}
	}
	for _, f := range []struct {
		name string
		v    **float64
	}{{"temperature", &r.temperature}, {"top_p", &r.topP}} {
		if raw, ok := body.Get(f.name); ok {
			v, err := ijson.Float(raw, f.name)
			if err != nil {
				return err
			}
			*f.v = &v
		}
	}
	if raw, ok := body.Get("top_k"); ok {
		if _, err := ijson.Int(raw, "top_k"); err != nil {
			return err
		}
	}
	if raw, ok := body.Get("metadata"); ok {
		if _, err := ijson.ParseObject(raw, "metadata"); err != nil {
			return err
		}
	}
	if raw, ok := body.Get("thinking"); ok {
		o, err := ijson.ParseObject(raw, "thinking")
		if err != nil {
			return err
		}
		if err := o.Check("thinking", thinkingFields...); err != nil {
			return err
		}
		if _, err := requiredString(o, "thinking", "type"); err != nil {
			return err
		}
		if raw, ok := o.Get("budget_tokens"); ok {
			if _, err := ijson.Int(raw, "thinking.budget_tokens"); err != nil {
				return err
			}
		}
	}
	return nil
}
