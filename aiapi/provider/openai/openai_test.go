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

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/openai"
)

func upstream(t *testing.T, h http.HandlerFunc) (*openai.Client, *string) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return &openai.Client{BaseURL: srv.URL + "/v1/", APIKey: "sk-secret"}, &got
}

func request(body string, stream bool) *provider.ChatRequest {
	return &provider.ChatRequest{RequestID: "r", Model: "internal-7b", ResponseModel: "public", Body: ijson.MustParse(body), MaxTokens: 99, N: 1, Stream: stream}
}

func TestRequestBodyIsTheCallersWithModelCapAndUsage(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		field      string
		stream     bool
		want       map[string]string
		absent     []string
	}{
		{"cap added", `{"model":"public","messages":[],"x":{"y":[1]}}`, "", false,
			map[string]string{"model": "internal-7b", "max_tokens": "99", "x": `{"y":[1]}`}, []string{"stream_options", "max_completion_tokens"}},
		{"cap in the configured field", `{"model":"public"}`, openai.MaxCompletionTokens, false,
			map[string]string{"max_completion_tokens": "99"}, []string{"max_tokens"}},
		{"caller's cap kept", `{"model":"public","max_tokens":5}`, "", false,
			map[string]string{"max_tokens": "5"}, []string{"max_completion_tokens"}},
		{"null cap replaced", `{"model":"public","max_tokens":null}`, "", false,
			map[string]string{"max_tokens": "99"}, nil},
		{"stream asks for usage", `{"model":"public","stream":true,"stream_options":{"include_obfuscation":false}}`, "", true,
			map[string]string{"stream_options.include_usage": "true", "stream_options.include_obfuscation": "false"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, got := upstream(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer sk-secret" || r.URL.Path != "/v1/chat/completions" {
					t.Errorf("%s %s with %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
				}
				if tc.stream {
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, "data: [DONE]\n\n")
					return
				}
				io.WriteString(w, `{"model":"internal-7b","choices":[]}`)
			})
			c.MaxTokensField = tc.field
			var err error
			if tc.stream {
				var st provider.Stream
				if st, err = c.ChatStream(t.Context(), request(tc.body, true)); err == nil {
					st.Close()
				}
			} else {
				_, err = c.Chat(t.Context(), request(tc.body, false))
			}
			if err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.want {
				if v := gjson.Get(*got, path); v.Raw != want && v.Str != want {
					t.Errorf("%s = %s, want %s in %s", path, v.Raw, want, *got)
				}
			}
			for _, path := range tc.absent {
				if gjson.Get(*got, path).Exists() {
					t.Errorf("%s present in %s", path, *got)
				}
			}
		})
	}
}

func TestAnswersAreRenamedAndCounted(t *testing.T) {
	c, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"model":"internal-7b","choices":[{"message":{"content":"12345"}},{"message":{"content":"678"}}],"usage":{"prompt_tokens":4,"completion_tokens":2}}`)
	})
	resp, err := c.Chat(t.Context(), request(`{}`, false))
	if err != nil {
		t.Fatal(err)
	}
	if gjson.GetBytes(resp.Body, "model").Str != "public" || resp.OutputBytes != int64(len(`{"content":"12345"}{"content":"678"}`)) || *resp.Usage != (provider.Usage{PromptTokens: 4, CompletionTokens: 2}) {
		t.Errorf("response %s, output %d, usage %+v", resp.Body, resp.OutputBytes, resp.Usage)
	}
}

func TestStreamChunks(t *testing.T) {
	c, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		io.WriteString(w, ": keep-alive\n\n")
		io.WriteString(w, `data: {"model":"internal-7b","choices":[{"delta":{"content":"ab"}}],"usage":null}`+"\n\n")
		io.WriteString(w, `data: {"model":"internal-7b","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}`+"\n\n")
		io.WriteString(w, "data: [DONE]\n\n")
	})
	st, err := c.ChatStream(t.Context(), request(`{"stream":true}`, true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first, err := st.Next()
	if err != nil || first.OutputBytes != int64(len(`{"content":"ab"}`)) || first.Usage != nil || first.UsageOnly || gjson.GetBytes(first.Data, "model").Str != "public" {
		t.Fatalf("first chunk %+v (%s), %v", first, first.Data, err)
	}
	last, err := st.Next()
	if err != nil || !last.UsageOnly || *last.Usage != (provider.Usage{PromptTokens: 3, CompletionTokens: 1}) {
		t.Fatalf("usage chunk %+v, %v", last, err)
	}
	if _, err := st.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after [DONE]: %v", err)
	}
}

