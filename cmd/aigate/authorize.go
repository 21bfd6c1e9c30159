package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aigate/aigate/apigw"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/cmd/internal/env"
)

// runAuthorize runs the authorizer Lambda's handler on one event and prints
// what the Lambda would return: its output (exit 0), or its error in the
// Lambda runtime's shape (exit 1).
func runAuthorize(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("authorize", stderr, &s)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: aigate authorize [--data DIR] [FILE|-]")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageErr("authorize takes one event file (or - for stdin)")
	}
	var event []byte
	if len(pos) == 0 || pos[0] == "-" {
		event, err = io.ReadAll(stdin)
	} else {
		event, err = os.ReadFile(pos[0])
	}
	if err != nil {
		return usageErr("read event: %v", err)
	}
	a, err := env.ReadAuthorizer(0)
	if err != nil {
		return usageErr("%v", err)
	}
	hasher, err := s.Hasher()
	if err != nil {
		return err
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// Decision logs go to stderr so that stdout is exactly the Lambda's answer.
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tokens, err := env.TokenVerifier(ctx, logger)
	if err != nil {
		return usageErr("%v", err)
	}
	h, err := apigw.NewHandler(authz.Config{
		Keys:     st,
		Hasher:   hasher,
		Tokens:   tokens,
		Routes:   a.Routes,
		CacheTTL: a.KeyCacheTTL,
		Actor:    "aigate authorize",
		Logger:   logger,
	}, a.IAMForHTTPAPI)
	if err != nil {
		return err
	}
	out, err := h.Invoke(ctx, event)
	if err != nil {
		fmt.Fprintf(stdout, "%s\n", apigw.ErrorPayload(err))
		return &exitError{code: 1, err: errSilent}
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return nil
}
