package env

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/jwtauth"
)

// JWTConfig holds the JSON of a jwtauth.Config: the OIDC issuers whose
// tokens the authorizer accepts beside API keys. Unset: API keys only. Put
// the issuer's JWKS in staticJwks to verify the first token of a cold
// Lambda without a network call.
const JWTConfig = "AIGATE_JWT_CONFIG"

// TokenVerifier builds the JWT verifier AIGATE_JWT_CONFIG describes, or
// returns nil when it is unset. It makes no network call.
func TokenVerifier(ctx context.Context, logger *slog.Logger) (authz.TokenVerifier, error) {
	raw := os.Getenv(JWTConfig)
	if raw == "" {
		return nil, nil
	}
	var cfg jwtauth.Config
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("env: %s: %w", JWTConfig, err)
	}
	cfg.Logger = logger
	v, err := jwtauth.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("env: %s: %w", JWTConfig, err)
	}
	return v, nil
}
