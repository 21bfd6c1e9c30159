package stack

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config is everything the stack is built from. LoadConfig reads it from
// the Pulumi stack configuration (deploy/aws/README.md lists every key);
// tests build it in code, starting from Defaults.
type Config struct {
	// Name prefixes every named resource: functions, roles, log groups,
	// the APIs. Default: "aigate-" + the stack name.
	Name string
	// TablePrefix starts the five DynamoDB table names (store/dynamodb:
	// "{prefix}keys", …); the Lambdas get AIGATE_STORE=dynamodb://TablePrefix.
	// Default: Name + "-".
	TablePrefix string
	// StageName is the REST API stage (and the HTTP API stage). Default "prod".
	StageName string
	// HashKey is AIGATE_HASH_KEY, the secret API keys are hashed with:
	// hex or base64 of at least 32 bytes, the same value `aigate keys
	// create` uses. Required; LoadConfig insists that it is a Pulumi secret.
	HashKey string

	// Authorizer configures the authorizer Lambda and API Gateway's use of it.
	Authorizer AuthorizerConfig
	// AIAPI configures the AI API Lambda.
	AIAPI AIAPIConfig

	// Routes are the REST API's methods (and the HTTP API's routes), all
	// under /v1/, all authorized by the authorizer and proxied to the AI
	// API. Default: DefaultRoutes.
	Routes []Route
	// ThrottleRateLimit and ThrottleBurstLimit are the stage's default
	// throttling (requests per second, and burst), for every method.
	// Defaults 50 and 100.
	ThrottleRateLimit  float64
	ThrottleBurstLimit int
	// LogRetentionDays is the retention of every log group the stack
	// creates. One of CloudWatch's allowed values; default 30.
	LogRetentionDays int
	// ExecutionLogLevel is the REST stage's execution logging: "OFF",
	// "ERROR" (default) or "INFO". Data tracing (full requests, with their
	// Authorization header) is never turned on.
	ExecutionLogLevel string
	// ManageAPIGatewayAccount creates the region-wide API Gateway
	// CloudWatch role (apigateway.Account) that REST access and execution
	// logs need. Turn it off when the account's API Gateway settings are
	// managed elsewhere. Default true.
	ManageAPIGatewayAccount bool
	// UsagePlans, when any, switch the REST API to apiKeySource AUTHORIZER:
	// every method then requires an API Gateway API key, which the
	// authorizer returns as usageIdentifierKey (set with `aigate keys
	// create --usage-identifier-key`). Default: none.
	UsagePlans []UsagePlan
	// HTTPAPI adds an HTTP API (v2) beside the REST API: the same routes,
	// authorizer (REQUEST, payload 2.0, simple responses) and AI API,
	// without response streaming. Default false.
	HTTPAPI bool
	// DeletionProtection protects the DynamoDB tables from deletion
	// (README: tearing down). Default true.
	DeletionProtection bool
	// Tags go on every resource that takes tags.
	Tags map[string]string
}

