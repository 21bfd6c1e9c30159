package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

var _ quota.Ledger = (*Store)(nil)

// Window spans as stored in quota_windows.span.
const (
	spanMinute = "minute"
	spanDay    = "day"
	spanMonth  = "month"
)

// windowsPredicate matches the three windows of one reservation:
// ?1 principal, ?2 minute start, ?3 day start, ?4 month start.
const windowsPredicate = `principal_id = ?1 AND (
	(span = 'minute' AND start = ?2) OR (span = 'day' AND start = ?3) OR (span = 'month' AND start = ?4))`

// Ended windows are kept this long after their end, so that a request
// settled late still finds its windows, then pruned: only current windows
// enforce anything, and the ledger, not the windows, is the usage record.
var windowRetention = map[string]time.Duration{
	spanMinute: 24 * time.Hour,
	spanDay:    48 * time.Hour,
	spanMonth:  40 * 24 * time.Hour,
}

// quotaStmts are the prepared statements of the quota.Ledger methods, all on
// the writer: each method is one write transaction.
type quotaStmts struct {
	addWindows         *sql.Stmt // count one request and tokens in a reservation's windows
	adjustWindows      *sql.Stmt // add a (negative) token delta to them
	insertReservation  *sql.Stmt
	takeReservation    *sql.Stmt // delete one, returning it
	takeExpired        *sql.Stmt // delete the expired ones, returning them
	extendReservation  *sql.Stmt // move one's expiry later
	insertEntry        *sql.Stmt
	settledSince       *sql.Stmt // is a request id in the ledger from a time on
	pruneWindowsBefore *sql.Stmt

	// The ledger log's (applylog.go).
	countWindow       *sql.Stmt // count requests, tokens and dollars in one window, created if missing
	adjustWindow      *sql.Stmt // add tokens and dollars to one window, if it exists
	deleteReservation *sql.Stmt
	appliedSeq        *sql.Stmt
	setAppliedSeq     *sql.Stmt
}

func (q *quotaStmts) all() []*sql.Stmt {
	return []*sql.Stmt{q.addWindows, q.adjustWindows, q.insertReservation,
		q.takeReservation, q.takeExpired, q.extendReservation, q.insertEntry, q.settledSince, q.pruneWindowsBefore,
		q.countWindow, q.adjustWindow, q.deleteReservation, q.appliedSeq, q.setAppliedSeq}
}

