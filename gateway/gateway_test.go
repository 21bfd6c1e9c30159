package gateway

import (
	"strings"
	"testing"
)

const restConfig = `
apis:
  - name: rest
    apiId: testapi
    stage: test
    authorizers:
      keys:
        type: REQUEST
        function: auth
        identitySource: method.request.header.Authorization
        timeoutSeconds: 1
      tokens:
        type: TOKEN
        function: auth
        identitySource: method.request.header.Authorization
        identityValidationExpression: 'Bearer [-0-9a-zA-Z._]+'
        timeoutSeconds: 1
    routes:
      - route: GET /v1/models
        authorizer: keys
        integration:
          type: MOCK
          response:
            body: '{"principal":"$context.authorizer.principalId","tenant":"$context.authorizer.tenant"}'
      - route: ANY /v1/{proxy+}
        authorizer: keys
        integration:
          type: MOCK
          response:
            body: $context.authorizer
      - route: GET /t/v1/{id}
        authorizer: tokens
        integration:
          type: MOCK
          response:
            body: '{"principal":"$context.authorizer.principalId"}'
      - route: GET /admin/stats
        authorizer: keys
        integration:
          type: MOCK
      - route: GET /healthz
        integration:
          type: MOCK
          response:
            body: '{"status":"ok"}'
  - name: nocache
    basePath: /nocache
    apiId: testapi
    stage: test
    authorizers:
      keys:
        type: REQUEST
        function: auth
        identitySource: method.request.header.Authorization
        authorizerResultTtlInSeconds: 0
    routes:
      - route: ANY /v1/{proxy+}
        authorizer: keys
        integration:
          type: MOCK
          response:
            body: '{"principal":"$context.authorizer.principalId"}'
`

type call struct {
	method, path string
	header       map[string]string
}

