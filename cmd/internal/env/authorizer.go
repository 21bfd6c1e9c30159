package env

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aigate/aigate/duration"
)

// Environment variables that shape the authorizer.
const (
	// Routes: comma-separated route patterns ("VERB/path", IAM wildcards,
	// {model} expands per model) granted to allowed principals.
	Routes = "AIGATE_ROUTES"
	// KeyCacheTTL: how long a looked-up key is kept in memory (Go
	// duration). It adds to the time a revocation takes to be seen.
	KeyCacheTTL = "AIGATE_KEY_CACHE_TTL"
	// HTTPAPIResponse: "simple" (default) or "iam", the answer to HTTP API
	// 2.0 events.
	HTTPAPIResponse = "AIGATE_HTTP_API_RESPONSE"
)

// Authorizer is what the environment says of the decision (authz.Config's
// Routes and CacheTTL) and its wire format (apigw.NewHandler's
// iamForHTTPAPI).
type Authorizer struct {
	Routes        []string
	KeyCacheTTL   time.Duration
	IAMForHTTPAPI bool
}

// ReadAuthorizer reads Authorizer; defaultTTL applies when
// AIGATE_KEY_CACHE_TTL is unset.
func ReadAuthorizer(defaultTTL time.Duration) (Authorizer, error) {
	a := Authorizer{KeyCacheTTL: defaultTTL}
	if v := os.Getenv(Routes); v != "" {
		for _, r := range strings.Split(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				a.Routes = append(a.Routes, r)
			}
		}
	}
	if v := os.Getenv(KeyCacheTTL); v != "" {
		d, err := duration.Parse(v)
		if err != nil {
			return a, fmt.Errorf("env: %s: %w", KeyCacheTTL, err)
		}
		if err := d.NonNegative("env: " + KeyCacheTTL); err != nil {
			return a, err
		}
		a.KeyCacheTTL = d.Std()
	}
	switch v := os.Getenv(HTTPAPIResponse); v {
	case "", "simple":
	case "iam":
		a.IAMForHTTPAPI = true
	default:
		return a, fmt.Errorf("env: %s=%q, want simple or iam", HTTPAPIResponse, v)
	}
	return a, nil
}
