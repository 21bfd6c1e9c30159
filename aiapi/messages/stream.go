package messages

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aigate/aigate/aiapi/provider"
)

// Event is one server-sent event of a streamed Messages answer. The
// handler writes it as Bytes does: "event: <Type>\ndata: <Data>\n\n".
type Event struct {
	Type string
	Data []byte
}

// Bytes is the event as written on the wire.
func (e Event) Bytes() []byte {
	b := make([]byte, 0, len(e.Type)+len(e.Data)+16)
	b = append(b, "event: "...)
	b = append(b, e.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, e.Data...)
	return append(b, "\n\n"...)
}

func event(typ string, v any) Event {
	return Event{Type: typ, Data: marshal(v)}
}

// Stream translates a streamed chat completion into Messages stream
// events: message_start, then for each content block content_block_start,
// its deltas and content_block_stop, then message_delta (the stop reason
// and usage) and message_stop. Text and tool calls each get their own
// block, in the order the upstream sent them. Reasoning the upstream
// streams is not sent: Anthropic's thinking blocks carry a signature no
// other upstream can make.
//
// A Stream is used from one goroutine. Start, Chunk… then Complete; a
// Chunk or Complete before Start sends message_start first (with no
// usage).
type Stream struct {
	id, model string
	started   bool
	done      bool
	// next is the index of the next content block.
	next int64
	// open is the open block's kind: "", "text" or "tool_use"; openCall
	// the position in calls of the tool call whose block is open.
	open     string
	openCall int
	// calls are the tool calls begun, in order.
	calls []toolCall
	// finish is the last finish_reason the upstream sent.
	finish string
}

// NewStream returns the translator for one streamed answer, naming id
// (given a "msg_" prefix if it has none) and model.
func NewStream(id, model string) *Stream {
	return &Stream{id: messageID(id), model: model}
}

// Start is message_start: the message shell with no content and the usage
// known so far (the prompt's, when the upstream or an estimate tells it).
func (s *Stream) Start(u provider.Usage) []Event {
	if s.started {
		return nil
	}
	s.started = true
	return []Event{event("message_start", struct {
		Type    string      `json:"type"`
		Message messageJSON `json:"message"`
	}{"message_start", messageJSON{ID: s.id, Type: "message", Role: "assistant", Model: s.model,
		Content: []blockJSON{}, Usage: toUsage(u)}})}
}

type blockStart struct {
	Type         string    `json:"type"`
	Index        int64     `json:"index"`
	ContentBlock blockJSON `json:"content_block"`
}

type blockDelta struct {
	Type  string `json:"type"`
	Index int64  `json:"index"`
	Delta struct {
		Type        string  `json:"type"`
		Text        *string `json:"text,omitempty"`
		PartialJSON *string `json:"partial_json,omitempty"`
	} `json:"delta"`
}

type blockStop struct {
	Type  string `json:"type"`
	Index int64  `json:"index"`
}

