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
//
// The records are coalesced first (see batch): each window row is
// written once, and a reservation reserved and settled (or released)
// among them is never written at all. The tables end as applying the
// records one by one leaves them (TestCoalescedApplyEqualsOneByOne).
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
		b := newBatch()
		for i := range records {
			r := &records[i]
			if r.Seq <= uint64(applied) {
				continue
			}
			if !b.add(r) {
				return fmt.Errorf("sqlite: %s: record %d: unknown operation %d", op, r.Seq, r.Op)
			}
			if r.Op != ledgerlog.OpExpire {
				continue
			}
			// Pruning deletes window rows: what came before is written
			// first, what comes after starts a new batch.
			if err := s.writeBatch(ctx, tx, b); err != nil {
				return fmt.Errorf("sqlite: %s: records to %d: %w", op, r.Seq, err)
			}
			if err := s.prune(ctx, tx, fromNanos(r.Now)); err != nil {
				return fmt.Errorf("sqlite: %s: record %d: %w", op, r.Seq, err)
			}
			b = newBatch()
		}
		if err := s.writeBatch(ctx, tx, b); err != nil {
			return fmt.Errorf("sqlite: %s: records to %d: %w", op, last, err)
		}
		if _, err := tx.StmtContext(ctx, s.quota.setAppliedSeq).ExecContext(ctx, int64(last)); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		return nil
	})
}

// batch is the net effect of a run of records on the tables (no pruning
// among them), as few row writes as give it.
type batch struct {
	windows      map[windowKey]*windowDelta
	windowOrder  []windowKey
	reservations map[string]*reservationNet
	resOrder     []string
	entries      []*ledgerlog.Record // the settlements, in order
}

// windowDelta is what a batch adds to one window row. A reserve counts
// in it whether the row exists or not (an upsert); a settlement or a
// release adjusts it only if it exists (an UPDATE), so the adjustments
// before the batch's first reserve in the row (pre) apply only to a row
// the table held already, and everything from that reserve on (post) to
// the row, held or created by it.
type windowDelta struct {
	pre      used // requests stay 0: only reserves count requests
	post     used
	upserted bool
}

// reservationNet is what a batch does to one reservation's row. The
// first record about a reservation in a batch is a reserve only when the
// table does not hold it (the Owner reserves only an id not pending), so
// held says the table may hold it: the record was a settlement, a
// release, an expiry or an extend.
type reservationNet struct {
	held     bool
	deleted  bool                   // held, and a record removed it
	extended int64                  // held, not deleted: the latest expiry an extend gave it (0: none)
	inserted *ledgerlog.Reservation // the row a reserve leaves, nil when none
}

func newBatch() *batch {
	return &batch{windows: map[windowKey]*windowDelta{}, reservations: map[string]*reservationNet{}}
}

// add adds rec's effect; false for an operation it does not know.
func (b *batch) add(rec *ledgerlog.Record) bool {
	r := &rec.Reservation
	switch rec.Op {
	case ledgerlog.OpReserve:
		n := b.reservation(r.ID, false)
		if n.inserted == nil && (!n.held || n.deleted) { // else ON CONFLICT DO NOTHING
			row := *r
			n.inserted = &row
		}
		b.windowsOf(r, func(d *windowDelta) {
			d.upserted = true
			d.post.requests++
			d.post.tokens += r.Tokens
			d.post.usd += r.CostMicros
		})
	case ledgerlog.OpSettle:
		u := &rec.Usage
		b.remove(r.ID)
		real, cost := u.Prompt+u.Completion, u.CostMicros
		if !u.Late {
			real, cost = real-r.Tokens, cost-r.CostMicros
		}
		b.adjust(r, real, cost)
		b.entries = append(b.entries, rec)
	case ledgerlog.OpRelease:
		b.unreserve(r)
	case ledgerlog.OpExtend:
		n := b.reservation(r.ID, true)
		switch {
		case n.inserted != nil:
			n.inserted.ExpiresAt = max(n.inserted.ExpiresAt, r.ExpiresAt)
		case n.held && !n.deleted:
			n.extended = max(n.extended, r.ExpiresAt)
		}
	case ledgerlog.OpExpire:
		for i := range rec.Expired {
			b.unreserve(&rec.Expired[i])
		}
	default:
		return false
	}
	return true
}

