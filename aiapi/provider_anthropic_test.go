package aiapi_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/anthropic/anthropictest"
	"github.com/aigate/aigate/aiapi/provider/builtin"
	"github.com/aigate/aigate/store/sqlite"
)

func TestAnthropicProviderConfigurationIsChecked(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t.Setenv("AIGATE_TEST_ANTHROPIC_KEY", "sk-ant-configured")
	for name, pc := range map[string]aiapi.ProviderConfig{
		"Anthropic's API without a key": {Type: aiapi.ProviderAnthropic},
		"an empty key variable":         {Type: aiapi.ProviderAnthropic, APIKeyEnv: "AIGATE_TEST_UNSET_KEY"},
		"a base URL with /v1":           {Type: aiapi.ProviderAnthropic, BaseURL: "https://api.anthropic.com/v1/", APIKeyEnv: "AIGATE_TEST_ANTHROPIC_KEY"},
	} {
		cfg := aiapi.DefaultConfig()
		cfg.Ledger = st
		cfg.Providers["claude"] = pc
		cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
		if _, err := aiapi.New(t.Context(), cfg); err == nil || !strings.HasPrefix(err.Error(), "aiapi: providers.claude: ") {
			t.Errorf("%s: New = %v", name, err)
		} else if strings.Contains(err.Error(), "sk-ant-configured") {
			t.Errorf("%s: error %q shows the key", name, err)
		}
	}
	for name, pc := range map[string]aiapi.ProviderConfig{
		"Anthropic's API with a key":        {Type: aiapi.ProviderAnthropic, APIKeyEnv: "AIGATE_TEST_ANTHROPIC_KEY"},
		"a local server without a key":      {Type: aiapi.ProviderAnthropic, BaseURL: "http://127.0.0.1:1"},
		"a gateway refusing betas, by glob": {Type: aiapi.ProviderAnthropic, BaseURL: "http://127.0.0.1:1/anthropic/", RefusedBetas: []string{"context-1m-*"}},
	} {
		cfg := aiapi.DefaultConfig()
		cfg.Ledger = st
		cfg.Providers["claude"] = pc
		cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
		if _, err := aiapi.New(t.Context(), cfg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A route to a provider of type anthropic, configured in YAML as an
// operator would, serves chat completions through the Messages API.
func TestChatCompletionsReachAnAnthropicProvider(t *testing.T) {
	up := anthropictest.NewServer(t)
	up.InputTokens, up.CacheReadTokens, up.OutputTokens = 10, 90, 4
	t.Setenv("AIGATE_TEST_ANTHROPIC_KEY", anthropictest.Key)
	cfg, err := aiapi.ParseConfig([]byte(`
models:
  - name: claude
    provider: anthropic
    upstreamModel: claude-upstream-1
providers:
  anthropic:
    type: anthropic
    baseUrl: ` + up.URL + `
    apiKeyEnv: AIGATE_TEST_ANTHROPIC_KEY
    refusedBetas: [context-1m-*]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Providers["anthropic"].RefusedBetas; len(got) != 1 || got[0] != "context-1m-*" {
		t.Errorf("refusedBetas = %q", got)
	}
	srv := newServer(t, cfg)
	rec := serve(srv, caller(), "POST", "/v1/chat/completions", `{"model":"claude","messages":[{"role":"user","content":"Hi"}]}`)
	body := rec.Body.Bytes()
	if rec.Code != 200 || gjson.GetBytes(body, "choices.0.message.content").Str != up.Answer || gjson.GetBytes(body, "model").Str != "claude" ||
		gjson.GetBytes(body, "usage.prompt_tokens").Int() != 100 || gjson.GetBytes(body, "usage.prompt_tokens_details.cached_tokens").Int() != 90 {
		t.Errorf("answer %d %s", rec.Code, body)
	}
	rec = serve(srv, caller(), "POST", "/v1/chat/completions", `{"model":"claude","stream":true,"messages":[{"role":"user","content":"Hi"}]}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"content":"Anthropic"`) || !strings.HasSuffix(rec.Body.String(), "data: [DONE]\n\n") {
		t.Errorf("stream %d %s", rec.Code, rec.Body)
	}
	for _, r := range up.Requests() {
		if r.Model != "claude-upstream-1" || r.Header.Get("X-Api-Key") != anthropictest.Key {
			t.Errorf("upstream got model %q, key %q", r.Model, r.Header.Get("X-Api-Key"))
		}
	}
	if n := len(up.Requests()); n != 2 {
		t.Errorf("%d upstream requests, want 2", n)
	}
}
