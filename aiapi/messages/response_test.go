package messages

import (
	"testing"

	"github.com/aigate/aigate/aiapi/provider"
)

func TestFromChatTranslatesTheAnswer(t *testing.T) {
	cases := []struct {
		name, chat, id, want string
	}{{
		name: "text",
		chat: `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}`,
		id:   "msg_1",
		want: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn","stop_sequence":null,
			"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}`,
	}, {
		name: "text and tool calls, an id without msg_",
		chat: `{"choices":[{"message":{"role":"assistant","content":"Let me look.","tool_calls":[
			{"id":"call_a","type":"function","function":{"name":"Read","arguments":"{\"path\": \"a.go\"}"}},
			{"id":"call_b","type":"function","function":{"name":"Bash","arguments":"{\"command\":"}},
			{"type":"function","function":{"name":"Ls","arguments":"[1]"}}]},"finish_reason":"tool_calls"}]}`,
		id: "r9",
		want: `{"id":"msg_r9","type":"message","role":"assistant","model":"claude-x","content":[
			{"type":"text","text":"Let me look."},
			{"type":"tool_use","id":"call_a","name":"Read","input":{"path":"a.go"}},
			{"type":"tool_use","id":"call_b","name":"Bash","input":{}},
			{"type":"tool_use","id":"toolu_r9_2","name":"Ls","input":{}}],
			"stop_reason":"tool_use","stop_sequence":null,
			"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
	}, {
		name: "cut at the cap, cache reads apart from input_tokens",
		chat: `{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},"finish_reason":"length"}],
			"usage":{"prompt_tokens":100,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":60}}}`,
		id: "msg_2",
		want: `{"id":"msg_2","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"ab"}],"stop_reason":"max_tokens","stop_sequence":null,
			"usage":{"input_tokens":40,"cache_creation_input_tokens":0,"cache_read_input_tokens":60,"output_tokens":7}}`,
	}, {
		name: "cache writes as Anthropic-translating gateways report them",
		chat: `{"choices":[{"message":{"content":"x"},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":100,"completion_tokens":1,"cache_creation_input_tokens":30,"prompt_tokens_details":{"cached_tokens":50}}}`,
		id: "msg_3",
		want: `{"id":"msg_3","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"x"}],"stop_reason":"end_turn","stop_sequence":null,
			"usage":{"input_tokens":20,"cache_creation_input_tokens":30,"cache_read_input_tokens":50,"output_tokens":1}}`,
	}, {
		name: "a refusal, no content",
		chat: `{"choices":[{"message":{"content":null,"refusal":"I can't."},"finish_reason":"content_filter"}]}`,
		id:   "msg_4",
		want: `{"id":"msg_4","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"I can't."}],"stop_reason":"refusal","stop_sequence":null,
			"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
	}, {
		name: "nothing said",
		chat: `{"choices":[{"message":{"content":""},"finish_reason":null}]}`,
		id:   "msg_5",
		want: `{"id":"msg_5","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":"end_turn","stop_sequence":null,
			"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FromChat([]byte(c.chat), c.id, "claude-x")
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, got, []byte(c.want))
		})
	}
}

func TestFromChatRefusesWhatIsNotAChatCompletion(t *testing.T) {
	for _, chat := range []string{``, `{`, `[]`, `{"choices":[]}`, `{"object":"chat.completion"}`} {
		if got, err := FromChat([]byte(chat), "msg_1", "m"); err == nil {
			t.Errorf("FromChat(%q) = %s, want an error", chat, got)
		}
	}
}

func TestStopReason(t *testing.T) {
	for finish, want := range map[string]string{
		"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
		"content_filter": "refusal", "": "end_turn", "something_new": "end_turn",
	} {
		if got := StopReason(finish); got != want {
			t.Errorf("StopReason(%q) = %q, want %q", finish, got, want)
		}
	}
}

// Anthropic's input_tokens leaves out cache reads and writes; never below 0
// even when an upstream reports more cached than prompt tokens.
func TestUsageExcludesCacheFromInputTokens(t *testing.T) {
	cases := []struct {
		in   provider.Usage
		want usageJSON
	}{
		{provider.Usage{PromptTokens: 100, CompletionTokens: 5}, usageJSON{100, 0, 0, 5}},
		{provider.Usage{PromptTokens: 100, CompletionTokens: 5, CacheReadTokens: 70, CacheWriteTokens: 20}, usageJSON{10, 20, 70, 5}},
		{provider.Usage{PromptTokens: 10, CacheReadTokens: 70}, usageJSON{0, 0, 70, 0}},
	}
	for _, c := range cases {
		if got := toUsage(c.in); got != c.want {
			t.Errorf("toUsage(%+v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}
