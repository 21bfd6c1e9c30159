package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// oldDatabase creates a database as schema version 2 left it (before
// principal ids had a kind), with the statements run in it.
func oldDatabase(t *testing.T, stmts ...string) string {
	t.Helper()
	return databaseAt(t, 2, stmts...)
}

// databaseAt creates a database as schema version v left it, with the
// statements run in it.
func databaseAt(t *testing.T, v int, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aigate.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range append(migrations[:v:v], append([]string{fmt.Sprintf(`PRAGMA user_version = %d`, v)}, stmts...)...) {
		if _, err := db.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%.60s: %v", s, err)
		}
	}
	return path
}

// Migration 3 rewrites every stored principal id with its kind: a key's id
// becomes key:ID, anything else (a JWT subject, whose issuer was not
// recorded) jwt:#SUBJECT; windows keep counting, pending reservations settle
// to the new id, and the ledger reports by it.
func TestMigrationGivesStoredPrincipalIDsTheirKind(t *testing.T) {
	now := time.Now().UTC()
	w := quota.WindowsAt(now)
	windows := func(p string, requests, tokens int) string {
		return fmt.Sprintf(`('%s', 'minute', %d, %d, %d), ('%[1]s', 'day', %d, %[3]d, %[4]d), ('%[1]s', 'month', %d, %[3]d, %[4]d)`,
			p, w.Minute.UnixNano(), requests, tokens, w.Day.UnixNano(), w.Month.UnixNano())
	}
	path := oldDatabase(t,
		`INSERT INTO keys VALUES ('k1', 'key one', '', '["*"]', 0, 0, 0, 0, 'active', x'01', NULL, 0, '', 1, 1, 0, 0, 1)`,
		// k1 made two requests this minute, alice (a JWT subject) one.
		`INSERT INTO quota_windows VALUES `+windows("k1", 2, 30)+`, `+windows("alice", 1, 10),
		`INSERT INTO usage_ledger VALUES (1, 'r1', 'k1', '', 'echo', 10, 5, 100), (2, 'r2', 'alice', 'acme', 'echo', 4, 6, 100)`,
		// One request of k1 in flight across the upgrade.
		fmt.Sprintf(`INSERT INTO quota_reservations VALUES ('r3', 'k1', '', 'echo', 15, %d, %d, %d, 3, %d)`,
			w.Minute.UnixNano(), w.Day.UnixNano(), w.Month.UnixNano(), now.Add(time.Hour).UnixNano()),
	)

	s := open(t, path)
	defer s.Close()
	if v := userVersion(t, path); v != len(migrations) {
		t.Fatalf("user_version = %d, want %d", v, len(migrations))
	}
	ctx := t.Context()
	for _, tc := range []struct {
		principal string
		want      []string // request ids
	}{
		{"key:k1", []string{"r1"}},
		{"jwt:#alice", []string{"r2"}},
		{"k1", nil},
		{"alice", nil},
	} {
		es, err := s.Usage(ctx, quota.Query{PrincipalID: tc.principal})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range es {
			got = append(got, e.RequestID)
		}
		if len(got) != len(tc.want) || len(got) > 0 && got[0] != tc.want[0] {
			t.Errorf("usage of %q = %v, want %v", tc.principal, got, tc.want)
		}
	}
	// The in-flight request settles to the key's principal.
	e, err := s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: "r3"}, PromptTokens: 1, CompletionTokens: 1, At: now})
	if err != nil || e.PrincipalID != "key:k1" {
		t.Fatalf("settle of the migrated reservation = %+v, %v", e, err)
	}
	// k1's windows moved with it: at 3 requests a minute, one more fits and
	// the next is refused; alice's count is her own.
	reserve := func(id, principal string) error {
		_, err := s.Reserve(ctx, quota.Reservation{ID: id, PrincipalID: principal, Tokens: 1, Windows: w,
			CreatedAt: now, ExpiresAt: now.Add(time.Minute)}, record.Limits{RPM: 3})
		return err
	}
	if err := reserve("r4", "key:k1"); err != nil {
		t.Fatalf("third request of k1: %v", err)
	}
	var d *quota.Denial
	if err := reserve("r5", "key:k1"); !errors.As(err, &d) || d.Used != 3 {
		t.Fatalf("fourth request of k1 = %v, want a denial at 3 used", err)
	}
	if err := reserve("r6", "jwt:#alice"); err != nil {
		t.Fatalf("second request of alice: %v", err)
	}
}

