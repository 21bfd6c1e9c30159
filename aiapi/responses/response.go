package responses

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/aigate/aigate/aiapi/provider"
)

// responseJSON is a Responses API response object, with the fields the
// SDKs require (openai-go's responses.Response marks them required) set to
// what a translated answer means: defaults for the sampling settings, no
// stored state (store false), no instructions echoed.
type responseJSON struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	CreatedAt          int64             `json:"created_at"`
	Status             string            `json:"status"`
	Background         bool              `json:"background"`
	Error              *errorJSON        `json:"error"`
	IncompleteDetails  *incompleteJSON   `json:"incomplete_details"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int64            `json:"max_output_tokens"`
	Model              string            `json:"model"`
	Output             []any             `json:"output"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Reasoning          reasoningJSON     `json:"reasoning"`
	Store              bool              `json:"store"`
	Temperature        float64           `json:"temperature"`
	Text               textJSON          `json:"text"`
	ToolChoice         string            `json:"tool_choice"`
	Tools              []any             `json:"tools"`
	TopP               float64           `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              *usageJSON        `json:"usage"`
	User               *string           `json:"user"`
	Metadata           map[string]string `json:"metadata"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type incompleteJSON struct {
	Reason string `json:"reason"`
}

type reasoningJSON struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

type textJSON struct {
	Format struct {
		Type string `json:"type"`
	} `json:"format"`
}

type usageJSON struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

// messageItem is an output message; functionCallItem a function call.
type messageItem struct {
	Type    string     `json:"type"`
	ID      string     `json:"id"`
	Status  string     `json:"status"`
	Role    string     `json:"role"`
	Content []partJSON `json:"content"`
}

// partJSON is an output_text part (Text, Annotations) or a refusal part.
type partJSON struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	Annotations *[]any  `json:"annotations,omitempty"` // [] on output_text, which SDKs require
	Refusal     *string `json:"refusal,omitempty"`
}

type functionCallItem struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	Status    string `json:"status"`
}

func outputText(text string) partJSON {
	return partJSON{Type: "output_text", Text: &text, Annotations: &[]any{}}
}

func refusalPart(text string) partJSON {
	return partJSON{Type: "refusal", Refusal: &text}
}

// ids are the ids of one response and its items, from the response id.
type ids struct{ response, base string }

func newIDs(id string) ids {
	base := strings.TrimPrefix(id, "resp_")
	return ids{response: "resp_" + base, base: base}
}

func (i ids) message() string     { return "msg_" + i.base }
func (i ids) call(n int) string   { return fmt.Sprintf("fc_%s_%d", i.base, n) }
func (i ids) callID(n int) string { return fmt.Sprintf("call_%s_%d", i.base, n) }

func newResponse(id ids, model string, createdAt int64, status string) *responseJSON {
	r := &responseJSON{
		ID: id.response, Object: "response", CreatedAt: createdAt, Status: status, Model: model,
		Output: []any{}, ParallelToolCalls: true, Temperature: 1, ToolChoice: "auto", Tools: []any{},
		TopP: 1, Truncation: "disabled", Metadata: map[string]string{},
	}
	r.Text.Format.Type = "text"
	return r
}

// statusOf is the status a chat finish_reason means: a cut by the output
// cap or a content filter leaves the response incomplete, with the reason.
func statusOf(finishReason string) (string, *incompleteJSON) {
	switch finishReason {
	case "length":
		return "incomplete", &incompleteJSON{Reason: "max_output_tokens"}
	case "content_filter":
		return "incomplete", &incompleteJSON{Reason: "content_filter"}
	}
	return "completed", nil
}

// toUsage is the usage object of u; total_tokens saturates rather than
// overflow on an upstream's absurd counts.
func toUsage(u provider.Usage, reasoningTokens int64) *usageJSON {
	out := &usageJSON{InputTokens: max(u.PromptTokens, 0), OutputTokens: max(u.CompletionTokens, 0)}
	out.InputTokensDetails.CachedTokens = max(u.CacheReadTokens, 0)
	out.OutputTokensDetails.ReasoningTokens = max(reasoningTokens, 0)
	out.TotalTokens = out.InputTokens + out.OutputTokens
	if out.TotalTokens < 0 {
		out.TotalTokens = math.MaxInt64
	}
	return out
}

// chatCompletion is what FromChat reads of a chat.completion.
type chatCompletion struct {
	Choices []struct {
		Message struct {
			Content   *string `json:"content"`
			Refusal   *string `json:"refusal"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

var errMalformedChat = errors.New("responses: the chat answer is malformed")

// FromChat translates a chat.completion (its first choice) into a Responses
// response object: id (given the "resp_" prefix when it lacks it), model
// and createdAt name it; the message's text becomes an output message,
// each tool call a function_call item; finish_reason "length" makes it
// incomplete (max_output_tokens); usage carries over with its cache and
// reasoning details. Without a usage in the answer there is none in the
// response.
func FromChat(chat []byte, id, model string, createdAt int64) ([]byte, error) {
	var c chatCompletion
	if err := json.Unmarshal(chat, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformedChat, err)
	}
	if len(c.Choices) == 0 {
		return nil, fmt.Errorf("%w: no choices", errMalformedChat)
	}
	ch := c.Choices[0]
	ident := newIDs(id)
	status, incomplete := statusOf(ch.FinishReason)
	r := newResponse(ident, model, createdAt, status)
	r.IncompleteDetails = incomplete
	var parts []partJSON
	if t := ch.Message.Content; t != nil && *t != "" {
		parts = append(parts, outputText(*t))
	}
	if t := ch.Message.Refusal; t != nil && *t != "" {
		parts = append(parts, refusalPart(*t))
	}
	itemStatus := "completed"
	if r.Status == "incomplete" {
		itemStatus = "incomplete"
	}
	if len(parts) > 0 {
		r.Output = append(r.Output, messageItem{Type: "message", ID: ident.message(), Status: itemStatus, Role: "assistant", Content: parts})
	}
	for n, tc := range ch.Message.ToolCalls {
		callID := tc.ID
		if callID == "" {
			callID = ident.callID(n)
		}
		r.Output = append(r.Output, functionCallItem{Type: "function_call", ID: ident.call(n), CallID: callID,
			Name: tc.Function.Name, Arguments: tc.Function.Arguments, Status: itemStatus})
	}
	if u := c.Usage; u != nil {
		r.Usage = toUsage(provider.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
			CacheReadTokens: u.PromptTokensDetails.CachedTokens}, u.CompletionTokensDetails.ReasoningTokens)
	}
	return json.Marshal(r)
}
