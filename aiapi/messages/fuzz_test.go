package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
)

// A body is client input: Parse must never panic, what it accepts must
// read the same way again from what goes upstream, and its translation is
// either a refusal naming a member or a body that reads one way too.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(claudeCodeBody))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			var je *ijson.Error
			if !errors.As(err, &je) {
				t.Fatalf("refused with %T %v, want an *ijson.Error", err, err)
			}
			return
		}
		if r.Model == "" || r.MaxTokens < 1 || len(r.messages) == 0 || r.BodyBytes != int64(len(data)) {
			t.Fatalf("accepted an invalid request: %+v", r)
		}
		again, err := Parse(r.Body.Bytes())
		if err != nil {
			t.Fatalf("what goes upstream is refused: %v\n%s", err, r.Body.Bytes())
		}
		if again.Model != r.Model || again.MaxTokens != r.MaxTokens || again.Stream != r.Stream || len(again.messages) != len(r.messages) {
			t.Fatalf("what goes upstream reads another way: %+v, %+v", again, r)
		}
		if CountTokens(r) < 1 {
			t.Fatal("CountTokens is 0 for a prompt")
		}
		body, msgs, err := r.Chat(r.MaxTokens)
		if err != nil {
			var je *ijson.Error
			if !errors.As(err, &je) || je.Path == "" {
				t.Fatalf("Chat refused with %v, want an *ijson.Error naming a member", err)
			}
			return
		}
		if _, err := ijson.Parse(body.Bytes()); err != nil {
			t.Fatalf("the chat body does not read one way: %v\n%s", err, body.Bytes())
		}
		var chat struct {
			Messages  []json.RawMessage `json:"messages"`
			MaxTokens int64             `json:"max_tokens"`
		}
		if err := json.Unmarshal(body.Bytes(), &chat); err != nil || chat.MaxTokens != r.MaxTokens || len(chat.Messages) != len(msgs) {
			t.Fatalf("chat body %s for %d messages: %v", body.Bytes(), len(msgs), err)
		}
	})
}

// Chunks come from an upstream: whatever they hold, the events made of
// them form a well-formed Messages stream (message_start first, blocks
// started in index order and each stopped once, message_stop last), or
// one cut by an error event where Chunk said the upstream failed.
func FuzzStream(f *testing.F) {
	f.Add([]byte(`{"choices":[{"index":0,"delta":{"content":"a"}}]}`+"\n"+
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]}}]}`), "stop")
	f.Fuzz(func(t *testing.T, data []byte, finish string) {
		s := NewStream("msg_f", "m")
		evs := s.Start(provider.Usage{})
		for _, line := range bytes.Split(data, []byte("\n")) {
			more, err := s.Chunk(line)
			evs = append(evs, more...)
			if err != nil {
				evs = append(evs, s.Fail("api_error", "the upstream failed"))
				break
			}
		}
		evs = append(evs, s.Complete(provider.Usage{}, finish)...)
		checkWellFormed(t, evs)
	})
}

// checkWellFormed checks the order of a stream's events.
func checkWellFormed(t *testing.T, evs []Event) {
	t.Helper()
	if len(evs) == 0 || evs[0].Type != "message_start" {
		t.Fatal("the stream does not begin with message_start")
	}
	next, open := int64(0), false
	for i, ev := range evs[1:] {
		var e struct {
			Type  string `json:"type"`
			Index int64  `json:"index"`
		}
		if err := json.Unmarshal(ev.Data, &e); err != nil || e.Type != ev.Type {
			t.Fatalf("event %d: %s %s", i+1, ev.Type, ev.Data)
		}
		switch ev.Type {
		case "content_block_start":
			if open || e.Index != next {
				t.Fatalf("block %d started at %d, open %v", e.Index, next, open)
			}
			open, next = true, next+1
		case "content_block_delta", "content_block_stop":
			if !open || e.Index != next-1 {
				t.Fatalf("%s for block %d, open %v at %d", ev.Type, e.Index, open, next-1)
			}
			open = ev.Type == "content_block_delta"
		case "message_delta":
			if open {
				t.Fatalf("message_delta with block %d open", next-1)
			}
		case "error":
			// As Anthropic's, an error ends the stream where it is.
			if i+2 != len(evs) {
				t.Fatal("events after an error")
			}
		case "message_stop":
			if i+2 != len(evs) || evs[i].Type != "message_delta" {
				t.Fatal("message_stop is not last, after message_delta")
			}
		default:
			t.Fatalf("unexpected event %s", ev.Type)
		}
	}
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
