package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aigate/aigate/setup"
	"github.com/aigate/aigate/store/dynamodb"
)

const storeUsage = `usage: aigate store init [--store URL] [--data DIR]

  init   make the store ready, idempotently: for dynamodb://, create the
         tables that are missing and wait until they are ACTIVE (meant for a
         local endpoint such as dynalite: on AWS the Pulumi program creates
         them); for SQLite, create and migrate the database
`

func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, storeUsage)
		return &exitError{code: 2, err: errSilent}
	}
	switch args[0] {
	case "init":
		return storeInit(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, storeUsage)
		return nil
	default:
		fmt.Fprint(stderr, storeUsage)
		return usageErr("unknown store command %q", args[0])
	}
}

// tableCreator is a store with tables to create (store/dynamodb).
type tableCreator interface {
	CreateTables(ctx context.Context) ([]dynamodb.TableStatus, error)
}

func storeInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s setup.Settings
	fs := newFlagSet("store init", stderr, &s)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("store init takes no arguments, got %q", pos[0])
	}
	// Opening the SQLite store creates and migrates it; that is its init.
	st, err := setup.OpenStore(ctx, s)
	if err != nil {
		return err
	}
	defer st.Close()
	tc, ok := st.(tableCreator)
	if !ok {
		fmt.Fprintln(stdout, "store ready")
		return nil
	}
	tables, err := tc.CreateTables(ctx)
	for _, t := range tables {
		what := "exists "
		if t.Created {
			what = "created"
		}
		fmt.Fprintf(stdout, "%s  %s  ACTIVE\n", what, t.Name)
		if t.TTL != "" {
			fmt.Fprintf(stdout, "         %s  TTL %s\n", t.Name, t.TTL)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "store ready")
	return nil
}
