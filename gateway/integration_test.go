package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// upstream records what an HTTP_PROXY integration sent it.
type upstream struct {
	mu   sync.Mutex
	last *http.Request
	body string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.last, u.body = r, string(b)
	u.mu.Unlock()
	w.Header().Set("X-Upstream", "yes")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"from":"upstream"}`)
}

func TestHTTPProxyForwardsMappedPrincipal(t *testing.T) {
	up := &upstream{}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	release := make(chan struct{})
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slowSrv.Close()
	defer close(release)
	cfg := `
apis:
  - name: pets
    stage: test
    stageVariables: {env: dev}
    authorizers:
      keys:
        type: REQUEST
        function: auth
        identitySource: method.request.header.Authorization
    routes:
      - route: GET /pets/{id}
        authorizer: keys
        integration:
          type: HTTP_PROXY
          uri: ` + upSrv.URL + `/store/pets/{id}
          requestParameters:
            integration.request.header.x-principal: context.authorizer.principalId
            integration.request.header.x-tenant: context.authorizer.tenant
            integration.request.header.x-env: stageVariables.env
            integration.request.header.x-static: "'yes'"
            integration.request.querystring.pet: method.request.path.id
      - route: POST /v1/{proxy+}
        authorizer: keys
        integration:
          type: HTTP_PROXY
          uri: ` + upSrv.URL + `/api/{proxy}
      - route: GET /down
        integration:
          type: HTTP_PROXY
          uri: http://127.0.0.1:1/nothing
      - route: GET /slow
        integration:
          type: HTTP_PROXY
          uri: ` + slowSrv.URL + `
          timeoutInMillis: 50
`
	auth := &testAuthorizer{}
	srv, _ := serve(t, cfg, Options{Functions: map[string]Invoker{"auth": auth}})

	r := do(t, "GET", srv.URL+"/pets/a1b2?color=red", bearer("allowall-p"), "")
	if r.status != 201 || r.body != `{"from":"upstream"}` || r.header.Get("X-Upstream") != "yes" {
		t.Fatalf("response = %d %q %v", r.status, r.body, r.header)
	}
	if r.header.Get("x-amzn-RequestId") == "" {
		t.Error("no x-amzn-RequestId on a proxied response")
	}
	up.mu.Lock()
	got := up.last
	up.mu.Unlock()
	if got.URL.Path != "/store/pets/a1b2" {
		t.Errorf("upstream path = %q", got.URL.Path)
	}
	for k, want := range map[string]string{"X-Principal": "user-1", "X-Tenant": "acme", "X-Env": "dev", "X-Static": "yes", "Authorization": "Bearer allowall-p"} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("upstream header %s = %q, want %q", k, v, want)
		}
	}
	if q := got.URL.Query(); q.Get("color") != "red" || q.Get("pet") != "a1b2" {
		t.Errorf("upstream query = %v", q)
	}

	r = do(t, "POST", srv.URL+"/v1/chat/completions", bearer("allowall-p"), `{"model":"m"}`)
	if r.status != 201 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	up.mu.Lock()
	if up.last.Method != "POST" || up.last.URL.Path != "/api/chat/completions" || up.body != `{"model":"m"}` {
		t.Errorf("upstream got %s %s %q", up.last.Method, up.last.URL.Path, up.body)
	}
	up.mu.Unlock()

	r = do(t, "GET", srv.URL+"/down", nil, "")
	if r.status != 502 || r.body != `{"message": "Internal server error"}` {
		t.Errorf("unreachable upstream: %d %s", r.status, r.body)
	}
	r = do(t, "GET", srv.URL+"/slow", nil, "")
	if r.status != 504 || r.body != `{"message": "Endpoint request timed out"}` {
		t.Errorf("upstream past timeoutInMillis: %d %s", r.status, r.body)
	}
}

const lambdaProxyConfig = `
apis:
  - name: rest
    stage: test
    stageVariables: {env: dev}
    authorizers:
      keys:
        type: REQUEST
        function: auth
        identitySource: method.request.header.Authorization
    routes:
      - route: ANY /v1/{proxy+}
        authorizer: keys
        integration:
          type: AWS_PROXY
          function: api
      - route: GET /slow
        integration:
          type: AWS_PROXY
          function: api
          timeoutInMillis: 50
  - name: http
    type: HTTP
    basePath: /h
    stage: $default
    authorizers:
      simple:
        function: auth
        identitySource: $request.header.Authorization
        enableSimpleResponses: true
        authorizerResultTtlInSeconds: 300
      iam:
        function: auth
        identitySource: $request.header.Authorization, $request.querystring.tenant
        payloadFormatVersion: "1.0"
    routes:
      - route: POST /v1/{proxy+}
        authorizer: simple
        integration:
          type: AWS_PROXY
          function: apiv2
      - route: GET /iam/{id}
        authorizer: iam
        integration:
          type: AWS_PROXY
          function: apiv2
