package responses_test

import (
	"reflect"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/responses"
)

func TestUsageReadsAResponse(t *testing.T) {
	for _, tc := range []struct {
		name, response string
		want           *provider.Usage
	}{
		{"with details", `{"usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":60},"output_tokens":20,"output_tokens_details":{"reasoning_tokens":5},"total_tokens":120}}`,
			&provider.Usage{PromptTokens: 100, CompletionTokens: 20, CacheReadTokens: 60}},
		{"without details", `{"usage":{"input_tokens":3,"output_tokens":2}}`, &provider.Usage{PromptTokens: 3, CompletionTokens: 2}},
		{"negative counts", `{"usage":{"input_tokens":-3,"output_tokens":-2}}`, &provider.Usage{}},
		{"null usage", `{"usage":null}`, nil},
		{"no usage", `{"id":"resp_1"}`, nil},
		{"not JSON", `{`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := responses.Usage([]byte(tc.response)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("usage %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestEventUsageCountsEveryKindOfOutput(t *testing.T) {
	for _, tc := range []struct {
		name, data, typ string
		usage           *provider.Usage
		out             int64
	}{
		{"text", `{"type":"response.output_text.delta","delta":"héllo"}`, "response.output_text.delta", nil, int64(len(`"héllo"`))},
		{"arguments", `{"type":"response.function_call_arguments.delta","delta":"{\"a\":1}"}`, "response.function_call_arguments.delta", nil, int64(len(`"{\"a\":1}"`))},
		{"reasoning", `{"type":"response.reasoning_text.delta","delta":"hmm"}`, "response.reasoning_text.delta", nil, 5},
		{"reasoning summary", `{"type":"response.reasoning_summary_text.delta","delta":"so"}`, "response.reasoning_summary_text.delta", nil, 4},
		{"refusal", `{"type":"response.refusal.delta","delta":"no"}`, "response.refusal.delta", nil, 4},
		{"custom tool input", `{"type":"response.custom_tool_call_input.delta","delta":"*** Begin Patch"}`, "response.custom_tool_call_input.delta", nil, 17},
		{"a built-in tool call done", `{"type":"response.output_item.done","item":{"type":"web_search_call","id":"ws"}}`, "response.output_item.done", nil, int64(len(`{"type":"web_search_call","id":"ws"}`))},
		{"a message done (counted as deltas)", `{"type":"response.output_item.done","item":{"type":"message","content":[]}}`, "response.output_item.done", nil, 0},
		{"text done (counted as deltas)", `{"type":"response.output_text.done","text":"hello"}`, "response.output_text.done", nil, 0},
		{"completed", `{"type":"response.completed","response":{"usage":{"input_tokens":5,"output_tokens":7}}}`, "response.completed", &provider.Usage{PromptTokens: 5, CompletionTokens: 7}, 0},
		{"incomplete", `{"type":"response.incomplete","response":{"usage":{"input_tokens":5,"output_tokens":9}}}`, "response.incomplete", &provider.Usage{PromptTokens: 5, CompletionTokens: 9}, 0},
		{"failed", `{"type":"response.failed","response":{"usage":{"input_tokens":5,"output_tokens":0}}}`, "response.failed", &provider.Usage{PromptTokens: 5}, 0},
		{"created", `{"type":"response.created","response":{"usage":null}}`, "response.created", nil, 0},
		{"not JSON", `nope`, "", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, usage, out := responses.EventUsage([]byte(tc.data))
			if typ != tc.typ || !reflect.DeepEqual(usage, tc.usage) || out != tc.out {
				t.Errorf("EventUsage = %q, %+v, %d; want %q, %+v, %d", typ, usage, out, tc.typ, tc.usage, tc.out)
			}
		})
	}
}

func TestRenameModel(t *testing.T) {
	for _, tc := range []struct {
		name, data, path string
	}{
		{"an answer", `{"id":"resp_1","object":"response","model":"gpt-x-2026"}`, "model"},
		{"an event", `{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","model":"gpt-x-2026"}}`, "response.model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := responses.RenameModel([]byte(tc.data), "public")
			if m := gjson.GetBytes(out, tc.path); m.Str != "public" {
				t.Errorf("%s = %s in %s", tc.path, m.Raw, out)
			}
			if gjson.GetBytes(out, "id").Str != gjson.Get(tc.data, "id").Str {
				t.Errorf("renaming changed more: %s", out)
			}
		})
	}
	for _, data := range []string{`{"type":"response.output_text.delta","delta":"model"}`, `not json`, `{"model":"public"}`} {
		if out := responses.RenameModel([]byte(data), "public"); string(out) != data {
			t.Errorf("%s became %s", data, out)
		}
	}
}
