package gateway

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// dataMaps are objects whose keys are data (header names, parameters), not
// schema: only their presence is compared.
var dataMaps = map[string]bool{
	"headers": true, "multiValueHeaders": true, "queryStringParameters": true,
	"multiValueQueryStringParameters": true, "pathParameters": true, "stageVariables": true,
	"lambda": true, "authorizer": true,
}

// schemaPaths lists the field paths of a JSON document.
func schemaPaths(prefix string, v any, into map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, child := range m {
		p := prefix + k
		into[p] = true
		if !dataMaps[k] {
			schemaPaths(p+".", child, into)
		}
	}
}

func loadJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEventsHaveEveryFieldOfAWSFixtures checks the events the gateway sends
// against the fixtures AWS publishes in aws-lambda-go (testdata/README.md):
// every field there must be here, and the constant ones must agree.
func TestEventsHaveEveryFieldOfAWSFixtures(t *testing.T) {
	const cfg = `
apis:
  - name: rest
    apiId: s4x3opwd6i
    stage: test
    stageVariables: {StageVar1: stageValue1}
    authorizers:
      req:
        type: REQUEST
        function: auth
        identitySource: method.request.header.HeaderAuth1, method.request.querystring.QueryString1
      tok:
        type: TOKEN
        function: auth
        identitySource: method.request.header.Authorization
    routes:
      - {route: GET /request, authorizer: req, integration: {type: MOCK}}
      - {route: GET /token, authorizer: tok, integration: {type: MOCK}}
      - {route: "POST /{proxy+}", integration: {type: AWS_PROXY, function: api}}
  - name: http
    type: HTTP
    basePath: /h
    apiId: abcdef123
    stageVariables: {stageVariable1: value1}
    authorizers:
      v1:
        function: auth
        identitySource: $request.header.HeaderAuth1, $request.querystring.QueryString1
        payloadFormatVersion: "1.0"
      v2:
        function: auth
        identitySource: $request.header.HeaderAuth1, $request.querystring.QueryString1
        enableSimpleResponses: true
    routes:
      - {route: GET /request, authorizer: v1, integration: {type: MOCK}}
      - {route: "POST /my/{parameter1}", authorizer: v2, integration: {type: AWS_PROXY, function: api}}
`
	auth := &testAuthorizer{}
	var proxyEvents [][]byte
	api := invokerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
		proxyEvents = append(proxyEvents, payload)
		return []byte(`{"statusCode":200,"body":""}`), nil
	})
	srv, _ := serve(t, cfg, Options{Functions: map[string]Invoker{"auth": auth, "api": api}})
	hdr := map[string]string{"HeaderAuth1": "headerValue1", "Authorization": "Bearer simpletrue-x", "Cookie": "cookie1; cookie2"}

	check := func(t *testing.T, fixture string, got map[string]any, constants map[string]any) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", fixture))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		schemaPaths("", loadJSON(t, b), want)
		have := map[string]bool{}
		schemaPaths("", got, have)
		var missing []string
		for p := range want {
			if !have[p] && !omittedByAWSLambdaGo(p) {
				missing = append(missing, p)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s: fields missing from the gateway's event: %s", fixture, strings.Join(missing, ", "))
		}
		for path, wantV := range constants {
			var v any = got
			for part := range strings.SplitSeq(path, ".") {
				v = v.(map[string]any)[part]
			}
			if !jsonEqual(v, wantV) {
				t.Errorf("%s: %s = %#v, want %#v", fixture, path, v, wantV)
			}
		}
	}

	t.Run("REST REQUEST", func(t *testing.T) {
		do(t, "GET", srv.URL+"/request?QueryString1=queryValue1", hdr, "")
		check(t, "apigw-custom-auth-request-type-request.json", auth.lastEvent(t), map[string]any{
			"type":                               "REQUEST",
			"methodArn":                          "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/GET/request",
			"resource":                           "/request",
			"path":                               "/request",
			"httpMethod":                         "GET",
			"headers.Headerauth1":                "headerValue1", // Go canonicalizes header names; AWS keeps "HeaderAuth1"
			"multiValueHeaders.Headerauth1":      []any{"headerValue1"},
			"queryStringParameters.QueryString1": "queryValue1",
			"multiValueQueryStringParameters.QueryString1": []any{"queryValue1"},
			"pathParameters":                   map[string]any{},
			"stageVariables.StageVar1":         "stageValue1",
			"requestContext.path":              "/request",
			"requestContext.accountId":         "123456789012",
			"requestContext.stage":             "test",
			"requestContext.resourcePath":      "/request",
			"requestContext.httpMethod":        "GET",
			"requestContext.apiId":             "s4x3opwd6i",
			"requestContext.identity.sourceIp": "127.0.0.1",
		})
		if _, ok := auth.lastEvent(t)["body"]; ok {
			t.Error("the REQUEST event carries a body")
		}
	})
	t.Run("REST TOKEN", func(t *testing.T) {
		do(t, "GET", srv.URL+"/token", map[string]string{"Authorization": "allow"}, "")
		ev := auth.lastEvent(t)
		check(t, "apigw-custom-auth-request.json", ev, map[string]any{
			"type":               "TOKEN",
			"authorizationToken": "allow",
			"methodArn":          "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/GET/token",
		})
		if len(ev) != 3 {
			t.Errorf("TOKEN event has %d fields, want type, authorizationToken and methodArn only: %v", len(ev), ev)
		}
	})
	t.Run("REST proxy", func(t *testing.T) {
		do(t, "POST", srv.URL+"/hello/world?name=me", map[string]string{"Authorization": "x"}, `{"a":1}`)
		check(t, "apigw-request.json", loadJSON(t, proxyEvents[len(proxyEvents)-1]), map[string]any{
			"resource":                   "/{proxy+}",
			"path":                       "/hello/world",
			"pathParameters.proxy":       "hello/world",
			"queryStringParameters.name": "me",
			"body":                       `{"a":1}`,
		})
	})
	t.Run("HTTP API 1.0", func(t *testing.T) {
		do(t, "GET", srv.URL+"/h/request?QueryString1=123", map[string]string{"HeaderAuth1": "user1"}, "")
		check(t, "apigw-v2-custom-authorizer-v1-request.json", auth.lastEvent(t), map[string]any{
			"version":            "1.0",
			"type":               "REQUEST",
			"methodArn":          "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/GET/request",
			"identitySource":     "user1,123",
			"authorizationToken": "user1,123",
			"resource":           "/request",
		})
	})
	t.Run("HTTP API 2.0", func(t *testing.T) {
		do(t, "POST", srv.URL+"/h/my/value1?QueryString1=123&parameter1=value1&parameter1=value2",
			map[string]string{"HeaderAuth1": "user1", "Cookie": "cookie1; cookie2", "Authorization": "Bearer simpletrue-v2"}, `{"a": 1}`)
		check(t, "apigw-v2-custom-authorizer-v2-request.json", auth.lastEvent(t), map[string]any{
			"version":                          "2.0",
			"type":                             "REQUEST",
			"routeArn":                         "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/POST/my/value1",
			"identitySource":                   []any{"user1", "123"},
			"routeKey":                         "POST /my/{parameter1}",
			"rawPath":                          "/h/my/value1",
			"rawQueryString":                   "QueryString1=123&parameter1=value1&parameter1=value2",
			"cookies":                          []any{"cookie1", "cookie2"},
			"headers.headerauth1":              "user1",
			"queryStringParameters.parameter1": "value1,value2",
			"pathParameters.parameter1":        "value1",
			"requestContext.http.method":       "POST",
			"requestContext.routeKey":          "POST /my/{parameter1}",
			"requestContext.stage":             "$default",
			"stageVariables.stageVariable1":    "value1",
		})
		check(t, "apigw-v2-request-lambda-authorizer.json", loadJSON(t, proxyEvents[len(proxyEvents)-1]), map[string]any{
			"version":                          "2.0",
			"routeKey":                         "POST /my/{parameter1}",
			"requestContext.authorizer.lambda": map[string]any{"tenant": "acme", "rpm": float64(60)},
		})
	})
}

// omittedByAWSLambdaGo reports fields that aws-lambda-go's
// APIGatewayCustomAuthorizerRequestTypeRequestIdentity does not have (the
// REQUEST authorizer event's identity): AWS sends them as null.
func omittedByAWSLambdaGo(path string) bool {
	rest, ok := strings.CutPrefix(path, "requestContext.identity.")
	return ok && rest != "sourceIp" && rest != "userAgent" && rest != "clientCert"
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
