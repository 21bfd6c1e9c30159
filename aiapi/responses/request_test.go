package responses_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/responses"
)

func TestParseReadsTheFieldsTheAIAPIMeters(t *testing.T) {
	body := `{"model":"m","input":"hi","max_output_tokens":64,"stream":true,"previous_response_id":"resp_1","store":false,"reasoning":{"effort":"low"}}`
	r, err := responses.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "m" || r.MaxOutputTokens != 64 || !r.Stream || r.PreviousResponseID != "resp_1" || r.BodyBytes != int64(len(body)) {
		t.Errorf("read %+v", r)
	}
	if got := string(r.Body.Bytes()); got != body {
		t.Errorf("body re-encoded as %s, want the body as received", got)
	}
}

func TestParseDropsNullsItReads(t *testing.T) {
	r, err := responses.Parse([]byte(`{"model":"m","input":"x","max_output_tokens":null,"tools":null,"metadata":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(r.Body.Bytes()); got != `{"model":"m","input":"x","metadata":null}` {
		t.Errorf("body %s: nulls of read fields must go, others stay", got)
	}
	if r.MaxOutputTokens != 0 {
		t.Errorf("max_output_tokens %d, want unset", r.MaxOutputTokens)
	}
}

func TestParseRefusesWhatCouldBeReadTwoWays(t *testing.T) {
	for _, tc := range []struct {
		name, body, path string
	}{
		{"not JSON", `{"model":`, ""},
		{"duplicate model", `{"model":"a","model":"b","input":"x"}`, "model"},
		{"duplicate in an item", `{"model":"m","input":[{"role":"user","content":"a","content":"b"}]}`, "input[0].content"},
		{"case variant of model", `{"model":"m","Model":"n","input":"x"}`, "Model"},
		{"case variant of max_output_tokens", `{"model":"m","input":"x","Max_Output_Tokens":1}`, "Max_Output_Tokens"},
		{"case variant of stream", `{"model":"m","input":"x","STREAM":true}`, "STREAM"},
		{"case variant of an item's role", `{"model":"m","input":[{"role":"user","Role":"system","content":"x"}]}`, "input[0].Role"},
		{"case variant of a part's text", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a","Text":"b"}]}]}`, "input[0].content[0].Text"},
		{"case variant of call_id", `{"model":"m","input":[{"type":"function_call_output","call_id":"c","Call_ID":"d","output":"o"}]}`, "input[0].Call_ID"},
		{"case variant of a tool's name", `{"model":"m","input":"x","tools":[{"type":"function","name":"f","NAME":"g"}]}`, "tools[0].NAME"},
		{"missing model", `{"input":"x"}`, "model"},
		{"empty model", `{"model":"","input":"x"}`, "model"},
		{"model not a string", `{"model":1,"input":"x"}`, "model"},
		{"zero max_output_tokens", `{"model":"m","input":"x","max_output_tokens":0}`, "max_output_tokens"},
		{"fractional max_output_tokens", `{"model":"m","input":"x","max_output_tokens":1.5}`, "max_output_tokens"},
		{"max_output_tokens past int64", `{"model":"m","input":"x","max_output_tokens":9223372036854775808}`, "max_output_tokens"},
		{"stream not a boolean", `{"model":"m","input":"x","stream":"yes"}`, "stream"},
		{"input a number", `{"model":"m","input":3}`, "input"},
		{"item not an object", `{"model":"m","input":["hi"]}`, "input[0]"},
		{"message without a role", `{"model":"m","input":[{"content":"x"}]}`, "input[0].role"},
		{"message of an unknown role", `{"model":"m","input":[{"role":"tool","content":"x"}]}`, "input[0].role"},
		{"message without content", `{"model":"m","input":[{"role":"user"}]}`, "input[0].content"},
		{"part without text", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]}`, "input[0].content[0].text"},
		{"part without type", `{"model":"m","input":[{"role":"user","content":[{"text":"x"}]}]}`, "input[0].content[0].type"},
		{"function call without call_id", `{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id"},
		{"function call arguments not a string", `{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`, "input[0].arguments"},
		{"function output without output", `{"model":"m","input":[{"type":"function_call_output","call_id":"c"}]}`, "input[0].output"},
		{"empty item type", `{"model":"m","input":[{"type":""}]}`, "input[0].type"},
		{"function tool without a name", `{"model":"m","input":"x","tools":[{"type":"function"}]}`, "tools[0].name"},
		{"function tool parameters not an object", `{"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":[]}]}`, "tools[0].parameters"},
		{"tool without a type", `{"model":"m","input":"x","tools":[{"name":"f"}]}`, "tools[0].type"},
		{"unknown tool_choice", `{"model":"m","input":"x","tool_choice":"any"}`, "tool_choice"},
		{"function tool_choice without a name", `{"model":"m","input":"x","tool_choice":{"type":"function"}}`, "tool_choice.name"},
		{"temperature not a number", `{"model":"m","input":"x","temperature":"hot"}`, "temperature"},
		{"instructions not a string", `{"model":"m","input":"x","instructions":["a"]}`, "instructions"},
		{"json_schema format without a schema", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"s"}}}`, "text.format.schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := responses.Parse([]byte(tc.body))
			var je *ijson.Error
			if !errors.As(err, &je) {
				t.Fatalf("error = %v, want an *ijson.Error", err)
			}
			if je.Path != tc.path {
				t.Errorf("path %q (%s), want %q", je.Path, je.Message, tc.path)
			}
		})
	}
}

func TestParseKeepsWhatOnlyAPassThroughUpstreamServes(t *testing.T) {
	for _, body := range []string{
		`{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`,
		`{"model":"m","input":[{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"xyz"}]}`,
		`{"model":"m","input":"x","tools":[{"type":"web_search"},{"type":"custom","name":"apply_patch"}]}`,
		`{"model":"m","input":"x","tool_choice":{"type":"file_search"}}`,
		`{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}`,
		`{"model":"m","previous_response_id":"resp_1","input":"more"}`,
		`{"model":"m"}`,
	} {
		if _, err := responses.Parse([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// chatOf translates body and returns the chat body decoded.
func chatOf(t *testing.T, body string, maxTokens int64) (map[string]any, []provider.Message) {
	t.Helper()
	r, err := responses.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	chat, msgs, err := r.Chat(maxTokens)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ijson.Parse(chat.Bytes()); err != nil {
		t.Fatalf("chat body %s: %v", chat.Bytes(), err)
	}
	var out map[string]any
	if err := json.Unmarshal(chat.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out, msgs
}

func jsonOf(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestChatTranslation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		body      string
		maxTokens int64
		want      string // members of the chat body, as JSON
		msgs      []provider.Message
	}{
		{
			name: "string input", body: `{"model":"m","input":"hello"}`,
			want: `{"model":"m","messages":[{"role":"user","content":"hello"}]}`,
			msgs: []provider.Message{{Role: "user", Text: "hello"}},
		},
		{
			name: "instructions become the system message; developer is system",
			body: `{"model":"m","instructions":"be brief","input":[{"role":"developer","content":"no emoji"},{"role":"user","content":"hi"}]}`,
			want: `{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"system","content":"no emoji"},{"role":"user","content":"hi"}]}`,
			msgs: []provider.Message{{Role: "system", Text: "be brief"}, {Role: "system", Text: "no emoji"}, {Role: "user", Text: "hi"}},
		},
		{
			name: "multi-turn with typed messages and text parts",
			body: `{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]},` +
				`{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"c","annotations":[]}]},` +
				`{"role":"user","content":"d"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"ab"},{"role":"assistant","content":"c"},{"role":"user","content":"d"}]}`,
			msgs: []provider.Message{{Role: "user", Text: "ab"}, {Role: "assistant", Text: "c"}, {Role: "user", Text: "d"}},
		},
		{
			name: "function calls and their outputs round trip; reasoning left out",
			body: `{"model":"m","input":[{"role":"user","content":"weather?"},` +
				`{"type":"reasoning","id":"rs_1","summary":[]},` +
				`{"type":"function_call","id":"fc_1","call_id":"c1","name":"get","arguments":"{\"city\":\"Oslo\"}"},` +
				`{"type":"function_call","call_id":"c2","name":"get","arguments":"{\"city\":\"Rome\"}"},` +
				`{"type":"function_call_output","call_id":"c1","output":"cold"},` +
				`{"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"warm"}]}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"weather?"},` +
				`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get","arguments":"{\"city\":\"Oslo\"}"}},` +
				`{"id":"c2","type":"function","function":{"name":"get","arguments":"{\"city\":\"Rome\"}"}}]},` +
				`{"role":"tool","content":"cold","tool_call_id":"c1"},{"role":"tool","content":"warm","tool_call_id":"c2"}]}`,
			msgs: []provider.Message{{Role: "user", Text: "weather?"}, {Role: "assistant", NonText: true}, {Role: "tool", Text: "cold"}, {Role: "tool", Text: "warm"}},
		},
		{
			name: "an assistant's text and the calls after it are one turn",
			body: `{"model":"m","input":[{"role":"user","content":"go"},{"role":"assistant","content":"calling"},` +
				`{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"go"},` +
				`{"role":"assistant","content":"calling","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`,
			msgs: []provider.Message{{Role: "user", Text: "go"}, {Role: "assistant", Text: "calling", NonText: true}},
		},
		{
			name: "images become image_url parts",
			body: `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"what?"},{"type":"input_image","image_url":"data:image/png;base64,AA","detail":"low"}]}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA","detail":"low"}}]}]}`,
			msgs: []provider.Message{{Role: "user", Text: "what?", NonText: true}},
		},
		{
			name: "tools, tool_choice, sampling and the admitted cap",
			body: `{"model":"m","input":"x","max_output_tokens":500,"temperature":0.2,"top_p":0.9,"parallel_tool_calls":false,` +
				`"tools":[{"type":"function","name":"get","description":"gets","parameters":{"type":"object"},"strict":true},{"type":"function","name":"put"}],` +
				`"tool_choice":{"type":"function","name":"get"}}`,
			maxTokens: 100,
			want: `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":100,"temperature":0.2,"top_p":0.9,` +
				`"tools":[{"type":"function","function":{"name":"get","description":"gets","parameters":{"type":"object"},"strict":true}},{"type":"function","function":{"name":"put"}}],` +
				`"parallel_tool_calls":false,"tool_choice":{"type":"function","function":{"name":"get"}}}`,
			msgs: []provider.Message{{Role: "user", Text: "x"}},
		},
		{
			name: "the caller's cap when none is admitted", body: `{"model":"m","input":"x","max_output_tokens":7,"tool_choice":"required"}`,
			want: `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":7,"tool_choice":"required"}`,
			msgs: []provider.Message{{Role: "user", Text: "x"}},
		},
		{
			name: "structured output", body: `{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object"},"strict":true}}}`,
			want: `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"},"strict":true}}}`,
			msgs: []provider.Message{{Role: "user", Text: "x"}},
		},
		{
			name: "streams ask for usage", body: `{"model":"m","input":"x","stream":true,"stream_options":{"include_obfuscation":false}}`,
			want: `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}`,
			msgs: []provider.Message{{Role: "user", Text: "x"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, msgs := chatOf(t, tc.body, tc.maxTokens)
			if want := jsonOf(t, tc.want); !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				t.Errorf("chat body\n %s\nwant\n %s", g, tc.want)
			}
			if !reflect.DeepEqual(msgs, tc.msgs) {
				t.Errorf("messages %+v, want %+v", msgs, tc.msgs)
			}
		})
	}
}

