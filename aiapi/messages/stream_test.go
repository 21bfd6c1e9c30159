package messages

import (
	"strings"
	"testing"

	"github.com/aigate/aigate/aiapi/provider"
)

// chunk is a chat.completion.chunk with the given delta and finish reason.
func chunk(delta, finish string) string {
	if finish == "" {
		finish = "null"
	} else {
		finish = `"` + finish + `"`
	}
	return `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + `}]}`
}

// run feeds the chunks through a stream started with start and completed
// with end, and returns the events.
func run(t *testing.T, chunks []string, start, end provider.Usage, finish string) []Event {
	t.Helper()
	s := NewStream("msg_s", "claude-x")
	evs := s.Start(start)
	for _, c := range chunks {
		more, err := s.Chunk([]byte(c))
		if err != nil {
			t.Fatalf("Chunk(%s): %v", c, err)
		}
		evs = append(evs, more...)
	}
	return append(evs, s.Complete(end, finish)...)
}

func checkEvents(t *testing.T, got []Event, want []string) {
	t.Helper()
	if len(got) != len(want) {
		var types []string
		for _, e := range got {
			types = append(types, e.Type+" "+string(e.Data))
		}
		t.Fatalf("%d events:\n%s\nwant %d", len(got), strings.Join(types, "\n"), len(want))
	}
	for i, w := range want {
		typ, data, _ := strings.Cut(w, " ")
		if got[i].Type != typ {
			t.Fatalf("event %d is %s %s, want %s", i, got[i].Type, got[i].Data, typ)
		}
		jsonEqual(t, got[i].Data, []byte(data))
	}
}

const noUsage = `"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}`

func TestStreamTranslatesTextAndToolCalls(t *testing.T) {
	cases := []struct {
		name   string
		chunks []string
		start  provider.Usage
		end    provider.Usage
		finish string
		want   []string
	}{{
		name:   "text",
		chunks: []string{chunk(`{"role":"assistant","content":""}`, ""), chunk(`{"content":"Hel"}`, ""), chunk(`{"content":"lo"}`, ""), chunk(`{}`, "stop"), `{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2}}`},
		start:  provider.Usage{PromptTokens: 12},
		end:    provider.Usage{PromptTokens: 12, CompletionTokens: 2},
		want: []string{
			`message_start {"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}`,
			`content_block_start {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`content_block_delta {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}`,
			`content_block_delta {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}`,
			`content_block_stop {"type":"content_block_stop","index":0}`,
			`message_delta {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}`,
			`message_stop {"type":"message_stop"}`,
		},
	}, {
		name: "text then two tool calls, arguments in pieces",
		chunks: []string{
			chunk(`{"content":"Looking."}`, ""),
			chunk(`{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"Read","arguments":""}}]}`, ""),
			chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}`, ""),
			chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"\"a.go\"}"}}]}`, ""),
			chunk(`{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"Ls","arguments":"{}"}}]}`, ""),
			chunk(`{}`, "tool_calls"),
		},
		end: provider.Usage{PromptTokens: 50, CompletionTokens: 9, CacheReadTokens: 40},
		want: []string{
			`message_start {"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,` + noUsage + `}}`,
			`content_block_start {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`content_block_delta {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Looking."}}`,
			`content_block_stop {"type":"content_block_stop","index":0}`,
			`content_block_start {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_a","name":"Read","input":{}}}`,
			`content_block_delta {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"path\":"}}`,
			`content_block_delta {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"a.go\"}"}}`,
			`content_block_stop {"type":"content_block_stop","index":1}`,
			`content_block_start {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_b","name":"Ls","input":{}}}`,
			`content_block_delta {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}`,
			`content_block_stop {"type":"content_block_stop","index":2}`,
			`message_delta {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":40,"output_tokens":9}}`,
			`message_stop {"type":"message_stop"}`,
		},
	}, {
		name: "two calls a server numbers alike, then deltas with neither id nor index",
		chunks: []string{
			chunk(`{"tool_calls":[{"index":0,"id":"x1","function":{"name":"A","arguments":"{\"a\":1}"}},{"index":0,"id":"x2","function":{"name":"B","arguments":"{"}}]}`, ""),
			chunk(`{"tool_calls":[{"function":{"arguments":"}"}}]}`, ""),
			chunk(`{"tool_calls":[{"function":{"name":"C","arguments":"{}"}}]}`, ""),
		},
		finish: "tool_calls",
		want: []string{
			`message_start {"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,` + noUsage + `}}`,
			`content_block_start {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"x1","name":"A","input":{}}}`,
			`content_block_delta {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}`,
			`content_block_stop {"type":"content_block_stop","index":0}`,
			`content_block_start {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"x2","name":"B","input":{}}}`,
			`content_block_delta {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{"}}`,
			// Neither id nor index nor name continues the open call.
			`content_block_delta {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"}"}}`,
			`content_block_stop {"type":"content_block_stop","index":1}`,
			// A name without id or index begins a call, given an id.
			`content_block_start {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_s_2","name":"C","input":{}}}`,
			`content_block_delta {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}`,
			`content_block_stop {"type":"content_block_stop","index":2}`,
			`message_delta {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},` + noUsage + `}`,
			`message_stop {"type":"message_stop"}`,
		},
	}, {
		name:   "nothing said, cut at the cap",
		chunks: []string{chunk(`{"role":"assistant"}`, "length")},
		want: []string{
			`message_start {"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,` + noUsage + `}}`,
			`message_delta {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},` + noUsage + `}`,
			`message_stop {"type":"message_stop"}`,
		},
	}, {
		name:   "a finish reason given to Complete wins",
		chunks: []string{chunk(`{"content":"a"}`, "stop")},
		finish: "length",
		want: []string{
			`message_start {"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,` + noUsage + `}}`,
			`content_block_start {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`content_block_delta {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}`,
			`content_block_stop {"type":"content_block_stop","index":0}`,
			`message_delta {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},` + noUsage + `}`,
			`message_stop {"type":"message_stop"}`,
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkEvents(t, run(t, c.chunks, c.start, c.end, c.finish), c.want)
		})
	}
}

// A Messages block cannot be reopened: arguments for a call whose block
// was closed are an upstream failure, not a silently broken tool input.
func TestStreamRefusesInterleavedToolCalls(t *testing.T) {
	s := NewStream("msg_s", "m")
	s.Start(provider.Usage{})
	for _, c := range []string{
		chunk(`{"tool_calls":[{"index":0,"id":"a","function":{"name":"A","arguments":"{"}}]}`, ""),
		chunk(`{"tool_calls":[{"index":1,"id":"b","function":{"name":"B","arguments":"{"}}]}`, ""),
	} {
		if _, err := s.Chunk([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Chunk([]byte(chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}`, ""))); err == nil {
		t.Fatal("arguments for a closed block were accepted")
	}
	if _, err := s.Chunk([]byte(`not json`)); err == nil {
		t.Fatal("a chunk that is not JSON was accepted")
	}
}