// Output that is not delta.content costs tokens too: a stream cut before
// its usage report must not be estimated at zero (security review: 18 KB of
// tool-call arguments settled as 0 completion tokens).
func TestEveryKindOfOutputIsCounted(t *testing.T) {
	args := strings.Repeat(`{\"k\":1}`, 2000)
	deltas := []string{
		`{"tool_calls":[{"index":0,"function":{"arguments":"` + args + `"}}]}`,
		`{"reasoning_content":"` + strings.Repeat("think ", 500) + `"}`,
		`{"refusal":"` + strings.Repeat("no ", 500) + `"}`,
		`{"audio":{"data":"` + strings.Repeat("QUJD", 500) + `"}}`,
	}
	c, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range deltas {
			io.WriteString(w, `data: {"choices":[{"index":0,"delta":`+d+`}]}`+"\n\n")
		}
		io.WriteString(w, "data: [DONE]\n\n")
	})
	st, err := c.ChatStream(t.Context(), request(`{"stream":true}`, true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, d := range deltas {
		ch, err := st.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ch.OutputBytes < int64(len(d))-16 {
			t.Errorf("delta of %d bytes counted as %d: %.60s", len(d), ch.OutputBytes, d)
		}
	}
	nc, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c","function":{"name":"f","arguments":"`+args+`"}}]}}]}`)
	})
	resp, err := nc.Chat(t.Context(), request(`{}`, false))
	if err != nil {
		t.Fatal(err)
	}
	if resp.OutputBytes < int64(len(args)) {
		t.Errorf("tool-call answer counted as %d bytes, its arguments alone are %d", resp.OutputBytes, len(args))
	}
}

func TestUpstreamFailuresAreClassifiedAndScrubbed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   provider.Kind
		stream bool
	}{
		{"bad request", 400, `{"error":{"message":"internal-7b at %s rejects sk-secret's temperature"}}`, provider.BadRequest, false},
		{"unprocessable", 422, `{"message":"no"}`, provider.BadRequest, false},
		{"server error", 500, `oops at %s`, provider.Upstream, false},
		{"upstream key refused", 401, `bad key sk-secret`, provider.Upstream, false},
		{"gateway timeout", 504, ``, provider.Timeout, false},
		{"not a stream", 200, `{"choices":[]}`, provider.Upstream, true},
		{"stream broken off", 200, "data: {\"choices\":[]}\n\n", provider.Upstream, true},
		{"error event", 200, "data: {\"error\":{\"message\":\"at %s\"}}\n\n", provider.Upstream, true},
		{"malformed event", 200, "data: {nope\n\n", provider.Upstream, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var url string
			c, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.stream && tc.name != "not a stream" {
					w.Header().Set("Content-Type", "text/event-stream")
				}
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, tc.body, url)
			})
			url = strings.TrimSuffix(c.BaseURL, "/v1/")
			var err error
			if tc.stream {
				var st provider.Stream
				if st, err = c.ChatStream(t.Context(), request(`{}`, true)); err == nil {
					for err == nil {
						_, err = st.Next()
					}
					st.Close()
				}
			} else {
				_, err = c.Chat(t.Context(), request(`{}`, false))
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Kind != tc.kind {
				t.Fatalf("error = %v, want kind %d", err, tc.kind)
			}
			if strings.Contains(err.Error(), "sk-secret") {
				t.Errorf("the error, which is logged, holds the upstream's key: %v", err)
			}
			for _, leak := range []string{url, "127.0.0.1", "sk-secret", "internal-7b"} {
				if strings.Contains(pe.Message, leak) {
					t.Errorf("message %q shows %q", pe.Message, leak)
				}
			}
		})
	}
}

func TestUnreachableUpstreamIsAnUpstreamError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c := &openai.Client{BaseURL: srv.URL}
	var pe *provider.Error
	if _, err := c.Chat(t.Context(), request(`{}`, false)); !errors.As(err, &pe) || pe.Kind != provider.Upstream || strings.Contains(pe.Message, "127.0.0.1") {
		t.Errorf("error = %v", err)
	}
}

// OpenAI reports its prompt cache hits inside prompt_tokens: they are
// cache reads, priced apart (cheaper) when the request is settled.
func TestCachedPromptTokensAreCacheReads(t *testing.T) {
	c, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"model":"internal-7b","choices":[{"message":{"content":"ok"}}],"usage":{"prompt_tokens":2000,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1024}}}`)
	})
	resp, err := c.Chat(t.Context(), request(`{}`, false))
	if err != nil {
		t.Fatal(err)
	}
	if want := (provider.Usage{PromptTokens: 2000, CompletionTokens: 300, CacheReadTokens: 1024}); *resp.Usage != want {
		t.Errorf("usage %+v, want %+v", *resp.Usage, want)
	}
}
