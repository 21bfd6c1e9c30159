package messages

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aigate/aigate/aiapi/provider"
)

// What an upstream that speaks Messages itself answers is passed on as it
// came but for the model's name (RenameModel); UsageOf and StreamMeter read
// what the AI API meters from it. The types below are that answer and its
// stream events as an upstream sends them, also read by the providers that
// translate them into chat completions.

// Answer is a Messages API message: the non-streamed answer, and the
// message of a message_start event.
type Answer struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Model      string         `json:"model"`
	Content    []ContentBlock `json:"content"`
	StopReason *string        `json:"stop_reason"`
	Usage      *Usage         `json:"usage"`
}

// ContentBlock is a content block of an answer.
type ContentBlock struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
	Thinking string          `json:"thinking"`
}

// Usage is the Messages API's usage. In a message_delta event every
// field is cumulative, and the input fields may be absent (nil).
type Usage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

// StreamEvent is the data of a Messages API stream event.
type StreamEvent struct {
	Type         string        `json:"type"`
	Message      *Answer       `json:"message"`
	Index        int           `json:"index"`
	ContentBlock *ContentBlock `json:"content_block"`
	Delta        *StreamDelta  `json:"delta"`
	Usage        *Usage        `json:"usage"`
	Error        *ErrorObject  `json:"error"`
}

// StreamDelta is the delta of a content_block_delta or message_delta
// event.
type StreamDelta struct {
	Type        string  `json:"type"`
	Text        string  `json:"text"`
	PartialJSON string  `json:"partial_json"`
	Thinking    string  `json:"thinking"`
	StopReason  *string `json:"stop_reason"`
}

// ErrorObject is the error of an error answer or event:
// {"type":"error","error":{"type":…,"message":…}}.
type ErrorObject struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// count is a token count from the upstream: never negative.
func count(p *int64) int64 {
	if p == nil {
		return 0
	}
	return max(*p, 0)
}

// sum adds counts without overflowing: an upstream's numbers are not
// trusted to be small.
func sum(a ...int64) int64 {
	var s int64
	for _, v := range a {
		if v > math.MaxInt64-s {
			return math.MaxInt64
		}
		s += v
	}
	return s
}

// Metered is u as the AI API meters it: every input token in PromptTokens
// (input_tokens excludes the cache reads and writes, which are added), the
// cache parts also apart. Counts are never negative and saturate rather
// than overflow. Nil when u is.
func (u *Usage) Metered() *provider.Usage {
	if u == nil {
		return nil
	}
	in, write, read := count(u.InputTokens), count(u.CacheCreationInputTokens), count(u.CacheReadInputTokens)
	return &provider.Usage{
		PromptTokens:     sum(in, write, read),
		CompletionTokens: count(u.OutputTokens),
		CacheReadTokens:  read,
		CacheWriteTokens: write,
	}
}

// OutputBytes is the size of a content block's generated output: text,
// a tool call's name and input, thinking.
func (b *ContentBlock) OutputBytes() int64 {
	n := len(b.Text) + len(b.Thinking)
	if b.Type == "tool_use" {
		n += len(b.Name) + len(b.Input)
	}
	return int64(n)
}

// UsageOf reads the usage of a non-streamed Messages API answer; nil when
// it reports none.
func UsageOf(message []byte) *provider.Usage {
	var a Answer
	if json.Unmarshal(message, &a) != nil {
		return nil
	}
	return a.Usage.Metered()
}

// OutputBytesOf is the size of everything a non-streamed Messages API
// answer generated (text, tool calls, thinking), for an estimate when it
// reports no usage.
func OutputBytesOf(message []byte) int64 {
	var a Answer
	if json.Unmarshal(message, &a) != nil {
		return int64(len(message)) // unreadable: count it all, never zero
	}
	var n int64
	for i := range a.Content {
		n += a.Content[i].OutputBytes()
	}
	return n
}

// RenameModel returns data, a Messages API answer or a message_start
// event's data, naming model instead of the upstream's model id; any
// other event, or data naming no model, is returned as it is. The rest of
// the bytes are kept.
func RenameModel(data []byte, model string) []byte {
	var path string
	switch gjson.GetBytes(data, "type").Str {
	case "message":
		path = "model"
	case "message_start":
		path = "message.model"
	default:
		return data
	}
	if m := gjson.GetBytes(data, path); m.Type != gjson.String || m.Str == model {
		return data
	}
	out, err := sjson.SetBytes(bytes.Clone(data), path, model)
	if err != nil {
		return data
	}
	return out
}

// StreamMeter reads the usage of a Messages API stream, event by event:
// the input counts of message_start, then the cumulative counts of
// message_delta. The zero value is ready to use; one per stream.
//
// Until a message_delta reports output_tokens, the usage it reports has
// CompletionTokens 0, meaning "not reported": message_start's output count
// is a placeholder, and a stream cut before message_delta is to be
// estimated from the output bytes instead.
type StreamMeter struct {
	// The counts so far: input (without the cache), cache writes and
	// reads, output.
	in, write, read, out int64
	known                bool
}

// Event reads one event (its event: type, used when the data names none,
// and its data). It returns the usage so far, nil while none is known, and
// the bytes of output the event carries: text, tool-call input, thinking.
func (m *StreamMeter) Event(eventType string, data []byte) (usage *provider.Usage, outputBytes int64) {
	var ev StreamEvent
	if json.Unmarshal(data, &ev) != nil {
		// Unreadable, yet relayed: count it all rather than nothing.
		return m.current(), int64(len(data))
	}
	if ev.Type == "" {
		ev.Type = eventType
	}
	return m.Observe(&ev)
}

func (m *StreamMeter) current() *provider.Usage {
	if !m.known {
		return nil
	}
	return &provider.Usage{PromptTokens: sum(m.in, m.write, m.read), CompletionTokens: m.out,
		CacheReadTokens: m.read, CacheWriteTokens: m.write}
}

// raise sets *field to the upstream's count when it is larger: every count
// in the stream is cumulative, so none may lower what is known.
func raise(field *int64, p *int64) {
	if v := count(p); v > *field {
		*field = v
	}
}

// Observe is Event for an event already read (its Type set), for a reader
// that also translates it: the usage so far and the event's output bytes.
func (m *StreamMeter) Observe(ev *StreamEvent) (usage *provider.Usage, outputBytes int64) {
	var out int64
	var u *Usage
	switch ev.Type {
	case "message_start":
		if ev.Message != nil {
			u = ev.Message.Usage
			for i := range ev.Message.Content {
				out += ev.Message.Content[i].OutputBytes()
			}
		}
		if u != nil {
			u = &Usage{InputTokens: u.InputTokens, CacheCreationInputTokens: u.CacheCreationInputTokens,
				CacheReadInputTokens: u.CacheReadInputTokens} // output_tokens: a placeholder
		}
	case "content_block_start":
		if ev.ContentBlock != nil {
			out = ev.ContentBlock.OutputBytes()
		}
	case "content_block_delta":
		if ev.Delta != nil {
			out = int64(len(ev.Delta.Text) + len(ev.Delta.PartialJSON) + len(ev.Delta.Thinking))
		}
	case "message_delta":
		u = ev.Usage
	}
	if u != nil {
		raise(&m.in, u.InputTokens)
		raise(&m.write, u.CacheCreationInputTokens)
		raise(&m.read, u.CacheReadInputTokens)
		raise(&m.out, u.OutputTokens)
		m.known = true
	}
	return m.current(), out
}
