package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
)

// keysGenSuffix names the file beside the database that holds the keys'
// generation (KeysGeneration).
const keysGenSuffix = "-keys"

// keysGen is the file that says, to every process using the database, that
// a key or a tenant changed: 8 bytes that each change, once its transaction
// has committed, overwrites with a fresh random value. A process caching
// keys reads them (one pread, no SQLite transaction, no lock) per decision
// and re-reads a key cached under another value.
//
// Random rather than a counter: writers in several processes would race on
// read, increment, write without a lock, and a stale writer could set a
// counter back to a value a reader cached under; a fresh random value
// differs from every earlier one but with probability 2^-64, with no lock.
// The value is compared for equality only.
//
// Like SQLite's own -wal and -shm files it must not be deleted while
// processes use the database: a process that opened the old file would
// read a value nothing changes any more, and see changes only when its
// cache entries expire (the cache's TTL, which bounds this case and a
// writer that died between its commit and its bump).
type keysGen struct{ f *os.File }

// openKeysGen opens, creating it with mode 0600 if needed, the generation
// file beside the database at the absolute path db. A new (or short) file
// gets its first value.
func openKeysGen(db string) (*keysGen, error) {
	f, err := os.OpenFile(db+keysGenSuffix, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keys generation: %w", err)
	}
	g := &keysGen{f: f}
	if _, err := g.read(); errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = g.bump()
		if err != nil {
			f.Close()
			return nil, err
		}
	} else if err != nil {
		f.Close()
		return nil, err
	}
	return g, nil
}

// read returns the current value.
func (g *keysGen) read() (uint64, error) {
	var b [8]byte
	if _, err := g.f.ReadAt(b[:], 0); err != nil {
		return 0, fmt.Errorf("keys generation: %w", err)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// bump writes a new value. No fsync: every process reads the page cache,
// and an OS crash that loses the write also ends every process's cache.
func (g *keysGen) bump() error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	if _, err := g.f.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("keys generation: %w", err)
	}
	return nil
}

func (g *keysGen) close() error {
	if g == nil {
		return nil
	}
	if err := g.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("keys generation: %w", err)
	}
	return nil
}

// KeysGeneration returns a value that changes after every committed change
// to a key or a tenant of this database, made by any process through this
// package, before the call that made it returns: a cache of keys that
// notes the value before each store read, and re-reads an entry noted
// under another value, sees every change as soon as its writer has
// returned. Compare values for equality only. An error (the file cannot
// be read) means nothing can be said: read the store.
//
// A writer that dies between its commit and its bump leaves the value
// unchanged: a cache must also bound its entries' age (authz's CacheTTL)
// to see that change.
func (s *Store) KeysGeneration() (uint64, error) {
	v, err := s.keysGen.read()
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return v, nil
}

// keysChanged bumps the generation after a write to keys or tenants has
// returned, whatever its outcome: a failed commit may still have committed
// (an I/O error after the WAL frame was written), and a needless bump only
// costs other processes a re-read. err is the write's result; a failed
// bump turns success into an error, for the change was committed but
// other processes may serve their cached copy until its TTL ends.
func (s *Store) keysChanged(op string, err error) error {
	if berr := s.keysGen.bump(); berr != nil && err == nil {
		return fmt.Errorf("sqlite: %s: committed, but processes caching keys may not see it until their cache TTL ends: %w", op, berr)
	}
	return err
}