// AuthorizerConfig configures the authorizer.
type AuthorizerConfig struct {
	// Type is "REQUEST" (default) or "TOKEN".
	Type string
	// IdentitySources are API Gateway's identity sources. REQUEST: any of
	// method.request.header.X, method.request.querystring.X, stageVariables.X,
	// context.X (required while caching is on); TOKEN: exactly one header.
	// API Gateway answers 401 without invoking the authorizer when any is
	// missing. Default: none for REQUEST, so that a credential in either
	// Authorization or x-api-key (Anthropic's clients) reaches the
	// authorizer, at the price of no result cache (see ResultTTL);
	// DefaultIdentitySource for TOKEN.
	IdentitySources []string
	// ValidationExpression (TOKEN only) is the regular expression a token
	// must match, else API Gateway answers 401 without invoking the Lambda.
	// "": none. LoadConfig sets DefaultTokenValidationExpression for TOKEN
	// unless the stack configuration says "none".
	ValidationExpression string
	// ResultTTL is authorizerResultTtlInSeconds, 0 (no cache) to 3600.
	// Default 0: every request invokes the authorizer (whose warm Lambda
	// keeps keys KeyCacheTTL). Caching needs IdentitySources, its key, and
	// a request missing one is refused: caching by Authorization refuses
	// x-api-key clients.
	ResultTTL int
	// KeyCacheTTL is AIGATE_KEY_CACHE_TTL, how long a warm Lambda keeps a
	// looked-up key (Go duration). Default "5s".
	KeyCacheTTL string
	// GrantedRoutes is AIGATE_ROUTES: the route patterns an allowed
	// principal's policy covers. Empty: the authorizer's default, the AI
	// API's routes with their verbs (authz.DefaultRoutes).
	GrantedRoutes []string
	// JWTConfig is AIGATE_JWT_CONFIG, the JSON of a jwtauth.Config (OIDC
	// issuers accepted beside API keys). Empty: API keys only.
	JWTConfig string
	// MemoryMB and TimeoutSeconds size the Lambda. Defaults 256 and 10.
	MemoryMB       int
	TimeoutSeconds int
	// Artifact is the zip holding the authorizer's bootstrap, relative to
	// the Pulumi project directory. Default "dist/authorizer.zip".
	Artifact string
}

// AIAPIConfig configures the AI API Lambda (its AIGATE_AIAPI_CONFIG).
type AIAPIConfig struct {
	// Models route model names to providers, first match wins (aiapi
	// ModelRoute). Empty: the Lambda's default, the echo test model.
	Models []ModelRoute
	// Providers are the upstreams by name (aiapi ProviderConfig, less the
	// key, which is in UpstreamKeys).
	Providers map[string]Provider
	// UpstreamKeys are the upstreams' API keys by provider name: Pulumi
	// secrets, passed to the Lambda in environment variables that the
	// provider's apiKeyEnv names. Only "openai" providers take a key.
	UpstreamKeys map[string]string
	// BedrockModelARNs are added to the Bedrock model ARNs derived from
	// Models (inference profiles in other accounts, provisioned models).
	BedrockModelARNs []string
	// ResponseStreaming streams REST answers (responseTransferMode STREAM on
	// the response-streaming-invocations URI, AIGATE_RESPONSE_STREAMING=on).
	// Default true.
	ResponseStreaming bool
	// UpstreamTimeout bounds an upstream call (aiapi upstreamTimeout, Go
	// duration). Empty: the AI API's default (10m). It must stay below the
	// function's timeout.
	UpstreamTimeout string
	// DefaultMaxTokens caps the output of requests that name no max_tokens.
	// Zero: the AI API's default (4096).
	DefaultMaxTokens int64
	// Pricing is AIGATE_PRICING: a JSON list of {model, input, output,
	// cachedInput, cacheWrite, effective}, USD per 1M tokens, that takes
	// precedence over the AI API's built-in prices (USD budgets and the
	// ledger's costs). Validate applies the Lambda's rules (checkPricing).
	// Empty: the built-in prices only.
	Pricing string
	// MemoryMB and TimeoutSeconds size the Lambda. Defaults 512 and 900.
	MemoryMB       int
	TimeoutSeconds int
	// Artifact is the zip holding the AI API's bootstrap. Default
	// "dist/aiapi.zip".
	Artifact string
}

// ModelRoute is aiapi.ModelRoute.
type ModelRoute struct {
	Name          string `json:"name"`
	Provider      string `json:"provider"`
	UpstreamModel string `json:"upstreamModel,omitempty"`
}

// Provider is aiapi.ProviderConfig without apiKeyEnv: the key comes from
// Config.AIAPI.UpstreamKeys, and the stack names the variable.
type Provider struct {
	Type           string `json:"type"`
	BaseURL        string `json:"baseUrl,omitempty"`
	MaxTokensField string `json:"maxTokensField,omitempty"`
	Region         string `json:"region,omitempty"`
	Endpoint       string `json:"endpoint,omitempty"`
	Timeout        string `json:"timeout,omitempty"`
}

