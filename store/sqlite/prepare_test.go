package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/storetest"
)

// A Store that only reads prepares none of the writer's statements (the
// authorizer Lambda's cold start); its first writes, concurrent, prepare
// them once, before their transaction holds the writer's one connection.
func TestWriterStatementsWaitForTheFirstWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigate.db")
	s := openClosing(t, path)
	if _, err := s.GetKey(t.Context(), "missing"); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("GetKey of a missing key: %v, want ErrNotFound", err)
	}
	writerStmts := func() []bool {
		s.prepMu.Lock()
		defer s.prepMu.Unlock()
		var set []bool
		for _, q := range append(s.quotaQueries(), stmtQuery{&s.insertKey, ""}, stmtQuery{&s.savepoint, ""}) {
			set = append(set, *q.stmt != nil)
		}
		return set
	}
	for i, set := range writerStmts() {
		if set {
			t.Fatalf("after Open and a read, writer statement %d is prepared", i)
		}
	}

	const writers = 16
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			k := storetest.NewKey(fmt.Sprintf("k%d", i))
			errs[i] = s.CreateKey(t.Context(), k, created(k))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("first write %d: %v", i, err)
		}
		if _, err := s.GetKey(t.Context(), fmt.Sprintf("k%d", i)); err != nil {
			t.Errorf("key k%d after its write: %v", i, err)
		}
	}
	for i, set := range writerStmts() {
		if !set {
			t.Errorf("after the first writes, writer statement %d is not prepared", i)
		}
	}
}

// BenchmarkOpenAndGetKey is a read-only process's start: open an existing
// database and read one key (the authorizer Lambda's cold start).
func BenchmarkOpenAndGetKey(b *testing.B) {
	path := filepath.Join(b.TempDir(), "aigate.db")
	s := open(b, path)
	k := storetest.NewKey("k1")
	if err := s.CreateKey(b.Context(), k, created(k)); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s := open(b, path)
		if _, err := s.GetKey(b.Context(), k.ID); err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
