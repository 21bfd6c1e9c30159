//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

// flock: no advisory locks here; fail closed rather than let two
// processes write one ledger unknowingly.
func flock(*os.File, bool) (bool, error) {
	return false, errors.New("file locks are not supported on this system")
}
