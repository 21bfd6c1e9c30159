package openai_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/openai"
	"github.com/aigate/aigate/aiapi/responses"
)

// seen is what the upstream received.
type seen struct {
	method, path, body string
	header             http.Header
	calls              int
}

func responsesUpstream(t *testing.T, h http.HandlerFunc) (*openai.Client, *seen) {
	got := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.path, got.body, got.header = r.Method, r.URL.Path, string(b), r.Header.Clone()
		got.calls++
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return &openai.Client{BaseURL: srv.URL + "/v1", APIKey: "sk-secret"}, got
}

func forward(method, path, body string, stream bool) *provider.ForwardRequest {
	r := &provider.ForwardRequest{RequestID: "r1", Protocol: provider.ProtocolResponses, Method: method, Path: path,
		Stream: stream, Model: "gpt-internal", ResponseModel: "public"}
	if body != "" {
		r.Body = []byte(body)
	}
	return r
}

func read(t *testing.T, resp *provider.ForwardResponse) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestForwardsTheResponsesProtocolOnly(t *testing.T) {
	c := &openai.Client{BaseURL: "http://127.0.0.1:1/v1"}
	if !c.Forwards(provider.ProtocolResponses) || c.Forwards(provider.ProtocolMessages) || c.Forwards(provider.ProtocolChat) {
		t.Error("the openai provider must forward Responses, and only Responses")
	}
	c.NoResponses = true
	if c.Forwards(provider.ProtocolResponses) {
		t.Error("an upstream without /responses must not be forwarded Responses")
	}
	_, err := c.Forward(t.Context(), forward(http.MethodPost, "/responses", `{}`, false))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.BadRequest {
		t.Errorf("forwarding to an upstream without /responses: %v", err)
	}
}

func TestForwardSendsTheAdmittedBodyAndOnlyItsHeaders(t *testing.T) {
	answer := `{"id":"resp_1","object":"response","model":"gpt-internal-2026","output":[],"usage":{"input_tokens":3,"output_tokens":1}}`
	c, got := responsesUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req_up")
		w.Header().Set("Openai-Organization", "org-secret")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	})
	body := `{"model":"gpt-internal","input":"hi","max_output_tokens":5}`
	r := forward(http.MethodPost, "/responses", body, false)
	r.Header = http.Header{"Openai-Beta": {"responses=v1"}, "Authorization": {"Bearer caller-key"}, "X-Api-Key": {"caller-key"}}
	resp, err := c.Forward(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	out := read(t, resp)
	if got.method != http.MethodPost || got.path != "/v1/responses" || got.body != body {
		t.Errorf("upstream got %s %s %s", got.method, got.path, got.body)
	}
	if got.header.Get("Authorization") != "Bearer sk-secret" || got.header.Get("X-Api-Key") != "" || got.header.Get("Openai-Beta") != "responses=v1" {
		t.Errorf("upstream headers %v", got.header)
	}
	if gjson.Get(out, "model").Str != "public" || gjson.Get(out, "id").Str != "resp_1" {
		t.Errorf("answer %s: the model must be the caller's name", out)
	}
	if u := responses.Usage([]byte(out)); u == nil || *u != (provider.Usage{PromptTokens: 3, CompletionTokens: 1}) {
		t.Errorf("usage %+v", u)
	}
	if resp.Status != 200 || resp.Header.Get("X-Request-Id") != "req_up" || resp.Header.Get("Openai-Organization") != "" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, headers %v", resp.Status, resp.Header)
	}
}

