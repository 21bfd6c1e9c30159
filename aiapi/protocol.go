package aiapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/quota"
)

// inbound is one protocol callers speak to the AI API: how its bodies are
// read, how its failures are answered, how a chat answer is rendered in it
// (translation), and how an answer in it from an upstream that speaks it is
// metered (pass-through). Every POST that reaches a model (chat
// completions, embeddings, Responses, Messages) takes the one admit path,
// serveProtocol: read once, route, bound, reserve, call, settle, and fail
// one way.
type inbound struct {
	protocol provider.Protocol
	// ledgerProtocol, when set, is what the usage ledger records as the
	// request's protocol instead of protocol: embeddings come in by
	// OpenAI's API but are no chat completions.
	ledgerProtocol string
	// path is the upstream path of a forwarded POST. Empty: never
	// forwarded (chat completions reach every provider through
	// Provider.Chat, which passes the admitted body through).
	path string
	// parse reads a body once (ijson) into what the handler admits.
	parse func(body []byte) (*admission, error)
	// writeError answers a failure in the protocol's error shape.
	writeError errorWriter
	// limitHeaders, when set, adds the protocol's own rate-limit headers
	// beside OpenAI's x-ratelimit-*.
	limitHeaders func(h http.Header, st quota.Status, now time.Time)
	// fromChat renders a chat.completion as the protocol's answer. Nil:
	// the provider's answer is the protocol's (chat completions,
	// embeddings).
	fromChat func(chat []byte, id, model string, created int64) ([]byte, error)
	// newStream renders a chat stream as the protocol's events (nil for
	// embeddings, which never stream).
	newStream func(id, model string, created int64) streamRenderer
	// usageOf reads a forwarded answer's usage (nil: none reported).
	usageOf func(answer []byte) *provider.Usage
	// newMeter returns a reader of a forwarded stream's usage and output,
	// event by event.
	newMeter func() func(eventType string, data []byte) (*provider.Usage, int64)
	// rename names the caller's model in a forwarded answer or event.
	rename func(data []byte, model string) []byte
}

// admission is what the AI API read from a request in any protocol: enough
// to route it, bound it, and either forward it or translate it.
type admission struct {
	body      *ijson.Object
	model     string
	stream    bool
	bodyBytes int64
	// choices is the number of answers asked for, each capped at the
	// output cap (chat completions' n); 0 is 1.
	choices int64
	// includeUsage relays the usage-only chunk of a chat stream (chat
	// completions' stream_options.include_usage).
	includeUsage bool
	// capOutput writes the admitted output cap into body (lowered to the
	// ceiling, or the default when the caller set none) and returns it.
	// Nil: the request produces no output tokens (embeddings).
	capOutput func(dflt, ceiling int64) int64
	// chat is the request as a chat completion (Body, Messages, sampling)
	// for a provider that does not forward the protocol: chat completions'
	// own, or a translation, which may refuse what chat completions cannot
	// say.
	chat func(maxTokens int64) (*provider.ChatRequest, error)
	// embed, when set, is the request for Provider.Embeddings instead.
	embed *provider.EmbeddingsRequest
	// promptTokens, when above 0, is the input's exact token count,
	// settled when the upstream reports no usage (embeddings of token
	// arrays); otherwise the prompt is estimated from bodyBytes.
	promptTokens int64
}

// translated is an admission's chat for a protocol translated through chat
// completions: one answer, no sampling parameters of chat's own.
func translated(chat func(maxTokens int64) (*ijson.Object, []provider.Message, error)) func(int64) (*provider.ChatRequest, error) {
	return func(maxTokens int64) (*provider.ChatRequest, error) {
		body, msgs, err := chat(maxTokens)
		if err != nil {
			return nil, err
		}
		return &provider.ChatRequest{Body: body, Messages: msgs}, nil
	}
}

// usage is what a complete answer settles: the upstream's count, else an
// estimate from the body and the output.
func (a *admission) usage(reported *provider.Usage, outputBytes int64) provider.Usage {
	if reported != nil {
		return *reported
	}
	u := estimate(a.bodyBytes, outputBytes)
	if a.promptTokens > 0 {
		u.PromptTokens = a.promptTokens
	}
	return u
}

