package aiapi

import (
	"io"
	"net/http"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/responses"
)

// responsesAPI is OpenAI's Responses API (POST /v1/responses): forwarded
// to upstreams that speak it, translated through chat completions for the
// others; OpenAI's error shape.
var responsesAPI = &inbound{
	protocol:   provider.ProtocolResponses,
	path:       "/responses",
	writeError: writeError,
	parse: func(body []byte) (*admission, error) {
		r, err := responses.Parse(body)
		if err != nil {
			return nil, err
		}
		return &admission{
			body: r.Body, model: r.Model, stream: r.Stream, bodyBytes: r.BodyBytes,
			capOutput: r.CapOutput,
			chat:      translated(r.Chat),
		}, nil
	},
	fromChat: func(chat []byte, id, model string, created int64) ([]byte, error) {
		return responses.FromChat(chat, "resp_"+id, model, created)
	},
	newStream: func(id, model string, created int64) streamRenderer {
		return responsesStream{responses.NewStream("resp_"+id, model, created)}
	},
	usageOf: responses.Usage,
	newMeter: func() func(string, []byte) (*provider.Usage, int64) {
		return func(_ string, data []byte) (*provider.Usage, int64) {
			_, u, out := responses.EventUsage(data)
			return u, out
		}
	},
	rename: responses.RenameModel,
}

type responsesStream struct{ s *responses.Stream }

func responsesEvents(es []responses.Event) []sseEvent {
	out := make([]sseEvent, len(es))
	for i, e := range es {
		out[i] = sseEvent{typ: e.Type, data: e.Data}
	}
	return out
}

func (r responsesStream) start() []sseEvent { return responsesEvents(r.s.Start()) }
func (r responsesStream) chunk(data []byte) ([]sseEvent, error) {
	es, err := r.s.Chunk(data)
	return responsesEvents(es), err
}
func (r responsesStream) complete(u provider.Usage, finish string) []sseEvent {
	return responsesEvents(r.s.Complete(u, finish))
}
func (r responsesStream) fail(_, _, msg string, u provider.Usage) []sseEvent {
	return responsesEvents(r.s.Fail(msg, u))
}

// getResponse serves GET /v1/responses/{id}: forwarded to the provider
// named by Config.ResponsesLookup, which must keep responses; refused with
// a 400 otherwise (aigate keeps no responses of its own).
func (s *Server) getResponse(w http.ResponseWriter, r *http.Request, x *exchange, id string) {
	f, ok := s.providers[s.cfg.ResponsesLookup].(provider.Forwarder)
	if s.cfg.ResponsesLookup == "" || !ok || !f.Forwards(provider.ProtocolResponses) {
		writeError(w, http.StatusBadRequest, typeInvalidRequest, "", "response_id",
			"Retrieving a response needs an upstream that keeps responses; this server has none configured (aiapi.responsesLookup).")
		return
	}
	ctx, cancel := s.upstreamContext(r.Context(), s.cfg.ResponsesLookup)
	defer cancel()
	resp, err := f.Forward(ctx, &provider.ForwardRequest{
		RequestID: x.id, Protocol: provider.ProtocolResponses, Method: http.MethodGet, Path: "/responses/" + id,
	})
	if err != nil {
		x.err = err
		status, typ, code, msg := failure(ctx, err)
		if status != 499 {
			writeError(w, status, typ, code, "", msg)
		}
		return
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedAnswer))
	if err != nil {
		x.err = err
		writeError(w, http.StatusBadGateway, typeServer, codeUpstreamError, "", "The model's upstream failed.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(answer)
}
