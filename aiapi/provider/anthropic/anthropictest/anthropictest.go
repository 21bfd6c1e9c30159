// Package anthropictest is a stand-in for Anthropic's Messages API on
// 127.0.0.1, so that the anthropic provider and the AI API's Messages
// endpoints are tested offline. It checks x-api-key and anthropic-version,
// records every request, and answers POST /v1/messages (streamed with
// Anthropic's documented event sequence, pings included, or not) and POST
// /v1/messages/count_tokens with what its fields say.
package anthropictest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aigate/aigate/aiapi/provider/anthropic"
)

// Key is the x-api-key a new Server expects.
const Key = "sk-ant-test-4f1c2a9e7b"

// Request is a request as the server received it.
type Request struct {
	Method, Path string
	// Header is a copy of the request's headers.
	Header http.Header
	// Body is the body as sent.
	Body []byte
	// Model, MaxTokens and Stream are read from Body (zero when absent).
	Model     string
	MaxTokens int64
	Stream    bool
}

// ToolUse is a tool call the answer makes after its text.
type ToolUse struct {
	ID, Name string
	// Input is the call's input, a JSON object ("" means {}).
	Input string
}

// Server is the stand-in. Set its fields before the first request and not
// after.
type Server struct {
	*httptest.Server
	// APIKey is the x-api-key every request must carry (a 401
	// authentication_error otherwise). Empty: no key is checked.
	APIKey string
	// Answer is the assistant's text; streamed word by word. Empty: no
	// text block.
	Answer string
	// ToolUse, when set, is a tool_use block after the text, and the stop
	// reason is tool_use.
	ToolUse *ToolUse
	// StopReason overrides the stop reason (end_turn, or tool_use with a
	// ToolUse).
	StopReason string
	// The usage reported: input_tokens, output_tokens,
	// cache_creation_input_tokens, cache_read_input_tokens.
	InputTokens, OutputTokens, CacheCreationTokens, CacheReadTokens int64
	// CountTokens is count_tokens' answer. Zero: InputTokens.
	CountTokens int64
	// FailStatus, when set, is the status every request is answered with,
	// in Anthropic's error shape with FailType (default api_error) and
	// FailMessage.
	FailStatus  int
	FailType    string
	FailMessage string
	// CutAfter, when positive, ends a stream after that many events: the
	// connection is dropped, or, when CutWith is set, an error event of
	// that type is sent.
	CutAfter int
	CutWith  string
	// PauseAfter and Pause, when Pause is set, hold a stream after that
	// many events (each flushed) until Pause yields or the request ends:
	// a test can then see what arrived before the rest was sent.
	PauseAfter int
	Pause      chan struct{}

	mu       sync.Mutex
	requests []Request
}

