package aiapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
)

// MaxChoices bounds n: every choice multiplies the output reserved.
const MaxChoices = 128

// requestError is a client's mistake in its request body: a 400 naming the
// parameter.
type requestError struct {
	param, message string
}

func (e *requestError) Error() string { return "aiapi: " + e.message }

func badParam(param, format string, a ...any) *requestError {
	return &requestError{param: param, message: fmt.Sprintf(format, a...)}
}

// asRequestError turns ijson's refusal into a 400 naming the member.
func asRequestError(err error) error {
	var je *ijson.Error
	if errors.As(err, &je) {
		return &requestError{param: je.Path, message: je.Message}
	}
	return err
}

// The chat completion fields the AI API reads. A case variant of any of
// them is refused (ijson.Object.Check): an upstream reading JSON
// case-insensitively would take it for the field.
var chatFields = []string{"model", "messages", "max_tokens", "max_completion_tokens", "n",
	"stream", "stream_options", "temperature", "top_p", "stop"}

// Output cap fields of the chat completions API.
const (
	fieldMaxTokens           = "max_tokens"
	fieldMaxCompletionTokens = "max_completion_tokens"
)

// chatRequest is what the AI API read from a chat completion body, read
// once (ijson): body holds it member by member, with the admitted values
// written back, and is what a pass-through provider sends upstream.
type chatRequest struct {
	body     *ijson.Object
	model    string
	messages []provider.Message
	// bodyBytes is the size of the body as received: the input a prompt
	// estimate counts when an upstream reports no usage (roles, tools and
	// images included, not only the messages' text).
	bodyBytes int64
	// maxTokens is the larger of max_tokens and max_completion_tokens (the
	// one an upstream might honour); 0 when neither is set.
	maxTokens    int64
	n            int64
	stream       bool
	includeUsage bool
	temperature  *float64
	topP         *float64
	stop         []string
}

// parseChatRequest reads and checks a chat completion body.
func parseChatRequest(data []byte) (*chatRequest, error) {
	body, err := ijson.Parse(data)
	if err != nil {
		return nil, asRequestError(err)
	}
	if err := body.Check("", chatFields...); err != nil {
		return nil, asRequestError(err)
	}
	r := &chatRequest{body: body, n: 1, bodyBytes: int64(len(data))}
	if r.model, err = requiredModel(body); err != nil {
		return nil, err
	}
	raw, ok := body.Get("messages")
	if !ok {
		return nil, badParam("messages", "messages must be a non-empty array")
	}
	msgs, err := ijson.Elements(raw, "messages")
	if err != nil || len(msgs) == 0 {
		return nil, badParam("messages", "messages must be a non-empty array")
	}
	r.messages = make([]provider.Message, len(msgs))
	for i, raw := range msgs {
		if r.messages[i], err = parseMessage(raw, i); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{fieldMaxTokens, fieldMaxCompletionTokens} {
		v, ok, err := optionalInt(body, name)
		if err != nil {
			return nil, err
		}
		if ok && v < 1 {
			return nil, badParam(name, "%s must be at least 1", name)
		}
		r.maxTokens = max(r.maxTokens, v)
	}
	if v, ok, err := optionalInt(body, "n"); err != nil {
		return nil, err
	} else if ok {
		if v < 1 || v > MaxChoices {
			return nil, badParam("n", "n must be from 1 to %d", MaxChoices)
		}
		r.n = v
	}
	if raw, ok := body.Get("stream"); ok {
		if r.stream, err = ijson.Bool(raw, "stream"); err != nil {
			return nil, asRequestError(err)
		}
	}
	if raw, ok := body.Get("stream_options"); ok {
		so, err := ijson.ParseObject(raw, "stream_options")
		if err != nil {
			return nil, asRequestError(err)
		}
		if err := so.Check("stream_options", "include_usage"); err != nil {
			return nil, asRequestError(err)
		}
		if raw, ok := so.Get("include_usage"); ok {
			if r.includeUsage, err = ijson.Bool(raw, "stream_options.include_usage"); err != nil {
				return nil, asRequestError(err)
			}
		}
		r.includeUsage = r.includeUsage && r.stream
	}
	for _, f := range []struct {
		name string
		v    **float64
	}{{"temperature", &r.temperature}, {"top_p", &r.topP}} {
		if raw, ok := body.Get(f.name); ok {
			v, err := ijson.Float(raw, f.name)
			if err != nil {
				return nil, asRequestError(err)
			}
			*f.v = &v
		}
	}
	if raw, ok := body.Get("stop"); ok {
		var one string
		if err := json.Unmarshal(raw, &one); err == nil {
			r.stop = []string{one}
		} else if err := json.Unmarshal(raw, &r.stop); err != nil {
			return nil, badParam("stop", "stop must be a string or an array of strings")
		}
	}
	// A null means unset to the AI API; it is not sent on, so that no
	// upstream can read it another way.
	for _, name := range chatFields {
		if body.Has(name) {
			if _, ok := body.Get(name); !ok {
				body.Delete(name)
			}
		}
	}
	return r, nil
}

// requiredModel reads the model member every endpoint needs.
func requiredModel(body *ijson.Object) (string, error) {
	raw, ok := body.Get("model")
	if !ok {
		return "", badParam("model", "you must provide a model parameter")
	}
	model, err := ijson.String(raw, "model")
	if err != nil {
		return "", asRequestError(err)
	}
	if model == "" {
		return "", badParam("model", "you must provide a model parameter")
	}
	return model, nil
}

// optionalInt reads an integer member; ok is false when it is absent or
// null.
func optionalInt(body *ijson.Object, name string) (v int64, ok bool, err error) {
	raw, ok := body.Get(name)
	if !ok {
		return 0, false, nil
	}
	if v, err = ijson.Int(raw, name); err != nil {
		return 0, false, asRequestError(err)
	}
	return v, true, nil
}

// capOutput applies the output cap the reservation bounds: the caller's
// max_tokens / max_completion_tokens lowered to ceiling (0: none), or
// dflt when the caller set neither. The body sent upstream carries the
// lowered values, so the upstream produces no more than was reserved. It
// returns the cap per choice.
func (r *chatRequest) capOutput(dflt, ceiling int64) int64 {
	if r.maxTokens == 0 {
		if ceiling > 0 {
			return min(dflt, ceiling)
		}
		return dflt
	}
	if ceiling > 0 && r.maxTokens > ceiling {
		for _, name := range []string{fieldMaxTokens, fieldMaxCompletionTokens} {
			if v, ok, _ := optionalInt(r.body, name); ok && v > ceiling {
				r.body.Set(name, ceiling)
			}
		}
		r.maxTokens = ceiling
	}
	return r.maxTokens
}

// bound is the most tokens a request may use: input at most one token per
// byte of the body (a byte-level BPE tokenizer makes no more, and the whole
// body — roles, tools, JSON — bounds what a chat template makes of it),
// plus every choice's output cap. Client numbers never overflow it: a bound
// past int64 is the caller's mistake.
func bound(bodyBytes, choices, maxTokens int64) (int64, error) {
	if maxTokens > (math.MaxInt64-bodyBytes)/choices {
		return 0, badParam(fieldMaxTokens, "max_tokens × n is too large")
	}
	return bodyBytes + choices*maxTokens, nil
}

// The message fields the AI API reads.
var messageFields = []string{"role", "content", "tool_calls"}

// parseMessage reads one message: its role and the text of its content (a
// string, or an array of parts of which the text ones count).
func parseMessage(raw json.RawMessage, i int) (provider.Message, error) {
	param := fmt.Sprintf("messages[%d]", i)
	mb, err := ijson.ParseObject(raw, param)
	if err != nil {
		return provider.Message{}, badParam(param, "%s must be an object with a role and content", param)
	}
	if err := mb.Check(param, messageFields...); err != nil {
		return provider.Message{}, asRequestError(err)
	}
	role, ok := mb.Get("role")
	if !ok {
		return provider.Message{}, badParam(param+".role", "%s.role is required", param)
	}
	m := provider.Message{}
	if m.Role, err = ijson.String(role, param+".role"); err != nil || m.Role == "" {
		return provider.Message{}, badParam(param+".role", "%s.role must be a non-empty string", param)
	}
	_, m.NonText = mb.Get("tool_calls")
	content, ok := mb.Get("content")
	if !ok {
		return m, nil
	}
	if err := json.Unmarshal(content, &m.Text); err == nil {
		return m, nil
	}
	parts, err := ijson.Elements(content, param+".content")
	if err != nil {
		return provider.Message{}, badParam(param+".content", "%s.content must be a string or an array of content parts", param)
	}
	var text strings.Builder
	for j, raw := range parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		p, err := ijson.ParseObject(raw, pp)
		if err != nil {
			return provider.Message{}, badParam(pp, "%s must be a content part object", pp)
		}
		if err := p.Check(pp, "type", "text"); err != nil {
			return provider.Message{}, asRequestError(err)
		}
		typ, _ := p.Get("type")
		t, hasText := p.Get("text")
		if string(typ) == `"text"` && hasText {
			s, err := ijson.String(t, pp+".text")
			if err != nil {
				return provider.Message{}, asRequestError(err)
			}
			text.WriteString(s)
		} else {
			m.NonText = true
		}
	}
	m.Text = text.String()
	return m, nil
}

