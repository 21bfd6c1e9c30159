package server

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/gateway"
	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/strictyaml"
)

// Config is the `aigate serve` config file. Each section belongs to the
// package it configures; every field is optional.
type Config struct {
	// APIs are the gateway's APIs (see package gateway). Empty: one REST
	// API, stage "local", with ANY /v1/{proxy+} behind the built-in REQUEST
	// authorizer (no identity source, no result cache: see DefaultConfig)
	// in front of the built-in AI API, and GET /healthz.
	APIs []gateway.API `yaml:"apis,omitempty"`
	// Authorizer configures the built-in authorizer function
	// (FunctionAuthorizer).
	Authorizer AuthorizerConfig `yaml:"authorizer,omitempty"`
	// JWT lists the identity providers whose tokens are accepted beside API
	// keys, and the plans (named limits) their principals get.
	JWT *jwtauth.Config `yaml:"jwt,omitempty"`
	// AIAPI configures the built-in AI API (HandlerAIAPI): model routes and
	// providers, limits on requests. Nil: aiapi.DefaultConfig (the echo
	// test model). Either way Options.OpenAI (OPENAI_BASE_URL / OPENAI_API_KEY) adds an
	// OpenAI-compatible upstream for every other model.
	AIAPI *aiapi.Config `yaml:"aiapi,omitempty"`
	// HTTP bounds what one connection may hold: read, write and idle
	// timeouts, open connections. Zero fields: DefaultLimits. The serve
	// command's flags override it.
	HTTP Limits `yaml:"http,omitempty"`
	// Pricing is the price table (pricing.Config: model glob, USD per 1M
	// tokens for input, output, cachedInput, cacheWrite, optional
	// effective date), over the built-in prices.
	Pricing pricing.Config `yaml:"pricing,omitempty"`
}

// AuthorizerConfig configures the built-in authorizer.
type AuthorizerConfig struct {
	// Routes is the scope of an allowed principal: "VERB/path" patterns
	// relative to the API stage, IAM wildcards, {model} expanded per model.
	// Default authz.DefaultRoutes: the AI API's routes, each with its verb.
	Routes []string `yaml:"routes,omitempty"`
	// KeyCacheTTL keeps looked-up keys in memory (a Go duration, ≥ 0; 0
	// turns the cache off: every authorizer call reads the store).
	//
	// Default DefaultKeyCacheTTL (1 s) over the SQLite store: every change
	// to a key, by any process (`aigate keys revoke`), changes the store's
	// KeysGeneration once committed, and a cached key is re-read at the
	// next call after that, so a revocation is still seen at the next call
	// that misses the gateway's result cache; the TTL bounds only the case
	// of a writer that died between its commit and that change. Default 0
	// over a store without KeysGeneration (DynamoDB), where the TTL alone
	// would bound how long a revoked key keeps working.
	KeyCacheTTL *duration.Duration `yaml:"keyCacheTTL,omitempty"`
	// DevIssuer enables the local development OIDC issuer (`aigate token`),
	// published at /.well-known/openid-configuration. Default true; never
	// enabled in the Lambda.
	DevIssuer *bool `yaml:"devIssuer,omitempty"`
}

// DefaultKeyCacheTTL is the authorizer's key cache TTL over a store that
// implements authz.KeysGeneration (see AuthorizerConfig.KeyCacheTTL).
const DefaultKeyCacheTTL = time.Second

// keyCacheTTL is the TTL of the authorizer's key cache over keys.
func (c AuthorizerConfig) keyCacheTTL(keys authz.KeyStore) time.Duration {
	if c.KeyCacheTTL != nil {
		return c.KeyCacheTTL.Std()
	}
	if _, ok := keys.(authz.KeysGeneration); ok {
		return DefaultKeyCacheTTL
	}
	return 0
}

// Names of the built-in functions and handlers a config can refer to.
const (
	FunctionAuthorizer = "aigate-authorizer" // the authorizer Lambda's handler, in process
	HandlerAIAPI       = "aiapi"             // the AI API, in process (a HANDLER integration)
)

// DefaultConfig is what `aigate serve` runs without a config file: the
// gateway's default API with ANY /v1/{proxy+} served by the AI API, and its
// authorizer invoked on every request, with no identity source.
//
// Clients carry their credential in Authorization (Bearer) or, Anthropic's
// (ANTHROPIC_API_KEY), in x-api-key. API Gateway refuses a request 401
// before invoking the authorizer when any identity source is missing, so
// an identity source of either header alone would refuse the other's
// clients, and both together would demand both. Without an identity source
// nothing is refused up front, and the authorizer (apigw: Authorization,
// else x-api-key) decides; API Gateway then allows no result cache, which
// costs little in process (the authorizer's key cache, which over SQLite
// still sees another process's revocation at the next request: see
// AuthorizerConfig.KeyCacheTTL) and makes a revocation immediate.
func DefaultConfig() *Config {
	apis := gateway.DefaultConfig().APIs
	for i := range apis {
		for name, au := range apis[i].Authorizers {
			if au.LambdaFunction.Function == FunctionAuthorizer {
				noCache := 0
				au.IdentitySource, au.AuthorizerResultTTLInSeconds = "", &noCache
				apis[i].Authorizers[name] = au
			}
		}
		for j := range apis[i].Routes {
			if r := &apis[i].Routes[j]; r.Route == "ANY /v1/{proxy+}" {
				r.Integration = gateway.Integration{Type: gateway.IntegrationHandler, Handler: HandlerAIAPI}
			}
		}
	}
	return &Config{APIs: apis}
}

// LoadConfig reads and validates a config file. Errors name the bad field
// ("server: apis[0].routes[1].route: …"). Relative bootstrap paths are
// relative to the file's directory.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, err
	}
	gw := &gateway.Config{APIs: cfg.APIs}
	gw.ResolvePaths(filepath.Dir(path))
	return cfg, nil
}

// ParseConfig parses and validates a config.
func ParseConfig(data []byte) (*Config, error) {
	var cfg Config
	if err := strictyaml.Decode(data, &cfg, "server"); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Validate checks what can be checked without opening anything.
func (c *Config) Validate() error {
	if _, err := c.Pricing.Entries(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if len(c.APIs) == 0 {
		c.APIs = DefaultConfig().APIs
	}
	gw := &gateway.Config{APIs: c.APIs}
	if err := gw.Validate(); err != nil {
		return err
	}
	if ttl := c.Authorizer.KeyCacheTTL; ttl != nil {
		if err := ttl.NonNegative("server: authorizer.keyCacheTTL"); err != nil {
			return err
		}
	}
	if err := c.HTTP.validate("http"); err != nil {
		return err
	}
	if _, err := authz.New(authz.Config{Routes: c.Authorizer.Routes}); err != nil {
		return fmt.Errorf("server: authorizer.routes: %w", err)
	}
	return nil
}

func (c *Config) devIssuer() bool {
	return c.Authorizer.DevIssuer == nil || *c.Authorizer.DevIssuer
}
