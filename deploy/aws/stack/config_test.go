package stack

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// loadConfig runs LoadConfig with the given stack configuration, as the
// Pulumi CLI passes it (PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS).
func loadConfig(t *testing.T, cfg map[string]string, secret ...string) (Config, error) {
	t.Helper()
	b, _ := json.Marshal(cfg)
	t.Setenv(pulumi.EnvConfig, string(b))
	s, _ := json.Marshal(secret)
	t.Setenv(pulumi.EnvConfigSecretKeys, string(s))
	var c Config
	var loadErr error
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		c, loadErr = LoadConfig(ctx)
		return nil
	}, pulumi.WithMocks("aigate", "dev", &mocks{}))
	if err != nil {
		t.Fatal(err)
	}
	return c, loadErr
}

const testHashKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(t, map[string]string{"aigate:hashKey": testHashKey}, "aigate:hashKey")
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults("dev")
	want.HashKey = testHashKey
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if c.Name != "aigate-dev" || c.TablePrefix != "aigate-dev-" || c.storeURL() != "dynamodb://aigate-dev-" {
		t.Errorf("names: %s %s", c.Name, c.TablePrefix)
	}
}

func TestLoadConfigReadsEveryKey(t *testing.T) {
	c, err := loadConfig(t, map[string]string{
		"aigate:name":                      "gw",
		"aigate:tablePrefix":               "gw_",
		"aigate:stageName":                 "v1",
		"aigate:hashKey":                   testHashKey,
		"aigate:authorizerType":            "token",
		"aigate:identitySources":           "method.request.header.X-Api-Key",
		"aigate:authorizerTtl":             "60",
		"aigate:keyCacheTtl":               "1s",
		"aigate:grantedRoutes":             `["POST/v1/chat/completions","GET/v1/models"]`,
		"aigate:oidcIssuer":                "https://idp.example.com/",
		"aigate:oidcAudiences":             "aigate,other",
		"aigate:oidcDefaultModels":         "echo",
		"aigate:authorizerMemory":          "128",
		"aigate:authorizerTimeout":         "5",
		"aigate:authorizerArtifact":        "build/a.zip",
		"aigate:models":                    `[{"name":"claude","provider":"bedrock","upstreamModel":"anthropic.claude-3-haiku-20240307-v1:0"}]`,
		"aigate:providers":                 `{"bedrock":{"type":"bedrock","region":"us-west-2"},"openai":{"type":"openai","baseUrl":"https://api.openai.com/v1"}}`,
		"aigate:upstreamKeys":              `{"openai":"sk-1"}`,
		"aigate:bedrockModelArns":          "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc",
		"aigate:responseStreaming":         "false",
		"aigate:upstreamTimeout":           "2m",
		"aigate:defaultMaxTokens":          "1024",
		"aigate:pricing":                   `[ {"model": "gpt-4o*", "input": 2.5, "output": "10", "effective": "2026-01-01"} ]`,
		"aigate:aiapiMemory":               "1024",
		"aigate:aiapiTimeout":              "300",
		"aigate:aiapiArtifact":             "build/b.zip",
		"aigate:apiRoutes":                 `["POST /v1/chat/completions","get /v1/models"]`,
		"aigate:throttleRateLimit":         "12.5",
		"aigate:throttleBurstLimit":        "20",
		"aigate:logRetentionDays":          "90",
		"aigate:executionLogLevel":         "info",
		"aigate:manageApiGatewayAccount":   "false",
		"aigate:usagePlans":                `[{"name":"basic","quotaLimit":100,"burstLimit":"5","quotaPeriod":"DAY","apiKeys":["a"]}]`,
		"aigate:httpApi":                   "true",
		"aigate:deletionProtection":        "false",
		"aigate:tags":                      `{"team":"ml"}`,
		"aigate:tokenValidationExpression": "^Bearer .+$",
		"aws:region":                       "eu-west-1", // other namespaces are not ours to check
	}, "aigate:hashKey", "aigate:upstreamKeys")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Name: "gw", TablePrefix: "gw_", StageName: "v1", HashKey: testHashKey,
		Authorizer: AuthorizerConfig{
			Type: "TOKEN", IdentitySources: []string{"method.request.header.X-Api-Key"},
			ValidationExpression: "^Bearer .+$", ResultTTL: 60, KeyCacheTTL: "1s",
			GrantedRoutes: []string{"POST/v1/chat/completions", "GET/v1/models"},
			JWTConfig:     `{"issuers":[{"issuer":"https://idp.example.com/","audiences":["aigate","other"],"claims":{"defaultModels":["echo"]}}]}`,
			MemoryMB:      128, TimeoutSeconds: 5, Artifact: "build/a.zip",
		},
		AIAPI: AIAPIConfig{
			Models: []ModelRoute{{Name: "claude", Provider: "bedrock", UpstreamModel: "anthropic.claude-3-haiku-20240307-v1:0"}},
			Providers: map[string]Provider{"bedrock": {Type: "bedrock", Region: "us-west-2"},
				"openai": {Type: "openai", BaseURL: "https://api.openai.com/v1"}},
			UpstreamKeys:     map[string]string{"openai": "sk-1"},
			BedrockModelARNs: []string{"arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc"},
			Pricing:          `[{"model":"gpt-4o*","input":2.5,"output":"10","effective":"2026-01-01"}]`,
			UpstreamTimeout:  "2m", DefaultMaxTokens: 1024, MemoryMB: 1024, TimeoutSeconds: 300, Artifact: "build/b.zip",
		},
		Routes:            []Route{{"POST", "/v1/chat/completions"}, {"GET", "/v1/models"}},
		ThrottleRateLimit: 12.5, ThrottleBurstLimit: 20, LogRetentionDays: 90, ExecutionLogLevel: "INFO",
		UsagePlans: []UsagePlan{{Name: "basic", QuotaLimit: 100, BurstLimit: 5, QuotaPeriod: "DAY", APIKeys: []string{"a"}}},
		HTTPAPI:    true,
		Tags:       map[string]string{"team": "ml"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestLoadConfigTokenDefaultsItsValidationExpression(t *testing.T) {
	c, err := loadConfig(t, map[string]string{"aigate:hashKey": testHashKey, "aigate:authorizerType": "TOKEN"}, "aigate:hashKey")
	if err != nil || c.Authorizer.ValidationExpression != DefaultTokenValidationExpression {
		t.Errorf("expression %q, %v", c.Authorizer.ValidationExpression, err)
	}
	// A TOKEN authorizer has exactly one identity source: Authorization
	// unless configured (x-api-key clients need REQUEST).
	if !reflect.DeepEqual(c.Authorizer.IdentitySources, []string{DefaultIdentitySource}) {
		t.Errorf("TOKEN identity sources %q, want %s", c.Authorizer.IdentitySources, DefaultIdentitySource)
	}
	c, err = loadConfig(t, map[string]string{"aigate:hashKey": testHashKey, "aigate:authorizerType": "TOKEN", "aigate:tokenValidationExpression": "none"}, "aigate:hashKey")
	if err != nil || c.Authorizer.ValidationExpression != "" {
		t.Errorf("expression %q, %v", c.Authorizer.ValidationExpression, err)
	}
}

func TestLoadConfigRefuses(t *testing.T) {
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{"aigate:hashKey": testHashKey}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for name, tc := range map[string]struct {
		cfg    map[string]string
		secret []string
		want   string
	}{
		"no hash key":            {map[string]string{}, nil, "hashKey is required"},
		"plain hash key":         {base(nil), nil, "aigate:hashKey is stored in plain text"},
		"short hash key":         {map[string]string{"aigate:hashKey": "abcd"}, []string{"aigate:hashKey"}, "hashKey has 2 bytes"},
		"plain upstream keys":    {base(map[string]string{"aigate:upstreamKeys": `{"openai":"sk"}`, "aigate:providers": `{"openai":{"type":"openai","baseUrl":"https://x"}}`}), []string{"aigate:hashKey"}, "aigate:upstreamKeys is stored in plain text"},
		"typo":                   {base(map[string]string{"aigate:stagename": "x"}), []string{"aigate:hashKey"}, "unknown configuration keys aigate:stagename"},
		"bad int":                {base(map[string]string{"aigate:authorizerTtl": "5m"}), []string{"aigate:hashKey"}, "aigate:authorizerTtl: \"5m\" is not an integer"},
		"ttl too long":           {base(map[string]string{"aigate:authorizerTtl": "7200"}), []string{"aigate:hashKey"}, "authorizerTtl 7200"},
		"cache without a source": {base(map[string]string{"aigate:authorizerTtl": "300"}), []string{"aigate:hashKey"}, "needs at least one, e.g. method.request.header.Authorization (which refuses x-api-key clients)"},
		"bad type":               {base(map[string]string{"aigate:authorizerType": "JWT"}), []string{"aigate:hashKey"}, "want REQUEST or TOKEN"},
		"unknown field":          {base(map[string]string{"aigate:providers": `{"x":{"type":"openai","baseUrl":"u","apiKey":"sk"}}`}), []string{"aigate:hashKey"}, `unknown field "apiKey"`},
		"route outside v1":       {base(map[string]string{"aigate:apiRoutes": "GET /admin"}), []string{"aigate:hashKey"}, "must start with /v1/"},
		"retention":              {base(map[string]string{"aigate:logRetentionDays": "10"}), []string{"aigate:hashKey"}, "logRetentionDays 10"},
		"audience missing":       {base(map[string]string{"aigate:oidcIssuer": "https://idp"}), []string{"aigate:hashKey"}, "oidcAudiences"},
		"both jwt forms":         {base(map[string]string{"aigate:oidcIssuer": "https://idp", "aigate:jwtConfig": `{"issuers":[]}`}), []string{"aigate:hashKey"}, "not both"},
		"model without provider": {base(map[string]string{"aigate:models": `[{"name":"m","provider":"nope"}]`}), []string{"aigate:hashKey"}, `no provider "nope"`},
		"timeout order":          {base(map[string]string{"aigate:upstreamTimeout": "20m"}), []string{"aigate:hashKey"}, "must be below aiapiTimeout"},
		"short function":         {base(map[string]string{"aigate:aiapiTimeout": "60"}), []string{"aigate:hashKey"}, "set upstreamTimeout below"},
		"pricing not JSON":       {base(map[string]string{"aigate:pricing": "gpt-4o: 2.5"}), []string{"aigate:hashKey"}, "aigate:pricing: not JSON"},
		"price too fine":         {base(map[string]string{"aigate:pricing": `[{"model":"m","input":"0.0000001","output":1}]`}), []string{"aigate:hashKey"}, "pricing: pricing[0].input"},
		"price without output":   {base(map[string]string{"aigate:pricing": `[{"model":"m","input":1}]`}), []string{"aigate:hashKey"}, "pricing[0].output: required"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(t, tc.cfg, tc.secret...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), testHashKey) {
				t.Errorf("the error shows the hash key")
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(*Config)
		want   string
	}{
		"TOKEN with two sources": {func(c *Config) {
			c.Authorizer.Type = "TOKEN"
			c.Authorizer.IdentitySources = []string{"method.request.header.A", "method.request.header.B"}
		}, "exactly one"},
		"REQUEST with a regex":           {func(c *Config) { c.Authorizer.ValidationExpression = "^x$" }, "TOKEN authorizers only"},
		"cached REQUEST without sources": {func(c *Config) { c.Authorizer.IdentitySources, c.Authorizer.ResultTTL = nil, 60 }, "needs at least one"},
		"bad source":                     {func(c *Config) { c.Authorizer.IdentitySources = []string{"header.Authorization"} }, "is not method.request"},
		"bad regex":                      {func(c *Config) { c.Authorizer.Type = "TOKEN"; c.Authorizer.ValidationExpression = "(" }, "tokenValidationExpression"},
		"greedy in the middle":           {func(c *Config) { c.Routes = []Route{{"GET", "/v1/{p+}/x"}} }, "greedy"},
		"duplicate route":                {func(c *Config) { c.Routes = append(c.Routes, c.Routes[0]) }, "twice"},
		"quota period":                   {func(c *Config) { c.UsagePlans = []UsagePlan{{Name: "p", QuotaLimit: 5}} }, "quotaPeriod"},
		"key for bedrock": {func(c *Config) {
			c.AIAPI.Providers = map[string]Provider{"b": {Type: "bedrock"}}
			c.AIAPI.UpstreamKeys = map[string]string{"b": "k"}
		}, "takes no key"},
		"colliding key variables": {func(c *Config) {
			c.AIAPI.Providers = map[string]Provider{"a-b": {Type: "openai", BaseURL: "u"}, "a_b": {Type: "openai", BaseURL: "u"}}
		}, "share the key variable"},
		"bedrock ARN":   {func(c *Config) { c.AIAPI.BedrockModelARNs = []string{"*"} }, "is not a Bedrock ARN"},
		"pricing":       {func(c *Config) { c.AIAPI.Pricing = `[{"model":"m","input":1,"output":1,"effective":"soon"}]` }, "pricing[0].effective"},
		"jwt issuers":   {func(c *Config) { c.Authorizer.JWTConfig = `{"issuers":[{"issuer":"x"}]}` }, "needs issuer and audiences"},
		"long name":     {func(c *Config) { c.Name = strings.Repeat("a", 41) }, "name"},
		"memory":        {func(c *Config) { c.AIAPI.MemoryMB = 64 }, "aiapiMemory 64"},
		"authz timeout": {func(c *Config) { c.Authorizer.TimeoutSeconds = 60 }, "authorizerTimeout 60"},
	} {
		t.Run(name, func(t *testing.T) {
			c := testConfig(t)
			tc.change(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			// And New refuses it before registering anything.
			m, err := deploy(t, c)
			if err == nil || len(m.resources) != 0 {
				t.Errorf("New: %v with %d resources", err, len(m.resources))
			}
		})
	}
}

func TestLambdaEnvironmentLimit(t *testing.T) {
	c := testConfig(t)
	c.Authorizer.JWTConfig = `{"issuers":[{"issuer":"https://idp","audiences":["a"],"staticJwks":"` + strings.Repeat("k", 5000) + `"}]}`
	m, err := deploy(t, c)
	if err == nil || !strings.Contains(err.Error(), "over Lambda's 4 KB limit") || len(m.resources) != 0 {
		t.Errorf("error %v, %d resources", err, len(m.resources))
	}
}

func TestBedrockModelARNs(t *testing.T) {
	acct := account{Partition: "aws", Region: "us-east-1", ID: "111122223333"}
	ai := AIAPIConfig{
		Providers: map[string]Provider{"br": {Type: "bedrock"}, "west": {Type: "bedrock", Region: "us-west-2"}, "oa": {Type: "openai", BaseURL: "u"}},
		Models: []ModelRoute{
			{Name: "amazon.nova-lite-v1:0", Provider: "br"},
			{Name: "anthropic.*", Provider: "west"},
			{Name: "sonnet", Provider: "br", UpstreamModel: "eu.anthropic.claude-sonnet-4-20250514-v1:0"},
			{Name: "own", Provider: "br", UpstreamModel: "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/xyz"},
			{Name: "gpt-4o", Provider: "oa"},
			{Name: "again", Provider: "br", UpstreamModel: "amazon.nova-lite-v1:0"},
		},
		BedrockModelARNs: []string{"arn:aws:bedrock:us-east-1:111122223333:provisioned-model/p1"},
	}
	want := []string{
		"arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
		"arn:aws:bedrock:us-west-2::foundation-model/anthropic.*",
		"arn:aws:bedrock:us-east-1:111122223333:inference-profile/eu.anthropic.claude-sonnet-4-20250514-v1:0",
		"arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0",
		"arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/xyz",
		"arn:aws:bedrock:us-east-1:111122223333:provisioned-model/p1",
	}
	if got := bedrockModelARNs(ai, acct); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestParseRoute(t *testing.T) {
	for in, want := range map[string]Route{
		"ANY /v1/{proxy+}":          {"ANY", "/v1/{proxy+}"},
		"post /v1/chat/completions": {"POST", "/v1/chat/completions"},
		"GET /v1/models/{id}":       {"GET", "/v1/models/{id}"},
	} {
		if got, err := ParseRoute(in); err != nil || got != want {
			t.Errorf("%q: %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"/v1/x", "FETCH /v1/x", "GET /v2/x", "GET /v1/", "GET /v1/a b", "GET /v1/{a"} {
		if _, err := ParseRoute(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
