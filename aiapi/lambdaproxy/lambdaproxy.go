// Package lambdaproxy runs an http.Handler as an API Gateway Lambda proxy
// integration. It turns REST API events (payload format 1.0) and HTTP API
// events (2.0) into *http.Request values, with the authorizer's context
// (requestContext.authorizer, or .authorizer.lambda for HTTP APIs) carried
// into the request's context by aiapi.WithAuthorizerContext, and the
// handler's answer back into the proxy response.
//
// REST API answers are streamed when Handler.Streaming is on: the status and
// headers go first (the application/vnd.awslambda.http-integration-response
// prelude of aws-lambda-go's events.APIGatewayProxyStreamingResponse), then
// the body as the handler writes it, so server-sent events reach the client
// as they are produced. HTTP API answers are always buffered: HTTP APIs have
// no response streaming.
//
// It never inspects or logs a body or a credential; it trusts the event,
// which only API Gateway (through the Lambda service) can send.
package lambdaproxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aigate/aigate/aiapi"
)

// Handler is the Lambda function: lambda.Start(h.Invoke).
type Handler struct {
	// Handler serves the requests. Required.
	Handler http.Handler
	// Streaming answers REST API events with a streamed response. It must
	// match the integration: on, its URI must be the Lambda's
	// .../2021-11-15/functions/{arn}/response-streaming-invocations and its
	// responseTransferMode STREAM; off (a plain AWS_PROXY integration), the
	// answer is buffered and returned whole. HTTP API events are buffered
	// either way.
	Streaming bool
}