// Route is one API method: an HTTP method (or ANY) and a path under /v1/.
type Route struct {
	Method string
	Path   string
}

func (r Route) String() string { return r.Method + " " + r.Path }

// UsagePlan is an API Gateway usage plan and the API keys in it.
type UsagePlan struct {
	Name string `json:"name"`
	// RateLimit and BurstLimit throttle each key (0: the stage's limits).
	RateLimit  float64 `json:"rateLimit,omitempty"`
	BurstLimit int     `json:"burstLimit,omitempty"`
	// QuotaLimit requests per QuotaPeriod (DAY, WEEK or MONTH); 0: none.
	QuotaLimit  int    `json:"quotaLimit,omitempty"`
	QuotaPeriod string `json:"quotaPeriod,omitempty"`
	// APIKeys names the API Gateway API keys created in this plan; their
	// values (generated by API Gateway) are what `aigate keys create
	// --usage-identifier-key` takes.
	APIKeys []string `json:"apiKeys,omitempty"`
}

// Defaults and limits.
const (
	DefaultStageName = "prod"
	// DefaultIdentitySource is where OpenAI's clients put their credential:
	// a TOKEN authorizer's default identity source, and the one to cache by
	// when no client sends x-api-key.
	DefaultIdentitySource = "method.request.header.Authorization"
	// DefaultTokenValidationExpression is RFC 6750's "Bearer b64token": API
	// keys (aig_…) and JWTs match it.
	DefaultTokenValidationExpression = `^Bearer [-0-9A-Za-z._~+/]+=*$`
	DefaultAuthorizerArtifact        = "dist/authorizer.zip"
	DefaultAIAPIArtifact             = "dist/aiapi.zip"
	// MaxAuthorizerTTL is API Gateway's limit on authorizer caching.
	MaxAuthorizerTTL = 3600
	// lambdaEnvLimit is Lambda's limit on the environment's total size.
	lambdaEnvLimit = 4096
)

// DefaultRoutes are the AI API's routes, one method (HTTP API route) each,
// the same as the authorizer's default scope (authz.DefaultRoutes), so that
// nothing else of the API reaches the AI API, and so that an HTTP API
// simple response, cached per route key, answers for exactly one of them.
var DefaultRoutes = []Route{
	{"POST", "/v1/chat/completions"},
	{"POST", "/v1/embeddings"},
	{"GET", "/v1/models"},
	{"GET", "/v1/models/{id+}"},
	{"POST", "/v1/responses"},
	{"GET", "/v1/responses/{id+}"},
	{"POST", "/v1/messages"},
	{"POST", "/v1/messages/count_tokens"},
}

// logRetentionValues are the retentions CloudWatch Logs accepts.
var logRetentionValues = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// Defaults returns the configuration of a stack named stack with every
// optional field at its default. HashKey stays empty: it has no default.
func Defaults(stack string) Config {
	name := "aigate-" + stack
	return Config{
		Name:        name,
		TablePrefix: name + "-",
		StageName:   DefaultStageName,
		Authorizer: AuthorizerConfig{
			Type:           "REQUEST",
			KeyCacheTTL:    "5s",
			MemoryMB:       256,
			TimeoutSeconds: 10,
			Artifact:       DefaultAuthorizerArtifact,
		},
		AIAPI: AIAPIConfig{
			ResponseStreaming: true,
			MemoryMB:          512,
			TimeoutSeconds:    900,
			Artifact:          DefaultAIAPIArtifact,
		},
		Routes:                  slices.Clone(DefaultRoutes),
		ThrottleRateLimit:       50,
		ThrottleBurstLimit:      100,
		LogRetentionDays:        30,
		ExecutionLogLevel:       "ERROR",
		ManageAPIGatewayAccount: true,
		DeletionProtection:      true,
	}
}

