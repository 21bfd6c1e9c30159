// Package responses is the wire of OpenAI's Responses API (/v1/responses):
// it reads a request body once (strictly, through ijson), translates it to
// the chat completions body every provider takes, and translates chat
// answers and chunks back into a Responses object and its typed events. It
// also reads usage from, and renames the model in, what an upstream that
// speaks Responses itself answers.
//
// It holds pure functions only: no HTTP, no limits, no metering decisions
// (the AI API's handlers own those), and it never keeps a response, so it
// cannot serve previous_response_id or GET /responses/{id}.
package responses

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aigate/aigate/aiapi/ijson"
)

// The request fields this package reads. A case variant of any of them is
// refused (ijson.Object.Check): an upstream reading JSON case-insensitively
// would take it for the field.
var requestFields = []string{"model", "input", "instructions", "max_output_tokens", "stream",
	"previous_response_id", "tools", "tool_choice", "temperature", "top_p", "parallel_tool_calls", "text"}

// The fields read in input items, their content parts and tools.
var (
	itemFields = []string{"type", "role", "content", "call_id", "name", "arguments", "output"}
	partFields = []string{"type", "text", "refusal", "image_url", "detail"}
	toolFields = []string{"type", "name", "description", "parameters", "strict"}
)

// Request is what was read from a Responses body, read once: Body holds it
// member by member, the members this package reads with the values it
// admitted (nulls removed), and is what a pass-through provider sends
// upstream once the handler has set the upstream model and the output cap.
type Request struct {
	Body  *ijson.Object
	Model string
	// MaxOutputTokens is the caller's max_output_tokens; 0 when unset.
	MaxOutputTokens int64
	Stream          bool
	// PreviousResponseID continues a response an upstream keeps; only a
	// pass-through upstream that stores responses can serve it.
	PreviousResponseID string
	// BodyBytes is the size of the body as received: the input a prompt
	// estimate counts when an upstream reports no usage.
	BodyBytes int64

	hasInput          bool
	instructions      string
	items             []item
	tools             []tool
	toolChoice        json.RawMessage
	temperature, topP *float64
	parallelToolCalls *bool
	format            *textFormat
}

// item is one input item. A string input is one user message.
type item struct {
	typ  string // "message", "function_call", "function_call_output", "reasoning" or another kept for pass-through
	path string
	role string
	// content is a message's content, output a function_call_output's; a
	// string is one input_text part.
	content, output []part
	callID, name    string
	arguments       string
}

// part is one content part: input_text, output_text, refusal,
// input_image, or another kept for pass-through.
type part struct {
	typ, path        string
	text             string // text, or the refusal
	imageURL, detail string
}

// tool is one entry of tools; only function tools have the fields below.
type tool struct {
	typ, path   string
	name        string
	description *string
	parameters  json.RawMessage
	strict      *bool
}

// textFormat is text.format: the structured output asked for.
type textFormat struct {
	typ, name   string
	description *string
	schema      json.RawMessage
	strict      *bool
}

func refuse(path, format string, a ...any) *ijson.Error {
	return &ijson.Error{Path: path, Message: fmt.Sprintf(format, a...)}
}

