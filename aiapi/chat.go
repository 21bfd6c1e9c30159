package aiapi

import (
	"github.com/aigate/aigate/aiapi/provider"
)

// chatCompletions is OpenAI's chat completions API (POST
// /v1/chat/completions): every provider serves it through Provider.Chat
// (pass-through providers send the admitted body, the others translate
// it), and its answers and chunks are relayed as the provider renders
// them; OpenAI's error shape.
var chatCompletions = &inbound{
	protocol:   provider.ProtocolChat,
	writeError: writeError,
	parse: func(body []byte) (*admission, error) {
		req, err := parseChatRequest(body)
		if err != nil {
			return nil, err
		}
		return req.admission(), nil
	},
	newStream: func(string, string, int64) streamRenderer { return chatStream{} },
}

// admission is what the admit path reads of a chat completion: n choices,
// each capped, and the chat request as admitted (no translation).
func (r *chatRequest) admission() *admission {
	return &admission{
		body: r.body, model: r.model, stream: r.stream, bodyBytes: r.bodyBytes,
		choices: r.n, includeUsage: r.includeUsage,
		capOutput: r.capOutput,
		chat: func(int64) (*provider.ChatRequest, error) {
			return &provider.ChatRequest{
				Body: r.body, Messages: r.messages,
				Temperature: r.temperature, TopP: r.topP, Stop: r.stop,
			}, nil
		},
	}
}

// chatStream relays a chat completion stream: the provider's chunks are
// already chat.completion.chunk objects; "[DONE]" ends a stream that was
// settled, an error object one that failed after its 200 (OpenAI's
// clients raise it).
type chatStream struct{}

func (chatStream) start() []sseEvent { return nil }

func (chatStream) chunk(data []byte) ([]sseEvent, error) { return []sseEvent{{data: data}}, nil }

func (chatStream) complete(provider.Usage, string) []sseEvent {
	return []sseEvent{{data: []byte("[DONE]")}}
}

func (chatStream) fail(typ, code, msg string, _ provider.Usage) []sseEvent {
	return []sseEvent{{data: errorEvent(typ, code, msg)}}
}
