package aiapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/quota"
)

// chat serves POST /v1/chat/completions.
func (s *Server) chat(w http.ResponseWriter, r *http.Request, x *exchange) {
	body, ok := s.readBody(w, r, x)
	if !ok {
		return
	}
	req, err := parseChatRequest(body)
	if err != nil {
		badRequest(w, err)
		return
	}
	x.model = req.model
	rt, ok := s.route(x.caller, req.model)
	if !ok {
		modelNotFound(w, req.model)
		return
	}
	p := s.providers[rt.Provider]
	maxTokens := req.capOutput(s.cfg.DefaultMaxTokens, s.outputCeiling(rt))
	limit, err := bound(req.bodyBytes, req.n, maxTokens)
	if err != nil {
		badRequest(w, err)
		return
	}
	res, ok := s.reserve(w, r, x, limit)
	if !ok {
		return
	}
	upstream := rt.UpstreamModel
	if upstream == "" {
		upstream = req.model
	}
	preq := &provider.ChatRequest{
		RequestID: x.id, Model: upstream, ResponseModel: req.model, Body: req.body,
		Messages: req.messages, MaxTokens: maxTokens, N: req.n, Stream: req.stream,
		Temperature: req.temperature, TopP: req.topP, Stop: req.stop,
	}
	ctx, cancel := s.upstreamContext(r, rt)
	defer cancel()

	if req.stream {
		st, err := p.ChatStream(ctx, preq)
		if err != nil {
			s.upstreamFailed(w, r, ctx, x, res, req, err)
			return
		}
		defer st.Close()
		s.stream(w, r, ctx, x, res, req, st)
		return
	}
	resp, err := p.Chat(ctx, preq)
	if err != nil {
		s.upstreamFailed(w, r, ctx, x, res, req, err)
		return
	}
	u := estimate(req.bodyBytes, resp.OutputBytes)
	if resp.Usage != nil {
		u = *resp.Usage
	}
	// Settled before the 200 is written: every answer a caller got is in
	// the ledger, even if the process dies right after.
	if err := s.settle(r, x, res, u); err != nil {
		x.err = err
		writeError(w, http.StatusInternalServerError, typeServer, codeInternal, "", "The server could not record the usage.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(resp.Body)
}

// upstreamFailed answers a call that failed before producing anything. The
// reservation is released, except when the caller went away: the upstream
// may have read the prompt, so the prompt's estimate is settled.
func (s *Server) upstreamFailed(w http.ResponseWriter, r *http.Request, ctx context.Context, x *exchange, res quota.Reservation, req *chatRequest, err error) {
	x.err = err
	status, typ, code, msg := failure(r, ctx, err)
	if status == 499 {
		x.status = status
		if serr := s.settle(r, x, res, estimate(req.bodyBytes, 0)); serr != nil {
			x.err = errors.Join(err, serr)
		}
		return
	}
	s.release(r, x, res)
	writeError(w, status, typ, code, "", msg)
}

// stream relays a streamed completion as server-sent events, and settles
// what was produced, however the stream ends.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, ctx context.Context, x *exchange, res quota.Reservation, req *chatRequest, st provider.Stream) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // no proxy between here and the caller may hold tokens back
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()

	var (
		usage   *provider.Usage
		output  int64
		failed  error
		gone    bool
		buf     bytes.Buffer
		writeTo = func(data []byte) bool {
			// A caller that stops reading must not hold the stream (and
			// its reservation) open: each event has its own deadline.
			if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.StreamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return false
			}
			buf.Reset()
			buf.WriteString("data: ")
			buf.Write(data)
			buf.WriteString("\n\n")
			if _, err := w.Write(buf.Bytes()); err != nil {
				return false
			}
			err := rc.Flush()
			return err == nil || errors.Is(err, http.ErrNotSupported)
		}
	)
	for {
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
		s.keepAlive(r, x, &res)
		if ch.UsageOnly && !req.includeUsage {
			continue
		}
		if !writeTo(ch.Data) {
			gone = true
			break
		}
	}
	st.Close()

	u := estimate(req.bodyBytes, output)
	if usage != nil {
		u = *usage
		if u.CompletionTokens == 0 && output > 0 {
			u.CompletionTokens = estimate(0, output).CompletionTokens
		}
	}
	if failed != nil || gone {
		x.err = failed
		status, typ, code, msg := failure(r, ctx, failed)
		if gone || status == 499 {
			x.status = 499
		}
		// What was produced is settled; a stream that failed before any
		// text is released like a failed call.
		if x.status != 499 && output == 0 && usage == nil {
			s.release(r, x, res)
		} else if err := s.settle(r, x, res, u); err != nil {
			x.err = errors.Join(failed, err)
		}
		if x.status != 499 {
			writeTo(errorEvent(typ, code, msg))
		}
		return
	}
	if err := s.settle(r, x, res, u); err != nil {
		x.err = err
		writeTo(errorEvent(typeServer, codeInternal, "The server could not record the usage."))
		return
	}
	writeTo([]byte("[DONE]"))
}
