package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aigate/aigate/aiapi/provider"
)

// event is the data of a Messages API stream event.
type event struct {
	Type         string        `json:"type"`
	Message      *answer       `json:"message"`
	Index        int           `json:"index"`
	ContentBlock *contentBlock `json:"content_block"`
	Delta        *eventDelta   `json:"delta"`
	Usage        *usageFields  `json:"usage"`
	Error        *errorBody    `json:"error"`
}

type eventDelta struct {
	Type        string  `json:"type"`
	Text        string  `json:"text"`
	PartialJSON string  `json:"partial_json"`
	Thinking    string  `json:"thinking"`
	StopReason  *string `json:"stop_reason"`
}

type errorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
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
	var ev event
	if json.Unmarshal(data, &ev) != nil {
		// Unreadable, yet relayed: count it all rather than nothing.
		return m.current(), int64(len(data))
	}
	if ev.Type == "" {
		ev.Type = eventType
	}
	return m.observe(&ev)
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

func (m *StreamMeter) observe(ev *event) (*provider.Usage, int64) {
	var out int64
	var u *usageFields
	switch ev.Type {
	case "message_start":
		if ev.Message != nil {
			u = ev.Message.Usage
			for i := range ev.Message.Content {
				out += ev.Message.Content[i].outputBytes()
			}
		}
		if u != nil {
			u = &usageFields{InputTokens: u.InputTokens, CacheCreationInputTokens: u.CacheCreationInputTokens,
				CacheReadInputTokens: u.CacheReadInputTokens} // output_tokens: a placeholder
		}
	case "content_block_start":
		if ev.ContentBlock != nil {
			out = ev.ContentBlock.outputBytes()
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

// chunker builds the chat.completion.chunk events of one answer.
type chunker struct {
	id, model string
	created   int64
}

func (c chunker) chunk(d *chatDelta, finish *string, u *chatUsage) []byte {
	choices := []chatChoice{}
	if d != nil {
		choices = append(choices, chatChoice{Delta: d, FinishReason: finish})
	}
	return mustMarshal(chatCompletion{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model, Choices: choices, Usage: u})
}

// stream translates a Messages API stream into chat.completion.chunk
// events.
type stream struct {
	ctx    context.Context
	body   io.ReadCloser
	events *provider.EventReader
	chunks chunker
	meter  StreamMeter
	fail   func(*errorBody) *provider.Error // an error event as an *Error
	scrub  func(string) string              // for causes, which are logged
	// tools maps a tool_use block's index to its tool call's index;
	// argued says which blocks streamed arguments.
	tools  map[int]int
	argued map[int]bool
	// pending is output seen in events that made no chunk (thinking),
	// reported with the next chunk.
	pending  int64
	finished bool // the finish chunk was sent
	queue    []provider.Chunk
	done     bool
}

func (s *stream) Next() (provider.Chunk, error) {
	for {
		if len(s.queue) > 0 {
			ch := s.queue[0]
			s.queue = s.queue[1:]
			return ch, nil
		}
		if s.done {
			return provider.Chunk{}, io.EOF
		}
		name, data, err := s.events.Next()
		if err != nil {
			if ctxErr := s.ctx.Err(); ctxErr != nil && !errors.Is(ctxErr, context.DeadlineExceeded) {
				return provider.Chunk{}, ctxErr
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // every Messages API stream ends with message_stop
			}
			return provider.Chunk{}, provider.Wrap(provider.Upstream, "the upstream's stream broke off", err)
		}
		var ev event
		if err := json.Unmarshal(data, &ev); err != nil {
			return provider.Chunk{}, &provider.Error{Kind: provider.Upstream, Message: "the upstream's stream is malformed",
				Err: fmt.Errorf("anthropic: event is not JSON: %.256s", s.scrub(string(data)))}
		}
		if ev.Type == "" {
			ev.Type = name
		}
		if ev.Type == "error" {
			if ev.Error == nil {
				ev.Error = &errorBody{}
			}
			return provider.Chunk{}, s.fail(ev.Error)
		}
		u, out := s.meter.observe(&ev)
		s.pending += out
		s.translate(&ev, u)
	}
}

// emit queues a chunk carrying the usage so far and the output not yet
// reported.
func (s *stream) emit(data []byte, u *provider.Usage, usageOnly bool) {
	s.queue = append(s.queue, provider.Chunk{Data: data, Usage: u, UsageOnly: usageOnly, OutputBytes: s.pending})
	s.pending = 0
}

func (s *stream) translate(ev *event, u *provider.Usage) {
	switch ev.Type {
	case "message_start":
		empty := ""
		s.emit(s.chunks.chunk(&chatDelta{Role: "assistant", Content: &empty}, nil, nil), u, false)
	case "content_block_start":
		b := ev.ContentBlock
		switch {
		case b == nil:
		case b.Type == "text" && b.Text != "":
			s.emit(s.chunks.chunk(&chatDelta{Content: &b.Text}, nil, nil), u, false)
		case b.Type == "tool_use":
			i := len(s.tools)
			s.tools[ev.Index] = i
			s.emit(s.chunks.chunk(&chatDelta{ToolCalls: []toolCall{{Index: &i, ID: b.ID, Type: "function",
				Function: toolFunction{Name: b.Name}}}}, nil, nil), u, false)
		}
	case "content_block_delta":
		d := ev.Delta
		switch {
		case d == nil:
		case d.Type == "text_delta" && d.Text != "":
			s.emit(s.chunks.chunk(&chatDelta{Content: &d.Text}, nil, nil), u, false)
		case d.Type == "input_json_delta" && d.PartialJSON != "":
			if i, ok := s.tools[ev.Index]; ok {
				s.argued[ev.Index] = true
				s.emit(s.chunks.chunk(&chatDelta{ToolCalls: []toolCall{{Index: &i, Function: toolFunction{Arguments: d.PartialJSON}}}}, nil, nil), u, false)
			}
		}
	case "content_block_stop":
		// A tool called without input streams no input_json_delta; chat
		// clients parse the arguments, which must then be "{}".
		if i, ok := s.tools[ev.Index]; ok && !s.argued[ev.Index] {
			s.argued[ev.Index] = true
			s.emit(s.chunks.chunk(&chatDelta{ToolCalls: []toolCall{{Index: &i, Function: toolFunction{Arguments: "{}"}}}}, nil, nil), u, false)
		}
	case "message_delta":
		if ev.Delta != nil && !s.finished {
			s.finished = true
			reason := finishReason(ev.Delta.StopReason)
			s.emit(s.chunks.chunk(&chatDelta{}, &reason, nil), u, false)
		}
	case "message_stop":
		s.done = true
		if !s.finished {
			s.finished = true
			reason := "stop"
			s.emit(s.chunks.chunk(&chatDelta{}, &reason, nil), u, false)
		}
		if u != nil {
			s.emit(s.chunks.chunk(nil, nil, toChatUsage(*u)), u, true)
		}
	}
	// ping and event types added later make no chunk.
}

func (s *stream) Close() error {
	s.done = true
	s.queue = nil
	return s.body.Close()
}
