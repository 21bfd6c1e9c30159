// Package secretfile reads files that hold secrets (the key-hashing secret,
// the development issuer's signing key) and refuses any that others on the
// machine may read or write; and it creates them so that no reader ever sees
// one half-written. It is the one place both live, so that every secret file
// is refused and published the same way.
package secretfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// Read returns the contents of the secret file at path. It fails when
// group or others have any permission on it (mode & 0o077), because a
// secret that others may read is no longer a secret, and one they may write
// can be replaced. The mode is checked on the open file, so a file swapped
// between the check and the read is not read. An error wrapping
// fs.ErrNotExist means there is no file. Errors carry no package prefix:
// the caller's wrapping names what the file is for.
//
// Windows has no Unix modes: the check is skipped there.
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		// No package prefix: callers wrap it with theirs ("apikey: hash
		// key: …", "devissuer: …").
		return nil, fmt.Errorf("%s has mode %#o: group or others may access it; want 0600 (chmod 600 %s)", path, perm, path)
	}
	return io.ReadAll(f)
}

// Create publishes data as a new secret file at path (mode 0600): it is
// written and synced under a temporary name in the same directory, then
// linked into place. A reader therefore finds either no file or the whole
// of it, never an empty or half-written one, and when processes race to
// create the same file exactly one wins: the others get an error wrapping
// fs.ErrExist and should read the winner's file. The directory must exist.
func Create(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; Chmod states it.
	_, werr := tmp.Write(data)
	if err := errors.Join(tmp.Chmod(0o600), werr, tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	// Link, unlike Rename, fails when path exists: the first file published
	// stays, so every process ends up with the same secret.
	return os.Link(tmp.Name(), path)
}
