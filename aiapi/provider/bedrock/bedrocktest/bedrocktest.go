// Package bedrocktest is a stand-in for the Amazon Bedrock Runtime endpoint
// on 127.0.0.1, speaking its wire format (REST JSON for Converse, the AWS
// event stream for ConverseStream), so that the bedrock provider is tested
// through the real aws-sdk-go-v2 client without AWS. It answers every
// conversation with Answer, word by word when streaming.
package bedrocktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/aigate/aigate/aiapi/provider/bedrock"
)

// Request is a Converse request as the server received it.
type Request struct {
	ModelID  string
	Stream   bool
	Messages []struct {
		Role    string `json:"role"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"messages"`
	System []struct {
		Text string `json:"text"`
	} `json:"system"`
	InferenceConfig struct {
		MaxTokens     int      `json:"maxTokens"`
		Temperature   *float64 `json:"temperature"`
		StopSequences []string `json:"stopSequences"`
	} `json:"inferenceConfig"`
	// Signed reports that the request carried a SigV4 Authorization.
	Signed bool
}

// Server is the stand-in. Set its fields before use.
type Server struct {
	*httptest.Server
	// Answer is the assistant's text.
	Answer string
	// InputTokens and OutputTokens are the usage reported.
	InputTokens, OutputTokens int
	// FailWith, when set, is the exception every call answers with (e.g.
	// "ValidationException" → 400, "ThrottlingException" → 429, anything
	// else → 500).
	FailWith string

	mu       sync.Mutex
	requests []Request
}

// NewServer starts a stand-in, closed when the test ends.
func NewServer(t testing.TB) *Server {
	s := &Server{Answer: "Hello from Bedrock", InputTokens: 12, OutputTokens: 3}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Runtime is a Bedrock Runtime client for the stand-in, with static
// credentials.
func (s *Server) Runtime() *bedrockruntime.Client {
	return bedrock.NewRuntimeFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}, s.URL)
}

// Requests returns what the server received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// /model/{modelId}/converse or /model/{modelId}/converse-stream
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/model/")
	id, op, _ := strings.Cut(rest, "/")
	if !ok || r.Method != http.MethodPost || (op != "converse" && op != "converse-stream") {
		http.Error(w, `{"message":"unknown operation"}`, http.StatusNotFound)
		return
	}
	var req Request
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"message":"malformed request"}`, http.StatusBadRequest)
		return
	}
	req.ModelID, _ = url.PathUnescape(id)
	req.Stream = op == "converse-stream"
	req.Signed = strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	if s.FailWith != "" {
		status := http.StatusInternalServerError
		switch s.FailWith {
		case "ValidationException":
			status = http.StatusBadRequest
		case "ThrottlingException":
			status = http.StatusTooManyRequests
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", s.FailWith)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":"%s for model %s"}`, s.FailWith, req.ModelID)
		return
	}
	usage := map[string]int{"inputTokens": s.InputTokens, "outputTokens": s.OutputTokens, "totalTokens": s.InputTokens + s.OutputTokens}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": []any{map[string]string{"text": s.Answer}}}},
			"stopReason": "end_turn",
			"usage":      usage,
			"metrics":    map[string]int{"latencyMs": 1},
		})
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	enc := eventstream.NewEncoder()
	send := func(eventType string, payload any) {
		b, _ := json.Marshal(payload)
		var h eventstream.Headers
		h.Set(":event-type", eventstream.StringValue(eventType))
		h.Set(":content-type", eventstream.StringValue("application/json"))
		h.Set(":message-type", eventstream.StringValue("event"))
		enc.Encode(w, eventstream.Message{Headers: h, Payload: b})
		w.(http.Flusher).Flush()
	}
	send("messageStart", map[string]string{"role": "assistant"})
	for _, word := range strings.SplitAfter(s.Answer, " ") {
		send("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]string{"text": word}})
	}
	send("contentBlockStop", map[string]int{"contentBlockIndex": 0})
	send("messageStop", map[string]string{"stopReason": "end_turn"})
	send("metadata", map[string]any{"usage": usage, "metrics": map[string]int{"latencyMs": 1}})
}
