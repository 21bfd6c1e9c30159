// Package sqlite is aigate's embedded store: API keys and their audit history,
// and the quota windows, reservations and usage ledger (quota.Ledger), in one
// SQLite file (modernc.org/sqlite, no cgo), shared safely by every
// process on the machine that opens it (the server and the CLI).
// It owns the schema and its migrations; it never sees a secret (only keyed
// hashes) and never exposes its *sql.DB, so nothing bypasses the audit trail.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// busyTimeoutMillis is how long a statement waits for another process's
// write lock (the CLI changing a key while the server runs) before failing
// with SQLITE_BUSY. Writes here are single-row transactions that hold the
// lock for a millisecond or less, so this is only reached when something is
// wrong (a process stuck inside a transaction).
const busyTimeoutMillis = 5000

// Store is the SQLite store. It is safe for concurrent use, and several Store
// values, in one process or several, may share a database file.
type Store struct {
	// writer has a single connection: writers in this process queue in
	// database/sql instead of spinning in SQLite's busy handler, and every
	// transaction on it starts with BEGIN IMMEDIATE (see dsn).
	writer *sql.DB
	// reader is a pool of read-only connections; in WAL mode readers never
	// wait for a writer, nor it for them.
	reader *sql.DB

	getKey     *sql.Stmt
	listKeys   *sql.Stmt
	listTenant *sql.Stmt
	history    *sql.Stmt
	insertKey  *sql.Stmt
	updateKey  *sql.Stmt
	keyVersion *sql.Stmt
	insertEv   *sql.Stmt

	quota quotaStmts // usage.go

	// writes batches concurrent writes (write.go), each in a savepoint.
	writes                         writeQueue
	savepoint, rollbackTo, release *sql.Stmt

	// prepMu guards the writer's statements (insertKey to insertEv,
	// savepoint to release, quota), prepared on the first write
	// (prepareWrites); written is set once they all are.
	prepMu  sync.Mutex
	written bool

	path string // the database file, absolute
	// keysGen tells every process that a key or tenant changed
	// (KeysGeneration).
	keysGen *keysGen
	// owned: an Owner in this process writes the ledger (owner.go); this
	// Store's own ledger writes are refused.
	owned bool
	// ledgerLock is the shared lock taken on the first ledger write (see
	// mayWriteLedger), held until Close.
	ledgerMu   sync.Mutex
	ledgerLock *dirLock
	ledgerOK   atomic.Bool
}

// Open opens the database file at path, creating it with mode 0600 if it does
// not exist (it holds key hashes), and brings its schema up to date. The
// directory must exist.
//
// If an Owner died (kill -9, a crash) with records of its ledger log not
// yet in the database, Open applies them first, as SQLite recovers its
// own WAL, so that every process reads the whole ledger; it leaves the log
// alone while an Owner runs (that Owner applies it). While an Owner runs,
// this Store reads everything and writes keys and tenants, but its ledger
// writes (Reserve, Settle, Extend, Release, ExpireReservations) fail with
// ErrOwned; and while this Store holds the ledger (from its first ledger
// write to Close) no Owner can start.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := openDB(ctx, path, false)
	if err != nil {
		return nil, err
	}
	if err := s.recoverLog(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	return s, nil
}

func openDB(ctx context.Context, path string, owned bool) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// SQLite would create the file with mode 0644; create it first so that
	// it, and the -wal and -shm files SQLite gives the same mode, are 0600.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("sqlite: create database: %w", err)
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("sqlite: create database: %w", err)
	}

	s := &Store{path: abs, owned: owned}
	if s.keysGen, err = openKeysGen(abs); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if s.writer, err = sql.Open("sqlite", dsn(abs, false)); err != nil {
		s.keysGen.close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	// The schema is brought up to date before the readers connect, so that
	// a reader never prepares a statement against a missing table.
	if err := migrate(ctx, s.writer); err != nil {
		s.writer.Close()
		s.keysGen.close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}

	if s.reader, err = sql.Open("sqlite", dsn(abs, true)); err != nil {
		s.writer.Close()
		s.keysGen.close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	// Idle connections are kept as long as open ones: reopening one costs a
	// file open and the DSN's PRAGMAs, far more than the query it serves.
	readers := max(4, runtime.GOMAXPROCS(0))
	s.reader.SetMaxOpenConns(readers)
	s.reader.SetMaxIdleConns(readers)

	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	// An Owner writes at once, and reads the ledger log's position with a
	// writer statement outside a write (applylog.go): it has them all now.
	if owned {
		if err := s.prepareWrites(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
		}
	}
	return s, nil
}

// dsn returns the data source name of the database at the absolute path abs.
// The PRAGMAs travel in the DSN because database/sql opens connections on its
// own: a PRAGMA run once through Exec would reach only one of them.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	// busy_timeout comes first, so that the PRAGMAs after it wait for a lock
	// instead of failing (switching to WAL takes one).
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	// WAL lets readers run alongside a writer. With WAL, synchronous=NORMAL
	// syncs only at checkpoints: a commit survives a crash of the process
	// (the WAL is in the OS's page cache), and only a power loss or OS crash
	// can roll back the last commits, never corrupt the file. Losing a key
	// change just made to a power cut is acceptable; an fsync per commit
	// is not needed for it.
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		// A reader that tries to write is a bug in this package; fail it.
		q.Add("_pragma", "query_only(1)")
	} else {
		// A deferred transaction that reads and then writes must upgrade its
		// lock, and fails with SQLITE_BUSY at once (the busy timeout cannot
		// help) if another connection wrote in between. Taking the write
		// lock at BEGIN makes the busy timeout apply.
		q.Set("_txlock", "immediate")
	}
	// The URI form, with the path escaped, so that a '?' or '#' in the path
	// is not taken for the query.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// prepare prepares the reader's statements. The writer's wait for the
