package responses_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/responses"
)

func TestFromChat(t *testing.T) {
	for _, tc := range []struct {
		name, chat string
		// want holds members of the response, as JSON.
		want string
	}{
		{
			name: "text",
			chat: `{"id":"chatcmpl-1","object":"chat.completion","created":5,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],` +
				`"usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":1}}}`,
			want: `{"id":"resp_abc","object":"response","created_at":1700000000,"status":"completed","error":null,"incomplete_details":null,"model":"public",` +
				`"output":[{"type":"message","id":"msg_abc","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]}],` +
				`"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":3,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":13}}`,
		},
		{
			name: "tool calls, no text",
			chat: `{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"a\":1}"}},` +
				`{"id":"","type":"function","function":{"name":"put","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
			want: `{"status":"completed","output":[{"type":"function_call","id":"fc_abc_0","call_id":"call_1","name":"get","arguments":"{\"a\":1}","status":"completed"},` +
				`{"type":"function_call","id":"fc_abc_1","call_id":"call_abc_1","name":"put","arguments":"{}","status":"completed"}],` +
				`"usage":{"input_tokens":1,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":3}}`,
		},
		{
			name: "cut by the output cap",
			chat: `{"choices":[{"message":{"content":"Hel"},"finish_reason":"length"}]}`,
			want: `{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},` +
				`"output":[{"type":"message","id":"msg_abc","status":"incomplete","role":"assistant","content":[{"type":"output_text","text":"Hel","annotations":[]}]}],"usage":null}`,
		},
		{
			name: "a refusal",
			chat: `{"choices":[{"message":{"content":null,"refusal":"no"},"finish_reason":"stop"}]}`,
			want: `{"output":[{"type":"message","id":"msg_abc","status":"completed","role":"assistant","content":[{"type":"refusal","refusal":"no"}]}]}`,
		},
		{
			name: "empty answer",
			chat: `{"choices":[{"message":{"content":""},"finish_reason":"stop"}]}`,
			want: `{"status":"completed","output":[]}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := responses.FromChat([]byte(tc.chat), "resp_abc", "public", 1700000000)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			for name, want := range jsonOf(t, tc.want).(map[string]any) {
				if !reflect.DeepEqual(got[name], want) {
					g, _ := json.Marshal(got[name])
					w, _ := json.Marshal(want)
					t.Errorf("%s = %s, want %s", name, g, w)
				}
			}
		})
	}
}

func TestFromChatNamesTheResponseWithItsPrefix(t *testing.T) {
	out, err := responses.FromChat([]byte(`{"choices":[{"message":{"content":"x"}}]}`), "req42", "m", 1)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		ID     string
		Output []struct{ ID string }
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.ID != "resp_req42" || len(r.Output) != 1 || r.Output[0].ID != "msg_req42" {
		t.Errorf("ids %+v", r)
	}
}

func TestFromChatRefusesWhatIsNotAChatAnswer(t *testing.T) {
	for _, chat := range []string{``, `{`, `{"choices":[]}`, `{"choices":[{"message":{"content":3}}]}`, `[]`} {
		if out, err := responses.FromChat([]byte(chat), "r", "m", 1); err == nil {
			t.Errorf("%q gave %s", chat, out)
		}
	}
}

// streamOf runs a whole translated stream.
func streamOf(t *testing.T, chunks []string, u provider.Usage, finish string) []responses.Event {
	t.Helper()
	s := responses.NewStream("resp_s", "public", 1700000000)
	events := s.Start()
	for _, c := range chunks {
		ev, err := s.Chunk([]byte(c))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev...)
	}
	return append(events, s.Complete(u, finish)...)
}

var textChunks = []string{
	`{"id":"c","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
	`{"id":"c","object":"chat.completion.chunk","model":"up","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}`,
}

var toolChunks = []string{
	`{"choices":[{"index":0,"delta":{"content":"Let me look."}}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"get","arguments":""}}]}}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_10","type":"function","function":{"name":"put","arguments":"{}"}}]}}]}`,
	`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
}

func types(events []responses.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

func TestStreamEventsComeInTheSDKsOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
		finish string
		want   []string
	}{
		{"text", textChunks, "", []string{
			"response.created", "response.in_progress",
			"response.output_item.added", "response.content_part.added",
			"response.output_text.delta", "response.output_text.delta",
			"response.output_text.done", "response.content_part.done", "response.output_item.done",
			"response.completed"}},
		{"text then tool calls", toolChunks, "", []string{
			"response.created", "response.in_progress",
			"response.output_item.added", "response.content_part.added", "response.output_text.delta",
			"response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
			"response.output_item.added", "response.function_call_arguments.delta",
			"response.output_text.done", "response.content_part.done", "response.output_item.done",
			"response.function_call_arguments.done", "response.output_item.done",
			"response.function_call_arguments.done", "response.output_item.done",
			"response.completed"}},
		{"cut by the cap", textChunks[:3], "length", []string{
			"response.created", "response.in_progress",
			"response.output_item.added", "response.content_part.added",
			"response.output_text.delta", "response.output_text.delta",
			"response.output_text.done", "response.content_part.done", "response.output_item.done",
			"response.incomplete"}},
		{"nothing said", nil, "stop", []string{"response.created", "response.in_progress", "response.completed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := streamOf(t, tc.chunks, provider.Usage{PromptTokens: 5, CompletionTokens: 2}, tc.finish)
			if got := types(events); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("events\n %q\nwant\n %q", got, tc.want)
			}
			for i, e := range events {
				var d struct {
					Type           string `json:"type"`
					SequenceNumber *int64 `json:"sequence_number"`
				}
				if err := json.Unmarshal(e.Data, &d); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if d.Type != e.Type || d.SequenceNumber == nil || *d.SequenceNumber != int64(i) {
					t.Errorf("event %d is %s: type %q, sequence number %v", i, e.Data, d.Type, d.SequenceNumber)
				}
			}
		})
	}
}

func TestStreamDeltasNameTheirItems(t *testing.T) {
	events := streamOf(t, toolChunks, provider.Usage{}, "")
	want := []string{
		`{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"type":"message","id":"msg_s","status":"in_progress","role":"assistant","content":[]}}`,
		`{"type":"response.content_part.added","sequence_number":3,"item_id":"msg_s","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}`,
		`{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_s","output_index":0,"content_index":0,"delta":"Let me look.","logprobs":[]}`,
		`{"type":"response.output_item.added","sequence_number":5,"output_index":1,"item":{"type":"function_call","id":"fc_s_0","call_id":"call_9","name":"get","arguments":"","status":"in_progress"}}`,
		`{"type":"response.function_call_arguments.delta","sequence_number":6,"item_id":"fc_s_0","output_index":1,"delta":"{\"a\":"}`,
		`{"type":"response.function_call_arguments.delta","sequence_number":7,"item_id":"fc_s_0","output_index":1,"delta":"1}"}`,
		`{"type":"response.output_item.added","sequence_number":8,"output_index":2,"item":{"type":"function_call","id":"fc_s_1","call_id":"call_10","name":"put","arguments":"","status":"in_progress"}}`,
		`{"type":"response.function_call_arguments.delta","sequence_number":9,"item_id":"fc_s_1","output_index":2,"delta":"{}"}`,
		`{"type":"response.output_text.done","sequence_number":10,"item_id":"msg_s","output_index":0,"content_index":0,"text":"Let me look.","logprobs":[]}`,
	}
	for i, w := range want {
		if got := string(events[i+2].Data); got != w {
			t.Errorf("event %d\n %s\nwant\n %s", i+2, got, w)
		}
	}
	if got := string(events[13].Data); got != `{"type":"response.function_call_arguments.done","sequence_number":13,"item_id":"fc_s_0","output_index":1,"name":"get","arguments":"{\"a\":1}"}` {
		t.Errorf("arguments done: %s", got)
	}
}

func TestStreamEndsWithTheWholeResponseAndUsage(t *testing.T) {
	events := streamOf(t, toolChunks, provider.Usage{PromptTokens: 7, CompletionTokens: 3, CacheReadTokens: 2}, "")
	last := events[len(events)-1]
	var d struct {
		Response map[string]any
	}
	if err := json.Unmarshal(last.Data, &d); err != nil {
		t.Fatal(err)
	}
	want := jsonOf(t, `{"status":"completed","model":"public","id":"resp_s",`+
		`"output":[{"type":"message","id":"msg_s","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Let me look.","annotations":[]}]},`+
		`{"type":"function_call","id":"fc_s_0","call_id":"call_9","name":"get","arguments":"{\"a\":1}","status":"completed"},`+
		`{"type":"function_call","id":"fc_s_1","call_id":"call_10","name":"put","arguments":"{}","status":"completed"}],`+
		`"usage":{"input_tokens":7,"input_tokens_details":{"cached_tokens":2},"output_tokens":3,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":10}}`).(map[string]any)
	for name, w := range want {
		if !reflect.DeepEqual(d.Response[name], w) {
			g, _ := json.Marshal(d.Response[name])
			t.Errorf("response.%s = %s", name, g)
		}
	}
}

func TestStreamFailureCarriesUsageAndError(t *testing.T) {
	s := responses.NewStream("resp_f", "public", 1)
	events := s.Start()
	ev, err := s.Chunk([]byte(textChunks[1]))
	if err != nil {
		t.Fatal(err)
	}
	events = append(events, ev...)
	events = append(events, s.Fail("the upstream's stream broke off", provider.Usage{PromptTokens: 4, CompletionTokens: 1})...)
	last := events[len(events)-1]
	var d struct {
		SequenceNumber int64 `json:"sequence_number"`
		Response       struct {
			Status string
			Error  struct{ Code, Message string }
			Output []struct{ Status string }
			Usage  struct {
				InputTokens  int64 `json:"input_tokens"`
				OutputTokens int64 `json:"output_tokens"`
			}
		}
	}
	if err := json.Unmarshal(last.Data, &d); err != nil {
		t.Fatal(err)
	}
	if last.Type != "response.failed" || d.SequenceNumber != int64(len(events)-1) || d.Response.Status != "failed" ||
		d.Response.Error.Code != "server_error" || d.Response.Error.Message != "the upstream's stream broke off" ||
		d.Response.Usage.InputTokens != 4 || d.Response.Usage.OutputTokens != 1 ||
		len(d.Response.Output) != 1 || d.Response.Output[0].Status != "incomplete" {
		t.Errorf("failed event %s", last.Data)
	}
	if more := append(s.Complete(provider.Usage{}, ""), s.Fail("again", provider.Usage{})...); len(more) != 0 {
		t.Errorf("events after the end: %q", types(more))
	}
}

func TestStreamRefusesMalformedChunks(t *testing.T) {
	s := responses.NewStream("r", "m", 1)
	for _, c := range []string{`{`, `{"choices":{}}`, `{"choices":[{"delta":{"content":1}}]}`} {
		if _, err := s.Chunk([]byte(c)); err == nil {
			t.Errorf("%s accepted", c)
		}
	}
}

func TestStreamTellsWholeCallsApartByTheirIDs(t *testing.T) {
	events := streamOf(t, []string{
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"f","arguments":"{\"x\":1}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_b","function":{"name":"g","arguments":"{}"}}]}}]}`,
	}, provider.Usage{}, "tool_calls")
	var d struct {
		Response struct {
			Output []struct{ ID, Name, Arguments string } `json:"output"`
		}
	}
	if err := json.Unmarshal(events[len(events)-1].Data, &d); err != nil {
		t.Fatal(err)
	}
	out := d.Response.Output
	if len(out) != 2 || out[0].Name != "f" || out[0].Arguments != `{"x":1}` || out[1].Name != "g" || out[1].Arguments != "{}" || out[0].ID == out[1].ID {
		t.Errorf("calls %+v", out)
	}
}
