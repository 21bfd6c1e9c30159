package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/e2e/internal/misbehave"
	"github.com/aigate/aigate/gateway"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/server"
)

// gatewayConfig is one REST API with the aigate authorizer (REQUEST, and a
// TOKEN variant with a validation expression, and one without a cache) and
// the misbehaving test authorizer, each run either in process or from its
// bootstrap under aws-lambda-rie.
func gatewayConfig(aigateFn, misbehaveFn gateway.LambdaFunction) string {
	fn := func(f gateway.LambdaFunction) string {
		if f.Bootstrap != "" {
			return fmt.Sprintf("bootstrap: %q\n        poolSize: 1", f.Bootstrap)
		}
		return "function: " + f.Function
	}
	return fmt.Sprintf(`
apis:
  - name: e2e
    stage: local
    authorizers:
      keys:
        type: REQUEST
        %[1]s
        identitySource: method.request.header.Authorization
        authorizerResultTtlInSeconds: 300
      nocache:
        type: REQUEST
        %[1]s
        identitySource: method.request.header.Authorization
        authorizerResultTtlInSeconds: 0
      token:
        type: TOKEN
        %[1]s
        identitySource: method.request.header.Authorization
        identityValidationExpression: '^Bearer [-0-9a-zA-Z._]+$'
      mis:
        type: REQUEST
        %[2]s
        identitySource: method.request.header.Authorization
        authorizerResultTtlInSeconds: 300
        timeoutSeconds: 1
    routes:
      - route: ANY /v1/{proxy+}
        authorizer: keys
        integration: {type: MOCK, response: {body: '{"principalId":"$context.authorizer.principalId","models":$context.authorizer.models}'}}
      - route: ANY /nocache/v1/{proxy+}
        authorizer: nocache
        integration: {type: MOCK, response: {body: '{"principalId":"$context.authorizer.principalId"}'}}
      - route: GET /tok/v1/{proxy+}
        authorizer: token
        integration: {type: MOCK, response: {body: '{"principalId":"$context.authorizer.principalId"}'}}
      - route: GET /admin/{proxy+}
        authorizer: keys
        integration: {type: MOCK, response: {body: '{"admin":true}'}}
      - route: ANY /m/{proxy+}
        authorizer: mis
        integration: {type: MOCK, response: {body: '{"principalId":"$context.authorizer.principalId","mode":"$context.authorizer.mode"}'}}
authorizer:
  routes: [%[3]s]
`, fn(aigateFn), fn(misbehaveFn), `"`+strings.Join(e2eRoutes, `", "`)+`"`)
}

// e2eRoutes is the aigate authorizer's scope in these tests: the AI API's
// routes (the default) and the test's other prefixes. The bootstrap under
// the emulator reads it from AIGATE_ROUTES.
var e2eRoutes = append(authz.DefaultRoutes(), "GET/tok/v1/*", "GET/nocache/v1/*")

type gwCase struct {
	name, method, path, auth string // auth "-" sends no Authorization header
}

type gwResult struct {
	Status  int
	Body    string
	ErrType string
	HasID   bool
}

