package messages_test

import (
	"testing"

	"github.com/aigate/aigate/aiapi/messages"
	"github.com/aigate/aigate/aiapi/provider"
)

// The meter of forwarded streams: message_start's input, message_delta's
// cumulative counts (input ones included when it has them), never lowered.
func TestStreamMeterFollowsCumulativeUsage(t *testing.T) {
	var m messages.StreamMeter
	steps := []struct {
		typ, data string
		usage     *provider.Usage
		out       int64
	}{
		{"ping", `{"type":"ping"}`, nil, 0},
		{"message_start", `{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":20,"output_tokens":1}}}`,
			&provider.Usage{PromptTokens: 35, CacheWriteTokens: 5, CacheReadTokens: 20}, 0},
		{"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}`,
			&provider.Usage{PromptTokens: 35, CacheWriteTokens: 5, CacheReadTokens: 20}, 3},
		{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}`,
			&provider.Usage{PromptTokens: 35, CacheWriteTokens: 5, CacheReadTokens: 20}, 7},
		{"", `{"type":"content_block_delta","index":1,"delta":{"type":"thinking_delta","thinking":"hmm"}}`,
			&provider.Usage{PromptTokens: 35, CacheWriteTokens: 5, CacheReadTokens: 20}, 3},
		{"message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}`,
			&provider.Usage{PromptTokens: 35, CompletionTokens: 30, CacheWriteTokens: 5, CacheReadTokens: 20}, 0},
		{"message_delta", `{"type":"message_delta","delta":{},"usage":{"input_tokens":12,"cache_read_input_tokens":0,"output_tokens":31}}`,
			&provider.Usage{PromptTokens: 37, CompletionTokens: 31, CacheWriteTokens: 5, CacheReadTokens: 20}, 0},
		{"message_delta", `not json`,
			&provider.Usage{PromptTokens: 37, CompletionTokens: 31, CacheWriteTokens: 5, CacheReadTokens: 20}, 8},
	}
	for i, st := range steps {
		u, out := m.Event(st.typ, []byte(st.data))
		if (u == nil) != (st.usage == nil) || u != nil && *u != *st.usage || out != st.out {
			t.Errorf("step %d (%s): %+v, %d; want %+v, %d", i, st.typ, u, out, st.usage, st.out)
		}
	}
}

func TestRenameModelChangesOnlyTheModel(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"id":"msg_1","type":"message","model":"claude-upstream-1","content":[{"type":"text","text":"model"}]}`,
			`{"id":"msg_1","type":"message","model":"public","content":[{"type":"text","text":"model"}]}`},
		{`{"type":"message_start","message":{"id":"m","model":"claude-upstream-1", "usage":{}}}`,
			`{"type":"message_start","message":{"id":"m","model":"public", "usage":{}}}`},
		{`{"type":"content_block_delta","delta":{"type":"text_delta","text":"claude-upstream-1"},"model":"x"}`,
			`{"type":"content_block_delta","delta":{"type":"text_delta","text":"claude-upstream-1"},"model":"x"}`},
		{`{"type":"message","content":[]}`, `{"type":"message","content":[]}`},
	} {
		if got := messages.RenameModel([]byte(tc.in), "public"); string(got) != tc.want {
			t.Errorf("RenameModel(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestUsageOfAMessage(t *testing.T) {
	msg := []byte(`{"type":"message","content":[{"type":"text","text":"Hi!"},{"type":"tool_use","id":"t","name":"f","input":{"a":1}}],
	  "usage":{"input_tokens":3,"cache_creation_input_tokens":4,"cache_read_input_tokens":5,"output_tokens":6}}`)
	if u := messages.UsageOf(msg); u == nil || *u != (provider.Usage{PromptTokens: 12, CompletionTokens: 6, CacheReadTokens: 5, CacheWriteTokens: 4}) {
		t.Errorf("UsageOf = %+v", u)
	}
	if n := messages.OutputBytesOf(msg); n != int64(len("Hi!")+len("f")+len(`{"a":1}`)) {
		t.Errorf("OutputBytesOf = %d", n)
	}
	if u := messages.UsageOf([]byte(`{"type":"message","content":[]}`)); u != nil {
		t.Errorf("UsageOf without usage = %+v", u)
	}
	if u := messages.UsageOf([]byte(`{"usage":{"input_tokens":9223372036854775807,"cache_read_input_tokens":9,"output_tokens":-4}}`)); u == nil ||
		u.PromptTokens != 9223372036854775807 || u.CompletionTokens != 0 {
		t.Errorf("UsageOf of hostile counts = %+v, want saturated and not negative", u)
	}
}
