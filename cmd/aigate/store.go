package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aigate/aigate/cmd/internal/env"
	"github.com/aigate/aigate/store/dynamodb"
)

const storeUsage = `usage: aigate store init|migrate [--store URL] [--data DIR]

  init     make the store ready, idempotently: for dynamodb://, create the
           tables that are missing and wait until they are ACTIVE (meant for
           a local endpoint such as dynalite: on AWS the Pulumi program
           creates them); for SQLite, create and migrate the database
  migrate  bring stored data up to this version, idempotently: for
           dynamodb://, give principal ids stored before they had a kind
           theirs (key:ID, or jwt:#SUBJECT for a JWT subject); run it once
           the new version is deployed. SQLite migrates when opened.
`

func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, storeUsage)
		return &exitError{code: 2, err: errSilent}
	}
	switch args[0] {
	case "init":
		return storeInit(ctx, args[1:], stdout, stderr)
	case "migrate":
		return storeMigrate(ctx, args[1:], stdout, stderr)
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
	var s env.Settings
	fs := newFlagSet("store init", stderr, &s)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("store init takes no arguments, got %q", pos[0])
	}
	// Opening the SQLite store creates and migrates it; that is its init.
	st, err := s.OpenStore(ctx)
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

// principalMigrator is a store whose data needs migrating by a command
// (store/dynamodb); SQLite migrates when opened.
type principalMigrator interface {
	MigratePrincipalIDs(ctx context.Context) (dynamodb.PrincipalMigration, error)
}

func storeMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("store migrate", stderr, &s)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("store migrate takes no arguments, got %q", pos[0])
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	pm, ok := st.(principalMigrator)
	if !ok {
		fmt.Fprintln(stdout, "store migrated")
		return nil
	}
	m, err := pm.MigratePrincipalIDs(ctx)
	fmt.Fprintf(stdout, "principal ids: %d counters, %d reservations, %d ledger rows rewritten\n", m.Windows, m.Reservations, m.LedgerRows)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "store migrated")
	return nil
}