func TestRESTAuthorizerOutcomes(t *testing.T) {
	auth := &testAuthorizer{}
	srv, _ := serve(t, restConfig, Options{Functions: map[string]Invoker{"auth": auth}})

	const (
		unauthorized  = `{"message":"Unauthorized"}`
		explicitDeny  = `{"Message":"User is not authorized to access this resource with an explicit deny"}`
		implicitDeny  = `{"Message":"User is not authorized to access this resource"}`
		configFailure = `{"message":null}`
	)
	tests := []struct {
		name            string
		calls           []call // all but the last only warm things up
		wantStatus      int
		wantBody        string // exact, unless empty
		wantBodyHas     string
		wantErrorType   string
		wantInvocations int64 // during the whole row
	}{
		{name: "valid credential is allowed", calls: []call{{"GET", "/v1/models", bearer("allow-1")}},
			wantStatus: 200, wantBody: `{"principal":"user-1","tenant":"acme"}`, wantInvocations: 1},
		{name: "policy with string Action and Resource is allowed", calls: []call{{"GET", "/v1/models", bearer("stringpolicy-1")}},
			wantStatus: 200, wantBodyHas: `"principal":"user-2"`, wantInvocations: 1},
		{name: "Unauthorized error is 401", calls: []call{{"GET", "/v1/models", bearer("unauthorized-1")}},
			wantStatus: 401, wantBody: unauthorized, wantErrorType: "UnauthorizedException", wantInvocations: 1},
		{name: "any other message than exactly Unauthorized is 500", calls: []call{{"GET", "/v1/models", bearer("expired-1")}},
			wantStatus: 500, wantBody: configFailure, wantErrorType: "AuthorizerConfigurationException", wantInvocations: 1},
		{name: "missing header is 401 without invoking", calls: []call{{"GET", "/v1/models", nil}},
			wantStatus: 401, wantBody: unauthorized, wantErrorType: "UnauthorizedException", wantInvocations: 0},
		{name: "empty header is 401 without invoking", calls: []call{{"GET", "/v1/models", map[string]string{"Authorization": ""}}},
			wantStatus: 401, wantBody: unauthorized, wantErrorType: "UnauthorizedException", wantInvocations: 0},
		{name: "TOKEN regex mismatch is 401 without invoking", calls: []call{{"GET", "/t/v1/a", map[string]string{"Authorization": "Basic allow"}}},
			wantStatus: 401, wantBody: unauthorized, wantErrorType: "UnauthorizedException", wantInvocations: 0},
		{name: "TOKEN regex must match the whole token", calls: []call{{"GET", "/t/v1/a", map[string]string{"Authorization": "Bearer allow-2 trailing"}}},
			wantStatus: 401, wantBody: unauthorized, wantErrorType: "UnauthorizedException", wantInvocations: 0},
		{name: "TOKEN matching the regex is invoked", calls: []call{{"GET", "/t/v1/a", bearer("allow-3")}},
			wantStatus: 200, wantBody: `{"principal":"user-1"}`, wantInvocations: 1},
		{name: "explicit deny is 403 with capital M", calls: []call{{"GET", "/v1/models", bearer("deny-1")}},
			wantStatus: 403, wantBody: explicitDeny, wantErrorType: "AccessDeniedException", wantInvocations: 1},
		{name: "route outside the policy is implicitly denied", calls: []call{{"GET", "/admin/stats", bearer("allow-4")}},
			wantStatus: 403, wantBody: implicitDeny, wantErrorType: "AccessDeniedException", wantInvocations: 1},
		{name: "authorizer error is 500", calls: []call{{"GET", "/v1/models", bearer("error-1")}},
			wantStatus: 500, wantBody: configFailure, wantErrorType: "AuthorizerConfigurationException", wantInvocations: 1},
		{name: "non-scalar context is 500", calls: []call{{"GET", "/v1/models", bearer("nested-1")}},
			wantStatus: 500, wantBody: configFailure, wantErrorType: "AuthorizerConfigurationException", wantInvocations: 1},
		{name: "output that is not JSON is 500", calls: []call{{"GET", "/v1/models", bearer("notjson-1")}},
			wantStatus: 500, wantBody: configFailure, wantErrorType: "AuthorizerConfigurationException", wantInvocations: 1},
		{name: "output without principalId is 500", calls: []call{{"GET", "/v1/models", bearer("noprincipal-1")}},
			wantStatus: 500, wantBody: configFailure, wantErrorType: "AuthorizerConfigurationException", wantInvocations: 1},
		{name: "null Statement is 500", calls: []call{{"GET", "/v1/models", bearer("nullstatement-1")}},
			wantStatus: 500, wantBody: configFailure, wantErrorType: "AuthorizerConfigurationException", wantInvocations: 1},
		{name: "authorizer timeout is 500", calls: []call{{"GET", "/v1/models", bearer("slow-1")}},
			wantStatus: 500, wantBody: configFailure, wantErrorType: "AuthorizerConfigurationException", wantInvocations: 1},
		{name: "cache hit on a second route invokes once", calls: []call{{"GET", "/v1/models", bearer("allow-5")}, {"POST", "/v1/chat/completions", bearer("allow-5")}},
			wantStatus: 200, wantBodyHas: `"principalId":"user-1"`, wantInvocations: 1},
		{name: "TTL 0 invokes every time", calls: []call{{"GET", "/nocache/v1/a", bearer("allow-6")}, {"GET", "/nocache/v1/b", bearer("allow-6")}, {"GET", "/nocache/v1/a", bearer("allow-6")}},
			wantStatus: 200, wantBody: `{"principal":"user-1"}`, wantInvocations: 3},
		{name: "failures are not cached", calls: []call{{"GET", "/v1/models", bearer("error-2")}, {"GET", "/v1/models", bearer("error-2")}},
			wantStatus: 500, wantBody: configFailure, wantErrorType: "AuthorizerConfigurationException", wantInvocations: 2},
		{name: "route without authorizer is not authorized", calls: []call{{"GET", "/healthz", nil}},
			wantStatus: 200, wantBody: `{"status":"ok"}`, wantInvocations: 0},
		{name: "unknown route is REST's Missing Authentication Token", calls: []call{{"GET", "/nope", bearer("allow-7")}},
			wantStatus: 403, wantBody: `{"message":"Missing Authentication Token"}`, wantErrorType: "MissingAuthenticationTokenException", wantInvocations: 0},
		{name: "dot segments match no route", calls: []call{{"GET", "/v1/%2e%2e/admin/stats", bearer("allowall-9")}},
			wantStatus: 403, wantBody: `{"message":"Missing Authentication Token"}`, wantErrorType: "MissingAuthenticationTokenException", wantInvocations: 0},
		{name: "method ARN over 1600 bytes is 414", calls: []call{{"GET", "/v1/" + strings.Repeat("a", 1600), bearer("allow-8")}},
			wantStatus: 414, wantInvocations: 0},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := auth.calls.Load()
			var r response
			for _, c := range tt.calls {
				r = do(t, c.method, srv.URL+c.path, c.header, "")
				id := r.header.Get("x-amzn-RequestId")
				if !uuidPattern.MatchString(id) {
					t.Errorf("x-amzn-RequestId = %q, want a UUID", id)
				}
				if seen[id] {
					t.Errorf("request id %s seen twice", id)
				}
				seen[id] = true
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
			if r.status != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", r.status, tt.wantStatus, r.body)
			}
			if tt.wantBody != "" && r.body != tt.wantBody {
				t.Errorf("body = %s, want %s", r.body, tt.wantBody)
			}
			if tt.wantBodyHas != "" && !strings.Contains(r.body, tt.wantBodyHas) {
				t.Errorf("body = %s, want it to contain %s", r.body, tt.wantBodyHas)
			}
			if got := r.header.Get("x-amzn-ErrorType"); got != tt.wantErrorType {
				t.Errorf("x-amzn-ErrorType = %q, want %q", got, tt.wantErrorType)
			}
			if got := auth.calls.Load() - before; got != tt.wantInvocations {
				t.Errorf("authorizer invoked %d times, want %d", got, tt.wantInvocations)
			}
		})
	}
}
