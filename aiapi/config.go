package aiapi

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/strictyaml"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
)

// Provider types of ProviderConfig.Type that aigate ships (the keys of
// builtin.Registry).
const (
	ProviderOpenAI    = "openai"    // any OpenAI-compatible base URL
	ProviderAnthropic = "anthropic" // Anthropic's Messages API, or any base URL that speaks it
	ProviderBedrock   = "bedrock"   // Amazon Bedrock, Converse API
	ProviderEcho      = "echo"      // the built-in test model (package echo)
)

// Defaults of the zero Config fields.
const (
	DefaultMaxTokens       = 4096
	DefaultMaxRequestBytes = 8 << 20
	DefaultUpstreamTimeout = duration.Duration(10 * time.Minute)
	DefaultExpireInterval  = duration.Duration(time.Minute)
	DefaultKeyStatusTTL    = duration.Duration(time.Second)
	// DefaultStreamWriteTimeout bounds each write of a stream.
	DefaultStreamWriteTimeout = duration.Duration(30 * time.Second)
)

// Config configures the AI API. The YAML fields are what `aigate serve`
// reads under its config file's top-level `aiapi:` key and what a Lambda
// reads from AIGATE_AIAPI_CONFIG; the others are wired in code. Every zero
// field has a working default.
type Config struct {
	// Models route the model names callers use to providers, in order: the
	// first route whose Name matches serves the model. Empty: the model
	// "echo" goes to the echo test model.
	Models []ModelRoute `yaml:"models,omitempty"`
	// Providers are the upstreams, by name, built by Registry. The name
	// "echo", when not defined, is the echo test model (when Registry has
	// the type "echo").
	Providers map[string]ProviderConfig `yaml:"providers,omitempty"`
	// DefaultMaxTokens caps the output of a chat completion that names no
	// max_tokens or max_completion_tokens; the cap is sent upstream, so the
	// reservation really bounds the request. Zero: DefaultMaxTokens.
	DefaultMaxTokens int64 `yaml:"defaultMaxTokens,omitempty"`
	// MaxOutputTokens is the most output tokens per choice any request may
	// ask for: a larger max_tokens / max_completion_tokens is lowered to it
	// in the body sent upstream (clamped, not refused, so that clients with
	// large defaults keep working), and the reservation counts the lowered
	// value. A route's MaxOutputTokens, when set, applies instead. Zero: no
	// ceiling beyond what int64 arithmetic allows (a larger product of n
	// and max_tokens is refused with a 400).
	MaxOutputTokens int64 `yaml:"maxOutputTokens,omitempty"`
	// MaxRequestBytes bounds a request body (413 above). Zero:
	// DefaultMaxRequestBytes.
	MaxRequestBytes int64 `yaml:"maxRequestBytes,omitempty"`
	// UpstreamTimeout bounds a whole upstream call, a stream included (504
	// past it). Zero: DefaultUpstreamTimeout.
	UpstreamTimeout duration.Duration `yaml:"upstreamTimeout,omitempty"`
	// ReservationTTL is how long a reservation may stay pending before
	// ExpireReservations releases it as left behind by a dead process. It
	// must exceed UpstreamTimeout (a reservation that expires mid-request
	// cannot be settled). Zero: UpstreamTimeout plus five minutes.
	ReservationTTL duration.Duration `yaml:"reservationTtl,omitempty"`
	// ExpireInterval is how often Run releases expired reservations. Zero:
	// DefaultExpireInterval.
	ExpireInterval duration.Duration `yaml:"expireInterval,omitempty"`
	// ResponsesLookup names the provider (an OpenAI upstream that keeps
	// responses) that GET /v1/responses/{id} is forwarded to. Any caller
	// of this AI API can then read any response stored under that
	// upstream's key if it knows the id: set it only where callers trust
	// each other. Empty: such requests are refused with a 400.
	ResponsesLookup string `yaml:"responsesLookup,omitempty"`
	// StreamWriteTimeout bounds each event written to a streaming caller:
	// a caller that reads nothing for this long is taken to be gone, and
	// what was produced so far is settled. It replaces the server's write
	// deadline (which would otherwise end every long stream) event by
	// event. Zero: DefaultStreamWriteTimeout.
	StreamWriteTimeout duration.Duration `yaml:"streamWriteTimeout,omitempty"`
	// KeyStatusTTL is how stale the API key status the server checks may
	// be: a key revoked this long ago, or a secret a rotation replaced this
	// long ago (or whose grace ended), is refused even while API Gateway's
	// authorizer cache still allows it. Zero: DefaultKeyStatusTTL (1 s).
	KeyStatusTTL duration.Duration `yaml:"keyStatusTtl,omitempty"`

	// Ledger enforces limits and records usage: only its reservations
	// (reserve, settle, extend, release, expire) are used. Required.
	Ledger quota.Reservations `yaml:"-"`
	// Keys is where API keys' status is read back (store.GetKey). Nil: no
	// check here, and a revoked key works until the authorizer's cache
	// forgets it.
	Keys authz.KeyStore `yaml:"-"`
	// Pricing prices models (USD per 1M tokens) for USD budgets and the
	// ledger's costs. Nil: the built-in defaults only (pricing.Defaults).
	// The Lambda reads AIGATE_PRICING into it (cmd/aiapi); `aigate serve`, the
	// config file's top-level pricing list.
	Pricing *pricing.Table `yaml:"-"`
	// Tenants is where tenants' limits are read (store.Tenants), at most
	// KeyStatusTTL stale. Nil: tenants have no limits and nothing is
	// counted for them.
	Tenants TenantStore `yaml:"-"`
	// Metrics registers the AI API's Prometheus metrics
	// (aigate_aiapi_unpriced_requests_total). Nil: none.
	Metrics prometheus.Registerer `yaml:"-"`
	// Registry builds Providers by their type: the assembler hands in
	// builtin.Registry() (aiapi/provider/builtin), or its own. It also
	// gives the default "echo" provider. Nil: only Upstreams exist, and
	// every route must name one.
	Registry provider.Registry `yaml:"-"`
	// LookupSecret returns the value of the variable a provider's
	// apiKeyEnv names; the commands pass os.LookupEnv, so that this
	// package itself reads no environment. The value goes to the provider
	// only, never into an error or a log line. Nil: a provider with an
	// apiKeyEnv is a configuration error.
	LookupSecret func(name string) (string, bool) `yaml:"-"`
	// Upstreams are providers built in code, by name; they take precedence
	// over Providers of the same name (tests, custom backends).
	Upstreams map[string]provider.Provider `yaml:"-"`
	// Logger gets one line per request and every failure. Nil:
	// slog.Default().
	Logger *slog.Logger `yaml:"-"`
	// Now is the clock. Nil: time.Now.
	Now func() time.Time `yaml:"-"`
}

