package apikey

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aigate/aigate/internal/secretfile"
)

// HashKeyFile is the file, in a data directory, that holds the key-hashing
// secret (hex, one line) when none is configured.
const HashKeyFile = "hash.key"

// HasherConfig says where a Hasher's secret comes from. The secret must be
// the same for every process that creates or checks keys: the CLI, the
// local gateway and the Lambdas.
type HasherConfig struct {
	// Secret is the hashing secret itself, hex or base64 (standard or
	// URL-safe, padded or not), at least HashKeyLength bytes. It wins over
	// Dir.
	Secret string
	// Dir holds HashKeyFile, read when Secret is empty and created on first
	// use (mode 0600, in a directory made 0700 when missing).
	Dir string
}

// LoadHasher returns the Hasher for cfg's secret. Its errors never quote
// the secret.
func LoadHasher(cfg HasherConfig) (*Hasher, error) {
	key, err := loadHashKey(cfg)
	if err != nil {
		return nil, err
	}
	return NewHasher(key)
}

func loadHashKey(cfg HasherConfig) ([]byte, error) {
	if cfg.Secret != "" {
		return decodeHashKey(cfg.Secret)
	}
	path := filepath.Join(cfg.Dir, HashKeyFile)
	b, err := secretfile.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createHashKey(cfg.Dir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("apikey: hash key: %w", err)
	}
	return decodeHashKey(strings.TrimSpace(string(b)))
}

// createHashKey publishes a new secret (secretfile.Create), so that two
// processes starting at once agree on one secret and neither reads the
// other's file half-written: the loser reads the winner's.
func createHashKey(dir, path string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("apikey: data directory: %w", err)
	}
	key, err := NewHashKey()
	if err != nil {
		return nil, err
	}
	err = secretfile.Create(path, []byte(hex.EncodeToString(key)+"\n"))
	if errors.Is(err, fs.ErrExist) {
		return loadHashKey(HasherConfig{Dir: dir})
	}
	if err != nil {
		return nil, fmt.Errorf("apikey: create hash key: %w", err)
	}
	return key, nil
}

// decodeHashKey accepts hex or (standard or URL-safe, padded or raw)
// base64; NewHasher checks the length. The error never quotes the value.
func decodeHashKey(v string) ([]byte, error) {
	if b, err := hex.DecodeString(v); err == nil {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("apikey: hash key is neither hex nor base64")
}
