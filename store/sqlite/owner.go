package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/ledgerlog"
)

// maxLogBytes is the size past which the applier, rather than wait for a
// moment when the log is wholly applied (which sustained load may never
// give it), applies the last records under the Owner's lock and empties
// the log: a pause of one small transaction for the requests then.
const maxLogBytes = 16 << 20

// applyDelay is how long the applier lets records gather after the first
// one queued before it applies them, and applyFull the queue's length at
// which it applies them at once. The cost of a transaction (BEGIN, the
// sequence number, COMMIT, the WAL frames of the pages touched) is per
// batch: woken by each record, the applier paid it per request when
// requests came one at a time, ~45µs of CPU per request. The log makes a
// record durable, so applying it later loses nothing; whoever must see it
// in SQLite (Usage, ExpireReservations, a late settlement, Close) asks for
// an immediate apply (see waitApplied). The delay bounds how far behind
// another process reading the database (aigate usage) is.
const (
	applyDelay = 20 * time.Millisecond
	applyFull  = replayBatch
)

// Owner is the Store of the one process that owns the database, aigate
// serve: it admits requests in memory and makes the ledger durable with an
// append-only log, instead of two SQLite write transactions per request.
//
// Admission: the windows (minute, day, month; principals' and tenants')
// and the pending reservations are in memory, loaded at open; every ledger
// method decides under one mutex, exactly as Store does in a transaction
// (the conformance suite, storetest, holds both to it). No budget can be
// overspent by concurrent requests of this process, and no other process
// writes the ledger while it runs: the Owner holds an exclusive lock
// (flock) on the lock file beside the database ("-lock", with its pid), a
// second Owner fails to open, naming the database and that pid, and a
// Store's ledger writes fail with ErrOwned (see Open). Keys and tenants are
// not the ledger: they stay in SQLite, read and written by every process
// (aigate keys while serve runs), so revocation is as before.
//
// Durability: each change is appended to the log beside the database
// ("-ledger", see package ledgerlog: a sequence number and a checksum per
// record, one write(2), no fsync) before the method returns, so before the
// answer. It survives kill -9 as SQLite's commits do in WAL mode with
// synchronous=NORMAL, how Store opens the database, and not, like them, a
// power loss. A background applier applies the records to SQLite in
// batches, each in one transaction with the sequence number of its last
// record (table ledger_log), and empties the log once everything in it is
// applied. At open the Owner replays the log (skipping what the database
// holds, cutting a torn or corrupt tail: a record torn by a crash was
// never acknowledged), then loads the windows and reservations. A Store
// opened after an Owner died replays the log too (see Open).
//
// What others see: Usage waits for the applier to catch up, so the
// console and other readers in this process see every settled request.
// Another process reading the database (aigate usage) sees the ledger as
// applied, up to applyDelay behind; ExpireReservations returns once its
// releases are applied.
//
// Rejected: a log per request with fsync (a power-loss guarantee SQLite's
// own commits do not give here, at ~ms per request); group commit of the
// SQLite transactions alone (what Store already does: it still pays a
// transaction per batch on the request's path); keeping Store's
// transactions and caching only the reads (the writes are the cost).
type Owner struct {
	*Store
	lock *dirLock

	// mu orders the ledger's changes: the decision, the record appended
	// to the log, the memory updated, the record queued, in that order.
	mu      sync.Mutex
	log     *ledgerlog.Log
	seq     uint64 // the last record appended
	frame   []byte
	windows map[windowKey]used
	pending map[string]ledgerlog.Reservation
	closed  bool

	// qmu guards the applier's queue and progress.
	qmu      sync.Mutex
	queue    []ledgerlog.Record
	applied  uint64        // the last record applied to SQLite
	applyErr error         // the applier's last failure, nil once it succeeds
	advanced chan struct{} // closed, and replaced, when applied or applyErr changes
	wake     chan struct{} // the queue has records (1-buffered)
	flush    chan struct{} // apply now: someone waits, or the queue is full (1-buffered)
	stop     chan struct{} // Close: apply everything, then stop
	done     chan struct{} // the applier stopped
}

var _ store.Store = (*Owner)(nil)

// windowKey names one window of a principal (or tenant) in memory.
type windowKey struct {
	principal string
	span      string
	start     int64
}

