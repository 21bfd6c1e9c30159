// Package openai is the provider for any OpenAI-compatible upstream (OpenAI,
// vLLM, Ollama, llama.cpp's server): it forwards the caller's request body
// untouched but for the model id, the output cap and, when streaming, the
// request for a usage report, and reads usage back. Requests in OpenAI's
// Responses API are forwarded to its /responses as they were admitted
// (Forward), unless the upstream has none (Client.NoResponses).
//
// It never forwards the caller's headers (its credential stays at the AI
// API), and the errors it returns show the caller neither the upstream's
// URL nor its key.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
)

// Output cap fields of the chat completions API.
const (
	MaxTokens           = "max_tokens"
	MaxCompletionTokens = "max_completion_tokens"
)

// DefaultMaxResponseBytes bounds a non-streamed answer when
// Client.MaxResponseBytes is zero.
const DefaultMaxResponseBytes = 64 << 20

// Client is an OpenAI-compatible upstream. Safe for concurrent use; do not
// change its fields once it is in use.
type Client struct {
	// BaseURL is the API root that /chat/completions and /embeddings are
	// appended to, e.g. https://api.openai.com/v1 or
	// http://127.0.0.1:8000/v1. Required.
	BaseURL string
	// APIKey is sent as a bearer token. Empty: no Authorization header
	// (local servers).
	APIKey string
	// MaxTokensField names the field that carries the output cap when the
	// caller set none: MaxTokens (empty means this; vLLM, Ollama,
	// llama.cpp) or MaxCompletionTokens (OpenAI's reasoning models refuse
	// max_tokens).
	MaxTokensField string
	// HTTPClient sends the requests; deadlines come from the context. Nil:
	// a client of this Client's own, whose transport keeps up to 256 idle
	// connections to the upstream (http.DefaultTransport keeps 2, which
	// under concurrency means a new connection per request).
	HTTPClient *http.Client
	// MaxResponseBytes bounds a non-streamed answer. Zero:
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// NoResponses says the upstream has no /responses endpoint (llama.cpp,
	// older vLLM): Forwards reports false for the Responses protocol, and
	// the AI API translates Responses requests through chat completions.
	// False: Responses requests are forwarded to BaseURL/responses.
	NoResponses bool

	once sync.Once
	def  *http.Client
}

var _ provider.Provider = (*Client)(nil)

func (c *Client) client() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	c.once.Do(func() {
		c.def = provider.NewHTTPClient()
	})
	return c.def
}

// chatBody is the body the AI API admitted with the upstream model, the
// output cap when the caller set none, and for streams the usage report
// asked for; re-encoded, so that the upstream reads what was admitted.
func (c *Client) chatBody(r *provider.ChatRequest) ([]byte, error) {
	body := r.Body.Clone()
	body.Set("model", r.Model)
	if _, ok := body.Get(MaxTokens); !ok {
		if _, ok := body.Get(MaxCompletionTokens); !ok {
			field := c.MaxTokensField
			if field == "" {
				field = MaxTokens
			}
			body.Set(field, r.MaxTokens)
		}
	}
	if r.Stream {
		// Usage is what gets settled: ask for it whatever the caller did.
		opts := &ijson.Object{}
		if raw, ok := body.Get("stream_options"); ok {
			var err error
			if opts, err = ijson.ParseObject(raw, "stream_options"); err != nil {
				return nil, err
			}
		}
		opts.Set("include_usage", true)
		body.Set("stream_options", json.RawMessage(opts.Bytes()))
	}
	return body.Bytes(), nil
}

// post sends body to path and returns the response when its status is 200;
// any other answer becomes an *provider.Error.
func (c *Client) post(ctx context.Context, path string, body []byte, stream bool, upstreamModel, responseModel string) (*http.Response, error) {
	resp, err := c.send(ctx, call{method: http.MethodPost, path: path, body: body, stream: stream, upstreamModel: upstreamModel, responseModel: responseModel})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &provider.Error{Kind: provider.Upstream, Message: fmt.Sprintf("the upstream failed (status %d)", resp.StatusCode),
			Err: fmt.Errorf("openai: upstream answered %s", resp.Status)}
	}
	return resp, nil
}

// call is one request upstream.
type call struct {
	method, path string
	// body is nil for none.
	body   []byte
	stream bool
	// header's values are sent beside the ones send sets itself.
	header http.Header
	// The upstream's model id, replaced by the caller's name for it in
	// messages the caller sees.
	upstreamModel, responseModel string
	// notFoundIsBadRequest makes a 404 the caller's mistake (an id that
	// does not exist) rather than the upstream's failure (no such route).
	notFoundIsBadRequest bool
}

