package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aigate/aigate/cmd/internal/env"
	"github.com/aigate/aigate/jwtauth/devissuer"
	"github.com/aigate/aigate/server"
)

// runToken issues a JWT from the local development issuer, which `aigate
// serve` trusts (unless its config turns the dev issuer off). Only the
// token is printed, so that TOKEN=$(aigate token --sub alice) works.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("token", stderr, &s)
	sub := fs.String("sub", "", "the subject (principal id), required")
	name := fs.String("name", "", "display name")
	tenant := fs.String("tenant", "", "tenant claim")
	models := fs.String("models", "*", "comma-separated model globs")
	plan := fs.String("plan", "", "plan (named limits from the serve config's jwt.plans)")
	ttlFlag := fs.String("ttl", "1h", "lifetime (90m, 1h, 7d)")
	addr := fs.String("addr", os.Getenv("AIGATE_ADDR"), "the address aigate serve listens on: it names the issuer (env AIGATE_ADDR; default: where serve last listened with this --data, else 127.0.0.1:8080)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("token takes no arguments, got %q", pos[0])
	}
	if *sub == "" {
		return usageErr("token: --sub is required")
	}
	ttl, err := parseDuration(*ttlFlag)
	if err != nil || ttl <= 0 {
		return usageErr("--ttl: %q is not a positive duration", *ttlFlag)
	}
	if *addr == "" {
		*addr = cmp.Or(readServeAddr(s.DataDir), "127.0.0.1:8080")
	}
	iss, err := devissuer.LoadOrCreate(s.DataDir, server.IssuerURLFor(*addr))
	if err != nil {
		return err
	}
	tok, err := iss.Issue(devissuer.Claims{Subject: *sub, Name: *name, Tenant: *tenant, Models: splitList(*models), Plan: *plan, TTL: ttl})
	if err != nil {
		return usageErr("%v", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