// The handler may not have called Start (an upstream that fails before
// its first chunk is answered with an error status instead); Chunk and
// Complete still make a well-formed stream, and Start and Complete happen
// once.
func TestStreamStartsAndCompletesOnce(t *testing.T) {
	s := NewStream("x", "m")
	evs, err := s.Chunk([]byte(chunk(`{"content":"a"}`, "")))
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Type != "message_start" || !strings.Contains(string(evs[0].Data), `"id":"msg_x"`) {
		t.Fatalf("first event %s %s", evs[0].Type, evs[0].Data)
	}
	if again := s.Start(provider.Usage{PromptTokens: 3}); again != nil {
		t.Fatalf("a second Start sent %v", again)
	}
	if end := s.Complete(provider.Usage{}, ""); len(end) != 3 {
		t.Fatalf("Complete sent %d events, want stop, delta, message_stop", len(end))
	}
	if again := s.Complete(provider.Usage{}, ""); again != nil {
		t.Fatalf("a second Complete sent %v", again)
	}
}

func TestStreamPingAndFail(t *testing.T) {
	s := NewStream("msg_s", "m")
	if p := s.Ping(); string(p.Bytes()) != "event: ping\ndata: {\"type\":\"ping\"}\n\n" {
		t.Fatalf("ping %q", p.Bytes())
	}
	f := s.Fail("overloaded_error", "The model's upstream is unavailable.")
	want := "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"The model's upstream is unavailable.\"}}\n\n"
	if string(f.Bytes()) != want {
		t.Fatalf("fail %q, want %q", f.Bytes(), want)
	}
	if end := s.Complete(provider.Usage{}, ""); end != nil {
		t.Fatalf("a failed stream completed with %v", end)
	}
	if more, err := s.Chunk([]byte(chunk(`{"content":"late"}`, ""))); more != nil || err != nil {
		t.Fatalf("a failed stream went on with %v, %v", more, err)
	}
}
