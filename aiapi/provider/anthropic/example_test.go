package anthropic_test

import (
	"fmt"
	"strings"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/anthropic"
)

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
	var m anthropic.StreamMeter
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

// Betas an upstream refuses are dropped from what is forwarded.
func ExampleClient_FilterBetas() {
	c := &anthropic.Client{RefusedBetas: []string{"context-1m-*"}}
	fmt.Println(c.FilterBetas([]string{"context-1m-2025-08-07, interleaved-thinking-2025-05-14", "fine-grained-tool-streaming-2025-05-14"}))
	// Output: interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14
}
