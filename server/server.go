// Package server assembles `aigate serve`: the local API Gateway in front of
// the in-process authorizer (the very handler the Lambda runs) and the AI
// API, the development OIDC issuer, over one store. It owns the config
// file's top-level shape and the wiring; each part's behaviour belongs to
// its own package.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/builtin"
	"github.com/aigate/aigate/apigw"
	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/console"
	"github.com/aigate/aigate/gateway"
	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/devissuer"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/storeurl"
)

// Options are what a Server needs besides its Config.
type Options struct {
	// Config is the configuration. Nil: DefaultConfig().
	Config *Config
	// DataDir holds the embedded store (aigate.db) and, unless HashKey is
	// set, the key-hashing secret (apikey.HashKeyFile, created on first
	// use).
	DataDir string
	// StoreURL selects the store (storeurl.Config.URL). Empty: SQLite in
	// DataDir.
	StoreURL string
	// HashKey is the key-hashing secret, hex or base64
	// (apikey.HasherConfig.Secret). Empty: read or create it in DataDir.
	HashKey string
	// OpenAI is the AI API's catch-all upstream (aiapi.Config.WithOpenAI).
	// Zero: none.
	OpenAI aiapi.OpenAIUpstream
	// IssuerURL is the development issuer's "iss", normally
	// "http://" + the listen address. Required when the dev issuer is on.
	IssuerURL string
	// Logger receives the gateway's request lines and the authorizer's
	// decisions. Nil: slog.Default().
	Logger *slog.Logger
	// Metrics registers Prometheus metrics. Nil: none.
	Metrics prometheus.Registerer
	// LookupSecret resolves the variables the AI API's providers name in
	// apiKeyEnv (aiapi.Config.LookupSecret); `aigate serve` passes
	// os.LookupEnv. Nil: a provider with an apiKeyEnv is an error.
	LookupSecret func(name string) (string, bool)
	// Functions are in-process Lambda functions that the config may name
	// beside the built-in ones, for programs that embed aigate. Each must
	// be safe for concurrent use (see gateway.Options.FunctionConcurrency).
	Functions map[string]gateway.Invoker
	// Handlers are in-process http.Handlers that the config's HANDLER
	// integrations may name beside the built-in AI API, for programs that
	// embed aigate (gateway.AuthorizerFromContext gives them the
	// authorizer's output).
	Handlers map[string]http.Handler
}

// Server is the assembled local deployment. It is an http.Handler.
type Server struct {
	aiapi   *aiapi.Server
	store   store.Store
	hasher  *apikey.Hasher
	gateway *gateway.Gateway
	issuer  *devissuer.Issuer
	handler http.Handler
}

// New opens the store and builds the gateway with its functions.
func New(ctx context.Context, opts Options) (_ *Server, err error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = DefaultConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.hasher, err = apikey.LoadHasher(apikey.HasherConfig{Secret: opts.HashKey, Dir: opts.DataDir}); err != nil {
		return nil, err
	}
	if s.store, err = storeurl.Open(ctx, storeurl.Config{URL: opts.StoreURL, DataDir: opts.DataDir, Owner: true}); err != nil {
		return nil, err
	}
	tokens, err := s.tokenVerifier(ctx, cfg, opts, logger)
	if err != nil {
		return nil, err
	}
	// The gateway's line for each request records the authorizer's
	// decision (outcome, principal, latency): an Allow's own line would say
	// it again, at every request. Refusals keep theirs, with the reason.
	az, err := apigw.NewHandler(authz.Config{
		Keys:     s.store,
		Hasher:   s.hasher,
		Tokens:   tokens,
		Routes:   cfg.Authorizer.Routes,
		CacheTTL: cfg.Authorizer.keyCacheTTL(s.store),
		Actor:    "aigate serve",
		Logger:   logger,
	}, false)
	if err == nil {
		az.AllowLogLevel = slog.LevelDebug
	}
	if err != nil {
		return nil, err
	}
	ac := aiapi.DefaultConfig()
	if cfg.AIAPI != nil {
		ac = *cfg.AIAPI
	}
	ac = ac.WithOpenAI(opts.OpenAI)
	ac.Ledger, ac.Keys, ac.Tenants, ac.Logger, ac.Metrics = s.store, s.store, s.store, logger, opts.Metrics
	ac.Registry, ac.LookupSecret = builtin.Registry(), opts.LookupSecret
	prices, err := cfg.Pricing.Entries() // checked by Validate
	if err != nil {
		return nil, err
	}
	ac.Pricing = pricing.NewTable(prices)
	if s.aiapi, err = aiapi.New(ctx, ac); err != nil {
		return nil, err
	}
	functions := map[string]gateway.Invoker{FunctionAuthorizer: eventAuthorizer{az}}
	for name, fn := range opts.Functions {
		if _, builtin := functions[name]; builtin {
			return nil, fmt.Errorf("server: function %q is built in", name)
		}
		functions[name] = fn
	}
	handlers := map[string]http.Handler{HandlerAIAPI: FromGateway(s.aiapi)}
	for name, h := range opts.Handlers {
		if _, builtin := handlers[name]; builtin {
			return nil, fmt.Errorf("server: handler %q is built in", name)
		}
		handlers[name] = h
	}
	s.gateway, err = gateway.New(ctx, &gateway.Config{APIs: cfg.APIs}, gateway.Options{
		Functions: functions,
		Handlers:  handlers,
		// apigw.Handler builds a fresh answer per call, so unlike
		// lambda.NewHandler it may run concurrently.
		FunctionConcurrency: 256,
		Logger:              logger,
		Metrics:             opts.Metrics,
	})
	if err != nil {
		return nil, err
	}
	// The console sits beside the gateway, not behind it: no gateway route
	// or authorizer decision reaches it, and it authenticates admin keys
	// itself.
	cons, err := console.New(&console.Console{Store: s.store, Hasher: s.hasher, Logger: logger})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	if s.issuer != nil {
		mux.Handle("GET /.well-known/", s.issuer.Handler())
	}
	mux.Handle("/console/", cons)
	mux.Handle("/", s.gateway)
	s.handler = mux
	return s, nil
}

