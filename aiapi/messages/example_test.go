package messages_test

import (
	"fmt"
	"strings"

	"github.com/aigate/aigate/aiapi/messages"
	"github.com/aigate/aigate/aiapi/provider"
)

// A Messages request served by a provider that speaks only chat
// completions: read once, translated, answered in Anthropic's shape.
func Example() {
	r, err := messages.Parse([]byte(`{"model":"claude-x","max_tokens":1024,"system":"Be brief.",
		"messages":[{"role":"user","content":"Say hi"}]}`))
	if err != nil {
		fmt.Println(string(messages.ErrorBody(messages.ErrorType(400), err.Error())))
		return
	}
	chat, _, err := r.Chat(256) // 256: the cap the reservation admitted
	if err != nil {
		return
	}
	fmt.Println(string(chat.Bytes()))

	// The provider answers in chat completions; the caller gets a message.
	answer := `{"choices":[{"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":2}}`
	msg, _ := messages.FromChat([]byte(answer), "msg_1", r.Model)
	fmt.Println(string(msg))
	// Output:
	// {"model":"claude-x","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hi"}],"max_tokens":256}
	// {"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}
}

// A stream: the handler writes each event's Bytes and flushes.
func ExampleStream() {
	s := messages.NewStream("msg_2", "claude-x")
	events := s.Start(provider.Usage{PromptTokens: 12})
	more, _ := s.Chunk([]byte(`{"choices":[{"index":0,"delta":{"content":"Hi!"},"finish_reason":"stop"}]}`))
	events = append(events, more...)
	events = append(events, s.Complete(provider.Usage{PromptTokens: 12, CompletionTokens: 2}, "")...)
	for _, ev := range events {
		fmt.Println(ev.Type)
	}
	// Output:
	// message_start
	// content_block_start
	// content_block_delta
	// content_block_stop
	// message_delta
	// message_stop
}

// Metering a forwarded Messages API stream as it is relayed: the usage
// known so far and the output bytes, event by event.
func ExampleStreamMeter() {
	stream := `event: message_start
data: {"type":"message_start","message":{"model":"claude-upstream-1","usage":{"input_tokens":10,"cache_read_input_tokens":90,"output_tokens":1}}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}

`
	var m messages.StreamMeter
	r := provider.NewEventReader(strings.NewReader(stream))
	for {
		typ, data, err := r.Next()
		if err != nil {
			break
		}
		u, out := m.Event(typ, data)
		fmt.Printf("%s: %+v, %d output bytes\n", typ, *u, out)
	}
	// Output:
	// message_start: {PromptTokens:100 CompletionTokens:0 CacheReadTokens:90 CacheWriteTokens:0}, 0 output bytes
	// content_block_delta: {PromptTokens:100 CompletionTokens:0 CacheReadTokens:90 CacheWriteTokens:0}, 5 output bytes
	// message_delta: {PromptTokens:100 CompletionTokens:2 CacheReadTokens:90 CacheWriteTokens:0}, 0 output bytes
}
