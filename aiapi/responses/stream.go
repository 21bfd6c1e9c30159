package responses

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
)

// Event is one server-sent event of a Responses stream. The handler writes
// "event: <Type>\ndata: <Data>\n\n"; a Responses stream ends with its last
// event (response.completed, response.incomplete or response.failed), with
// no [DONE] line.
type Event struct {
	Type string
	// Data is the event's JSON: its "type" (Type again), its
	// "sequence_number" (increasing from 0 within the stream) and the rest.
	Data []byte
}

// Stream translates one streamed chat completion into the typed events of
// a Responses stream: Start, then Chunk for each chat.completion.chunk,
// then Complete or Fail once. Output items open as their first delta comes
// (SDKs drop deltas of items never added) and are all closed by Complete,
// in output order. Not safe for concurrent use.
type Stream struct {
	ids       ids
	model     string
	createdAt int64
	seq       int64
	items     []*streamItem
	message   *streamItem         // the output message, once text has come
	calls     map[int]*streamItem // by the chat tool call's index
	ncalls    int
	finish    string // the last finish_reason seen
	ended     bool
}

// streamItem is an output item being streamed.
type streamItem struct {
	index int
	id    string
	// A message has parts; a function call has a call id, name and
	// arguments.
	parts        []*streamPart
	call         bool
	callID, name string
	arguments    strings.Builder
}

type streamPart struct {
	refusal bool
	text    strings.Builder
}

func (p *streamPart) json() partJSON {
	if p.refusal {
		return refusalPart(p.text.String())
	}
	return outputText(p.text.String())
}

func (it *streamItem) json(status string) any {
	if it.call {
		return functionCallItem{Type: "function_call", ID: it.id, CallID: it.callID, Name: it.name, Arguments: it.arguments.String(), Status: status}
	}
	parts := make([]partJSON, len(it.parts))
	for i, p := range it.parts {
		parts[i] = p.json()
	}
	return messageItem{Type: "message", ID: it.id, Status: status, Role: "assistant", Content: parts}
}

// NewStream starts the translation of one stream: id names the response
// (given the "resp_" prefix when it lacks it), model the caller's model
// name, createdAt its creation time in Unix seconds.
func NewStream(id, model string, createdAt int64) *Stream {
	return &Stream{ids: newIDs(id), model: model, createdAt: createdAt, calls: map[int]*streamItem{}}
}

// event builds one event: its type, its sequence number, then fields as
// name/value pairs in order.
func (s *Stream) event(typ string, fields ...any) Event {
	o := &ijson.Object{}
	o.Set("type", typ)
	o.Set("sequence_number", s.seq)
	s.seq++
	for i := 0; i+1 < len(fields); i += 2 {
		o.Set(fields[i].(string), fields[i+1])
	}
	return Event{Type: typ, Data: o.Bytes()}
}

// response is the response object as the stream stands, with items in the
// given status.
func (s *Stream) response(status, itemStatus string) *responseJSON {
	r := newResponse(s.ids, s.model, s.createdAt, status)
	for _, it := range s.items {
		r.Output = append(r.Output, it.json(itemStatus))
	}
	return r
}

// Start returns the events that open the stream: response.created and
// response.in_progress.
func (s *Stream) Start() []Event {
	r := s.response("in_progress", "in_progress")
	return []Event{s.event("response.created", "response", r), s.event("response.in_progress", "response", r)}
}

// chatChunk is what Chunk reads of a chat.completion.chunk.
type chatChunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   *string `json:"content"`
			Refusal   *string `json:"refusal"`
			ToolCalls []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

