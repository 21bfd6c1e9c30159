package dynamodb

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/storetest"
)

// These tests stop the multi-step writes between two steps, as a crash
// would, by running the steps by hand, and check that what is left is
// harmless or repaired.

var crashBase = time.Date(2025, time.March, 14, 15, 9, 26, 535_897_932, time.UTC)

func crashReservation(id string, tokens int64) quota.Reservation {
	return quota.Reservation{
		ID: id, PrincipalID: "p", Tenant: "acme", Model: "m", Tokens: tokens,
		Windows: quota.WindowsAt(crashBase), CreatedAt: crashBase, ExpiresAt: crashBase.Add(10 * time.Minute),
	}
}

// windowTotals returns the minute, day and month totals of principal p.
func windowTotals(t *testing.T, s *Store, p string, at time.Time) [3]counters {
	t.Helper()
	var out [3]counters
	for i, w := range windowsOf(quota.WindowsAt(at)) {
		c, err := s.readCounters(t.Context(), item{"pk": w.key(p)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = c
	}
	return out
}

func ledgerRows(t *testing.T, s *Store) []quota.Entry {
	t.Helper()
	es, err := s.Usage(t.Context(), quota.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestSettlementCommittedBeforeACrashIsFinishedByExpiry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps func(t *testing.T, s *Store, r quota.Reservation, e quota.Entry)
	}{
		{"crash right after the commit", func(*testing.T, *Store, quota.Reservation, quota.Entry) {}},
		{"crash after the ledger row", func(t *testing.T, s *Store, r quota.Reservation, e quota.Entry) {
			row, _ := ledgerItem(e)
			if _, err := s.client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(s.t.ledger), Item: row}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openClosing(t)
			ctx := t.Context()
			l := record.Limits{TPM: 1000, TokensPerDay: 5000}
			r := crashReservation("r1", 800)
			if _, err := s.Reserve(ctx, r, l); err != nil {
				t.Fatal(err)
			}
			st := quota.Settlement{Reservation: quota.Reservation{ID: "r1"}, PromptTokens: 100, CompletionTokens: 50, At: crashBase.Add(time.Second)}
			cr, e, _, err := s.commitSettlement(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			tc.steps(t, s, cr, e)

			// Committed: no one else can settle or release it meanwhile.
			if _, err := s.Settle(ctx, st); !errors.Is(err, record.ErrNotFound) {
				t.Errorf("Settle after a committed settlement = %v, want ErrNotFound", err)
			}
			if err := s.Release(ctx, "r1"); !errors.Is(err, record.ErrNotFound) {
				t.Errorf("Release after a committed settlement = %v, want ErrNotFound", err)
			}
			// Until repaired the windows hold the reserved 800: budget held
			// back, not overspent.
			if got := windowTotals(t, s, "p", crashBase); got[1].tokens != 800 {
				t.Errorf("day before the repair = %+v, want the 800 reserved", got[1])
			}
			// Not yet expired: left alone.
			if n, err := s.ExpireReservations(ctx, crashBase.Add(time.Minute)); err != nil || n != 0 {
				t.Fatalf("ExpireReservations before expiry = %d, %v", n, err)
			}
			// Expired: finished, not released (a settlement is not counted).
			for range 2 {
				if n, err := s.ExpireReservations(ctx, r.ExpiresAt.Add(time.Second)); err != nil || n != 0 {
					t.Fatalf("ExpireReservations after expiry = %d, %v; want 0 released", n, err)
				}
			}
			rows := ledgerRows(t, s)
			if len(rows) != 1 || rows[0] != e {
				t.Errorf("ledger = %+v, want exactly %+v", rows, e)
			}
			for i, c := range windowTotals(t, s, "p", crashBase) {
				if c.tokens != 150 || c.requests != 1 {
					t.Errorf("window %d after the repair = %+v, want 1 request, 150 tokens", i, c)
				}
			}
		})
	}
}

// Settle's finishing steps racing with ExpireReservations finishing the
// same settlement: one ledger row, one adjustment.
func TestConcurrentFinishersAdjustOnce(t *testing.T) {
	s := openClosing(t)
	ctx := t.Context()
	r := crashReservation("r1", 500)
	if _, err := s.Reserve(ctx, r, record.Limits{}); err != nil {
		t.Fatal(err)
	}
	cr, e, nonce, err := s.commitSettlement(ctx, quota.Settlement{Reservation: quota.Reservation{ID: "r1"}, PromptTokens: 7, CompletionTokens: 3, At: crashBase})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.finishSettlement(ctx, cr, e, nonce); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() {
		if _, err := s.ExpireReservations(ctx, r.ExpiresAt.Add(time.Second)); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	if rows := ledgerRows(t, s); len(rows) != 1 {
		t.Errorf("ledger = %+v, want one row", rows)
	}
	for i, c := range windowTotals(t, s, "p", crashBase) {
		if c.tokens != 10 {
			t.Errorf("window %d = %+v, want 10 tokens", i, c)
		}
	}
}

// A late settlement (its reservation expired) committed before a crash is
// finished by ExpireReservations, counting all its tokens; one that
// duplicates an earlier settlement is undone, counting nothing.
func TestLateSettlementCommittedBeforeACrashIsFinishedByExpiry(t *testing.T) {
	for _, tc := range []struct {
		name          string
		settledBefore bool
		wantTokens    int64
	}{
		{"the first settlement", false, 150},
		{"a duplicate of a settlement in time", true, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openClosing(t)
			ctx := t.Context()
			r := crashReservation("r1", 800)
			if _, err := s.Reserve(ctx, r, record.Limits{}); err != nil {
				t.Fatal(err)
			}
			if tc.settledBefore {
				if _, err := s.Settle(ctx, quota.Settlement{Reservation: r, PromptTokens: 10, CompletionTokens: 20, At: crashBase}); err != nil {
					t.Fatal(err)
				}
			} else if n, err := s.ExpireReservations(ctx, r.ExpiresAt.Add(time.Second)); err != nil || n != 1 {
				t.Fatalf("ExpireReservations = %d, %v; want 1", n, err)
			}
			st := quota.Settlement{Reservation: r, PromptTokens: 100, CompletionTokens: 50, At: r.ExpiresAt.Add(time.Minute)}
			if _, _, _, err := s.commitLateSettlement(ctx, st); err != nil {
				t.Fatal(err)
			}
			// The crash. Committed: no other settlement gets in meanwhile.
			if _, err := s.Settle(ctx, st); !errors.Is(err, record.ErrNotFound) {
				t.Errorf("Settle after a committed late settlement = %v, want ErrNotFound", err)
			}
			for range 2 {
				if n, err := s.ExpireReservations(ctx, st.At.Add(time.Hour)); err != nil || n != 0 {
					t.Fatalf("ExpireReservations = %d, %v; want 0 released", n, err)
				}
			}
			rows := ledgerRows(t, s)
			if len(rows) != 1 || rows[0].PromptTokens+rows[0].CompletionTokens != tc.wantTokens {
				t.Errorf("ledger = %+v, want one row of %d tokens", rows, tc.wantTokens)
			}
			for i, c := range windowTotals(t, s, "p", crashBase) {
				if c.tokens != tc.wantTokens || c.requests != 1 {
					t.Errorf("window %d = %+v, want 1 request, %d tokens", i, c, tc.wantTokens)
				}
			}
		})
	}
}

// A finisher of a settlement that runs behind (the settlement was finished
// meanwhile) must not take a later late settlement's item, which has the
// same id: it would adjust the windows a second time.
func TestStaleFinisherLeavesALaterLateSettlementAlone(t *testing.T) {
	s := openClosing(t)
	ctx := t.Context()
	r := crashReservation("r1", 500)
	if _, err := s.Reserve(ctx, r, record.Limits{}); err != nil {
		t.Fatal(err)
	}
	cr, e, nonce, err := s.commitSettlement(ctx, quota.Settlement{Reservation: r, PromptTokens: 7, CompletionTokens: 3, At: crashBase})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.finishSettlement(ctx, cr, e, nonce); err != nil {
		t.Fatal(err)
	}
	lr, le, lnonce, err := s.commitLateSettlement(ctx, quota.Settlement{Reservation: r, PromptTokens: 70, CompletionTokens: 30, At: crashBase.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.finishSettlement(ctx, cr, e, nonce); err != nil {
		t.Fatalf("stale finisher: %v", err)
	}
	if err := s.finishSettlement(ctx, lr, le, lnonce); !errors.Is(err, errSettledBefore) {
		t.Errorf("finishing the late duplicate = %v, want errSettledBefore", err)
	}
	if rows := ledgerRows(t, s); len(rows) != 1 || rows[0].PromptTokens != 7 {
		t.Errorf("ledger = %+v, want the first settlement only", rows)
	}
	for i, c := range windowTotals(t, s, "p", crashBase) {
		if c.tokens != 10 {
			t.Errorf("window %d = %+v, want 10 tokens", i, c)
		}
	}
	if n, err := s.ExpireReservations(ctx, r.ExpiresAt.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("ExpireReservations = %d, %v; want nothing left", n, err)
	}
}

// Reserve crashing after counting some windows, before the reservation
// item: the windows stay counted, so later reservations get less, never
// more, than the budget.
func TestReserveCrashBeforeTheReservationItemOnlyHoldsBudgetBack(t *testing.T) {
	s := openClosing(t)
	ctx := t.Context()
	l := record.Limits{TokensPerDay: 1000}
	ws := windowsOf(quota.WindowsAt(crashBase))
	for _, w := range ws[:2] { // minute and day counted, then the crash
		if _, d, err := s.count(ctx, w, "p", 300, 0, l); err != nil || d != nil {
			t.Fatal(d, err)
		}
	}
	if _, err := s.Reserve(ctx, crashReservation("r1", 701), l); err == nil {
		t.Fatal("Reserve of more than is left succeeded although 300 were counted before a crash")
	}
	if _, err := s.Reserve(ctx, crashReservation("r2", 700), l); err != nil {
		t.Fatalf("Reserve of what is left: %v", err)
	}
	// Nothing to settle, release or expire for the crashed one.
	if err := s.Release(ctx, "crashed"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("Release = %v, want ErrNotFound", err)
	}
}

func TestReserveWithADuplicateIDGivesEverythingBack(t *testing.T) {
	s := openClosing(t)
	ctx := t.Context()
	l := record.Limits{RPM: 10, TPM: 1000}
	if _, err := s.Reserve(ctx, crashReservation("r1", 100), l); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve(ctx, crashReservation("r1", 200), l); !errors.Is(err, record.ErrExists) {
		t.Fatalf("Reserve with a pending id = %v, want ErrExists", err)
	}
	for i, c := range windowTotals(t, s, "p", crashBase) {
		if c != (counters{1, 100, 0}) {
			t.Errorf("window %d = %+v, want only the first reservation", i, c)
		}
	}
}

// UpdateKey crashing after its commit, before copying the event: the event
// is still in the history (from the key item), and the next update copies
// it before replacing it.
func TestKeyUpdateCrashAfterTheCommitLosesNoEvent(t *testing.T) {
	s := openClosing(t)
	ctx := t.Context()
	k := storetest.NewKey("k1")
	if err := s.CreateKey(ctx, k, record.AuditEvent{Action: "created", Actor: "a0", At: crashBase}); err != nil {
		t.Fatal(err)
	}
	// Version 2 committed by hand: the key item only, no copy.
	v2 := *k
	v2.Version = 2
	it, err := keyItem(&v2, record.AuditEvent{Action: "rotated", Actor: "a1", At: crashBase})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.t.keys), Item: it}); err != nil {
		t.Fatal(err)
	}
	history := func() string {
		t.Helper()
		evs, err := s.KeyHistory(ctx, "k1")
		if err != nil {
			t.Fatal(err)
		}
		var out string
		for _, ev := range evs {
			out += ev.Actor + " "
		}
		return out
	}
	if got := history(); got != "a0 a1 " {
		t.Fatalf("history after the crash = %q, want a0 a1", got)
	}
	v3 := v2
	v3.Version = 3
	if err := s.UpdateKey(ctx, &v3, record.AuditEvent{Action: "revoked", Actor: "a2", At: crashBase}); err != nil {
		t.Fatal(err)
	}
	if got := history(); got != "a0 a1 a2 " {
		t.Fatalf("history after the next update = %q, want a0 a1 a2", got)
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.t.events), KeyConditionExpression: aws.String("key_id = :id"),
		ExpressionAttributeValues: item{":id": attrS("k1")}, ConsistentRead: aws.Bool(true),
	})
	if err != nil || len(out.Items) != 3 {
		t.Fatalf("key_events holds %d events (%v), want all 3 copied", len(out.Items), err)
	}
}

