package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// thirdParty is a fake third-party authorizer: its answer is the output
// named by the credential ("Bearer <name>"), raw, as AWS's examples, Chalice
// and the .NET library write them. It keeps the events it got.
type thirdParty struct {
	mu      sync.Mutex
	outputs map[string]string
	events  [][]byte
}

func (a *thirdParty) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	a.mu.Lock()
	a.events = append(a.events, bytes.Clone(payload))
	a.mu.Unlock()
	var ev struct {
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	token := ""
	for k, v := range ev.Headers {
		if strings.EqualFold(k, "Authorization") {
			token = strings.TrimPrefix(v, "Bearer ")
		}
	}
	out, ok := a.outputs[token]
	if !ok {
		return nil, &testError{"Unauthorized"}
	}
	return []byte(out), nil
}

func (a *thirdParty) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.events)
}

// recorder is a Lambda proxy integration that keeps the events it got.
type recorder struct {
	mu     sync.Mutex
	events [][]byte
}

func (p *recorder) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	p.mu.Lock()
	p.events = append(p.events, bytes.Clone(payload))
	p.mu.Unlock()
	return []byte(`{"statusCode":200,"body":"ok"}`), nil
}

// invokeAPI serves functions on the Lambda invoke API, answering errors as
// aws-lambda-rie does: 200 with {"errorMessage","errorType"}.
func invokeAPI(t *testing.T, functions map[string]Invoker) string {
	t.Helper()
	return httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/2015-03-31/functions/"), "/invocations")
		fn, ok := functions[name]
		if r.Method != "POST" || !ok {
			http.NotFound(w, r)
			return
		}
		payload, _ := io.ReadAll(r.Body)
		out, err := fn.Invoke(r.Context(), payload)
		if err != nil {
			json.NewEncoder(w).Encode(map[string]string{"errorMessage": err.Error(), "errorType": "errorString"})
			return
		}
		w.Write(out)
	}))
}

func fidelityConfig(fn func(name string) string) string {
	return fmt.Sprintf(`
apis:
  - name: rest
    apiId: restapi
    stage: test
    authorizers:
      req:
        type: REQUEST
        %[1]s
        identitySource: method.request.header.Authorization
        authorizerResultTtlInSeconds: 0
    routes:
      - {route: "ANY /r/{proxy+}", authorizer: req, integration: {type: AWS_PROXY, %[2]s}}
  - name: http
    type: HTTP
    basePath: /h
    apiId: httpapi
    authorizers:
      simple:
        %[1]s
        identitySource: $request.header.Authorization
        enableSimpleResponses: true
      iam:
        %[1]s
        identitySource: $request.header.Authorization
      v1:
        %[1]s
        identitySource: $request.header.Authorization
        payloadFormatVersion: "1.0"
    routes:
      - {route: "ANY /s/{proxy+}", authorizer: simple, integration: {type: AWS_PROXY, %[2]s}}
      - {route: "ANY /i/{proxy+}", authorizer: iam, integration: {type: AWS_PROXY, %[2]s}}
      - {route: "ANY /v1/{proxy+}", authorizer: v1, integration: {type: AWS_PROXY, %[2]s}}
`, fn("auth"), strings.ReplaceAll(fn("api"), "\n        ", ", "))
}

// policyOutput is an IAM answer with the given statements and context.
func policyOutput(statements, context string) string {
	out := `{"principalId":"user","policyDocument":{"Version":"2012-10-17","Statement":[` + statements + `]}`
	if context != "" {
		out += `,"context":` + context
	}
	return out + "}"
}

const allowAll = `{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}`

