package aiapi

import (
	"io"
	"net/http"
	"time"

	"github.com/aigate/aigate/aiapi/messages"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/quota"
)

// messagesAPI is Anthropic's Messages API (POST /v1/messages): forwarded
// to upstreams that speak it, translated through chat completions for the
// others; Anthropic's error shape and anthropic-ratelimit-* headers.
var messagesAPI = &inbound{
	protocol:   provider.ProtocolMessages,
	path:       "/messages",
	writeError: writeAnthropicError,
	limitHeaders: func(h http.Header, st quota.Status, _ time.Time) {
		messages.SetRateLimitHeaders(h, st)
	},
	parse: func(body []byte) (*admission, error) {
		r, err := messages.Parse(body)
		if err != nil {
			return nil, err
		}
		return &admission{
			body: r.Body, model: r.Model, stream: r.Stream, bodyBytes: r.BodyBytes,
			// max_tokens is required: lowered to the ceiling in what is sent.
			capOutput: func(_, ceiling int64) int64 {
				if ceiling > 0 && r.MaxTokens > ceiling {
					r.MaxTokens = ceiling
					r.Body.Set("max_tokens", ceiling)
				}
				return r.MaxTokens
			},
			chat: translated(r.Chat),
		}, nil
	},
	fromChat: func(chat []byte, id, model string, _ int64) ([]byte, error) {
		return messages.FromChat(chat, "msg_"+id, model)
	},
	newStream: func(id, model string, _ int64) streamRenderer {
		return &messagesStream{s: messages.NewStream("msg_"+id, model)}
	},
	usageOf: messages.UsageOf,
	newMeter: func() func(string, []byte) (*provider.Usage, int64) {
		m := &messages.StreamMeter{}
		return m.Event
	},
	rename: messages.RenameModel,
}

// writeAnthropicError answers in the Messages API's error shape,
// {"type":"error","error":{"type":…,"message":…}}, the type following the
// status as Anthropic's does (Claude Code matches on it).
func writeAnthropicError(w http.ResponseWriter, status int, _, _, _, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	w.Write(messages.ErrorBody(messages.ErrorType(status), message))
}

type messagesStream struct {
	s       *messages.Stream
	started bool
}

func messagesEvents(es []messages.Event) []sseEvent {
	out := make([]sseEvent, len(es))
	for i, e := range es {
		out[i] = sseEvent{typ: e.Type, data: e.Data}
	}
	return out
}

func (m *messagesStream) start() []sseEvent {
	m.started = true
	return messagesEvents(m.s.Start(provider.Usage{}))
}
func (m *messagesStream) chunk(data []byte) ([]sseEvent, error) {
	es, err := m.s.Chunk(data)
	return messagesEvents(es), err
}
func (m *messagesStream) complete(u provider.Usage, finish string) []sseEvent {
	return messagesEvents(m.s.Complete(u, finish))
}
func (m *messagesStream) fail(_, _, msg string, _ provider.Usage) []sseEvent {
	return messagesEvents([]messages.Event{m.s.Fail("api_error", msg)})
}

// countTokens serves POST /v1/messages/count_tokens: forwarded to an
// upstream that speaks Messages, estimated by messages.CountTokens
// otherwise. Counting uses no model output, so nothing is reserved or
// metered; the model must still be one the caller may use.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request, x *exchange) {
	body, ok := s.readBody(w, r, x, writeAnthropicError)
	if !ok {
		return
	}
	req, err := messages.ParseCountTokens(body)
	if err != nil {
		badRequest(w, err, writeAnthropicError)
		return
	}
	x.model = req.Model
	rt, ok := s.route(x.caller, req.Model)
	if !ok {
		modelNotFound(w, req.Model, writeAnthropicError)
		return
	}
	f, forwards := s.providers[rt.Provider].(provider.Forwarder)
	if !forwards || !f.Forwards(provider.ProtocolMessages) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(messages.CountTokensBody(messages.CountTokens(req)))
		return
	}
	upstream := rt.UpstreamModel
	if upstream == "" {
		upstream = req.Model
	}
	out := req.Body.Clone()
	out.Set("model", upstream)
	ctx, cancel := s.upstreamContext(r.Context(), rt.Provider)
	defer cancel()
	resp, err := f.Forward(ctx, &provider.ForwardRequest{
		RequestID: x.id, Protocol: provider.ProtocolMessages, Method: http.MethodPost, Path: "/messages/count_tokens",
		Body: out.Bytes(), Header: forwardedHeaders(r.Header), Model: upstream, ResponseModel: req.Model,
	})
	if err != nil {
		x.err = err
		if status, _, _, msg := failure(ctx, err); status != 499 {
			writeAnthropicError(w, status, "", "", "", msg)
		}
		return
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		x.err = err
		writeAnthropicError(w, http.StatusBadGateway, "", "", "", "The model's upstream failed.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(answer)
}
