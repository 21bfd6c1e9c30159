package aiapi

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/quota"
)

// chat serves POST /v1/chat/completions.
func (s *Server) chat(w http.ResponseWriter, r *http.Request, x *exchange) {
	body, ok := s.readBody(w, r, x, writeError)
	if !ok {
		return
	}
	req, err := parseChatRequest(body)
	if err != nil {
		badRequest(w, err, writeError)
		return
	}
	x.model = req.model
	rt, ok := s.route(x.caller, req.model)
	if !ok {
		modelNotFound(w, req.model, writeError)
		return
	}
	p := s.providers[rt.Provider]
	maxTokens := req.capOutput(s.cfg.DefaultMaxTokens, s.outputCeiling(rt))
	limit, err := bound(req.bodyBytes, req.n, maxTokens)
	if err != nil {
		badRequest(w, err, writeError)
		return
	}
	upstream := rt.UpstreamModel
	if upstream == "" {
		upstream = req.model
	}
	res, ok := s.reserve(w, r, x, limit, req.n*maxTokens, upstream, openAI)
	if !ok {
		return
	}
	preq := &provider.ChatRequest{
		RequestID: x.id, Model: upstream, ResponseModel: req.model, Body: req.body,
		Messages: req.messages, MaxTokens: maxTokens, N: req.n, Stream: req.stream,
		Temperature: req.temperature, TopP: req.topP, Stop: req.stop,
	}
	ctx, cancel := s.upstreamContext(r.Context(), rt)
	defer cancel()

	if req.stream {
		st, err := p.ChatStream(ctx, preq)
		if err != nil {
			s.failedBeforeOutput(ctx, w, x, res, req.bodyBytes, err, writeError)
			return
		}
		defer st.Close()
		s.stream(ctx, w, x, res, req, st)
		return
	}
	resp, err := p.Chat(ctx, preq)
	if err != nil {
		s.failedBeforeOutput(ctx, w, x, res, req.bodyBytes, err, writeError)
		return
	}
	u := estimate(req.bodyBytes, resp.OutputBytes)
	if resp.Usage != nil {
		u = *resp.Usage
	}
	// Settled before the 200 is written: every answer a caller got is in
	// the ledger, even if the process dies right after.
	if err := s.settle(ctx, x, res, u); err != nil {
		x.err = err
		writeError(w, http.StatusInternalServerError, typeServer, codeInternal, "", "The server could not record the usage.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(resp.Body)
}

// stream relays a streamed completion as server-sent events, and settles
// what was produced, however the stream ends.
func (s *Server) stream(ctx context.Context, w http.ResponseWriter, x *exchange, res quota.Reservation, req *chatRequest, st provider.Stream) {
	sw := startSSE(w, s.cfg.StreamWriteTimeout)
	var (
		usage  *provider.Usage
		output int64
		failed error
		gone   bool
	)
	for !gone {
		ch, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			failed = err
			break
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		output += ch.OutputBytes
		s.keepAlive(ctx, x, &res)
		if ch.UsageOnly && !req.includeUsage {
			continue
		}
		gone = !sw.write(sseEvent{data: ch.Data})
	}
	st.Close()
	tell, _ := s.settleStream(ctx, x, res, req.bodyBytes, output, usage, failed, gone)
	switch {
	case !tell:
		sw.write(sseEvent{data: []byte("[DONE]")})
	case failed == nil:
		sw.write(sseEvent{data: errorEvent(typeServer, codeInternal, "The server could not record the usage.")})
	default:
		_, typ, code, msg := failure(ctx, failed)
		sw.write(sseEvent{data: errorEvent(typ, code, msg)})
	}
}
