package gateway

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aigate/aigate/strictyaml"
)

// Config describes the APIs one gateway serves, in API Gateway's own terms.
// Load it with LoadConfig or ParseConfig, which validate it; New validates a
// Config built in code the same way.
type Config struct {
	// APIs are served side by side on one listener, each under its
	// BasePath, like base path mappings of a custom domain name.
	APIs []API `yaml:"apis"`
}

// API is one REST API stage or HTTP API stage.
type API struct {
	// Name identifies the API in errors, logs and metrics. Required, unique.
	Name string `yaml:"name"`
	// Type is "REST" (the default) or "HTTP" (an HTTP API, v2).
	Type string `yaml:"type,omitempty"`
	// APIID is the API id in method ARNs. Default: Name.
	APIID string `yaml:"apiId,omitempty"`
	// Region and AccountID complete method ARNs. Defaults: us-east-1 and
	// 123456789012.
	Region    string `yaml:"region,omitempty"`
	AccountID string `yaml:"accountId,omitempty"`
	// Stage is the stage name in method ARNs and events. Default: "local"
	// for REST APIs, "$default" for HTTP APIs. It is not part of the URL:
	// BasePath is.
	Stage string `yaml:"stage,omitempty"`
	// BasePath is the URL prefix the API is served under ("/" or "/ai"),
	// like a custom domain's base path mapping. Default "/"; unique.
	BasePath string `yaml:"basePath,omitempty"`
	// StageVariables are the stage's variables, for identity sources,
	// parameter mappings and MOCK bodies (stageVariables.X, or
	// $stageVariables.X in HTTP API syntax).
	StageVariables map[string]string `yaml:"stageVariables,omitempty"`
	// Authorizers are the API's Lambda authorizers, by name.
	Authorizers map[string]Authorizer `yaml:"authorizers,omitempty"`
	// Routes are "METHOD /path" routes, each with its authorizer and its
	// integration.
	Routes []Route `yaml:"routes"`
}

// LambdaFunction says where a Lambda function runs. Exactly one of Function,
// Endpoint and Bootstrap is set.
type LambdaFunction struct {
	// Function names an in-process function of Options.Functions.
	Function string `yaml:"function,omitempty"`
	// Endpoint is the base URL of a Lambda invoke API
	// (POST {endpoint}/2015-03-31/functions/{functionName}/invocations),
	// e.g. an aws-lambda-rie started by hand.
	Endpoint string `yaml:"endpoint,omitempty"`
	// FunctionName is the function's name at Endpoint. Default "function"
	// (the only name aws-lambda-rie answers to).
	FunctionName string `yaml:"functionName,omitempty"`
	// MaxConcurrency bounds the invocations in flight to Endpoint (shared by
	// everything that uses the same Endpoint). Default 1: aws-lambda-rie
	// crashes on concurrent invocations. 1..64.
	MaxConcurrency int `yaml:"maxConcurrency,omitempty"`
	// Bootstrap is the path of a Lambda executable (a Go "bootstrap") that
	// the gateway runs under a pool of aws-lambda-rie processes it starts,
	// supervises and stops. Relative to the config file's directory when
	// loaded with LoadConfig.
	Bootstrap string `yaml:"bootstrap,omitempty"`
	// PoolSize is the number of emulator processes for Bootstrap, each
	// serving one invocation at a time. Default 1; 1..64.
	PoolSize int `yaml:"poolSize,omitempty"`
}

