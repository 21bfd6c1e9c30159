package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/store/ledgerlog"
)

// applyOneByOne applies rec alone, statement by statement as the ledger
// methods of Store write (the applier did so before it coalesced), in its
// own transaction with its sequence number: the reference the coalesced
// apply must equal.
func applyOneByOne(t *testing.T, s *Store, rec *ledgerlog.Record) {
	t.Helper()
	err := s.write(t.Context(), "apply one", func(ctx context.Context, tx *sql.Tx) error {
		exec := func(q string, args ...any) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		}
		windows := func(r *ledgerlog.Reservation) []string {
			ids := []string{r.PrincipalID}
			if r.TenantWindows {
				ids = append(ids, quota.TenantWindowsID(r.Tenant))
			}
			return ids
		}
		adjust := func(r *ledgerlog.Reservation, tokens, usd int64) error {
			if tokens == 0 && usd == 0 {
				return nil
			}
			for _, id := range windows(r) {
				if err := exec(`UPDATE quota_windows SET tokens = tokens + ?5, usd = usd + ?6 WHERE `+windowsPredicate,
					id, r.Minute, r.Day, r.Month, tokens, usd); err != nil {
					return err
				}
			}
			return nil
		}
		unreserve := func(r *ledgerlog.Reservation) error {
			if err := exec(`DELETE FROM quota_reservations WHERE id = ?`, r.ID); err != nil {
				return err
			}
			return adjust(r, -r.Tokens, -r.CostMicros)
		}
		r := &rec.Reservation
		var err error
		switch rec.Op {
		case ledgerlog.OpReserve:
			err = exec(`INSERT INTO quota_reservations (id, principal_id, tenant, model, protocol, tokens, minute_start,
				day_start, month_start, cost_micros, tenant_windows, created_at, expires_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				r.ID, r.PrincipalID, r.Tenant, r.Model, r.Protocol, r.Tokens, r.Minute, r.Day, r.Month,
				r.CostMicros, r.TenantWindows, r.CreatedAt, r.ExpiresAt)
			for _, id := range windows(r) {
				if err == nil {
					err = exec(`INSERT INTO quota_windows (principal_id, span, start, requests, tokens, usd)
						VALUES (?1, 'minute', ?2, 1, ?5, ?6), (?1, 'day', ?3, 1, ?5, ?6), (?1, 'month', ?4, 1, ?5, ?6)
						ON CONFLICT (principal_id, span, start) DO UPDATE SET
						requests = requests + 1, tokens = tokens + excluded.tokens, usd = usd + excluded.usd`,
						id, r.Minute, r.Day, r.Month, r.Tokens, r.CostMicros)
				}
			}
		case ledgerlog.OpSettle:
			u := &rec.Usage
			err = exec(`DELETE FROM quota_reservations WHERE id = ?`, r.ID)
			real, cost := u.Prompt+u.Completion, u.CostMicros
			if !u.Late {
				real, cost = real-r.Tokens, cost-r.CostMicros
			}
			if err == nil {
				err = adjust(r, real, cost)
			}
			if err == nil {
				err = exec(`INSERT INTO usage_ledger (request_id, principal_id, tenant, model, protocol, prompt_tokens,
					completion_tokens, reserved_tokens, at, cached_tokens, cache_write_tokens, cost_micros, price_input,
					price_output, price_cached_input, price_cache_write, unpriced)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.PrincipalID,
					r.Tenant, r.Model, r.Protocol, u.Prompt, u.Completion, r.Tokens, u.At,
					u.Cached, u.CacheWrite, u.CostMicros, u.PriceInput, u.PriceOutput, u.PriceCachedInput,
					u.PriceCacheWrite, u.Unpriced)
			}
		case ledgerlog.OpRelease:
			err = unreserve(r)
		case ledgerlog.OpExtend:
			err = exec(`UPDATE quota_reservations SET expires_at = max(expires_at, ?2) WHERE id = ?1`, r.ID, r.ExpiresAt)
		case ledgerlog.OpExpire:
			for i := range rec.Expired {
				if err == nil {
					err = unreserve(&rec.Expired[i])
				}
			}
			if err == nil {
				err = s.prune(ctx, tx, fromNanos(rec.Now))
			}
		default:
			err = fmt.Errorf("unknown operation %d", rec.Op)
		}
		if err != nil {
			return err
		}
		return exec(`UPDATE ledger_log SET applied_seq = ? WHERE id = 1`, int64(rec.Seq))
	})
	if err != nil {
		t.Fatalf("apply record %d one by one: %v", rec.Seq, err)
	}
}

