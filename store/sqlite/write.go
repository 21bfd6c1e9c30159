package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// maxWriteBatch bounds how many writes share one transaction.
const maxWriteBatch = 64

// writeQueue groups the writes of concurrent callers into one transaction
// (group commit): with a single writer connection, every write would
// otherwise pay for its own BEGIN, COMMIT and WAL frames while the others
// queue, and the writer, not the CPU, would bound the server's throughput
// (two writes per AI request: reserve and settle). Each write keeps its
// own atomicity in a savepoint, and returns only once its transaction has
// committed. The caller whose write finds no transaction running runs one
// itself, with whatever queued meanwhile, then hands the next batch to the
// first caller still waiting: no goroutine of its own, nothing added for
// a lone write.
type writeQueue struct {
	mu      sync.Mutex
	pending []*writeOp
	busy    bool // a caller is running a batch
}

// writeOp is one call to write.
type writeOp struct {
	ctx     context.Context
	name    string
	f       func(ctx context.Context, tx *sql.Tx) error
	done    chan error    // its result, sent once
	lead    chan struct{} // it runs the next batch
	claimed bool          // under writeQueue.mu: in a batch, or leading one; it can no longer be abandoned
}

// write runs f, the operation op, in a write transaction on the writer,
// which begins IMMEDIATE, and returns once that transaction has committed
// (nil), or f's error as it is after undoing f's statements. A caller whose
// ctx ends while its write waits for its turn gets ctx's error and the
// write never runs; once it runs, it finishes (its statements are short).
func (s *Store) write(ctx context.Context, op string, f func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := s.prepareWrites(ctx); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	w := &writeOp{ctx: ctx, name: op, f: f, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	q := &s.writes
	q.mu.Lock()
	q.pending = append(q.pending, w)
	if !q.busy {
		q.busy = true
		w.claimed = true
		q.mu.Unlock()
		s.runBatch(w)
		return <-w.done
	}
	q.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-w.lead:
		s.runBatch(w)
		return <-w.done
	case <-ctx.Done():
	}
	q.mu.Lock()
	if !w.claimed {
		for i, p := range q.pending {
			if p == w {
				q.pending = append(q.pending[:i:i], q.pending[i+1:]...)
				break
			}
		}
		q.mu.Unlock()
		return fmt.Errorf("sqlite: %s: %w", op, ctx.Err())
	}
	q.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-w.lead:
		s.runBatch(w)
		return <-w.done
	}
}

// runBatch takes the pending writes from the front of the queue (leader
// first), runs them in one transaction, and passes the lead on.
func (s *Store) runBatch(leader *writeOp) {
	q := &s.writes
	q.mu.Lock()
	n := min(len(q.pending), maxWriteBatch)
	batch := append([]*writeOp(nil), q.pending[:n]...)
	q.pending = append(q.pending[:0:0], q.pending[n:]...)
	for _, w := range batch {
		w.claimed = true
	}
	q.mu.Unlock()
	if batch[0] != leader {
		panic("sqlite: write batch led by a write that is not first") // unreachable
	}

	if len(batch) == 1 {
		leader.done <- s.writeAlone(leader)
	} else {
		s.writeTogether(batch)
	}

	q.mu.Lock()
	if len(q.pending) == 0 {
		q.busy = false
	} else {
		next := q.pending[0]
		next.claimed = true
		next.lead <- struct{}{}
	}
	q.mu.Unlock()
}

// writeAlone is a transaction of one write, bound to its caller's ctx.
func (s *Store) writeAlone(w *writeOp) error {
	tx, err := s.writer.BeginTx(w.ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: begin: %w", w.name, err)
	}
	if err := w.f(w.ctx, tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", w.name, err)
	}
	return nil
}

// writeTogether runs the writes of batch in one transaction, each in a
// savepoint, and sends each its result once the transaction has ended. A
// write that fails is rolled back to its savepoint and the others go on;
// a failure of the transaction itself fails every write that had not
// failed on its own.
func (s *Store) writeTogether(batch []*writeOp) {
	errs := make([]error, len(batch))
	// The transaction serves several callers: one leaving must not roll
	// back the others' writes, so no caller's cancellation reaches it.
	tx, err := s.writer.BeginTx(context.Background(), nil)
	var failed error // the transaction's own failure
	if err != nil {
		failed = fmt.Errorf("begin: %w", err)
	}
	for i, w := range batch {
		if failed != nil {
			break
		}
		if err := w.ctx.Err(); err != nil {
			errs[i] = fmt.Errorf("sqlite: %s: %w", w.name, err)
			continue
		}
		ctx := context.WithoutCancel(w.ctx)
		if _, err := tx.StmtContext(ctx, s.savepoint).ExecContext(ctx); err != nil {
			failed = err
			break
		}
		if errs[i] = w.f(ctx, tx); errs[i] != nil {
			// Fails when SQLite rolled the whole transaction back itself.
			if _, err := tx.StmtContext(ctx, s.rollbackTo).ExecContext(ctx); err != nil {
				failed = err
				break
			}
		}
		if _, err := tx.StmtContext(ctx, s.release).ExecContext(ctx); err != nil {
			failed = err
			break
		}
	}
	switch {
	case tx == nil:
	case failed != nil:
		tx.Rollback()
	default:
		if err := tx.Commit(); err != nil {
			failed = fmt.Errorf("commit: %w", err)
		}
	}
	for i, w := range batch {
		if errs[i] == nil && failed != nil {
			errs[i] = fmt.Errorf("sqlite: %s: %w", w.name, failed)
		}
		w.done <- errs[i]
	}
}