// first write (prepareWrites).
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.getKey, `SELECT ` + keyColumns + ` FROM keys WHERE id = ?`},
		{&s.listKeys, `SELECT ` + keyColumns + ` FROM keys ORDER BY created_at, id`},
		{&s.listTenant, `SELECT ` + keyColumns + ` FROM keys WHERE tenant = ? ORDER BY created_at, id`},
		{&s.history, `SELECT key_id, action, actor, at, detail FROM key_audit WHERE key_id = ? ORDER BY seq`},
	} {
		stmt, err := s.reader.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.stmt = stmt
	}
	return nil
}

// prepareWrites prepares the writer's statements, to be bound to a write
// transaction with Tx.Stmt, unless that is done. write calls it before
// its transaction begins: the writer has one connection, which the
// transaction holds. They wait for the first write because a process
// that only reads never needs them: the authorizer Lambda, which writes
// only when it finds a key expired, saved parsing 20 statements (about a
// tenth of its CPU up to its first answer) on its cold start. A failure
// leaves what was prepared and is tried again by the next write.
func (s *Store) prepareWrites(ctx context.Context) error {
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	if s.written {
		return nil
	}
	if err := s.prepareEach(ctx, []stmtQuery{
		{&s.insertKey, `INSERT INTO keys (` + keyColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`},
		{&s.updateKey, `UPDATE keys SET
			name = ?, tenant = ?, models = ?, rpm = ?, tpm = ?, tokens_per_day = ?, tokens_per_month = ?,
			status = ?, secret_hash = ?, previous_secret_hash = ?, previous_expires_at = ?,
			usage_identifier_key = ?, created_at = ?, updated_at = ?, expires_at = ?, revoked_at = ?,
			version = ?, role = ?, usd_per_day = ?, usd_per_month = ?
			WHERE id = ? AND version = ?`},
		{&s.keyVersion, `SELECT version FROM keys WHERE id = ?`},
		{&s.insertEv, `INSERT INTO key_audit (key_id, action, actor, at, detail) VALUES (?, ?, ?, ?, ?)`},
		{&s.savepoint, `SAVEPOINT write`},
		{&s.rollbackTo, `ROLLBACK TO write`},
		{&s.release, `RELEASE write`},
	}); err != nil {
		return err
	}
	if err := s.prepareEach(ctx, s.quotaQueries()); err != nil {
		return err
	}
	s.written = true
	return nil
}

// stmtQuery is a writer statement and its SQL.
type stmtQuery struct {
	stmt  **sql.Stmt
	query string
}

// prepareEach prepares on the writer each statement not yet prepared.
func (s *Store) prepareEach(ctx context.Context, qs []stmtQuery) error {
	for _, p := range qs {
		if *p.stmt != nil {
			continue
		}
		stmt, err := s.writer.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.stmt = stmt
	}
	return nil
}

// Close closes the database. Calls in progress finish first.
func (s *Store) Close() error {
	var errs []error
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	stmts := []*sql.Stmt{s.getKey, s.listKeys, s.listTenant, s.history, s.insertKey, s.updateKey, s.keyVersion, s.insertEv,
		s.savepoint, s.rollbackTo, s.release}
	for _, stmt := range append(stmts, s.quota.all()...) {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	for _, db := range []*sql.DB{s.reader, s.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	errs = append(errs, s.keysGen.close())
	s.ledgerMu.Lock()
	errs = append(errs, s.ledgerLock.unlock())
	s.ledgerLock = nil
	s.ledgerOK.Store(false)
	s.ledgerMu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}
