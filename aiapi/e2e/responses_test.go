package e2e_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

func responseParams(model, text string) responses.ResponseNewParams {
	return responses.ResponseNewParams{
		Model: model,
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(text)},
	}
}

// The Responses API through the official SDK, against every kind of
// provider: echo answers it natively, an OpenAI upstream gets it forwarded,
// one without /responses gets it translated through chat completions.
func TestResponsesAPIThroughTheSDK(t *testing.T) {
	var u *upstream
	u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/responses":
			if gjson.Get(u.lastBody(), "stream").Bool() {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"model\":\"up-internal\",\"status\":\"in_progress\",\"output\":[]}}\n\n")
				fmt.Fprint(w, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hello from upstream\"}\n\n")
				fmt.Fprint(w, "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"model\":\"up-internal\",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello from upstream\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":7,\"output_tokens\":3,\"total_tokens\":10}}}\n\n")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"resp_1","object":"response","created_at":1,"model":"up-internal","status":"completed","output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello from upstream","annotations":[]}]}],"usage":{"input_tokens":7,"output_tokens":3,"total_tokens":10}}`)
		default:
			answerChat(w, r, u.lastBody())
		}
	})
	cfg := withUpstream(t, u, 0)
	cfg.Providers["chatonly"] = aiapi.ProviderConfig{Type: aiapi.ProviderOpenAI, BaseURL: u.URL + "/v1", NoResponses: true}
	cfg.Models = append(cfg.Models, aiapi.ModelRoute{Name: "chatonly", Provider: "chatonly", UpstreamModel: "up-internal"})
	s := newStack(t, cfg)
	id, secret := s.key(t, keys.Spec{})
	c := s.client(secret)

	for _, tc := range []struct {
		model, want, path string
		prompt, output    int64
	}{
		{"echo", "hello aigate responses", "", 0, 3},
		{"up", "Hello from upstream", "/v1/responses", 7, 3},
		{"chatonly", "Hello from upstream", "/v1/chat/completions", 11, 3},
	} {
		t.Run(tc.model, func(t *testing.T) {
			before := len(s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}))
			resp, err := c.Responses.New(t.Context(), responseParams(tc.model, "hello aigate responses"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.OutputText() != tc.want || resp.Model != tc.model || resp.Usage.OutputTokens != tc.output {
				t.Errorf("answer %q from %q, usage %+v", resp.OutputText(), resp.Model, resp.Usage)
			}
			st := c.Responses.NewStreaming(t.Context(), responseParams(tc.model, "hello aigate responses"))
			var text strings.Builder
			var completed *responses.Response
			for st.Next() {
				ev := st.Current()
				switch ev.Type {
				case "response.output_text.delta":
					text.WriteString(ev.Delta)
				case "response.completed":
					r := ev.Response
					completed = &r
				}
			}
			if err := st.Err(); err != nil {
				t.Fatal(err)
			}
			if text.String() != tc.want || completed == nil || completed.Usage.OutputTokens != tc.output || completed.Model != tc.model {
				t.Errorf("streamed %q, completed %+v", text.String(), completed)
			}
			if tc.path != "" {
				if got := u.lastPath(); got != tc.path {
					t.Errorf("upstream called at %s, want %s", got, tc.path)
				}
				if m := gjson.Get(u.lastBody(), "model").Str; m != "up-internal" {
					t.Errorf("upstream model %q", m)
				}
			}
			es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
			if len(es) != before+2 {
				t.Fatalf("ledger has %d new rows, want 2", len(es)-before)
			}
			for _, e := range es[before:] {
				if e.CompletionTokens != tc.output || (tc.prompt > 0 && e.PromptTokens != tc.prompt) {
					t.Errorf("settled %+v, want %d output tokens", e, tc.output)
				}
			}
		})
	}

	// A refused model is OpenAI's typed 404.
	_, err := c.Responses.New(t.Context(), responseParams("nope", "hi"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Errorf("unknown model: %v", err)
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}
