package stack

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// PackageCommand builds the artifacts; errors about them say to run it.
const PackageCommand = "go run ./cmd/package (in deploy/aws)"

// emAArch64 is ELF's e_machine for arm64 (debug/elf.EM_AARCH64).
const emAArch64 = 183

// CheckArtifact verifies that path is a zip holding an executable ELF file
// named bootstrap built for arm64: what provided.al2023 on arm64 runs. A
// missing or wrong artifact would otherwise surface only when Lambda
// rejects the upload, or as Runtime.InvalidEntrypoint on the first call.
func CheckArtifact(path string) error {
	zr, err := zip.OpenReader(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stack: Lambda artifact %s does not exist: build it with %s", path, PackageCommand)
	}
	if err != nil {
		return fmt.Errorf("stack: Lambda artifact %s: %w (rebuild it with %s)", path, err, PackageCommand)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name != "bootstrap" {
			continue
		}
		if !f.Mode().IsRegular() || f.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("stack: Lambda artifact %s: bootstrap is not an executable file (mode %v); rebuild it with %s", path, f.Mode(), PackageCommand)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("stack: Lambda artifact %s: %w", path, err)
		}
		defer rc.Close()
		var hdr [20]byte
		if _, err := io.ReadFull(rc, hdr[:]); err != nil || string(hdr[:4]) != "\x7fELF" {
			return fmt.Errorf("stack: Lambda artifact %s: bootstrap is not an ELF binary; rebuild it with %s", path, PackageCommand)
		}
		if m := binary.LittleEndian.Uint16(hdr[18:]); m != emAArch64 {
			return fmt.Errorf("stack: Lambda artifact %s: bootstrap is built for ELF machine %d, not arm64; rebuild it with %s", path, m, PackageCommand)
		}
		return nil
	}
	return fmt.Errorf("stack: Lambda artifact %s has no bootstrap entry; rebuild it with %s", path, PackageCommand)
}