// Chunk translates one chat.completion.chunk: text and refusal deltas open
// the output message (response.output_item.added, then
// response.content_part.added) and become response.output_text.delta
// (response.refusal.delta); a tool call's first delta opens a function_call
// item, its arguments become response.function_call_arguments.delta. Only
// the first choice counts (Responses has one output). Usage-only chunks
// give no events: usage goes to Complete.
func (s *Stream) Chunk(chunk []byte) ([]Event, error) {
	if s.ended {
		return nil, nil
	}
	var c chatChunk
	if err := json.Unmarshal(chunk, &c); err != nil {
		return nil, fmt.Errorf("responses: a chat chunk is malformed: %v", err)
	}
	var out []Event
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.finish = *ch.FinishReason
		}
		d := ch.Delta
		if d.Content != nil && *d.Content != "" {
			out = s.text(out, false, *d.Content)
		}
		if d.Refusal != nil && *d.Refusal != "" {
			out = s.text(out, true, *d.Refusal)
		}
		for _, tc := range d.ToolCalls {
			it := s.calls[tc.Index]
			// Some upstreams send each call whole, all at index 0: a new
			// call id starts a new call.
			if it == nil || tc.ID != "" && tc.ID != it.callID {
				n := s.ncalls
				s.ncalls++
				it = &streamItem{index: len(s.items), id: s.ids.call(n), call: true, callID: tc.ID, name: tc.Function.Name}
				if it.callID == "" {
					it.callID = s.ids.callID(n)
				}
				s.calls[tc.Index] = it
				s.items = append(s.items, it)
				out = append(out, s.event("response.output_item.added", "output_index", it.index, "item", it.json("in_progress")))
			} else if it.name == "" {
				it.name = tc.Function.Name
			}
			if tc.Function.Arguments != "" {
				it.arguments.WriteString(tc.Function.Arguments)
				out = append(out, s.event("response.function_call_arguments.delta",
					"item_id", it.id, "output_index", it.index, "delta", tc.Function.Arguments))
			}
		}
	}
	return out, nil
}

// text adds a text (or refusal) delta to the output message, opening the
// message and the part first when needed.
func (s *Stream) text(out []Event, refusal bool, delta string) []Event {
	if s.message == nil {
		s.message = &streamItem{index: len(s.items), id: s.ids.message()}
		s.items = append(s.items, s.message)
		out = append(out, s.event("response.output_item.added", "output_index", s.message.index, "item", s.message.json("in_progress")))
	}
	m := s.message
	ci := -1
	for i, p := range m.parts {
		if p.refusal == refusal {
			ci = i
		}
	}
	if ci < 0 {
		ci = len(m.parts)
		m.parts = append(m.parts, &streamPart{refusal: refusal})
		out = append(out, s.event("response.content_part.added",
			"item_id", m.id, "output_index", m.index, "content_index", ci, "part", m.parts[ci].json()))
	}
	m.parts[ci].text.WriteString(delta)
	if refusal {
		return append(out, s.event("response.refusal.delta",
			"item_id", m.id, "output_index", m.index, "content_index", ci, "delta", delta))
	}
	return append(out, s.event("response.output_text.delta",
		"item_id", m.id, "output_index", m.index, "content_index", ci, "delta", delta, "logprobs", []any{}))
}

// Complete closes every item (response.output_text.done,
// response.content_part.done, response.function_call_arguments.done,
// response.output_item.done) and ends the stream with response.completed,
// or response.incomplete when the output was cut ("length": by the output
// cap, "content_filter"), carrying the whole response and u as its usage.
// finishReason is the chat stream's; empty means the last one its chunks
// gave.
func (s *Stream) Complete(u provider.Usage, finishReason string) []Event {
	if s.ended {
		return nil
	}
	s.ended = true
	if finishReason == "" {
		finishReason = s.finish
	}
	status, incomplete := statusOf(finishReason)
	itemStatus := "completed"
	if incomplete != nil {
		itemStatus = "incomplete"
	}
	r := s.response(status, itemStatus)
	r.IncompleteDetails = incomplete
	r.Usage = toUsage(u, 0)
	var out []Event
	for _, it := range s.items {
		if it.call {
			out = append(out, s.event("response.function_call_arguments.done",
				"item_id", it.id, "output_index", it.index, "name", it.name, "arguments", it.arguments.String()))
		}
		for ci, p := range it.parts {
			if p.refusal {
				out = append(out, s.event("response.refusal.done",
					"item_id", it.id, "output_index", it.index, "content_index", ci, "refusal", p.text.String()))
			} else {
				out = append(out, s.event("response.output_text.done",
					"item_id", it.id, "output_index", it.index, "content_index", ci, "text", p.text.String(), "logprobs", []any{}))
			}
			out = append(out, s.event("response.content_part.done",
				"item_id", it.id, "output_index", it.index, "content_index", ci, "part", p.json()))
		}
		out = append(out, s.event("response.output_item.done", "output_index", it.index, "item", it.json(itemStatus)))
	}
	return append(out, s.event("response."+r.Status, "response", r))
}

// Fail ends the stream with response.failed: the response as it stands
// (its items incomplete), u as its usage and an error whose message is
// message, which must be fit for the caller.
func (s *Stream) Fail(message string, u provider.Usage) []Event {
	if s.ended {
		return nil
	}
	s.ended = true
	r := s.response("failed", "incomplete")
	r.Error = &errorJSON{Code: "server_error", Message: message}
	r.Usage = toUsage(u, 0)
	return []Event{s.event("response.failed", "response", r)}
}
