// Package anthropic is the provider for Anthropic's Messages API, at
// Anthropic or at any base URL that speaks it (a gateway, a compatible
// server). It serves chat completions by translation (text, images, system
// prompts, tools, tool calls and their results, streaming, usage with
// cache tokens) and forwards Messages API requests as they were admitted,
// with only the anthropic-version and anthropic-beta headers, less the
// betas the upstream refuses.
//
// Its key goes only into the x-api-key header: never into configuration
// (it comes from an environment variable), errors or logs. The errors it
// returns show the caller neither the base URL nor the key; an upstream's
// 401 or 403 is about aigate's key, not the caller's, and is an Upstream
// failure (a 502) whatever type it names.
package anthropic

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
	"time"

	"github.com/aigate/aigate/aiapi/messages"
	"github.com/aigate/aigate/aiapi/provider"
)

const (
	// DefaultBaseURL is Anthropic's API, used when Client.BaseURL is empty.
	DefaultBaseURL = "https://api.anthropic.com"
	// Version is the anthropic-version sent when the caller sent none
	// (translated requests, forwarded ones without the header): the only
	// version of the Messages API.
	Version = "2023-06-01"
	// DefaultMaxResponseBytes bounds a non-streamed answer when
	// Client.MaxResponseBytes is zero.
	DefaultMaxResponseBytes = 64 << 20
)

// Headers of the Messages API.
const (
	HeaderAPIKey    = "X-Api-Key"
	HeaderVersion   = "Anthropic-Version"
	HeaderBeta      = "Anthropic-Beta"
	HeaderRequestID = "Request-Id"
)

// Client is a Messages API upstream. Safe for concurrent use; do not
// change its fields once it is in use.
type Client struct {
	// BaseURL is the root that /v1/messages is appended to, as in
	// ANTHROPIC_BASE_URL: https://api.anthropic.com, or a compatible
	// server's root. Empty: DefaultBaseURL.
	BaseURL string
	// APIKey is sent as x-api-key. Empty: no key (local servers).
	APIKey string
	// RefusedBetas are the anthropic-beta values this upstream refuses,
	// as IAM-style globs ("interleaved-thinking-*"): they are dropped from
	// forwarded requests. Amazon Bedrock's and Google Vertex's Anthropic
	// endpoints refuse betas they do not offer, with a 400 for the whole
	// request, where Anthropic's API ignores none.
	RefusedBetas []string
	// HTTPClient sends the requests; deadlines come from the context. Nil:
	// a client of this Client's own, keeping up to 256 idle connections
	// to the upstream.
	HTTPClient *http.Client
	// MaxResponseBytes bounds a non-streamed answer. Zero:
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Now is the clock for "created". Nil: time.Now.
	Now func() time.Time

	once sync.Once
	def  *http.Client
}

var (
	_ provider.Provider  = (*Client)(nil)
	_ provider.Forwarder = (*Client)(nil)
)

func (c *Client) client() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	c.once.Do(func() {
		c.def = provider.NewHTTPClient()
	})
	return c.def
}

func (c *Client) baseURL() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimSuffix(c.BaseURL, "/")
}

func (c *Client) created() int64 {
	if c.Now != nil {
		return c.Now().Unix()
	}
	return time.Now().Unix()
}

// call names the models of one upstream call, for error messages.
type call struct {
	upstreamModel, responseModel string
}

