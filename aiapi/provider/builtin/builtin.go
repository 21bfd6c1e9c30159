// Package builtin lists the providers aigate ships, by the type names of
// the AI API's configuration: the one place that names them, used by the
// assemblers (server for `aigate serve`, cmd/aiapi for the Lambda) and by
// tests. It checks each type's settings and builds its client; it never
// reads the environment (keys come resolved in provider.Settings).
package builtin

import (
	"context"
	"fmt"
	"strings"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/anthropic"
	"github.com/aigate/aigate/aiapi/provider/bedrock"
	"github.com/aigate/aigate/aiapi/provider/echo"
	"github.com/aigate/aigate/aiapi/provider/openai"
)

// Registry is the built-in provider types: "openai" (any OpenAI-compatible
// base URL), "anthropic" (the Messages API), "bedrock" (Amazon Bedrock's
// Converse API) and "echo" (the offline test model). Each call returns a
// fresh map, which the caller may extend.
func Registry() provider.Registry {
	return provider.Registry{
		"openai":    newOpenAI,
		"anthropic": newAnthropic,
		"bedrock":   newBedrock,
		"echo":      newEcho,
	}
}

func newEcho(_ context.Context, s provider.Settings) (provider.Provider, error) {
	return &echo.Model{Now: s.Now}, nil
}

func newOpenAI(_ context.Context, s provider.Settings) (provider.Provider, error) {
	if s.BaseURL == "" {
		return nil, fmt.Errorf("baseUrl is required")
	}
	switch s.MaxTokensField {
	case "", openai.MaxTokens, openai.MaxCompletionTokens:
	default:
		return nil, fmt.Errorf("maxTokensField must be %s or %s", openai.MaxTokens, openai.MaxCompletionTokens)
	}
	return &openai.Client{BaseURL: s.BaseURL, APIKey: s.APIKey, MaxTokensField: s.MaxTokensField, NoResponses: s.NoResponses}, nil
}

func newAnthropic(_ context.Context, s provider.Settings) (provider.Provider, error) {
	if strings.HasSuffix(strings.TrimSuffix(s.BaseURL, "/"), "/v1") {
		return nil, fmt.Errorf("baseUrl is the root without /v1 (as ANTHROPIC_BASE_URL)")
	}
	if s.BaseURL == "" && s.APIKey == "" {
		return nil, fmt.Errorf("apiKeyEnv is required for %s", anthropic.DefaultBaseURL)
	}
	return &anthropic.Client{BaseURL: s.BaseURL, APIKey: s.APIKey, RefusedBetas: s.RefusedBetas, Now: s.Now}, nil
}

// newBedrock loads the AWS configuration the SDK's way (the Lambda's role,
// or AWS_* variables and shared files): the AWS SDK, not aigate, reads it.
func newBedrock(ctx context.Context, s provider.Settings) (provider.Provider, error) {
	rt, err := bedrock.NewRuntime(ctx, s.Region, s.Endpoint)
	if err != nil {
		return nil, err
	}
	return &bedrock.Client{Runtime: rt, Now: s.Now}, nil
}