// TestThirdPartyAuthorizersAreAnsweredAsAWSDoes runs third-party authorizer
// outputs through the gateway, one row per divergence that issue 13 found,
// with the functions in process and behind the Lambda invoke API.
func TestThirdPartyAuthorizersAreAnsweredAsAWSDoes(t *testing.T) {
	const (
		implicitDeny  = `{"Message":"User is not authorized to access this resource"}`
		explicitDeny  = `{"Message":"User is not authorized to access this resource with an explicit deny"}`
		configFailure = `{"message":null}`
		tooLarge      = "HTTP content length exceeded 10485760 bytes."
	)
	outputs := map[string]string{
		// AWS's payload 2.0 examples: arrays and maps in the context.
		"simple-arrays": `{"isAuthorized":true,"context":{"stringKey":"value","numberKey":1,"booleanKey":true,"arrayKey":["value1","value2"],"mapKey":{"value1":"value2"}}}`,
		"iam-arrays":    policyOutput(allowAll, `{"arrayKey":["value1","value2"],"mapKey":{"value1":"value2"}}`),
		// Chalice denies with an Allow on no resources.
		"chalice-deny":     policyOutput(`{"Action":"execute-api:Invoke","Effect":"Allow","Resource":[]}`, ""),
		"null-context":     policyOutput(allowAll, `{"tenant":"acme","gone":null}`),
		"null-condition":   policyOutput(`{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*","Condition":null}`, ""),
		"ip-allowed":       policyOutput(`{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}`, ""),
		"ip-elsewhere":     policyOutput(`{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`, ""),
		"unknown-cond":     policyOutput(`{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"*"}}}`, ""),
		"unknown-deny":     policyOutput(allowAll+`,{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/x":"y"}}}`, ""),
		"not-resource":     policyOutput(`{"Action":"execute-api:Invoke","Effect":"Allow","NotResource":"arn:aws:execute-api:*:*:*/*/*/r/admin/*"}`, ""),
		"not-resource-off": policyOutput(`{"Action":"execute-api:Invoke","Effect":"Allow","NotResource":"arn:aws:execute-api:*:*:*/*/*/r/admin/*"}`, ""),
		"deny-not-action":  policyOutput(allowAll+`,{"NotAction":"execute-api:InvalidateCache","Effect":"Deny","Resource":"*"}`, ""),
		"allow":            policyOutput(allowAll, `{"tenant":"acme"}`),
	}
	type check func(t *testing.T, authEvent, proxyEvent map[string]any)
	tests := []struct {
		name          string
		method, path  string
		header        map[string]string // set as spelt
		body          string
		chunked       bool // body of unknown length
		wantStatus    int
		wantBody      string
		wantErrorType string
		wantNoInvoke  bool
		check         check
	}{
		{name: "1 HTTP API simple response passes arrays and maps on", method: "GET", path: "/h/s/x", header: bearerAs("simple-arrays"),
			wantStatus: 200, wantBody: "ok", check: func(t *testing.T, _, proxy map[string]any) {
				lambda := field(t, proxy, "requestContext.authorizer.lambda")
				if !jsonEqual(lambda, map[string]any{"stringKey": "value", "numberKey": 1, "booleanKey": true, "arrayKey": []any{"value1", "value2"}, "mapKey": map[string]any{"value1": "value2"}}) {
					t.Errorf("lambda = %v", lambda)
				}
			}},
		{name: "1 HTTP API IAM response passes arrays and maps on", method: "GET", path: "/h/i/x", header: bearerAs("iam-arrays"),
			wantStatus: 200, wantBody: "ok", check: func(t *testing.T, _, proxy map[string]any) {
				if v := field(t, proxy, "requestContext.authorizer.lambda.mapKey"); !jsonEqual(v, map[string]any{"value1": "value2"}) {
					t.Errorf("mapKey = %v", v)
				}
			}},
		{name: "1 REST API still refuses arrays and maps", method: "GET", path: "/r/x", header: bearerAs("iam-arrays"),
			wantStatus: 500, wantBody: configFailure, wantErrorType: "AuthorizerConfigurationException"},
		{name: "2 REST empty Resource is an implicit deny", method: "GET", path: "/r/x", header: bearerAs("chalice-deny"),
			wantStatus: 403, wantBody: implicitDeny, wantErrorType: "AccessDeniedException"},
		{name: "3 REST null context value reaches the integration as null", method: "GET", path: "/r/x", header: bearerAs("null-context"),
			wantStatus: 200, wantBody: "ok", check: func(t *testing.T, _, proxy map[string]any) {
				auth := field(t, proxy, "requestContext.authorizer").(map[string]any)
				if v, ok := auth["gone"]; !ok || v != nil || auth["tenant"] != "acme" {
					t.Errorf("requestContext.authorizer = %v, want gone: null", auth)
				}
			}},
		{name: "4 null Condition is a configuration error", method: "GET", path: "/r/x", header: bearerAs("null-condition"),
			wantStatus: 500, wantBody: configFailure, wantErrorType: "AuthorizerConfigurationException"},
		{name: "5 Condition that holds allows", method: "GET", path: "/r/x", header: bearerAs("ip-allowed"),
			wantStatus: 200, wantBody: "ok"},
		{name: "5 Condition that fails does not allow", method: "GET", path: "/r/x", header: bearerAs("ip-elsewhere"),
			wantStatus: 403, wantBody: implicitDeny, wantErrorType: "AccessDeniedException"},
		{name: "5 unevaluable Condition on an Allow does not allow", method: "GET", path: "/r/x", header: bearerAs("unknown-cond"),
			wantStatus: 403, wantBody: implicitDeny, wantErrorType: "AccessDeniedException"},
		{name: "5 unevaluable Condition on a Deny denies", method: "GET", path: "/r/x", header: bearerAs("unknown-deny"),
			wantStatus: 403, wantBody: explicitDeny, wantErrorType: "AccessDeniedException"},
		{name: "6 NotResource allows what it does not name", method: "GET", path: "/r/x", header: bearerAs("not-resource"),
			wantStatus: 200, wantBody: "ok"},
		{name: "6 NotResource does not allow what it names", method: "GET", path: "/r/admin/keys", header: bearerAs("not-resource-off"),
			wantStatus: 403, wantBody: implicitDeny, wantErrorType: "AccessDeniedException"},
		{name: "6 Deny with NotAction denies Invoke", method: "GET", path: "/r/x", header: bearerAs("deny-not-action"),
			wantStatus: 403, wantBody: explicitDeny, wantErrorType: "AccessDeniedException"},
		{name: "7 REST events keep the client's header spelling", method: "GET", path: "/r/x",
			header:     map[string]string{"authorization": "Bearer allow", "x-api-key": "k1", "HeaderAuth1": "h1", "X-Forwarded-For": "198.51.100.9"},
			wantStatus: 200, wantBody: "ok", check: func(t *testing.T, auth, proxy map[string]any) {
				for _, ev := range []map[string]any{auth, proxy} {
					for _, m := range []string{"headers", "multiValueHeaders"} {
						h := field(t, ev, m).(map[string]any)
						for _, k := range []string{"authorization", "x-api-key", "HeaderAuth1", "Host", "X-Forwarded-For", "X-Forwarded-Proto"} {
							if _, ok := h[k]; !ok {
								t.Errorf("%s has no %q: %v", m, k, h)
							}
						}
						for _, k := range []string{"Authorization", "X-Api-Key", "Headerauth1"} {
							if _, ok := h[k]; ok {
								t.Errorf("%s has Go's %q", m, k)
							}
						}
					}
				}
				if v := field(t, auth, "headers.X-Forwarded-For"); v != "198.51.100.9, 127.0.0.1" {
					t.Errorf("X-Forwarded-For = %v", v)
				}
			}},
		{name: "7 HTTP API 1.0 event keeps the client's spelling", method: "GET", path: "/h/v1/x",
			header:     map[string]string{"authorization": "Bearer allow", "x-api-key": "k1", "HeaderAuth1": "h1"},
			wantStatus: 200, wantBody: "ok", check: func(t *testing.T, auth, _ map[string]any) {
				h := field(t, auth, "headers").(map[string]any)
				if h["x-api-key"] != "k1" || h["HeaderAuth1"] != "h1" {
					t.Errorf("headers = %v", h)
				}
			}},
		{name: "7 HTTP API 2.0 events lower-case", method: "GET", path: "/h/i/x",
			header:     map[string]string{"Authorization": "Bearer allow", "X-Api-Key": "k1", "HeaderAuth1": "h1"},
			wantStatus: 200, wantBody: "ok", check: func(t *testing.T, auth, proxy map[string]any) {
				for _, ev := range []map[string]any{auth, proxy} {
					h := field(t, ev, "headers").(map[string]any)
					if h["x-api-key"] != "k1" || h["headerauth1"] != "h1" {
						t.Errorf("headers = %v", h)
					}
				}
			}},
		{name: "8 body over 10 MB is refused before the authorizer", method: "POST", path: "/r/x", header: bearerAs("allow"),
			body: strings.Repeat("x", maxPayload+1), wantStatus: 413, wantBody: tooLarge, wantNoInvoke: true},
		{name: "8 chunked body over 10 MB is refused before the authorizer", method: "POST", path: "/r/x", header: bearerAs("allow"),
			body: strings.Repeat("x", maxPayload+1), chunked: true, wantStatus: 413, wantBody: tooLarge, wantNoInvoke: true},
		{name: "8 chunked body within 10 MB reaches the integration", method: "POST", path: "/r/x", header: bearerAs("allow"),
			body: `{"a":1}`, chunked: true, wantStatus: 200, wantBody: "ok", check: func(t *testing.T, _, proxy map[string]any) {
				if v := field(t, proxy, "body"); v != `{"a":1}` {
					t.Errorf("body = %v", v)
				}
			}},
		{name: "10 REST proxy event without a body", method: "GET", path: "/r/x", header: bearerAs("allow"),
			wantStatus: 200, wantBody: "ok", check: func(t *testing.T, _, proxy map[string]any) {
				for _, k := range []string{"body", "requestContext.identity.clientCert", "requestContext.identity.cognitoIdentityId"} {
					if v, ok := lookup(proxy, k); !ok || v != nil {
						t.Errorf("%s = %v (present %v), want null", k, v, ok)
					}
				}
				if v, ok := lookup(proxy, "isBase64Encoded"); !ok || v != false {
					t.Errorf("isBase64Encoded = %v (present %v), want false", v, ok)
				}
			}},
	}

	for _, mode := range []string{"in process", "invoke API"} {
		t.Run(mode, func(t *testing.T) {
			auth := &thirdParty{outputs: outputs}
			api := &recorder{}
			functions := map[string]Invoker{"auth": auth, "api": api}
			var cfg string
			opts := Options{Logger: discardLogger()}
			if mode == "in process" {
				cfg = fidelityConfig(func(name string) string { return "function: " + name })
				opts.Functions = functions
			} else {
				cfg = fidelityConfigEndpoint(invokeAPI(t, functions))
			}
			srv := servePreservingCase(t, cfg, opts)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before, beforeProxy := auth.count(), len(api.events)
					r := doRaw(t, tt.method, srv+tt.path, tt.header, tt.body, tt.chunked)
					if r.status != tt.wantStatus || r.body != tt.wantBody {
						t.Errorf("got %d %.200q, want %d %q", r.status, r.body, tt.wantStatus, tt.wantBody)
					}
					if got := r.header.Get("x-amzn-ErrorType"); got != tt.wantErrorType {
						t.Errorf("x-amzn-ErrorType = %q, want %q", got, tt.wantErrorType)
					}
					invoked := auth.count() > before
					if invoked == tt.wantNoInvoke {
						t.Errorf("authorizer invoked: %v", invoked)
					}
					switch {
					case tt.wantStatus == 413:
						if ct := r.header.Get("Content-Type"); ct != "text; charset=utf-8" {
							t.Errorf("Content-Type = %q", ct)
						}
					case strings.HasPrefix(tt.path, "/h/"):
						if id := r.header.Get("apigw-requestid"); !apigwIDPattern.MatchString(id) {
							t.Errorf("apigw-requestid = %q", id)
						}
					default:
						// 9: both ids on every REST reply.
						if id := r.header.Get("x-amzn-RequestId"); !uuidPattern.MatchString(id) {
							t.Errorf("x-amzn-RequestId = %q", id)
						}
						if id := r.header.Get("x-amz-apigw-id"); !apigwIDPattern.MatchString(id) {
							t.Errorf("x-amz-apigw-id = %q", id)
						}
					}
					if tt.check == nil {
						return
					}
					var authEvent, proxyEvent map[string]any
					if invoked {
						authEvent = loadJSON(t, auth.events[len(auth.events)-1])
					}
					if len(api.events) > beforeProxy {
						proxyEvent = loadJSON(t, api.events[len(api.events)-1])
						if !strings.HasPrefix(tt.path, "/h/") {
							if got, want := field(t, proxyEvent, "requestContext.extendedRequestId"), r.header.Get("x-amz-apigw-id"); got != want {
								t.Errorf("extendedRequestId = %v, x-amz-apigw-id = %q", got, want)
							}
						}
					}
					tt.check(t, authEvent, proxyEvent)
				})
			}
		})
	}
}

