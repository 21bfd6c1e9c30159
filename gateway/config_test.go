package gateway

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validREST is a minimal valid config; the table below breaks it one field
// at a time.
const validREST = `
apis:
  - name: ai
    authorizers:
      keys:
        type: REQUEST
        function: auth
        identitySource: method.request.header.Authorization
    routes:
      - route: ANY /v1/{proxy+}
        authorizer: keys
        integration:
          type: MOCK
`

func TestParseConfigAcceptsTheDocumentedExample(t *testing.T) {
	for _, name := range []string{"example.yaml"} {
		cfg, err := LoadConfig(filepath.Join("testdata", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(cfg.APIs) != 2 {
			t.Errorf("%s: %d APIs", name, len(cfg.APIs))
		}
	}
	if _, err := ParseConfig([]byte(validREST)); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := DefaultConfig()
	if _, err := compile(cfg); err != nil {
		t.Fatal(err)
	}
	auth := &testAuthorizer{}
	g, err := New(context.Background(), cfg, Options{Functions: map[string]Invoker{"aigate-authorizer": auth}, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptestServer(t, g)
	if r := do(t, "GET", srv+"/healthz", nil, ""); r.status != 200 || r.body != `{"status":"ok"}` {
		t.Errorf("/healthz: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", srv+"/v1/models", nil, ""); r.status != 401 {
		t.Errorf("/v1/models without a key: %d", r.status)
	}
	r := do(t, "GET", srv+"/v1/models", bearer("allow-d"), "")
	if r.status != 200 || !strings.Contains(r.body, `"principalId":"user-1"`) || !strings.Contains(r.body, `"tenant":"acme"`) {
		t.Errorf("/v1/models with a key: %d %s", r.status, r.body)
	}
	if ev := auth.lastEvent(t); ev["type"] != "REQUEST" || ev["methodArn"] != "arn:aws:execute-api:us-east-1:123456789012:aigate/local/GET/v1/models" {
		t.Errorf("default authorizer event: %v", ev)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	// Each case replaces one line of validREST (or appends), and the error
	// must name the field.
	tests := []struct {
		name    string
		old     string // text of validREST to replace; "" to use yaml as is
		new     string
		yaml    string
		wantErr string
	}{
		{name: "unknown field", old: "    routes:", new: "    rutes: []\n    routes:", wantErr: "gateway: apis[0].rutes: unknown field"},
		{name: "unknown field in integration", old: "          type: MOCK", new: "          type: MOCK\n          url: x", wantErr: "apis[0].routes[0].integration.url: unknown field"},
		{name: "mistyped value", old: "        identitySource:", new: "        timeoutSeconds: soon\n        identitySource:", wantErr: "apis[0].authorizers.keys.timeoutSeconds: must be an integer"},
		{name: "no apis", yaml: "apis: []", wantErr: "gateway: apis: at least one API"},
		{name: "empty document", yaml: "", wantErr: "empty document"},
		{name: "duplicate key", old: "        function: auth", new: "        function: auth\n        function: auth2", wantErr: "gateway: config: line 8: mapping key \"function\" already defined at line 7"},
		{name: "YAML syntax", yaml: "apis: [", wantErr: "gateway: config: yaml: line 1"},
		{name: "missing name", old: "  - name: ai", new: "  - type: REST", wantErr: "apis[0].name: required"},
		{name: "bad type", old: "  - name: ai", new: "  - name: ai\n    type: GRPC", wantErr: "apis[0].type: \"GRPC\": must be REST or HTTP"},
		{name: "bad account", old: "  - name: ai", new: "  - name: ai\n    accountId: '12'", wantErr: "apis[0].accountId"},
		{name: "bad stage", old: "  - name: ai", new: "  - name: ai\n    stage: 'a b'", wantErr: "apis[0].stage"},
		{name: "bad base path", old: "  - name: ai", new: "  - name: ai\n    basePath: ai", wantErr: "apis[0].basePath"},
		{name: "unknown authorizer reference", old: "        authorizer: keys", new: "        authorizer: kyes", wantErr: "apis[0].routes[0].authorizer: no authorizer \"kyes\""},
		{name: "authorizer type missing", old: "        type: REQUEST", new: "", wantErr: "apis[0].authorizers.keys.type: required"},
		{name: "authorizer type wrong", old: "        type: REQUEST", new: "        type: COGNITO", wantErr: "apis[0].authorizers.keys.type"},
		{name: "no function", old: "        function: auth", new: "", wantErr: "apis[0].authorizers.keys.function: exactly one of function, endpoint and bootstrap"},
		{name: "two functions", old: "        function: auth", new: "        function: auth\n        endpoint: http://127.0.0.1:9001", wantErr: "apis[0].authorizers.keys.function: exactly one"},
		{name: "bad endpoint", old: "        function: auth", new: "        endpoint: 127.0.0.1:9001", wantErr: "apis[0].authorizers.keys.endpoint"},
		{name: "pool size without bootstrap", old: "        function: auth", new: "        function: auth\n        poolSize: 2", wantErr: "apis[0].authorizers.keys.poolSize: only with bootstrap"},
		{name: "bad regex", old: "        type: REQUEST", new: "        type: TOKEN\n        identityValidationExpression: '^(Bearer'", wantErr: "apis[0].authorizers.keys.identityValidationExpression"},
		{name: "regex on a REQUEST authorizer", old: "        function: auth", new: "        function: auth\n        identityValidationExpression: '.*'", wantErr: "identityValidationExpression: TOKEN authorizers only"},
		{name: "TTL too long", old: "        function: auth", new: "        function: auth\n        authorizerResultTtlInSeconds: 3601", wantErr: "apis[0].authorizers.keys.authorizerResultTtlInSeconds: 3601: must be 0..3600"},
		{name: "negative TTL", old: "        function: auth", new: "        function: auth\n        authorizerResultTtlInSeconds: -1", wantErr: "authorizerResultTtlInSeconds: -1"},
		{name: "identity source syntax", old: "method.request.header.Authorization", new: "request.header.Authorization", wantErr: "apis[0].authorizers.keys.identitySource"},
		{name: "HTTP API syntax on a REST API", old: "method.request.header.Authorization", new: "$request.header.Authorization", wantErr: "apis[0].authorizers.keys.identitySource"},
		{name: "unknown context variable", old: "method.request.header.Authorization", new: "context.secret", wantErr: "unsupported context variable"},
		{name: "empty identity source entry", old: "method.request.header.Authorization", new: "method.request.header.Authorization, ", wantErr: "apis[0].authorizers.keys.identitySource"},
		{name: "identity source required with caching", old: "        identitySource: method.request.header.Authorization", new: "", wantErr: "apis[0].authorizers.keys.identitySource: required when caching is on"},
		{name: "TOKEN with two identity sources", old: "        type: REQUEST\n        function: auth\n        identitySource: method.request.header.Authorization", new: "        type: TOKEN\n        function: auth\n        identitySource: method.request.header.A, method.request.header.B", wantErr: "apis[0].authorizers.keys.identitySource: a TOKEN authorizer takes exactly one header"},
		{name: "TOKEN with a query identity source", old: "        type: REQUEST\n        function: auth\n        identitySource: method.request.header.Authorization", new: "        type: TOKEN\n        function: auth\n        identitySource: method.request.querystring.key", wantErr: "must be method.request.header.X"},
		{name: "simple responses on a REST API", old: "        function: auth", new: "        function: auth\n        enableSimpleResponses: true", wantErr: "apis[0].authorizers.keys.enableSimpleResponses: HTTP APIs only"},
		{name: "payload format on a REST API", old: "        function: auth", new: "        function: auth\n        payloadFormatVersion: '2.0'", wantErr: "payloadFormatVersion: HTTP APIs only"},
		{name: "timeout too long", old: "        function: auth", new: "        function: auth\n        timeoutSeconds: 30", wantErr: "apis[0].authorizers.keys.timeoutSeconds: 30: must be 1..29"},
		{name: "route syntax", old: "ANY /v1/{proxy+}", new: "ANY v1", wantErr: "apis[0].routes[0].route: path \"v1\" must start with /"},
		{name: "route method", old: "ANY /v1/{proxy+}", new: "FETCH /v1", wantErr: "apis[0].routes[0].route: unsupported method"},
		{name: "greedy not last", old: "ANY /v1/{proxy+}", new: "ANY /{proxy+}/x", wantErr: "must be the last segment"},
		{name: "$default on a REST API", old: "ANY /v1/{proxy+}", new: "$default", wantErr: "HTTP APIs only"},
		{name: "duplicate route", old: "    routes:", new: "    routes:\n      - route: ANY /v1/{rest+}\n        integration: {type: MOCK}", wantErr: "apis[0].routes[1].route: \"ANY /v1/{proxy+}\" duplicates apis[0].routes[0]"},
		{name: "integration type missing", old: "          type: MOCK", new: "          uri: http://x", wantErr: "apis[0].routes[0].integration.type: required"},
		{name: "HTTP_PROXY without uri", old: "          type: MOCK", new: "          type: HTTP_PROXY", wantErr: "gateway: apis[0].routes[0].integration.uri: required for HTTP_PROXY"},
		{name: "HTTP_PROXY placeholder without parameter", old: "          type: MOCK", new: "          type: HTTP_PROXY\n          uri: http://127.0.0.1:9/{id}", wantErr: "apis[0].routes[0].integration.uri: {id} is neither a path parameter"},
		{name: "bad mapping source", old: "          type: MOCK", new: "          type: HTTP_PROXY\n          uri: http://127.0.0.1:9/\n          requestParameters:\n            integration.request.header.x: header.y", wantErr: "apis[0].routes[0].integration.requestParameters.integration.request.header.x"},
		{name: "bad mapping target", old: "          type: MOCK", new: "          type: HTTP_PROXY\n          uri: http://127.0.0.1:9/\n          requestParameters:\n            method.request.header.x: \"'v'\"", wantErr: "integration.requestParameters.method.request.header.x: target must be"},
		{name: "AWS_PROXY without function", old: "          type: MOCK", new: "          type: AWS_PROXY", wantErr: "apis[0].routes[0].integration.function: exactly one"},
		{name: "HANDLER without handler", old: "          type: MOCK", new: "          type: HANDLER", wantErr: "apis[0].routes[0].integration.handler: required for HANDLER"},
		{name: "uri on a MOCK", old: "          type: MOCK", new: "          type: MOCK\n          uri: http://x", wantErr: "apis[0].routes[0].integration.uri: not used by MOCK"},
		{name: "mock status", old: "          type: MOCK", new: "          type: MOCK\n          response: {statusCode: 99}", wantErr: "apis[0].routes[0].integration.response.statusCode"},
		{name: "mock body variable", old: "          type: MOCK", new: "          type: MOCK\n          response: {body: '$context.nope'}", wantErr: "apis[0].routes[0].integration.response.body"},
		{name: "integration timeout", old: "          type: MOCK", new: "          type: MOCK\n          timeoutInMillis: 30000", wantErr: "apis[0].routes[0].integration.timeoutInMillis: 30000: must be 50..29000"},
		{name: "duplicate base path", old: "", yaml: validREST + "  - name: ai2\n    routes: [{route: GET /x, integration: {type: MOCK}}]\n", wantErr: "apis[1].basePath: \"/\" is also the base path of apis[0]"},
		{name: "HTTP API TOKEN authorizer", yaml: "apis:\n  - name: h\n    type: HTTP\n    authorizers:\n      a: {type: TOKEN, function: f, identitySource: $request.header.A}\n    routes: [{route: GET /x, integration: {type: MOCK}}]\n", wantErr: "apis[0].authorizers.a.type: HTTP APIs have REQUEST authorizers only"},
		{name: "HTTP API simple responses on 1.0", yaml: "apis:\n  - name: h\n    type: HTTP\n    authorizers:\n      a: {function: f, payloadFormatVersion: '1.0', enableSimpleResponses: true}\n    routes: [{route: GET /x, integration: {type: MOCK}}]\n", wantErr: "apis[0].authorizers.a.enableSimpleResponses: needs payloadFormatVersion 2.0"},
		{name: "HTTP API authorizer timeout", yaml: "apis:\n  - name: h\n    type: HTTP\n    authorizers:\n      a: {function: f, timeoutSeconds: 11}\n    routes: [{route: GET /x, integration: {type: MOCK}}]\n", wantErr: "apis[0].authorizers.a.timeoutSeconds: 11: must be 1..10"},
		{name: "REST syntax on an HTTP API", yaml: "apis:\n  - name: h\n    type: HTTP\n    authorizers:\n      a: {function: f, identitySource: method.request.header.A}\n    routes: [{route: GET /x, integration: {type: MOCK}}]\n", wantErr: "apis[0].authorizers.a.identitySource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.yaml
			if tt.old != "" {
				if !strings.Contains(validREST, tt.old) {
					t.Fatalf("test bug: %q not in validREST", tt.old)
				}
				text = strings.Replace(validREST, tt.old, tt.new, 1)
			}
			_, err := ParseConfig([]byte(text))
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %q\nwant it to contain %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "gateway: ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q: want one line starting with \"gateway: \"", err)
			}
		})
	}
}

func TestNewNamesMissingFunctionsAndHandlers(t *testing.T) {
	cfg, err := ParseConfig([]byte(validREST))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), cfg, Options{})
	if err == nil || err.Error() != `gateway: apis[0].authorizers.keys.function: no function "auth" in Options.Functions` {
		t.Errorf("err = %v", err)
	}
	cfg, err = ParseConfig([]byte(strings.Replace(validREST, "          type: MOCK", "          type: HANDLER\n          handler: aiapi", 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), cfg, Options{Functions: map[string]Invoker{"auth": &testAuthorizer{}}})
	if err == nil || err.Error() != `gateway: apis[0].routes[0].integration.handler: no handler "aiapi" in Options.Handlers` {
		t.Errorf("err = %v", err)
	}
}

func TestLoadConfigResolvesBootstrapRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	text := strings.Replace(validREST, "        function: auth", "        bootstrap: ./bin/bootstrap", 1)
	path := filepath.Join(dir, "aigate.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.APIs[0].Authorizers["keys"].Bootstrap; got != filepath.Join(dir, "bin", "bootstrap") {
		t.Errorf("bootstrap = %q", got)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(validREST))
	if b, err := os.ReadFile(filepath.Join("testdata", "example.yaml")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "gateway: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		if _, err := compile(cfg); err != nil {
			t.Fatalf("ParseConfig accepted what compile refuses: %v", err)
		}
	})
}
