package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestLambdaServesTheEchoModelFromTheEnvironment(t *testing.T) {
	t.Setenv("AIGATE_DATA", filepath.Join(t.TempDir(), "data"))
	t.Setenv("AIGATE_STORE", "")
	t.Setenv("OPENAI_BASE_URL", "")
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv(EnvResponseStreaming, "")
	h, _, err := newHandler(t.Context(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Streaming {
		t.Error("streaming is off by default")
	}
	ev, _ := json.Marshal(events.APIGatewayProxyRequest{
		HTTPMethod: "POST", Path: "/v1/chat/completions",
		Body: `{"model":"echo","messages":[{"role":"user","content":"from the Lambda"}]}`,
		RequestContext: events.APIGatewayProxyRequestContext{Authorizer: map[string]any{
			"principalId": "k1", "kind": "jwt", "models": `["echo"]`, "rpm": 5,
		}},
	})
	out, err := h.Invoke(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(out.(io.Reader))
	if !strings.Contains(string(body), `"statusCode":200`) || !strings.Contains(string(body), `"content":"from the Lambda"`) {
		t.Errorf("answer %s", body)
	}
}

func TestBadStreamingSettingStopsTheStart(t *testing.T) {
	t.Setenv("AIGATE_DATA", filepath.Join(t.TempDir(), "data"))
	t.Setenv(EnvResponseStreaming, "sometimes")
	if _, _, err := newHandler(t.Context(), slog.New(slog.DiscardHandler)); err == nil {
		t.Error("started with AIGATE_RESPONSE_STREAMING=sometimes")
	}
	t.Setenv(EnvResponseStreaming, "off")
	if h, _, err := newHandler(t.Context(), slog.New(slog.DiscardHandler)); err != nil || h.Streaming {
		t.Errorf("off: %+v, %v", h, err)
	}
}
