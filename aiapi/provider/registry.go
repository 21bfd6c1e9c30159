package provider

import (
	"context"
	"time"
)

// Settings are what a provider is built from: one upstream of the AI API's
// configuration (aiapi.ProviderConfig), its key already resolved by the
// assembler. Each type reads the fields it documents and ignores the rest.
type Settings struct {
	// BaseURL is the upstream's root (openai, anthropic).
	BaseURL string
	// APIKey is the upstream's credential; empty: none is sent. A factory
	// never puts it in an error.
	APIKey string
	// RefusedBetas (anthropic) are the anthropic-beta globs the upstream
	// refuses.
	RefusedBetas []string
	// MaxTokensField (openai) names the field that carries the output cap.
	MaxTokensField string
	// NoResponses (openai) says the upstream has no /responses endpoint.
	NoResponses bool
	// Region and Endpoint (bedrock) place the AWS client.
	Region, Endpoint string
	// Now is the clock for "created" fields. Nil: time.Now.
	Now func() time.Time
}

// Factory builds a provider of one type. ctx bounds startup work (loading
// an AWS configuration); no upstream is contacted. Its errors name the
// setting at fault by its configuration name ("baseUrl is required") and
// leave out the provider's name, which the caller adds.
type Factory func(ctx context.Context, s Settings) (Provider, error)

// Registry is the provider types an AI API can build from its
// configuration, by type name ("openai", "echo"…). The AI API imports no
// provider: its assembler hands it one (aiapi/provider/builtin lists
// those aigate ships).
type Registry map[string]Factory
