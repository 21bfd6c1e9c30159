package secretfile_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aigate/aigate/internal/secretfile"
)

func TestFilesOthersMayAccessAreRefusedWithTheirMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Log("no Unix modes on Windows: nothing to check")
		return
	}
	for _, tc := range []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o700, true},
		{0o640, false},
		{0o644, false},
		{0o604, false},
		{0o660, false},
		{0o620, false},
		{0o602, false},
	} {
		path := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(path, []byte("s3cret"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		b, err := secretfile.Read(path)
		if tc.ok {
			if err != nil || string(b) != "s3cret" {
				t.Errorf("mode %#o: Read = %q, %v", tc.mode, b, err)
			}
			continue
		}
		if err == nil || b != nil {
			t.Errorf("mode %#o: Read = %q, %v; want a refusal", tc.mode, b, err)
			continue
		}
		if want := fmt.Sprintf("has mode %#o", tc.mode.Perm()); !strings.Contains(err.Error(), want) {
			t.Errorf("mode %#o: error %q does not say %q", tc.mode, err, want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
}

func TestMissingFileIsNotExist(t *testing.T) {
	if _, err := secretfile.Read(filepath.Join(t.TempDir(), "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read = %v, want fs.ErrNotExist", err)
	}
}

// TestCreateKeepsTheFirstFileAndRefusesTheSecond: Create never replaces a
// published secret, so that racing creators all end up reading the same one.
func TestCreateKeepsTheFirstFileAndRefusesTheSecond(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := secretfile.Create(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := secretfile.Create(path, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create = %v, want fs.ErrExist", err)
	}
	b, err := secretfile.Read(path)
	if err != nil || string(b) != "first" {
		t.Fatalf("Read = %q, %v; want the first secret", b, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want the secret alone (no temporary file left)", len(entries))
	}
}
