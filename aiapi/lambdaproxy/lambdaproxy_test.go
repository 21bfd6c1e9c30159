package lambdaproxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/lambdaproxy"
	"github.com/aigate/aigate/aiapi/provider/builtin"
	"github.com/aigate/aigate/store/sqlite"
)

func fixture(t *testing.T, name string) json.RawMessage {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seen records the request a handler got.
type seen struct {
	r    *http.Request
	body string
	ctx  map[string]string
}

func recorder(s *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.r = r
		b, _ := io.ReadAll(r.Body)
		s.body = string(b)
		s.ctx, _ = aiapi.AuthorizerContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ok":true}`)
	})
}

func TestRESTEventBecomesARequestAndItsAnswerAProxyResponse(t *testing.T) {
	var s seen
	h := &lambdaproxy.Handler{Handler: recorder(&s)}
	out, err := h.Invoke(t.Context(), fixture(t, "apigw-request.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.r.Method != "POST" || s.r.URL.Path != "/hello/world" || s.r.URL.Query().Get("name") != "me" ||
		s.r.Header.Get("headerName") != "headerValue" || s.body != "{\r\n\t\"a\": 1\r\n}" || s.r.Host != "gy415nuibc.execute-api.us-east-1.amazonaws.com" {
		t.Errorf("request = %s %s %v body %q", s.r.Method, s.r.URL, s.r.Header, s.body)
	}
	// Context values reach the integration as strings, with principalId.
	if s.ctx["principalId"] != "admin" || s.ctx["clientId"] != "1" || s.ctx["clientName"] != "Exata" {
		t.Errorf("authorizer context = %v", s.ctx)
	}
	resp, ok := out.(*events.APIGatewayProxyResponse)
	if !ok {
		t.Fatalf("answer is %T", out)
	}
	if resp.StatusCode != 201 || resp.Body != `{"ok":true}` || strings.Join(resp.MultiValueHeaders["X-Multi"], ",") != "a,b" || resp.IsBase64Encoded {
		t.Errorf("response = %+v", resp)
	}
}

func TestHTTPAPIEventBecomesARequestAndItsAnswerAV2Response(t *testing.T) {
	var s seen
	h := &lambdaproxy.Handler{Handler: recorder(&s), Streaming: true} // HTTP APIs buffer anyway
	out, err := h.Invoke(t.Context(), fixture(t, "apigw-v2-request-lambda-authorizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.r.Method != "GET" || s.r.URL.Path != "/my/path" || strings.Join(s.r.URL.Query()["parameter1"], ",") != "value1,value2" ||
		s.r.Header.Get("Header1") != "value1" || len(s.r.Cookies()) != 2 {
		t.Errorf("request = %s %s %v", s.r.Method, s.r.URL, s.r.Header)
	}
	if s.ctx["key"] != "value" {
		t.Errorf("authorizer context = %v", s.ctx)
	}
	resp, ok := out.(*events.APIGatewayV2HTTPResponse)
	if !ok {
		t.Fatalf("answer is %T", out)
	}
	if resp.StatusCode != 201 || resp.Body != `{"ok":true}` || resp.Headers["X-Multi"] != "a,b" {
		t.Errorf("response = %+v", resp)
	}
}

// The status and headers leave before the body is complete, and each write
// reaches the Lambda runtime at once: the handler below cannot write its
// second event until the reader has seen the first.
func TestRESTAnswersStreamAsTheyAreWritten(t *testing.T) {
	firstRead := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-firstRead:
		case <-time.After(10 * time.Second):
			return // buffered: the test fails below
		}
		io.WriteString(w, "data: second\n\n")
	})
	h := &lambdaproxy.Handler{Handler: handler, Streaming: true}
	out, err := h.Invoke(t.Context(), restEvent(t, "POST", "/v1/chat/completions", "{}", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(*events.APIGatewayProxyStreamingResponse)
	if !ok {
		t.Fatalf("answer is %T", out)
	}
	if resp.ContentType() != "application/vnd.awslambda.http-integration-response" {
		t.Errorf("content type %q", resp.ContentType())
	}
	br := bufio.NewReader(resp)
	prelude, err := br.ReadBytes(0)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		StatusCode        int                 `json:"statusCode"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	}
	if err := json.Unmarshal(bytes.TrimSuffix(prelude, []byte{0}), &p); err != nil || p.StatusCode != 200 || p.MultiValueHeaders["Content-Type"][0] != "text/event-stream" {
		t.Fatalf("prelude %q: %+v, %v", prelude, p, err)
	}
	if sep := make([]byte, 7); !readFull(br, sep) || !bytes.Equal(sep, make([]byte, 7)) {
		t.Fatalf("the prelude does not end with 8 zero bytes")
	}
	line, _ := br.ReadString('\n')
	if line != "data: first\n" {
		t.Fatalf("first line %q", line)
	}
	close(firstRead)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\ndata: second\n\n" {
		t.Errorf("rest %q, %v", rest, err)
	}
}

func readFull(r io.Reader, b []byte) bool {
	_, err := io.ReadFull(r, b)
	return err == nil
}

// restEvent is a REST proxy event as API Gateway sends it behind aigate's
// authorizer.
func restEvent(t *testing.T, method, path, body string, authorizer map[string]any) json.RawMessage {
	ev := events.APIGatewayProxyRequest{
		HTTPMethod: method, Path: path, Body: body, Resource: "/v1/{proxy+}",
		Headers:        map[string]string{"Content-Type": "application/json"},
		RequestContext: events.APIGatewayProxyRequestContext{Stage: "prod", Authorizer: authorizer},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func aiServer(t *testing.T) *aiapi.Server {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := aiapi.DefaultConfig()
	cfg.Ledger, cfg.Logger = st, slog.New(slog.DiscardHandler)
	cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
	srv, err := aiapi.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// What aigate's authorizer returns as context, as the event carries it
// (numbers as JSON numbers: the adapter stringifies them).
var authorizerContext = map[string]any{
	"principalId": "key1", "kind": "jwt", "models": "[\"echo\"]", "rpm": 60, "tpm": 100000,
	"tokensPerDay": 0, "tokensPerMonth": 0, "expiresAt": 0, "integrationLatency": 12,
}

func TestTheAIAPIAsALambda(t *testing.T) {
	srv := aiServer(t)
	stream := `{"model":"echo","stream":true,"messages":[{"role":"user","content":"one two three"}]}`
	plain := `{"model":"echo","messages":[{"role":"user","content":"one two three"}]}`

	t.Run("REST, buffered, through lambda.NewHandler", func(t *testing.T) {
		h := &lambdaproxy.Handler{Handler: srv}
		out, err := lambda.NewHandler(h.Invoke).Invoke(t.Context(), restEvent(t, "POST", "/v1/chat/completions", plain, authorizerContext))
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || gjson.Get(resp.Body, "choices.0.message.content").Str != "one two three" ||
			resp.MultiValueHeaders["X-Ratelimit-Limit-Requests"][0] != "60" {
			t.Errorf("response = %+v", resp)
		}
	})
	t.Run("REST, streamed", func(t *testing.T) {
		h := &lambdaproxy.Handler{Handler: srv, Streaming: true}
		out, err := h.Invoke(t.Context(), restEvent(t, "POST", "/v1/chat/completions", stream, authorizerContext))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(out.(io.Reader))
		if err != nil {
			t.Fatal(err)
		}
		prelude, body, ok := bytes.Cut(raw, make([]byte, 8))
		if !ok || !bytes.Contains(prelude, []byte(`"statusCode":200`)) || !bytes.Contains(prelude, []byte("text/event-stream")) {
			t.Fatalf("prelude %q", prelude)
		}
		if n := bytes.Count(body, []byte("data: ")); n != 6 || !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
			t.Errorf("%d events: %s", n, body)
		}
	})
	t.Run("REST, refused without authorizer context", func(t *testing.T) {
		h := &lambdaproxy.Handler{Handler: srv}
		out, err := h.Invoke(t.Context(), restEvent(t, "POST", "/v1/chat/completions", plain, nil))
		if err != nil {
			t.Fatal(err)
		}
		if resp := out.(*events.APIGatewayProxyResponse); resp.StatusCode != 500 {
			t.Errorf("status = %d, want 500", resp.StatusCode)
		}
	})
	t.Run("HTTP API, a stream is buffered", func(t *testing.T) {
		ev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RawPath: "/v1/chat/completions", Body: stream,
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"},
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: authorizerContext},
			},
		}
		payload, _ := json.Marshal(ev)
		h := &lambdaproxy.Handler{Handler: srv, Streaming: true}
		out, err := h.Invoke(t.Context(), payload)
		if err != nil {
			t.Fatal(err)
		}
		resp := out.(*events.APIGatewayV2HTTPResponse)
		if resp.StatusCode != 200 || resp.Headers["Content-Type"] != "text/event-stream" || !strings.HasSuffix(resp.Body, "data: [DONE]\n\n") {
			t.Errorf("response = %+v", resp)
		}
	})
}

func TestWhatIsNoProxyEventIsAnError(t *testing.T) {
	h := &lambdaproxy.Handler{Handler: http.NotFoundHandler()}
	for _, ev := range []string{`[]`, `{"version":"2.0","body":5}`, `{"httpMethod":"POST","path":"/","body":"%%%","isBase64Encoded":true}`} {
		if _, err := h.Invoke(t.Context(), json.RawMessage(ev)); err == nil {
			t.Errorf("%s: no error", ev)
		}
	}
}
