package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/store/ledgerlog"
)

// replayBatch bounds the records applied in one transaction at a replay.
const replayBatch = 4096

// mayWriteLedger says whether this Store may write the ledger: not when an
// Owner holds the database. The first ledger write takes the lock shared
// and keeps it, so that no Owner starts while this Store may write.
func (s *Store) mayWriteLedger(op string) error {
	if s.ledgerOK.Load() {
		return nil
	}
	if s.owned {
		return fmt.Errorf("sqlite: %s: %w: this process's Owner writes the ledger", op, ErrOwned)
	}
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	if s.ledgerLock != nil {
		return nil
	}
	l, err := lockWriter(s.path)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	s.ledgerLock = l
	s.ledgerOK.Store(true)
	return nil
}

// recoverLog applies the records a dead Owner left in its log, when no
// Owner holds the database, and empties the log.
func (s *Store) recoverLog(ctx context.Context) error {
	path := s.path + logSuffix
	if empty, err := ledgerlog.Empty(path); err != nil || empty {
		return err
	}
	lock, err := takeLock(s.path, true)
	if errors.Is(err, ErrOwned) {
		return nil // its Owner applies it
	}
	if err != nil {
		return err
	}
	defer lock.unlock()
	l, records, _, err := ledgerlog.Open(path)
	if err != nil {
		return err
	}
	defer l.Close()
	return s.replay(ctx, l, records)
}

// replay applies records (the whole of l's) and empties l.
func (s *Store) replay(ctx context.Context, l *ledgerlog.Log, records []ledgerlog.Record) error {
	for len(records) > 0 {
		n := min(len(records), replayBatch)
		if err := s.applyLog(ctx, records[:n]); err != nil {
			return err
		}
		records = records[n:]
	}
	return l.Truncate()
}

// appliedSeq is the sequence number of the last log record applied.
func (s *Store) lastApplied(ctx context.Context) (uint64, error) {
	var seq int64
	if err := s.quota.appliedSeq.QueryRowContext(ctx).Scan(&seq); err != nil {
		return 0, fmt.Errorf("sqlite: ledger log: %w", err)
	}
	return uint64(seq), nil
}

// applyLog applies records, in order, in one transaction together with
// the sequence number of the last: a crash leaves all of them applied or
// none. Records at or below the sequence number already applied are
// skipped, so a record is applied once however often it is replayed. No
// limit is checked: the Owner decided, the record says what.
func (s *Store) applyLog(ctx context.Context, records []ledgerlog.Record) error {
	if len(records) == 0 {
		return nil
	}
	const op = "apply ledger log"
	return s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		var applied int64
		if err := tx.StmtContext(ctx, s.quota.appliedSeq).QueryRowContext(ctx).Scan(&applied); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		last := records[len(records)-1].Seq
		if last <= uint64(applied) {
			return nil
		}
		for i := range records {
			r := &records[i]
			if r.Seq <= uint64(applied) {
				continue
			}
			if err := s.applyRecord(ctx, tx, r); err != nil {
				return fmt.Errorf("sqlite: %s: record %d (%s %q): %w", op, r.Seq, r.Op, r.Reservation.ID, err)
			}
		}
		if _, err := tx.StmtContext(ctx, s.quota.setAppliedSeq).ExecContext(ctx, int64(last)); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		return nil
	})
}

// pendingOf is a logged reservation as the window adjustments take it.
func pendingOf(r *ledgerlog.Reservation) pending {
	return pending{
		principal: r.PrincipalID, tenant: r.Tenant, model: r.Model, protocol: r.Protocol,
		tokens: r.Tokens, cost: r.CostMicros, minute: r.Minute, day: r.Day, month: r.Month,
		tenantWindows: r.TenantWindows,
	}
}

func (s *Store) applyRecord(ctx context.Context, tx *sql.Tx, rec *ledgerlog.Record) error {
	r := &rec.Reservation
	switch rec.Op {
	case ledgerlog.OpReserve:
		if _, err := tx.StmtContext(ctx, s.quota.insertReservation).ExecContext(ctx,
			r.ID, r.PrincipalID, r.Tenant, r.Model, r.Protocol, r.Tokens, r.Minute, r.Day, r.Month,
			r.CostMicros, r.TenantWindows, r.CreatedAt, r.ExpiresAt); err != nil {
			return err
		}
		ids := []string{r.PrincipalID}
		if r.TenantWindows {
			ids = append(ids, quota.TenantWindowsID(r.Tenant))
		}
		for _, id := range ids {
			if _, err := tx.StmtContext(ctx, s.quota.countWindows).ExecContext(ctx,
				id, r.Minute, r.Day, r.Month, r.Tokens, r.CostMicros); err != nil {
				return err
			}
		}
		return nil
	case ledgerlog.OpSettle:
		u := &rec.Usage
		if _, err := tx.StmtContext(ctx, s.quota.deleteReservation).ExecContext(ctx, r.ID); err != nil {
			return err
		}
		real, cost := u.Prompt+u.Completion, u.CostMicros
		if !u.Late {
			real, cost = real-r.Tokens, cost-r.CostMicros
		}
		if err := s.adjust(ctx, tx, pendingOf(r), real, cost); err != nil {
			return err
		}
		_, err := tx.StmtContext(ctx, s.quota.insertEntry).ExecContext(ctx, r.ID, r.PrincipalID,
			r.Tenant, r.Model, r.Protocol, u.Prompt, u.Completion, r.Tokens, u.At,
			u.Cached, u.CacheWrite, u.CostMicros, u.PriceInput, u.PriceOutput, u.PriceCachedInput,
			u.PriceCacheWrite, u.Unpriced)
		return err
	case ledgerlog.OpRelease:
		return s.unreserve(ctx, tx, r)
	case ledgerlog.OpExtend:
		_, err := tx.StmtContext(ctx, s.quota.extendReservation).ExecContext(ctx, r.ID, r.ExpiresAt)
		return err
	case ledgerlog.OpExpire:
		for i := range rec.Expired {
			if err := s.unreserve(ctx, tx, &rec.Expired[i]); err != nil {
				return err
			}
		}
		return s.prune(ctx, tx, fromNanos(rec.Now))
	}
	return fmt.Errorf("unknown operation %d", rec.Op)
}

// unreserve removes a pending reservation and gives its tokens and dollars
// back.
func (s *Store) unreserve(ctx context.Context, tx *sql.Tx, r *ledgerlog.Reservation) error {
	if _, err := tx.StmtContext(ctx, s.quota.deleteReservation).ExecContext(ctx, r.ID); err != nil {
		return err
	}
	return s.adjust(ctx, tx, pendingOf(r), -r.Tokens, -r.CostMicros)
}