// Invoke answers one proxy event with an *events.APIGatewayProxyResponse,
// an *events.APIGatewayProxyStreamingResponse or an
// *events.APIGatewayV2HTTPResponse. An error means the event was not a
// proxy event (API Gateway answers 502).
func (h *Handler) Invoke(ctx context.Context, event json.RawMessage) (any, error) {
	var probe struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(event, &probe); err != nil {
		return nil, fmt.Errorf("lambdaproxy: decode event: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(event))
	// Numbers in the authorizer's context keep their text (no 1e+06).
	dec.UseNumber()
	if probe.Version == "2.0" {
		var ev events.APIGatewayV2HTTPRequest
		if err := dec.Decode(&ev); err != nil {
			return nil, fmt.Errorf("lambdaproxy: decode HTTP API event: %w", err)
		}
		r, err := httpRequest(ctx, &ev)
		if err != nil {
			return nil, err
		}
		w := newBufferedWriter()
		h.Handler.ServeHTTP(w, r)
		return w.v2Response(), nil
	}
	var ev events.APIGatewayProxyRequest
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("lambdaproxy: decode REST API event: %w", err)
	}
	r, err := restRequest(ctx, &ev)
	if err != nil {
		return nil, err
	}
	if h.Streaming {
		return h.stream(r), nil
	}
	w := newBufferedWriter()
	h.Handler.ServeHTTP(w, r)
	return w.restResponse(), nil
}

// authorizerContext stringifies an authorizer context as API Gateway gives
// REST integrations: strings as they are, numbers and booleans as their
// JSON text, anything else as JSON.
func authorizerContext(m map[string]any) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case nil:
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			if v {
				out[k] = "true"
			} else {
				out[k] = "false"
			}
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

func body(s string, base64Encoded bool) (io.Reader, int64, error) {
	if !base64Encoded {
		return strings.NewReader(s), int64(len(s)), nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, 0, fmt.Errorf("lambdaproxy: body: %w", err)
	}
	return bytes.NewReader(b), int64(len(b)), nil
}

func restRequest(ctx context.Context, ev *events.APIGatewayProxyRequest) (*http.Request, error) {
	if m := authorizerContext(ev.RequestContext.Authorizer); m != nil {
		ctx = aiapi.WithAuthorizerContext(ctx, m)
	}
	q := url.Values{}
	for k, vs := range ev.MultiValueQueryStringParameters {
		q[k] = vs
	}
	for k, v := range ev.QueryStringParameters {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	u := &url.URL{Path: ev.Path, RawQuery: q.Encode()}
	b, n, err := body(ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	r, err := http.NewRequestWithContext(ctx, ev.HTTPMethod, u.String(), b)
	if err != nil {
		return nil, fmt.Errorf("lambdaproxy: request: %w", err)
	}
	r.ContentLength = n
	for k, vs := range ev.MultiValueHeaders {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	for k, v := range ev.Headers {
		if r.Header.Get(k) == "" {
			r.Header.Set(k, v)
		}
	}
	r.Host = r.Header.Get("Host")
	r.RemoteAddr = ev.RequestContext.Identity.SourceIP
	r.RequestURI = u.RequestURI()
	return r, nil
}

func httpRequest(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	if a := ev.RequestContext.Authorizer; a != nil {
		if m := authorizerContext(a.Lambda); m != nil {
			ctx = aiapi.WithAuthorizerContext(ctx, m)
		}
	}
	u := &url.URL{Path: ev.RawPath, RawQuery: ev.RawQueryString}
	b, n, err := body(ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	r, err := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, u.String(), b)
	if err != nil {
		return nil, fmt.Errorf("lambdaproxy: request: %w", err)
	}
	r.ContentLength = n
	for k, v := range ev.Headers {
		r.Header.Set(k, v)
	}
	for _, c := range ev.Cookies {
		r.Header.Add("Cookie", c)
	}
	r.Host = r.Header.Get("Host")
	r.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	r.RequestURI = u.RequestURI()
	return r, nil
}

// bufferedWriter collects an answer to return whole.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedWriter() *bufferedWriter { return &bufferedWriter{header: http.Header{}} }

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *bufferedWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// Flush does nothing: the answer is returned whole.
func (w *bufferedWriter) Flush() {}

func (w *bufferedWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// encodedBody is the body as a proxy response carries it: text as it is,
// anything else in base64.
func (w *bufferedWriter) encodedBody() (string, bool) {
	if utf8.Valid(w.body.Bytes()) {
		return w.body.String(), false
	}
	return base64.StdEncoding.EncodeToString(w.body.Bytes()), true
}

func (w *bufferedWriter) restResponse() *events.APIGatewayProxyResponse {
	b, enc := w.encodedBody()
	return &events.APIGatewayProxyResponse{
		StatusCode: w.statusCode(), MultiValueHeaders: w.header, Body: b, IsBase64Encoded: enc,
	}
}

func (w *bufferedWriter) v2Response() *events.APIGatewayV2HTTPResponse {
	b, enc := w.encodedBody()
	resp := &events.APIGatewayV2HTTPResponse{StatusCode: w.statusCode(), Headers: map[string]string{}, Body: b, IsBase64Encoded: enc}
	for k, vs := range w.header {
		if k == "Set-Cookie" {
			resp.Cookies = vs
			continue
		}
		resp.Headers[k] = strings.Join(vs, ",")
	}
	return resp
}

// stream runs the handler in a goroutine and returns as soon as it has
// written its status: the Lambda runtime then reads the body from the pipe
// as the handler writes it.
func (h *Handler) stream(r *http.Request) *events.APIGatewayProxyStreamingResponse {
	pr, pw := io.Pipe()
	w := &streamingWriter{header: http.Header{}, pipe: pw, ready: make(chan struct{})}
	go func() {
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("lambdaproxy: handler panicked: %v", p)
				w.WriteHeader(http.StatusInternalServerError)
			}
			w.WriteHeader(http.StatusOK) // a handler that wrote nothing
			pw.CloseWithError(err)
		}()
		h.Handler.ServeHTTP(w, r)
	}()
	<-w.ready
	headers := make(map[string][]string, len(w.sent))
	for k, vs := range w.sent {
		headers[k] = vs
	}
	return &events.APIGatewayProxyStreamingResponse{StatusCode: w.status, MultiValueHeaders: headers, Body: pr}
}

// streamingWriter writes the body into the pipe the Lambda runtime reads.
// Every Write reaches the runtime (io.Pipe has no buffer), so Flush has
// nothing to do.
type streamingWriter struct {
	header http.Header
	sent   http.Header // the header as it was when the status was written
	pipe   *io.PipeWriter
	once   sync.Once
	status int
	ready  chan struct{}
}

func (w *streamingWriter) Header() http.Header { return w.header }

func (w *streamingWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.status, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *streamingWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	n, err := w.pipe.Write(b)
	if errors.Is(err, io.ErrClosedPipe) {
		err = fmt.Errorf("lambdaproxy: the response stream is closed: %w", err)
	}
	return n, err
}

func (w *streamingWriter) Flush() { w.WriteHeader(http.StatusOK) }