`

func TestLambdaProxyReceivesStringifiedAuthorizerContext(t *testing.T) {
	var got events.APIGatewayProxyRequest
	var raw map[string]any
	api := invokerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		if err := json.Unmarshal(payload, &got); err != nil {
			return nil, err
		}
		json.Unmarshal(payload, &raw)
		if got.Path == "/v1/malformed" {
			return []byte(`{"statusCode":200,"body":{"not":"a string"}}`), nil
		}
		if got.Path == "/v1/fail" {
			return nil, &testError{"boom"}
		}
		if got.Path == "/slow" {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return json.Marshal(events.APIGatewayProxyResponse{
			StatusCode:        202,
			Headers:           map[string]string{"X-One": "1", "X-Both": "single"},
			MultiValueHeaders: map[string][]string{"X-Many": {"a", "b"}, "X-Both": {"multi"}},
			Body:              "aGVsbG8=",
			IsBase64Encoded:   true,
		})
	})
	srv, _ := serve(t, lambdaProxyConfig, Options{Functions: map[string]Invoker{"auth": &testAuthorizer{}, "api": api, "apiv2": api}})

	r := do(t, "POST", srv.URL+"/v1/chat/completions?stream=true&x=1&x=2", bearer("allow-lp"), `{"model":"m"}`)
	if r.status != 202 || r.body != "hello" {
		t.Fatalf("response = %d %q", r.status, r.body)
	}
	if r.header.Get("X-One") != "1" || strings.Join(r.header.Values("X-Many"), ",") != "a,b" || strings.Join(r.header.Values("X-Both"), ",") != "multi" {
		t.Errorf("response headers = %v", r.header)
	}

	authz := raw["requestContext"].(map[string]any)["authorizer"].(map[string]any)
	for k, want := range map[string]any{"tenant": "acme", "rpm": "60", "beta": "true", "principalId": "user-1"} {
		if authz[k] != want {
			t.Errorf("requestContext.authorizer.%s = %#v, want %#v", k, authz[k], want)
		}
	}
	if _, ok := authz["integrationLatency"].(float64); !ok {
		t.Errorf("integrationLatency = %#v, want a number", authz["integrationLatency"])
	}
	if got.Resource != "/v1/{proxy+}" || got.Path != "/v1/chat/completions" || got.HTTPMethod != "POST" ||
		got.PathParameters["proxy"] != "chat/completions" || got.Body != `{"model":"m"}` || got.IsBase64Encoded ||
		got.QueryStringParameters["x"] != "2" || strings.Join(got.MultiValueQueryStringParameters["x"], ",") != "1,2" ||
		got.StageVariables["env"] != "dev" || got.Headers["Authorization"] != "Bearer allow-lp" ||
		got.RequestContext.Stage != "test" || got.RequestContext.RequestID != r.header.Get("x-amzn-RequestId") ||
		got.RequestContext.Identity.SourceIP != "127.0.0.1" || got.RequestContext.ResourcePath != "/v1/{proxy+}" {
		t.Errorf("proxy event = %+v", got)
	}

	r = do(t, "GET", srv.URL+"/v1/malformed", bearer("allow-lp"), "")
	if r.status != 502 || r.body != `{"message": "Internal server error"}` || r.header.Get("x-amzn-ErrorType") != "InternalServerErrorException" {
		t.Errorf("malformed proxy response: %d %s %v", r.status, r.body, r.header)
	}
	r = do(t, "GET", srv.URL+"/v1/fail", bearer("allow-lp"), "")
	if r.status != 502 {
		t.Errorf("integration function error: %d %s", r.status, r.body)
	}
	r = do(t, "GET", srv.URL+"/slow", nil, "")
	if r.status != 504 || r.body != `{"message": "Endpoint request timed out"}` {
		t.Errorf("integration past timeoutInMillis: %d %s", r.status, r.body)
	}
}

func TestHTTPAPIIntegrationGetsAuthorizerLambdaContext(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	var raw map[string]any
	// lambda.NewHandler plugs in as an Invoker directly.
	api := lambda.NewHandler(func(ctx context.Context, ev json.RawMessage) (map[string]any, error) {
		json.Unmarshal(ev, &got)
		json.Unmarshal(ev, &raw)
		if got.RawPath == "/h/v1/plain" {
			return map[string]any{"just": "json"}, nil
		}
		return map[string]any{"statusCode": 200, "headers": map[string]string{"content-type": "text/plain"}, "body": "ok", "cookies": []string{"a=1"}}, nil
	})
	auth := &testAuthorizer{}
	srv, _ := serve(t, lambdaProxyConfig, Options{Functions: map[string]Invoker{"auth": auth, "api": api, "apiv2": api}})

	r := do(t, "POST", srv.URL+"/h/v1/chat", map[string]string{"Authorization": "Bearer simpletrue-1", "Cookie": "c1=v1; c2=v2"}, "hi")
	if r.status != 200 || r.body != "ok" || r.header.Get("Set-Cookie") != "a=1" {
		t.Fatalf("response = %d %q %v", r.status, r.body, r.header)
	}
	id := r.header.Get("apigw-requestid")
	if !apigwIDPattern.MatchString(id) {
		t.Errorf("apigw-requestid = %q", id)
	}
	lambdaCtx := raw["requestContext"].(map[string]any)["authorizer"].(map[string]any)["lambda"].(map[string]any)
	if lambdaCtx["tenant"] != "acme" || lambdaCtx["rpm"] != float64(60) {
		t.Errorf("requestContext.authorizer.lambda = %v, want the context as returned", lambdaCtx)
	}
	if got.RouteKey != "POST /v1/{proxy+}" || got.RequestContext.RequestID != id || got.Body != "hi" ||
		got.RequestContext.HTTP.Method != "POST" || got.Headers["authorization"] != "Bearer simpletrue-1" ||
		strings.Join(got.Cookies, ";") != "c1=v1;c2=v2" || got.Headers["cookie"] != "" {
		t.Errorf("v2 proxy event = %+v", got)
	}
	// The authorizer's 2.0 event.
	ev := auth.lastEvent(t)
	if ev["version"] != "2.0" || ev["routeKey"] != "POST /v1/{proxy+}" ||
		ev["routeArn"] != "arn:aws:execute-api:us-east-1:123456789012:http/$default/POST/v1/chat" {
		t.Errorf("authorizer event = %v", ev)
	}
	if ids, _ := ev["identitySource"].([]any); len(ids) != 1 || ids[0] != "Bearer simpletrue-1" {
		t.Errorf("identitySource = %v", ev["identitySource"])
	}

	r = do(t, "POST", srv.URL+"/h/v1/plain", bearer("simpletrue-1"), "")
	if r.status != 200 || r.body != `{"just":"json"}` || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("answer without statusCode: %d %q %v", r.status, r.body, r.header)
	}

	for _, tc := range []struct {
		name       string
		path       string
		header     map[string]string
		wantStatus int
		wantBody   string
	}{
		{"simple response false is 403 Forbidden", "/h/v1/chat", bearer("simplefalse-1"), 403, `{"message":"Forbidden"}`},
		{"missing identity is 401", "/h/v1/chat", nil, 401, `{"message":"Unauthorized"}`},
		{"authorizer error is 500", "/h/v1/chat", bearer("error-h"), 500, `{"message":"Internal Server Error"}`},
		{"no route is 404", "/h/nowhere", nil, 404, `{"message":"Not Found"}`},
		{"IAM deny is 403 Forbidden", "/h/iam/1?tenant=t", bearer("deny-h"), 403, `{"message":"Forbidden"}`},
		{"IAM allow on a 1.0 authorizer", "/h/iam/1?tenant=t", bearer("stringpolicy-h"), 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "GET", srv.URL+tc.path, tc.header, "")
			if tc.path == "/h/v1/chat" {
				r = do(t, "POST", srv.URL+tc.path, tc.header, "")
			}
			if r.status != tc.wantStatus || (tc.wantBody != "" && r.body != tc.wantBody) {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tc.wantStatus, tc.wantBody)
			}
			if r.header.Get("x-amzn-ErrorType") != "" {
				t.Errorf("HTTP API sent x-amzn-ErrorType %q", r.header.Get("x-amzn-ErrorType"))
			}
			if r.header.Get("apigw-requestid") == "" {
				t.Error("no apigw-requestid")
			}
		})
	}
	ev = auth.lastEvent(t)
	if ev["version"] != "1.0" || ev["identitySource"] != "Bearer stringpolicy-h,t" || ev["methodArn"] != "arn:aws:execute-api:us-east-1:123456789012:http/$default/GET/iam/1" {
		t.Errorf("1.0 authorizer event = %v", ev)
	}
}

func TestHTTPAPICacheAppliesToEveryRouteUnlessRouteKeyIsASource(t *testing.T) {
	const cfg = `
