package env_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/cmd/internal/env"
)

func TestSettingsFromTheEnvironment(t *testing.T) {
	t.Setenv(env.Data, "")
	t.Setenv(env.Store, "")
	t.Setenv(env.HashKey, "")
	t.Setenv(env.OpenAIBaseURL, "")
	t.Setenv(env.OpenAIAPIKey, "")
	if got := env.Read(); got != (env.Settings{DataDir: env.DefaultDataDir}) {
		t.Errorf("Read with nothing set = %+v", got)
	}
	t.Setenv(env.Data, "/var/lib/aigate")
	t.Setenv(env.Store, "sqlite:/tmp/x.db")
	t.Setenv(env.HashKey, "00")
	t.Setenv(env.OpenAIBaseURL, "http://127.0.0.1:11434/v1")
	t.Setenv(env.OpenAIAPIKey, "sk-secret")
	// The key stays in the environment: Settings names where it is.
	want := env.Settings{DataDir: "/var/lib/aigate", StoreURL: "sqlite:/tmp/x.db", HashKey: "00",
		OpenAI: env.OpenAIUpstream{BaseURL: "http://127.0.0.1:11434/v1", APIKeyEnv: env.OpenAIAPIKey}}
	if got := env.Read(); got != want {
		t.Errorf("Read = %+v", got)
	}

	t.Setenv(env.Routes, " GET/a , ,POST/b")
	t.Setenv(env.KeyCacheTTL, "")
	t.Setenv(env.HTTPAPIResponse, "iam")
	a, err := env.ReadAuthorizer(time.Minute)
	if err != nil || !slices.Equal(a.Routes, []string{"GET/a", "POST/b"}) || a.KeyCacheTTL != time.Minute || !a.IAMForHTTPAPI {
		t.Errorf("ReadAuthorizer = %+v, %v", a, err)
	}
	for name, v := range map[string]string{env.KeyCacheTTL: "-1s", env.HTTPAPIResponse: "both"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, v)
			if _, err := env.ReadAuthorizer(0); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: %v, want an error naming it", name, v, err)
			}
		})
	}
}