// streamRenderer turns chat chunks into a protocol's events.
type streamRenderer interface {
	start() []sseEvent
	chunk(data []byte) ([]sseEvent, error)
	complete(u provider.Usage, finishReason string) []sseEvent
	// fail ends a stream that failed after its 200: typ and code are
	// OpenAI's error type and code (see failure), for protocols that
	// carry them.
	fail(typ, code, message string, u provider.Usage) []sseEvent
}

// sseEvent is one server-sent event; an empty typ writes a data line only
// (chat completions).
type sseEvent struct {
	typ  string
	data []byte
}

// ledgerName is the protocol the usage ledger records for a request that
// came in by in.
func (in *inbound) ledgerName() string {
	if in.ledgerProtocol != "" {
		return in.ledgerProtocol
	}
	return string(in.protocol)
}

// sseWriter writes server-sent events to a caller, flushing each, with a
// write deadline per event: a caller that stops reading ends its stream.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     bytes.Buffer
}

// startSSE sends the 200 and the event-stream headers.
func startSSE(w http.ResponseWriter, timeout time.Duration) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // no proxy between here and the caller may hold tokens back
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
	sw.rc.Flush()
	return sw
}

// write sends events; false when the caller is gone.
func (sw *sseWriter) write(events ...sseEvent) bool {
	for _, e := range events {
		if err := sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		sw.buf.Reset()
		if e.typ != "" {
			sw.buf.WriteString("event: ")
			sw.buf.WriteString(e.typ)
			sw.buf.WriteByte('\n')
		}
		sw.buf.WriteString("data: ")
		sw.buf.Write(e.data)
		sw.buf.WriteString("\n\n")
		if _, err := sw.w.Write(sw.buf.Bytes()); err != nil {
			return false
		}
		if err := sw.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
	}
	return true
}

// serveProtocol serves a POST in an inbound protocol: the one admit path
// (read once, route, bound, reserve), then forward, translate or call
// through, and settle.
func (s *Server) serveProtocol(w http.ResponseWriter, r *http.Request, x *exchange, in *inbound) {
	body, ok := s.readBody(w, r, x, in.writeError)
	if !ok {
		return
	}
	a, err := in.parse(body)
	if err != nil {
		badRequest(w, err, in.writeError)
		return
	}
	x.model = a.model
	rt, ok := s.route(x.caller, a.model)
	if !ok {
		modelNotFound(w, a.model, in.writeError)
		return
	}
	var maxTokens int64
	if a.capOutput != nil {
		maxTokens = a.capOutput(s.cfg.DefaultMaxTokens, s.outputCeiling(rt))
	}
	a.choices = max(a.choices, 1)
	limit, err := bound(a.bodyBytes, a.choices, maxTokens)
	if err != nil {
		badRequest(w, err, in.writeError)
		return
	}
	p := s.providers[rt.Provider]
	upstream := rt.UpstreamModel
	if upstream == "" {
		upstream = a.model
	}
	f, forwards := p.(provider.Forwarder)
	forwards = forwards && in.path != "" && f.Forwards(in.protocol)
	var preq *provider.ChatRequest
	if !forwards && a.embed == nil {
		// Translated: what cannot be said in chat completions is refused
		// before anything is reserved.
		if preq, err = a.chat(maxTokens); err != nil {
			badRequest(w, err, in.writeError)
			return
		}
		preq.RequestID, preq.Model, preq.ResponseModel = x.id, upstream, a.model
		preq.MaxTokens, preq.N, preq.Stream = maxTokens, a.choices, a.stream
	}
	res, ok := s.reserve(w, r, x, limit, a.choices*maxTokens, upstream, in)
	if !ok {
		return
	}
	ctx, cancel := s.upstreamContext(r.Context(), rt.Provider)
	defer cancel()
	switch {
	case forwards:
		out := a.body.Clone()
		out.Set("model", upstream)
		s.forward(ctx, w, x, &res, in, a, f, &provider.ForwardRequest{
			RequestID: x.id, Protocol: in.protocol, Method: http.MethodPost, Path: in.path,
			Body: out.Bytes(), Stream: a.stream, Header: forwardedHeaders(r.Header),
			Model: upstream, ResponseModel: a.model,
		})
	case a.embed != nil:
		er := *a.embed
		er.RequestID, er.Model, er.ResponseModel = x.id, upstream, a.model
		resp, err := p.Embeddings(ctx, &er)
		if err != nil {
			s.failedBeforeOutput(ctx, w, x, res, a.bodyBytes, err, in.writeError)
			return
		}
		s.answer(ctx, w, x, res, in, resp.Body, a.usage(resp.Usage, resp.OutputBytes))
	case a.stream:
		st, err := p.ChatStream(ctx, preq)
		if err != nil {
			s.failedBeforeOutput(ctx, w, x, res, a.bodyBytes, err, in.writeError)
			return
		}
		defer st.Close()
		s.translateStream(ctx, w, x, &res, in, a, st)
	default:
		resp, err := p.Chat(ctx, preq)
		if err != nil {
			s.failedBeforeOutput(ctx, w, x, res, a.bodyBytes, err, in.writeError)
			return
		}
		answer := resp.Body
		if in.fromChat != nil {
			if answer, err = in.fromChat(resp.Body, x.id, a.model, s.cfg.Now().Unix()); err != nil {
				s.release(ctx, x, res)
				x.err = err
				in.writeError(w, http.StatusBadGateway, typeServer, codeUpstreamError, "", "The model's answer could not be translated.")
				return
			}
		}
		s.answer(ctx, w, x, res, in, answer, a.usage(resp.Usage, resp.OutputBytes))
	}
}