// OpenOwner opens the database at path as its owner (see Owner): it takes
// the lock, opens the database, applies what its log holds, loads the
// ledger's state and starts the applier. It fails, wrapping ErrOwned, if
// another process owns the database or writes its ledger.
func OpenOwner(ctx context.Context, path string) (_ *Owner, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	lock, err := lockOwner(abs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s, err := openDB(ctx, abs, true)
	if err != nil {
		lock.unlock()
		return nil, err
	}
	o := &Owner{
		Store: s, lock: lock,
		windows: map[windowKey]used{}, pending: map[string]ledgerlog.Reservation{},
		advanced: make(chan struct{}), wake: make(chan struct{}, 1), flush: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	defer func() {
		if err != nil {
			if o.log != nil {
				o.log.Close()
			}
			s.Close()
			lock.unlock()
		}
	}()
	l, records, _, err := ledgerlog.Open(abs + logSuffix)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	o.log = l
	if err := s.replay(ctx, l, records); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: replay the ledger log: %w", abs, err)
	}
	if err := o.load(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	go o.apply()
	return o, nil
}

// load reads the windows, the pending reservations and the last record
// applied.
func (o *Owner) load(ctx context.Context) error {
	seq, err := o.lastApplied(ctx)
	if err != nil {
		return err
	}
	o.seq, o.applied = seq, seq
	rows, err := o.reader.QueryContext(ctx, `SELECT principal_id, span, start, requests, tokens, usd FROM quota_windows`)
	if err != nil {
		return fmt.Errorf("load windows: %w", err)
	}
	for rows.Next() {
		var (
			k windowKey
			u used
		)
		if err := rows.Scan(&k.principal, &k.span, &k.start, &u.requests, &u.tokens, &u.usd); err != nil {
			rows.Close()
			return fmt.Errorf("load windows: %w", err)
		}
		o.windows[k] = u
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("load windows: %w", err)
	}
	rows, err = o.reader.QueryContext(ctx, `SELECT id, principal_id, tenant, model, protocol, tokens, cost_micros,
		tenant_windows, minute_start, day_start, month_start, created_at, expires_at FROM quota_reservations`)
	if err != nil {
		return fmt.Errorf("load reservations: %w", err)
	}
	for rows.Next() {
		var r ledgerlog.Reservation
		if err := rows.Scan(&r.ID, &r.PrincipalID, &r.Tenant, &r.Model, &r.Protocol, &r.Tokens, &r.CostMicros,
			&r.TenantWindows, &r.Minute, &r.Day, &r.Month, &r.CreatedAt, &r.ExpiresAt); err != nil {
			rows.Close()
			return fmt.Errorf("load reservations: %w", err)
		}
		o.pending[r.ID] = r
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("load reservations: %w", err)
	}
	return nil
}

// commit appends rec (numbered next) to the log and queues it for the
// applier; o.mu is held. Nothing has changed in memory yet: on an error
// the caller changes nothing.
func (o *Owner) commit(op string, rec ledgerlog.Record) (uint64, error) {
	if o.closed {
		return 0, fmt.Errorf("sqlite: %s: the store is closed", op)
	}
	rec.Seq = o.seq + 1
	o.frame = ledgerlog.Append(o.frame[:0], &rec)
	if err := o.log.Append(o.frame); err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	o.seq = rec.Seq
	o.qmu.Lock()
	o.queue = append(o.queue, rec)
	full := len(o.queue) >= applyFull
	o.qmu.Unlock()
	signal(o.wake)
	if full {
		signal(o.flush)
	}
	return rec.Seq, nil
}

// add adds one request (requests: 1) or none, tokens and dollars to the
// windows of id; a missing window is created only when a request is
// counted (as Store's upsert), otherwise left alone (as its UPDATE).
func (o *Owner) add(id string, minute, day, month int64, requests, tokens, usd int64) {
	for _, k := range [3]windowKey{{id, spanMinute, minute}, {id, spanDay, day}, {id, spanMonth, month}} {
		u, ok := o.windows[k]
		if !ok && requests == 0 {
			continue
		}
		u.requests += requests
		u.tokens += tokens
		u.usd += usd
		o.windows[k] = u
	}
}

// adjust adds tokens and dollars to r's windows, its tenant's too when it
// counted there.
func (o *Owner) adjust(r *ledgerlog.Reservation, tokens, usd int64) {
	if tokens == 0 && usd == 0 {
		return
	}
	o.add(r.PrincipalID, r.Minute, r.Day, r.Month, 0, tokens, usd)
	if r.TenantWindows {
		o.add(quota.TenantWindowsID(r.Tenant), r.Minute, r.Day, r.Month, 0, tokens, usd)
	}
}

func (o *Owner) have(id string, minute, day, month int64) (m, d, mo used) {
	return o.windows[windowKey{id, spanMinute, minute}], o.windows[windowKey{id, spanDay, day}],
		o.windows[windowKey{id, spanMonth, month}]
}

// logged is r as the log and the memory keep it.
func logged(r *quota.Reservation) (ledgerlog.Reservation, error) {
	lr := ledgerlog.Reservation{
		ID: r.ID, PrincipalID: r.PrincipalID, Tenant: r.Tenant, Model: r.Model, Protocol: r.Protocol,
		Tokens: r.Tokens, CostMicros: r.CostMicros, TenantWindows: countsTenant(*r),
	}
	for _, t := range []struct {
		at  time.Time
		out *int64
	}{{r.Windows.Minute, &lr.Minute}, {r.Windows.Day, &lr.Day}, {r.Windows.Month, &lr.Month},
		{r.CreatedAt, &lr.CreatedAt}, {r.ExpiresAt, &lr.ExpiresAt}} {
		n, err := toNanos(t.at)
		if err != nil {
			return ledgerlog.Reservation{}, err
		}
		*t.out = n
	}
	return lr, nil
}

// Reserve is Store.Reserve, decided in memory and logged.
func (o *Owner) Reserve(ctx context.Context, r quota.Reservation, limits record.Limits) (quota.Status, error) {
	if r.ID == "" || r.PrincipalID == "" {
		return quota.Status{}, fmt.Errorf("sqlite: reserve %q: reservation id and principal id are required", r.ID)
	}
	if r.Tokens < 0 {
		return quota.Status{}, fmt.Errorf("sqlite: reserve %q: negative tokens", r.ID)
	}
	if err := ctx.Err(); err != nil {
		return quota.Status{}, fmt.Errorf("sqlite: reserve %q: %w", r.ID, err)
	}
	lr, err := logged(&r)
	if err != nil {
		return quota.Status{}, fmt.Errorf("sqlite: reserve %q: %w", r.ID, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.pending[r.ID]; ok {
		return quota.Status{}, fmt.Errorf("sqlite: reserve %q: already pending: %w", r.ID, record.ErrExists)
	}
	minute, day, month := o.have(r.PrincipalID, lr.Minute, lr.Day, lr.Month)
	if d := deny(r, limits, minute, day, month); d != nil {
		return status(limits, minute, r.Windows), d
	}
	if lr.TenantWindows {
		tm, td, tmo := o.have(quota.TenantWindowsID(r.Tenant), lr.Minute, lr.Day, lr.Month)
		if d := deny(r, *r.TenantLimits, tm, td, tmo); d != nil {
			d.Tenant = r.Tenant
			return status(limits, minute, r.Windows), d
		}
	}
	if _, err := o.commit("reserve", ledgerlog.Record{Op: ledgerlog.OpReserve, Reservation: lr}); err != nil {
		return quota.Status{}, err
	}
	o.add(r.PrincipalID, lr.Minute, lr.Day, lr.Month, 1, r.Tokens, r.CostMicros)
	if lr.TenantWindows {
		o.add(quota.TenantWindowsID(r.Tenant), lr.Minute, lr.Day, lr.Month, 1, r.Tokens, r.CostMicros)
	}
	o.pending[r.ID] = lr
	return status(limits, used{minute.requests + 1, minute.tokens + r.Tokens, minute.usd + r.CostMicros}, r.Windows), nil
}

// Settle is Store.Settle, decided in memory and logged. A settlement of a
// reservation no longer pending (rare) waits for the applier and reads the
// ledger in SQLite for an earlier settlement of the request.
func (o *Owner) Settle(ctx context.Context, st quota.Settlement) (quota.Entry, error) {
	id := st.Reservation.ID
	if st.PromptTokens < 0 || st.CompletionTokens < 0 {
		return quota.Entry{}, fmt.Errorf("sqlite: settle %q: negative usage", id)
	}
	if err := ctx.Err(); err != nil {
		return quota.Entry{}, fmt.Errorf("sqlite: settle %q: %w", id, err)
	}
	if st.At.IsZero() {
		st.At = time.Now()
	}
	at, err := toNanos(st.At)
	if err != nil {
		return quota.Entry{}, fmt.Errorf("sqlite: settle %q: %w", id, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	p, pending := o.pending[id]
	if !pending {
		if p, err = o.settleLate(ctx, st); err != nil {
			return quota.Entry{}, fmt.Errorf("sqlite: settle %q: %w", id, err)
		}
	}
	u := ledgerlog.Usage{
		Prompt: st.PromptTokens, Completion: st.CompletionTokens, Cached: st.CachedTokens, CacheWrite: st.CacheWriteTokens,
		CostMicros: st.CostMicros, PriceInput: int64(st.Price.Input), PriceOutput: int64(st.Price.Output),
		PriceCachedInput: int64(st.Price.CachedInput), PriceCacheWrite: int64(st.Price.CacheWrite),
		Unpriced: st.Unpriced, At: at, Late: !pending,
	}
	if _, err := o.commit("settle", ledgerlog.Record{Op: ledgerlog.OpSettle, Reservation: p, Usage: u}); err != nil {
		return quota.Entry{}, err
	}
	real := st.PromptTokens + st.CompletionTokens
	if pending {
		delete(o.pending, id)
		o.adjust(&p, real-p.Tokens, st.CostMicros-p.CostMicros)
	} else {
		// The release gave the reserved tokens back: count them all.
		o.adjust(&p, real, st.CostMicros)
	}
	return quota.Entry{
		RequestID: id, PrincipalID: p.PrincipalID, Tenant: p.Tenant, Model: p.Model, Protocol: p.Protocol, Late: !pending,
		PromptTokens: st.PromptTokens, CompletionTokens: st.CompletionTokens, ReservedTokens: p.Tokens,
		CachedTokens: st.CachedTokens, CacheWriteTokens: st.CacheWriteTokens,
		CostMicros: st.CostMicros, Price: st.Price, Unpriced: st.Unpriced,
		At: fromNanos(at),
	}, nil
}

// settleLate is Store.settleLate for the Owner; o.mu is held, so once the
// applier has caught up, SQLite holds every settlement there is.
func (o *Owner) settleLate(ctx context.Context, st quota.Settlement) (ledgerlog.Reservation, error) {
	r := st.Reservation
	if r.PrincipalID == "" {
		return ledgerlog.Reservation{}, fmt.Errorf("no pending reservation: %w", record.ErrNotFound)
	}
	p, err := logged(&r)
	if err != nil {
		return ledgerlog.Reservation{}, err
	}
	if err := o.waitApplied(ctx, o.seq); err != nil {
		return ledgerlog.Reservation{}, err
	}
	var one int
	err = o.reader.QueryRowContext(ctx, `SELECT 1 FROM usage_ledger WHERE at >= ?1 AND request_id = ?2 LIMIT 1`,
		p.CreatedAt, r.ID).Scan(&one)
	switch {
	case err == nil:
		return ledgerlog.Reservation{}, fmt.Errorf("no pending reservation, already settled: %w", record.ErrNotFound)
	case !errors.Is(err, sql.ErrNoRows):
		return ledgerlog.Reservation{}, err
	}
	return p, nil
}

// Extend is Store.Extend, in memory and logged when the expiry moves.
func (o *Owner) Extend(ctx context.Context, id string, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: extend %q: %w", id, err)
	}
	exp, err := toNanos(expiresAt)
	if err != nil {
		return fmt.Errorf("sqlite: extend %q: %w", id, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	p, ok := o.pending[id]
	if !ok {
		return fmt.Errorf("sqlite: extend %q: no pending reservation: %w", id, record.ErrNotFound)
	}
	if exp <= p.ExpiresAt {
		return nil
	}
	rec := ledgerlog.Record{Op: ledgerlog.OpExtend, Reservation: ledgerlog.Reservation{ID: id, ExpiresAt: exp}}
	if _, err := o.commit("extend", rec); err != nil {
		return err
	}
	p.ExpiresAt = exp
	o.pending[id] = p
	return nil
}

// Release is Store.Release, in memory and logged.
func (o *Owner) Release(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: release %q: %w", id, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	p, ok := o.pending[id]
	if !ok {
		return fmt.Errorf("sqlite: release %q: no pending reservation: %w", id, record.ErrNotFound)
	}
	if _, err := o.commit("release", ledgerlog.Record{Op: ledgerlog.OpRelease, Reservation: p}); err != nil {
		return err
	}
	delete(o.pending, id)
	o.adjust(&p, -p.Tokens, -p.CostMicros)
	return nil
}

// ExpireReservations is Store.ExpireReservations, in memory and logged;
// it returns once its record is applied to SQLite, so that other
// processes see the releases when it has returned.
func (o *Owner) ExpireReservations(ctx context.Context, now time.Time) (int, error) {
	const op = "expire reservations"
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	cutoff, err := toNanos(now)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	o.mu.Lock()
	var expired []ledgerlog.Reservation
	for _, p := range o.pending {
		if p.ExpiresAt < cutoff {
			expired = append(expired, p)
		}
	}
	seq, err := o.commit(op, ledgerlog.Record{Op: ledgerlog.OpExpire, Expired: expired, Now: cutoff})
	if err != nil {
		o.mu.Unlock()
		return 0, err
	}
	for i := range expired {
		delete(o.pending, expired[i].ID)
		o.adjust(&expired[i], -expired[i].Tokens, -expired[i].CostMicros)
	}
	before := pruneBefore(now)
	for k := range o.windows {
		if b, ok := before[k.span]; ok && k.start < b {
			delete(o.windows, k)
		}
	}
	o.mu.Unlock()
	if err := o.waitApplied(ctx, seq); err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return len(expired), nil
}

// Usage is Store.Usage once every change made so far is applied.
func (o *Owner) Usage(ctx context.Context, q quota.Query) ([]quota.Entry, error) {
	o.mu.Lock()
	seq := o.seq
	o.mu.Unlock()
	if err := o.waitApplied(ctx, seq); err != nil {
		return nil, fmt.Errorf("sqlite: usage: %w", err)
	}
	return o.Store.Usage(ctx, q)
}

// signal sends on the 1-buffered ch unless a signal already waits there.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// waitApplied waits until the record seq is applied to SQLite; the
// applier applies what is queued without waiting for more.
func (o *Owner) waitApplied(ctx context.Context, seq uint64) error {
	asked := false
	for {
		o.qmu.Lock()
		applied, err, ch := o.applied, o.applyErr, o.advanced
		o.qmu.Unlock()
		switch {
		case applied >= seq:
			return nil
		case err != nil:
			return fmt.Errorf("ledger log not applied: %w", err)
		}
		if !asked {
			// Once: the applier applies its whole queue, which holds seq.
			signal(o.flush)
			asked = true
		}
		select {
		case <-ch:
		case <-o.done:
			return errors.New("ledger log not applied: the store is closed")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// apply is the applier: it applies the queued records in batches, at
// most every applyDelay unless asked to flush, until Close, then what is
// left.
func (o *Owner) apply() {
	defer close(o.done)
	retry := time.Duration(0)
	gather := time.NewTimer(applyDelay)
	gather.Stop()
	for {
		var timer <-chan time.Time
		if retry > 0 {
			timer = time.After(retry)
		}
		stopping := false
		select {
		case <-o.wake:
			gather.Reset(applyDelay)
			select {
			case <-gather.C:
			case <-o.flush:
				gather.Stop()
			case <-o.stop:
				stopping = true
			}
		case <-o.flush:
		case <-timer:
		case <-o.stop:
			stopping = true
		}
		if err := o.applyQueued(); err != nil {
			if stopping {
				return // the log keeps the records: the next open applies them
			}
			retry = min(max(2*retry, 10*time.Millisecond), time.Second)
			continue
		}
		retry = 0
		if stopping {
			return
		}
		o.tryTruncate()
	}
}

// applyQueued applies the queue, in batches, until it is empty.
func (o *Owner) applyQueued() error {
	for {
		o.qmu.Lock()
		n := min(len(o.queue), replayBatch)
		batch := o.queue[:n:n]
		o.qmu.Unlock()
		if n == 0 {
			return nil
		}
		err := o.applyLog(context.Background(), batch)
		o.qmu.Lock()
		if err == nil {
			o.queue = o.queue[n:]
			if len(o.queue) == 0 {
				o.queue = nil
			}
			o.applied = batch[n-1].Seq
		}
		o.applyErr = err
		close(o.advanced)
		o.advanced = make(chan struct{})
		o.qmu.Unlock()
		if err != nil {
			return err
		}
	}
}

// tryTruncate empties the log when every record in it is applied. It
// never waits for o.mu (a ledger call holding it may be waiting for the
// applier): the next batch tries again. Past maxLogBytes it applies what
// queued meanwhile itself, under o.mu, to get there.
func (o *Owner) tryTruncate() {
	if !o.mu.TryLock() {
		return
	}
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	if o.log.Size() > maxLogBytes {
		if err := o.applyQueued(); err != nil {
			return
		}
	}
	o.qmu.Lock()
	caughtUp := o.applied == o.seq
	o.qmu.Unlock()
	if caughtUp && o.log.Size() > 0 {
		o.log.Truncate() // on failure the log only keeps applied records, skipped at replay
	}
}

// Close applies every record to SQLite, empties the log, and closes the
// database and releases the lock. Calls after it fail.
func (o *Owner) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	o.mu.Unlock()
	close(o.stop)
	<-o.done
	var errs []error
	o.qmu.Lock()
	if o.applyErr != nil {
		errs = append(errs, fmt.Errorf("sqlite: close: the ledger log stays to be applied at the next open: %w", o.applyErr))
	} else if o.applied == o.seq {
		errs = append(errs, o.log.Truncate())
	}
	o.qmu.Unlock()
	errs = append(errs, o.log.Close(), o.Store.Close(), o.lock.unlock())
	return errors.Join(errs...)
}
