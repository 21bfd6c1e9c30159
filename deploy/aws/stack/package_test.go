package stack

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPackageBuildsArm64Bootstraps runs the packaging command the README
// gives (go run ./cmd/package) into a temporary directory and checks what
// Lambda will run: each zip holds an executable bootstrap, an ELF binary
// for linux/arm64, which CheckArtifact accepts. A second run gives the
// same bytes, so `pulumi up` sees no change when the code did not change.
func TestPackageBuildsArm64Bootstraps(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles both Lambdas")
	}
	build := func(out string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "go", "run", "./cmd/package", "-out", out)
		cmd.Dir = ".." // deploy/aws, where the README runs it
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go run ./cmd/package: %v\n%s", err, b)
		}
	}
	first, second := t.TempDir(), t.TempDir()
	build(first)
	build(second)
	for _, name := range []string{"authorizer.zip", "aiapi.zip"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(first, name)
			zr, err := zip.OpenReader(path)
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
				t.Fatalf("entries %v, want bootstrap alone", zr.File)
			}
			f := zr.File[0]
			if mode := f.Mode(); !mode.IsRegular() || mode.Perm()&0o111 != 0o111 {
				t.Errorf("bootstrap mode %v, want executable by all", mode)
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			bin, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			ef, err := elf.NewFile(bytes.NewReader(bin))
			if err != nil {
				t.Fatalf("bootstrap is not ELF: %v", err)
			}
			if ef.Machine != elf.EM_AARCH64 || ef.Class != elf.ELFCLASS64 || ef.Type != elf.ET_EXEC {
				t.Errorf("bootstrap: machine %v, class %v, type %v; want EM_AARCH64, ELFCLASS64, ET_EXEC", ef.Machine, ef.Class, ef.Type)
			}
			// Statically linked (CGO_ENABLED=0): provided.al2023 has no Go toolchain libs to offer.
			if interp := ef.Section(".interp"); interp != nil {
				t.Errorf("bootstrap is dynamically linked")
			}
			if err := CheckArtifact(path); err != nil {
				t.Error(err)
			}
			if sum(t, path) != sum(t, filepath.Join(second, name)) {
				t.Error("two builds of the same code gave different zips")
			}
		})
	}
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
