package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/aiapi"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name, inline, file, pricing string
		openai                      aiapi.OpenAIUpstream
		check                       func(aiapi.Config) bool
		wantErr                     string
	}{
		{name: "nothing set is the default", check: func(c aiapi.Config) bool { return len(c.Models) == 1 && c.Models[0].Name == "echo" }},
		{name: "the OpenAI upstream adds a catch-all", openai: aiapi.OpenAIUpstream{APIKeyEnv: "OPENAI_API_KEY"},
			check: func(c aiapi.Config) bool {
				return c.Providers["openai"].APIKeyEnv == "OPENAI_API_KEY" && c.Models[len(c.Models)-1].Name == "*"
			}},
		{name: "YAML in the environment", inline: "defaultMaxTokens: 1024\nupstreamTimeout: 90s\n",
			check: func(c aiapi.Config) bool {
				return c.DefaultMaxTokens == 1024 && c.UpstreamTimeout.Std() == 90*time.Second
			}},
		{name: "a file", file: filepath.Join("..", "..", "aiapi", "testdata", "config.yaml"),
			check: func(c aiapi.Config) bool { return len(c.Models) == 5 && c.KeyStatusTTL.Std() == time.Second }},
		{name: "inline and file", inline: "models: []", file: "x.yaml", wantErr: "not both"},
		{name: "unknown fields are errors", inline: "modelz: []", wantErr: "modelz"},
		{name: "prices", pricing: `[{"model":"echo","input":"2","output":"4"}]`, check: func(c aiapi.Config) bool {
			p, ok := c.Pricing.Lookup("echo", time.Now())
			return ok && p.Input == 2_000_000 && p.Output == 4_000_000 && p.CachedInput == 2_000_000
		}},
		{name: "a malformed price names the variable and the entry",
			pricing: `[{"model":"echo","input":"2","output":"4"},{"model":"gpt-*","input":1,"output":"1.0000001"}]`,
			wantErr: "pricing[1].output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvConfig, tc.inline)
			t.Setenv(EnvConfigFile, tc.file)
			t.Setenv(EnvPricing, tc.pricing)
			cfg, err := configFromEnv(tc.openai)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				if tc.pricing != "" && !strings.Contains(err.Error(), EnvPricing) {
					t.Errorf("err = %v, want it to name %s", err, EnvPricing)
				}
			case err != nil:
				t.Fatal(err)
			case !tc.check(cfg):
				t.Errorf("cfg = %+v", cfg)
			}
		})
	}
}
