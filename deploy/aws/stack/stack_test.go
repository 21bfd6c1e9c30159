package stack

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	authorizerARN = "arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:aigate-test-authorizer"
	aiapiARN      = "arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:aigate-test-aiapi"
	restExecARN   = "arn:aws:execute-api:" + testRegion + ":" + testAccount + ":" + testRestAPI
	httpExecARN   = "arn:aws:execute-api:" + testRegion + ":" + testAccount + ":" + testHTTPAPI
)

// variants are configurations every structural test runs against.
func variants(t *testing.T) map[string]Config {
	t.Helper()
	token := testConfig(t)
	token.Authorizer.Type = "TOKEN"
	token.Authorizer.IdentitySources = []string{DefaultIdentitySource}
	token.Authorizer.ValidationExpression = DefaultTokenValidationExpression

	full := testConfig(t)
	full.Routes = []Route{{"POST", "/v1/chat/completions"}, {"GET", "/v1/models"}, {"GET", "/v1/models/{id}"}, {"ANY", "/v1/{proxy+}"}}
	full.UsagePlans = []UsagePlan{{Name: "basic", RateLimit: 5, BurstLimit: 10, QuotaLimit: 1000, QuotaPeriod: "DAY", APIKeys: []string{"team-a", "team-b"}}}
	full.HTTPAPI = true
	full.AIAPI.ResponseStreaming = false
	full.AIAPI.Providers = map[string]Provider{"bedrock": {Type: "bedrock"}, "openai": {Type: "openai", BaseURL: "https://api.openai.com/v1"}}
	full.AIAPI.Models = []ModelRoute{{Name: "claude", Provider: "bedrock", UpstreamModel: "anthropic.claude-3-5-haiku-20241022-v1:0"}, {Name: "gpt-*", Provider: "openai"}}
	full.AIAPI.UpstreamKeys = map[string]string{"openai": "sk-test"}
	full.AIAPI.Pricing = `[{"model":"gpt-*","input":"1.25","output":10,"cachedInput":0.125}]`
	full.Authorizer.JWTConfig = `{"issuers":[{"issuer":"https://idp.example.com","audiences":["aigate"]}]}`
	return map[string]Config{"defaults": testConfig(t), "token": token, "full": full}
}

func TestEveryV1MethodUsesOurCustomAuthorizer(t *testing.T) {
	for name, c := range variants(t) {
		t.Run(name, func(t *testing.T) {
			m := mustDeploy(t, c)
			doc := restBody(t, m)
			scheme, ok := doc.Components.SecuritySchemes[AuthorizerName]
			if !ok || scheme.AuthType != "custom" || scheme.Authorizer == nil {
				t.Fatalf("security scheme %q: %+v", AuthorizerName, scheme)
			}
			wantURI := "arn:aws:apigateway:" + testRegion + ":lambda:path/2015-03-31/functions/" + authorizerARN + "/invocations"
			if scheme.Authorizer.AuthorizerURI != wantURI {
				t.Errorf("authorizerUri %s, want %s", scheme.Authorizer.AuthorizerURI, wantURI)
			}
			methods := 0
			for path, ops := range doc.Paths {
				if !strings.HasPrefix(path, "/v1/") {
					t.Errorf("path %s is outside /v1/", path)
				}
				for verb, op := range ops {
					methods++
					found := false
					for _, req := range op.Security {
						if _, ok := req[AuthorizerName]; ok {
							found = true
						}
					}
					if !found {
						t.Errorf("%s %s is not authorized by %s: %v", verb, path, AuthorizerName, op.Security)
					}
					if op.Integration.Type != "aws_proxy" || !strings.Contains(op.Integration.URI, aiapiARN) {
						t.Errorf("%s %s integration %+v, want aws_proxy to the AI API", verb, path, op.Integration)
					}
				}
			}
			if methods != len(c.Routes) {
				t.Errorf("%d methods in the body, %d routes configured", methods, len(c.Routes))
			}
			// The API is REGIONAL.
			api := m.one(t, "aws:apigateway/restApi:RestApi", "rest")
			if got := str(api.Inputs, "endpointConfiguration.types"); got != "REGIONAL" {
				t.Errorf("endpoint type %q", got)
			}
			// And the HTTP API's routes, when there is one.
			for _, r := range m.all("aws:apigatewayv2/route:Route") {
				if str(r.Inputs, "authorizationType") != "CUSTOM" || str(r.Inputs, "authorizerId") != "httpauthz1" {
					t.Errorf("HTTP API route %s: authorization %s by %s", str(r.Inputs, "routeKey"), str(r.Inputs, "authorizationType"), str(r.Inputs, "authorizerId"))
				}
			}
			if c.HTTPAPI && len(m.all("aws:apigatewayv2/route:Route")) != len(c.Routes) {
				t.Errorf("HTTP API has %d routes, want %d", len(m.all("aws:apigatewayv2/route:Route")), len(c.Routes))
			}
		})
	}
}

