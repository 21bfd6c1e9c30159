// Command authorizer is the API Gateway Lambda authorizer. Build it for
// provided.al2023 with
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -ldflags "-s -w" -o bootstrap ./cmd/authorizer
//
// It is configured by environment variables (README, "Configuration").
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aigate/aigate/apigw"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/cmd/internal/env"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := newHandler(context.Background(), logger)
	if err != nil {
		logger.Error("authorizer: start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

func newHandler(ctx context.Context, logger *slog.Logger) (lambda.Handler, error) {
	// Without the hashing secret no key can be checked; on AWS the working
	// directory is read-only, so say what is missing instead of failing to
	// create a hash.key there.
	if os.Getenv(env.HashKey) == "" && os.Getenv(env.Data) == "" {
		return nil, errors.New("authorizer: set AIGATE_HASH_KEY (the secret keys were hashed with), or AIGATE_DATA for a local run")
	}
	s := env.Read()
	// A warm Lambda keeps keys for 5 s by default: a revocation reaches it
	// within that, on top of API Gateway's own authorizer cache.
	a, err := env.ReadAuthorizer(5 * time.Second)
	if err != nil {
		return nil, err
	}
	hasher, err := s.Hasher()
	if err != nil {
		return nil, err
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		return nil, err
	}
	tokens, err := env.TokenVerifier(ctx, logger)
	if err != nil {
		return nil, err
	}
	return apigw.NewHandler(authz.Config{
		Keys:     st,
		Hasher:   hasher,
		Tokens:   tokens,
		Routes:   a.Routes,
		CacheTTL: a.KeyCacheTTL,
		Actor:    "authorizer",
		Logger:   logger,
	}, a.IAMForHTTPAPI)
}
