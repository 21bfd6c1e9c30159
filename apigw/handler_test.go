package apigw_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/apigw"
	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/policy"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/sqlite"
)

// world is a real SQLite store with one key in each state.
type world struct {
	handler                            *apigw.Handler
	iam                                *apigw.Handler // answers HTTP API 2.0 with IAM policies
	valid, revoked, expired, malformed string
	noModels                           string // an active key that may use no model
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hk, _ := apikey.NewHashKey()
	hasher, err := apikey.NewHasher(hk)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m := &keys.Manager{Store: st, Hasher: hasher, Actor: "test", Now: func() time.Time { return now }}
	create := func(spec keys.Spec) string {
		is, err := m.Create(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		return is.Secret
	}
	w := &world{}
	w.valid = create(keys.Spec{Name: "valid", Tenant: "acme", Models: []string{"gpt-4o*"}, Limits: record.Limits{RPM: 60}})
	w.revoked = create(keys.Spec{Name: "revoked", Models: []string{"*"}})
	id, _ := apikey.Parse(w.revoked)
	if _, err := m.Revoke(ctx, id.ID); err != nil {
		t.Fatal(err)
	}
	w.expired = create(keys.Spec{Name: "expired", Models: []string{"*"}, ExpiresAt: now.Add(time.Millisecond)})
	// The last checksum character changed: never the one it was (a key
	// ending in "x" made this case a valid key once in 62 runs).
	last := "x"
	if strings.HasSuffix(w.valid, last) {
		last = "y"
	}
	w.malformed = w.valid[:len(w.valid)-1] + last
	w.noModels = create(keys.Spec{Name: "no models"})
	// The authorizer's clock is past the "expired" key's expiry, and before
	// nothing else's.
	cfg := authz.Config{Keys: st, Hasher: hasher, Now: func() time.Time { return now.Add(time.Second) }}
	if w.handler, err = apigw.NewHandler(cfg, false); err != nil {
		t.Fatal(err)
	}
	if w.iam, err = apigw.NewHandler(cfg, true); err != nil {
		t.Fatal(err)
	}
	return w
}

// eventWith loads an AWS fixture and puts credential where API Gateway
// would: the TOKEN event's authorizationToken, or the Authorization header.
func eventWith(t *testing.T, fixture, credential string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if credential != "" {
		if ev["type"] == "TOKEN" {
			ev["authorizationToken"] = "Bearer " + credential
		} else {
			h, _ := ev["headers"].(map[string]any)
			name := "Authorization"
			if ev["version"] == "2.0" {
				name = "authorization" // HTTP API lowercases header names
			}
			h[name] = "Bearer " + credential
		}
	} else if ev["type"] == "TOKEN" {
		ev["authorizationToken"] = ""
	}
	out, _ := json.Marshal(ev)
	return out
}

var fixtures = []string{
	"apigw-custom-auth-request.json",
	"apigw-custom-auth-request-type-request.json",
	"apigw-v2-custom-authorizer-v1-request.json",
	"apigw-v2-custom-authorizer-v2-request.json",
}

func TestFixturesGetTheRightAnswer(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, fx := range fixtures {
		for _, tc := range []struct {
			name, credential string
			allow            bool
		}{
			{"valid key", w.valid, true},
			{"revoked key", w.revoked, false},
			{"expired key", w.expired, false},
			{"malformed key", w.malformed, false},
			{"no key", "", false},
		} {
			t.Run(fx+"/"+tc.name, func(t *testing.T) {
				out, err := w.handler.Invoke(ctx, eventWith(t, fx, tc.credential))
				if !tc.allow {
					if err == nil || err.Error() != "Unauthorized" {
						t.Fatalf("Invoke = %s, %v; want the error Unauthorized", out, err)
					}
					return
				}
				if strings.Contains(fx, "v2-request") {
					// AWS's fixture does not list its routeKey among its
					// identity sources: a simple response would be
					// re-used for every route, so none is given (500).
					if err == nil || err.Error() == "Unauthorized" {
						t.Fatalf("Invoke = %s, %v; want a 500-class error", out, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				var r apigw.IAMResponse
				if err := json.Unmarshal(out, &r); err != nil {
					t.Fatal(err)
				}
				if err := r.PolicyDocument.Validate(); err != nil {
					t.Fatalf("policy invalid: %v", err)
				}
				var ev apigw.Event
				_ = json.Unmarshal(eventWith(t, fx, tc.credential), &ev)
				// The fixture's own route is not under /v1, so it must not be
				// allowed; a /v1 route of the same API and stage must be.
				arn, _ := policy.ParseMethodARN(ev.MethodArn)
				arn.Method, arn.Path = "POST", "v1/chat/completions"
				if got := r.PolicyDocument.Evaluate(arn.String()); got != policy.Allow {
					t.Fatalf("policy %s does not allow %s", out, arn)
				}
				if r.Context["tenant"] != "acme" || r.Context["models"] != `["gpt-4o*"]` || r.Context["rpm"] != float64(60) {
					t.Fatalf("context = %v", r.Context)
				}
			})
		}
	}
}

func TestHTTPAPIv2CanAnswerWithIAMPolicy(t *testing.T) {
	w := newWorld(t)
	out, err := w.iam.Invoke(context.Background(), eventWith(t, fixtures[3], w.valid))
	if err != nil {
		t.Fatal(err)
	}
	var r apigw.IAMResponse
	if err := json.Unmarshal(out, &r); err != nil || len(r.PolicyDocument.Statement) == 0 {
		t.Fatalf("IAM response = %s (%v)", out, err)
	}
	if got := r.PolicyDocument.Evaluate("arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/v1/models"); got != policy.Allow {
		t.Fatalf("v2 IAM policy does not allow a /v1 route: %s", out)
	}
}

// TestCachedPolicyCoversOtherRoutes is the caching pitfall: API Gateway
// re-applies the policy returned for the first route to every later route
// of the same API and stage within the TTL.
func TestCachedPolicyCoversOtherRoutes(t *testing.T) {
	w := newWorld(t)
	ev := `{"type":"TOKEN","authorizationToken":"Bearer ` + w.valid + `","methodArn":"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/POST/v1/chat/completions"}`
	out, err := w.handler.Invoke(context.Background(), []byte(ev))
	if err != nil {
		t.Fatal(err)
	}
	var r apigw.IAMResponse
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	for arn, want := range map[string]policy.Result{
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/POST/v1/chat/completions": policy.Allow,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/GET/v1/models":            policy.Allow,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/POST/v1/embeddings":       policy.Allow,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/GET/v1/models/gpt-4o":     policy.Allow,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/staging/GET/v1/models":         policy.ImplicitDeny,
		"arn:aws:execute-api:eu-west-1:111122223333:other1/prod/GET/v1/models":            policy.ImplicitDeny,
		"arn:aws:execute-api:eu-west-1:444455556666:api123/prod/GET/v1/models":            policy.ImplicitDeny,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/GET/admin":                policy.ImplicitDeny,
		// IAM's '*' spans '/': "*/v1/*" granted these.
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/GET/admin/v1/users":             policy.ImplicitDeny,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/POST/admin/v1/chat/completions": policy.ImplicitDeny,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/DELETE/v1/models/gpt-4o":        policy.ImplicitDeny,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/POST/v1/files":                  policy.ImplicitDeny,
		// The AI API's other routes, model ids with '/' included.
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/GET/v1/models/meta-llama/Llama-3-8B": policy.Allow,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/POST/v1/responses":                   policy.Allow,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/GET/v1/responses/resp_1":             policy.Allow,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/POST/v1/messages":                    policy.Allow,
		"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/POST/v1/messages/count_tokens":       policy.Allow,
	} {
		if got := r.PolicyDocument.Evaluate(arn); got != want {
			t.Errorf("Evaluate(%s) = %v, want %v", arn, got, want)
		}
	}
}

func TestDenyCoversTheWholeStage(t *testing.T) {
	d := authz.Decision{Outcome: authz.Deny, Principal: &record.Principal{ID: "k"}}
	arn, _ := policy.ParseMethodARN("arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/v1/models")
	doc := apigw.PolicyFor(d, arn)
	if got := doc.Evaluate("arn:aws:execute-api:us-east-1:123456789012:api/prod/POST/v1/chat/completions"); got != policy.ExplicitDeny {
		t.Fatalf("Evaluate = %v, want ExplicitDeny", got)
	}
}

type failingDecider struct{}

func (failingDecider) Decide(context.Context, string) (authz.Decision, error) {
	return authz.Decision{}, errors.New("dial tcp 127.0.0.1:8000: connection refused")
}

func TestStoreOutageIsNotUnauthorized(t *testing.T) {
	h := &apigw.Handler{Decider: failingDecider{}}
	_, err := h.Invoke(context.Background(), []byte(`{"type":"TOKEN","authorizationToken":"Bearer x","methodArn":"arn:aws:execute-api:us-east-1:1:a/s/GET/"}`))
	if err == nil || err.Error() == "Unauthorized" {
		t.Fatalf("err = %v, want a non-Unauthorized error (API Gateway 500)", err)
	}
}

func TestMalformedEventsAreErrors(t *testing.T) {
	w := newWorld(t)
	for _, ev := range []string{
		``, `null`, `[]`, `{}`, `{"type":"TOKEN"}`, `{"type":"REQUEST"}`, `{"version":"2.0","type":"REQUEST"}`,
		`{"type":"OTHER","methodArn":"x"}`,
		`{"type":"TOKEN","authorizationToken":"Bearer ` + w.valid + `","methodArn":"not-an-arn"}`,
	} {
		if out, err := w.handler.Invoke(context.Background(), []byte(ev)); err == nil || err.Error() == "Unauthorized" {
			t.Errorf("Invoke(%q) = %s, %v; want a 500-class error", ev, out, err)
		}
	}
}

func TestCredentialSources(t *testing.T) {
	tests := []struct {
		name, event, want string
	}{
		{"token bearer", `{"type":"TOKEN","authorizationToken":"Bearer abc","methodArn":"m"}`, "abc"},
		{"token bearer lowercase scheme", `{"type":"TOKEN","authorizationToken":"bearer  abc ","methodArn":"m"}`, "abc"},
		{"token raw", `{"type":"TOKEN","authorizationToken":"abc","methodArn":"m"}`, "abc"},
		{"request authorization any case", `{"type":"REQUEST","methodArn":"m","headers":{"AUTHORIZATION":"Bearer abc"}}`, "abc"},
		{"request x-api-key", `{"type":"REQUEST","methodArn":"m","headers":{"X-Api-Key":"abc"}}`, "abc"},
		{"authorization wins over x-api-key", `{"type":"REQUEST","methodArn":"m","headers":{"authorization":"Bearer abc","x-api-key":"def"}}`, "abc"},
		{"authorization wins over a different x-api-key in any case", `{"type":"REQUEST","methodArn":"m","headers":{"X-API-KEY":"def","Authorization":"Bearer abc"}}`, "abc"},
		{"blank authorization falls back to x-api-key", `{"type":"REQUEST","methodArn":"m","headers":{"Authorization":" ","x-api-key":" abc "}}`, "abc"},
		{"x-api-key keeps a bearer scheme", `{"type":"REQUEST","methodArn":"m","headers":{"x-api-key":"Bearer abc"}}`, "Bearer abc"},
		{"token ignores x-api-key", `{"type":"TOKEN","authorizationToken":"abc","methodArn":"m","headers":{"x-api-key":"def"}}`, "abc"},
		{"v2 header", `{"version":"2.0","type":"REQUEST","routeArn":"r","headers":{"authorization":"Bearer abc"}}`, "abc"},
		{"v2 x-api-key", `{"version":"2.0","type":"REQUEST","routeArn":"r","headers":{"x-api-key":"abc"}}`, "abc"},
		{"v1.0 x-api-key", `{"version":"1.0","type":"REQUEST","methodArn":"m","headers":{"X-Api-Key":"abc"}}`, "abc"},
		{"none", `{"type":"REQUEST","methodArn":"m","headers":{}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := apigw.ParseEvent([]byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if got := ev.Credential(); got != tt.want {
				t.Fatalf("Credential() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestXAPIKeyIsACredential: Anthropic's clients send their key as x-api-key
// (any case in REST REQUEST events, lowercase in HTTP API 2.0 ones); it is
// decided like a bearer token, and when Authorization is there too, only
// Authorization counts.
func TestXAPIKeyIsACredential(t *testing.T) {
	w := newWorld(t)
	for _, fx := range fixtures[1:] { // the REQUEST-type events
		for _, tc := range []struct {
			name    string
			headers map[string]string
			allow   bool
		}{
			{"valid key in x-api-key", map[string]string{"x-api-key": w.valid}, true},
			{"valid key in X-API-KEY", map[string]string{"X-API-KEY": w.valid}, true},
			{"revoked key in x-api-key", map[string]string{"x-api-key": w.revoked}, false},
			{"malformed key in x-api-key", map[string]string{"x-api-key": w.malformed}, false},
			{"blank x-api-key", map[string]string{"x-api-key": "  "}, false},
			{"Authorization wins: revoked bearer, valid x-api-key", map[string]string{"authorization": "Bearer " + w.revoked, "x-api-key": w.valid}, false},
			{"Authorization wins: valid bearer, revoked x-api-key", map[string]string{"authorization": "Bearer " + w.valid, "x-api-key": w.revoked}, true},
		} {
			t.Run(fx+"/"+tc.name, func(t *testing.T) {
				b, err := os.ReadFile(filepath.Join("testdata", fx))
				if err != nil {
					t.Fatal(err)
				}
				var ev map[string]any
				if err := json.Unmarshal(b, &ev); err != nil {
					t.Fatal(err)
				}
				ev["headers"] = tc.headers
				payload, _ := json.Marshal(ev)
				// IAM answers: AWS's v2 fixture has no routeKey identity
				// source, so it would get no simple response.
				out, err := w.iam.Invoke(context.Background(), payload)
				if !tc.allow {
					if err == nil || err.Error() != "Unauthorized" {
						t.Fatalf("Invoke = %s, %v; want the error Unauthorized", out, err)
					}
					return
				}
				var r apigw.IAMResponse
				if err != nil || json.Unmarshal(out, &r) != nil || !strings.HasPrefix(r.PrincipalID, "key:") {
					t.Fatalf("Invoke = %s, %v; want an answer for the key", out, err)
				}
			})
		}
	}
}

func TestErrorPayloadMatchesLambdaRuntime(t *testing.T) {
	got := string(apigw.ErrorPayload(apigw.ErrUnauthorized))
	if want := `{"errorMessage":"Unauthorized","errorType":"errorString"}`; got != want {
		t.Fatalf("ErrorPayload = %s, want %s", got, want)
	}
}

type emptyStore struct{}

func (emptyStore) GetKey(context.Context, string) (*record.Key, error) {
	return nil, record.ErrNotFound
}

func FuzzInvoke(f *testing.F) {
	for _, fx := range fixtures {
		b, _ := os.ReadFile(filepath.Join("testdata", fx))
		f.Add(b)
	}
	f.Add([]byte(`{"type":"TOKEN","authorizationToken":"Bearer aig_x","methodArn":"arn:aws:execute-api:us-east-1:1:a/s/GET/"}`))
	hk, _ := apikey.NewHashKey()
	hasher, _ := apikey.NewHasher(hk)
	az, err := authz.New(authz.Config{Keys: emptyStore{}, Hasher: hasher})
	if err != nil {
		f.Fatal(err)
	}
	h := &apigw.Handler{Decider: az, Logger: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, payload []byte) {
		// With no keys in the store, no event whatsoever may be answered.
		if out, err := h.Invoke(context.Background(), payload); err == nil {
			t.Fatalf("an empty store produced an answer: %s", out)
		}
	})
}

// TestAllowLogLevelQuietsOnlyAllows: behind a gateway that logs every
// decision itself, an Allow's line moves to AllowLogLevel; a refusal is
// still logged with its reason.
func TestAllowLogLevelQuietsOnlyAllows(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name       string
		allowLevel slog.Level
		credential string
		want       string // the decision line's outcome; "" for no line
	}{
		{"Allow at the default level", 0, w.valid, "allow"},
		{"Allow at Debug", slog.LevelDebug, w.valid, ""},
		{"refusal with Allow at Debug", slog.LevelDebug, w.revoked, "unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf strings.Builder
			h := *w.handler
			h.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
			h.AllowLogLevel = tc.allowLevel
			ev := `{"type":"TOKEN","authorizationToken":"Bearer ` + tc.credential + `","methodArn":"arn:aws:execute-api:eu-west-1:111122223333:api123/prod/GET/v1/models"}`
			h.Invoke(context.Background(), []byte(ev))
			var line struct{ Msg, Outcome, Reason string }
			if buf.Len() > 0 {
				if err := json.Unmarshal([]byte(buf.String()), &line); err != nil {
					t.Fatalf("log %q: %v", buf.String(), err)
				}
			}
			if line.Outcome != tc.want || (tc.want != "" && line.Msg != "authorizer: decision") {
				t.Errorf("log %q, want a decision line with outcome %q", buf.String(), tc.want)
			}
			if tc.want == "unauthorized" && line.Reason == "" {
				t.Errorf("refusal logged without its reason: %q", buf.String())
			}
		})
	}
}
