package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigate/aigate/policy"
)

// invokerFunc adapts a function to Invoker, for authorizers that must return
// raw bytes (malformed output) or look at the raw event.
type invokerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// testAuthorizer is an authorizer whose answer depends on the credential
// ("Bearer <behaviour>[-suffix]"), and which counts its invocations.
type testAuthorizer struct {
	calls  atomic.Int64
	mu     sync.Mutex
	events [][]byte
}

func (a *testAuthorizer) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	a.calls.Add(1)
	a.mu.Lock()
	a.events = append(a.events, bytes.Clone(payload))
	a.mu.Unlock()
	var ev struct {
		Type               string            `json:"type"`
		AuthorizationToken string            `json:"authorizationToken"`
		MethodArn          string            `json:"methodArn"`
		RouteArn           string            `json:"routeArn"`
		Headers            map[string]string `json:"headers"`
		IdentitySource     json.RawMessage   `json:"identitySource"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	token := ev.AuthorizationToken
	if token == "" {
		token = ev.Headers["Authorization"]
	}
	if token == "" {
		token = ev.Headers["authorization"]
	}
	arnText := ev.MethodArn
	if arnText == "" {
		arnText = ev.RouteArn
	}
	arn, err := policy.ParseMethodARN(arnText)
	if err != nil {
		return nil, err
	}
	behaviour, _, _ := strings.Cut(strings.TrimPrefix(token, "Bearer "), "-")
	allow := func(resources ...string) ([]byte, error) {
		return json.Marshal(map[string]any{
			"principalId":    "user-1",
			"policyDocument": policy.NewDocument().Allow(resources...).Document(),
			"context":        map[string]any{"tenant": "acme", "rpm": 60, "beta": true},
		})
	}
	switch behaviour {
	case "allow":
		return allow(arn.StagePrefix() + "*/v1/*")
	case "allowall":
		return allow(arn.StagePrefix() + "*")
	case "narrow":
		// Only the incoming methodArn: the pitfall.
		return allow(arnText)
	case "deny":
		return json.Marshal(map[string]any{
			"principalId":    "user-1",
			"policyDocument": policy.NewDocument().Allow(arn.StagePrefix() + "*").Deny(arn.StagePrefix() + "*").Document(),
		})
	case "unauthorized":
		return nil, &testError{"Unauthorized"}
	case "expired":
		return nil, &testError{"Unauthorized: expired"}
	case "error":
		return nil, &testError{"database unreachable"}
	case "nested":
		return json.Marshal(map[string]any{
			"principalId":    "user-1",
			"policyDocument": policy.NewDocument().Allow(arn.StagePrefix() + "*").Document(),
			"context":        map[string]any{"scopes": []string{"a", "b"}},
		})
	case "noprincipal":
		return []byte(`{"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}`), nil
	case "nullstatement":
		return []byte(`{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":null}}`), nil
	case "notjson":
		return []byte(`allow`), nil
	case "stringpolicy":
		// Action and Resource as plain strings, as AWS accepts.
		return []byte(`{"principalId":"user-2","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"` + arn.StagePrefix() + `*"}]}}`), nil
	case "slow":
		<-ctx.Done()
		return nil, ctx.Err()
	case "simpletrue":
		return []byte(`{"isAuthorized":true,"context":{"tenant":"acme","rpm":60}}`), nil
	case "simplefalse":
		return []byte(`{"isAuthorized":false}`), nil
	}
	return nil, &testError{"Unauthorized"}
}

type testError struct{ msg string }

func (e *testError) Error() string { return e.msg }

func (a *testAuthorizer) lastEvent(t *testing.T) map[string]any {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.events) == 0 {
		t.Fatal("authorizer never invoked")
	}
	var m map[string]any
	if err := json.Unmarshal(a.events[len(a.events)-1], &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// serve starts the gateway for yaml on a real loopback listener.
func serve(t testing.TB, yamlText string, opts Options) (*httptest.Server, *Gateway) {
	t.Helper()
	cfg, err := ParseConfig([]byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	g, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		srv.Close()
		g.Close()
	})
	return srv, g
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, method, url string, header map[string]string, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
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

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// apigwIDPattern is the shape of x-amz-apigw-id and apigw-requestid, e.g.
// "FiV9AHvHoAMFtsg=".
var apigwIDPattern = regexp.MustCompile(`^[A-Za-z0-9+/]{15}=$`)

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// fakeClock is Options.Now for cache expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// httptestServer serves h on a loopback listener and returns its URL.
func httptestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
