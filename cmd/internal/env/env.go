// Package env reads the environment variables that configure aigate's
// programs (the CLI, the authorizer and AI API Lambdas) into the config
// structs of the libraries, so that all of them agree on where keys live and
// how their secrets are hashed. Only main packages read the environment;
// this is the one place they do it alike.
package env

import (
	"context"
	"os"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/storeurl"
)

// Environment variables read by Read (and by the CLI as flag defaults).
const (
	Data    = "AIGATE_DATA"     // data directory; default ./.aigate
	Store   = "AIGATE_STORE"    // store URL; default sqlite in the data directory
	HashKey = "AIGATE_HASH_KEY" // key-hashing secret, base64 or hex, ≥ 32 bytes
	// OpenAIBaseURL and OpenAIAPIKey, when either is set, route every
	// model that no other route names to an OpenAI-compatible upstream
	// (OpenAI itself when only the key is set): Settings.OpenAI.
	OpenAIBaseURL = "OPENAI_BASE_URL"
	OpenAIAPIKey  = "OPENAI_API_KEY"
)

// DefaultDataDir is where the embedded store lives unless told otherwise.
const DefaultDataDir = ".aigate"

// Settings say where the store is and where the key-hashing secret comes
// from.
type Settings struct {
	// DataDir holds the SQLite database (aigate.db) and, unless HashKey is
	// set, the hashing secret (apikey.HashKeyFile).
	DataDir string
	// StoreURL selects the store (storeurl.Config.URL).
	StoreURL string
	// HashKey is the key-hashing secret, base64 or hex
	// (apikey.HasherConfig.Secret). Empty: read or create it in DataDir.
	HashKey string
	// OpenAI is the AI API's catch-all upstream: convert it with
	// aiapi.OpenAIUpstream(s.OpenAI) for aiapi.Config.WithOpenAI.
	OpenAI OpenAIUpstream
}

// OpenAIUpstream has the fields of aiapi.OpenAIUpstream, and converts to
// it. It is env's own type so that this package does not import aiapi: the
// authorizer Lambda reads its settings here, and aiapi would link its
// providers (the Bedrock client, the SDK's whole credential chain) and
// Prometheus into the authorizer's bootstrap, about 3 MB it never runs.
type OpenAIUpstream struct {
	BaseURL   string // aiapi.OpenAIUpstream.BaseURL
	APIKeyEnv string // aiapi.OpenAIUpstream.APIKeyEnv: the variable's name, never its value
}

// Read reads Settings from the environment.
func Read() Settings {
	s := Settings{DataDir: os.Getenv(Data), StoreURL: os.Getenv(Store), HashKey: os.Getenv(HashKey)}
	s.OpenAI.BaseURL = os.Getenv(OpenAIBaseURL)
	if os.Getenv(OpenAIAPIKey) != "" {
		s.OpenAI.APIKeyEnv = OpenAIAPIKey // read again by the provider, never kept here
	}
	if s.DataDir == "" {
		s.DataDir = DefaultDataDir
	}
	return s
}

// OpenStore opens the store the settings name (storeurl.Open).
func (s Settings) OpenStore(ctx context.Context) (store.Store, error) {
	return storeurl.Open(ctx, storeurl.Config{URL: s.StoreURL, DataDir: s.DataDir})
}

// Hasher returns the API key hasher for the settings' secret
// (apikey.LoadHasher).
func (s Settings) Hasher() (*apikey.Hasher, error) {
	return apikey.LoadHasher(apikey.HasherConfig{Secret: s.HashKey, Dir: s.DataDir})
}