// send makes a request and returns the response when its status is 2xx;
// any other answer becomes an *provider.Error whose Message names neither
// the upstream nor its key.
func (c *Client) send(ctx context.Context, r call) (*http.Response, error) {
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, strings.TrimSuffix(c.BaseURL, "/")+r.path, rd)
	if err != nil {
		return nil, provider.Wrap(provider.Upstream, "the upstream is misconfigured", err)
	}
	for name, values := range r.header {
		req.Header[http.CanonicalHeaderKey(name)] = append([]string(nil), values...)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.stream {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	// Only this client's credential goes upstream, whatever header holds.
	for _, name := range []string{"Authorization", "X-Api-Key", "Cookie", "Proxy-Authorization"} {
		req.Header.Del(name)
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(ctxErr, context.DeadlineExceeded) {
			return nil, ctxErr // the caller went away
		}
		return nil, provider.Wrap(provider.Upstream, "the upstream could not be reached", err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	// The cause goes to logs, which must not hold the upstream's key either
	// (a 401 body may quote it).
	cause := fmt.Errorf("openai: upstream answered %s: %.512s", resp.Status, c.scrubKey(string(msg)))
	switch code := resp.StatusCode; {
	case code == http.StatusBadRequest, code == http.StatusRequestEntityTooLarge, code == http.StatusUnprocessableEntity,
		code == http.StatusNotFound && r.notFoundIsBadRequest:
		return nil, &provider.Error{Kind: provider.BadRequest, Message: c.sanitize(upstreamMessage(msg), r.upstreamModel, r.responseModel), Err: cause}
	case code == http.StatusGatewayTimeout, code == http.StatusRequestTimeout:
		return nil, &provider.Error{Kind: provider.Timeout, Message: "the upstream did not answer in time", Err: cause}
	}
	return nil, &provider.Error{Kind: provider.Upstream, Message: fmt.Sprintf("the upstream failed (status %d)", resp.StatusCode), Err: cause}
}

// upstreamMessage is error.message of an OpenAI error body, or a generic
// text when there is none.
func upstreamMessage(body []byte) string {
	if m := gjson.GetBytes(body, "error.message"); m.Type == gjson.String && m.Str != "" {
		return m.Str
	}
	if m := gjson.GetBytes(body, "message"); m.Type == gjson.String && m.Str != "" {
		return m.Str
	}
	return "the upstream refused the request"
}

// sanitize is provider.Sanitize for this client.
func (c *Client) sanitize(msg, upstreamModel, responseModel string) string {
	return provider.Sanitize(msg, c.APIKey, c.BaseURL, upstreamModel, responseModel)
}

// scrubKey removes the upstream's key from s, for causes that are logged.
func (c *Client) scrubKey(s string) string { return provider.ScrubKey(s, c.APIKey) }

// readAnswer reads a non-streamed answer whose presence field must exist.
func (c *Client) readAnswer(resp *http.Response, must string) ([]byte, error) {
	defer resp.Body.Close()
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, provider.Wrap(provider.Upstream, "the upstream's answer was cut off", err)
	}
	if int64(len(body)) > limit {
		return nil, provider.Errorf(provider.Upstream, "the upstream's answer is over %d bytes", limit)
	}
	if !gjson.ValidBytes(body) || !gjson.GetBytes(body, must).IsArray() {
		return nil, &provider.Error{Kind: provider.Upstream, Message: "the upstream's answer is malformed",
			Err: fmt.Errorf("openai: answer without %s: %.256s", must, body)}
	}
	return body, nil
}

// usageOf reads an OpenAI usage object (prompt_tokens_details.cached_tokens
// as the cache reads); nil when absent.
func usageOf(v gjson.Result) *provider.Usage {
	if !v.IsObject() {
		return nil
	}
	prompt := max(v.Get("prompt_tokens").Int(), 0)
	return &provider.Usage{
		PromptTokens:     prompt,
		CompletionTokens: max(v.Get("completion_tokens").Int(), 0),
		// Cache hits are part of prompt_tokens; never more than it.
		CacheReadTokens: min(max(v.Get("prompt_tokens_details.cached_tokens").Int(), 0), prompt),
	}
}

func renamed(body []byte, model string) ([]byte, error) {
	if m := gjson.GetBytes(body, "model"); m.Exists() && m.Str == model {
		return body, nil
	}
	return sjson.SetBytes(body, "model", model)
}

// Chat sends a non-streamed chat completion.
func (c *Client) Chat(ctx context.Context, r *provider.ChatRequest) (*provider.Response, error) {
	body, err := c.chatBody(r)
	if err != nil {
		return nil, provider.Wrap(provider.BadRequest, "the request body could not be rewritten", err)
	}
	resp, err := c.post(ctx, "/chat/completions", body, false, r.Model, r.ResponseModel)
	if err != nil {
		return nil, err
	}
	answer, err := c.readAnswer(resp, "choices")
	if err != nil {
		return nil, err
	}
	// Everything a choice's message holds is output: text, tool calls,
	// refusals, reasoning, audio.
	var out int64
	gjson.GetBytes(answer, "choices.#.message").ForEach(func(_, v gjson.Result) bool {
		out += int64(len(v.Raw))
		return true
	})
	if answer, err = renamed(answer, r.ResponseModel); err != nil {
		return nil, provider.Wrap(provider.Upstream, "the upstream's answer is malformed", err)
	}
	return &provider.Response{Body: answer, Usage: usageOf(gjson.GetBytes(answer, "usage")), OutputBytes: out}, nil
}

// ChatStream sends a streamed chat completion.
func (c *Client) ChatStream(ctx context.Context, r *provider.ChatRequest) (provider.Stream, error) {
	body, err := c.chatBody(r)
	if err != nil {
		return nil, provider.Wrap(provider.BadRequest, "the request body could not be rewritten", err)
	}
	resp, err := c.post(ctx, "/chat/completions", body, true, r.Model, r.ResponseModel)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, &provider.Error{Kind: provider.Upstream, Message: "the upstream did not stream",
			Err: fmt.Errorf("openai: streamed answer of type %q", ct)}
	}
	return &stream{ctx: ctx, body: resp.Body, events: provider.NewEventReader(resp.Body), model: r.ResponseModel, scrub: c.scrubKey}, nil
}

type stream struct {
	ctx    context.Context
	body   io.ReadCloser
	events *provider.EventReader
	model  string
	scrub  func(string) string // for causes, which are logged
	done   bool
}

func (s *stream) Next() (provider.Chunk, error) {
	if s.done {
		return provider.Chunk{}, io.EOF
	}
	_, data, err := s.events.Next()
	if err != nil {
		if ctxErr := s.ctx.Err(); ctxErr != nil && !errors.Is(ctxErr, context.DeadlineExceeded) {
			return provider.Chunk{}, ctxErr
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // every OpenAI-compatible server ends with [DONE]
		}
		return provider.Chunk{}, provider.Wrap(provider.Upstream, "the upstream's stream broke off", err)
	}
	if string(data) == "[DONE]" {
		s.done = true
		return provider.Chunk{}, io.EOF
	}
	if !gjson.ValidBytes(data) {
		return provider.Chunk{}, &provider.Error{Kind: provider.Upstream, Message: "the upstream's stream is malformed",
			Err: fmt.Errorf("openai: event is not JSON: %.256s", s.scrub(string(data)))}
	}
	if e := gjson.GetBytes(data, "error"); e.Exists() {
		return provider.Chunk{}, &provider.Error{Kind: provider.Upstream, Message: "the upstream failed mid-stream",
			Err: fmt.Errorf("openai: error event: %.512s", s.scrub(e.Raw))}
	}
	ch := provider.Chunk{}
	choices := gjson.GetBytes(data, "choices")
	ch.Usage = usageOf(gjson.GetBytes(data, "usage"))
	ch.UsageOnly = ch.Usage != nil && len(choices.Array()) == 0
	// Every kind of delta is output: content, tool-call arguments,
	// reasoning, refusals, audio. The JSON around them counts too: an
	// estimate from it may run high, never to zero.
	choices.ForEach(func(_, c gjson.Result) bool {
		if d := c.Get("delta"); d.Exists() && d.Raw != "{}" {
			ch.OutputBytes += int64(len(d.Raw))
		}
		return true
	})
	// data is the reader's buffer: the chunk gets a copy of its own.
	if ch.Data, err = renamed(bytes.Clone(data), s.model); err != nil {
		return provider.Chunk{}, provider.Wrap(provider.Upstream, "the upstream's stream is malformed", err)
	}
	return ch, nil
}

func (s *stream) Close() error {
	s.done = true
	return s.body.Close()
}

// Embeddings sends an embeddings request.
func (c *Client) Embeddings(ctx context.Context, r *provider.EmbeddingsRequest) (*provider.Response, error) {
	body := r.Body.Clone()
	body.Set("model", r.Model)
	resp, err := c.post(ctx, "/embeddings", body.Bytes(), false, r.Model, r.ResponseModel)
	if err != nil {
		return nil, err
	}
	answer, err := c.readAnswer(resp, "data")
	if err != nil {
		return nil, err
	}
	if answer, err = renamed(answer, r.ResponseModel); err != nil {
		return nil, provider.Wrap(provider.Upstream, "the upstream's answer is malformed", err)
	}
	return &provider.Response{Body: answer, Usage: usageOf(gjson.GetBytes(answer, "usage"))}, nil
}