// TestGatewayEndToEnd runs every authorizer case through a running local
// gateway twice — the authorizers in process, then the real bootstrap
// binaries under aws-lambda-rie — and requires identical answers, which
// must also be the ones API Gateway gives.
func TestGatewayEndToEnd(t *testing.T) {
	bin := build(t)
	data := t.TempDir()
	_, valid := createKey(t, data, "--name", "valid", "--models", "gpt-4o*,echo")
	revokedID, revoked := createKey(t, data, "--name", "revoked")
	aigate(t, data, "keys", "revoke", revokedID)
	_, noModels := createKey(t, data, "--name", "nomodels", "--models", "")
	corruptID, corrupt := createKey(t, data, "--name", "corrupt")
	db, err := sql.Open("sqlite", filepath.Join(data, "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	// A status no code writes: the authorizer must fail (500), not guess.
	if _, err := db.Exec(`UPDATE keys SET status = 'bogus' WHERE id = ?`, corruptID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	t.Setenv("AIGATE_DATA", data) // for the bootstrap under the emulator
	t.Setenv("AIGATE_STORE", "")
	t.Setenv("AIGATE_HASH_KEY", "")
	t.Setenv("AIGATE_ROUTES", strings.Join(e2eRoutes, ","))

	cases := []gwCase{
		{"valid key", "GET", "/v1/models", "Bearer " + valid},
		{"revoked key", "GET", "/v1/models", "Bearer " + revoked},
		{"malformed key", "GET", "/v1/models", "Bearer " + valid[:len(valid)-3] + "xyz"},
		{"no header", "GET", "/v1/models", "-"},
		{"empty header", "GET", "/v1/models", ""},
		{"token valid", "GET", "/tok/v1/models", "Bearer " + valid},
		{"token regex mismatch", "GET", "/tok/v1/models", "Basic dXNlcjpwYXNz"},
		{"explicit deny", "GET", "/v1/models", "Bearer " + noModels},
		{"implicit deny", "GET", "/admin/users", "Bearer " + valid},
		{"admin route under a v1 segment", "GET", "/admin/v1/users", "Bearer " + valid},
		{"authorizer error (corrupt key record)", "GET", "/v1/models", "Bearer " + corrupt},
		{"authorizer error", "GET", "/m/x", "Bearer error"},
		{"authorizer says Unauthorized", "GET", "/m/x", "Bearer unauthorized"},
		{"non-scalar context", "GET", "/m/x", "Bearer nonscalar"},
		{"authorizer timeout", "GET", "/m/x", "Bearer slow"},
		{"policy for the incoming ARN only", "GET", "/m/first", "Bearer arnonly"},
		{"same cached policy, second route", "GET", "/m/second", "Bearer arnonly"},
		{"cache hit on a second route", "POST", "/v1/chat/completions", "Bearer " + valid},
	}
	want := map[string]gwResult{
		"valid key":                             {200, `{"principalId":"key:ID","models":["gpt-4o*","echo"]}`, "", true},
		"revoked key":                           {401, `{"message":"Unauthorized"}`, "UnauthorizedException", true},
		"malformed key":                         {401, `{"message":"Unauthorized"}`, "UnauthorizedException", true},
		"no header":                             {401, `{"message":"Unauthorized"}`, "UnauthorizedException", true},
		"empty header":                          {401, `{"message":"Unauthorized"}`, "UnauthorizedException", true},
		"token valid":                           {200, `{"principalId":"key:ID"}`, "", true},
		"token regex mismatch":                  {401, `{"message":"Unauthorized"}`, "UnauthorizedException", true},
		"explicit deny":                         {403, `{"Message":"User is not authorized to access this resource with an explicit deny"}`, "AccessDeniedException", true},
		"implicit deny":                         {403, `{"Message":"User is not authorized to access this resource"}`, "AccessDeniedException", true},
		"admin route under a v1 segment":        {403, `{"Message":"User is not authorized to access this resource"}`, "AccessDeniedException", true},
		"authorizer error (corrupt key record)": {500, `{"message":null}`, "AuthorizerConfigurationException", true},
		"authorizer error":                      {500, `{"message":null}`, "AuthorizerConfigurationException", true},
		"authorizer says Unauthorized":          {401, `{"message":"Unauthorized"}`, "UnauthorizedException", true},
		"non-scalar context":                    {500, `{"message":null}`, "AuthorizerConfigurationException", true},
		"authorizer timeout":                    {500, `{"message":null}`, "AuthorizerConfigurationException", true},
		"policy for the incoming ARN only":      {200, `{"principalId":"misbehave","mode":"arnonly"}`, "", true},
		"same cached policy, second route":      {403, `{"Message":"User is not authorized to access this resource"}`, "AccessDeniedException", true},
		"cache hit on a second route":           {200, `{"principalId":"key:ID","models":["gpt-4o*","echo"]}`, "", true},
	}

	modes := []struct {
		name          string
		aigate, misbe gateway.LambdaFunction
	}{
		{"in process", gateway.LambdaFunction{Function: server.FunctionAuthorizer}, gateway.LambdaFunction{Function: "misbehave"}},
		{"bootstrap under aws-lambda-rie",
			gateway.LambdaFunction{Bootstrap: filepath.Join(bin, "authorizer", "bootstrap")},
			gateway.LambdaFunction{Bootstrap: filepath.Join(bin, "misbehave", "bootstrap")}},
	}
	results := make([]map[string]gwResult, len(modes))
	for i, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			base := startServer(t, data, gatewayConfig(mode.aigate, mode.misbe))
			results[i] = map[string]gwResult{}
			for _, c := range cases {
				got := call(t, base, c)
				results[i][c.name] = got
				w := want[c.name]
				if got.Status != w.Status || normalize(got.Body) != w.Body || got.ErrType != w.ErrType || !got.HasID {
					t.Errorf("%s: got %+v, want %+v", c.name, got, w)
				}
			}
		})
	}
	if !reflect.DeepEqual(results[0], results[1]) {
		for _, c := range cases {
			if results[0][c.name] != results[1][c.name] {
				t.Errorf("%s differs: in process %+v, under the emulator %+v", c.name, results[0][c.name], results[1][c.name])
			}
		}
	}
}

