package e2e_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/builtin"
	"github.com/aigate/aigate/apigw"
	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/gateway"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/server"
	"github.com/aigate/aigate/store/sqlite"
)

// clock is the AI API's clock in tests: real time plus an offset that a
// test moves forward, so that "a second later" needs no sleeping.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// stack is the whole request path on 127.0.0.1: the local gateway (REST API,
// REQUEST authorizer with API Gateway's 300 s result cache) running the real
// authorizer over a real SQLite store, in front of the AI API.
type stack struct {
	URL    string
	Store  *sqlite.Store
	Keys   *keys.Manager
	Server *aiapi.Server
	Clock  *clock
}

// newStack starts a stack; cfg's Ledger, Keys, Tenants, Logger and Now are filled in.
func newStack(t testing.TB, cfg aiapi.Config) *stack {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hasher, err := apikey.NewHasher([]byte(rand.Text() + rand.Text()))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	az, err := apigw.NewHandler(authz.Config{Keys: st, Hasher: hasher, Actor: "test", Logger: quiet}, false)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{Store: st, Keys: &keys.Manager{Store: st, Hasher: hasher, Actor: "test"}, Clock: &clock{}}
	// The AI API's time starts 5 s into a minute: a test has 55 s before
	// its minute (and day) windows roll over under it.
	now := time.Now()
	s.Clock.Advance(now.Truncate(time.Minute).Add(time.Minute + 5*time.Second).Sub(now))
	cfg.Ledger, cfg.Keys, cfg.Tenants, cfg.Now = st, st, st, s.Clock.Now
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
	if s.Server, err = aiapi.New(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	ttl := 300
	gw, err := gateway.New(t.Context(), &gateway.Config{APIs: []gateway.API{{
		Name: "aigate", Type: "REST", Stage: "local",
		Authorizers: map[string]gateway.Authorizer{"aigate": {
			Type:                         "REQUEST",
			LambdaFunction:               gateway.LambdaFunction{Function: "aigate-authorizer"},
			IdentitySource:               "method.request.header.Authorization",
			AuthorizerResultTTLInSeconds: &ttl,
		}},
		Routes: []gateway.Route{{
			Route: "ANY /v1/{proxy+}", Authorizer: "aigate",
			Integration: gateway.Integration{Type: gateway.IntegrationHandler, Handler: "aiapi"},
		}},
	}}}, gateway.Options{
		Functions:           map[string]gateway.Invoker{"aigate-authorizer": az},
		FunctionConcurrency: 64, // apigw.Handler returns output it owns
		Handlers:            map[string]http.Handler{"aiapi": server.FromGateway(s.Server)},
		Logger:              quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// key issues an API key and returns its id and secret.
func (s *stack) key(t testing.TB, spec keys.Spec) (id, secret string) {
	t.Helper()
	if spec.Name == "" {
		spec.Name = t.Name()
	}
	if spec.Models == nil {
		spec.Models = []string{"*"}
	}
	k, err := s.Keys.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return k.Key.ID, k.Secret
}

// client is the official OpenAI SDK pointed at the stack. It never retries:
// a test sees every answer.
func (s *stack) client(secret string, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(s.URL + "/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0),
	}, opts...)...)
}

func (s *stack) ledger(t testing.TB, q quota.Query) []quota.Entry {
	t.Helper()
	es, err := s.Store.Usage(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// pending counts (and releases) the reservations still pending: after a
// request has been answered there must be none.
func (s *stack) pending(t testing.TB) int {
	t.Helper()
	n, err := s.Store.ExpireReservations(context.Background(), time.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func chatParams(model, text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
	}
}
