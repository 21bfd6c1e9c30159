// Package secretfile reads files that hold secrets (the key-hashing secret,
// the development issuer's signing key) and refuses any that others on the
// machine may read or write. It is the one place that check lives, so that
// every secret file is refused the same way, with its mode in the message.
package secretfile

import (
	"fmt"
	"io"
	"os"
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
		// No package prefix: callers wrap it with theirs ("setup: hash
		// key: …", "devissuer: …").
		return nil, fmt.Errorf("%s has mode %#o: group or others may access it; want 0600 (chmod 600 %s)", path, perm, path)
	}
	return io.ReadAll(f)
}