// Parse reads and checks a Responses body. Its errors are *ijson.Error
// naming the member at fault, fit for a 400. Input items, tools and
// tool_choice values this package cannot translate are kept (a pass-through
// upstream may serve them); Chat refuses them.
func Parse(data []byte) (*Request, error) {
	body, err := ijson.Parse(data)
	if err != nil {
		return nil, err
	}
	if err := body.Check("", requestFields...); err != nil {
		return nil, err
	}
	r := &Request{Body: body, BodyBytes: int64(len(data))}
	raw, ok := body.Get("model")
	if !ok {
		return nil, refuse("model", "you must provide a model parameter")
	}
	if r.Model, err = ijson.String(raw, "model"); err != nil {
		return nil, err
	}
	if r.Model == "" {
		return nil, refuse("model", "you must provide a model parameter")
	}
	if raw, ok := body.Get("max_output_tokens"); ok {
		if r.MaxOutputTokens, err = ijson.Int(raw, "max_output_tokens"); err != nil {
			return nil, err
		}
		if r.MaxOutputTokens < 1 {
			return nil, refuse("max_output_tokens", "max_output_tokens must be at least 1")
		}
	}
	if raw, ok := body.Get("stream"); ok {
		if r.Stream, err = ijson.Bool(raw, "stream"); err != nil {
			return nil, err
		}
	}
	if raw, ok := body.Get("previous_response_id"); ok {
		if r.PreviousResponseID, err = ijson.String(raw, "previous_response_id"); err != nil {
			return nil, err
		}
	}
	if raw, ok := body.Get("instructions"); ok {
		if r.instructions, err = ijson.String(raw, "instructions"); err != nil {
			return nil, err
		}
	}
	if raw, ok := body.Get("input"); ok {
		r.hasInput = true
		if r.items, err = parseInput(raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := body.Get("tools"); ok {
		if r.tools, err = parseTools(raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := body.Get("tool_choice"); ok {
		if err := checkToolChoice(raw); err != nil {
			return nil, err
		}
		r.toolChoice = raw
	}
	for _, f := range []struct {
		name string
		v    **float64
	}{{"temperature", &r.temperature}, {"top_p", &r.topP}} {
		if raw, ok := body.Get(f.name); ok {
			v, err := ijson.Float(raw, f.name)
			if err != nil {
				return nil, err
			}
			*f.v = &v
		}
	}
	if raw, ok := body.Get("parallel_tool_calls"); ok {
		v, err := ijson.Bool(raw, "parallel_tool_calls")
		if err != nil {
			return nil, err
		}
		r.parallelToolCalls = &v
	}
	if raw, ok := body.Get("text"); ok {
		if r.format, err = parseText(raw); err != nil {
			return nil, err
		}
	}
	// A null means unset here; it is not sent on, so that no upstream can
	// read it another way.
	for _, name := range requestFields {
		if body.Has(name) {
			if _, ok := body.Get(name); !ok {
				body.Delete(name)
			}
		}
	}
	return r, nil
}

// CapOutput applies the output cap the reservation bounds: the caller's
// max_output_tokens lowered to ceiling (0: none), or dflt (also bounded by
// ceiling) when the caller set none. Body then carries the cap, so that a
// pass-through upstream produces no more than was reserved. It returns the
// cap, which is also what Chat takes.
func (r *Request) CapOutput(dflt, ceiling int64) int64 {
	limit := r.MaxOutputTokens
	if limit == 0 {
		limit = dflt
	}
	if ceiling > 0 && limit > ceiling {
		limit = ceiling
	}
	if limit > 0 {
		r.Body.Set("max_output_tokens", limit)
	}
	return limit
}

// parseInput reads input: a string (one user message) or an array of items.
func parseInput(raw json.RawMessage) ([]item, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []item{{typ: "message", path: "input", role: "user", content: []part{{typ: "input_text", path: "input", text: s}}}}, nil
	}
	elems, err := ijson.Elements(raw, "input")
	if err != nil {
		return nil, refuse("input", "input must be a string or an array of input items")
	}
	items := make([]item, len(elems))
	for i, raw := range elems {
		if items[i], err = parseItem(raw, fmt.Sprintf("input[%d]", i)); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// parseItem reads one input item: a message (with or without "type"), a
// function call or its output, or another type kept as it is.
func parseItem(raw json.RawMessage, path string) (item, error) {
	o, err := ijson.ParseObject(raw, path)
	if err != nil {
		return item{}, refuse(path, "%s must be an input item object", path)
	}
	if err := o.Check(path, itemFields...); err != nil {
		return item{}, err
	}
	it := item{typ: "message", path: path}
	if raw, ok := o.Get("type"); ok {
		if it.typ, err = ijson.String(raw, path+".type"); err != nil {
			return item{}, err
		}
	}
	switch it.typ {
	case "message":
		raw, ok := o.Get("role")
		if !ok {
			return item{}, refuse(path+".role", "%s.role is required", path)
		}
		if it.role, err = ijson.String(raw, path+".role"); err != nil {
			return item{}, err
		}
		switch it.role {
		case "user", "assistant", "system", "developer":
		default:
			return item{}, refuse(path+".role", "%s.role must be user, assistant, system or developer", path)
		}
		raw, ok = o.Get("content")
		if !ok {
			return item{}, refuse(path+".content", "%s.content is required", path)
		}
		if it.content, err = parseContent(raw, path+".content"); err != nil {
			return item{}, err
		}
	case "function_call":
		for _, f := range []struct {
			name string
			v    *string
		}{{"call_id", &it.callID}, {"name", &it.name}, {"arguments", &it.arguments}} {
			raw, ok := o.Get(f.name)
			if !ok {
				return item{}, refuse(path+"."+f.name, "%s.%s is required", path, f.name)
			}
			if *f.v, err = ijson.String(raw, path+"."+f.name); err != nil {
				return item{}, err
			}
		}
	case "function_call_output":
		raw, ok := o.Get("call_id")
		if !ok {
			return item{}, refuse(path+".call_id", "%s.call_id is required", path)
		}
		if it.callID, err = ijson.String(raw, path+".call_id"); err != nil {
			return item{}, err
		}
		raw, ok = o.Get("output")
		if !ok {
			return item{}, refuse(path+".output", "%s.output is required", path)
		}
		if it.output, err = parseContent(raw, path+".output"); err != nil {
			return item{}, err
		}
	case "":
		return item{}, refuse(path+".type", "%s.type must not be empty", path)
	}
	return it, nil
}

// parseContent reads a message's content or a function call's output: a
// string, or an array of content parts.
func parseContent(raw json.RawMessage, path string) ([]part, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []part{{typ: "input_text", path: path, text: s}}, nil
	}
	elems, err := ijson.Elements(raw, path)
	if err != nil {
		return nil, refuse(path, "%s must be a string or an array of content parts", path)
	}
	parts := make([]part, len(elems))
	for i, raw := range elems {
		pp := fmt.Sprintf("%s[%d]", path, i)
		o, err := ijson.ParseObject(raw, pp)
		if err != nil {
			return nil, refuse(pp, "%s must be a content part object", pp)
		}
		if err := o.Check(pp, partFields...); err != nil {
			return nil, err
		}
		p := part{path: pp}
		raw, ok := o.Get("type")
		if !ok {
			return nil, refuse(pp+".type", "%s.type is required", pp)
		}
		if p.typ, err = ijson.String(raw, pp+".type"); err != nil {
			return nil, err
		}
		var field string
		switch p.typ {
		case "input_text", "output_text":
			field = "text"
		case "refusal":
			field = "refusal"
		case "input_image":
			for _, f := range []struct {
				name string
				v    *string
			}{{"image_url", &p.imageURL}, {"detail", &p.detail}} {
				if raw, ok := o.Get(f.name); ok {
					if *f.v, err = ijson.String(raw, pp+"."+f.name); err != nil {
						return nil, err
					}
				}
			}
		}
		if field != "" {
			raw, ok := o.Get(field)
			if !ok {
				return nil, refuse(pp+"."+field, "%s.%s is required", pp, field)
			}
			if p.text, err = ijson.String(raw, pp+"."+field); err != nil {
				return nil, err
			}
		}
		parts[i] = p
	}
	return parts, nil
}

// parseTools reads tools; tools other than function tools are kept with
// their type only.
func parseTools(raw json.RawMessage) ([]tool, error) {
	elems, err := ijson.Elements(raw, "tools")
	if err != nil {
		return nil, refuse("tools", "tools must be an array of tools")
	}
	tools := make([]tool, len(elems))
	for i, raw := range elems {
		path := fmt.Sprintf("tools[%d]", i)
		o, err := ijson.ParseObject(raw, path)
		if err != nil {
			return nil, refuse(path, "%s must be a tool object", path)
		}
		if err := o.Check(path, toolFields...); err != nil {
			return nil, err
		}
		t := tool{path: path}
		raw, ok := o.Get("type")
		if !ok {
			return nil, refuse(path+".type", "%s.type is required", path)
		}
		if t.typ, err = ijson.String(raw, path+".type"); err != nil {
			return nil, err
		}
		if t.typ == "function" {
			raw, ok := o.Get("name")
			if !ok {
				return nil, refuse(path+".name", "%s.name is required", path)
			}
			if t.name, err = ijson.String(raw, path+".name"); err != nil {
				return nil, err
			}
			if t.name == "" {
				return nil, refuse(path+".name", "%s.name must not be empty", path)
			}
			if raw, ok := o.Get("description"); ok {
				d, err := ijson.String(raw, path+".description")
				if err != nil {
					return nil, err
				}
				t.description = &d
			}
			if raw, ok := o.Get("parameters"); ok {
				if _, err := ijson.ParseObject(raw, path+".parameters"); err != nil {
					return nil, refuse(path+".parameters", "%s.parameters must be a JSON Schema object", path)
				}
				t.parameters = raw
			}
			if raw, ok := o.Get("strict"); ok {
				s, err := ijson.Bool(raw, path+".strict")
				if err != nil {
					return nil, err
				}
				t.strict = &s
			}
		}
		tools[i] = t
	}
	return tools, nil
}

// checkToolChoice checks tool_choice: "auto", "none", "required", or an
// object with a type ({"type":"function","name":…} and others, which only
// a pass-through upstream serves).
func checkToolChoice(raw json.RawMessage) error {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch s {
		case "auto", "none", "required":
			return nil
		}
		return refuse("tool_choice", "tool_choice must be auto, none, required or a tool choice object")
	}
	o, err := ijson.ParseObject(raw, "tool_choice")
	if err != nil {
		return refuse("tool_choice", "tool_choice must be auto, none, required or a tool choice object")
	}
	if err := o.Check("tool_choice", "type", "name"); err != nil {
		return err
	}
	typ, ok := o.Get("type")
	if !ok {
		return refuse("tool_choice.type", "tool_choice.type is required")
	}
	t, err := ijson.String(typ, "tool_choice.type")
	if err != nil {
		return err
	}
	if t == "function" {
		name, ok := o.Get("name")
		if !ok {
			return refuse("tool_choice.name", "tool_choice.name is required")
		}
		if _, err := ijson.String(name, "tool_choice.name"); err != nil {
			return err
		}
	}
	return nil
}

// parseText reads text.format, the structured output asked for; nil when
// plain text is.
func parseText(raw json.RawMessage) (*textFormat, error) {
	o, err := ijson.ParseObject(raw, "text")
	if err != nil {
		return nil, refuse("text", "text must be an object")
	}
	if err := o.Check("text", "format"); err != nil {
		return nil, err
	}
	raw, ok := o.Get("format")
	if !ok {
		return nil, nil
	}
	fo, err := ijson.ParseObject(raw, "text.format")
	if err != nil {
		return nil, refuse("text.format", "text.format must be an object")
	}
	if err := fo.Check("text.format", "type", "name", "description", "schema", "strict"); err != nil {
		return nil, err
	}
	f := &textFormat{}
	typ, ok := fo.Get("type")
	if !ok {
		return nil, refuse("text.format.type", "text.format.type is required")
	}
	if f.typ, err = ijson.String(typ, "text.format.type"); err != nil {
		return nil, err
	}
	switch f.typ {
	case "text":
		return nil, nil
	case "json_schema":
		raw, ok := fo.Get("name")
		if !ok {
			return nil, refuse("text.format.name", "text.format.name is required")
		}
		if f.name, err = ijson.String(raw, "text.format.name"); err != nil {
			return nil, err
		}
		raw, ok = fo.Get("schema")
		if !ok {
			return nil, refuse("text.format.schema", "text.format.schema is required")
		}
		if _, err := ijson.ParseObject(raw, "text.format.schema"); err != nil {
			return nil, refuse("text.format.schema", "text.format.schema must be a JSON Schema object")
		}
		f.schema = raw
		if raw, ok := fo.Get("description"); ok {
			d, err := ijson.String(raw, "text.format.description")
			if err != nil {
				return nil, err
			}
			f.description = &d
		}
		if raw, ok := fo.Get("strict"); ok {
			s, err := ijson.Bool(raw, "text.format.strict")
			if err != nil {
				return nil, err
			}
			f.strict = &s
		}
	}
	return f, nil
}

// joinText is the text of parts, joined; ok is false when a part is not
// text (an image, a file), which chat's plain text cannot carry.
func joinText(parts []part) (text string, ok bool) {
	var b strings.Builder
	for _, p := range parts {
		switch p.typ {
		case "input_text", "output_text", "refusal":
			b.WriteString(p.text)
		default:
			return "", false
		}
	}
	return b.String(), true
}