// Chunk translates one chat.completion.chunk (its first choice; a chunk
// with only usage gives no events). Chat completions streams each tool
// call's arguments before the next call begins; an upstream that
// interleaves them cannot be translated, since a Messages block cannot be
// reopened, and gets an error. Once the stream completed or failed, Chunk
// gives no more events.
func (s *Stream) Chunk(chunk []byte) ([]Event, error) {
	if s.done {
		return nil, nil
	}
	var c chatCompletion
	if err := json.Unmarshal(chunk, &c); err != nil {
		return nil, fmt.Errorf("messages: the upstream sent a chunk that is not JSON")
	}
	evs := s.Start(provider.Usage{})
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.finish = *ch.FinishReason
		}
		text := ch.Delta.text()
		if ch.Delta.Refusal != nil {
			text += *ch.Delta.Refusal
		}
		if text != "" {
			if s.open != "text" {
				evs = append(evs, s.stopBlock()...)
				empty := ""
				evs = append(evs, s.startBlock(blockJSON{Type: "text", Text: &empty}))
				s.open = "text"
			}
			d := blockDelta{Type: "content_block_delta", Index: s.next - 1}
			d.Delta.Type, d.Delta.Text = "text_delta", &text
			evs = append(evs, event("content_block_delta", d))
		}
		for _, tc := range ch.Delta.ToolCalls {
			pos, isNew := s.call(tc.Index, tc.ID, tc.Function.Name)
			if isNew {
				evs = append(evs, s.stopBlock()...)
				id := tc.ID
				if id == "" {
					id = "toolu_" + strings.TrimPrefix(s.id, "msg_") + "_" + strconv.Itoa(pos)
				}
				name := tc.Function.Name
				evs = append(evs, s.startBlock(blockJSON{Type: "tool_use", ID: id, Name: &name, Input: json.RawMessage(`{}`)}))
				s.open, s.openCall = "tool_use", pos
			} else if s.open != "tool_use" || s.openCall != pos {
				return evs, fmt.Errorf("messages: the upstream sent tool call %d's arguments after another block began", pos)
			}
			if args := tc.Function.Arguments; args != "" {
				d := blockDelta{Type: "content_block_delta", Index: s.next - 1}
				d.Delta.Type, d.Delta.PartialJSON = "input_json_delta", &args
				evs = append(evs, event("content_block_delta", d))
			}
		}
	}
	return evs, nil
}

// toolCall is a tool call the upstream began: its chat index and id.
type toolCall struct {
	index *int
	id    string
}

// call finds the tool call a delta continues, by id, else by index, else
// the open one when the delta names no function (servers that send neither
// id nor index on continuations, which never repeat the name), or begins a
// new one. Keying by id first keeps apart calls that a server numbers
// with the same index.
func (s *Stream) call(index *int, id, name string) (pos int, isNew bool) {
	for i := len(s.calls) - 1; i >= 0; i-- {
		c := s.calls[i]
		if id != "" {
			if c.id == id {
				return i, false
			}
		} else if index != nil {
			if c.index != nil && *c.index == *index {
				return i, false
			}
		}
	}
	if id == "" && index == nil && name == "" && s.open == "tool_use" {
		return s.openCall, false
	}
	s.calls = append(s.calls, toolCall{index: index, id: id})
	return len(s.calls) - 1, true
}

func (s *Stream) startBlock(b blockJSON) Event {
	ev := event("content_block_start", blockStart{Type: "content_block_start", Index: s.next, ContentBlock: b})
	s.next++
	return ev
}

// stopBlock closes the open block, if any.
func (s *Stream) stopBlock() []Event {
	if s.open == "" {
		return nil
	}
	s.open = ""
	return []Event{event("content_block_stop", blockStop{Type: "content_block_stop", Index: s.next - 1})}
}

// Complete ends the answer: content_block_stop for the open block,
// message_delta with the stop reason (from finishReason, or the last one
// the upstream sent when it is "") and the final usage (output_tokens is
// cumulative, as Anthropic sends it; the input counts are repeated so that
// a client reading only message_delta meters the whole), and message_stop.
// It returns nothing once the stream is complete.
func (s *Stream) Complete(u provider.Usage, finishReason string) []Event {
	if s.done {
		return nil
	}
	evs := s.Start(provider.Usage{})
	evs = append(evs, s.stopBlock()...)
	s.done = true
	if finishReason == "" {
		finishReason = s.finish
	}
	reason := StopReason(finishReason)
	type delta struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}
	evs = append(evs, event("message_delta", struct {
		Type  string    `json:"type"`
		Delta delta     `json:"delta"`
		Usage usageJSON `json:"usage"`
	}{"message_delta", delta{StopReason: reason}, toUsage(u)}))
	return append(evs, event("message_stop", map[string]string{"type": "message_stop"}))
}

// Ping is the keep-alive event Anthropic sends at any time; clients
// ignore it.
func (s *Stream) Ping() Event {
	return Event{Type: "ping", Data: []byte(`{"type":"ping"}`)}
}

// Fail is the error event that ends a stream that failed after it began
// (the status line is already sent): errType as ErrorType gives it.
func (s *Stream) Fail(errType, message string) Event {
	s.done = true
	return Event{Type: "error", Data: ErrorBody(errType, message)}
}
