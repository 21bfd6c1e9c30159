// Command aigate is the CLI: the local gateway (serve), key management
// (keys), and a local run of the authorizer Lambda (authorize).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `usage: aigate <command> [flags]

commands:
  serve       run the local API Gateway with the authorizer and the AI API
  keys        create, list, show, revoke and rotate API keys
  tenants     set, list and show tenants' limits (USD, tokens, requests)
  authorize   run the authorizer on one event, as the Lambda would
  token       issue a JWT from the local development issuer
  usage       report usage and cost per key, tenant, model or day
  store       create the DynamoDB tables (store init)
  version     print the version

Every command takes, before or after it, --data DIR (env AIGATE_DATA, default ./.aigate) and
--store URL (env AIGATE_STORE: sqlite:PATH or dynamodb://PREFIX?region=R&endpoint=URL).
Run 'aigate <command> -h' for its flags.
`

// exitError carries a process exit code: 2 for bad flags or input, 1 for
// failures while doing the work.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && !errors.Is(ee.err, errSilent) {
			fmt.Fprintln(stderr, "aigate:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "aigate:", err)
	return 1
}

// globalFlags takes --data and --store (with "=" or a separate value, one
// or two dashes) from before the command, so that "aigate --data DIR keys
// list" works like "aigate keys list --data DIR".
func globalFlags(args []string) (global, rest []string) {
	for len(args) > 0 {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if !strings.HasPrefix(args[0], "-") || (name != "data" && name != "store") {
			break
		}
		if hasValue || len(args) == 1 {
			global, args = append(global, args[0]), args[1:]
			continue
		}
		global, args = append(global, args[0], args[1]), args[2:]
	}
	return global, args
}

// errSilent marks an exit whose message was already written.
var errSilent = errors.New("silent")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, err: errSilent}
	}
	global, args := globalFlags(args)
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, err: errSilent}
	}
	// Every command's flag set takes --data and --store anywhere after
	// the command: global flags given before it go after it.
	cmd, rest := args[0], append(args[1:len(args):len(args)], global...)
	switch cmd {
	case "keys":
		return runKeys(ctx, rest, stdout, stderr)
	case "tenants":
		return runTenants(ctx, rest, stdout, stderr)
	case "authorize":
		return runAuthorize(ctx, rest, stdin, stdout, stderr)
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "usage":
		return runUsage(ctx, rest, stdout, stderr)
	case "token":
		return runToken(ctx, rest, stdout, stderr)
	case "store":
		return runStore(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "aigate", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageErr("unknown command %q", cmd)
	}
}