func TestForwardWithoutAKeySendsNoCredential(t *testing.T) {
	c, got := responsesUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"output":[]}`)
	})
	c.APIKey = ""
	r := forward(http.MethodPost, "/responses", `{}`, false)
	r.Header = http.Header{"Authorization": {"Bearer caller-key"}}
	resp, err := c.Forward(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := got.header.Get("Authorization"); a != "" {
		t.Errorf("upstream got Authorization %q", a)
	}
}

func TestForwardPassesAStreamAsItComes(t *testing.T) {
	events := "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"model\":\"gpt-internal\"}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"delta\":\"hi\"}\n\n"
	c, got := responsesUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		io.WriteString(w, events)
	})
	resp, err := c.Forward(t.Context(), forward(http.MethodPost, "/responses", `{"stream":true}`, true))
	if err != nil {
		t.Fatal(err)
	}
	if out := read(t, resp); out != events {
		t.Errorf("stream %q, want the upstream's events as they came", out)
	}
	if got.header.Get("Accept") != "text/event-stream" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("accept %q, content type %q", got.header.Get("Accept"), resp.Header.Get("Content-Type"))
	}
}

func TestForwardGetsAStoredResponse(t *testing.T) {
	c, got := responsesUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"resp_abc-1","object":"response","model":"gpt-internal","output":[]}`)
	})
	resp, err := c.Forward(t.Context(), forward(http.MethodGet, "/responses/resp_abc-1", "", false))
	if err != nil {
		t.Fatal(err)
	}
	out := read(t, resp)
	if got.method != http.MethodGet || got.path != "/v1/responses/resp_abc-1" || got.body != "" || got.header.Get("Content-Type") != "" {
		t.Errorf("upstream got %s %s %q (content type %q)", got.method, got.path, got.body, got.header.Get("Content-Type"))
	}
	if gjson.Get(out, "model").Str != "public" {
		t.Errorf("answer %s", out)
	}
}

func TestForwardRefusesPathsBeyondResponses(t *testing.T) {
	c, got := responsesUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"output":[]}`)
	})
	for _, r := range []*provider.ForwardRequest{
		forward(http.MethodGet, "/responses/../files", "", false),
		forward(http.MethodGet, "/responses/resp_1/input_items", "", false),
		forward(http.MethodGet, "/responses/resp_1?x=1", "", false),
		forward(http.MethodGet, "/responses/", "", false),
		forward(http.MethodGet, "/responses/resp_1", "", true),
		forward(http.MethodDelete, "/responses/resp_1", "", false),
		forward(http.MethodPost, "/chat/completions", `{}`, false),
		forward(http.MethodPost, "/responses", "", false),
	} {
		_, err := c.Forward(t.Context(), r)
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.BadRequest {
			t.Errorf("%s %s (stream %v): %v", r.Method, r.Path, r.Stream, err)
		}
	}
	if got.calls != 0 {
		t.Errorf("the upstream was called %d times", got.calls)
	}
}

func TestForwardFailuresAreClassifiedAndScrubbed(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		status             int
		body               string
		stream             bool
		kind               provider.Kind
		says               string
	}{
		{"bad request", "POST", "/responses", 400, `{"error":{"message":"gpt-internal at %s rejects sk-secret's input"}}`, false, provider.BadRequest, "public at "},
		{"unknown previous response", "POST", "/responses", 400, `{"error":{"message":"Previous response with id 'resp_x' not found."}}`, false, provider.BadRequest, "resp_x"},
		{"no /responses upstream", "POST", "/responses", 404, `404 page not found`, false, provider.Upstream, "status 404"},
		{"unknown id", "GET", "/responses/resp_x", 404, `{"error":{"message":"Response with id 'resp_x' not found."}}`, false, provider.BadRequest, "resp_x"},
		{"upstream key refused", "POST", "/responses", 401, `bad key sk-secret at %s`, false, provider.Upstream, "status 401"},
		{"server error", "POST", "/responses", 500, `oops at %s`, true, provider.Upstream, "status 500"},
		{"timeout", "POST", "/responses", 504, ``, true, provider.Timeout, "in time"},
		{"not a stream", "POST", "/responses", 200, `{"output":[]}`, true, provider.Upstream, "did not stream"},
		{"malformed answer", "POST", "/responses", 200, `{"id":"resp_1"}`, false, provider.Upstream, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var url string
			c, _ := responsesUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, tc.body, url)
			})
			url = strings.TrimSuffix(c.BaseURL, "/v1")
			body := ""
			if tc.method == "POST" {
				body = `{}`
			}
			_, err := c.Forward(t.Context(), forward(tc.method, tc.path, body, tc.stream))
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Kind != tc.kind || !strings.Contains(pe.Message, tc.says) {
				t.Fatalf("error = %#v, want kind %d saying %q", err, tc.kind, tc.says)
			}
			if strings.Contains(err.Error(), "sk-secret") {
				t.Errorf("the error, which is logged, holds the upstream's key: %v", err)
			}
			for _, leak := range []string{url, "127.0.0.1", "sk-secret", "gpt-internal"} {
				if strings.Contains(pe.Message, leak) {
					t.Errorf("message %q shows %q", pe.Message, leak)
				}
			}
		})
	}
}
