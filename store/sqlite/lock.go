package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// The files beside the database that an owning process (Owner) uses: the
// lock that says who may write the ledger, and the log of its changes.
const (
	lockSuffix = "-lock"
	logSuffix  = "-ledger"
)

// ErrOwned is returned (wrapped) when the ledger belongs to another
// process: an Owner (aigate serve) admits requests in memory, so no other
// process may write the ledger of its database, nor open a second Owner.
var ErrOwned = errors.New("the ledger is owned by another process")

// A dirLock is an advisory lock (flock(2)) on the lock file beside a
// database. An Owner holds it exclusively for its lifetime; a Store that
// writes the ledger holds it shared from its first ledger write to Close.
// The kernel releases it when its process dies, however it dies: a lock
// is never left behind by a crash.
type dirLock struct{ f *os.File }

// lockOwner takes the lock exclusively and records the process id in the
// file, or says who holds it.
func lockOwner(db string) (*dirLock, error) {
	l, err := takeLock(db, true)
	if err != nil {
		return nil, err
	}
	if err := l.f.Truncate(0); err == nil {
		fmt.Fprintf(l.f, "pid %d\n", os.Getpid())
	}
	return l, nil
}

// lockWriter takes the lock shared, or says who owns the database.
func lockWriter(db string) (*dirLock, error) { return takeLock(db, false) }

func takeLock(db string, exclusive bool) (*dirLock, error) {
	path := db + lockSuffix
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	held, err := flock(f, exclusive)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if held {
		return &dirLock{f: f}, nil
	}
	defer f.Close()
	if exclusive {
		// Held shared (ledger writers) or exclusively (an owner)? A shared
		// lock is granted only in the first case.
		if shared, err := flock(f, false); err == nil && shared {
			return nil, fmt.Errorf("%w: %s is in use by a process writing its ledger directly (an AI API over SQLite, a test); stop it first", ErrOwned, db)
		}
	}
	b, _ := os.ReadFile(path)
	who := "another aigate serve"
	if pid := strings.TrimSpace(string(b)); strings.HasPrefix(pid, "pid ") {
		who += " (" + pid + ")"
	}
	if exclusive {
		return nil, fmt.Errorf("%w: %s is in use by %s; one server per data directory", ErrOwned, db, who)
	}
	return nil, fmt.Errorf("%w: %s is served by %s, which admits requests in memory; send AI requests to it instead of writing its ledger", ErrOwned, db, who)
}

// unlock releases the lock.
func (l *dirLock) unlock() error {
	if l == nil {
		return nil
	}
	return l.f.Close() // closing the last descriptor releases a flock
}
