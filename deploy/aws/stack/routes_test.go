package stack

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// TestDefaultRoutesAreTheAIAPIRoutes: by default the REST and HTTP APIs
// have exactly the AI API's routes, the responses and messages endpoints
// included, each behind the custom authorizer; nothing else reaches the AI
// API (the default used to be ANY /v1/{proxy+}).
func TestDefaultRoutesAreTheAIAPIRoutes(t *testing.T) {
	want := []string{
		"GET /v1/models", "GET /v1/models/{id+}", "GET /v1/responses/{id+}",
		"POST /v1/chat/completions", "POST /v1/embeddings", "POST /v1/messages",
		"POST /v1/messages/count_tokens", "POST /v1/responses",
	}
	c := testConfig(t)
	c.HTTPAPI = true
	m := mustDeploy(t, c)

	var rest []string
	for path, ops := range restBody(t, m).Paths {
		for verb, op := range ops {
			rest = append(rest, strings.ToUpper(verb)+" "+path)
			if !slices.ContainsFunc(op.Security, func(req map[string][]string) bool { _, ok := req[AuthorizerName]; return ok }) {
				t.Errorf("REST %s %s is not authorized by %s", verb, path, AuthorizerName)
			}
		}
	}
	slices.Sort(rest)
	if !slices.Equal(rest, want) {
		t.Errorf("REST API methods\n got %q\nwant %q", rest, want)
	}

	var http []string
	for _, r := range m.all("aws:apigatewayv2/route:Route") {
		http = append(http, str(r.Inputs, "routeKey"))
		if str(r.Inputs, "authorizationType") != "CUSTOM" || str(r.Inputs, "authorizerId") != "httpauthz1" {
			t.Errorf("HTTP API route %s: authorization %s by %s", str(r.Inputs, "routeKey"), str(r.Inputs, "authorizationType"), str(r.Inputs, "authorizerId"))
		}
	}
	slices.Sort(http)
	if !slices.Equal(http, want) {
		t.Errorf("HTTP API routes\n got %q\nwant %q", http, want)
	}
}

// TestHTTPAPICachesSimpleResponsesPerRoute: a simple response is one
// boolean that API Gateway re-uses for every route of its cache key, so the
// HTTP API authorizer lists $context.routeKey among its identity sources
// (the authorizer refuses to give simple responses otherwise).
func TestHTTPAPICachesSimpleResponsesPerRoute(t *testing.T) {
	for name, sources := range map[string][]string{
		"default":                 {DefaultIdentitySource},
		"two headers":             {"method.request.header.Authorization", "method.request.header.X-Tenant"},
		"route key given already": {"method.request.header.Authorization", "context.routeKey"},
	} {
		t.Run(name, func(t *testing.T) {
			c := testConfig(t)
			c.HTTPAPI = true
			c.Authorizer.IdentitySources = sources
			a := mustDeploy(t, c).one(t, "aws:apigatewayv2/authorizer:Authorizer", "http")
			v, ok := lookup(a.Inputs, "identitySources")
			if !ok || !v.IsArray() {
				t.Fatalf("identitySources = %v", v)
			}
			var got []string
			for _, e := range v.ArrayValue() {
				got = append(got, e.StringValue())
			}
			n := len(slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s != RouteKeySource }))
			if n != 1 || got[0] != "$request.header.Authorization" {
				t.Errorf("identitySources = %q, want the credential first and %s once", got, RouteKeySource)
			}
			if simple, _ := lookup(a.Inputs, "enableSimpleResponses"); simple != resource.NewBoolProperty(true) {
				t.Errorf("enableSimpleResponses = %v", simple)
			}
		})
	}
}

// TestDefaultAuthorizersServeXAPIKeyClients: by default neither API names a
// credential header among its identity sources (API Gateway would refuse a
// request missing it with 401 before invoking the authorizer, and Anthropic's
// clients send x-api-key, not Authorization), and so neither caches.
func TestDefaultAuthorizersServeXAPIKeyClients(t *testing.T) {
	c := testConfig(t)
	c.HTTPAPI = true
	d := mustDeploy(t, c)
	rest := restBody(t, d).Components.SecuritySchemes[AuthorizerName].Authorizer
	if rest.Type != "request" || rest.IdentitySource != "" || rest.ResultTTLInSeconds != 0 {
		t.Errorf("REST authorizer %+v: want REQUEST, no identity source, TTL 0", rest)
	}
	a := d.one(t, "aws:apigatewayv2/authorizer:Authorizer", "http")
	v, ok := lookup(a.Inputs, "identitySources")
	if !ok || !v.IsArray() || len(v.ArrayValue()) != 1 || v.ArrayValue()[0].StringValue() != RouteKeySource {
		t.Errorf("HTTP API identitySources = %v, want only %s (always present)", v, RouteKeySource)
	}
	if ttl, _ := lookup(a.Inputs, "authorizerResultTtlInSeconds"); ttl != resource.NewNumberProperty(0) {
		t.Errorf("HTTP API authorizerResultTtlInSeconds = %v, want 0", ttl)
	}
}
