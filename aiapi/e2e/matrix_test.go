package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/anthropic/anthropictest"
	"github.com/aigate/aigate/aiapi/provider/bedrock"
	"github.com/aigate/aigate/aiapi/provider/bedrock/bedrocktest"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// post sends body to path with a bearer key and returns the status and
// body (for a stream: every data line's JSON, joined by newlines).
func post(t *testing.T, url, key, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var data []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = append(data, d)
		}
	}
	return resp.StatusCode, strings.Join(data, "\n")
}

// The protocol × provider cells that translate: Responses and Messages
// callers served by providers that speak neither (Bedrock, an OpenAI chat
// upstream) or the other (Anthropic for a Responses caller).
func TestEveryInboundProtocolReachesEveryProvider(t *testing.T) {
	br := bedrocktest.NewServer(t)
	an := anthropictest.NewServer(t)
	an.Answer = "Hello from Anthropic"
	an.InputTokens, an.OutputTokens, an.CacheReadTokens = 5, 3, 10
	var u *upstream
	u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) { answerChat(w, r, u.lastBody()) })
	cfg := withUpstream(t, u, 0)
	cfg.Providers["up"] = aiapi.ProviderConfig{Type: aiapi.ProviderOpenAI, BaseURL: u.URL + "/v1", NoResponses: true}
	cfg.Upstreams = map[string]provider.Provider{"bedrock": &bedrock.Client{Runtime: br.Runtime()}, "anthropic": an.Client()}
	cfg.Models = append(cfg.Models,
		aiapi.ModelRoute{Name: "br", Provider: "bedrock", UpstreamModel: "anthropic.claude-3-haiku-20240307-v1:0"},
		aiapi.ModelRoute{Name: "an", Provider: "anthropic", UpstreamModel: "claude-x"})
	s := newStack(t, cfg)
	id, key := s.key(t, keys.Spec{})

	responsesBody := `{"model":"%s","input":"hi there","instructions":"be brief","stream":%s}`
	messagesBody := `{"model":"%s","max_tokens":50,"system":"be brief","messages":[{"role":"user","content":"hi there"}],"stream":%s}`
	for _, tc := range []struct {
		name, path, body, model, want string
		output                        int64
	}{
		{"responses to bedrock", "/v1/responses", responsesBody, "br", "Hello from Bedrock", 3},
		{"responses to anthropic", "/v1/responses", responsesBody, "an", "Hello from Anthropic", 3},
		{"messages to bedrock", "/v1/messages", messagesBody, "br", "Hello from Bedrock", 3},
		{"messages to an openai chat upstream", "/v1/messages", messagesBody, "up", "Hello from upstream", 3},
	} {
		for _, stream := range []string{"false", "true"} {
			t.Run(tc.name+" stream "+stream, func(t *testing.T) {
				before := len(s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}))
				status, body := post(t, s.URL, key, tc.path, sprintf(tc.body, tc.model, stream))
				if status != 200 {
					t.Fatalf("%d %s", status, body)
				}
				var text string
				if stream == "false" {
					if tc.path == "/v1/responses" {
						text = gjson.Get(body, `output.#(type=="message").content.0.text`).Str
					} else {
						text = gjson.Get(body, "content.0.text").Str
					}
					if m := gjson.Get(body, "model").Str; m != tc.model {
						t.Errorf("answer names model %q", m)
					}
				} else {
					for _, line := range strings.Split(body, "\n") {
						if tc.path == "/v1/responses" && gjson.Get(line, "type").Str == "response.output_text.delta" {
							text += gjson.Get(line, "delta").Str
						}
						if tc.path == "/v1/messages" && gjson.Get(line, "delta.type").Str == "text_delta" {
							text += gjson.Get(line, "delta.text").Str
						}
					}
				}
				if text != tc.want {
					t.Errorf("text %q, want %q (body %.400s)", text, tc.want, body)
				}
				es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
				if len(es) != before+1 || es[len(es)-1].CompletionTokens != tc.output {
					t.Errorf("ledger %+v, want one more row with %d output tokens", es[before:], tc.output)
				}
			})
		}
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