func TestNoAuthorizerAssumesARole(t *testing.T) {
	for name, c := range variants(t) {
		t.Run(name, func(t *testing.T) {
			m := mustDeploy(t, c)
			raw := str(m.one(t, "aws:apigateway/restApi:RestApi", "rest").Inputs, "body")
			// Neither authorizerCredentials nor integration credentials
			// anywhere: API Gateway invokes through Lambda permissions.
			for _, field := range []string{"authorizerCredentials", `"credentials"`} {
				if strings.Contains(raw, field) {
					t.Errorf("REST API body carries %s", field)
				}
			}
			for _, a := range m.all("aws:apigatewayv2/authorizer:Authorizer") {
				if _, ok := a.Inputs["authorizerCredentialsArn"]; ok {
					t.Errorf("HTTP API authorizer has credentials %s", str(a.Inputs, "authorizerCredentialsArn"))
				}
			}
			if n := len(m.all("aws:apigateway/authorizer:Authorizer")); n != 0 {
				t.Errorf("%d apigateway.Authorizer resources beside the body's", n)
			}
			// No role that API Gateway could assume holds lambda:InvokeFunction.
			for _, p := range m.all("aws:iam/rolePolicy:RolePolicy") {
				for _, st := range policy(t, p).Statement {
					if slices.Contains(st.Action, "lambda:InvokeFunction") {
						t.Errorf("role policy %s grants lambda:InvokeFunction", p.Name)
					}
				}
			}
		})
	}
}

func TestLambdaPermissionsAreScopedToThisAPI(t *testing.T) {
	for name, c := range variants(t) {
		t.Run(name, func(t *testing.T) {
			m := mustDeploy(t, c)
			want := map[string][2]string{ // logical name → function, source ARN
				"rest-authorizer": {"aigate-test-authorizer", restExecARN + "/authorizers/" + testAuthzID},
				"rest-aiapi":      {"aigate-test-aiapi", restExecARN + "/prod/*/v1/*"},
			}
			if c.HTTPAPI {
				want["http-authorizer"] = [2]string{"aigate-test-authorizer", httpExecARN + "/authorizers/httpauthz1"}
				want["http-aiapi"] = [2]string{"aigate-test-aiapi", httpExecARN + "/prod/*/v1/*"}
			}
			perms := m.all("aws:lambda/permission:Permission")
			if len(perms) != len(want) {
				t.Errorf("%d permissions, want %d", len(perms), len(want))
			}
			for _, p := range perms {
				principal, src := str(p.Inputs, "principal"), str(p.Inputs, "sourceArn")
				if principal != "apigateway.amazonaws.com" || str(p.Inputs, "action") != "lambda:InvokeFunction" {
					t.Errorf("%s: %s for %s", p.Name, str(p.Inputs, "action"), principal)
				}
				if !strings.HasPrefix(src, restExecARN+"/") && !strings.HasPrefix(src, httpExecARN+"/") {
					t.Errorf("%s: source ARN %q is not scoped to this stack's APIs", p.Name, src)
				}
				if w, ok := want[p.Name]; !ok || str(p.Inputs, "function") != w[0] || src != w[1] {
					t.Errorf("%s: function %s, source %s; want %v", p.Name, str(p.Inputs, "function"), src, w)
				}
			}
		})
	}
}

