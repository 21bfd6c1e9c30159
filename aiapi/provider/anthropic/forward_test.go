package anthropic_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/anthropic"
	"github.com/aigate/aigate/aiapi/provider/anthropic/anthropictest"
)

// Upstream errors keep their status and documented type, take a Kind the
// AI API answers with, and show the caller neither the key, nor the base
// URL, nor the upstream's model id.
func TestUpstreamErrorsAreMappedAndScrubbed(t *testing.T) {
	for _, tc := range []struct {
		status   int
		typ      string
		kind     provider.Kind
		wantType string
		passOn   bool // the upstream's message reaches the caller
	}{
		{400, "invalid_request_error", provider.BadRequest, "invalid_request_error", true},
		{413, "request_too_large", provider.BadRequest, "request_too_large", true},
		{422, "invalid_request_error", provider.BadRequest, "invalid_request_error", true},
		{401, "authentication_error", provider.Upstream, "authentication_error", false},
		{403, "permission_error", provider.Upstream, "permission_error", false},
		{404, "not_found_error", provider.Upstream, "not_found_error", false},
		{429, "rate_limit_error", provider.Upstream, "rate_limit_error", false},
		{500, "api_error", provider.Upstream, "api_error", false},
		{529, "overloaded_error", provider.Upstream, "overloaded_error", false},
		{504, "timeout_error", provider.Timeout, "timeout_error", false},
		{408, "", provider.Timeout, "api_error", false},      // the stand-in's default type
		{502, "made_up_error", provider.Upstream, "", false}, // undocumented types are not passed on
	} {
		s := anthropictest.NewServer(t)
		s.FailStatus, s.FailType = tc.status, tc.typ
		s.FailMessage = "model claude-upstream-1 refused at " + s.URL + "/v1/messages with key " + anthropictest.Key
		chat := func() error {
			_, err := client(s).Chat(t.Context(), chatRequest(`{"messages":[{"role":"user","content":"Hi"}]}`, false))
			return err
		}
		stream := func() error {
			_, err := client(s).ChatStream(t.Context(), chatRequest(`{"messages":[{"role":"user","content":"Hi"}]}`, true))
			return err
		}
		forward := func() error {
			_, err := client(s).Forward(t.Context(), &provider.ForwardRequest{Protocol: provider.ProtocolMessages, Method: "POST",
				Path: "/messages", Body: []byte(`{"model":"claude-upstream-1","max_tokens":5,"messages":[]}`), Model: "claude-upstream-1", ResponseModel: "public"})
			return err
		}
		for name, do := range map[string]func() error{"Chat": chat, "ChatStream": stream, "Forward": forward} {
			err := do()
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("%d %s: %s: err = %v", tc.status, tc.typ, name, err)
			}
			if pe.Kind != tc.kind || pe.Status != tc.status || pe.UpstreamType != tc.wantType {
				t.Errorf("%d %s: %s: kind %v, status %d, type %q; want %v, %d, %q", tc.status, tc.typ, name, pe.Kind, pe.Status, pe.UpstreamType, tc.kind, tc.status, tc.wantType)
			}
			if strings.Contains(err.Error(), anthropictest.Key) || strings.Contains(pe.Message, s.URL) || strings.Contains(pe.Message, strings.TrimPrefix(s.URL, "http://")) ||
				strings.Contains(pe.Message, "claude-upstream-1") {
				t.Errorf("%d: %s: error %q (message %q) shows a secret or the upstream", tc.status, name, err, pe.Message)
			}
			if passed := strings.Contains(pe.Message, "model public refused at [upstream]"); passed != tc.passOn {
				t.Errorf("%d: %s: message %q; upstream's message passed on: %v, want %v", tc.status, name, pe.Message, passed, tc.passOn)
			}
		}
	}
}

// An error event after the 200 ends the stream with an *Error of the
// event's type.
func TestErrorEventEndsTheStream(t *testing.T) {
	for typ, kind := range map[string]provider.Kind{
		"overloaded_error": provider.Upstream, "invalid_request_error": provider.BadRequest, "timeout_error": provider.Timeout,
	} {
		s := anthropictest.NewServer(t)
		s.CutAfter, s.CutWith = 4, typ
		st, err := client(s).ChatStream(t.Context(), chatRequest(`{"messages":[{"role":"user","content":"Hi"}]}`, true))
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := drain(t, st)
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != kind || pe.UpstreamType != typ || pe.Status != 0 {
			t.Errorf("%s: err = %v, want kind %v", typ, err, kind)
		}
		if len(chunks) != 2 || chunks[1].Usage == nil || chunks[1].Usage.PromptTokens != 12 {
			t.Errorf("%s: %d chunks before the error, want the role and a word with the usage so far", typ, len(chunks))
		}
	}
}

