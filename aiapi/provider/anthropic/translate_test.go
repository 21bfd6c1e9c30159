package anthropic_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/anthropic"
	"github.com/aigate/aigate/aiapi/provider/anthropic/anthropictest"
)

// chatRequest is a chat completion as the AI API admits it, for the
// upstream model "claude-upstream-1" that callers name "public".
func chatRequest(body string, stream bool) *provider.ChatRequest {
	return &provider.ChatRequest{RequestID: "r", Model: "claude-upstream-1", ResponseModel: "public",
		Body: ijson.MustParse(body), MaxTokens: 99, N: 1, Stream: stream}
}

func client(s *anthropictest.Server) *anthropic.Client {
	c := s.Client()
	c.Now = func() time.Time { return time.Unix(1700000000, 0) }
	return c
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestChatIsTranslatedIntoAMessagesRequest(t *testing.T) {
	temp, topP := 0.5, 0.9
	for _, tc := range []struct {
		name   string
		body   string
		adjust func(r *provider.ChatRequest)
		want   string
	}{
		{"text",
			`{"model":"public","messages":[{"role":"user","content":"Hi"}]}`, nil,
			`{"model":"claude-upstream-1","max_tokens":99,"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}`},
		{"system and developer messages become the system prompt, wherever they are",
			`{"model":"public","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"developer","content":[{"type":"text","text":"Use French."}]}]}`, nil,
			`{"model":"claude-upstream-1","max_tokens":99,"system":[{"type":"text","text":"Be brief."},{"type":"text","text":"Use French."}],
			  "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}`},
		{"turns of one role are merged; empty texts left out",
			`{"model":"public","messages":[{"role":"user","content":"Hi"},{"role":"user","content":[{"type":"text","text":"there"},{"type":"text","text":""}]},
			  {"role":"assistant","content":"Hello"},{"role":"assistant","content":""},{"role":"user","content":"Bye"}]}`, nil,
			`{"model":"claude-upstream-1","max_tokens":99,"messages":[
			  {"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":"there"}]},
			  {"role":"assistant","content":[{"type":"text","text":"Hello"}]},
			  {"role":"user","content":[{"type":"text","text":"Bye"}]}]}`},
		{"tool calls and their results round trip",
			`{"model":"public","messages":[{"role":"user","content":"Weather in Paris and Rome?"},
			  {"role":"assistant","content":null,"tool_calls":[
			    {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}},
			    {"id":"call_2","type":"function","function":{"name":"now","arguments":""}}]},
			  {"role":"tool","tool_call_id":"call_1","content":"18C"},
			  {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},
			  {"role":"user","content":"Thanks"}]}`, nil,
			`{"model":"claude-upstream-1","max_tokens":99,"messages":[
			  {"role":"user","content":[{"type":"text","text":"Weather in Paris and Rome?"}]},
			  {"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},
			                                 {"type":"tool_use","id":"call_2","name":"now","input":{}}]},
			  {"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"18C"},
			                            {"type":"tool_result","tool_use_id":"call_2","content":"noon"},
			                            {"type":"text","text":"Thanks"}]}]}`},
		{"tool results come first in their turn",
			`{"model":"public","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},
			  {"role":"user","content":"Note:"},{"role":"tool","tool_call_id":"c","content":"done"}]}`, nil,
			`{"model":"claude-upstream-1","max_tokens":99,"messages":[
			  {"role":"assistant","content":[{"type":"tool_use","id":"c","name":"f","input":{}}]},
			  {"role":"user","content":[{"type":"tool_result","tool_use_id":"c","content":"done"},{"type":"text","text":"Note:"}]}]}`},
		{"tools, a named tool choice, no parallel calls",
			`{"model":"public","messages":[{"role":"user","content":"Hi"}],
			  "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}},
			           {"type":"function","function":{"name":"now"}}],
			  "tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false}`, nil,
			`{"model":"claude-upstream-1","max_tokens":99,"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],
			  "tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
			           {"name":"now","input_schema":{"type":"object","properties":{}}}],
			  "tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true}}`},
		{"tool choice required is any",
			`{"model":"public","messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"now"}}],"tool_choice":"required"}`, nil,
			`{"model":"claude-upstream-1","max_tokens":99,"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],
			  "tools":[{"name":"now","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"any"}}`},
		{"stop, temperature, top_p and the admitted cap",
			`{"model":"public","messages":[{"role":"user","content":"Hi"}],"stop":["END"],"temperature":0.5,"top_p":0.9,"max_tokens":100000}`,
			func(r *provider.ChatRequest) { r.Stop, r.Temperature, r.TopP = []string{"END"}, &temp, &topP },
			`{"model":"claude-upstream-1","max_tokens":99,"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],
			  "stop_sequences":["END"],"temperature":0.5,"top_p":0.9}`},
		{"images, inline and by URL",
			`{"model":"public","messages":[{"role":"user","content":[{"type":"text","text":"What is it?"},
			  {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
			  {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"low"}}]}]}`, nil,
			`{"model":"claude-upstream-1","max_tokens":99,"messages":[{"role":"user","content":[{"type":"text","text":"What is it?"},
			  {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
			  {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}]}`},
		{"streamed",
			`{"model":"public","messages":[{"role":"user","content":"Hi"}],"stream":true}`,
			func(r *provider.ChatRequest) { r.Stream = true },
			`{"model":"claude-upstream-1","max_tokens":99,"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"stream":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := anthropictest.NewServer(t)
			r := chatRequest(tc.body, false)
			if tc.adjust != nil {
				tc.adjust(r)
			}
			var err error
			if r.Stream {
				var st provider.Stream
				if st, err = client(s).ChatStream(t.Context(), r); err == nil {
					st.Close()
				}
			} else {
				_, err = client(s).Chat(t.Context(), r)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := s.Requests()
			if len(got) != 1 {
				t.Fatalf("%d requests", len(got))
			}
			req := got[0]
			if req.Path != "/v1/messages" || req.Header.Get("X-Api-Key") != anthropictest.Key ||
				req.Header.Get("Anthropic-Version") != "2023-06-01" || req.Header.Get("Authorization") != "" || req.Header.Get("Anthropic-Beta") != "" {
				t.Errorf("sent to %s with headers %v", req.Path, req.Header)
			}
			if !sameJSON(t, req.Body, []byte(tc.want)) {
				t.Errorf("sent\n%s\nwant\n%s", req.Body, tc.want)
			}
		})
	}
}

func TestUntranslatableRequestsAreRefusedNamingTheField(t *testing.T) {
	for _, tc := range []struct {
		name, body, path string
		n                int64
	}{
		{"several choices", `{"messages":[{"role":"user","content":"Hi"}]}`, "n", 2},
		{"a built-in tool", `{"messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"web_search"}]}`, "tools[0].type", 1},
		{"a legacy function message", `{"messages":[{"role":"function","name":"f","content":"x"}]}`, "messages[0].role", 1},
		{"an image in a system message", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "messages[0].content[0].type", 1},
		{"audio", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}`, "messages[0].content[0].type", 1},
		{"arguments that are not an object", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[0].tool_calls[0].function.arguments", 1},
		{"arguments with a duplicate name", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1,\"a\":2}"}}]}]}`, "messages[0].tool_calls[0].function.arguments", 1},
		{"a tool result without its call", `{"messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id", 1},
		{"a case variant of a field read", `{"messages":[{"role":"user","content":"Hi"}],"Tools":[]}`, "Tools", 1},
		{"a case variant in a message", `{"messages":[{"role":"tool","Tool_call_id":"c","tool_call_id":"c"}]}`, "messages[0].Tool_call_id", 1},
		{"structured output", `{"messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_schema"}}`, "response_format", 1},
		{"an unknown tool choice", `{"messages":[{"role":"user","content":"Hi"}],"tool_choice":"sometimes"}`, "tool_choice", 1},
		{"a data URL that is not an image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:text/plain;base64,aGk="}}]}]}`, "messages[0].content[0].image_url.url", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := anthropictest.NewServer(t)
			r := chatRequest(tc.body, false)
			r.N = tc.n
			_, err := client(s).Chat(t.Context(), r)
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Kind != provider.BadRequest {
				t.Fatalf("err = %v, want a BadRequest", err)
			}
			var je *ijson.Error
			if !errors.As(err, &je) || je.Path != tc.path {
				t.Errorf("err = %v (path %v), want path %q", err, je, tc.path)
			}
			if n := len(s.Requests()); n != 0 {
				t.Errorf("%d requests went upstream", n)
			}
		})
	}
}