var (
	namePattern        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,39}$`)
	tablePrefixPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{0,200}$`)
	stagePattern       = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	segmentPattern     = regexp.MustCompile(`^([A-Za-z0-9._~-]+|\{[A-Za-z0-9_]+\}|\{[A-Za-z0-9_]+\+\})$`)
	identitySource     = regexp.MustCompile(`^(method\.request\.(header|querystring)\.[A-Za-z0-9_.-]+|stageVariables\.[A-Za-z0-9_]+|context\.[A-Za-z0-9_.]+)$`)
	planNamePattern    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

var httpMethods = []string{"ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

// ParseRoute parses "METHOD /v1/path".
func ParseRoute(s string) (Route, error) {
	method, path, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return Route{}, fmt.Errorf("stack: route %q: want \"METHOD /v1/path\"", s)
	}
	r := Route{Method: strings.ToUpper(method), Path: strings.TrimSpace(path)}
	return r, r.validate()
}

func (r Route) validate() error {
	if !slices.Contains(httpMethods, r.Method) {
		return fmt.Errorf("stack: route %q: method must be one of %s", r, strings.Join(httpMethods, ", "))
	}
	// Everything the AI API serves is under /v1/, and the permission that
	// lets API Gateway invoke it is scoped to …/v1/*.
	if !strings.HasPrefix(r.Path, "/v1/") {
		return fmt.Errorf("stack: route %q: the path must start with /v1/", r)
	}
	segs := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
	for i, seg := range segs {
		if !segmentPattern.MatchString(seg) {
			return fmt.Errorf("stack: route %q: bad path segment %q", r, seg)
		}
		if strings.HasSuffix(seg, "+}") && i != len(segs)-1 {
			return fmt.Errorf("stack: route %q: a greedy parameter must be the last segment", r)
		}
	}
	return nil
}

// pathParameters are the names of r's path parameters, in order.
func (r Route) pathParameters() []string {
	var names []string
	for _, seg := range strings.Split(r.Path, "/") {
		if strings.HasPrefix(seg, "{") {
			names = append(names, strings.TrimSuffix(strings.Trim(seg, "{}"), "+"))
		}
	}
	return names
}

