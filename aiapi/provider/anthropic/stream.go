package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aigate/aigate/aiapi/messages"
	"github.com/aigate/aigate/aiapi/provider"
)

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
	meter  messages.StreamMeter
	fail   func(*messages.ErrorObject) *provider.Error // an error event as an *Error
	scrub  func(string) string                         // for causes, which are logged
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
		var ev messages.StreamEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return provider.Chunk{}, &provider.Error{Kind: provider.Upstream, Message: "the upstream's stream is malformed",
				Err: fmt.Errorf("anthropic: event is not JSON: %.256s", s.scrub(string(data)))}
		}
		if ev.Type == "" {
			ev.Type = name
		}
		if ev.Type == "error" {
			if ev.Error == nil {
				ev.Error = &messages.ErrorObject{}
			}
			return provider.Chunk{}, s.fail(ev.Error)
		}
		u, out := s.meter.Observe(&ev)
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

func (s *stream) translate(ev *messages.StreamEvent, u *provider.Usage) {
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