func TestAnswerIsTranslatedIntoAChatCompletion(t *testing.T) {
	s := anthropictest.NewServer(t)
	s.Answer = "Let me check."
	s.ToolUse = &anthropictest.ToolUse{ID: "toolu_1", Name: "get_weather", Input: `{"city": "Paris"}`}
	// Worked numbers: 12 new input tokens, 100 written to the cache, 2000
	// read from it, 7 output tokens.
	s.InputTokens, s.CacheCreationTokens, s.CacheReadTokens, s.OutputTokens = 12, 100, 2000, 7
	resp, err := client(s).Chat(t.Context(), chatRequest(`{"model":"public","messages":[{"role":"user","content":"Weather?"}]}`, false))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"chatcmpl-r","object":"chat.completion","created":1700000000,"model":"public",
	  "choices":[{"index":0,"message":{"role":"assistant","content":"Let me check.",
	    "tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
	    "finish_reason":"tool_calls","logprobs":null}],
	  "usage":{"prompt_tokens":2112,"completion_tokens":7,"total_tokens":2119,"prompt_tokens_details":{"cached_tokens":2000}}}`
	if !sameJSON(t, resp.Body, []byte(want)) {
		t.Errorf("body\n%s\nwant\n%s", resp.Body, want)
	}
	if u := (provider.Usage{PromptTokens: 2112, CompletionTokens: 7, CacheReadTokens: 2000, CacheWriteTokens: 100}); resp.Usage == nil || *resp.Usage != u {
		t.Errorf("usage = %+v, want %+v", resp.Usage, u)
	}
	if want := int64(len("Let me check.") + len("get_weather") + len(`{"city":"Paris"}`)); resp.OutputBytes != want {
		t.Errorf("OutputBytes = %d, want %d", resp.OutputBytes, want)
	}
}

func TestStopReasonsBecomeFinishReasons(t *testing.T) {
	for stop, want := range map[string]string{
		"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls", "refusal": "content_filter",
	} {
		s := anthropictest.NewServer(t)
		s.StopReason = stop
		resp, err := client(s).Chat(t.Context(), chatRequest(`{"messages":[{"role":"user","content":"Hi"}]}`, false))
		if err != nil {
			t.Fatal(err)
		}
		if got := gjson.GetBytes(resp.Body, "choices.0.finish_reason").Str; got != want {
			t.Errorf("%s: finish_reason = %q, want %q", stop, got, want)
		}
	}
}

// An answer of tool calls only has a null content, as OpenAI sends it.
func TestToolCallOnlyAnswerHasNullContent(t *testing.T) {
	s := anthropictest.NewServer(t)
	s.Answer = ""
	s.ToolUse = &anthropictest.ToolUse{ID: "toolu_1", Name: "now"}
	resp, err := client(s).Chat(t.Context(), chatRequest(`{"messages":[{"role":"user","content":"Time?"}]}`, false))
	if err != nil {
		t.Fatal(err)
	}
	msg := gjson.GetBytes(resp.Body, "choices.0.message")
	if c := msg.Get("content"); !c.Exists() || c.Type != gjson.Null || msg.Get("tool_calls.0.function.arguments").Str != "{}" {
		t.Errorf("message = %s, want null content and arguments {}", msg.Raw)
	}
}