// Validate reports the first problem with c, naming the setting. The stack
// refuses to start on any.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("stack: "+format, args...)) }

	if !namePattern.MatchString(c.Name) {
		add("name %q: 1 to 40 letters, digits and hyphens, starting with a letter or digit", c.Name)
	}
	if !tablePrefixPattern.MatchString(c.TablePrefix) {
		add("tablePrefix %q: letters, digits, '_', '.', '-' only", c.TablePrefix)
	}
	if !stagePattern.MatchString(c.StageName) {
		add("stageName %q: letters, digits, '_' and '-' only", c.StageName)
	}
	if c.HashKey == "" {
		add("hashKey is required (pulumi config set --secret hashKey $(openssl rand -hex 32))")
	} else if err := checkHashKey(c.HashKey); err != nil {
		errs = append(errs, err)
	}

	a := c.Authorizer
	switch a.Type {
	case "REQUEST":
		if len(a.IdentitySources) == 0 && a.ResultTTL > 0 {
			add("identitySources: a REQUEST authorizer with caching (authorizerTtl > 0) needs at least one, e.g. %s (which refuses x-api-key clients)", DefaultIdentitySource)
		}
		if a.ValidationExpression != "" {
			add("tokenValidationExpression applies to TOKEN authorizers only")
		}
	case "TOKEN":
		if len(a.IdentitySources) != 1 || !strings.HasPrefix(a.IdentitySources[0], "method.request.header.") {
			add("identitySources: a TOKEN authorizer takes exactly one method.request.header.X, got %q", a.IdentitySources)
		}
		if a.ValidationExpression != "" {
			if _, err := regexp.Compile(a.ValidationExpression); err != nil {
				add("tokenValidationExpression: %v", err)
			}
		}
	default:
		add("authorizerType %q: want REQUEST or TOKEN", a.Type)
	}
	for _, s := range a.IdentitySources {
		if !identitySource.MatchString(s) {
			add("identitySources: %q is not method.request.header.X, method.request.querystring.X, stageVariables.X or context.X", s)
		}
	}
	if a.ResultTTL < 0 || a.ResultTTL > MaxAuthorizerTTL {
		add("authorizerTtl %d: want 0 to %d seconds", a.ResultTTL, MaxAuthorizerTTL)
	}
	if d, err := time.ParseDuration(a.KeyCacheTTL); err != nil || d < 0 {
		add("keyCacheTtl %q: want a Go duration ≥ 0 (5s, 1m)", a.KeyCacheTTL)
	}
	for _, r := range a.GrantedRoutes {
		if r == "" || strings.ContainsAny(r, ", ") {
			add("grantedRoutes: %q is not a route pattern (VERB/path)", r)
		}
	}
	if a.JWTConfig != "" {
		if err := checkJWTConfig(a.JWTConfig); err != nil {
			errs = append(errs, err)
		}
	}
	checkSize := func(key string, mb, timeout, maxTimeout int) {
		if mb < 128 || mb > 10240 {
			add("%sMemory %d: want 128 to 10240 MB", key, mb)
		}
		if timeout < 1 || timeout > maxTimeout {
			add("%sTimeout %d: want 1 to %d seconds", key, timeout, maxTimeout)
		}
	}
	checkSize("authorizer", a.MemoryMB, a.TimeoutSeconds, 29)
	checkSize("aiapi", c.AIAPI.MemoryMB, c.AIAPI.TimeoutSeconds, 900)
	if a.Artifact == "" || c.AIAPI.Artifact == "" {
		add("authorizerArtifact and aiapiArtifact must name the zips (go run ./cmd/package)")
	}
	errs = append(errs, c.AIAPI.validate()...)

	if len(c.Routes) == 0 {
		add("apiRoutes: at least one route")
	}
	seen := map[string]bool{}
	for _, r := range c.Routes {
		if err := r.validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[r.String()] {
			add("apiRoutes: %q twice", r)
		}
		seen[r.String()] = true
	}
	if c.ThrottleRateLimit <= 0 || c.ThrottleBurstLimit <= 0 {
		add("throttleRateLimit and throttleBurstLimit must be positive (got %v, %d)", c.ThrottleRateLimit, c.ThrottleBurstLimit)
	}
	if !slices.Contains(logRetentionValues, c.LogRetentionDays) {
		add("logRetentionDays %d: CloudWatch accepts only %v", c.LogRetentionDays, logRetentionValues)
	}
	switch c.ExecutionLogLevel {
	case "OFF", "ERROR", "INFO":
	default:
		add("executionLogLevel %q: want OFF, ERROR or INFO", c.ExecutionLogLevel)
	}
	planNames, keyNames := map[string]bool{}, map[string]bool{}
	for _, p := range c.UsagePlans {
		if !planNamePattern.MatchString(p.Name) || planNames[p.Name] {
			add("usagePlans: name %q missing, malformed or repeated", p.Name)
		}
		planNames[p.Name] = true
		if p.RateLimit < 0 || p.BurstLimit < 0 || p.QuotaLimit < 0 {
			add("usagePlans.%s: limits must not be negative", p.Name)
		}
		if p.QuotaLimit > 0 && !slices.Contains([]string{"DAY", "WEEK", "MONTH"}, p.QuotaPeriod) {
			add("usagePlans.%s: quotaPeriod %q: want DAY, WEEK or MONTH", p.Name, p.QuotaPeriod)
		}
		for _, k := range p.APIKeys {
			if !planNamePattern.MatchString(k) || keyNames[k] {
				add("usagePlans.%s: API key name %q malformed or repeated", p.Name, k)
			}
			keyNames[k] = true
		}
	}
	return errors.Join(errs...)
}