// allowedWildcards are the resource patterns with a "*" that IAM needs:
// a log group's streams, Bedrock models in any region a cross-region
// inference profile routes to, and the region-wide API Gateway logging role.
var allowedWildcards = []*regexp.Regexp{
	regexp.MustCompile(`^arn:aws:logs:us-east-1:123456789012:log-group:[^*]+:\*$`),
	regexp.MustCompile(`^arn:aws:bedrock:\*::foundation-model/[^*]+$`),
	regexp.MustCompile(`^arn:aws:logs:us-east-1:123456789012:log-group:\*$`),
}

func TestIAMPoliciesAreLeastPrivilege(t *testing.T) {
	c := testConfig(t)
	c.AIAPI.Providers = map[string]Provider{"bedrock": {Type: "bedrock"}, "eu": {Type: "bedrock", Region: "eu-west-1"}}
	c.AIAPI.Models = []ModelRoute{
		{Name: "haiku", Provider: "bedrock", UpstreamModel: "anthropic.claude-3-5-haiku-20241022-v1:0"},
		{Name: "sonnet", Provider: "bedrock", UpstreamModel: "us.anthropic.claude-sonnet-4-20250514-v1:0"},
		{Name: "mistral", Provider: "eu", UpstreamModel: "mistral.mistral-large-2402-v1:0"},
	}
	m := mustDeploy(t, c)

	table := func(n string) string { return "arn:aws:dynamodb:us-east-1:123456789012:table/aigate-test-" + n }
	logs := func(fn string) string {
		return "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/aigate-test-" + fn + ":*"
	}
	// resource → actions, per role: exactly these, nothing else.
	want := map[string]map[string][]string{
		"authorizer": {
			table("keys"):       {"dynamodb:GetItem", "dynamodb:PutItem"},
			table("key_events"): {"dynamodb:PutItem"},
			logs("authorizer"):  {"logs:CreateLogStream", "logs:PutLogEvents"},
		},
		"aiapi": {
			table("keys"):                         {"dynamodb:GetItem"},
			table("usage"):                        {"dynamodb:GetItem", "dynamodb:UpdateItem"},
			table("reservations"):                 {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
			table("reservations/index/by_expiry"): {"dynamodb:Query"},
			table("ledger"):                       {"dynamodb:PutItem", "dynamodb:Query"},
			logs("aiapi"):                         {"logs:CreateLogStream", "logs:PutLogEvents"},
			"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0":                {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"},
			"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0": {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"},
			"arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0":                         {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"},
			"arn:aws:bedrock:eu-west-1::foundation-model/mistral.mistral-large-2402-v1:0":                         {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"},
		},
		"apigateway-cloudwatch": {
			"arn:aws:logs:us-east-1:123456789012:log-group:*": {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents", "logs:PutLogEvents"},
		},
	}
	policies := m.all("aws:iam/rolePolicy:RolePolicy")
	if len(policies) != len(want) {
		t.Errorf("%d role policies, want %d", len(policies), len(want))
	}
	for _, p := range policies {
		got := map[string][]string{}
		for _, st := range policy(t, p).Statement {
			if st.Effect != "Allow" {
				t.Errorf("%s: effect %s", p.Name, st.Effect)
			}
			for _, a := range st.Action {
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("%s: statement %s grants %s", p.Name, st.Sid, a)
				}
			}
			for _, r := range st.Resource {
				if strings.Contains(r, "*") && !slices.ContainsFunc(allowedWildcards, func(re *regexp.Regexp) bool { return re.MatchString(r) }) {
					t.Errorf("%s: statement %s has wildcard resource %q", p.Name, st.Sid, r)
				}
				got[r] = append(got[r], st.Action...)
			}
		}
		for r := range got {
			sort.Strings(got[r])
			got[r] = slices.Compact(got[r])
		}
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected role policy %s", p.Name)
			continue
		}
		for r, actions := range w {
			if !slices.Equal(got[r], actions) {
				t.Errorf("%s on %s: %v, want %v", p.Name, r, got[r], actions)
			}
		}
		for r := range got {
			if _, ok := w[r]; !ok {
				t.Errorf("%s: unexpected resource %s (%v)", p.Name, r, got[r])
			}
		}
	}
	// Roles: assumable by their service alone, no managed policies.
	for _, r := range m.all("aws:iam/role:Role") {
		var doc PolicyDocument
		if err := json.Unmarshal([]byte(str(r.Inputs, "assumeRolePolicy")), &doc); err != nil {
			t.Fatal(err)
		}
		service := "lambda.amazonaws.com"
		if r.Name == "apigateway-cloudwatch" {
			service = "apigateway.amazonaws.com"
		}
		if len(doc.Statement) != 1 || doc.Statement[0].Principal["Service"] != service || !slices.Equal(doc.Statement[0].Action, []string{"sts:AssumeRole"}) {
			t.Errorf("role %s trust policy %+v, want %s only", r.Name, doc, service)
		}
		if _, ok := r.Inputs["managedPolicyArns"]; ok {
			t.Errorf("role %s has managed policies", r.Name)
		}
	}
}

func TestNoBedrockGrantWithoutBedrockModels(t *testing.T) {
	m := mustDeploy(t, testConfig(t))
	for _, p := range m.all("aws:iam/rolePolicy:RolePolicy") {
		if strings.Contains(str(p.Inputs, "policy"), "bedrock:") {
			t.Errorf("%s grants Bedrock though no route uses it", p.Name)
		}
	}
}

func TestLambdasRunProvidedAL2023OnArm64WithRetainedLogs(t *testing.T) {
	c := testConfig(t)
	c.LogRetentionDays = 14
	c.HTTPAPI = true
	m := mustDeploy(t, c)
	fns := m.all("aws:lambda/function:Function")
	if len(fns) != 2 {
		t.Fatalf("%d functions", len(fns))
	}
	groups := map[string]recorded{}
	for _, g := range m.all("aws:cloudwatch/logGroup:LogGroup") {
		groups[str(g.Inputs, "name")] = g
		if v, ok := lookup(g.Inputs, "retentionInDays"); !ok || !v.IsNumber() || v.NumberValue() != 14 {
			t.Errorf("log group %s retention %v", str(g.Inputs, "name"), v)
		}
	}
	for _, fn := range fns {
		name := str(fn.Inputs, "name")
		arch, _ := lookup(fn.Inputs, "architectures")
		if str(fn.Inputs, "runtime") != "provided.al2023" || str(fn.Inputs, "handler") != "bootstrap" ||
			!arch.IsArray() || len(arch.ArrayValue()) != 1 || arch.ArrayValue()[0].StringValue() != "arm64" {
			t.Errorf("%s: runtime %s, handler %s, architectures %v", name, str(fn.Inputs, "runtime"), str(fn.Inputs, "handler"), arch)
		}
		logGroup := str(fn.Inputs, "loggingConfig.logGroup")
		if logGroup != "/aws/lambda/"+name {
			t.Errorf("%s logs to %q", name, logGroup)
		}
		if _, ok := groups[logGroup]; !ok {
			t.Errorf("%s: its log group is not created by the stack", name)
		}
		if !strings.HasSuffix(str(fn.Inputs, "role"), ":role/"+name) {
			t.Errorf("%s runs as %s, not its own role", name, str(fn.Inputs, "role"))
		}
	}
	for _, want := range []string{"/aws/apigateway/aigate-test/access", "API-Gateway-Execution-Logs_" + testRestAPI + "/prod", "/aws/apigateway/aigate-test-http/access"} {
		if _, ok := groups[want]; !ok {
			t.Errorf("no log group %s (have %v)", want, slices.Sorted(maps.Keys(groups)))
		}
	}
}

func TestDeploymentTriggerIsStableAndFollowsTheDefinition(t *testing.T) {
	c := testConfig(t)
	trigger := func(c Config) string {
		t.Helper()
		m := mustDeploy(t, c)
		d := m.one(t, "aws:apigateway/deployment:Deployment", "rest")
		return str(d.Inputs, "triggers.openapi-sha256")
	}
	first, second := trigger(c), trigger(c)
	if first == "" || first != second {
		t.Fatalf("two runs of one configuration: triggers %q and %q", first, second)
	}
	// Artifacts elsewhere (another machine, another checkout): same trigger.
	moved := testConfig(t)
	if got := trigger(moved); got != first {
		t.Errorf("artifact paths changed the trigger: %s vs %s", got, first)
	}
	// The value itself is fixed: nothing of this machine or run goes in.
	// (When the document's format changes on purpose, update it.)
	const golden = "bd3b19c14ab97910a47356a96ea9c04ebd61ff433e49f1e8a8bd1818a350432c"
	if first != golden {
		t.Logf("trigger of the default configuration is %s; update the golden value if the OpenAPI document changed on purpose", first)
		t.Fail()
	}

	changes := map[string]func(*Config){
		"route added":  func(c *Config) { c.Routes = append(c.Routes, Route{"GET", "/v1/files"}) },
		"route method": func(c *Config) { c.Routes = []Route{{"POST", "/v1/{proxy+}"}} },
		"authorizer TTL": func(c *Config) { // caching needs an identity source
			c.Authorizer.IdentitySources, c.Authorizer.ResultTTL = []string{DefaultIdentitySource}, 60
		},
		"identity source": func(c *Config) { c.Authorizer.IdentitySources = []string{"method.request.header.X-Api-Key"} },
		"authorizer type": func(c *Config) {
			c.Authorizer.Type, c.Authorizer.IdentitySources = "TOKEN", []string{DefaultIdentitySource}
		},
		"streaming off":    func(c *Config) { c.AIAPI.ResponseStreaming = false },
		"usage plans":      func(c *Config) { c.UsagePlans = []UsagePlan{{Name: "p"}} },
		"function renamed": func(c *Config) { c.Name = "other" },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			c2 := testConfig(t)
			change(&c2)
			if got := trigger(c2); got == first {
				t.Errorf("trigger unchanged: %s", got)
			}
		})
	}
	// Settings outside the API definition do not redeploy it.
	c3 := testConfig(t)
	c3.ThrottleRateLimit, c3.LogRetentionDays, c3.AIAPI.MemoryMB = 7, 90, 1024
	if got := trigger(c3); got != first {
		t.Errorf("stage and function settings changed the trigger")
	}
}

func TestAuthorizerSettings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*Config)
		want  Authorizer
	}{
		// No identity source, so API Gateway refuses no request up front
		// and the authorizer takes the key from Authorization or
		// x-api-key; so no result cache, which would need one.
		{"REQUEST by default: no identity source, no cache", func(*Config) {}, Authorizer{
			Type: "request", ResultTTLInSeconds: 0}},
		{"REQUEST cached by Authorization", func(c *Config) {
			c.Authorizer.IdentitySources = []string{DefaultIdentitySource}
			c.Authorizer.ResultTTL = 300
		}, Authorizer{Type: "request", IdentitySource: "method.request.header.Authorization", ResultTTLInSeconds: 300}},
		{"REQUEST with several sources, no cache", func(c *Config) {
			c.Authorizer.IdentitySources = []string{"method.request.header.Authorization", "context.stage"}
			c.Authorizer.ResultTTL = 0
		}, Authorizer{Type: "request", IdentitySource: "method.request.header.Authorization, context.stage", ResultTTLInSeconds: 0}},
		{"TOKEN with a validation expression", func(c *Config) {
			c.Authorizer.Type = "TOKEN"
			c.Authorizer.IdentitySources = []string{DefaultIdentitySource}
			c.Authorizer.ValidationExpression = DefaultTokenValidationExpression
			c.Authorizer.ResultTTL = 3600
		}, Authorizer{Type: "token", IdentitySource: "method.request.header.Authorization",
			IdentityValidationExpression: DefaultTokenValidationExpression, ResultTTLInSeconds: 3600}},
		{"TOKEN on another header, no expression", func(c *Config) {
			c.Authorizer.Type = "TOKEN"
			c.Authorizer.IdentitySources = []string{"method.request.header.X-Api-Key"}
		}, Authorizer{Type: "token", IdentitySource: "method.request.header.X-Api-Key", ResultTTLInSeconds: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t)
			tc.setup(&c)
			got := *restBody(t, mustDeploy(t, c)).Components.SecuritySchemes[AuthorizerName].Authorizer
			tc.want.AuthorizerURI = got.AuthorizerURI
			if got != tc.want {
				t.Errorf("authorizer\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDefaultTokenExpressionAcceptsKeysAndJWTs(t *testing.T) {
	re := regexp.MustCompile(DefaultTokenValidationExpression)
	for tok, want := range map[string]bool{
		"Bearer aig_0123456789abcdef_SECRETsecretSECRETsecret_c1":  true,
		"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl": true,
		"Basic dXNlcjpwYXNz": false,
		"Bearer ":            false,
		"aig_0123456789":     false,
	} {
		if re.MatchString(tok) != want {
			t.Errorf("%q: match %v, want %v", tok, !want, want)
		}
	}
}

func TestAIAPIIntegrationStreams(t *testing.T) {
	for _, streaming := range []bool{true, false} {
		t.Run(fmt.Sprint("streaming=", streaming), func(t *testing.T) {
			c := testConfig(t)
			c.AIAPI.ResponseStreaming = streaming
			m := mustDeploy(t, c)
			in := restBody(t, m).Paths["/v1/chat/completions"]["post"].Integration
			want := Integration{Type: "aws_proxy", HTTPMethod: "POST", PassthroughBehavior: "when_no_match",
				URI:                  "arn:aws:apigateway:us-east-1:lambda:path/2021-11-15/functions/" + aiapiARN + "/response-streaming-invocations",
				ResponseTransferMode: "STREAM", TimeoutInMillis: 900000}
			env := "on"
			if !streaming {
				want.URI = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + aiapiARN + "/invocations"
				want.ResponseTransferMode, want.TimeoutInMillis, env = "BUFFERED", 29000, "off"
			}
			if in != want {
				t.Errorf("integration\n got %+v\nwant %+v", in, want)
			}
			fn := m.one(t, "aws:lambda/function:Function", "aiapi")
			if got := str(fn.Inputs, "environment.variables.AIGATE_RESPONSE_STREAMING"); got != env {
				t.Errorf("AIGATE_RESPONSE_STREAMING=%q, want %q (it must match the integration)", got, env)
			}
		})
	}
}

func TestTablesMatchTheStoreDesign(t *testing.T) {
	m := mustDeploy(t, testConfig(t))
	type gsi struct{ name, hash, rng string }
	want := map[string]struct {
		hash, rng string
		attrs     map[string]string
		gsi       *gsi
		ttl       string
	}{
		"aigate-test-keys": {"id", "", map[string]string{"id": "S", "tenant_pk": "S", "tenant_sk": "S"},
			&gsi{"by_tenant", "tenant_pk", "tenant_sk"}, ""},
		"aigate-test-key_events": {"key_id", "version", map[string]string{"key_id": "S", "version": "N"}, nil, ""},
		"aigate-test-usage":      {"pk", "", map[string]string{"pk": "S"}, nil, "ttl"},
		"aigate-test-reservations": {"id", "", map[string]string{"id": "S", "expiry_shard": "N", "expires_at": "N"},
			&gsi{"by_expiry", "expiry_shard", "expires_at"}, ""},
		"aigate-test-ledger": {"principal_id", "at_id", map[string]string{"principal_id": "S", "at_id": "S", "tenant_shard": "S"},
			&gsi{"by_tenant", "tenant_shard", "at_id"}, ""},
	}
	tables := m.all("aws:dynamodb/table:Table")
	if len(tables) != len(want) {
		t.Errorf("%d tables, want %d", len(tables), len(want))
	}
	for _, tb := range tables {
		name := str(tb.Inputs, "name")
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected table %s", name)
			continue
		}
		if str(tb.Inputs, "hashKey") != w.hash || str(tb.Inputs, "rangeKey") != w.rng || str(tb.Inputs, "billingMode") != "PAY_PER_REQUEST" {
			t.Errorf("%s: hash %s range %s billing %s", name, str(tb.Inputs, "hashKey"), str(tb.Inputs, "rangeKey"), str(tb.Inputs, "billingMode"))
		}
		for _, flag := range []string{"pointInTimeRecovery.enabled", "serverSideEncryption.enabled", "deletionProtectionEnabled"} {
			if v, ok := lookup(tb.Inputs, flag); !ok || !v.IsBool() || !v.BoolValue() {
				t.Errorf("%s: %s not set", name, flag)
			}
		}
		attrs := map[string]string{}
		v, _ := lookup(tb.Inputs, "attributes")
		for _, a := range v.ArrayValue() {
			attrs[a.ObjectValue()["name"].StringValue()] = a.ObjectValue()["type"].StringValue()
		}
		if fmt.Sprint(attrs) != fmt.Sprint(w.attrs) {
			t.Errorf("%s: attributes %v, want %v", name, attrs, w.attrs)
		}
		g, _ := lookup(tb.Inputs, "globalSecondaryIndexes")
		switch {
		case w.gsi == nil && g.IsArray() && len(g.ArrayValue()) > 0:
			t.Errorf("%s: unexpected GSI", name)
		case w.gsi != nil:
			if !g.IsArray() || len(g.ArrayValue()) != 1 {
				t.Errorf("%s: GSIs %v", name, g)
				break
			}
			idx := g.ArrayValue()[0].ObjectValue()
			got := gsi{idx["name"].StringValue(), idx["hashKey"].StringValue(), idx["rangeKey"].StringValue()}
			if got != *w.gsi || idx["projectionType"].StringValue() != "ALL" {
				t.Errorf("%s: GSI %+v projection %v, want %+v ALL", name, got, idx["projectionType"], *w.gsi)
			}
		}
		if got := str(tb.Inputs, "ttl.attributeName"); got != w.ttl {
			t.Errorf("%s: TTL attribute %q, want %q", name, got, w.ttl)
		}
	}
}

func TestStageLogsAndThrottles(t *testing.T) {
	c := testConfig(t)
	c.ThrottleRateLimit, c.ThrottleBurstLimit = 25, 40
	m := mustDeploy(t, c)
	stage := m.one(t, "aws:apigateway/stage:Stage", "rest")
	if str(stage.Inputs, "stageName") != "prod" || str(stage.Inputs, "deployment") != "rest-id" {
		t.Errorf("stage %s on deployment %s", str(stage.Inputs, "stageName"), str(stage.Inputs, "deployment"))
	}
	if got := str(stage.Inputs, "accessLogSettings.destinationArn"); got != "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/aigate-test/access" {
		t.Errorf("access logs go to %s", got)
	}
	var format map[string]string
	if err := json.Unmarshal([]byte(str(stage.Inputs, "accessLogSettings.format")), &format); err != nil || format["principalId"] != "$context.authorizer.principalId" || format["requestId"] == "" {
		t.Errorf("access log format %v (%v)", format, err)
	}
	settings := m.one(t, "aws:apigateway/methodSettings:MethodSettings", "rest")
	if str(settings.Inputs, "methodPath") != "*/*" {
		t.Errorf("method settings for %s", str(settings.Inputs, "methodPath"))
	}
	num := func(path string) float64 { v, _ := lookup(settings.Inputs, path); return v.NumberValue() }
	if num("settings.throttlingRateLimit") != 25 || num("settings.throttlingBurstLimit") != 40 {
		t.Errorf("throttling %v/%v", num("settings.throttlingRateLimit"), num("settings.throttlingBurstLimit"))
	}
	if v, _ := lookup(settings.Inputs, "settings.dataTraceEnabled"); !v.IsBool() || v.BoolValue() {
		t.Errorf("data tracing (logs Authorization headers) is %v", v)
	}
	if str(settings.Inputs, "settings.loggingLevel") != "ERROR" {
		t.Errorf("execution logging %s", str(settings.Inputs, "settings.loggingLevel"))
	}
	account := m.one(t, "aws:apigateway/account:Account", "apigateway")
	if got := str(account.Inputs, "cloudwatchRoleArn"); got != "arn:aws:iam::123456789012:role/aigate-test-apigateway-logs" {
		t.Errorf("account CloudWatch role %s", got)
	}

	c.ManageAPIGatewayAccount, c.ExecutionLogLevel = false, "OFF"
	m = mustDeploy(t, c)
	if n := len(m.all("aws:apigateway/account:Account")) + len(m.all("aws:iam/role:Role")); n != 2 {
		t.Errorf("with manageApiGatewayAccount off: %d account resources and roles, want the 2 Lambda roles", n)
	}
	for _, g := range m.all("aws:cloudwatch/logGroup:LogGroup") {
		if strings.HasPrefix(str(g.Inputs, "name"), "API-Gateway-Execution-Logs") {
			t.Errorf("execution log group with executionLogLevel OFF")
		}
	}
}

func TestLambdaEnvironments(t *testing.T) {
	c := variants(t)["full"]
	m := mustDeploy(t, c)
	authz := m.one(t, "aws:lambda/function:Function", "authorizer")
	env := func(r recorded, k string) string { return str(r.Inputs, "environment.variables."+k) }
	for k, want := range map[string]string{
		"AIGATE_STORE":             "dynamodb://aigate-test-",
		"AIGATE_HASH_KEY":          c.HashKey,
		"AIGATE_KEY_CACHE_TTL":     "5s",
		"AIGATE_HTTP_API_RESPONSE": "simple",
		"AIGATE_JWT_CONFIG":        c.Authorizer.JWTConfig,
	} {
		if got := env(authz, k); got != want {
			t.Errorf("authorizer %s=%q, want %q", k, got, want)
		}
	}
	if !isSecret(authz.Inputs, "environment.variables.AIGATE_HASH_KEY") {
		t.Error("AIGATE_HASH_KEY is not a secret")
	}
	ai := m.one(t, "aws:lambda/function:Function", "aiapi")
	if env(ai, "AIGATE_HASH_KEY") != "" {
		t.Error("the AI API gets the hash key, which it does not need")
	}
	if env(ai, "AIGATE_UPSTREAM_KEY_OPENAI") != "sk-test" {
		t.Errorf("upstream key variable: %q", env(ai, "AIGATE_UPSTREAM_KEY_OPENAI"))
	}
	if !isSecret(ai.Inputs, "environment.variables.AIGATE_UPSTREAM_KEY_OPENAI") {
		t.Error("the upstream key is not a secret")
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(env(ai, "AIGATE_AIAPI_CONFIG")), &cfg); err != nil {
		t.Fatalf("AIGATE_AIAPI_CONFIG: %v", err)
	}
	want := `{"models":[{"name":"claude","provider":"bedrock","upstreamModel":"anthropic.claude-3-5-haiku-20241022-v1:0"},{"name":"gpt-*","provider":"openai"}],"providers":{"bedrock":{"type":"bedrock"},"openai":{"apiKeyEnv":"AIGATE_UPSTREAM_KEY_OPENAI","baseUrl":"https://api.openai.com/v1","type":"openai"}}}`
	if b, _ := json.Marshal(cfg); string(b) != want {
		t.Errorf("AIGATE_AIAPI_CONFIG\n got %s\nwant %s", b, want)
	}
	if got := env(ai, "AIGATE_PRICING"); got != c.AIAPI.Pricing {
		t.Errorf("AIGATE_PRICING=%q, want %q", got, c.AIAPI.Pricing)
	}
	if env(authz, "AIGATE_PRICING") != "" {
		t.Error("the authorizer gets the prices, which it does not use")
	}
	defaults := mustDeploy(t, testConfig(t))
	if _, ok := lookup(defaults.one(t, "aws:lambda/function:Function", "aiapi").Inputs, "environment.variables.AIGATE_PRICING"); ok {
		t.Error("AIGATE_PRICING is set without a pricing setting")
	}
	if strings.Contains(env(ai, "AIGATE_AIAPI_CONFIG"), "sk-test") {
		t.Error("the upstream key is in the (plain) AI API configuration")
	}
}

func TestMissingOrWrongArtifactRegistersNothing(t *testing.T) {
	dir := t.TempDir()
	notZip := filepath.Join(dir, "text.zip")
	if err := os.WriteFile(notZip, []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		path string
		want string
	}{
		"missing":      {filepath.Join(dir, "nope.zip"), "does not exist: build it with go run ./cmd/package"},
		"no bootstrap": {writeArtifact(t, filepath.Join(dir, "a.zip"), "main", 0o755, emAArch64), "has no bootstrap entry"},
		"not exec":     {writeArtifact(t, filepath.Join(dir, "b.zip"), "bootstrap", 0o644, emAArch64), "not an executable"},
		"amd64":        {writeArtifact(t, filepath.Join(dir, "c.zip"), "bootstrap", 0o755, 62), "ELF machine 62, not arm64"},
		"not a zip":    {notZip, "rebuild it"},
	} {
		t.Run(name, func(t *testing.T) {
			c := testConfig(t)
			c.AIAPI.Artifact = tc.path
			m, err := deploy(t, c)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %v, want one naming %s and saying %q", err, tc.path, tc.want)
			}
			if len(m.resources) != 0 || len(m.calls) != 0 {
				t.Errorf("registered %d resources and made %d calls before failing", len(m.resources), len(m.calls))
			}
		})
	}
}
