// Package storeurl opens the store a URL names: SQLite in a data directory
// or at a path, or DynamoDB. It is the one place that knows every backend,
// so that the CLI, the local gateway and the Lambdas agree on where keys
// live; package store cannot be it, since its backends import it. It reads
// no environment: the URL comes from the caller.
package storeurl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/dynamodb"
)

// Config locates a store.
type Config struct {
	// URL selects the store: "" or "sqlite:" for DataDir/aigate.db,
	// "sqlite:PATH" for a database file elsewhere,
	// "dynamodb://TABLE_PREFIX?region=R&endpoint=URL" for DynamoDB (region
	// and endpoint optional; see dynamodb.ParseURL).
	URL string
	// DataDir holds the embedded store when URL is "" or "sqlite:"; it is
	// created (mode 0700) when missing.
	DataDir string
	// Owner opens the embedded store as its owner (sqlite.OpenOwner), for
	// the one process that serves AI requests over it (aigate serve):
	// admission in memory, the ledger made durable by a log, one such
	// process per database, refused clearly otherwise. DynamoDB is opened
	// the same way either way.
	Owner bool
}

// Open opens the store cfg names. For SQLite it creates the database's
// directory (mode 0700) when needed; for DynamoDB it builds the SDK client
// only.
func Open(ctx context.Context, cfg Config) (store.Store, error) {
	scheme, rest, _ := strings.Cut(cfg.URL, ":")
	switch {
	case cfg.URL == "" || (scheme == "sqlite" && rest == ""):
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("storeurl: data directory: %w", err)
		}
		return openSQLite(ctx, filepath.Join(cfg.DataDir, "aigate.db"), cfg.Owner)
	case scheme == "sqlite":
		path := strings.TrimPrefix(rest, "//")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("storeurl: store directory: %w", err)
		}
		return openSQLite(ctx, path, cfg.Owner)
	case scheme == "dynamodb":
		// Builds the SDK client only: no request until the first use, so a
		// Lambda's init stays short and a store outage fails requests
		// (closed), not the start.
		st, err := dynamodb.OpenURL(ctx, cfg.URL)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return st, nil
	default:
		return nil, fmt.Errorf("storeurl: unsupported store %q (want sqlite:PATH or dynamodb://TABLE_PREFIX)", scheme)
	}
}
