package ledgerlog

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Log is the log file, open for appending. Its methods are not safe for
// concurrent use: the owner serializes them (it appends under the lock
// that orders its ledger changes, so the file's order is theirs).
//
// Durability: Append returns once write(2) has handed the frame to the
// operating system, without fsync. The record survives the process being
// killed (SIGKILL, a panic, an OOM kill), as a commit does in SQLite in WAL
// mode with synchronous=NORMAL, which is how store/sqlite opens its
// database; a power loss or an OS crash may lose the last records, as it
// may roll back SQLite's last commits.
type Log struct {
	f    *os.File
	path string
	size int64 // the end of the last whole frame
	// broken is set when a failed write could not be cut off the file:
	// what follows it could not be read back, so nothing more is written.
	broken error
}

// Open reads the log at path, creating it (mode 0600) if needed: the whole
// records from its start, in order, each with the next sequence number.
// It cuts the file after the last of them, if a torn or corrupt frame or
// a break in the sequence follows (cut says how many bytes went), and
// returns the Log open for appending after them.
func Open(path string) (l *Log, records []Record, cut int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("ledgerlog: open: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("ledgerlog: read %s: %w", path, err)
	}
	records, good := Parse(b)
	if cut = int64(len(b) - good); cut > 0 {
		if err := f.Truncate(int64(good)); err != nil {
			return nil, nil, 0, fmt.Errorf("ledgerlog: cut the bad tail of %s: %w", path, err)
		}
	}
	return &Log{f: f, path: path, size: int64(good)}, records, cut, nil
}

// Parse returns the whole records at the start of b, each with the
// sequence number after the one before, and the length of the bytes they
// take.
func Parse(b []byte) ([]Record, int) {
	var records []Record
	off := 0
	for off < len(b) {
		r, n, err := Decode(b[off:])
		if err != nil {
			break
		}
		if len(records) > 0 && r.Seq != records[len(records)-1].Seq+1 {
			break
		}
		records = append(records, r)
		off += n
	}
	return records, off
}

// Append writes frames (one or more whole frames, see the package
// function Append) with one write(2). On failure the file is cut back to
// where it was, so that no partial frame stays in it before later ones.
func (l *Log) Append(frames []byte) error {
	if l.broken != nil {
		return l.broken
	}
	n, err := l.f.Write(frames)
	if err == nil {
		l.size += int64(n)
		return nil
	}
	err = fmt.Errorf("ledgerlog: append to %s: %w", l.path, err)
	if n > 0 {
		if terr := l.f.Truncate(l.size); terr != nil {
			l.broken = fmt.Errorf("ledgerlog: %s is unusable after a failed append: %w", l.path, errors.Join(err, terr))
			return l.broken
		}
	}
	return err
}

// Size is the length of the file's whole frames.
func (l *Log) Size() int64 { return l.size }

// Truncate empties the file: the caller has applied every record in it.
func (l *Log) Truncate() error {
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("ledgerlog: truncate %s: %w", l.path, err)
	}
	l.size = 0
	return nil
}

// Close closes the file.
func (l *Log) Close() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("ledgerlog: close %s: %w", l.path, err)
	}
	return nil
}

// Empty reports whether the file at path is absent or holds nothing.
func Empty(path string) (bool, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("ledgerlog: %w", err)
	}
	return fi.Size() == 0, nil
}
