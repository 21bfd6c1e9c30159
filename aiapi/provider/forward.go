package provider

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"
)

// Protocol is an API protocol the AI API serves and a provider may speak.
type Protocol string

const (
	// ProtocolChat is OpenAI's chat completions (/v1/chat/completions):
	// the protocol every Provider speaks through Chat and ChatStream, and
	// the one translations go through.
	ProtocolChat Protocol = "chat"
	// ProtocolResponses is OpenAI's Responses API (/v1/responses).
	ProtocolResponses Protocol = "responses"
	// ProtocolMessages is Anthropic's Messages API (/v1/messages).
	ProtocolMessages Protocol = "messages"
)

// Forwarder is a provider that speaks an inbound protocol other than chat
// itself: requests in that protocol are forwarded to it with their bodies
// as the AI API admitted them (re-encoded by ijson, the model replaced),
// instead of being translated through chat completions.
type Forwarder interface {
	// Forwards reports whether the provider serves p natively.
	Forwards(p Protocol) bool
	// Forward sends r upstream. A status other than 2xx is returned as an
	// *Error (its Message fit for the caller), never as a response, so
	// that the AI API answers every failure in the caller's protocol.
	Forward(ctx context.Context, r *ForwardRequest) (*ForwardResponse, error)
}

// ForwardRequest is one request forwarded in its own protocol.
type ForwardRequest struct {
	RequestID string
	Protocol  Protocol
	// Method and Path: the path below the API root, e.g. "/responses",
	// "/responses/resp_123", "/messages", "/messages/count_tokens".
	Method, Path string
	// Body is the admitted body, already re-encoded with the upstream
	// model; nil for a GET.
	Body []byte
	// Stream says the answer is server-sent events.
	Stream bool
	// Header holds only what the protocol forwards (anthropic-version,
	// anthropic-beta as the caller sent them; the provider drops the betas
	// its upstream refuses); never the caller's credential.
	Header http.Header
	// Model is the upstream model id; ResponseModel the caller's name for
	// it, which the answer must name instead.
	Model, ResponseModel string
}

// ForwardResponse is an upstream's 2xx answer. The caller closes Body.
type ForwardResponse struct {
	Status int
	// Header holds the upstream's Content-Type and request id headers.
	Header http.Header
	Body   io.ReadCloser
}

// NewHTTPClient is the HTTP client a provider uses when it is given none:
// deadlines come from each call's context, and the transport keeps up to
// 256 idle connections to the upstream (http.DefaultTransport keeps 2,
// which under concurrency means a new connection per request).
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}