func (a AIAPIConfig) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("stack: "+format, args...)) }
	for i, m := range a.Models {
		if m.Name == "" || m.Provider == "" {
			add("models[%d]: name and provider are required", i)
			continue
		}
		if _, ok := a.Providers[m.Provider]; !ok && m.Provider != "echo" {
			add("models[%d] (%s): no provider %q in providers", i, m.Name, m.Provider)
		}
	}
	envNames := map[string]string{}
	for _, name := range sortedKeys(a.Providers) {
		p := a.Providers[name]
		switch p.Type {
		case "openai":
			if p.BaseURL == "" {
				add("providers.%s: baseUrl is required", name)
			}
		case "bedrock", "echo":
			if _, ok := a.UpstreamKeys[name]; ok {
				add("upstreamKeys.%s: a %s provider takes no key", name, p.Type)
			}
		default:
			add("providers.%s: type %q: want openai, bedrock or echo", name, p.Type)
		}
		if p.Timeout != "" {
			if _, err := time.ParseDuration(p.Timeout); err != nil {
				add("providers.%s: timeout %q is not a Go duration", name, p.Timeout)
			}
		}
		env := upstreamKeyEnv(name)
		if other, ok := envNames[env]; ok {
			add("providers %q and %q would share the key variable %s: rename one", other, name, env)
		}
		envNames[env] = name
	}
	for name := range a.UpstreamKeys {
		if _, ok := a.Providers[name]; !ok {
			add("upstreamKeys.%s: no such provider", name)
		}
	}
	for _, arn := range a.BedrockModelARNs {
		if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":bedrock:") {
			add("bedrockModelArns: %q is not a Bedrock ARN", arn)
		}
	}
	if a.UpstreamTimeout != "" {
		d, err := time.ParseDuration(a.UpstreamTimeout)
		switch {
		case err != nil || d <= 0:
			add("upstreamTimeout %q: want a positive Go duration", a.UpstreamTimeout)
		case d >= time.Duration(a.TimeoutSeconds)*time.Second:
			add("upstreamTimeout %s must be below aiapiTimeout (%ds): a call cut by the Lambda's timeout is never settled", d, a.TimeoutSeconds)
		}
	} else if a.TimeoutSeconds <= 600 {
		add("aiapiTimeout %ds: the AI API's default upstreamTimeout is 10m; set upstreamTimeout below the function's timeout", a.TimeoutSeconds)
	}
	if a.DefaultMaxTokens < 0 {
		add("defaultMaxTokens must not be negative")
	}
	if a.Pricing != "" {
		if err := checkPricing(a.Pricing); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkHashKey applies apikey.LoadHasher's rules (hex or base64, ≥ 32 bytes),
// so that a bad secret stops `pulumi up` rather than every Lambda start.
// The error never quotes the value.
func checkHashKey(v string) error {
	var b []byte
	if h, err := hex.DecodeString(v); err == nil {
		b = h
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(v); err == nil {
				b = d
				break
			}
		}
		if b == nil {
			return errors.New("stack: hashKey is neither hex nor base64")
		}
	}
	if len(b) < 32 {
		return fmt.Errorf("stack: hashKey has %d bytes, want at least 32", len(b))
	}
	return nil
}

// checkJWTConfig checks the shape the authorizer needs (issuers, each with
// an issuer and audiences); the Lambda checks the rest at start.
func checkJWTConfig(raw string) error {
	var c struct {
		Issuers []struct {
			Issuer    string   `json:"issuer"`
			Audiences []string `json:"audiences"`
		} `json:"issuers"`
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return fmt.Errorf("stack: jwtConfig: %w", err)
	}
	if len(c.Issuers) == 0 {
		return errors.New("stack: jwtConfig: at least one issuer")
	}
	for i, is := range c.Issuers {
		if is.Issuer == "" || len(is.Audiences) == 0 {
			return fmt.Errorf("stack: jwtConfig: issuers[%d] needs issuer and audiences", i)
		}
	}
	return nil
}

// upstreamKeyEnv is the environment variable holding provider name's key.
func upstreamKeyEnv(name string) string {
	var b strings.Builder
	b.WriteString("AIGATE_UPSTREAM_KEY_")
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
