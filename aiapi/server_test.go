package aiapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/builtin"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/sqlite"
)

func newServer(t *testing.T, cfg aiapi.Config) *aiapi.Server {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if cfg.Ledger == nil {
		cfg.Ledger = st
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	if cfg.Registry == nil {
		cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
	}
	srv, err := aiapi.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// caller is the authorizer context of a JWT principal allowed every model.
func caller(extra ...string) map[string]string {
	m := map[string]string{authz.CtxPrincipalID: "p1", authz.CtxKind: "jwt", authz.CtxModels: `["*"]`}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func serve(srv http.Handler, ctxMap map[string]string, method, path, body string) *httptest.ResponseRecorder {
	ctx := context.Background()
	if ctxMap != nil {
		ctx = aiapi.WithAuthorizerContext(ctx, ctxMap)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body)))
	return rec
}

const chatBody = `{"model":"echo","messages":[{"role":"user","content":"hi"}]}`

func TestRequestsAreRefusedInOpenAIsShape(t *testing.T) {
	cfg := aiapi.DefaultConfig()
	cfg.MaxRequestBytes = 1000
	srv := newServer(t, cfg)
	for _, tc := range []struct {
		name         string
		ctx          map[string]string
		method, path string
		body         string
		status       int
		code, param  string
	}{
		{"no authorizer context fails closed", nil, "POST", "/v1/chat/completions", chatBody, 500, "internal_error", ""},
		{"unreadable authorizer context fails closed", caller(authz.CtxRPM, "many"), "POST", "/v1/chat/completions", chatBody, 500, "internal_error", ""},
		{"expired credential", caller(authz.CtxExpiresAt, "1000"), "POST", "/v1/chat/completions", chatBody, 401, "invalid_api_key", ""},
		{"unknown path", caller(), "POST", "/v1/completions", chatBody, 404, "unknown_url", ""},
		{"wrong method", caller(), "GET", "/v1/chat/completions", "", 405, "method_not_allowed", ""},
		{"not JSON", caller(), "POST", "/v1/chat/completions", "{", 400, "", ""},
		{"no model", caller(), "POST", "/v1/chat/completions", `{"messages":[]}`, 400, "", "model"},
		{"too large", caller(), "POST", "/v1/chat/completions", `{"model":"echo","x":"` + strings.Repeat("a", 1000) + `"}`, 413, "request_too_large", ""},
		{"model the caller may not use", caller(authz.CtxModels, `["gpt-*"]`), "POST", "/v1/chat/completions", chatBody, 404, "model_not_found", "model"},
		{"caller with no models", caller(authz.CtxModels, "[]"), "POST", "/v1/embeddings", `{"model":"echo","input":"x"}`, 404, "model_not_found", "model"},
		{"echo refuses bad delay_ms", caller(), "POST", "/v1/chat/completions", `{"model":"echo","delay_ms":"slow","messages":[{"role":"user","content":"hi"}]}`, 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(srv, tc.ctx, tc.method, tc.path, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status = %d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			e := gjson.Get(rec.Body.String(), "error")
			if !e.Get("message").Exists() || !e.Get("type").Exists() || e.Get("code").String() != tc.code || e.Get("param").String() != tc.param {
				t.Errorf("body = %s, want an OpenAI error with code %q, param %q", rec.Body, tc.code, tc.param)
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}

// The AI API serves its paths under any prefix (a stage, a base path
// mapping) and answers GET /v1/models without a reservation.
func TestPathsAreServedUnderAnyPrefix(t *testing.T) {
	srv := newServer(t, aiapi.DefaultConfig())
	for _, p := range []string{"/v1/models", "/prod/v1/models", "/ai/v1/models/echo"} {
		if rec := serve(srv, caller(), "GET", p, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"echo"`) {
			t.Errorf("GET %s = %d %s", p, rec.Code, rec.Body)
		}
	}
}

type failingKeys struct{}

func (failingKeys) GetKey(context.Context, string) (*record.Key, error) {
	return nil, errors.New("store down")
}

// A key status that cannot be read is a refusal (500), never a pass.
func TestKeyStatusOutageFailsClosed(t *testing.T) {
	cfg := aiapi.DefaultConfig()
	cfg.Keys = failingKeys{}
	srv := newServer(t, cfg)
	if rec := serve(srv, caller(authz.CtxKind, "api_key"), "POST", "/v1/chat/completions", chatBody); rec.Code != 500 {
		t.Errorf("status = %d %s, want 500", rec.Code, rec.Body)
	}
	// JWT principals have no key to read.
	if rec := serve(srv, caller(), "POST", "/v1/chat/completions", chatBody); rec.Code != 200 {
		t.Errorf("JWT caller: status = %d %s, want 200", rec.Code, rec.Body)
	}
}

func TestConfigurationIsChecked(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, change := range map[string]func(c *aiapi.Config){
		"no ledger":          func(c *aiapi.Config) { c.Ledger = nil },
		"unknown provider":   func(c *aiapi.Config) { c.Models = []aiapi.ModelRoute{{Name: "m", Provider: "nope"}} },
		"route without name": func(c *aiapi.Config) { c.Models = []aiapi.ModelRoute{{Provider: "echo"}} },
		"unknown type":       func(c *aiapi.Config) { c.Providers["x"] = aiapi.ProviderConfig{Type: "azure"} },
		"openai without url": func(c *aiapi.Config) { c.Providers["x"] = aiapi.ProviderConfig{Type: "openai"} },
		"empty key variable": func(c *aiapi.Config) {
			c.Providers["x"] = aiapi.ProviderConfig{Type: "openai", BaseURL: "http://127.0.0.1:1/v1", APIKeyEnv: "AIGATE_TEST_UNSET_KEY"}
		},
		"timeout past the reservation": func(c *aiapi.Config) {
			c.UpstreamTimeout, c.ReservationTTL = duration.Duration(time.Hour), duration.Duration(time.Minute)
		},
		"bad cap field": func(c *aiapi.Config) {
			c.Providers["x"] = aiapi.ProviderConfig{Type: "openai", BaseURL: "http://127.0.0.1:1/v1", MaxTokensField: "limit"}
		},
	} {
		cfg := aiapi.DefaultConfig()
		cfg.Ledger = st
		change(&cfg)
		cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
		if _, err := aiapi.New(t.Context(), cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		} else if !strings.HasPrefix(err.Error(), "aiapi: ") {
			t.Errorf("%s: error %q does not name the package", name, err)
		}
	}
	// The zero Config (but the ledger) works: the echo model.
	if _, err := aiapi.New(t.Context(), aiapi.Config{Ledger: st, Registry: builtin.Registry()}); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

func TestConfigParsesAndTakesAnOpenAIUpstream(t *testing.T) {
	t.Run("no upstream is the default", func(t *testing.T) {
		cfg := aiapi.DefaultConfig().WithOpenAI(aiapi.OpenAIUpstream{})
		if len(cfg.Models) != 1 || cfg.Models[0].Name != "echo" || len(cfg.Providers) != 1 {
			t.Errorf("cfg = %+v", cfg)
		}
	})
	t.Run("an OpenAI key adds a catch-all", func(t *testing.T) {
		cfg := aiapi.DefaultConfig().WithOpenAI(aiapi.OpenAIUpstream{APIKeyEnv: "OPENAI_API_KEY"})
		p := cfg.Providers["openai"]
		if p.BaseURL != "https://api.openai.com/v1" || p.APIKeyEnv != "OPENAI_API_KEY" {
			t.Errorf("provider = %+v", p)
		}
		if last := cfg.Models[len(cfg.Models)-1]; last.Name != "*" || last.Provider != "openai" || cfg.Models[0].Name != "echo" {
			t.Errorf("routes = %+v, want echo first and the catch-all last", cfg.Models)
		}
	})
	t.Run("YAML", func(t *testing.T) {
		cfg, err := aiapi.ParseConfig([]byte(`
models:
  - name: claude-*
    provider: bedrock
    upstreamModel: anthropic.claude-3-haiku-20240307-v1:0
providers:
  bedrock: {type: bedrock, region: eu-west-1}
defaultMaxTokens: 1024
upstreamTimeout: 90s
`))
		if err != nil {
			t.Fatal(err)
		}
		cfg = cfg.WithOpenAI(aiapi.OpenAIUpstream{BaseURL: "http://127.0.0.1:11434/v1"})
		if cfg.DefaultMaxTokens != 1024 || cfg.UpstreamTimeout.Std() != 90*time.Second || cfg.Providers["bedrock"].Region != "eu-west-1" ||
			len(cfg.Models) != 2 || cfg.Providers["openai"].APIKeyEnv != "" {
			t.Errorf("cfg = %+v", cfg)
		}
	})
	t.Run("unknown fields are errors", func(t *testing.T) {
		if _, err := aiapi.ParseConfig([]byte("modelz: []")); err == nil {
			t.Error("accepted an unknown field")
		}
	})
	t.Run("a provider openai of its own takes no catch-all", func(t *testing.T) {
		cfg := aiapi.Config{Providers: map[string]aiapi.ProviderConfig{"openai": {Type: aiapi.ProviderOpenAI, BaseURL: "http://127.0.0.1:1/v1"}}}
		if got := cfg.WithOpenAI(aiapi.OpenAIUpstream{APIKeyEnv: "OPENAI_API_KEY"}); len(got.Models) != 0 || got.Providers["openai"].BaseURL != "http://127.0.0.1:1/v1" {
			t.Errorf("cfg = %+v", got)
		}
	})
}

// The documented example configuration is valid, field for field.
func TestExampleConfigurationLoads(t *testing.T) {
	// The key apiKeyEnv names; the configuration's own provider "openai"
	// means no catch-all is added for it.
	t.Setenv("OPENAI_API_KEY", "sk-test")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	data, err := os.ReadFile(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := aiapi.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.WithOpenAI(aiapi.OpenAIUpstream{APIKeyEnv: "OPENAI_API_KEY"})
	if len(cfg.Models) != 5 || cfg.Providers["ollama"].BaseURL != "http://127.0.0.1:11434/v1" ||
		cfg.ReservationTTL.Std() != 15*time.Minute || cfg.KeyStatusTTL.Std() != time.Second {
		t.Errorf("cfg = %+v", cfg)
	}
	newServer(t, cfg)
}

// The AI API reads no environment: an upstream's key comes from
// Config.LookupSecret, by the name apiKeyEnv gives, and only from there.
func TestUpstreamKeysComeFromLookupSecretNotTheEnvironment(t *testing.T) {
	got := make(chan string, 4)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	defer up.Close()
	t.Setenv("AIGATE_TEST_UPSTREAM_KEY", "sk-from-the-environment")
	config := func() aiapi.Config {
		cfg := aiapi.DefaultConfig()
		cfg.Providers["up"] = aiapi.ProviderConfig{Type: aiapi.ProviderOpenAI, BaseURL: up.URL + "/v1", APIKeyEnv: "AIGATE_TEST_UPSTREAM_KEY"}
		cfg.Models = append(cfg.Models, aiapi.ModelRoute{Name: "m", Provider: "up"})
		cfg.Registry = builtin.Registry()
		return cfg
	}

	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config()
	cfg.Ledger = st
	if _, err := aiapi.New(t.Context(), cfg); err == nil || !strings.HasPrefix(err.Error(), "aiapi: providers.up: ") {
		t.Errorf("without LookupSecret: New = %v, want an error naming the provider", err)
	} else if strings.Contains(err.Error(), "sk-from") {
		t.Errorf("error %q shows the key", err)
	}

	cfg = config()
	cfg.LookupSecret = func(name string) (string, bool) {
		if name == "AIGATE_TEST_UPSTREAM_KEY" {
			return "sk-looked-up", true
		}
		return "", false
	}
	srv := newServer(t, cfg)
	if rec := serve(srv, caller(), "POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 200 {
		t.Fatalf("status = %d %s", rec.Code, rec.Body)
	}
	if len(got) != 1 {
		t.Fatalf("upstream called %d times, want 1", len(got))
	}
	if a := <-got; a != "Bearer sk-looked-up" {
		t.Errorf("upstream got Authorization %q, want the looked-up key", a)
	}
}

// The configuration's durations are package duration's: Go duration text
// in YAML and in JSON, and a bad one is an error naming its field.
func TestConfigDurationsParseAndNameTheirField(t *testing.T) {
	for _, doc := range []string{
		"upstreamTimeout: 30s\nreservationTtl: 1h30m\nexpireInterval: 1m\nstreamWriteTimeout: 0s\nkeyStatusTtl: 500ms\nproviders: {p: {type: echo, timeout: 30s}}\n",
		`{"upstreamTimeout": "30s", "reservationTtl": "1h30m", "expireInterval": "1m", "streamWriteTimeout": "0", "keyStatusTtl": "500ms", "providers": {"p": {"type": "echo", "timeout": "30s"}}}`,
	} {
		cfg, err := aiapi.ParseConfig([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if cfg.UpstreamTimeout.Std() != 30*time.Second || cfg.ReservationTTL.Std() != 90*time.Minute || cfg.ExpireInterval.Std() != time.Minute ||
			cfg.StreamWriteTimeout != 0 || cfg.KeyStatusTTL.Std() != 500*time.Millisecond || cfg.Providers["p"].Timeout.Std() != 30*time.Second {
			t.Errorf("%s: %+v", doc, cfg)
		}
	}
	for field, doc := range map[string]string{
		"upstreamTimeout":     "upstreamTimeout: soon",
		"reservationTtl":      "reservationTtl: 30", // a bare number has no unit
		"keyStatusTtl":        `{"keyStatusTtl": "1 s"}`,
		"providers.p.timeout": "providers: {p: {type: echo, timeout: forever}}",
	} {
		if _, err := aiapi.ParseConfig([]byte(doc)); err == nil || !strings.HasPrefix(err.Error(), "aiapi: "+field+": ") {
			t.Errorf("%s: %v, want an error naming %s", doc, err, field)
		}
	}
}