// TestResultCacheAndTTLZero: a key revoked after its first call keeps
// working within the TTL on any route (API Gateway's cache), and stops at
// once where the TTL is 0.
func TestResultCacheAndTTLZero(t *testing.T) {
	data := t.TempDir()
	id, key := createKey(t, data, "--name", "soon revoked")
	base := startServer(t, data, gatewayConfig(gateway.LambdaFunction{Function: server.FunctionAuthorizer}, gateway.LambdaFunction{Function: "misbehave"}))
	for _, path := range []string{"/v1/models", "/nocache/v1/models"} {
		if got := call(t, base, gwCase{"", "GET", path, "Bearer " + key}); got.Status != 200 {
			t.Fatalf("%s before revocation: %+v", path, got)
		}
	}
	aigate(t, data, "keys", "revoke", id)
	if got := call(t, base, gwCase{"", "POST", "/v1/chat/completions", "Bearer " + key}); got.Status != 200 {
		t.Fatalf("cached route after revocation: %+v, want 200 from the cache", got)
	}
	if got := call(t, base, gwCase{"", "GET", "/nocache/v1/models", "Bearer " + key}); got.Status != 401 {
		t.Fatalf("TTL 0 route after revocation: %+v, want 401", got)
	}
}

// startServer runs the server package (what `aigate serve` runs) over real
// HTTP on 127.0.0.1 with the given config and the misbehave function.
func startServer(t *testing.T, data, config string) string {
	t.Helper()
	cfg, err := server.ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	srv, err := server.New(context.Background(), server.Options{
		Config:    cfg,
		DataDir:   data,
		IssuerURL: "http://" + ts.Listener.Addr().String(),
		Logger:    slog.New(slog.DiscardHandler),
		Functions: map[string]gateway.Invoker{"misbehave": misbehave.Handler{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return ts.URL
}

func call(t *testing.T, base string, c gwCase) gwResult {
	t.Helper()
	req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(`{"model":"echo"}`))
	if c.auth != "-" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return gwResult{resp.StatusCode, string(b), resp.Header.Get("x-amzn-ErrorType"), resp.Header.Get("x-amzn-RequestId") != ""}
}

// normalize replaces the key id (random per run) in a key's principal id
// ("key:" and the id) with ID.
func normalize(body string) string {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) != nil {
		return body
	}
	if pid, ok := m["principalId"].(string); ok {
		if id, ok := record.KeyIDOf(pid); ok && len(id) == 12 {
			return strings.Replace(body, pid, "key:ID", 1)
		}
	}
	return body
}