// post sends body to path (below /v1) with the given Messages API headers
// and the key; an answer other than 2xx becomes an *provider.Error.
func (c *Client) post(ctx context.Context, path string, body []byte, header http.Header, stream bool, m call) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL()+"/v1"+path, bytes.NewReader(body))
	if err != nil {
		return nil, provider.Wrap(provider.Upstream, "the upstream is misconfigured", errors.New(c.scrub(err.Error())))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if c.APIKey != "" {
		req.Header.Set(HeaderAPIKey, c.APIKey)
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
	return nil, c.statusError(resp.StatusCode, msg, m)
}

// Anthropic's documented error types and their statuses: only these are
// passed on as UpstreamType, so that an upstream cannot put words of its
// own into a handler's answers.
var errorTypes = map[string]int{
	"invalid_request_error": 400,
	"authentication_error":  401,
	"billing_error":         402,
	"permission_error":      403,
	"not_found_error":       404,
	"request_too_large":     413,
	"rate_limit_error":      429,
	"api_error":             500,
	"timeout_error":         504,
	"overloaded_error":      529,
}

// upstreamError reads an error answer: {"type":"error","error":{"type","message"}}.
func upstreamError(body []byte) messages.ErrorObject {
	var e struct {
		Error messages.ErrorObject `json:"error"`
	}
	json.Unmarshal(body, &e) // unreadable: no type, no message
	if _, ok := errorTypes[e.Error.Type]; !ok {
		e.Error.Type = ""
	}
	return e.Error
}

// statusError maps an error status: the caller's mistakes (400, 413, 422)
// to BadRequest with the upstream's message, made fit for the caller;
// 408 and 504 to Timeout; the rest (401/403: aigate's key; 429 and 529:
// the upstream's capacity; 5xx) to Upstream.
func (c *Client) statusError(status int, body []byte, m call) *provider.Error {
	e := upstreamError(body)
	// The cause goes to logs, which must not hold the key either (a 401
	// body may quote it).
	cause := fmt.Errorf("anthropic: upstream answered %d: %.512s", status, c.scrub(string(body)))
	pe := &provider.Error{Status: status, UpstreamType: e.Type, Err: cause}
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		pe.Kind, pe.Message = provider.BadRequest, c.sanitize(e.Message, m)
		if pe.Message == "" {
			pe.Message = "the upstream refused the request"
		}
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		pe.Kind, pe.Message = provider.Timeout, "the upstream did not answer in time"
	default:
		pe.Kind, pe.Message = provider.Upstream, fmt.Sprintf("the upstream failed (status %d)", status)
		if e.Type != "" {
			pe.Message = fmt.Sprintf("the upstream failed (status %d, %s)", status, e.Type)
		}
	}
	return pe
}

// streamError maps an error event of a stream whose 200 was sent: Status
// stays 0, the type says what failed.
func (c *Client) streamError(e *messages.ErrorObject, m call) *provider.Error {
	typ := e.Type
	if _, ok := errorTypes[typ]; !ok {
		typ = ""
	}
	pe := &provider.Error{UpstreamType: typ,
		Err: fmt.Errorf("anthropic: error event %q: %.512s", typ, c.scrub(e.Message))}
	switch typ {
	case "invalid_request_error", "request_too_large":
		pe.Kind, pe.Message = provider.BadRequest, c.sanitize(e.Message, m)
		if pe.Message == "" {
			pe.Message = "the upstream refused the request"
		}
	case "timeout_error":
		pe.Kind, pe.Message = provider.Timeout, "the upstream did not answer in time"
	default:
		pe.Kind, pe.Message = provider.Upstream, "the upstream failed mid-stream"
		if typ != "" {
			pe.Message = "the upstream failed mid-stream (" + typ + ")"
		}
	}
	return pe
}

// sanitize is provider.Sanitize for this client.
func (c *Client) sanitize(msg string, m call) string {
	return provider.Sanitize(msg, c.APIKey, c.baseURL(), m.upstreamModel, m.responseModel)
}

// scrub removes the key from s, for causes that are logged.
func (c *Client) scrub(s string) string { return provider.ScrubKey(s, c.APIKey) }

// translatedHeader is what a translated request carries.
func translatedHeader() http.Header {
	return http.Header{HeaderVersion: {Version}}
}

// messagesBody translates a chat request into a Messages API body.
func messagesBody(r *provider.ChatRequest) ([]byte, error) {
	mr, err := translateRequest(r)
	if err != nil {
		return nil, err
	}
	return mustMarshal(mr), nil
}

// Chat translates a chat completion into a Messages API call and its
// answer back.
func (c *Client) Chat(ctx context.Context, r *provider.ChatRequest) (*provider.Response, error) {
	body, err := messagesBody(r)
	if err != nil {
		return nil, err
	}
	m := call{r.Model, r.ResponseModel}
	resp, err := c.post(ctx, "/messages", body, translatedHeader(), false, m)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, provider.Wrap(provider.Upstream, "the upstream's answer was cut off", err)
	}
	if int64(len(raw)) > limit {
		return nil, provider.Errorf(provider.Upstream, "the upstream's answer is over %d bytes", limit)
	}
	var a messages.Answer
	if err := json.Unmarshal(raw, &a); err != nil || a.Type != "message" {
		return nil, &provider.Error{Kind: provider.Upstream, Message: "the upstream's answer is malformed",
			Err: fmt.Errorf("anthropic: answer is not a message: %.256s", c.scrub(string(raw)))}
	}
	out, u, n := translateAnswer(&a, "chatcmpl-"+r.RequestID, r.ResponseModel, c.created())
	return &provider.Response{Body: out, Usage: u, OutputBytes: n}, nil
}