func TestChatRefusesWhatChatCannotCarry(t *testing.T) {
	for _, tc := range []struct {
		name, body, path, says string
	}{
		{"previous_response_id", `{"model":"m","previous_response_id":"resp_1","input":"x"}`, "previous_response_id", "needs an upstream that keeps responses"},
		{"a built-in tool", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"},{"type":"web_search"}]}`, "tools[1].type", "web_search"},
		{"a built-in tool_choice", `{"model":"m","input":"x","tool_choice":{"type":"file_search"}}`, "tool_choice", "file_search"},
		{"an item reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0].type", "item_reference"},
		{"a file part", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}`, "input[0].content[0].type", "input_file"},
		{"an image by file id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"f"}]}]}`, "input[0].content[0].image_url", "image_url"},
		{"an image in a function output", `{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"u"}]}]}`, "input[0].output", "text"},
		{"no input", `{"model":"m","instructions":"x"}`, "input", "required"},
		{"only reasoning", `{"model":"m","input":[{"type":"reasoning","summary":[]}]}`, "input", "at least one message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := responses.Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = r.Chat(10)
			var je *ijson.Error
			if !errors.As(err, &je) || je.Path != tc.path || !strings.Contains(je.Message, tc.says) {
				t.Errorf("error %#v, want path %q saying %q", err, tc.path, tc.says)
			}
		})
	}
}

