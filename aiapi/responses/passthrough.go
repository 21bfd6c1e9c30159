package responses

import (
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aigate/aigate/aiapi/provider"
)

// What an upstream that speaks Responses itself answers is passed on as it
// came but for the model's name; these read what the AI API meters from it.

// Usage reads the usage of a response object: input_tokens (cache reads
// included, as Responses counts them) and output_tokens (reasoning
// included), with input_tokens_details.cached_tokens as the cache reads.
// Nil when the response has no usage object. Negative counts read as 0.
func Usage(response []byte) *provider.Usage {
	return usageOf(gjson.GetBytes(response, "usage"))
}

func usageOf(u gjson.Result) *provider.Usage {
	if !u.IsObject() {
		return nil
	}
	return &provider.Usage{
		PromptTokens:     max(u.Get("input_tokens").Int(), 0),
		CompletionTokens: max(u.Get("output_tokens").Int(), 0),
		CacheReadTokens:  max(u.Get("input_tokens_details.cached_tokens").Int(), 0),
	}
}

// EventUsage reads one event of an upstream's Responses stream (its data):
// its type; the usage of the response that response.completed,
// response.incomplete and response.failed carry (nil otherwise, or when
// that response has none); and the size of the output it carries, from
// which a stream cut short before its usage is estimated. Every kind of
// delta counts (output text, function call arguments, reasoning text and
// summaries, refusals, custom tool input, audio and its transcript…), and
// so does a finished item of a kind that is not streamed as deltas (a
// built-in tool call, reasoning kept encrypted): an estimate may run high,
// never to zero when output was produced.
func EventUsage(data []byte) (eventType string, usage *provider.Usage, outputBytes int64) {
	eventType = gjson.GetBytes(data, "type").Str
	switch {
	case eventType == "response.completed", eventType == "response.incomplete", eventType == "response.failed":
		usage = usageOf(gjson.GetBytes(data, "response.usage"))
	case strings.HasSuffix(eventType, ".delta"):
		if d := gjson.GetBytes(data, "delta"); d.Exists() {
			outputBytes = int64(len(d.Raw))
		} else {
			outputBytes = int64(len(data))
		}
	case eventType == "response.image_generation_call.partial_image":
		outputBytes = int64(len(gjson.GetBytes(data, "partial_image_b64").Raw))
	case eventType == "response.output_item.done":
		switch item := gjson.GetBytes(data, "item"); item.Get("type").Str {
		case "message", "function_call":
			// Streamed as deltas, counted there.
		default:
			outputBytes = int64(len(item.Raw))
		}
	}
	return eventType, usage, outputBytes
}

// RenameModel sets the model an event or a response object names (its
// response.model, or its model) to model, the caller's name for it; data
// naming no model, or not JSON, is returned as it is.
func RenameModel(data []byte, model string) []byte {
	for _, path := range []string{"response.model", "model"} {
		m := gjson.GetBytes(data, path)
		if !m.Exists() {
			continue
		}
		if m.Type == gjson.String && m.Str == model {
			return data
		}
		out, err := sjson.SetBytes(data, path, model)
		if err != nil {
			return data
		}
		return out
	}
	return data
}