// Migration 4 adds the protocol to reservations and ledger rows: rows from
// before read back with none (they were all chat completions), and a
// request in flight across the upgrade settles with none; new ones keep
// theirs.
func TestMigrationLeavesEarlierRequestsWithoutAProtocol(t *testing.T) {
	now := time.Now().UTC()
	w := quota.WindowsAt(now)
	path := databaseAt(t, 3,
		`INSERT INTO usage_ledger VALUES (1, 'r1', 'key:k1', '', 'echo', 10, 5, 100)`,
		fmt.Sprintf(`INSERT INTO quota_reservations VALUES ('r2', 'key:k1', '', 'echo', 15, %d, %d, %d, 3, %d)`,
			w.Minute.UnixNano(), w.Day.UnixNano(), w.Month.UnixNano(), now.Add(time.Hour).UnixNano()),
	)
	s := open(t, path)
	defer s.Close()
	ctx := t.Context()
	if _, err := s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: "r2"}, PromptTokens: 1, CompletionTokens: 1, At: now}); err != nil {
		t.Fatal(err)
	}
	r := quota.Reservation{ID: "r3", PrincipalID: "key:k1", Model: "echo", Protocol: "messages", Tokens: 1, Windows: w,
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.Reserve(ctx, r, record.Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settle(ctx, quota.Settlement{Reservation: r, PromptTokens: 1, CompletionTokens: 1, At: now}); err != nil {
		t.Fatal(err)
	}
	es, err := s.Usage(ctx, quota.Query{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range es {
		got[e.RequestID] = e.Protocol
	}
	want := map[string]string{"r1": "", "r2": "", "r3": "messages"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("protocols by request = %v, want %v", got, want)
	}
}

// Migration 5 adds money and tenants: a key from before has no USD
// budget, a ledger row from before has cost 0 and no price, and a request
// in flight across the upgrade (no cost bound, no tenant windows) settles
// at the cost it is given without touching any tenant's windows.
func TestMigrationGivesEarlierRowsNoCostAndNoBudget(t *testing.T) {
	now := time.Now().UTC()
	w := quota.WindowsAt(now)
	path := databaseAt(t, 4,
		`INSERT INTO keys (id, name, tenant, models, rpm, tpm, tokens_per_day, tokens_per_month, status, previous_expires_at,
			usage_identifier_key, created_at, updated_at, expires_at, revoked_at, version)
			VALUES ('k1', 'one', 'acme', '["*"]', 0, 0, 0, 0, 'active', 0, '', 1, 1, 0, 0, 1)`,
		`INSERT INTO usage_ledger (at, request_id, principal_id, tenant, model, prompt_tokens, completion_tokens, reserved_tokens, protocol)
			VALUES (1, 'r1', 'key:k1', 'acme', 'echo', 10, 5, 100, 'chat')`,
		fmt.Sprintf(`INSERT INTO quota_reservations (id, principal_id, tenant, model, tokens, minute_start, day_start, month_start, created_at, expires_at, protocol)
			VALUES ('r2', 'key:k1', 'acme', 'echo', 15, %d, %d, %d, 3, %d, 'chat')`,
			w.Minute.UnixNano(), w.Day.UnixNano(), w.Month.UnixNano(), now.Add(time.Hour).UnixNano()),
	)
	s := open(t, path)
	defer s.Close()
	ctx := t.Context()
	k, err := s.GetKey(ctx, "k1")
	if err != nil || k.Limits.USDPerDay != 0 || k.Limits.USDPerMonth != 0 {
		t.Fatalf("key from before = %+v, %v; want no USD budget", k, err)
	}
	if _, err := s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: "r2"}, PromptTokens: 1, CompletionTokens: 1, CostMicros: 7, At: now}); err != nil {
		t.Fatal(err)
	}
	es, err := s.Usage(ctx, quota.Query{})
	if err != nil || len(es) != 2 {
		t.Fatalf("ledger = %+v, %v", es, err)
	}
	if e := es[0]; e.RequestID != "r1" || e.CostMicros != 0 || e.Price != (pricing.Price{}) || e.CachedTokens != 0 {
		t.Errorf("row from before = %+v, want no cost and no price", e)
	}
	if e := es[1]; e.RequestID != "r2" || e.CostMicros != 7 {
		t.Errorf("request in flight = %+v, want its cost recorded", e)
	}
	// The tenant's windows were never counted: a first request fits a
	// budget of exactly its bound.
	tl := record.Limits{USDPerDay: 100}
	r := quota.Reservation{ID: "r3", PrincipalID: "key:k1", Tenant: "acme", Tokens: 1, CostMicros: 100, TenantLimits: &tl,
		Windows: w, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.Reserve(ctx, r, record.Limits{}); err != nil {
		t.Errorf("the tenant's first request: %v", err)
	}
}