// ModelRoute sends the models matching Name to a provider.
type ModelRoute struct {
	// Name is a model name, or an IAM-style glob ("gpt-4o*", "*"). Only
	// routes without wildcards are listed by GET /v1/models.
	Name string `yaml:"name"`
	// Provider names one of Config.Providers (or Upstreams).
	Provider string `yaml:"provider"`
	// UpstreamModel is the model id sent upstream. Empty: the name the
	// caller used.
	UpstreamModel string `yaml:"upstreamModel,omitempty"`
	// MaxOutputTokens is this route's output ceiling per choice (see
	// Config.MaxOutputTokens). Zero: the Config's.
	MaxOutputTokens int64 `yaml:"maxOutputTokens,omitempty"`
}

// ProviderConfig is one upstream.
type ProviderConfig struct {
	// Type is "openai", "anthropic", "bedrock" or "echo".
	Type string `yaml:"type"`
	// BaseURL (openai) is the API root, e.g. https://api.openai.com/v1 or
	// http://127.0.0.1:11434/v1 (Ollama). BaseURL (anthropic) is the root
	// below which /v1/messages lies, as in ANTHROPIC_BASE_URL; without
	// "/v1", which is refused. Empty (anthropic only):
	// https://api.anthropic.com, which then needs apiKeyEnv.
	BaseURL string `yaml:"baseUrl,omitempty"`
	// APIKeyEnv (openai, anthropic) names the environment variable that
	// holds the upstream's key, which Config.LookupSecret resolves; the
	// key itself never goes into configuration. Empty: no key (local
	// servers).
	APIKeyEnv string `yaml:"apiKeyEnv,omitempty"`
	// RefusedBetas (anthropic) are the anthropic-beta values this upstream
	// refuses, as IAM-style globs ("context-1m-*"): they are dropped from
	// the Messages API requests forwarded to it. Anthropic's API takes
	// every beta it knows; Amazon Bedrock's and Google Vertex's Anthropic
	// endpoints, and gateways in front of them, refuse a whole request for
	// one beta they do not offer.
	RefusedBetas []string `yaml:"refusedBetas,omitempty"`
	// MaxTokensField (openai) is "max_tokens" (the default) or
	// "max_completion_tokens": the field that carries the output cap when
	// the caller set none.
	MaxTokensField string `yaml:"maxTokensField,omitempty"`
	// NoResponses (openai) says the upstream has no /responses endpoint
	// (llama.cpp, older vLLM): Responses API requests are then translated
	// through chat completions instead of forwarded.
	NoResponses bool `yaml:"noResponses,omitempty"`
	// Region (bedrock) is the AWS region. Empty: the AWS configuration's
	// (AWS_REGION).
	Region string `yaml:"region,omitempty"`
	// Endpoint (bedrock) replaces Bedrock's endpoint URL (a VPC endpoint).
	Endpoint string `yaml:"endpoint,omitempty"`
	// Timeout bounds this provider's calls instead of UpstreamTimeout.
	Timeout duration.Duration `yaml:"timeout,omitempty"`
}

