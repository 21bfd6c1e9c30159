package dynamodb

import (
	"errors"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// MigratePrincipalIDs rewrites what a store written before principal ids had
// a kind holds (the store is opaque to ids, so writing bare ids through it
// is what the old code did), merges the counters with those the new code
// wrote meanwhile, and changes nothing when run again.
func TestMigratePrincipalIDsGivesStoredIDsTheirKind(t *testing.T) {
	s := openClosing(t)
	ctx := t.Context()
	now := time.Now().UTC()
	w := quota.WindowsAt(now)
	key := &record.Key{ID: "k1", Name: "one", Models: []string{"*"}, Status: record.StatusActive,
		SecretHash: []byte{1}, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := s.CreateKey(ctx, key, record.AuditEvent{KeyID: "k1", Action: record.ActionCreated, Actor: "test", At: now}); err != nil {
		t.Fatal(err)
	}
	reserve := func(id, principal string, rpm int64) error {
		_, err := s.Reserve(ctx, quota.Reservation{ID: id, PrincipalID: principal, Tokens: 10, Windows: w,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, record.Limits{RPM: rpm})
		return err
	}
	settle := func(id string) quota.Entry {
		t.Helper()
		e, err := s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: id}, PromptTokens: 1, CompletionTokens: 2, At: now})
		if err != nil {
			t.Fatalf("settle %s: %v", id, err)
		}
		return e
	}
	for _, r := range []struct{ id, principal string }{
		{"r0", "key:k1"}, // the new code, already running
		{"r1", "k1"},     // the old code: a key
		{"r2", "alice"},  // the old code: a JWT subject
		{"r3", "k1"},     // in flight across the migration
	} {
		if err := reserve(r.id, r.principal, 0); err != nil {
			t.Fatal(err)
		}
		if r.id != "r3" {
			settle(r.id)
		}
	}

	m, err := s.MigratePrincipalIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// k1 and alice: 3 windows each; r3; r1 and r2.
	if want := (PrincipalMigration{Windows: 6, Reservations: 1, LedgerRows: 2}); m != want {
		t.Errorf("migration = %+v, want %+v", m, want)
	}
	if e := settle("r3"); e.PrincipalID != "key:k1" {
		t.Errorf("the reservation in flight settled to %q", e.PrincipalID)
	}
	usage := func(principal string) []string {
		t.Helper()
		es, err := s.Usage(ctx, quota.Query{PrincipalID: principal})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range es {
			ids = append(ids, e.RequestID)
		}
		return ids
	}
	for p, want := range map[string]int{"key:k1": 3, "jwt:#alice": 1, "k1": 0, "alice": 0} {
		if got := usage(p); len(got) != want {
			t.Errorf("usage of %q = %v, want %d rows", p, got, want)
		}
	}
	// The counters were merged: k1 made 3 requests this minute, so at 4 a
	// minute one more fits and then none.
	if err := reserve("r4", "key:k1", 4); err != nil {
		t.Fatalf("fourth request: %v", err)
	}
	var d *quota.Denial
	if err := reserve("r5", "key:k1", 4); !errors.As(err, &d) || d.Used != 4 {
		t.Fatalf("fifth request at 4 a minute = %v, want a denial at 4 used", err)
	}

	again, err := s.MigratePrincipalIDs(ctx)
	if err != nil || again != (PrincipalMigration{}) {
		t.Fatalf("second migration = %+v, %v; want nothing to do", again, err)
	}
	if got := usage("key:k1"); len(got) != 3 {
		t.Errorf("usage after a second migration = %v", got)
	}
}

// A tenant's counters ("tenant:NAME") are not a bare principal id of the
// old code: the migration leaves them, and the tenant's budget, alone.
func TestMigratePrincipalIDsLeavesTenantCountersAlone(t *testing.T) {
	s := openClosing(t)
	ctx := t.Context()
	now := time.Now().UTC()
	tl := &record.Limits{USDPerDay: 1000}
	r := quota.Reservation{ID: "r1", PrincipalID: "key:k1", Tenant: "acme", Tokens: 10, CostMicros: 600, TenantLimits: tl,
		Windows: quota.WindowsAt(now), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, err := s.Reserve(ctx, r, record.Limits{}); err != nil {
		t.Fatal(err)
	}
	m, err := s.MigratePrincipalIDs(ctx)
	if err != nil || m != (PrincipalMigration{}) {
		t.Fatalf("migration = %+v, %v; want nothing to do", m, err)
	}
	r2 := r
	r2.ID, r2.PrincipalID = "r2", "key:k2"
	var d *quota.Denial
	if _, err := s.Reserve(ctx, r2, record.Limits{}); !errors.As(err, &d) || d.Tenant != "acme" || d.Used != 600 {
		t.Fatalf("second request = %v, want the tenant's $ budget to hold the first's 600", err)
	}
}
