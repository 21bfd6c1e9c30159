// Command aiapi is the AI API Lambda (API Gateway proxy integration, REST or
// HTTP API). Build it for provided.al2023 with
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -ldflags "-s -w" -o bootstrap ./cmd/aiapi
//
// It reads the store settings like the authorizer (AIGATE_STORE, …), the AI
// API configuration (configFromEnv), and AIGATE_RESPONSE_STREAMING
// ("on", the default, or "off"), which must match the REST integration (see
// package aiapi, "Streaming on AWS").
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/lambdaproxy"
	"github.com/aigate/aigate/aiapi/provider/builtin"
	"github.com/aigate/aigate/cmd/internal/env"
)

// EnvResponseStreaming turns REST API response streaming on or off.
const EnvResponseStreaming = "AIGATE_RESPONSE_STREAMING"

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	ctx := context.Background()
	h, srv, err := newHandler(ctx, logger)
	if err != nil {
		logger.Error("aiapi: start", "error", err)
		os.Exit(1)
	}
	// Reservations left by a function instance that died are released at
	// start and then while this instance lives (a frozen instance catches
	// up when it thaws).
	go srv.Run(ctx)
	lambda.Start(h.Invoke)
}

func newHandler(ctx context.Context, logger *slog.Logger) (*lambdaproxy.Handler, *aiapi.Server, error) {
	streaming := true
	switch v := os.Getenv(EnvResponseStreaming); v {
	case "", "on", "true", "1":
	case "off", "false", "0":
		streaming = false
	default:
		return nil, nil, fmt.Errorf("aiapi: %s=%q, want on or off", EnvResponseStreaming, v)
	}
	settings := env.Read()
	cfg, err := configFromEnv(aiapi.OpenAIUpstream(settings.OpenAI))
	if err != nil {
		return nil, nil, err
	}
	st, err := settings.OpenStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg.Ledger, cfg.Keys, cfg.Tenants, cfg.Logger = st, st, st, logger
	cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
	srv, err := aiapi.New(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return &lambdaproxy.Handler{Handler: srv, Streaming: streaming}, srv, nil
}
