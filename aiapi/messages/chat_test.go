package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
)

// jsonEqual compares two JSON texts by value.
func jsonEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want invalid JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestChatTranslatesTheConversation(t *testing.T) {
	cases := []struct {
		name      string
		body      string
		maxTokens int64
		want      string
		messages  []provider.Message
	}{{
		name:      "a string prompt",
		body:      `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
		maxTokens: 100,
		want:      `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":100}`,
		messages:  []provider.Message{{Role: "user", Text: "hi"}},
	}, {
		name:      "the admitted cap, not the caller's",
		body:      `{"model":"m","max_tokens":100000,"messages":[{"role":"user","content":"hi"}]}`,
		maxTokens: 4096,
		want:      `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":4096}`,
		messages:  []provider.Message{{Role: "user", Text: "hi"}},
	}, {
		name:      "a system string and options",
		body:      `{"model":"m","max_tokens":9,"system":"be brief","messages":[{"role":"user","content":"hi"}],"stream":true,"temperature":0.5,"top_p":0.9,"top_k":5,"stop_sequences":["END"],"metadata":{"user_id":"u"},"thinking":{"type":"enabled","budget_tokens":4}}`,
		maxTokens: 9,
		want:      `{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":9,"stream":true,"stream_options":{"include_usage":true},"temperature":0.5,"top_p":0.9,"stop":["END"]}`,
		messages:  []provider.Message{{Role: "system", Text: "be brief"}, {Role: "user", Text: "hi"}},
	}, {
		name:      "Claude Code's conversation with a tool round trip",
		body:      claudeCodeBody,
		maxTokens: 32000,
		want: `{"model":"claude-sonnet-4-5","messages":[
			{"role":"system","content":"You are Claude Code.\nBe brief."},
			{"role":"user","content":"<system-reminder>ctx</system-reminder>\nlist files"},
			{"role":"assistant","content":"Listing.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"Bash","arguments":"{\"command\":\"ls\"}"}}]},
			{"role":"tool","content":"a.go","tool_call_id":"toolu_1"},
			{"role":"user","content":"and now?"}],
			"max_tokens":32000,"stream":true,"stream_options":{"include_usage":true},"temperature":1,
			"tools":[{"type":"function","function":{"name":"Bash","description":"Run a command","parameters":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}}],
			"tool_choice":"auto"}`,
		messages: []provider.Message{
			{Role: "system", Text: "You are Claude Code.\nBe brief."},
			{Role: "user", Text: "<system-reminder>ctx</system-reminder>\nlist files"},
			{Role: "assistant", Text: "Listing.", NonText: true},
			{Role: "tool", Text: "a.go"},
			{Role: "user", Text: "and now?"},
		},
	}, {
		name: "tool results come before the user's text, whatever their order",
		body: `{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{ "x" : 1 }},{"type":"tool_use","id":"b","name":"g","input":{}}]},
			{"role":"user","content":[{"type":"text","text":"both done"},{"type":"tool_result","tool_use_id":"a","content":"one"},{"type":"tool_result","tool_use_id":"b","is_error":true}]}]}`,
		maxTokens: 1,
		want: `{"model":"m","messages":[
			{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}},{"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]},
			{"role":"tool","content":"one","tool_call_id":"a"},{"role":"tool","content":"","tool_call_id":"b"},
			{"role":"user","content":"both done"}],"max_tokens":1}`,
		messages: []provider.Message{{Role: "assistant", NonText: true}, {Role: "tool", Text: "one"}, {Role: "tool"}, {Role: "user", Text: "both done"}},
	}, {
		name:      "images become image_url parts",
		body:      `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"what is"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},{"type":"text","text":"and"},{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]}`,
		maxTokens: 1,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what is"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}},
			{"type":"text","text":"and"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}],"max_tokens":1}`,
		messages: []provider.Message{{Role: "user", Text: "what isand", NonText: true}},
	}, {
		name:      "thinking is dropped, and a turn of thinking only with it",
		body:      `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"redacted_thinking","data":"x"}]},{"role":"user","content":"again"}]}`,
		maxTokens: 1,
		want:      `{"model":"m","messages":[{"role":"user","content":"q"},{"role":"user","content":"again"}],"max_tokens":1}`,
		messages:  []provider.Message{{Role: "user", Text: "q"}, {Role: "user", Text: "again"}},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Parse([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			body, msgs, err := r.Chat(c.maxTokens)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, body.Bytes(), []byte(c.want))
			if !reflect.DeepEqual(msgs, c.messages) {
				t.Fatalf("messages %+v, want %+v", msgs, c.messages)
			}
			// What Chat builds reads one way too.
			if _, err := ijson.Parse(body.Bytes()); err != nil {
				t.Fatalf("the chat body does not pass ijson: %v", err)
			}
		})
	}
}

func TestChatMapsToolChoice(t *testing.T) {
	const tools = `"tools":[{"name":"f","input_schema":{"type":"object"}}]`
	cases := []struct {
		choice, want string
	}{
		{`{"type":"auto"}`, `"tool_choice":"auto"`},
		{`{"type":"any"}`, `"tool_choice":"required"`},
		{`{"type":"none"}`, `"tool_choice":"none"`},
		{`{"type":"tool","name":"f"}`, `"tool_choice":{"type":"function","function":{"name":"f"}}`},
		{`{"type":"any","disable_parallel_tool_use":true}`, `"tool_choice":"required","parallel_tool_calls":false`},
	}
	for _, c := range cases {
		t.Run(c.choice, func(t *testing.T) {
			r, err := Parse([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],` + tools + `,"tool_choice":` + c.choice + `}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _, err := r.Chat(1)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],` + c.want + `}`
			jsonEqual(t, body.Bytes(), []byte(want))
		})
	}
	// Without tools chat completions refuses a tool_choice: none is sent.
	r, err := Parse([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"any"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := r.Chat(1)
	if body.Has("tool_choice") {
		t.Fatalf("tool_choice sent without tools: %s", body.Bytes())
	}
}

// What chat completions cannot carry is refused as the caller's mistake,
// naming the member, never silently dropped.
func TestChatRefusesWhatCannotBeTranslated(t *testing.T) {
	cases := []struct {
		name, body, path, message string
	}{
		{"a server tool", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{}},{"type":"web_search_20250305","name":"web_search"}]}`,
			"tools[1].type", "web_search_20250305 tools run on Anthropic's servers"},
		{"a document", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}`,
			"messages[0].content[0].type", "document blocks cannot be translated"},
		{"an image in a tool result", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]}]}`,
			"messages[0].content[0].content[0].type", "image blocks in a tool_result"},
		{"a file image source", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f1"}}]}]}`,
			"messages[0].content[0].source.type", "file image sources"},
		{"nothing left but the system prompt", `{"model":"m","max_tokens":1,"system":"s","messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"}]},{"role":"user","content":[]}]}`,
			"messages", "no message has content"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Parse([]byte(c.body))
			if err != nil {
				t.Fatalf("Parse refused what a Messages provider may serve: %v", err)
			}
			_, _, err = r.Chat(1)
			var je *ijson.Error
			if !errors.As(err, &je) || je.Path != c.path || !strings.Contains(je.Message, c.message) {
				t.Fatalf("Chat returned %v, want an *ijson.Error at %q saying %q", err, c.path, c.message)
			}
		})
	}
}

// Claude Code's prompts are full of <tags>: they go upstream as written.
func TestChatDoesNotEscapeHTML(t *testing.T) {
	r, err := Parse([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"<a> & <b>"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := r.Chat(1)
	if !bytes.Contains(body.Bytes(), []byte(`"<a> & <b>"`)) {
		t.Fatalf("body %s", body.Bytes())
	}
}