apis:
  - name: http
    type: HTTP
    authorizers:
      plain:
        function: auth
        identitySource: $request.header.Authorization
        enableSimpleResponses: true
        authorizerResultTtlInSeconds: 60
      perroute:
        function: auth
        identitySource: $request.header.Authorization, $context.routeKey
        enableSimpleResponses: true
        authorizerResultTtlInSeconds: 60
    routes:
      - {route: GET /a, authorizer: plain, integration: {type: MOCK}}
      - {route: GET /b, authorizer: plain, integration: {type: MOCK}}
      - {route: GET /c, authorizer: perroute, integration: {type: MOCK}}
      - {route: GET /d, authorizer: perroute, integration: {type: MOCK}}
`
	auth := &testAuthorizer{}
	srv, _ := serve(t, cfg, Options{Functions: map[string]Invoker{"auth": auth}})
	for _, p := range []string{"/a", "/b", "/a"} {
		do(t, "GET", srv.URL+p, bearer("simpletrue-c"), "")
	}
	if n := auth.calls.Load(); n != 1 {
		t.Errorf("shared cache: %d invocations, want 1", n)
	}
	for _, p := range []string{"/c", "/d", "/c"} {
		do(t, "GET", srv.URL+p, bearer("simpletrue-c"), "")
	}
	if n := auth.calls.Load(); n != 3 {
		t.Errorf("routeKey as identity source: %d invocations in all, want 3", n)
	}
}
