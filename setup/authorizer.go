package setup

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aigate/aigate/apigw"
	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/duration"
)

// Environment variables that shape the authorizer.
const (
	// EnvRoutes: comma-separated route patterns ("VERB/path", IAM
	// wildcards, {model} expands per model) granted to allowed principals.
	EnvRoutes = "AIGATE_ROUTES"
	// EnvKeyCacheTTL: how long a looked-up key is kept in memory (Go
	// duration). It adds to the time a revocation takes to be seen.
	EnvKeyCacheTTL = "AIGATE_KEY_CACHE_TTL"
	// EnvHTTPAPIResponse: "simple" (default) or "iam", the answer to
	// HTTP API 2.0 events.
	EnvHTTPAPIResponse = "AIGATE_HTTP_API_RESPONSE"
)

// AuthorizerSettings configure the decision and its wire format.
type AuthorizerSettings struct {
	Routes        []string
	KeyCacheTTL   time.Duration
	IAMForHTTPAPI bool
	// AllowLogLevel is apigw.Handler.AllowLogLevel: zero (Info) for the
	// Lambda, Debug behind a gateway that logs each decision itself.
	AllowLogLevel slog.Level
}

// AuthorizerFromEnv reads AuthorizerSettings; defaultTTL applies when
// AIGATE_KEY_CACHE_TTL is unset.
func AuthorizerFromEnv(defaultTTL time.Duration) (AuthorizerSettings, error) {
	a := AuthorizerSettings{KeyCacheTTL: defaultTTL}
	if v := os.Getenv(EnvRoutes); v != "" {
		for _, r := range strings.Split(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				a.Routes = append(a.Routes, r)
			}
		}
	}
	if v := os.Getenv(EnvKeyCacheTTL); v != "" {
		d, err := duration.Parse(v)
		if err != nil {
			return a, fmt.Errorf("setup: %s: %w", EnvKeyCacheTTL, err)
		}
		if err := d.NonNegative("setup: " + EnvKeyCacheTTL); err != nil {
			return a, err
		}
		a.KeyCacheTTL = d.Std()
	}
	switch v := os.Getenv(EnvHTTPAPIResponse); v {
	case "", "simple":
	case "iam":
		a.IAMForHTTPAPI = true
	default:
		return a, fmt.Errorf("setup: %s=%q, want simple or iam", EnvHTTPAPIResponse, v)
	}
	return a, nil
}

// NewAuthorizerHandler builds the authorizer Lambda handler over a key
// store: the same object runs on AWS, under the Lambda emulator, and in
// process in the local gateway.
func NewAuthorizerHandler(keys authz.KeyStore, hasher *apikey.Hasher, tokens authz.TokenVerifier, a AuthorizerSettings, actor string, logger *slog.Logger) (*apigw.Handler, error) {
	az, err := authz.New(authz.Config{
		Keys:     keys,
		Hasher:   hasher,
		Tokens:   tokens,
		Routes:   a.Routes,
		CacheTTL: a.KeyCacheTTL,
		Actor:    actor,
		Logger:   logger,
	})
	if err != nil {
		return nil, err
	}
	return &apigw.Handler{Decider: az, IAMForHTTPAPI: a.IAMForHTTPAPI, Logger: logger, AllowLogLevel: a.AllowLogLevel}, nil
}
