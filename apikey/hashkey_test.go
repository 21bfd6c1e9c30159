package apikey_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/jwtauth/devissuer"
)

func hashWith(t *testing.T, c apikey.HasherConfig, k apikey.Key) []byte {
	t.Helper()
	h, err := apikey.LoadHasher(c)
	if err != nil {
		t.Fatalf("LoadHasher: %v", err)
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
	want := hashWith(t, apikey.HasherConfig{Secret: hex.EncodeToString(secret)}, k)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if got := hashWith(t, apikey.HasherConfig{Secret: enc.EncodeToString(secret)}, k); !bytes.Equal(got, want) {
			t.Errorf("%q hashes unlike the hex form of the same secret", enc.EncodeToString(secret))
		}
	}
	for name, v := range map[string]string{
		"31 bytes":  hex.EncodeToString(secret[:31]),
		"not coded": "this is not hex nor base64 !!",
	} {
		_, err := apikey.LoadHasher(apikey.HasherConfig{Secret: v})
		if err == nil || !strings.HasPrefix(err.Error(), "apikey: ") || strings.Contains(err.Error(), v) {
			t.Errorf("%s: %v; want an apikey error that does not quote the value", name, err)
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
	first := hashWith(t, apikey.HasherConfig{Dir: dir}, k)
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, apikey.HashKeyFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %#o", path, fi.Mode(), err, want)
		}
	}
	if again := hashWith(t, apikey.HasherConfig{Dir: dir}, k); !bytes.Equal(again, first) {
		t.Error("the second start hashes with another secret")
	}
	// A configured secret wins over the file.
	other := hashWith(t, apikey.HasherConfig{Dir: dir, Secret: strings.Repeat("ab", 32)}, k)
	if bytes.Equal(other, first) {
		t.Error("Secret was ignored in favour of the file")
	}
}

// TestConcurrentFirstStartsAgreeOnOneHashKey: processes starting at once on
// an empty data directory (the CLI beside `aigate serve`, several Lambdas on
// a shared volume) must all get the same secret, and none may read the file
// half-written. With create-then-write, a loser of the O_EXCL race could
// read the empty file and fail with "hash key has 0 bytes".
func TestConcurrentFirstStartsAgreeOnOneHashKey(t *testing.T) {
	_, key, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	const dirs, starts = 40, 16
	for range dirs {
		dir := t.TempDir()
		hashes := make([][]byte, starts)
		errs := make([]error, starts)
		var ready, wg sync.WaitGroup
		ready.Add(1)
		for i := range starts {
			wg.Go(func() {
				ready.Wait() // start together: widen the race
				h, err := apikey.LoadHasher(apikey.HasherConfig{Dir: dir})
				if err != nil {
					errs[i] = err
					return
				}
				hashes[i] = h.Hash(key)
			})
		}
		ready.Done()
		wg.Wait()
		for i := range starts {
			if errs[i] != nil {
				t.Fatalf("start %d of %d: %v", i, starts, errs[i])
			}
			if !bytes.Equal(hashes[i], hashes[0]) {
				t.Fatalf("start %d hashes with another secret than start 0", i)
			}
		}
	}
}

// TestSecretFilesOthersMayReadAreRefusedAlike: hash.key at 0644 used to be
// used silently while the dev issuer's key at 0644 was refused. Both are
// refused now, by the same check, with the mode in the message.
func TestSecretFilesOthersMayReadAreRefusedAlike(t *testing.T) {
	dir := t.TempDir()
	if _, err := apikey.LoadHasher(apikey.HasherConfig{Dir: dir}); err != nil {
		t.Fatalf("first use creates hash.key: %v", err)
	}
	if _, err := devissuer.LoadOrCreate(dir, "http://127.0.0.1:1/dev"); err != nil {
		t.Fatalf("first use creates the issuer key: %v", err)
	}
	for _, f := range []struct {
		name string
		load func() error
	}{
		{apikey.HashKeyFile, func() error { _, err := apikey.LoadHasher(apikey.HasherConfig{Dir: dir}); return err }},
		{devissuer.KeyFile, func() error { _, err := devissuer.LoadOrCreate(dir, "http://127.0.0.1:1/dev"); return err }},
	} {
		path := filepath.Join(dir, f.name)
		if err := f.load(); err != nil {
			t.Fatalf("%s at 0600: %v", f.name, err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		err := f.load()
		if err == nil || !strings.Contains(err.Error(), path+" has mode 0644") {
			t.Errorf("%s at 0644: %v; want a refusal naming the path and mode", f.name, err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
