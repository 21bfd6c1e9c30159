package responses_test

import (
	"fmt"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/responses"
)

// A Responses request served by a provider that speaks chat completions:
// the body is read once, capped, translated, and the chat answer is
// translated back.
func Example() {
	r, err := responses.Parse([]byte(`{"model":"small","instructions":"Be brief.","input":"Hi!"}`))
	if err != nil {
		panic(err)
	}
	limit := r.CapOutput(256, 0)
	chat, _, err := r.Chat(limit)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(chat.Bytes()))

	answer := []byte(`{"choices":[{"message":{"role":"assistant","content":"Hello."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":2}}`)
	resp, err := responses.FromChat(answer, "resp_1", "small", 1700000000)
	if err != nil {
		panic(err)
	}
	fmt.Println(*responses.Usage(resp))
	// Output:
	// {"model":"small","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi!"}],"max_tokens":256}
	// {12 2 0 0}
}

// A streamed chat completion becomes the Responses event sequence.
func ExampleStream() {
	s := responses.NewStream("resp_2", "small", 1700000000)
	events := s.Start()
	more, _ := s.Chunk([]byte(`{"choices":[{"index":0,"delta":{"content":"Hello."}}]}`))
	events = append(events, more...)
	events = append(events, s.Complete(provider.Usage{PromptTokens: 12, CompletionTokens: 2}, "stop")...)
	for _, e := range events {
		fmt.Println(e.Type)
	}
	// Output:
	// response.created
	// response.in_progress
	// response.output_item.added
	// response.content_part.added
	// response.output_text.delta
	// response.output_text.done
	// response.content_part.done
	// response.output_item.done
	// response.completed
}
