package anthropic

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
)

// Any body the AI API admits is translated or refused with a 400, never a
// panic, and what is translated is JSON.
func FuzzTranslateRequest(f *testing.F) {
	f.Add(`{"messages":[{"role":"user","content":"Hi"}]}`)
	f.Add(`{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":[1]}"}}]},{"role":"tool","tool_call_id":"c","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"required","parallel_tool_calls":false}`)
	f.Add(`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		obj, err := ijson.Parse([]byte(body))
		if err != nil {
			return
		}
		mr, err := translateRequest(&provider.ChatRequest{Model: "m", ResponseModel: "m", Body: obj, MaxTokens: 1, N: 1})
		if err != nil {
			if pe, ok := err.(*provider.Error); !ok || pe.Kind != provider.BadRequest {
				t.Fatalf("err = %v", err)
			}
			return
		}
		if !json.Valid(mustMarshal(mr)) {
			t.Fatal("translated into invalid JSON")
		}
	})
}

// Any event stream is metered without a panic, and usage never decreases.
func FuzzStreamMeter(f *testing.F) {
	f.Add("data: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":9223372036854775807,\"cache_read_input_tokens\":9223372036854775807,\"cache_creation_input_tokens\":9223372036854775807}}\n\n" +
		"data: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":1}}\n\n")
	f.Add("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":-1}}\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		var m StreamMeter
		r := provider.NewEventReader(strings.NewReader(stream))
		var last provider.Usage
		for {
			typ, data, err := r.Next()
			if err != nil {
				return
			}
			u, out := m.Event(typ, data)
			if out < 0 {
				t.Fatalf("output %d", out)
			}
			if u != nil {
				if u.PromptTokens < last.PromptTokens || u.CompletionTokens < last.CompletionTokens || u.CacheReadTokens > u.PromptTokens || u.CacheWriteTokens > u.PromptTokens {
					t.Fatalf("usage went from %+v to %+v", last, *u)
				}
				last = *u
			}
		}
	})
}