// UpdateKey crashing after copying the previous event, before its commit:
// nothing of the update shows, and the next update goes through.
func TestKeyUpdateCrashBeforeTheCommitLeavesNoTrace(t *testing.T) {
	s := openClosing(t)
	ctx := t.Context()
	k := storetest.NewKey("k1")
	if err := s.CreateKey(ctx, k, record.AuditEvent{Action: "created", Actor: "a0", At: crashBase}); err != nil {
		t.Fatal(err)
	}
	cur, err := s.getKeyItem(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.copyEvent(ctx, cur); err != nil { // step 2, then the crash
		t.Fatal(err)
	}
	if evs, err := s.KeyHistory(ctx, "k1"); err != nil || len(evs) != 1 {
		t.Fatalf("history = %+v, %v; want only the creation", evs, err)
	}
	next := *k
	next.Version, next.Name = 2, "renamed"
	if err := s.UpdateKey(ctx, &next, record.AuditEvent{Action: "rotated", Actor: "a1"}); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.KeyHistory(ctx, "k1"); err != nil || len(evs) != 2 || evs[1].Actor != "a1" {
		t.Fatalf("history = %+v, %v; want created, rotated", evs, err)
	}
}

// 64 goroutines reserve, settle (or release) against one budget through
// dynalite, many rounds each: at no point does any window exceed its limit,
// and at the end the windows hold exactly what the ledger says.
func TestConcurrentReserveSettleReleaseKeepTheBooks(t *testing.T) {
	s := openClosing(t)
	const (
		goroutines = 64
		rounds     = 6
		budget     = 20_000
	)
	l := record.Limits{TPM: budget, TokensPerDay: budget, TokensPerMonth: budget}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		granted  int
		denied   int
		released int
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				id := fmt.Sprintf("g%d-%d", g, i)
				tokens := int64(100 + (g*7+i*13)%400)
				_, err := s.Reserve(t.Context(), crashReservation(id, tokens), l)
				var d *quota.Denial
				if errors.As(err, &d) {
					mu.Lock()
					denied++
					mu.Unlock()
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				granted++
				mu.Unlock()
				if (g+i)%5 == 0 {
					if err := s.Release(t.Context(), id); err != nil {
						t.Error(err)
					}
					mu.Lock()
					released++
					mu.Unlock()
					continue
				}
				// Real usage at most the reservation, as an upper bound is.
				used := tokens / int64(1+(g+i)%3)
				if _, err := s.Settle(t.Context(), quota.Settlement{Reservation: quota.Reservation{ID: id}, PromptTokens: used / 2, CompletionTokens: used - used/2, At: crashBase}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	// While they run, the windows are read again and again: no read may
	// find one over its limit (the end state alone would not show a
	// moment over it).
	done := make(chan struct{})
	watched := make(chan int)
	go func() {
		samples := 0
		defer func() { watched <- samples }()
		for {
			select {
			case <-done:
				return
			default:
			}
			for i, w := range windowsOf(quota.WindowsAt(crashBase)) {
				c, err := s.readCounters(t.Context(), item{"pk": w.key("p")}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if c.tokens > budget {
					t.Errorf("window %d held %d tokens while requests ran, over the budget %d", i, c.tokens, budget)
				}
			}
			samples++
		}
	}()
	wg.Wait()
	close(done)
	if n := <-watched; n == 0 {
		t.Error("the windows were never read while requests ran")
	}
	var sum int64
	rows := ledgerRows(t, s)
	for _, e := range rows {
		sum += e.PromptTokens + e.CompletionTokens
	}
	if len(rows) != granted-released {
		t.Errorf("ledger has %d rows, want %d settled", len(rows), granted-released)
	}
	for i, c := range windowTotals(t, s, "p", crashBase) {
		if c.tokens != sum || c.tokens > budget {
			t.Errorf("window %d holds %d tokens, the ledger %d (budget %d)", i, c.tokens, sum, budget)
		}
		if c.requests != int64(granted) {
			t.Errorf("window %d counts %d requests, want the %d granted", i, c.requests, granted)
		}
	}
	if denied == 0 {
		t.Error("no reservation was denied: the budget was never under pressure")
	}
	t.Logf("%d granted (%d released), %d denied; %d tokens settled of %d", granted, released, denied, sum, budget)
}