// Authorizer is a Lambda authorizer.
type Authorizer struct {
	// Type is "TOKEN" or "REQUEST". Required for REST APIs; HTTP APIs have
	// only REQUEST (the default there).
	Type           string `yaml:"type,omitempty"`
	LambdaFunction `yaml:",inline"`
	// IdentitySource is API Gateway's comma-separated list: for REST,
	// method.request.header.X, method.request.querystring.X,
	// stageVariables.X, context.X; for HTTP APIs $request.header.X,
	// $request.querystring.X, $context.X, $stageVariables.X. TOKEN takes
	// exactly one header. Required for TOKEN, and for REQUEST when caching
	// is on.
	IdentitySource string `yaml:"identitySource,omitempty"`
	// IdentityValidationExpression is a regular expression (RE2 syntax)
	// that the whole token must match, or the client gets 401 without the
	// authorizer being invoked. TOKEN only.
	IdentityValidationExpression string `yaml:"identityValidationExpression,omitempty"`
	// AuthorizerResultTTLInSeconds is how long a result is cached, 0..3600;
	// 0 disables the cache. Default 300 for REST APIs (as on AWS), 0 for
	// HTTP APIs (AWS has no default there: set it).
	AuthorizerResultTTLInSeconds *int `yaml:"authorizerResultTtlInSeconds,omitempty"`
	// PayloadFormatVersion is "1.0" or "2.0" (the default). HTTP APIs only.
	PayloadFormatVersion string `yaml:"payloadFormatVersion,omitempty"`
	// EnableSimpleResponses lets the authorizer answer
	// {"isAuthorized":bool,"context":{…}} instead of an IAM policy. HTTP
	// APIs with payload format 2.0 only.
	EnableSimpleResponses bool `yaml:"enableSimpleResponses,omitempty"`
	// TimeoutSeconds bounds one invocation; past it the client gets 500.
	// Default 10; at most 29 for REST APIs (API Gateway's integration
	// limit) and 10 for HTTP APIs.
	TimeoutSeconds int `yaml:"timeoutSeconds,omitempty"`
}

// Route is one route: a method and a resource path, its authorizer and its
// integration.
type Route struct {
	// Route is "METHOD /path": METHOD is GET, POST, PUT, PATCH, DELETE,
	// HEAD, OPTIONS or ANY; the path may hold {param} segments and end in
	// one greedy {proxy+}. HTTP APIs also accept "$default", the catch-all.
	Route string `yaml:"route"`
	// Authorizer names one of the API's Authorizers. Empty or "NONE": no
	// authorization.
	Authorizer string `yaml:"authorizer,omitempty"`
	// Integration is what serves the route.
	Integration Integration `yaml:"integration"`
}

// Integration types.
const (
	IntegrationMock      = "MOCK"       // answered by the gateway: Response
	IntegrationHTTPProxy = "HTTP_PROXY" // forwarded to URI
	IntegrationAWSProxy  = "AWS_PROXY"  // a Lambda proxy integration
	// IntegrationHandler is aigate's own: an http.Handler of
	// Options.Handlers, called in process with the request (which may
	// stream its response). It stands in locally for what AWS_PROXY does
	// on AWS; see AuthorizerFromContext.
	IntegrationHandler = "HANDLER"
)

// Integration is a route's backend.
type Integration struct {
	// Type is MOCK, HTTP_PROXY, AWS_PROXY or HANDLER. Required.
	Type string `yaml:"type"`
	// LambdaFunction is the AWS_PROXY function.
	LambdaFunction `yaml:",inline"`
	// URI is the HTTP_PROXY target, e.g. http://127.0.0.1:9000/pets/{id}:
	// {name} is replaced by the path parameter name (or by a
	// integration.request.path.name mapping), {proxy} keeps its slashes.
	URI string `yaml:"uri,omitempty"`
	// RequestParameters maps request values into the HTTP_PROXY request.
	// REST syntax: target integration.request.{header|querystring|path}.X,
	// source method.request.{header|querystring|path}.X,
	// context.authorizer.X (principalId included), context.X,
	// stageVariables.X or a 'static' value. HTTP API syntax: target
	// {overwrite|append|remove}:{header|querystring}.X or overwrite:path,
	// source $request.{header|querystring|path}.X, $context.authorizer.X,
	// $context.X, $stageVariables.X or a static value.
	RequestParameters map[string]string `yaml:"requestParameters,omitempty"`
	// Handler names an http.Handler of Options.Handlers (HANDLER).
	Handler string `yaml:"handler,omitempty"`
	// Response is the MOCK answer.
	Response *MockResponse `yaml:"response,omitempty"`
	// TimeoutInMillis bounds AWS_PROXY invocations and the wait for
	// HTTP_PROXY response headers: 50..29000 (REST, default 29000) or
	// 50..30000 (HTTP APIs, default 30000).
	TimeoutInMillis int `yaml:"timeoutInMillis,omitempty"`
}

