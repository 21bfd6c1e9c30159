// Package setup builds aigate's runtime parts (store, key hasher, authorizer)
// from settings, the same way for the CLI, the local gateway and the
// Lambdas, so that all of them agree on where keys live and how their
// secrets are hashed. It holds no state of its own.
package setup

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/internal/secretfile"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/dynamodb"
)

// Environment variables read by FromEnv (and by the CLI as flag defaults).
const (
	EnvData    = "AIGATE_DATA"     // data directory; default ./.aigate
	EnvStore   = "AIGATE_STORE"    // store URL; default sqlite in the data directory
	EnvHashKey = "AIGATE_HASH_KEY" // key-hashing secret, base64 or hex, ≥ 32 bytes
	// EnvOpenAIBaseURL and EnvOpenAIAPIKey, when either is set, route every
	// model that no other route names to an OpenAI-compatible upstream
	// (OpenAI itself when only the key is set): Settings.OpenAI.
	EnvOpenAIBaseURL = "OPENAI_BASE_URL"
	EnvOpenAIAPIKey  = "OPENAI_API_KEY"
)

// DefaultDataDir is where the embedded store lives unless told otherwise.
const DefaultDataDir = ".aigate"

// Settings say where the store is and where the key-hashing secret comes from.
type Settings struct {
	// DataDir holds the SQLite database (aigate.db) and, unless HashKey is
	// set, the hashing secret (hash.key, created on first use, mode 0600).
	DataDir string
	// StoreURL selects the store: "" or "sqlite:" for DataDir/aigate.db,
	// "sqlite:PATH" for a database file elsewhere,
	// "dynamodb://TABLE_PREFIX?region=R&endpoint=URL" for DynamoDB (region
	// and endpoint optional; see store/dynamodb.ParseURL).
	StoreURL string
	// HashKey is the key-hashing secret, base64 or hex. It must be the
	// same for every process that creates or checks keys. Empty: read
	// (or create) DataDir/hash.key.
	HashKey string
	// OpenAI is the AI API's catch-all upstream: convert it with
	// aiapi.OpenAIUpstream(s.OpenAI) for aiapi.Config.WithOpenAI.
	OpenAI OpenAIUpstream
}

// OpenAIUpstream has the fields of aiapi.OpenAIUpstream, and converts to
// it. It is setup's own type so that setup does not import aiapi: the
// authorizer Lambda imports setup, and aiapi would link its providers (the
// Bedrock client, the SDK's whole credential chain) and Prometheus into the
// authorizer's bootstrap, about 3 MB it never runs.
type OpenAIUpstream struct {
	// BaseURL is the upstream's URL (aiapi.OpenAIUpstream.BaseURL).
	BaseURL string
	// APIKeyEnv names the variable holding the upstream's key
	// (aiapi.OpenAIUpstream.APIKeyEnv).
	APIKeyEnv string
}

// FromEnv reads Settings from the environment.
func FromEnv() Settings {
	s := Settings{DataDir: os.Getenv(EnvData), StoreURL: os.Getenv(EnvStore), HashKey: os.Getenv(EnvHashKey)}
	s.OpenAI.BaseURL = os.Getenv(EnvOpenAIBaseURL)
	if os.Getenv(EnvOpenAIAPIKey) != "" {
		s.OpenAI.APIKeyEnv = EnvOpenAIAPIKey // read again by the provider, never kept here
	}
	if s.DataDir == "" {
		s.DataDir = DefaultDataDir
	}
	return s
}

// OpenStore opens the store the settings name. For the embedded store it
// creates the data directory (mode 0700) when needed.
func OpenStore(ctx context.Context, s Settings) (store.Store, error) {
	return openStore(ctx, s, false)
}

// OpenServingStore is OpenStore for the process that serves AI requests
// (aigate serve): the embedded store is opened as its owner
// (sqlite.OpenOwner: admission in memory, the ledger made durable by a log,
// one such process per database, refused clearly otherwise). DynamoDB is
// opened as by OpenStore.
func OpenServingStore(ctx context.Context, s Settings) (store.Store, error) {
	return openStore(ctx, s, true)
}

func openStore(ctx context.Context, s Settings, owner bool) (store.Store, error) {
	scheme, rest, _ := strings.Cut(s.StoreURL, ":")
	switch {
	case s.StoreURL == "" || (scheme == "sqlite" && rest == ""):
		if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("setup: data directory: %w", err)
		}
		return openSQLite(ctx, filepath.Join(s.DataDir, "aigate.db"), owner)
	case scheme == "sqlite":
		path := strings.TrimPrefix(rest, "//")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("setup: store directory: %w", err)
		}
		return openSQLite(ctx, path, owner)
	case scheme == "dynamodb":
		// Builds the SDK client only: no request until the first use, so a
		// Lambda's init stays short and a store outage fails requests
		// (closed), not the start.
		st, err := dynamodb.OpenURL(ctx, s.StoreURL)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return st, nil
	default:
		return nil, fmt.Errorf("setup: unsupported store %q (want sqlite:PATH or dynamodb://TABLE_PREFIX)", scheme)
	}
}

// Hasher returns the API key hasher for the settings' secret.
func Hasher(s Settings) (*apikey.Hasher, error) {
	key, err := hashKey(s)
	if err != nil {
		return nil, err
	}
	return apikey.NewHasher(key)
}

func hashKey(s Settings) ([]byte, error) {
	if s.HashKey != "" {
		return decodeSecret(s.HashKey)
	}
	path := filepath.Join(s.DataDir, "hash.key")
	b, err := secretfile.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createHashKey(s.DataDir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("setup: hash key: %w", err)
	}
	return decodeSecret(strings.TrimSpace(string(b)))
}

// createHashKey publishes a new secret (secretfile.Create), so that two
// processes starting at once agree on one secret and neither reads the
// other's file half-written: the loser reads the winner's.
func createHashKey(dir, path string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("setup: data directory: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("setup: hash key: %w", err)
	}
	err := secretfile.Create(path, []byte(hex.EncodeToString(key)+"\n"))
	if errors.Is(err, fs.ErrExist) {
		return hashKey(Settings{DataDir: dir})
	}
	if err != nil {
		return nil, fmt.Errorf("setup: create hash key: %w", err)
	}
	return key, nil
}

// decodeSecret accepts hex or (standard or URL-safe) base64. The error never
// quotes the value.
func decodeSecret(v string) ([]byte, error) {
	if b, err := hex.DecodeString(v); err == nil {
		return checkLen(b)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return checkLen(b)
		}
	}
	return nil, errors.New("setup: hash key is neither hex nor base64")
}

func checkLen(b []byte) ([]byte, error) {
	if len(b) < 32 {
		return nil, fmt.Errorf("setup: hash key has %d bytes, want at least 32", len(b))
	}
	return b, nil
}
