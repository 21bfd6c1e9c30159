package gateway

import (
	"fmt"
	"testing"
)

func TestRouteMatchingPrefersExactThenParamThenGreedy(t *testing.T) {
	keys := []string{
		"GET /pets",
		"GET /pets/{id}",
		"GET /pets/mine",
		"ANY /pets/{id}",
		"POST /pets/{id}/toys",
		"ANY /{proxy+}",
		"GET /v1/{proxy+}",
		"GET /v1/chat/{proxy+}",
		"GET /",
	}
	for _, tc := range []struct {
		api    string // REST or HTTP
		method string
		path   string
		want   string // route key, "" for no match
		params map[string]string
	}{
		{"REST", "GET", "/pets", "GET /pets", nil},
		{"REST", "GET", "/pets/", "GET /pets", nil}, // trailing slash
		{"REST", "GET", "/pets/mine", "GET /pets/mine", nil},
		{"REST", "GET", "/pets/a1b2", "GET /pets/{id}", map[string]string{"id": "a1b2"}},
		{"REST", "DELETE", "/pets/a1b2", "ANY /pets/{id}", map[string]string{"id": "a1b2"}},
		{"REST", "POST", "/pets/a1b2/toys", "POST /pets/{id}/toys", map[string]string{"id": "a1b2"}},
		{"REST", "GET", "/pets/a1b2/toys", "ANY /{proxy+}", map[string]string{"proxy": "pets/a1b2/toys"}},
		{"REST", "GET", "/v1/chat/completions", "GET /v1/chat/{proxy+}", map[string]string{"proxy": "completions"}},
		{"REST", "GET", "/v1/models", "GET /v1/{proxy+}", map[string]string{"proxy": "models"}},
		{"REST", "POST", "/v1/models", "ANY /{proxy+}", map[string]string{"proxy": "v1/models"}},
		{"REST", "GET", "/", "GET /", nil},
		{"REST", "POST", "/", "", nil}, // {proxy+} needs a segment
		{"REST", "GET", "/v1", "ANY /{proxy+}", map[string]string{"proxy": "v1"}},
		{"HTTP", "POST", "/", "$default", nil},
	} {
		t.Run(fmt.Sprintf("%s %s %s", tc.api, tc.method, tc.path), func(t *testing.T) {
			a := &api{httpAPI: tc.api == "HTTP"}
			all := keys
			if a.httpAPI {
				all = append(all[:len(all):len(all)], "$default")
			}
			for _, k := range all {
				m, res, segs, err := parseRouteKey(k, a.httpAPI)
				if err != nil {
					t.Fatal(err)
				}
				a.routes = append(a.routes, &route{key: k, method: m, resource: res, segs: segs, catchAll: k == "$default"})
			}
			path := tc.path
			if len(path) > 1 && path[len(path)-1] == '/' {
				path = path[:len(path)-1]
			}
			rt := a.match(tc.method, path)
			got := ""
			if rt != nil {
				got = rt.key
			}
			if got != tc.want {
				t.Fatalf("matched %q, want %q", got, tc.want)
			}
			if rt == nil || rt.catchAll {
				return
			}
			params := pathParams(rt.segs, path)
			if fmt.Sprint(params) != fmt.Sprint(tc.params) {
				t.Errorf("params = %v, want %v", params, tc.params)
			}
		})
	}
}

func TestMethodARNUsesThePathValues(t *testing.T) {
	auth := &testAuthorizer{}
	srv, _ := serve(t, `
apis:
  - name: rest
    apiId: abc123
    stage: prod
    region: eu-west-1
    accountId: "210987654321"
    basePath: /api
    authorizers:
      a: {type: TOKEN, function: auth, identitySource: method.request.header.Authorization}
    routes:
      - {route: "GET /pets/{id}", authorizer: a, integration: {type: MOCK}}
      - {route: "GET /", authorizer: a, integration: {type: MOCK}}
`, Options{Functions: map[string]Invoker{"auth": auth}})
	for path, want := range map[string]string{
		"/api/pets/a1b2": "arn:aws:execute-api:eu-west-1:210987654321:abc123/prod/GET/pets/a1b2",
		"/api/":          "arn:aws:execute-api:eu-west-1:210987654321:abc123/prod/GET/",
		"/api":           "arn:aws:execute-api:eu-west-1:210987654321:abc123/prod/GET/",
	} {
		do(t, "GET", srv.URL+path, bearer("allowall-arn-"+path), "")
		if got := auth.lastEvent(t)["methodArn"]; got != want {
			t.Errorf("%s: methodArn = %v, want %s", path, got, want)
		}
	}
	// Outside every base path: a custom domain without a mapping.
	if r := do(t, "GET", srv.URL+"/other", nil, ""); r.status != 403 || r.body != `{"message":"Forbidden"}` || r.header.Get("x-amzn-RequestId") == "" {
		t.Errorf("outside the base path: %d %s %v", r.status, r.body, r.header)
	}
}
