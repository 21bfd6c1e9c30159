package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/aigate/aigate/store/storetest"
)

// database/sql opens connections when it likes; each must have the PRAGMAs,
// not just the first.
func TestEveryPooledConnectionHasThePragmas(t *testing.T) {
	s := openClosing(t, filepath.Join(t.TempDir(), "aigate.db"))
	ctx := t.Context()
	want := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "1", // NORMAL
		"foreign_keys": "1",
		"busy_timeout": "5000",
	}
	check := func(role string, c *sql.Conn, queryOnly string) {
		t.Helper()
		for pragma, w := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", role, pragma, err)
			}
			if got != w {
				t.Errorf("%s connection: %s = %s, want %s", role, pragma, got, w)
			}
		}
		var got string
		if err := c.QueryRowContext(ctx, "PRAGMA query_only").Scan(&got); err != nil || got != queryOnly {
			t.Errorf("%s connection: query_only = %s, %v; want %s", role, got, err, queryOnly)
		}
	}

	// Hold several reader connections at once, so that each is a new one.
	var conns []*sql.Conn
	for range 3 {
		c, err := s.reader.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		check("reader", c, "1")
	}
	for _, c := range conns {
		c.Close()
	}
	w, err := s.writer.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	check("writer", w, "0")
}

// A write transaction takes the write lock at BEGIN (_txlock=immediate), so
// that it waits out another writer under the busy timeout instead of failing
// at once with SQLITE_BUSY when it upgrades from reading to writing.
func TestWriteTransactionsTakeTheLockAtBegin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	a, b := openClosing(t, path), openClosing(t, path)

	tx, err := a.writer.BeginTx(t.Context(), nil) // no statement: only BEGIN
	if err != nil {
		t.Fatal(err)
	}
	k := storetest.NewKey("k1")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := b.CreateKey(ctx, k, created(k)); err == nil {
		t.Fatal("CreateKey succeeded while another store's transaction had begun: BEGIN took no lock")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateKey(t.Context(), k, created(k)); err != nil {
		t.Fatalf("CreateKey after the other transaction ended: %v", err)
	}
}