// embeddingsRequest is what the AI API read from an embeddings body.
type embeddingsRequest struct {
	body  *ijson.Object
	model string
	// inputs are the texts; nil when the input is token arrays.
	inputs []string
	// tokens counts the tokens of token-array input: known exactly.
	tokens int64
}

// parseEmbeddingsRequest reads and checks an embeddings body.
func parseEmbeddingsRequest(data []byte) (*embeddingsRequest, error) {
	body, err := ijson.Parse(data)
	if err != nil {
		return nil, asRequestError(err)
	}
	if err := body.Check("", "model", "input"); err != nil {
		return nil, asRequestError(err)
	}
	r := &embeddingsRequest{body: body}
	if r.model, err = requiredModel(body); err != nil {
		return nil, err
	}
	in, ok := body.Get("input")
	if !ok {
		return nil, badParam("input", "input is required")
	}
	var one string
	if err := json.Unmarshal(in, &one); err == nil {
		r.inputs = []string{one}
		return r, nil
	}
	if err := json.Unmarshal(in, &r.inputs); err == nil {
		if len(r.inputs) == 0 {
			return nil, badParam("input", "input must not be empty")
		}
		return r, nil
	}
	r.inputs = nil
	// Token arrays: one ([1,2,3]) or several ([[1,2],[3]]).
	var tokens []int64
	if err := json.Unmarshal(in, &tokens); err == nil && len(tokens) > 0 {
		r.tokens = int64(len(tokens))
		return r, nil
	}
	var batches [][]int64
	if err := json.Unmarshal(in, &batches); err == nil && len(batches) > 0 {
		for _, b := range batches {
			if len(b) == 0 {
				return nil, badParam("input", "input must not hold an empty token array")
			}
			r.tokens += int64(len(b))
		}
		return r, nil
	}
	return nil, badParam("input", "input must be a string, an array of strings, or token arrays")
}