// NewServer starts a stand-in, closed when the test ends. It expects Key,
// answers "Hello from Anthropic" and reports 12 input and 3 output
// tokens.
func NewServer(t testing.TB) *Server {
	s := &Server{APIKey: Key, Answer: "Hello from Anthropic", InputTokens: 12, OutputTokens: 3}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Client is an anthropic provider for the stand-in.
func (s *Server) Client() *anthropic.Client {
	return &anthropic.Client{BaseURL: s.URL, APIKey: s.APIKey}
}

// Requests returns what the server received so far, refused requests
// included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// record keeps r and returns it read, with its request-id (numbered).
func (s *Server) record(r *http.Request, body []byte) (Request, string) {
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	var fields struct {
		Model     string `json:"model"`
		MaxTokens int64  `json:"max_tokens"`
		Stream    bool   `json:"stream"`
	}
	if json.Unmarshal(body, &fields) == nil {
		req.Model, req.MaxTokens, req.Stream = fields.Model, fields.MaxTokens, fields.Stream
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	return req, fmt.Sprintf("req_test_%d", len(s.requests))
}

func writeError(w http.ResponseWriter, status int, typ, message string) {
	body, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": message}})
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, id := s.record(r, body)
	w.Header().Set("Request-Id", id)
	switch {
	case r.URL.Path != "/v1/messages" && r.URL.Path != "/v1/messages/count_tokens":
		writeError(w, http.StatusNotFound, "not_found_error", "Not found")
		return
	case r.Method != http.MethodPost:
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "Method not allowed")
		return
	case s.APIKey != "" && r.Header.Get("X-Api-Key") != s.APIKey:
		writeError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return
	case r.Header.Get("Anthropic-Version") == "":
		writeError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	case !json.Valid(body) || req.Model == "":
		writeError(w, http.StatusBadRequest, "invalid_request_error", "model: field required")
		return
	case s.FailStatus != 0:
		typ := s.FailType
		if typ == "" {
			typ = "api_error"
		}
		writeError(w, s.FailStatus, typ, s.FailMessage)
		return
	}
	if r.URL.Path == "/v1/messages/count_tokens" {
		n := s.CountTokens
		if n == 0 {
			n = s.InputTokens
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"input_tokens":%d}`, n)
		return
	}
	if req.MaxTokens < 1 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: field required")
		return
	}
	if req.Stream {
		s.stream(w, r, req.Model, id)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(mustJSON(s.message(req.Model, id, true)))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

type usage struct {
	InputTokens              int64 `json:"input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
}

type message struct {
	ID           string           `json:"id"`
	Type         string           `json:"type"`
	Role         string           `json:"role"`
	Content      []map[string]any `json:"content"`
	Model        string           `json:"model"`
	StopReason   *string          `json:"stop_reason"`
	StopSequence *string          `json:"stop_sequence"`
	Usage        usage            `json:"usage"`
}

func (s *Server) stopReason() string {
	switch {
	case s.StopReason != "":
		return s.StopReason
	case s.ToolUse != nil:
		return "tool_use"
	}
	return "end_turn"
}

func (s *Server) input() json.RawMessage {
	if s.ToolUse == nil || s.ToolUse.Input == "" {
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(s.ToolUse.Input)
}

// message is the answer; complete, or as message_start carries it (no
// content, no stop reason, output_tokens 1).
func (s *Server) message(model, id string, complete bool) message {
	m := message{
		ID: "msg_" + id, Type: "message", Role: "assistant", Model: model, Content: []map[string]any{},
		Usage: usage{s.InputTokens, s.CacheCreationTokens, s.CacheReadTokens, 1},
	}
	if !complete {
		return m
	}
	if s.Answer != "" {
		m.Content = append(m.Content, map[string]any{"type": "text", "text": s.Answer})
	}
	if t := s.ToolUse; t != nil {
		m.Content = append(m.Content, map[string]any{"type": "tool_use", "id": t.ID, "name": t.Name, "input": s.input()})
	}
	stop := s.stopReason()
	m.StopReason, m.Usage.OutputTokens = &stop, s.OutputTokens
	return m
}

// stream sends the answer as Anthropic documents it: message_start, a ping,
// each content block (start, deltas, stop), message_delta with the stop
// reason and the cumulative usage, message_stop.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, model, id string) {
	type ev struct {
		name string
		data any
	}
	events := []ev{
		{"message_start", map[string]any{"type": "message_start", "message": s.message(model, id, false)}},
		{"ping", map[string]any{"type": "ping"}},
	}
	index := 0
	if s.Answer != "" {
		events = append(events, ev{"content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "text", "text": ""}}})
		for _, word := range strings.SplitAfter(s.Answer, " ") {
			events = append(events, ev{"content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "text_delta", "text": word}}})
		}
		events = append(events, ev{"content_block_stop", map[string]any{"type": "content_block_stop", "index": index}})
		index++
	}
	if t := s.ToolUse; t != nil {
		events = append(events, ev{"content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "tool_use", "id": t.ID, "name": t.Name, "input": map[string]any{}}}})
		// Anthropic streams the input as JSON text in pieces, the first
		// empty; an empty input is that empty piece alone.
		parts := []string{""}
		if in := string(s.input()); in != "{}" {
			parts = append(parts, in[:len(in)/2], in[len(in)/2:])
		}
		for _, part := range parts {
			events = append(events, ev{"content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": part}}})
		}
		events = append(events, ev{"content_block_stop", map[string]any{"type": "content_block_stop", "index": index}})
	}
	events = append(events,
		ev{"message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": s.stopReason(), "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": s.OutputTokens}}},
		ev{"message_stop", map[string]any{"type": "message_stop"}},
	)

	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	for i, e := range events {
		if s.CutAfter > 0 && i == s.CutAfter {
			if s.CutWith == "" {
				panic(http.ErrAbortHandler) // drops the connection mid-stream
			}
			fmt.Fprintf(w, "event: error\ndata: %s\n\n", mustJSON(map[string]any{"type": "error",
				"error": map[string]string{"type": s.CutWith, "message": "the stand-in failed mid-stream"}}))
			flusher.Flush()
			return
		}
		if s.Pause != nil && i == s.PauseAfter {
			select {
			case <-s.Pause:
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.name, mustJSON(e.data))
		flusher.Flush()
	}
}