// Forward sends the body as given, the caller's anthropic-version and its
// betas less the refused ones, and the provider's key: nothing else of the
// caller's.
func TestForwardSendsOnlyMessagesHeadersAndTheKey(t *testing.T) {
	s := anthropictest.NewServer(t)
	c := s.Client()
	c.RefusedBetas = []string{"context-1m-*", "token-efficient-tools-2025-02-19"}
	body := `{"model":"claude-upstream-1","max_tokens":5,"messages":[{"role":"user","content":"Hi"}],"metadata":{"user_id":"u"},"x":[1,  2]}`
	resp, err := c.Forward(t.Context(), &provider.ForwardRequest{
		Protocol: provider.ProtocolMessages, Method: "POST", Path: "/messages", Body: []byte(body),
		Model: "claude-upstream-1", ResponseModel: "public",
		Header: http.Header{
			"Anthropic-Version": {"2023-06-01"},
			"Anthropic-Beta":    {"interleaved-thinking-2025-05-14, context-1m-2025-08-07", "token-efficient-tools-2025-02-19,,fine-grained-tool-streaming-2025-05-14"},
			"Authorization":     {"Bearer caller-secret"},
			"X-Api-Key":         {"caller-key"},
			"Cookie":            {"session=1"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Status != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Request-Id") != "req_test_1" ||
		len(resp.Header) != 2 || !strings.Contains(string(answer), `"model":"claude-upstream-1"`) {
		t.Errorf("answer %d %v %s", resp.Status, resp.Header, answer)
	}
	got := s.Requests()[0]
	if got.Path != "/v1/messages" || string(got.Body) != body {
		t.Errorf("sent %s %s", got.Path, got.Body)
	}
	want := http.Header{
		"X-Api-Key":         {anthropictest.Key},
		"Anthropic-Version": {"2023-06-01"},
		"Anthropic-Beta":    {"interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"},
	}
	for k, v := range want {
		if strings.Join(got.Header.Values(k), "|") != strings.Join(v, "|") {
			t.Errorf("%s: %q, want %q", k, got.Header.Values(k), v)
		}
	}
	for _, k := range []string{"Authorization", "Cookie"} {
		if got.Header.Get(k) != "" {
			t.Errorf("%s forwarded", k)
		}
	}
}

func TestForwardCountsTokensAndDefaultsTheVersion(t *testing.T) {
	s := anthropictest.NewServer(t)
	s.CountTokens = 321
	resp, err := s.Client().Forward(t.Context(), &provider.ForwardRequest{
		Protocol: provider.ProtocolMessages, Method: "POST", Path: "/messages/count_tokens",
		Body: []byte(`{"model":"claude-upstream-1","messages":[{"role":"user","content":"Hi"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := s.Requests()[0]
	if string(answer) != `{"input_tokens":321}` || got.Path != "/v1/messages/count_tokens" || got.Header.Get("Anthropic-Version") != anthropic.Version ||
		got.Header.Get("Anthropic-Beta") != "" {
		t.Errorf("answer %s; sent to %s with %v", answer, got.Path, got.Header)
	}
}

func TestForwardRefusesWhatItDoesNotServe(t *testing.T) {
	s := anthropictest.NewServer(t)
	c := s.Client()
	if !c.Forwards(provider.ProtocolMessages) || c.Forwards(provider.ProtocolResponses) || c.Forwards(provider.ProtocolChat) {
		t.Error("Forwards: want messages only")
	}
	for _, r := range []provider.ForwardRequest{
		{Protocol: provider.ProtocolResponses, Method: "POST", Path: "/messages"},
		{Protocol: provider.ProtocolMessages, Method: "GET", Path: "/messages"},
		{Protocol: provider.ProtocolMessages, Method: "POST", Path: "/messages/batches"},
		{Protocol: provider.ProtocolMessages, Method: "POST", Path: "/../admin"},
	} {
		var pe *provider.Error
		if _, err := c.Forward(t.Context(), &r); !errors.As(err, &pe) {
			t.Errorf("%+v: err = %v", r, err)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests went upstream", n)
	}
}

// A caller that goes away is reported as the context's error, not as an
// upstream failure.
func TestCallerGoneIsTheContextsError(t *testing.T) {
	s := anthropictest.NewServer(t)
	s.Pause, s.PauseAfter = make(chan struct{}), 1
	ctx, cancel := context.WithCancel(t.Context())
	st, err := client(s).ChatStream(ctx, chatRequest(`{"messages":[{"role":"user","content":"Hi"}]}`, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := drain(t, st); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestKeylessClientSendsNoKey(t *testing.T) {
	s := anthropictest.NewServer(t)
	s.APIKey = ""
	c := &anthropic.Client{BaseURL: s.URL + "/"}
	if _, err := c.Chat(t.Context(), chatRequest(`{"messages":[{"role":"user","content":"Hi"}]}`, false)); err != nil {
		t.Fatal(err)
	}
	if got := s.Requests()[0]; got.Header.Values("X-Api-Key") != nil || got.Path != "/v1/messages" {
		t.Errorf("sent to %s with %v", got.Path, got.Header)
	}
}

func TestEmbeddingsAreRefused(t *testing.T) {
	var pe *provider.Error
	if _, err := (&anthropic.Client{}).Embeddings(t.Context(), &provider.EmbeddingsRequest{ResponseModel: "m"}); !errors.As(err, &pe) || pe.Kind != provider.BadRequest {
		t.Errorf("err = %v", err)
	}
}
