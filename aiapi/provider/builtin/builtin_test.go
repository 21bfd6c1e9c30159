package builtin_test

import (
	"context"
	"testing"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/builtin"
)

// Every provider type the AI API's configuration documents is built in,
// and nothing else is.
func TestRegistryHasEveryDocumentedType(t *testing.T) {
	r := builtin.Registry()
	want := []string{aiapi.ProviderOpenAI, aiapi.ProviderAnthropic, aiapi.ProviderBedrock, aiapi.ProviderEcho}
	for _, name := range want {
		if r[name] == nil {
			t.Errorf("no provider type %q", name)
		}
	}
	if len(r) != len(want) {
		t.Errorf("%d types, want %d", len(r), len(want))
	}
}

func TestSettingsAreChecked(t *testing.T) {
	r := builtin.Registry()
	for _, tc := range []struct {
		name, typ string
		s         provider.Settings
		ok        bool
	}{
		{"openai needs a base URL", "openai", provider.Settings{}, false},
		{"openai's cap field is one of two", "openai", provider.Settings{BaseURL: "http://127.0.0.1:1/v1", MaxTokensField: "limit"}, false},
		{"openai", "openai", provider.Settings{BaseURL: "http://127.0.0.1:1/v1", MaxTokensField: "max_completion_tokens"}, true},
		{"anthropic's own API needs a key", "anthropic", provider.Settings{}, false},
		{"anthropic's root has no /v1", "anthropic", provider.Settings{BaseURL: "http://127.0.0.1:1/v1/", APIKey: "k"}, false},
		{"anthropic with a key", "anthropic", provider.Settings{APIKey: "k"}, true},
		{"echo", "echo", provider.Settings{}, true},
	} {
		p, err := r[tc.typ](context.Background(), tc.s)
		if (err == nil) != tc.ok || (err == nil) != (p != nil) {
			t.Errorf("%s: %v, %v", tc.name, p, err)
		}
	}
}
