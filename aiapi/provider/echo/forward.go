package echo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/messages"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/responses"
)

var _ provider.Forwarder = (*Model)(nil)

// Forwards reports that echo answers the Responses and Messages APIs
// itself (and chat completions through Chat), so that clients whose
// requests cannot be said in chat completions (Codex CLI sends hosted tools
// such as web_search, Claude Code thinking settings) are answered offline.
func (m *Model) Forwards(p provider.Protocol) bool {
	return p == provider.ProtocolResponses || p == provider.ProtocolMessages
}

// ignored are the members echo drops before reading a request as a
// conversation: tools and what steers them or the model's thinking, which
// echo never uses.
var ignored = []string{"tools", "tool_choice", "parallel_tool_calls", "previous_response_id", "include",
	"reasoning", "text", "store", "thinking", "context_management", "output_config"}

// event is one server-sent event of the protocol answered.
type event struct {
	typ  string
	data []byte
}

// renderer turns echo's chat chunks into a protocol's events.
type renderer struct {
	start    func() []event
	chunk    func(data []byte) ([]event, error)
	complete func(u provider.Usage, finish string) []event
}

// Forward answers a request in its own protocol by the echo rules: the last
// user message's words, capped by the request's output cap.
func (m *Model) Forward(ctx context.Context, fr *provider.ForwardRequest) (*provider.ForwardResponse, error) {
	var (
		chatBody *ijson.Object
		msgs     []provider.Message
		cap      int64
		err      error
		answer   func(chat []byte) ([]byte, error)
		render   func() renderer
	)
	created := m.created()
	switch {
	case fr.Method == http.MethodPost && fr.Protocol == provider.ProtocolResponses && fr.Path == "/responses":
		var req *responses.Request
		if req, err = responses.Parse(dropIgnored(fr.Body)); err == nil {
			cap = req.MaxOutputTokens
			chatBody, msgs, err = req.Chat(cap)
		}
		id := "resp_" + fr.RequestID
		answer = func(chat []byte) ([]byte, error) { return responses.FromChat(chat, id, fr.ResponseModel, created) }
		render = func() renderer {
			s := responses.NewStream(id, fr.ResponseModel, created)
			conv := func(es []responses.Event) []event {
				out := make([]event, len(es))
				for i, e := range es {
					out[i] = event{e.Type, e.Data}
				}
				return out
			}
			return renderer{
				start: func() []event { return conv(s.Start()) },
				chunk: func(d []byte) ([]event, error) { es, err := s.Chunk(d); return conv(es), err },
				complete: func(u provider.Usage, f string) []event {
					return conv(s.Complete(u, f))
				},
			}
		}
	case fr.Method == http.MethodPost && fr.Protocol == provider.ProtocolMessages && fr.Path == "/messages":
		var req *messages.Request
		if req, err = messages.Parse(dropIgnored(fr.Body)); err == nil {
			cap = req.MaxTokens
			chatBody, msgs, err = req.Chat(cap)
		}
		id := "msg_" + fr.RequestID
		answer = func(chat []byte) ([]byte, error) { return messages.FromChat(chat, id, fr.ResponseModel) }
		render = func() renderer {
			s := messages.NewStream(id, fr.ResponseModel)
			conv := func(es []messages.Event) []event {
				out := make([]event, len(es))
				for i, e := range es {
					out[i] = event{e.Type, e.Data}
				}
				return out
			}
			return renderer{
				start: func() []event { return conv(s.Start(provider.Usage{})) },
				chunk: func(d []byte) ([]event, error) { es, err := s.Chunk(d); return conv(es), err },
				complete: func(u provider.Usage, f string) []event {
					return conv(s.Complete(u, f))
				},
			}
		}
	case fr.Method == http.MethodPost && fr.Protocol == provider.ProtocolMessages && fr.Path == "/messages/count_tokens":
		// The count a message call would report as its input: the echo
		// rule over the same conversation.
		req, err := messages.ParseCountTokens(dropIgnored(fr.Body))
		if err == nil {
			_, msgs, err = req.Chat(1)
		}
		if err != nil {
			return nil, provider.Wrap(provider.BadRequest, "the echo model could not read the request", err)
		}
		return &provider.ForwardResponse{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(messages.CountTokensBody(promptTokens(&provider.ChatRequest{Messages: msgs}))))}, nil
	default:
		return nil, provider.Errorf(provider.BadRequest, "the echo model keeps no state: %s %s is not served", fr.Method, fr.Path)
	}
	if err != nil {
		return nil, provider.Wrap(provider.BadRequest, "the echo model could not read the request", err)
	}
	cr := &provider.ChatRequest{
		RequestID: fr.RequestID, Model: fr.Model, ResponseModel: fr.ResponseModel, Body: chatBody,
		Messages: msgs, MaxTokens: cap, N: 1, Stream: fr.Stream,
	}
	if !fr.Stream {
		resp, err := m.Chat(ctx, cr)
		if err != nil {
			return nil, err
		}
		body, err := answer(resp.Body)
		if err != nil {
			return nil, provider.Wrap(provider.Upstream, "the echo model's answer could not be rendered", err)
		}
		return &provider.ForwardResponse{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(body))}, nil
	}
	st, err := m.ChatStream(ctx, cr)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer st.Close()
		pw.CloseWithError(relay(pw, st, render()))
	}()
	return &provider.ForwardResponse{Status: http.StatusOK, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr}, nil
}

// dropIgnored removes the ignored members from a body the AI API admitted
// (so one that ijson reads).
func dropIgnored(body []byte) []byte {
	o, err := ijson.Parse(body)
	if err != nil {
		return body // the protocol's reader reports it
	}
	for _, name := range ignored {
		o.Delete(name)
	}
	return o.Bytes()
}

// relay writes echo's stream as the protocol's server-sent events.
func relay(w io.Writer, st provider.Stream, r renderer) error {
	write := func(es []event) error {
		for _, e := range es {
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.typ, e.data); err != nil {
				return err
			}
		}
		return nil
	}
	var usage provider.Usage
	finish := "stop"
	if err := write(r.start()); err != nil {
		return err
	}
	for {
		ch, err := st.Next()
		if err == io.EOF {
			return write(r.complete(usage, finish))
		}
		if err != nil {
			return err
		}
		if ch.Usage != nil {
			usage = *ch.Usage
		}
		if ch.UsageOnly {
			continue
		}
		if f := gjson.GetBytes(ch.Data, "choices.0.finish_reason"); f.Type == gjson.String {
			finish = f.Str
		}
		es, err := r.chunk(ch.Data)
		if err == nil {
			err = write(es)
		}
		if err != nil {
			return err
		}
	}
}