// answer settles a complete answer, then sends it: settled before the 200
// is written, so every answer a caller got is in the ledger, even if the
// process dies right after.
func (s *Server) answer(ctx context.Context, w http.ResponseWriter, x *exchange, res quota.Reservation, in *inbound, body []byte, u provider.Usage) {
	if err := s.settle(ctx, x, res, u); err != nil {
		x.err = err
		in.writeError(w, http.StatusInternalServerError, typeServer, codeInternal, "", "The server could not record the usage.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// forwardedHeaders are the caller's headers an upstream of the same
// protocol needs: Anthropic's version and betas (the provider filters the
// betas it refuses). Never a credential.
func forwardedHeaders(in http.Header) http.Header {
	out := http.Header{}
	for _, name := range []string{"Anthropic-Version", "Anthropic-Beta"} {
		if v := in.Values(name); len(v) > 0 {
			out[name] = append([]string(nil), v...)
		}
	}
	return out
}

// failedBeforeOutput answers an upstream call that failed before producing
// anything. The reservation is released, except when the caller went away:
// the upstream may have read the prompt, so the prompt's estimate is
// settled.
func (s *Server) failedBeforeOutput(ctx context.Context, w http.ResponseWriter, x *exchange, res quota.Reservation, promptBytes int64, err error, ew errorWriter) {
	x.err = err
	status, typ, code, msg := failure(ctx, err)
	if status == 499 {
		x.status = status
		if serr := s.settle(ctx, x, res, estimate(promptBytes, 0)); serr != nil {
			x.err = errors.Join(err, serr)
		}
		return
	}
	s.release(ctx, x, res)
	ew(w, status, typ, code, "", msg)
}

// settleStream settles a stream however it ended: what was produced is
// charged (the upstream's usage, or the estimate when it reported none or
// no output count), a stream that failed before any output is released.
// It returns whether the caller should still be told of a failure.
func (s *Server) settleStream(ctx context.Context, x *exchange, res quota.Reservation, promptBytes, output int64, usage *provider.Usage, failed error, gone bool) (tell bool, u provider.Usage) {
	u = estimate(promptBytes, output)
	if usage != nil {
		u = *usage
		if u.CompletionTokens == 0 && output > 0 {
			u.CompletionTokens = estimate(0, output).CompletionTokens
		}
	}
	if failed == nil && !gone {
		if err := s.settle(ctx, x, res, u); err != nil {
			x.err = err
			return true, u
		}
		return false, u
	}
	x.err = failed
	status, _, _, _ := failure(ctx, failed)
	if gone || status == 499 {
		x.status = 499
	}
	if x.status != 499 && output == 0 && usage == nil {
		s.release(ctx, x, res)
	} else if err := s.settle(ctx, x, res, u); err != nil {
		x.err = errors.Join(failed, err)
	}
	return x.status != 499, u
}

// translateStream renders a provider's chat stream in the caller's
// protocol, and settles what was produced, however the stream ends.
func (s *Server) translateStream(ctx context.Context, w http.ResponseWriter, x *exchange, res *quota.Reservation, in *inbound, a *admission, st provider.Stream) {
	sw := startSSE(w, s.cfg.StreamWriteTimeout.Std())
	tr := in.newStream(x.id, a.model, s.cfg.Now().Unix())
	var (
		usage  *provider.Usage
		output int64
		failed error
		finish string
	)
	gone := !sw.write(tr.start()...)
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
		s.keepAlive(ctx, x, res)
		if f := gjson.GetBytes(ch.Data, "choices.0.finish_reason"); f.Type == gjson.String {
			finish = f.Str
		}
		if ch.UsageOnly && !a.includeUsage {
			continue
		}
		events, err := tr.chunk(ch.Data)
		if err != nil {
			failed = provider.Wrap(provider.Upstream, "the model's stream could not be translated", err)
			break
		}
		gone = !sw.write(events...)
	}
	st.Close()
	tell, u := s.settleStream(ctx, x, *res, a.bodyBytes, output, usage, failed, gone)
	switch {
	case failed == nil && !gone && !tell:
		sw.write(tr.complete(u, finish)...)
	case tell && failed == nil:
		sw.write(tr.fail(typeServer, codeInternal, "The server could not record the usage.", u)...)
	case tell:
		_, typ, code, msg := failure(ctx, failed)
		sw.write(tr.fail(typ, code, msg, u)...)
	}
}

// maxForwardedAnswer bounds a forwarded non-streamed answer.
const maxForwardedAnswer = 64 << 20

// forward sends the admitted request to an upstream that speaks its
// protocol and relays the answer, metered from the protocol's own usage
// fields and renamed to the caller's model.
func (s *Server) forward(ctx context.Context, w http.ResponseWriter, x *exchange, res *quota.Reservation, in *inbound, a *admission, f provider.Forwarder, fr *provider.ForwardRequest) {
	resp, err := f.Forward(ctx, fr)
	if err != nil {
		s.failedBeforeOutput(ctx, w, x, *res, a.bodyBytes, err, in.writeError)
		return
	}
	defer resp.Body.Close()
	if !a.stream {
		answer, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedAnswer+1))
		if err == nil && len(answer) > maxForwardedAnswer {
			err = fmt.Errorf("aiapi: forwarded answer over %d bytes", maxForwardedAnswer)
		}
		if err != nil {
			s.failedBeforeOutput(ctx, w, x, *res, a.bodyBytes, provider.Wrap(provider.Upstream, "the upstream's answer was cut off", err), in.writeError)
			return
		}
		s.answer(ctx, w, x, *res, in, in.rename(answer, a.model), a.usage(in.usageOf(answer), int64(len(answer))))
		return
	}
	sw := startSSE(w, s.cfg.StreamWriteTimeout.Std())
	events := provider.NewEventReader(resp.Body)
	meter := in.newMeter()
	var (
		usage  *provider.Usage
		output int64
		failed error
		gone   bool
	)
	for !gone {
		typ, data, err := events.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if callerGone(ctx) {
				err = ctx.Err()
			}
			failed = provider.Wrap(provider.Upstream, "the upstream's stream broke off", err)
			break
		}
		u, out := meter(typ, data)
		if u != nil {
			usage = u
		}
		output += out
		s.keepAlive(ctx, x, res)
		gone = !sw.write(sseEvent{typ: typ, data: in.rename(data, a.model)})
	}
	tell, _ := s.settleStream(ctx, x, *res, a.bodyBytes, output, usage, failed, gone)
	if tell {
		// The stream is the upstream's: its own events carried any failure
		// it reported; a break in it is told in the protocol's shape.
		_, typ, code, msg := failure(ctx, failed)
		if failed == nil {
			typ, code, msg = typeServer, codeInternal, "The server could not record the usage."
		}
		tr := in.newStream(x.id, a.model, s.cfg.Now().Unix())
		sw.write(tr.fail(typ, code, msg, provider.Usage{})...)
	}
}