// tokenVerifier trusts the configured issuers and, when enabled, the
// development issuer (with its keys in hand: no network call).
func (s *Server) tokenVerifier(ctx context.Context, cfg *Config, opts Options, logger *slog.Logger) (authz.TokenVerifier, error) {
	var jc jwtauth.Config
	if cfg.JWT != nil {
		jc = *cfg.JWT
		jc.Issuers = append([]jwtauth.IssuerConfig(nil), cfg.JWT.Issuers...)
	}
	if cfg.devIssuer() {
		if opts.IssuerURL == "" {
			return nil, errors.New("server: the development issuer needs an issuer URL")
		}
		iss, err := devissuer.LoadOrCreate(opts.DataDir, opts.IssuerURL)
		if err != nil {
			return nil, err
		}
		s.issuer = iss
		jc.Issuers = append(jc.Issuers, iss.Config())
	}
	if len(jc.Issuers) == 0 {
		return nil, nil
	}
	jc.Logger = logger
	v, err := jwtauth.New(ctx, jc)
	if err != nil {
		return nil, fmt.Errorf("server: jwt: %w", err)
	}
	return v, nil
}

// FromGateway hands an in-process integration (the AI API) what API
// Gateway hands a Lambda proxy integration: the authorizer's context,
// stringified, with its principalId (see aiapi.WithAuthorizerContext).
func FromGateway(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := gateway.AuthorizerFromContext(r.Context()); ok {
			m := maps.Clone(a.Context)
			if m == nil {
				m = map[string]string{}
			}
			if a.PrincipalID != "" {
				m["principalId"] = a.PrincipalID
			}
			r = r.WithContext(aiapi.WithAuthorizerContext(r.Context(), m))
		}
		next.ServeHTTP(w, r)
	})
}

// Run does the server's background work until ctx ends: releasing the
// reservations of requests whose process died (at start, then
// periodically).
func (s *Server) Run(ctx context.Context) error { return s.aiapi.Run(ctx) }

// ServeHTTP serves the gateway (and the dev issuer's discovery documents).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Store is the server's store, for callers that manage keys beside it.
func (s *Server) Store() store.Store { return s.store }

// EnsureKey creates a first API key when the store has none, so that a new
// user has something to call with. It returns nil when keys exist.
func (s *Server) EnsureKey(ctx context.Context) (*keys.Issued, error) {
	list, err := s.store.ListKeys(ctx, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	if len(list) > 0 {
		return nil, nil
	}
	m := &keys.Manager{Store: s.store, Hasher: s.hasher, Actor: "aigate serve"}
	return m.Create(ctx, keys.Spec{Name: "first key", Models: []string{"*"}})
}

// Close stops emulator pools and closes the store.
func (s *Server) Close() error {
	var errs []error
	if s.gateway != nil {
		errs = append(errs, s.gateway.Close())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}

// IssuerURLFor is the development issuer URL for a listen address; an
// unspecified host becomes 127.0.0.1.
func IssuerURLFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