// quotaQueries are the quota statements and their SQL (prepareWrites).
func (s *Store) quotaQueries() []stmtQuery {
	const reservationColumns = `principal_id, tenant, model, protocol, tokens, minute_start, day_start, month_start, cost_micros, tenant_windows`
	return []stmtQuery{
		{&s.quota.addWindows, `INSERT INTO quota_windows (principal_id, span, start, requests, tokens, usd)
			VALUES (?1, 'minute', ?2, 1, ?5, ?6), (?1, 'day', ?3, 1, ?5, ?6), (?1, 'month', ?4, 1, ?5, ?6)
			ON CONFLICT (principal_id, span, start) DO UPDATE SET
				requests = requests + 1, tokens = tokens + excluded.tokens, usd = usd + excluded.usd
			RETURNING span, requests, tokens, usd`},
		{&s.quota.adjustWindows, `UPDATE quota_windows SET tokens = tokens + ?5, usd = usd + ?6 WHERE ` + windowsPredicate},
		{&s.quota.insertReservation, `INSERT INTO quota_reservations
			(id, ` + reservationColumns + `, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`},
		{&s.quota.takeReservation, `DELETE FROM quota_reservations WHERE id = ? RETURNING ` + reservationColumns},
		{&s.quota.takeExpired, `DELETE FROM quota_reservations WHERE expires_at < ? RETURNING ` + reservationColumns},
		{&s.quota.extendReservation, `UPDATE quota_reservations SET expires_at = max(expires_at, ?2) WHERE id = ?1`},
		{&s.quota.insertEntry, `INSERT INTO usage_ledger
			(request_id, principal_id, tenant, model, protocol, prompt_tokens, completion_tokens, reserved_tokens, at,
			 cached_tokens, cache_write_tokens, cost_micros, price_input, price_output, price_cached_input, price_cache_write, unpriced)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		// The ledger is clustered by time: the range from ?1 on is read.
		{&s.quota.settledSince, `SELECT 1 FROM usage_ledger WHERE at >= ?1 AND request_id = ?2 LIMIT 1`},
		{&s.quota.pruneWindowsBefore, `DELETE FROM quota_windows WHERE span = ? AND start < ?`},
		{&s.quota.countWindow, `INSERT INTO quota_windows (principal_id, span, start, requests, tokens, usd)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6)
			ON CONFLICT (principal_id, span, start) DO UPDATE SET
				requests = requests + excluded.requests, tokens = tokens + excluded.tokens, usd = usd + excluded.usd`},
		{&s.quota.adjustWindow, `UPDATE quota_windows SET tokens = tokens + ?4, usd = usd + ?5
			WHERE principal_id = ?1 AND span = ?2 AND start = ?3`},
		{&s.quota.deleteReservation, `DELETE FROM quota_reservations WHERE id = ?`},
		{&s.quota.appliedSeq, `SELECT applied_seq FROM ledger_log WHERE id = 1`},
		{&s.quota.setAppliedSeq, `UPDATE ledger_log SET applied_seq = ? WHERE id = 1`},
	}
}

// windowArgs are the ?1..?4 arguments of windowsPredicate.
func windowArgs(principal string, w quota.Windows) ([]any, error) {
	args := []any{principal}
	for _, t := range []time.Time{w.Minute, w.Day, w.Month} {
		n, err := toNanos(t)
		if err != nil {
			return nil, err
		}
		args = append(args, n)
	}
	return args, nil
}

// used is what one window holds.
type used struct{ requests, tokens, usd int64 }

// Reserve counts the request, r.Tokens and r.CostMicros in r.Windows (and
// in the tenant's, under quota.TenantWindowsID, when r.TenantLimits is
// set) when every non-zero limit allows it, in one transaction: the check and the increment cannot
// be split by another writer, in this process or another. The windows are
// incremented first and the transaction rolled back on a denial, which
// saves the separate read (every statement costs on this hot path).
func (s *Store) Reserve(ctx context.Context, r quota.Reservation, limits record.Limits) (quota.Status, error) {
	op := fmt.Sprintf("reserve %q", r.ID)
	if err := s.mayWriteLedger(op); err != nil {
		return quota.Status{}, err
	}
	if r.ID == "" || r.PrincipalID == "" {
		return quota.Status{}, fmt.Errorf("sqlite: %s: reservation id and principal id are required", op)
	}
	if r.Tokens < 0 {
		return quota.Status{}, fmt.Errorf("sqlite: %s: negative tokens", op)
	}
	wargs, err := windowArgs(r.PrincipalID, r.Windows)
	if err != nil {
		return quota.Status{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	created, err := toNanos(r.CreatedAt)
	if err != nil {
		return quota.Status{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	expires, err := toNanos(r.ExpiresAt)
	if err != nil {
		return quota.Status{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	var st quota.Status
	err = s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.quota.insertReservation).ExecContext(ctx,
			r.ID, r.PrincipalID, r.Tenant, r.Model, r.Protocol, r.Tokens, wargs[1], wargs[2], wargs[3],
			r.CostMicros, countsTenant(r), created, expires)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: %s: already pending: %w", op, record.ErrExists)
		}
		have, err := s.count(ctx, tx, r, r.PrincipalID)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		minute := have[spanMinute]
		if d := deny(r, limits, have[spanMinute], have[spanDay], have[spanMonth]); d != nil {
			st = status(limits, minute, r.Windows)
			return d // rolls the increments back
		}
		if countsTenant(r) {
			theirs, err := s.count(ctx, tx, r, quota.TenantWindowsID(r.Tenant))
			if err != nil {
				return fmt.Errorf("sqlite: %s: %w", op, err)
			}
			if d := deny(r, *r.TenantLimits, theirs[spanMinute], theirs[spanDay], theirs[spanMonth]); d != nil {
				d.Tenant = r.Tenant
				st = status(limits, minute, r.Windows)
				return d
			}
		}
		st = status(limits, used{minute.requests + 1, minute.tokens + r.Tokens, minute.usd + r.CostMicros}, r.Windows)
		return nil
	})
	return st, err
}

// countsTenant reports whether r counts in its tenant's windows too.
func countsTenant(r quota.Reservation) bool { return r.TenantLimits != nil && r.Tenant != "" }

// count adds r's request, tokens and dollars to the windows of id (a
// principal's or a tenant's) and returns what each held before.
func (s *Store) count(ctx context.Context, tx *sql.Tx, r quota.Reservation, id string) (map[string]used, error) {
	wargs, err := windowArgs(id, r.Windows)
	if err != nil {
		return nil, err
	}
	rows, err := tx.StmtContext(ctx, s.quota.addWindows).QueryContext(ctx, append(wargs, r.Tokens, r.CostMicros)...)
	if err != nil {
		return nil, err
	}
	have := map[string]used{}
	for rows.Next() {
		var (
			span string
			u    used
		)
		if err := rows.Scan(&span, &u.requests, &u.tokens, &u.usd); err != nil {
			rows.Close()
			return nil, err
		}
		have[span] = used{u.requests - 1, u.tokens - r.Tokens, u.usd - r.CostMicros}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if len(have) != 3 {
		return nil, fmt.Errorf("%d windows updated, want 3", len(have))
	}
	return have, nil
}

// status is the Status of a minute window holding u.
func status(l record.Limits, u used, w quota.Windows) quota.Status {
	return quota.Status{
		RequestsLimit: l.RPM, RequestsRemaining: max(l.RPM-u.requests, 0),
		TokensLimit: l.TPM, TokensRemaining: max(l.TPM-u.tokens, 0),
		Reset: w.MinuteEnd(),
	}
}

// deny returns the first limit the reservation would exceed, given what
// its minute, day and month windows hold, or nil.
func deny(r quota.Reservation, l record.Limits, minute, day, month used) *quota.Denial {
	for _, c := range []struct {
		limit    string
		max      int64
		used     int64
		adding   int64
		resetsAt time.Time
	}{
		{quota.LimitRequestsPerMinute, l.RPM, minute.requests, 1, r.Windows.MinuteEnd()},
		{quota.LimitTokensPerMinute, l.TPM, minute.tokens, r.Tokens, r.Windows.MinuteEnd()},
		{quota.LimitTokensPerDay, l.TokensPerDay, day.tokens, r.Tokens, r.Windows.DayEnd()},
		{quota.LimitTokensPerMonth, l.TokensPerMonth, month.tokens, r.Tokens, r.Windows.MonthEnd()},
		{quota.LimitUSDPerDay, l.USDPerDay, day.usd, r.CostMicros, r.Windows.DayEnd()},
		{quota.LimitUSDPerMonth, l.USDPerMonth, month.usd, r.CostMicros, r.Windows.MonthEnd()},
	} {
		if c.max > 0 && c.used+c.adding > c.max {
			return &quota.Denial{Limit: c.limit, Max: c.max, Used: c.used, ResetAt: c.resetsAt}
		}
	}
	return nil
}

// pending is a reservation as takeReservation and takeExpired return it.
type pending struct {
	principal, tenant, model, protocol string
	tokens, cost                       int64
	minute, day, month                 int64
	tenantWindows                      bool // counted in the tenant's windows too
}

func scanPending(row interface{ Scan(...any) error }) (pending, error) {
	var p pending
	err := row.Scan(&p.principal, &p.tenant, &p.model, &p.protocol, &p.tokens, &p.minute, &p.day, &p.month, &p.cost, &p.tenantWindows)
	return p, err
}

// adjust adds delta tokens and dollars to p's windows, and to its tenant's
// when it counted there.
func (s *Store) adjust(ctx context.Context, tx *sql.Tx, p pending, delta, usd int64) error {
	if delta == 0 && usd == 0 {
		return nil
	}
	ids := []string{p.principal}
	if p.tenantWindows {
		ids = append(ids, quota.TenantWindowsID(p.tenant))
	}
	for _, id := range ids {
		if _, err := tx.StmtContext(ctx, s.quota.adjustWindows).ExecContext(ctx, id, p.minute, p.day, p.month, delta, usd); err != nil {
			return err
		}
	}
	return nil
}

// Settle swaps the reservation for the real usage in its windows and appends
// the ledger entry (at st.At, or now when it is zero), in one transaction: a
// crash leaves either the pending reservation (which expiry releases) or the
// entry, never both or neither. A reservation no longer pending is settled
// late (see settleLate), in the same one transaction.
func (s *Store) Settle(ctx context.Context, st quota.Settlement) (quota.Entry, error) {
	op := fmt.Sprintf("settle %q", st.Reservation.ID)
	if err := s.mayWriteLedger(op); err != nil {
		return quota.Entry{}, err
	}
	if st.PromptTokens < 0 || st.CompletionTokens < 0 {
		return quota.Entry{}, fmt.Errorf("sqlite: %s: negative usage", op)
	}
	if st.At.IsZero() {
		st.At = time.Now()
	}
	at, err := toNanos(st.At)
	if err != nil {
		return quota.Entry{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	var e quota.Entry
	err = s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		real := st.PromptTokens + st.CompletionTokens
		p, err := scanPending(tx.StmtContext(ctx, s.quota.takeReservation).QueryRowContext(ctx, st.Reservation.ID))
		late := errors.Is(err, sql.ErrNoRows)
		switch {
		case late:
			if p, err = s.settleLate(ctx, tx, st); err != nil {
				return fmt.Errorf("sqlite: %s: %w", op, err)
			}
			// The release gave the reserved tokens back: count them all.
			err = s.adjust(ctx, tx, p, real, st.CostMicros)
		case err == nil:
			err = s.adjust(ctx, tx, p, real-p.tokens, st.CostMicros-p.cost)
		}
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		e = quota.Entry{
			RequestID: st.Reservation.ID, PrincipalID: p.principal, Tenant: p.tenant, Model: p.model, Protocol: p.protocol, Late: late,
			PromptTokens: st.PromptTokens, CompletionTokens: st.CompletionTokens, ReservedTokens: p.tokens,
			CachedTokens: st.CachedTokens, CacheWriteTokens: st.CacheWriteTokens,
			CostMicros: st.CostMicros, Price: st.Price, Unpriced: st.Unpriced,
			At: fromNanos(at),
		}
		if _, err := tx.StmtContext(ctx, s.quota.insertEntry).ExecContext(ctx, e.RequestID, e.PrincipalID,
			e.Tenant, e.Model, e.Protocol, e.PromptTokens, e.CompletionTokens, e.ReservedTokens, at,
			e.CachedTokens, e.CacheWriteTokens, e.CostMicros, e.Price.Input, e.Price.Output, e.Price.CachedInput,
			e.Price.CacheWrite, e.Unpriced); err != nil {
			return fmt.Errorf("sqlite: %s: ledger: %w", op, err)
		}
		return nil
	})
	if err != nil {
		return quota.Entry{}, err
	}
	return e, nil
}

// settleLate checks that a request whose reservation is no longer pending
// can be settled late, and returns that reservation as st carries it: it
// cannot if st does not say what the reservation held, or if the request
// is already in the ledger. The ledger has no index on request_id (every
// settlement would pay for it); the range from the reservation's creation
// on, which a settlement cannot precede, is read instead: a late
// settlement is rare, and costs as many rows as were settled meanwhile.
func (s *Store) settleLate(ctx context.Context, tx *sql.Tx, st quota.Settlement) (pending, error) {
	r := st.Reservation
	if r.PrincipalID == "" {
		return pending{}, fmt.Errorf("no pending reservation: %w", record.ErrNotFound)
	}
	wargs, err := windowArgs(r.PrincipalID, r.Windows)
	if err != nil {
		return pending{}, err
	}
	created, err := toNanos(r.CreatedAt)
	if err != nil {
		return pending{}, err
	}
	var one int
	err = tx.StmtContext(ctx, s.quota.settledSince).QueryRowContext(ctx, created, r.ID).Scan(&one)
	switch {
	case err == nil:
		return pending{}, fmt.Errorf("no pending reservation, already settled: %w", record.ErrNotFound)
	case !errors.Is(err, sql.ErrNoRows):
		return pending{}, err
	}
	return pending{
		principal: r.PrincipalID, tenant: r.Tenant, model: r.Model, protocol: r.Protocol, tokens: r.Tokens,
		cost: r.CostMicros, tenantWindows: countsTenant(r),
		minute: wargs[1].(int64), day: wargs[2].(int64), month: wargs[3].(int64),
	}, nil
}

// Extend moves a pending reservation's expiry to expiresAt if that is
// later. It is one write transaction, as ExpireReservations is: either
// runs wholly before the other.
func (s *Store) Extend(ctx context.Context, id string, expiresAt time.Time) error {
	op := fmt.Sprintf("extend %q", id)
	if err := s.mayWriteLedger(op); err != nil {
		return err
	}
	exp, err := toNanos(expiresAt)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.quota.extendReservation).ExecContext(ctx, id, exp)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: %s: no pending reservation: %w", op, record.ErrNotFound)
		}
		return nil
	})
}

// Release gives the reserved tokens back to the reservation's windows; the
// request stays counted towards the request rate.
func (s *Store) Release(ctx context.Context, id string) error {
	op := fmt.Sprintf("release %q", id)
	if err := s.mayWriteLedger(op); err != nil {
		return err
	}
	return s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		p, err := scanPending(tx.StmtContext(ctx, s.quota.takeReservation).QueryRowContext(ctx, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: %s: no pending reservation: %w", op, record.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		if err := s.adjust(ctx, tx, p, -p.tokens, -p.cost); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		return nil
	})
}

// ExpireReservations releases every reservation whose expiry is before now,
// and prunes windows long ended (see windowRetention), in one transaction.
func (s *Store) ExpireReservations(ctx context.Context, now time.Time) (int, error) {
	const op = "expire reservations"
	if err := s.mayWriteLedger(op); err != nil {
		return 0, err
	}
	cutoff, err := toNanos(now)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	n := 0
	err = s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.StmtContext(ctx, s.quota.takeExpired).QueryContext(ctx, cutoff)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		// The RETURNING rows are read to the end before the windows are
		// adjusted: SQLite runs the DELETE as the rows are stepped.
		var expired []pending
		for rows.Next() {
			p, err := scanPending(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: %s: %w", op, err)
			}
			expired = append(expired, p)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		for _, p := range expired {
			if err := s.adjust(ctx, tx, p, -p.tokens, -p.cost); err != nil {
				return fmt.Errorf("sqlite: %s: %w", op, err)
			}
		}
		n = len(expired)
		if err := s.prune(ctx, tx, now); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// pruneBefore returns, per span, the start before which a window ended
// more than its retention before now (see windowRetention); a span is
// missing when that is before 1678, where nothing stored is.
func pruneBefore(now time.Time) map[string]int64 {
	w := quota.WindowsAt(now)
	before := map[string]int64{}
	for span, start := range map[string]time.Time{
		spanMinute: w.Minute.Add(-time.Minute - windowRetention[spanMinute]),
		spanDay:    w.Day.AddDate(0, 0, -1).Add(-windowRetention[spanDay]),
		spanMonth:  w.Month.AddDate(0, -1, 0).Add(-windowRetention[spanMonth]),
	} {
		if n, err := toNanos(start); err == nil {
			before[span] = n
		}
	}
	return before
}

// prune deletes the windows ended long before now.
func (s *Store) prune(ctx context.Context, tx *sql.Tx, now time.Time) error {
	for span, before := range pruneBefore(now) {
		if _, err := tx.StmtContext(ctx, s.quota.pruneWindowsBefore).ExecContext(ctx, span, before); err != nil {
			return fmt.Errorf("prune windows: %w", err)
		}
	}
	return nil
}

// Usage returns the ledger entries matching q, oldest first (by time, then
// request id). The ledger is clustered by time: Since narrows what is read,
// the other filters are applied to what it reads.
func (s *Store) Usage(ctx context.Context, q quota.Query) ([]quota.Entry, error) {
	var (
		where []string
		args  []any
	)
	if q.PrincipalID != "" {
		where, args = append(where, "principal_id = ?"), append(args, q.PrincipalID)
	}
	if q.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, q.Tenant)
	}
	if !q.Since.IsZero() {
		since, err := toNanos(q.Since)
		if err != nil {
			return nil, fmt.Errorf("sqlite: usage: %w", err)
		}
		where, args = append(where, "at >= ?"), append(args, since)
	}
	query := `SELECT request_id, principal_id, tenant, model, protocol, prompt_tokens, completion_tokens, reserved_tokens, at,
		cached_tokens, cache_write_tokens, cost_micros, price_input, price_output, price_cached_input, price_cache_write, unpriced
		FROM usage_ledger`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY at, request_id"
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: usage: %w", err)
	}
	defer rows.Close()
	entries := []quota.Entry{}
	for rows.Next() {
		var (
			e  quota.Entry
			at int64
		)
		if err := rows.Scan(&e.RequestID, &e.PrincipalID, &e.Tenant, &e.Model, &e.Protocol,
			&e.PromptTokens, &e.CompletionTokens, &e.ReservedTokens, &at,
			&e.CachedTokens, &e.CacheWriteTokens, &e.CostMicros, &e.Price.Input, &e.Price.Output, &e.Price.CachedInput,
			&e.Price.CacheWrite, &e.Unpriced); err != nil {
			return nil, fmt.Errorf("sqlite: usage: %w", err)
		}
		e.At = fromNanos(at)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: usage: %w", err)
	}
	return entries, nil
}
