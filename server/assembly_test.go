package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/gateway"
	"github.com/aigate/aigate/jwtauth/devissuer"
	"github.com/aigate/aigate/server"
)

const issuerURL = "http://127.0.0.1:1" // never dialled: the dev issuer's keys are in hand

func newServer(t *testing.T, opts server.Options) (*server.Server, string) {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.IssuerURL == "" {
		opts.IssuerURL = issuerURL
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := server.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs.URL
}

func call(t *testing.T, method, url, credential, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

const chat = `{"model":"echo","messages":[{"role":"user","content":"hi"}]}`

// TestDefaultServerAnswersTheKeyItCreatesAndTheDevIssuersTokens: with no
// config, `aigate serve` is the gateway, the authorizer and the AI API over
// one store: its first key and a development token both reach the echo
// model, nothing else does.
func TestDefaultServerAnswersTheKeyItCreatesAndTheDevIssuersTokens(t *testing.T) {
	dir := t.TempDir()
	s, url := newServer(t, server.Options{DataDir: dir})
	first, err := s.EnsureKey(context.Background())
	if err != nil || first == nil {
		t.Fatalf("EnsureKey on an empty store = %v, %v; want a key", first, err)
	}
	if again, err := s.EnsureKey(context.Background()); err != nil || again != nil {
		t.Errorf("EnsureKey with a key in the store = %v, %v; want nothing", again, err)
	}
	iss, err := devissuer.LoadOrCreate(dir, issuerURL) // the key the server created
	if err != nil {
		t.Fatal(err)
	}
	token, err := iss.Issue(devissuer.Claims{Subject: "alice", Models: []string{"echo"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		credential string
		status     int
	}{
		{"the first key", first.Secret, http.StatusOK},
		{"a dev issuer token", token, http.StatusOK},
		{"no credential", "", http.StatusUnauthorized},
		{"a made-up key", "aig_" + strings.Repeat("x", 40), http.StatusUnauthorized},
	} {
		status, body := call(t, http.MethodPost, url+"/v1/chat/completions", tc.credential, chat)
		if status != tc.status {
			t.Errorf("%s: %d %.200s, want %d", tc.name, status, body, tc.status)
		}
		if status == http.StatusOK && gjson.Get(body, "object").Str != "chat.completion" {
			t.Errorf("%s: answer %.200s", tc.name, body)
		}
	}
	status, body := call(t, http.MethodGet, url+"/.well-known/openid-configuration", "", "")
	if status != http.StatusOK || gjson.Get(body, "issuer").Str != issuerURL {
		t.Errorf("discovery document: %d %.200s", status, body)
	}
	if status, _ := call(t, http.MethodGet, url+"/healthz", "", ""); status != http.StatusOK {
		t.Errorf("GET /healthz: %d", status)
	}
}

// TestTheDevIssuerCanBeTurnedOff: with devIssuer false its tokens are not
// trusted and its documents are not served.
func TestTheDevIssuerCanBeTurnedOff(t *testing.T) {
	dir := t.TempDir()
	cfg, err := server.ParseConfig([]byte("authorizer:\n  devIssuer: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, url := newServer(t, server.Options{Config: cfg, DataDir: dir})
	iss, err := devissuer.LoadOrCreate(dir, issuerURL)
	if err != nil {
		t.Fatal(err)
	}
	token, err := iss.Issue(devissuer.Claims{Subject: "alice", Models: []string{"echo"}})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := call(t, http.MethodPost, url+"/v1/chat/completions", token, chat); status != http.StatusUnauthorized {
		t.Errorf("a dev token with the issuer off: %d %.200s", status, body)
	}
	if status, _ := call(t, http.MethodGet, url+"/.well-known/openid-configuration", "", ""); status == http.StatusOK {
		t.Error("the discovery document is served with the issuer off")
	}
}

type nopInvoker struct{}

func (nopInvoker) Invoke(context.Context, []byte) ([]byte, error) { return []byte("{}"), nil }

func TestNewRefusesWhatWouldShadowOrLackABuiltIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts server.Options
		want string
	}{
		{"a function named like the authorizer", server.Options{Functions: map[string]gateway.Invoker{server.FunctionAuthorizer: nopInvoker{}}}, "is built in"},
		{"a handler named like the AI API", server.Options{Handlers: map[string]http.Handler{server.HandlerAIAPI: http.NotFoundHandler()}}, "is built in"},
		{"the dev issuer without its URL", server.Options{IssuerURL: "-"}, "issuer URL"},
		{"an unsupported store", server.Options{StoreURL: "postgres://db"}, "unsupported store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			if opts.DataDir == "" {
				opts.DataDir = t.TempDir()
			}
			switch opts.IssuerURL {
			case "":
				opts.IssuerURL = issuerURL
			case "-":
				opts.IssuerURL = ""
			}
			opts.Logger = slog.New(slog.DiscardHandler)
			s, err := server.New(context.Background(), opts)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"authorizer:\n  keyCacheTTL: soon\n", "authorizer.keyCacheTTL"},
		{"authorizer:\n  keyCacheTTL: -1s\n", "authorizer.keyCacheTTL"},
		{"authorizer:\n  routes: [GET]\n", "authorizer.routes"},
		{"authorizer:\n  nosuchfield: 1\n", "nosuchfield"},
		{"jwt:\n  leeway: soon\n", "jwt.leeway"},
	} {
		_, err := server.ParseConfig([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error naming %s", tc.yaml, err, tc.want)
		}
	}
}

// Every duration of the config file is the same type, read from the same
// text: jwt.* durations were checked as integers and refused "30s".
func TestConfigDurationsReadGoDurations(t *testing.T) {
	cfg, err := server.ParseConfig([]byte("authorizer:\n  keyCacheTTL: 90s\njwt:\n  leeway: 45s\n  refreshInterval: 2m\nhttp:\n  readTimeout: 1m\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Authorizer.KeyCacheTTL.Std() != 90*time.Second || cfg.JWT.Leeway.Std() != 45*time.Second ||
		cfg.JWT.RefreshInterval.Std() != 2*time.Minute || cfg.HTTP.ReadTimeout.Std() != time.Minute {
		t.Fatalf("decoded %+v %+v %+v", cfg.Authorizer, cfg.JWT, cfg.HTTP)
	}
}

func TestIssuerURLForAnUnspecifiedHostIsLoopback(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://127.0.0.1:8080",
		"[::]:8080":      "http://127.0.0.1:8080",
		"127.0.0.1:9":    "http://127.0.0.1:9",
		"localhost:8080": "http://localhost:8080",
		"[::1]:8080":     "http://[::1]:8080",
		"no-port":        "http://no-port",
	} {
		if got := server.IssuerURLFor(addr); got != want {
			t.Errorf("IssuerURLFor(%q) = %q, want %q", addr, got, want)
		}
	}
}