// DefaultConfig is the configuration of a fresh install: the model "echo"
// answered by the echo test model, so that everything works offline.
func DefaultConfig() Config {
	return Config{
		Models:    []ModelRoute{{Name: "echo", Provider: "echo"}},
		Providers: map[string]ProviderConfig{"echo": {Type: ProviderEcho}},
	}
}

// ParseConfig reads a Config from YAML (or JSON): an unknown field or a
// mistyped value is an error naming its path ("aiapi: models[0].name: …").
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := strictyaml.Decode(data, &c, "aiapi"); err != nil {
		return Config{}, err
	}
	return c, nil
}

// OpenAIUpstream is an OpenAI-compatible upstream for every model no route
// names, so that a real upstream is one setting away. The commands fill it
// from OPENAI_BASE_URL and OPENAI_API_KEY; the zero value adds nothing.
type OpenAIUpstream struct {
	// BaseURL is the upstream's URL. Empty: OpenAI's own
	// (https://api.openai.com/v1) when APIKeyEnv is set.
	BaseURL string
	// APIKeyEnv names the environment variable holding the upstream's key
	// (ProviderConfig.APIKeyEnv). Empty: no key is sent.
	APIKeyEnv string
}

// WithOpenAI returns c with a catch-all route of every model not routed
// otherwise to u, unless u is zero or c has a provider "openai" of its own.
func (c Config) WithOpenAI(u OpenAIUpstream) Config {
	cfg := c
	base := u.BaseURL
	// A configuration with its own provider "openai" has placed it where it
	// wants (its apiKeyEnv may well name OPENAI_API_KEY): no catch-all then.
	_, configured := cfg.Providers[ProviderOpenAI]
	if (base != "" || u.APIKeyEnv != "") && !configured {
		if base == "" {
			base = "https://api.openai.com/v1"
		}
		providers := map[string]ProviderConfig{}
		for k, v := range cfg.Providers {
			providers[k] = v
		}
		pc := ProviderConfig{Type: ProviderOpenAI, BaseURL: base}
		pc.APIKeyEnv = u.APIKeyEnv
		providers[ProviderOpenAI] = pc
		cfg.Providers = providers
		models := append([]ModelRoute(nil), cfg.Models...)
		if len(models) == 0 {
			models = DefaultConfig().Models
		}
		cfg.Models = append(models, ModelRoute{Name: "*", Provider: ProviderOpenAI})
	}
	return cfg
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if len(c.Models) == 0 {
		c.Models = DefaultConfig().Models
	}
	if c.DefaultMaxTokens <= 0 {
		c.DefaultMaxTokens = DefaultMaxTokens
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.UpstreamTimeout <= 0 {
		c.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if c.ReservationTTL <= 0 {
		c.ReservationTTL = c.UpstreamTimeout + duration.Duration(5*time.Minute)
	}
	if c.ExpireInterval <= 0 {
		c.ExpireInterval = DefaultExpireInterval
	}
	if c.StreamWriteTimeout <= 0 {
		c.StreamWriteTimeout = DefaultStreamWriteTimeout
	}
	if c.KeyStatusTTL <= 0 {
		c.KeyStatusTTL = DefaultKeyStatusTTL
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// validate checks what withDefaults cannot fix.
func (c Config) validate() error {
	if c.Ledger == nil {
		return errors.New("aiapi: a Ledger is required")
	}
	for name, p := range c.Providers {
		if p.Timeout >= c.ReservationTTL {
			return fmt.Errorf("aiapi: providers.%s.timeout %v must be below reservationTtl %v", name, p.Timeout, c.ReservationTTL)
		}
	}
	if c.UpstreamTimeout >= c.ReservationTTL {
		return fmt.Errorf("aiapi: upstreamTimeout %v must be below reservationTtl %v", c.UpstreamTimeout, c.ReservationTTL)
	}
	if c.MaxOutputTokens < 0 {
		return fmt.Errorf("aiapi: maxOutputTokens %d must not be negative", c.MaxOutputTokens)
	}
	for i, r := range c.Models {
		if r.Name == "" || r.Provider == "" {
			return fmt.Errorf("aiapi: models[%d]: name and provider are required", i)
		}
		if r.MaxOutputTokens < 0 {
			return fmt.Errorf("aiapi: models[%d].maxOutputTokens %d must not be negative", i, r.MaxOutputTokens)
		}
		if _, ok := c.Upstreams[r.Provider]; ok {
			continue
		}
		if _, ok := c.Providers[r.Provider]; !ok && (r.Provider != ProviderEcho || c.Registry[ProviderEcho] == nil) {
			return fmt.Errorf("aiapi: models[%d] (%s): no provider %q", i, r.Name, r.Provider)
		}
	}
	return nil
}
