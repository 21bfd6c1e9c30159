package anthropic

import (
	"encoding/json"
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
