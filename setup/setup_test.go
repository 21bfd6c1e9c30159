package setup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigate/aigate/jwtauth/devissuer"
	"github.com/aigate/aigate/setup"
)

// TestSecretFilesOthersMayReadAreRefusedAlike: hash.key at 0644 used to be
// used silently while the dev issuer's key at 0644 was refused. Both are
// refused now, by the same check, with the mode in the message.
func TestSecretFilesOthersMayReadAreRefusedAlike(t *testing.T) {
	dir := t.TempDir()
	if _, err := setup.Hasher(setup.Settings{DataDir: dir}); err != nil {
		t.Fatalf("first use creates hash.key: %v", err)
	}
	if _, err := devissuer.LoadOrCreate(dir, "http://127.0.0.1:1/dev"); err != nil {
		t.Fatalf("first use creates the issuer key: %v", err)
	}
	for _, f := range []struct {
		name string
		load func() error
	}{
		{"hash.key", func() error { _, err := setup.Hasher(setup.Settings{DataDir: dir}); return err }},
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
