package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/storetest"
)

// holdWriter runs a write that blocks until the returned release is
// called, so that the writes started meanwhile queue behind it.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.write(t.Context(), "hold", func(context.Context, *sql.Tx) error {
			close(started)
			<-unblock
			return nil
		})
	}()
	<-started
	return func() {
		close(unblock)
		if err := <-done; err != nil {
			t.Errorf("holding write: %v", err)
		}
	}
}

// waitQueued waits until n writes wait behind the running one.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.writes.mu.Lock()
		got := len(s.writes.pending)
		s.writes.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("%d writes never queued", n)
}

// Writes that queue while another runs share one transaction; each still
// succeeds or fails on its own, and a failed one leaves nothing behind.
func TestQueuedWritesCommitTogetherAndFailAlone(t *testing.T) {
	s := openClosing(t, filepath.Join(t.TempDir(), "aigate.db"))
	release := holdWriter(t, s)

	k1, k2 := storetest.NewKey("k1"), storetest.NewKey("k2")
	failing := errors.New("failing write")
	results := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, write := range map[string]func() error{
		"create k1":       func() error { return s.CreateKey(t.Context(), k1, created(k1)) },
		"create k1 again": func() error { return s.CreateKey(t.Context(), k1, created(k1)) },
		"create k2":       func() error { return s.CreateKey(t.Context(), k2, created(k2)) },
		"reserve, then fail": func() error {
			return s.write(t.Context(), "reserve then fail", func(ctx context.Context, tx *sql.Tx) error {
				r := pendingReservation("undone", 10, t0)
				if _, err := tx.StmtContext(ctx, s.quota.insertReservation).ExecContext(ctx,
					r.ID, r.PrincipalID, r.Tenant, r.Model, r.Protocol, r.Tokens, 1, 2, 3, 0, false, 4, 5); err != nil {
					return err
				}
				return failing
			})
		},
	} {
		wg.Go(func() {
			err := write()
			mu.Lock()
			results[name] = err
			mu.Unlock()
		})
	}
	waitQueued(t, s, 4)
	release()
	wg.Wait()

	first, again := results["create k1"], results["create k1 again"]
	if (first == nil) == (again == nil) || !errors.Is(errors.Join(first, again), record.ErrExists) {
		t.Errorf("two creations of k1: %v and %v, want one success and one ErrExists", first, again)
	}
	if err := results["create k2"]; err != nil {
		t.Errorf("create k2: %v", err)
	}
	if err := results["reserve, then fail"]; !errors.Is(err, failing) {
		t.Errorf("failing write returned %v", err)
	}
	for _, id := range []string{"k1", "k2"} {
		if _, err := s.GetKey(t.Context(), id); err != nil {
			t.Errorf("GetKey(%s): %v", id, err)
		}
	}
	if h, err := s.KeyHistory(t.Context(), "k1"); err != nil || len(h) != 1 {
		t.Errorf("k1 history: %d events, %v; want 1", len(h), err)
	}
	if _, err := s.Settle(t.Context(), quota.Settlement{Reservation: quota.Reservation{ID: "undone"}}); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("the failed write's reservation: Settle = %v, want ErrNotFound", err)
	}
}

// A caller that leaves while its write waits for its turn gets its
// context's error, and the write never runs.
func TestAWriteLeftBeforeItsTurnNeverRuns(t *testing.T) {
	s := openClosing(t, filepath.Join(t.TempDir(), "aigate.db"))
	release := holdWriter(t, s)

	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.write(ctx, "abandoned", func(context.Context, *sql.Tx) error {
			ran <- struct{}{}
			return nil
		})
	}()
	waitQueued(t, s, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned write returned %v, want context.Canceled", err)
	}
	release()
	// A later write runs, and the abandoned one has not.
	k := storetest.NewKey("k1")
	if err := s.CreateKey(t.Context(), k, created(k)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Error("the abandoned write ran")
	default:
	}
}