// ChatStream translates a streamed chat completion into a streamed Messages
// API call, and its events into chat.completion.chunk events.
func (c *Client) ChatStream(ctx context.Context, r *provider.ChatRequest) (provider.Stream, error) {
	body, err := messagesBody(r)
	if err != nil {
		return nil, err
	}
	m := call{r.Model, r.ResponseModel}
	resp, err := c.post(ctx, "/messages", body, translatedHeader(), true, m)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, &provider.Error{Kind: provider.Upstream, Message: "the upstream did not stream",
			Err: fmt.Errorf("anthropic: streamed answer of type %q", ct)}
	}
	return &stream{
		ctx: ctx, body: resp.Body, events: provider.NewEventReader(resp.Body),
		chunks: chunker{id: "chatcmpl-" + r.RequestID, model: r.ResponseModel, created: c.created()},
		fail:   func(e *messages.ErrorObject) *provider.Error { return c.streamError(e, m) },
		scrub:  c.scrub,
		tools:  map[int]int{}, argued: map[int]bool{},
	}, nil
}

// Embeddings: the Messages API has none.
func (c *Client) Embeddings(ctx context.Context, r *provider.EmbeddingsRequest) (*provider.Response, error) {
	return nil, provider.Errorf(provider.BadRequest, "model %s does not offer embeddings", r.ResponseModel)
}

// Forwards reports that Messages API requests are forwarded as they are.
func (c *Client) Forwards(p provider.Protocol) bool {
	return p == provider.ProtocolMessages
}

// Forward sends a Messages API request (POST /messages or
// /messages/count_tokens) upstream with the caller's anthropic-version
// (Version when none) and its anthropic-beta values less RefusedBetas,
// nothing else of the caller's, and the key. The answer is the upstream's,
// unchanged: the caller renames its model (messages.RenameModel) and
// meters it (messages.UsageOf, messages.StreamMeter).
func (c *Client) Forward(ctx context.Context, r *provider.ForwardRequest) (*provider.ForwardResponse, error) {
	if r.Protocol != provider.ProtocolMessages || r.Method != http.MethodPost ||
		(r.Path != "/messages" && r.Path != "/messages/count_tokens") {
		return nil, &provider.Error{Kind: provider.BadRequest, Message: "the upstream does not serve this request",
			Err: fmt.Errorf("anthropic: cannot forward %s %s %s", r.Protocol, r.Method, r.Path)}
	}
	m := call{r.Model, r.ResponseModel}
	resp, err := c.post(ctx, r.Path, r.Body, c.forwardHeader(r.Header), r.Stream, m)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); r.Stream && !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, &provider.Error{Kind: provider.Upstream, Message: "the upstream did not stream",
			Err: fmt.Errorf("anthropic: streamed answer of type %q", ct)}
	}
	h := http.Header{}
	for _, k := range []string{"Content-Type", HeaderRequestID} {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return &provider.ForwardResponse{Status: resp.StatusCode, Header: h, Body: resp.Body}, nil
}

// forwardHeader keeps of h only anthropic-version and anthropic-beta, the
// latter without the betas this upstream refuses.
func (c *Client) forwardHeader(h http.Header) http.Header {
	out := http.Header{}
	version := h.Get(HeaderVersion)
	if version == "" {
		version = Version
	}
	out.Set(HeaderVersion, version)
	if betas := c.FilterBetas(h.Values(HeaderBeta)); betas != "" {
		out.Set(HeaderBeta, betas)
	}
	return out
}

// FilterBetas joins anthropic-beta header values (each a comma-separated
// list) into one, leaving out empty names and those RefusedBetas match
// (messages.FilterBetas: names or globs, without regard to case).
func (c *Client) FilterBetas(values []string) string {
	return messages.FilterBetas(strings.Join(values, ","), c.RefusedBetas)
}
