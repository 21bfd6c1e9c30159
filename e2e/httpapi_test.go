package e2e

import (
	"testing"

	"github.com/aigate/aigate/server"
)

// TestHTTPAPISimpleResponsesFollowTheScope runs aigate's authorizer behind
// an HTTP API with simple responses through `aigate serve`: with
// $context.routeKey among the identity sources the result cache is per
// route, and each route gets the answer the scope gives it. Without it,
// one cached true would open every route, so the authorizer fails (500).
func TestHTTPAPISimpleResponsesFollowTheScope(t *testing.T) {
	data := t.TempDir()
	_, key := createKey(t, data, "--name", "valid", "--models", "echo")
	base := startServer(t, data, `
apis:
  - name: h
    type: HTTP
    authorizers:
      perRoute:
        function: `+server.FunctionAuthorizer+`
        identitySource: $request.header.Authorization, $context.routeKey
        payloadFormatVersion: "2.0"
        enableSimpleResponses: true
        authorizerResultTtlInSeconds: 300
      oneForAll:
        function: `+server.FunctionAuthorizer+`
        identitySource: $request.header.Authorization
        payloadFormatVersion: "2.0"
        enableSimpleResponses: true
        authorizerResultTtlInSeconds: 300
    routes:
      - route: GET /v1/models
        authorizer: perRoute
        integration: {type: MOCK, response: {body: '{"ok":true}'}}
      - route: GET /admin/v1/users
        authorizer: perRoute
        integration: {type: MOCK, response: {body: '{"admin":true}'}}
      - route: GET /other/v1/models
        authorizer: oneForAll
        integration: {type: MOCK, response: {body: '{"ok":true}'}}
`)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/v1/models", 200},
		{"/admin/v1/users", 403}, // same credential, cached per route: not the models route's answer
		{"/v1/models", 200},
		{"/other/v1/models", 500},
	} {
		if got := call(t, base, gwCase{"", "GET", tc.path, "Bearer " + key}); got.Status != tc.status {
			t.Errorf("GET %s: %+v, want status %d", tc.path, got, tc.status)
		}
	}
}