// ledgerTables is every row of the ledger's tables, as text.
func ledgerTables(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT principal_id, span, start, requests, tokens, usd FROM quota_windows ORDER BY principal_id, span, start`,
		`SELECT * FROM quota_reservations ORDER BY id`,
		`SELECT * FROM usage_ledger ORDER BY at, request_id`,
		`SELECT * FROM ledger_log`,
	} {
		rows, err := s.reader.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		fmt.Fprintf(&b, "%s\n", q)
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%v\n", vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}

// randomLog is n records as an Owner writes them: reserves of ids not
// pending (some ids reused once settled), settlements of pending ones and
// late ones of ids released or expired, releases, extends (some that do
// not move the expiry), expiries of what is due, with tenant windows, and
// windows old enough for an expiry to prune some.
func randomLog(rng *rand.Rand, n int) []ledgerlog.Record {
	now := time.Date(2026, 3, 31, 23, 59, 30, 0, time.UTC)
	var (
		recs    []ledgerlog.Record
		pending []ledgerlog.Reservation
		gone    []ledgerlog.Reservation // released or expired: may settle late
		done    []string                // settled: an id a reserve may reuse
		next    int
	)
	take := func(list *[]ledgerlog.Reservation) ledgerlog.Reservation {
		i := rng.IntN(len(*list))
		r := (*list)[i]
		*list = slices.Delete(*list, i, i+1)
		return r
	}
	emit := func(rec ledgerlog.Record) {
		rec.Seq = uint64(len(recs) + 1)
		recs = append(recs, rec)
	}
	for len(recs) < n {
		now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
		switch k := rng.IntN(100); {
		case k < 35 || len(pending) == 0:
			id := fmt.Sprintf("r%d", next)
			next++
			if len(done) > 0 && rng.IntN(5) == 0 {
				id = done[rng.IntN(len(done))]
			}
			if slices.ContainsFunc(pending, func(p ledgerlog.Reservation) bool { return p.ID == id }) {
				continue
			}
			at := now
			if rng.IntN(4) == 0 {
				at = now.Add(-time.Duration(1+rng.IntN(60)) * 24 * time.Hour) // a window an expiry prunes
			}
			w := quota.WindowsAt(at)
			r := ledgerlog.Reservation{ID: id, PrincipalID: fmt.Sprintf("key:p%d", rng.IntN(3)),
				Tenant: fmt.Sprintf("t%d", rng.IntN(2)), Model: "echo", Protocol: "chat",
				Tokens: int64(rng.IntN(500)), CostMicros: int64(rng.IntN(3)) * 1000, TenantWindows: rng.IntN(2) == 0,
				Minute: w.Minute.UnixNano(), Day: w.Day.UnixNano(), Month: w.Month.UnixNano(),
				CreatedAt: now.UnixNano(), ExpiresAt: now.Add(time.Duration(rng.IntN(120)) * time.Second).UnixNano()}
			pending = append(pending, r)
			emit(ledgerlog.Record{Op: ledgerlog.OpReserve, Reservation: r})
		case k < 65:
			late := len(gone) > 0 && rng.IntN(6) == 0
			var r ledgerlog.Reservation
			if late {
				r = take(&gone)
			} else {
				r = take(&pending)
			}
			done = append(done, r.ID)
			emit(ledgerlog.Record{Op: ledgerlog.OpSettle, Reservation: r, Usage: ledgerlog.Usage{
				Prompt: int64(rng.IntN(300)), Completion: int64(rng.IntN(300)), Cached: int64(rng.IntN(10)),
				CostMicros: int64(rng.IntN(4)) * 700, PriceInput: 3, PriceOutput: 15, Unpriced: rng.IntN(9) == 0,
				At: now.UnixNano() + int64(next), Late: late}})
		case k < 75:
			r := take(&pending)
			gone = append(gone, r)
			emit(ledgerlog.Record{Op: ledgerlog.OpRelease, Reservation: r})
		case k < 92:
			i := rng.IntN(len(pending))
			exp := pending[i].ExpiresAt + int64(rng.IntN(60)-10)*int64(time.Second)
			if exp <= pending[i].ExpiresAt {
				continue // the Owner logs only an extend that moves the expiry
			}
			pending[i].ExpiresAt = exp
			emit(ledgerlog.Record{Op: ledgerlog.OpExtend, Reservation: ledgerlog.Reservation{ID: pending[i].ID, ExpiresAt: exp}})
		default:
			cutoff := now.UnixNano()
			var expired []ledgerlog.Reservation
			pending = slices.DeleteFunc(pending, func(p ledgerlog.Reservation) bool {
				if p.ExpiresAt < cutoff {
					expired = append(expired, p)
					return true
				}
				return false
			})
			gone = append(gone, expired...)
			emit(ledgerlog.Record{Op: ledgerlog.OpExpire, Expired: expired, Now: cutoff})
		}
	}
	return recs
}

// TestCoalescedApplyEqualsOneByOne: applying a random log in batches of
// random sizes (some batches again, as a replay after a crash does)
// leaves the ledger's tables, row for row, as applying its records one by
// one does, at every batch boundary.
func TestCoalescedApplyEqualsOneByOne(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 15))
			recs := randomLog(rng, 300)
			dir := t.TempDir()
			one := openClosing(t, filepath.Join(dir, "one.db"))
			batched := openClosing(t, filepath.Join(dir, "batched.db"))
			for i := 0; i < len(recs); {
				n := min(len(recs)-i, 1+rng.IntN(40))
				from := i
				if rng.IntN(5) == 0 {
					from = max(0, i-rng.IntN(10)) // some already applied: skipped
				}
				if err := batched.applyLog(t.Context(), recs[from:i+n]); err != nil {
					t.Fatalf("applyLog(records %d..%d): %v", from+1, i+n, err)
				}
				for j := i; j < i+n; j++ {
					applyOneByOne(t, one, &recs[j])
				}
				i += n
				if got, want := ledgerTables(t, batched), ledgerTables(t, one); got != want {
					t.Fatalf("after record %d, coalesced:\n%s\none by one:\n%s", i, got, want)
				}
			}
		})
	}
}