// MockResponse is what a MOCK integration answers.
type MockResponse struct {
	// StatusCode defaults to 200.
	StatusCode int `yaml:"statusCode,omitempty"`
	// Headers are added to the response. Content-Type defaults to
	// application/json.
	Headers map[string]string `yaml:"headers,omitempty"`
	// Body is a template: $context.requestId, $context.stage,
	// $context.apiId, $context.httpMethod, $context.resourcePath,
	// $context.path, $context.routeKey, $context.identity.sourceIp,
	// $context.authorizer.principalId, $context.authorizer.X and
	// $stageVariables.X are replaced by their values, unescaped, as a
	// mapping template does. $context.authorizer alone (aigate's
	// extension) becomes the JSON object that an AWS_PROXY integration
	// gets as requestContext.authorizer.
	Body string `yaml:"body,omitempty"`
}

// LoadConfig reads and validates a YAML config file. Relative bootstrap paths
// are taken relative to the file's directory.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, err
	}
	cfg.ResolvePaths(filepath.Dir(path))
	return cfg, nil
}

func relativeTo(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// ParseConfig parses and validates a YAML config. The error names the first
// bad field by its path, e.g.
// "gateway: apis[0].routes[2].integration.uri: required for HTTP_PROXY".
// Unknown fields are errors.
func ParseConfig(data []byte) (*Config, error) {
	var cfg Config
	if err := strictyaml.Decode(data, &cfg, "gateway"); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Validate checks a Config as New does, naming the first bad field.
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

// ResolvePaths makes relative bootstrap paths relative to dir (the config
// file's directory).
func (c *Config) ResolvePaths(dir string) {
	for i := range c.APIs {
		a := &c.APIs[i]
		for name, au := range a.Authorizers {
			au.Bootstrap = relativeTo(dir, au.Bootstrap)
			a.Authorizers[name] = au
		}
		for j := range a.Routes {
			in := &a.Routes[j].Integration
			in.Bootstrap = relativeTo(dir, in.Bootstrap)
		}
	}
}

// DefaultConfig is the base of what `aigate serve` runs without a config
// file (server.DefaultConfig puts the AI API behind the route and takes the
// identity source and cache off the authorizer, for x-api-key clients): one
// REST API, stage "local", where ANY /v1/{proxy+} is protected by the REQUEST
// authorizer "aigate" (in-process function "aigate-authorizer", identity
// source the Authorization header, results cached 300 s) in front of a MOCK
// integration that answers the authorizer's output as JSON, and GET /healthz
// is answered by the gateway without authorization.
func DefaultConfig() *Config {
	ttl := 300
	return &Config{APIs: []API{{
		Name:      "aigate",
		Type:      "REST",
		APIID:     "aigate",
		Region:    "us-east-1",
		AccountID: "123456789012",
		Stage:     "local",
		BasePath:  "/",
		Authorizers: map[string]Authorizer{
			"aigate": {
				Type:                         "REQUEST",
				LambdaFunction:               LambdaFunction{Function: "aigate-authorizer"},
				IdentitySource:               "method.request.header.Authorization",
				AuthorizerResultTTLInSeconds: &ttl,
				TimeoutSeconds:               10,
			},
		},
		Routes: []Route{
			{
				Route:      "ANY /v1/{proxy+}",
				Authorizer: "aigate",
				Integration: Integration{Type: IntegrationMock, Response: &MockResponse{
					StatusCode: 200,
					Body:       "$context.authorizer",
				}},
			},
			{
				Route: "GET /healthz",
				Integration: Integration{Type: IntegrationMock, Response: &MockResponse{
					StatusCode: 200,
					Body:       `{"status":"ok"}`,
				}},
			},
		},
	}}}
}