func TestChatLeavesTheRequestAsParsed(t *testing.T) {
	body := `{"model":"m","input":"x","max_output_tokens":9,"stream":true}`
	r, err := responses.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Chat(5); err != nil {
		t.Fatal(err)
	}
	if string(r.Body.Bytes()) != body {
		t.Errorf("Chat changed the body to %s", r.Body.Bytes())
	}
}

func TestCapOutputBoundsWhatGoesUpstream(t *testing.T) {
	for _, tc := range []struct {
		name                string
		body                string
		dflt, ceiling, want int64
		wantBody            string
	}{
		{"default when unset", `{"model":"m","input":"x"}`, 1000, 0, 1000, `{"model":"m","input":"x","max_output_tokens":1000}`},
		{"default bounded by the ceiling", `{"model":"m","input":"x"}`, 1000, 300, 300, `{"model":"m","input":"x","max_output_tokens":300}`},
		{"caller's cap kept", `{"model":"m","max_output_tokens":50,"input":"x"}`, 1000, 300, 50, `{"model":"m","max_output_tokens":50,"input":"x"}`},
		{"caller's cap lowered", `{"model":"m","max_output_tokens":5000,"input":"x"}`, 1000, 300, 300, `{"model":"m","max_output_tokens":300,"input":"x"}`},
		{"null cap replaced", `{"model":"m","max_output_tokens":null,"input":"x"}`, 7, 0, 7, `{"model":"m","input":"x","max_output_tokens":7}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := responses.Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := r.CapOutput(tc.dflt, tc.ceiling); got != tc.want {
				t.Errorf("cap %d, want %d", got, tc.want)
			}
			if got := string(r.Body.Bytes()); got != tc.wantBody {
				t.Errorf("body %s, want %s", got, tc.wantBody)
			}
		})
	}
}