// reservation is id's net effect, held as given when the batch has none
// yet.
func (b *batch) reservation(id string, held bool) *reservationNet {
	n, ok := b.reservations[id]
	if !ok {
		n = &reservationNet{held: held}
		b.reservations[id] = n
		b.resOrder = append(b.resOrder, id)
	}
	return n
}

// remove deletes the reservation id.
func (b *batch) remove(id string) {
	n := b.reservation(id, true)
	n.inserted = nil
	n.extended = 0
	if n.held {
		n.deleted = true
	}
}

// unreserve removes r and gives its tokens and dollars back.
func (b *batch) unreserve(r *ledgerlog.Reservation) {
	b.remove(r.ID)
	b.adjust(r, -r.Tokens, -r.CostMicros)
}

// adjust adds tokens and dollars to r's windows where they exist.
func (b *batch) adjust(r *ledgerlog.Reservation, tokens, usd int64) {
	if tokens == 0 && usd == 0 {
		return
	}
	b.windowsOf(r, func(d *windowDelta) {
		to := &d.pre
		if d.upserted {
			to = &d.post
		}
		to.tokens += tokens
		to.usd += usd
	})
}

// windowsOf calls f with the delta of each window r counts in: its
// principal's, and its tenant's when it counts there.
func (b *batch) windowsOf(r *ledgerlog.Reservation, f func(*windowDelta)) {
	ids := [2]string{r.PrincipalID}
	if r.TenantWindows {
		ids[1] = quota.TenantWindowsID(r.Tenant)
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		for _, k := range [3]windowKey{{id, spanMinute, r.Minute}, {id, spanDay, r.Day}, {id, spanMonth, r.Month}} {
			d, ok := b.windows[k]
			if !ok {
				d = &windowDelta{}
				b.windows[k] = d
				b.windowOrder = append(b.windowOrder, k)
			}
			f(d)
		}
	}
}

// writeBatch writes b's net effect in tx.
func (s *Store) writeBatch(ctx context.Context, tx *sql.Tx, b *batch) error {
	for _, id := range b.resOrder {
		n := b.reservations[id]
		if n.deleted {
			if _, err := tx.StmtContext(ctx, s.quota.deleteReservation).ExecContext(ctx, id); err != nil {
				return fmt.Errorf("reservation %q: %w", id, err)
			}
		}
		if n.extended != 0 {
			if _, err := tx.StmtContext(ctx, s.quota.extendReservation).ExecContext(ctx, id, n.extended); err != nil {
				return fmt.Errorf("reservation %q: %w", id, err)
			}
		}
		if r := n.inserted; r != nil {
			if _, err := tx.StmtContext(ctx, s.quota.insertReservation).ExecContext(ctx,
				r.ID, r.PrincipalID, r.Tenant, r.Model, r.Protocol, r.Tokens, r.Minute, r.Day, r.Month,
				r.CostMicros, r.TenantWindows, r.CreatedAt, r.ExpiresAt); err != nil {
				return fmt.Errorf("reservation %q: %w", id, err)
			}
		}
	}
	for _, k := range b.windowOrder {
		d := b.windows[k]
		if d.pre.tokens != 0 || d.pre.usd != 0 {
			if _, err := tx.StmtContext(ctx, s.quota.adjustWindow).ExecContext(ctx,
				k.principal, k.span, k.start, d.pre.tokens, d.pre.usd); err != nil {
				return fmt.Errorf("window %s %s %d: %w", k.principal, k.span, k.start, err)
			}
		}
		if d.upserted {
			if _, err := tx.StmtContext(ctx, s.quota.countWindow).ExecContext(ctx,
				k.principal, k.span, k.start, d.post.requests, d.post.tokens, d.post.usd); err != nil {
				return fmt.Errorf("window %s %s %d: %w", k.principal, k.span, k.start, err)
			}
		}
	}
	for _, rec := range b.entries {
		r, u := &rec.Reservation, &rec.Usage
		if _, err := tx.StmtContext(ctx, s.quota.insertEntry).ExecContext(ctx, r.ID, r.PrincipalID,
			r.Tenant, r.Model, r.Protocol, u.Prompt, u.Completion, r.Tokens, u.At,
			u.Cached, u.CacheWrite, u.CostMicros, u.PriceInput, u.PriceOutput, u.PriceCachedInput,
			u.PriceCacheWrite, u.Unpriced); err != nil {
			return fmt.Errorf("ledger entry %d (%q): %w", rec.Seq, r.ID, err)
		}
	}
	return nil
}
