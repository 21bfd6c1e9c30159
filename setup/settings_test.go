package setup_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/setup"
)

func hashWith(t *testing.T, s setup.Settings, k apikey.Key) []byte {
	t.Helper()
	h, err := setup.Hasher(s)
	if err != nil {
		t.Fatalf("Hasher: %v", err)
	}
	return h.Hash(k)
}

// TestAHashKeyIsOneSecretWhicheverWayItIsWritten: the Lambda (environment)
// and the CLI (file or flag) must hash alike, so hex and every base64 form
// of one secret give the same hasher; a short or unreadable secret is
// refused without being quoted.
func TestAHashKeyIsOneSecretWhicheverWayItIsWritten(t *testing.T) {
	_, k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 11) // 33 bytes; '+' '/' in base64
	want := hashWith(t, setup.Settings{HashKey: hex.EncodeToString(secret)}, k)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if got := hashWith(t, setup.Settings{HashKey: enc.EncodeToString(secret)}, k); !bytes.Equal(got, want) {
			t.Errorf("%q hashes unlike the hex form of the same secret", enc.EncodeToString(secret))
		}
	}
	for name, v := range map[string]string{
		"31 bytes":  hex.EncodeToString(secret[:31]),
		"not coded": "this is not hex nor base64 !!",
	} {
		_, err := setup.Hasher(setup.Settings{HashKey: v})
		if err == nil || !strings.HasPrefix(err.Error(), "setup: ") || strings.Contains(err.Error(), v) {
			t.Errorf("%s: %v; want a setup error that does not quote the value", name, err)
		}
	}
}

// TestTheHashKeyFileIsCreatedOnceAndKept: the first use writes hash.key
// (0600, in a 0700 directory it creates); later uses read the same secret.
func TestTheHashKeyFileIsCreatedOnceAndKept(t *testing.T) {
	_, k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	first := hashWith(t, setup.Settings{DataDir: dir}, k)
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "hash.key"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %#o", path, fi.Mode(), err, want)
		}
	}
	if again := hashWith(t, setup.Settings{DataDir: dir}, k); !bytes.Equal(again, first) {
		t.Error("the second start hashes with another secret")
	}
	// A configured secret wins over the file.
	other := hashWith(t, setup.Settings{DataDir: dir, HashKey: strings.Repeat("ab", 32)}, k)
	if bytes.Equal(other, first) {
		t.Error("HashKey was ignored in favour of the file")
	}
}

func TestOpenStoreFollowsTheStoreURL(t *testing.T) {
	dir := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "sub", "keys.db")
	for _, tc := range []struct {
		url     string
		created string // the file the store must have created; "" for none
		fails   string
	}{
		{"", filepath.Join(dir, "aigate.db"), ""},
		{"sqlite:", filepath.Join(dir, "aigate.db"), ""},
		{"sqlite:" + elsewhere, elsewhere, ""},
		// The SDK client only: no request is made, so nothing listens.
		{"dynamodb://aigate?region=us-east-1&endpoint=http://127.0.0.1:1", "", ""},
		{"postgres://db/aigate", "", "unsupported store"},
		{"dynamodb://", "", "dynamodb"},
	} {
		st, err := setup.OpenStore(context.Background(), setup.Settings{DataDir: dir, StoreURL: tc.url})
		if tc.fails != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fails) {
				t.Errorf("%q: %v, want an error saying %q", tc.url, err, tc.fails)
			}
			if st != nil {
				t.Errorf("%q: a store beside the error", tc.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.url, err)
			continue
		}
		st.Close()
		if tc.created != "" {
			if _, err := os.Stat(tc.created); err != nil {
				t.Errorf("%q: %v; want the database at %s", tc.url, err, tc.created)
			}
		}
	}
}

func TestSettingsFromTheEnvironment(t *testing.T) {
	t.Setenv(setup.EnvData, "")
	t.Setenv(setup.EnvStore, "")
	t.Setenv(setup.EnvHashKey, "")
	t.Setenv(setup.EnvOpenAIBaseURL, "")
	t.Setenv(setup.EnvOpenAIAPIKey, "")
	if got := setup.FromEnv(); got != (setup.Settings{DataDir: setup.DefaultDataDir}) {
		t.Errorf("FromEnv with nothing set = %+v", got)
	}
	t.Setenv(setup.EnvData, "/var/lib/aigate")
	t.Setenv(setup.EnvStore, "sqlite:/tmp/x.db")
	t.Setenv(setup.EnvHashKey, "00")
	t.Setenv(setup.EnvOpenAIBaseURL, "http://127.0.0.1:11434/v1")
	t.Setenv(setup.EnvOpenAIAPIKey, "sk-secret")
	// The key stays in the environment: Settings names where it is.
	want := setup.Settings{DataDir: "/var/lib/aigate", StoreURL: "sqlite:/tmp/x.db", HashKey: "00",
		OpenAI: setup.OpenAIUpstream{BaseURL: "http://127.0.0.1:11434/v1", APIKeyEnv: setup.EnvOpenAIAPIKey}}
	if got := setup.FromEnv(); got != want {
		t.Errorf("FromEnv = %+v", got)
	}

	t.Setenv(setup.EnvRoutes, " GET/a , ,POST/b")
	t.Setenv(setup.EnvKeyCacheTTL, "")
	t.Setenv(setup.EnvHTTPAPIResponse, "iam")
	a, err := setup.AuthorizerFromEnv(time.Minute)
	if err != nil || !slices.Equal(a.Routes, []string{"GET/a", "POST/b"}) || a.KeyCacheTTL != time.Minute || !a.IAMForHTTPAPI {
		t.Errorf("AuthorizerFromEnv = %+v, %v", a, err)
	}
	for env, v := range map[string]string{setup.EnvKeyCacheTTL: "-1s", setup.EnvHTTPAPIResponse: "both"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, v)
			if _, err := setup.AuthorizerFromEnv(0); err == nil || !strings.Contains(err.Error(), env) {
				t.Errorf("%s=%s: %v, want an error naming it", env, v, err)
			}
		})
	}
}