// fidelityConfigEndpoint is fidelityConfig with both functions behind the
// invoke API at url.
func fidelityConfigEndpoint(url string) string {
	return fidelityConfig(func(name string) string {
		return "endpoint: " + url + "\n        functionName: " + name
	})
}

func bearerAs(name string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + name}
}

// servePreservingCase serves the gateway on a loopback listener wrapped by
// PreserveHeaderCase, and returns its URL.
func servePreservingCase(t *testing.T, cfgText string, opts Options) string {
	t.Helper()
	cfg, err := ParseConfig([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(g)
	srv.Listener = PreserveHeaderCase(srv.Listener)
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		g.Close()
	})
	return srv.URL
}

// doRaw sends a request with the header names spelt as given (Go's client
// writes map keys as they are), the body of unknown length when chunked.
func doRaw(t *testing.T, method, url string, header map[string]string, body string, chunked bool) response {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd) // hides the length: Transfer-Encoding chunked
	}
	if body == "" {
		rd = nil
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = []string{v}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// lookup follows a dotted path through decoded JSON objects.
func lookup(m map[string]any, path string) (any, bool) {
	var v any = m
	for part := range strings.SplitSeq(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = o[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

func field(t *testing.T, m map[string]any, path string) any {
	t.Helper()
	if m == nil {
		t.Fatalf("no event to read %s from", path)
	}
	v, ok := lookup(m, path)
	if !ok {
		t.Fatalf("event has no %s", path)
	}
	return v
}
