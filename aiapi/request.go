package aiapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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

// chatRequest is what the AI API reads from a chat completion body. The body
// itself goes upstream as it came, unknown fields included.
type chatRequest struct {
	model    string
	messages []provider.Message
	// textBytes is the size of the messages' text, for estimating prompt
	// tokens when an upstream reports none.
	textBytes int64
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

type chatBody struct {
	Model               *string           `json:"model"`
	Messages            []json.RawMessage `json:"messages"`
	MaxTokens           *int64            `json:"max_tokens"`
	MaxCompletionTokens *int64            `json:"max_completion_tokens"`
	N                   *int64            `json:"n"`
	Stream              *bool             `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage *bool `json:"include_usage"`
	} `json:"stream_options"`
	Temperature *float64        `json:"temperature"`
	TopP        *float64        `json:"top_p"`
	Stop        json.RawMessage `json:"stop"`
}

type messageBody struct {
	Role      *string         `json:"role"`
	Content   json.RawMessage `json:"content"`
	ToolCalls json.RawMessage `json:"tool_calls"`
}

// decodeError turns encoding/json's error into a message that names the
// field, without echoing the body.
func decodeError(err error) *requestError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return badParam(te.Field, "%s must be a JSON %s", orBody(te.Field), jsonKind(te.Type.String()))
	}
	return badParam("", "the request body is not valid JSON")
}

func orBody(field string) string {
	if field == "" {
		return "the request body"
	}
	return field
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"), strings.HasPrefix(goType, "*[]"):
		return "array"
	case strings.Contains(goType, "int"):
		return "integer"
	case strings.Contains(goType, "float"):
		return "number"
	case strings.Contains(goType, "bool"):
		return "boolean"
	case strings.Contains(goType, "string"):
		return "string"
	}
	return "object"
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// parseChatRequest reads and checks a chat completion body.
func parseChatRequest(body []byte) (*chatRequest, error) {
	var b chatBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, decodeError(err)
	}
	r := &chatRequest{n: 1}
	if b.Model == nil || *b.Model == "" {
		return nil, badParam("model", "you must provide a model parameter")
	}
	r.model = *b.Model
	if len(b.Messages) == 0 {
		return nil, badParam("messages", "messages must be a non-empty array")
	}
	r.messages = make([]provider.Message, len(b.Messages))
	for i, raw := range b.Messages {
		m, err := parseMessage(raw, i)
		if err != nil {
			return nil, err
		}
		r.messages[i] = m
		r.textBytes += int64(len(m.Text))
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"max_tokens", b.MaxTokens}, {"max_completion_tokens", b.MaxCompletionTokens}} {
		if f.v == nil {
			continue
		}
		if *f.v < 1 {
			return nil, badParam(f.name, "%s must be at least 1", f.name)
		}
		r.maxTokens = max(r.maxTokens, *f.v)
	}
	if b.N != nil {
		if *b.N < 1 || *b.N > MaxChoices {
			return nil, badParam("n", "n must be from 1 to %d", MaxChoices)
		}
		r.n = *b.N
	}
	r.stream = b.Stream != nil && *b.Stream
	r.includeUsage = r.stream && b.StreamOptions != nil && b.StreamOptions.IncludeUsage != nil && *b.StreamOptions.IncludeUsage
	r.temperature, r.topP = b.Temperature, b.TopP
	if !isNull(b.Stop) {
		var one string
		if err := json.Unmarshal(b.Stop, &one); err == nil {
			r.stop = []string{one}
		} else if err := json.Unmarshal(b.Stop, &r.stop); err != nil {
			return nil, badParam("stop", "stop must be a string or an array of strings")
		}
	}
	return r, nil
}

// parseMessage reads one message: its role and the text of its content (a
// string, or an array of parts of which the text ones count).
func parseMessage(raw json.RawMessage, i int) (provider.Message, error) {
	param := fmt.Sprintf("messages[%d]", i)
	var mb messageBody
	if err := json.Unmarshal(raw, &mb); err != nil {
		return provider.Message{}, badParam(param, "%s must be an object with a role and content", param)
	}
	if mb.Role == nil || *mb.Role == "" {
		return provider.Message{}, badParam(param+".role", "%s.role is required", param)
	}
	m := provider.Message{Role: *mb.Role, NonText: !isNull(mb.ToolCalls)}
	if isNull(mb.Content) {
		return m, nil
	}
	if err := json.Unmarshal(mb.Content, &m.Text); err == nil {
		return m, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(mb.Content, &parts); err != nil {
		return provider.Message{}, badParam(param+".content", "%s.content must be a string or an array of content parts", param)
	}
	var text strings.Builder
	for _, p := range parts {
		if p.Type == "text" && p.Text != nil {
			text.WriteString(*p.Text)
		} else {
			m.NonText = true
		}
	}
	m.Text = text.String()
	return m, nil
}

// embeddingsRequest is what the AI API reads from an embeddings body.
type embeddingsRequest struct {
	model string
	// inputs are the texts; nil when the input is token arrays.
	inputs []string
}

// parseEmbeddingsRequest reads and checks an embeddings body.
func parseEmbeddingsRequest(body []byte) (*embeddingsRequest, error) {
	var b struct {
		Model *string         `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, decodeError(err)
	}
	if b.Model == nil || *b.Model == "" {
		return nil, badParam("model", "you must provide a model parameter")
	}
	r := &embeddingsRequest{model: *b.Model}
	if isNull(b.Input) {
		return nil, badParam("input", "input is required")
	}
	var one string
	if err := json.Unmarshal(b.Input, &one); err == nil {
		r.inputs = []string{one}
		return r, nil
	}
	if err := json.Unmarshal(b.Input, &r.inputs); err == nil {
		if len(r.inputs) == 0 {
			return nil, badParam("input", "input must not be empty")
		}
		return r, nil
	}
	// Token arrays: one ([1,2,3]) or several ([[1,2],[3]]).
	var tokens []int64
	if err := json.Unmarshal(b.Input, &tokens); err == nil && len(tokens) > 0 {
		return &embeddingsRequest{model: r.model}, nil
	}
	var batches [][]int64
	if err := json.Unmarshal(b.Input, &batches); err == nil && len(batches) > 0 {
		return &embeddingsRequest{model: r.model}, nil
	}
	return nil, badParam("input", "input must be a string, an array of strings, or token arrays")
}
