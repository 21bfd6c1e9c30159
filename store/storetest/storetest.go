// Package storetest is the conformance suite every store backend must pass:
// store/sqlite runs it against a file in a temporary directory, store/dynamodb
// against dynalite. It tests the store.Store interface only and must never
// reach into a backend, so that every backend runs exactly the same tests.
//
// Beyond what store.go states, the suite pins these guarantees, which callers
// may rely on whatever the backend:
//
//   - Times keep at least millisecond precision: a stored time comes back
//     equal to the original truncated to the millisecond or finer (never
//     rounded up), in UTC. The zero time comes back as the zero time.
//   - Models come back as a non-nil slice: a key stored with nil or empty
//     Models reads back as an empty, non-nil slice (JSON "[]", never null).
//   - An absent hash (nil or empty SecretHash, PreviousSecretHash) reads back
//     as nil.
//   - CreateKey refuses a key whose Version is not 1 or whose ID is empty,
//     and an event whose KeyID names another key; an event with an empty
//     KeyID is recorded under the key's ID.
//   - KeyHistory orders events by when they were written, so events with the
//     same At (possible at millisecond precision) keep their order.
//   - A key returned by GetKey or ListKeys shares no memory with the store or
//     with the key passed to CreateKey or UpdateKey: changing either later
//     changes nothing stored.
//   - Canceled contexts fail with an error wrapping context.Canceled, and the
//     write they canceled does not happen.
//
// For the quota ledger (quota.Ledger, whose doc states the contract):
//
//   - A zero limit is unlimited.
//   - A Reserve that would exceed a limit returns an error wrapping a
//     *quota.Denial naming that limit, its Max, the Used amount (settled and
//     reserved, without this request) and the window's end, and changes
//     nothing. Release of a denied reservation is ErrNotFound.
//   - A successful Reserve's Status describes the minute window after it.
//   - Settle and Release adjust the windows the reservation was made in,
//     whenever they happen; usage above the reservation is recorded as it was.
//   - A Settle whose reservation expired or was released records the usage
//     (Entry.Late), once per request id, with all its tokens counted; a
//     Settlement that carries only the reservation id settles only a
//     pending reservation.
//   - Extend and ExpireReservations racing: exactly one takes effect.
//   - Usage entries keep times like keys do (Precision, UTC).
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// Precision is the coarsest time precision a store may keep.
const Precision = time.Millisecond

// base is the creation time of NewKey's keys. Its nanoseconds are not a
// multiple of a millisecond, so that a store which keeps only seconds fails.
var base = time.Date(2025, time.March, 14, 15, 9, 26, 535_897_932, time.UTC)

// NewKey returns a realistic, valid version-1 key with the given id: every
// field set, a mid-rotation previous secret hash, times with sub-millisecond
// parts. Tests change the fields they care about.
func NewKey(id string) *record.Key {
	secret := sha256.Sum256([]byte("secret:" + id))
	previous := sha256.Sum256([]byte("previous:" + id))
	return &record.Key{
		ID:     id,
		Name:   "ci pipeline " + id,
		Tenant: "acme",
		Models: []string{"gpt-4o*", "anthropic.claude-?-*", "text-embedding-3-small"},
		Limits: record.Limits{
			RPM:            60,
			TPM:            100_000,
			TokensPerDay:   2_000_000,
			TokensPerMonth: 40_000_000,
		},
		Status:             record.StatusActive,
		Role:               record.RoleAdmin,
		SecretHash:         secret[:],
		PreviousSecretHash: previous[:],
		PreviousExpiresAt:  base.Add(24*time.Hour + 123_456*time.Nanosecond),
		UsageIdentifierKey: "usage-" + id,
		CreatedAt:          base,
		UpdatedAt:          base.Add(time.Minute + 987_654*time.Nanosecond),
		ExpiresAt:          base.AddDate(0, 3, 0),
		Version:            1,
	}
}

// newEvent returns the audit event that goes with a change of k.
func newEvent(k *record.Key, action string, at time.Time) record.AuditEvent {
	return record.AuditEvent{
		KeyID:  k.ID,
		Action: action,
		Actor:  "aigate keys " + action,
		At:     at,
		Detail: fmt.Sprintf("%s %s at version %d", action, k.ID, k.Version),
	}
}

// Run runs the conformance suite. open must return a fresh, empty store for
// each call; Run closes it when the subtest ends (open must not), so that
// Close is tested too. Anything else open sets up (a temporary directory, a
// table) it cleans up with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range []conformanceTest{
		{"CreatedKeyReadsBackEqual", testCreatedKeyReadsBackEqual},
		{"ZeroTimesAndAbsentHashesReadBackEmpty", testZeroTimesAndAbsentHashes},
		{"ModelsReadBackNonNil", testModelsReadBackNonNil},
		{"ReturnedKeysShareNoMemory", testReturnedKeysShareNoMemory},
		{"CreateDuplicateIDFailsWithErrExists", testCreateDuplicate},
		{"CreateRefusesInvalidKeys", testCreateRefusesInvalid},
		{"GetMissingFailsWithErrNotFound", testGetMissing},
		{"ListOrdersByCreationThenID", testListOrder},
		{"ListFiltersByTenant", testListTenant},
		{"UpdateWithCurrentVersionReplacesKey", testUpdate},
		{"UpdateWithStaleVersionFailsWithErrConflict", testUpdateStale},
		{"UpdateMissingFailsWithErrNotFound", testUpdateMissing},
		{"HistoryListsEventsInWriteOrder", testHistory},
		{"HistoryKeepsWriteOrderForEqualTimes", testHistoryEqualTimes},
		{"HistoryOfUnknownKeyIsEmpty", testHistoryUnknown},
		{"ConcurrentUpdatesFromOneVersionHaveOneWinner", testConcurrentUpdates},
		{"CanceledContextFailsAndWritesNothing", testCanceledContext},
	} {
		run(t, open, tc)
	}
	for _, tc := range usageTests() {
		run(t, open, tc)
	}
	for _, tc := range moneyTests() {
		run(t, open, tc)
	}
}

// run runs one test on a fresh store, and closes it.
func run(t *testing.T, open func(t *testing.T) store.Store, tc conformanceTest) {
	t.Helper()
	t.Run(tc.name, func(t *testing.T) {
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		tc.test(t, s)
	})
}

// conformanceTest is one test of the suite.
type conformanceTest struct {
	name string
	test func(t *testing.T, s store.Store)
}

func mustCreate(t *testing.T, s store.Store, k *record.Key) {
	t.Helper()
	if err := s.CreateKey(t.Context(), k, newEvent(k, record.ActionCreated, k.CreatedAt)); err != nil {
		t.Fatalf("CreateKey(%q): %v", k.ID, err)
	}
}

func mustGet(t *testing.T, s store.Store, id string) *record.Key {
	t.Helper()
	k, err := s.GetKey(t.Context(), id)
	if err != nil {
		t.Fatalf("GetKey(%q): %v", id, err)
	}
	return k
}

func mustHistory(t *testing.T, s store.Store, id string) []record.AuditEvent {
	t.Helper()
	evs, err := s.KeyHistory(t.Context(), id)
	if err != nil {
		t.Fatalf("KeyHistory(%q): %v", id, err)
	}
	return evs
}

// sameTime reports whether got is want as a store keeping Precision or finer
// returns it: truncated, not rounded, in UTC.
func sameTime(got, want time.Time) bool {
	if want.IsZero() {
		return got.IsZero()
	}
	return got.Location() == time.UTC &&
		!got.After(want) &&
		got.Truncate(Precision).Equal(want.Truncate(Precision))
}

// diffKey lists how got differs from want under the suite's guarantees.
func diffKey(got, want *record.Key) []string {
	var d []string
	field := func(name string, ok bool, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	field("ID", got.ID == want.ID, got.ID, want.ID)
	field("Name", got.Name == want.Name, got.Name, want.Name)
	field("Tenant", got.Tenant == want.Tenant, got.Tenant, want.Tenant)
	field("Models", slices.Equal(got.Models, want.Models) && got.Models != nil, fmt.Sprintf("%#v", got.Models), fmt.Sprintf("%#v", want.Models))
	field("Limits", got.Limits == want.Limits, got.Limits, want.Limits)
	field("Status", got.Status == want.Status, got.Status, want.Status)
	field("Role", got.Role == want.Role, got.Role, want.Role)
	field("SecretHash", sameHash(got.SecretHash, want.SecretHash), got.SecretHash, want.SecretHash)
	field("PreviousSecretHash", sameHash(got.PreviousSecretHash, want.PreviousSecretHash), got.PreviousSecretHash, want.PreviousSecretHash)
	field("PreviousExpiresAt", sameTime(got.PreviousExpiresAt, want.PreviousExpiresAt), got.PreviousExpiresAt, want.PreviousExpiresAt)
	field("UsageIdentifierKey", got.UsageIdentifierKey == want.UsageIdentifierKey, got.UsageIdentifierKey, want.UsageIdentifierKey)
	field("CreatedAt", sameTime(got.CreatedAt, want.CreatedAt), got.CreatedAt, want.CreatedAt)
	field("UpdatedAt", sameTime(got.UpdatedAt, want.UpdatedAt), got.UpdatedAt, want.UpdatedAt)
	field("ExpiresAt", sameTime(got.ExpiresAt, want.ExpiresAt), got.ExpiresAt, want.ExpiresAt)
	field("RevokedAt", sameTime(got.RevokedAt, want.RevokedAt), got.RevokedAt, want.RevokedAt)
	field("Version", got.Version == want.Version, got.Version, want.Version)
	return d
}

// sameHash: an absent hash must read back nil, not merely empty.
func sameHash(got, want []byte) bool {
	if len(want) == 0 {
		return got == nil
	}
	return bytes.Equal(got, want)
}

func checkKey(t *testing.T, got, want *record.Key) {
	t.Helper()
	for _, d := range diffKey(got, want) {
		t.Errorf("key %q: %s", want.ID, d)
	}
}

func checkEvents(t *testing.T, got, want []record.AuditEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("history has %d events, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.KeyID != w.KeyID || g.Action != w.Action || g.Actor != w.Actor || g.Detail != w.Detail || !sameTime(g.At, w.At) {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
}

func testCreatedKeyReadsBackEqual(t *testing.T, s store.Store) {
	k := NewKey("k1")
	k.RevokedAt = base.Add(2*time.Hour + 1)
	k.Status = record.StatusRevoked
	// Times from another zone come back as the same instants, in UTC.
	k.ExpiresAt = k.ExpiresAt.In(time.FixedZone("UTC+5:30", 5*3600+1800))
	k.UpdatedAt = time.Date(2025, time.March, 14, 9, 10, 26, 535_897_933, time.FixedZone("UTC-6", -6*3600))
	want := *k
	mustCreate(t, s, k)
	checkKey(t, mustGet(t, s, "k1"), &want)
}

func testZeroTimesAndAbsentHashes(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		hash []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
	} {
		k := NewKey("k-" + tc.name)
		k.PreviousSecretHash = tc.hash
		k.PreviousExpiresAt = time.Time{}
		k.ExpiresAt = time.Time{}
		k.RevokedAt = time.Time{}
		k.Tenant = ""
		k.UsageIdentifierKey = ""
		want := *k
		mustCreate(t, s, k)
		checkKey(t, mustGet(t, s, k.ID), &want)
	}
}

func testModelsReadBackNonNil(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name   string
		models []string
		want   []string
	}{
		{"nil", nil, []string{}},
		{"empty", []string{}, []string{}},
		{"one", []string{"*"}, []string{"*"}},
		{"several in order", []string{"z-model", "gpt-4o*", "a?", "gpt-4o*"}, []string{"z-model", "gpt-4o*", "a?", "gpt-4o*"}},
		{"unusual characters", []string{`quote"d`, "back\\slash", "ünïcode/路径", "comma,separated"}, []string{`quote"d`, "back\\slash", "ünïcode/路径", "comma,separated"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKey("models-" + tc.name)
			k.Models = tc.models
			mustCreate(t, s, k)
			got := mustGet(t, s, k.ID).Models
			if got == nil || !slices.Equal(got, tc.want) {
				t.Errorf("Models = %#v, want %#v", got, tc.want)
			}
			// The same must hold for ListKeys, which backends may decode
			// through a different path.
			list, err := s.ListKeys(t.Context(), store.ListOptions{})
			if err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			for _, l := range list {
				if l.ID == k.ID && (l.Models == nil || !slices.Equal(l.Models, tc.want)) {
					t.Errorf("ListKeys Models = %#v, want %#v", l.Models, tc.want)
				}
			}
		})
	}
}

func testReturnedKeysShareNoMemory(t *testing.T, s store.Store) {
	k := NewKey("k1")
	want := NewKey("k1")
	mustCreate(t, s, k)
	// Scribble over everything the caller handed in and got back.
	k.Models[0], k.SecretHash[0] = "scribbled", k.SecretHash[0]^0xff
	got := mustGet(t, s, "k1")
	got.Models[0], got.SecretHash[0], got.PreviousSecretHash[0] = "scribbled", got.SecretHash[0]^0xff, got.PreviousSecretHash[0]^0xff
	list, err := s.ListKeys(t.Context(), store.ListOptions{})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	list[0].Models[0] = "scribbled"
	checkKey(t, mustGet(t, s, "k1"), want)

	// The same for the key handed to UpdateKey.
	next, wantNext := NewKey("k1"), NewKey("k1")
	for _, k := range []*record.Key{next, wantNext} {
		k.Version, k.Name = 2, "renamed"
	}
	if err := s.UpdateKey(t.Context(), next, newEvent(next, record.ActionRotated, next.UpdatedAt)); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	next.Models[0], next.SecretHash[0], next.PreviousSecretHash[0] = "scribbled", next.SecretHash[0]^0xff, next.PreviousSecretHash[0]^0xff
	checkKey(t, mustGet(t, s, "k1"), wantNext)
}

func testCreateDuplicate(t *testing.T, s store.Store) {
	first := NewKey("dup")
	mustCreate(t, s, first)
	second := NewKey("dup")
	second.Name = "second"
	second.SecretHash = []byte("another hash")
	err := s.CreateKey(t.Context(), second, newEvent(second, record.ActionCreated, second.CreatedAt))
	if !errors.Is(err, record.ErrExists) {
		t.Fatalf("CreateKey of a taken id = %v, want ErrExists", err)
	}
	checkKey(t, mustGet(t, s, "dup"), NewKey("dup"))
	if evs := mustHistory(t, s, "dup"); len(evs) != 1 {
		t.Errorf("history has %d events after a refused create, want 1", len(evs))
	}
}

func testCreateRefusesInvalid(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name   string
		change func(k *record.Key, ev *record.AuditEvent)
	}{
		{"version 0", func(k *record.Key, _ *record.AuditEvent) { k.Version = 0 }},
		{"version 2", func(k *record.Key, _ *record.AuditEvent) { k.Version = 2 }},
		{"empty id", func(k *record.Key, ev *record.AuditEvent) { k.ID, ev.KeyID = "", "" }},
		{"event of another key", func(_ *record.Key, ev *record.AuditEvent) { ev.KeyID = "other" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKey("invalid")
			ev := newEvent(k, record.ActionCreated, k.CreatedAt)
			tc.change(k, &ev)
			if err := s.CreateKey(t.Context(), k, ev); err == nil {
				t.Fatal("CreateKey succeeded, want an error")
			}
			for _, id := range []string{"invalid", "other", ""} {
				if _, err := s.GetKey(t.Context(), id); !errors.Is(err, record.ErrNotFound) {
					t.Errorf("GetKey(%q) after a refused create = %v, want ErrNotFound", id, err)
				}
			}
		})
	}
	t.Run("event without key id", func(t *testing.T) {
		k := NewKey("no-event-id")
		ev := newEvent(k, record.ActionCreated, k.CreatedAt)
		ev.KeyID = ""
		if err := s.CreateKey(t.Context(), k, ev); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		ev.KeyID = k.ID
		checkEvents(t, mustHistory(t, s, k.ID), []record.AuditEvent{ev})
	})
}

func testGetMissing(t *testing.T, s store.Store) {
	mustCreate(t, s, NewKey("present"))
	for _, id := range []string{"absent", "", "PRESENT", "present "} {
		if _, err := s.GetKey(t.Context(), id); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("GetKey(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func ids(keys []*record.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

func testListOrder(t *testing.T, s store.Store) {
	if keys, err := s.ListKeys(t.Context(), store.ListOptions{}); err != nil || len(keys) != 0 {
		t.Fatalf("ListKeys of an empty store = %v, %v; want none", ids(keys), err)
	}
	// Written out of order; "b" and "a" share a creation time, so the id
	// decides. "mid" and "late" differ by one millisecond, the finest
	// difference every store must keep.
	created := map[string]time.Time{
		"late":  base.Add(time.Hour),
		"b":     base,
		"mid":   base.Add(time.Hour - time.Millisecond),
		"a":     base,
		"early": base.Add(-time.Hour),
	}
	for _, id := range []string{"late", "b", "mid", "a", "early"} {
		k := NewKey(id)
		k.CreatedAt = created[id]
		mustCreate(t, s, k)
	}
	keys, err := s.ListKeys(t.Context(), store.ListOptions{})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if want := []string{"early", "a", "b", "mid", "late"}; !slices.Equal(ids(keys), want) {
		t.Errorf("ListKeys order = %v, want %v", ids(keys), want)
	}
	for _, k := range keys {
		want := NewKey(k.ID)
		want.CreatedAt = created[k.ID]
		checkKey(t, k, want)
	}
}

func testListTenant(t *testing.T, s store.Store) {
	for i, tenant := range []string{"acme", "globex", "", "acme", "Acme"} {
		k := NewKey(fmt.Sprintf("k%d", i))
		k.Tenant = tenant
		k.CreatedAt = base.Add(time.Duration(i) * time.Second)
		mustCreate(t, s, k)
	}
	for _, tc := range []struct {
		tenant string
		want   []string
	}{
		{"", []string{"k0", "k1", "k2", "k3", "k4"}}, // no filter
		{"acme", []string{"k0", "k3"}},
		{"Acme", []string{"k4"}},
		{"globex", []string{"k1"}},
		{"initech", nil},
	} {
		keys, err := s.ListKeys(t.Context(), store.ListOptions{Tenant: tc.tenant})
		if err != nil {
			t.Fatalf("ListKeys(tenant %q): %v", tc.tenant, err)
		}
		if got := ids(keys); !slices.Equal(got, tc.want) {
			t.Errorf("ListKeys(tenant %q) = %v, want %v", tc.tenant, got, tc.want)
		}
	}
}

// rotated returns the next version of k after a secret rotation at at.
func rotated(k *record.Key, at time.Time) *record.Key {
	next := *k
	next.PreviousSecretHash = k.SecretHash
	next.PreviousExpiresAt = at.Add(time.Hour)
	h := sha256.Sum256(fmt.Appendf(nil, "rotated %s %d", k.ID, k.Version))
	next.SecretHash = h[:]
	next.Models = append(slices.Clone(k.Models), "rotated-model")
	next.Limits.RPM++
	next.UpdatedAt = at
	next.Version = k.Version + 1
	return &next
}

func testUpdate(t *testing.T, s store.Store) {
	k := NewKey("k1")
	mustCreate(t, s, k)
	for v := int64(2); v <= 4; v++ {
		next := rotated(mustGet(t, s, "k1"), base.Add(time.Duration(v)*time.Hour))
		if next.Version != v {
			t.Fatalf("read version %d, want %d", next.Version-1, v-1)
		}
		if err := s.UpdateKey(t.Context(), next, newEvent(next, record.ActionRotated, next.UpdatedAt)); err != nil {
			t.Fatalf("UpdateKey to version %d: %v", v, err)
		}
		checkKey(t, mustGet(t, s, "k1"), next)
	}
	// Every field can change, to its zero value too.
	revoked := *mustGet(t, s, "k1")
	revoked.Name, revoked.Tenant, revoked.Models = "renamed", "globex", nil
	revoked.Limits = record.Limits{}
	revoked.Status, revoked.RevokedAt = record.StatusRevoked, base.Add(10*time.Hour)
	revoked.PreviousSecretHash, revoked.PreviousExpiresAt = nil, time.Time{}
	revoked.ExpiresAt, revoked.UsageIdentifierKey, revoked.Role = time.Time{}, "", ""
	revoked.Version++
	want := revoked
	want.Models = []string{}
	if err := s.UpdateKey(t.Context(), &revoked, newEvent(&revoked, record.ActionRevoked, revoked.RevokedAt)); err != nil {
		t.Fatalf("UpdateKey to revoked: %v", err)
	}
	checkKey(t, mustGet(t, s, "k1"), &want)
	if keys, err := s.ListKeys(t.Context(), store.ListOptions{Tenant: "globex"}); err != nil || len(keys) != 1 {
		t.Errorf("ListKeys(globex) after moving the key = %v, %v; want [k1]", ids(keys), err)
	}
}

func testUpdateStale(t *testing.T, s store.Store) {
	k := NewKey("k1")
	mustCreate(t, s, k)
	v2 := rotated(k, base.Add(time.Hour))
	if err := s.UpdateKey(t.Context(), v2, newEvent(v2, record.ActionRotated, v2.UpdatedAt)); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	before := mustHistory(t, s, "k1")
	for _, tc := range []struct {
		name  string
		stale func() *record.Key
	}{
		{"read before the last update", func() *record.Key { return rotated(k, base.Add(2*time.Hour)) }},
		{"version not incremented", func() *record.Key {
			next := rotated(v2, base.Add(2*time.Hour))
			next.Version = v2.Version
			return next
		}},
		{"version from the future", func() *record.Key {
			next := rotated(v2, base.Add(2*time.Hour))
			next.Version = 7
			return next
		}},
		{"version zero", func() *record.Key {
			next := rotated(v2, base.Add(2*time.Hour))
			next.Version = 0
			return next
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stale := tc.stale()
			stale.Name = "stale writer"
			err := s.UpdateKey(t.Context(), stale, newEvent(stale, record.ActionRevoked, stale.UpdatedAt))
			if !errors.Is(err, record.ErrConflict) {
				t.Fatalf("UpdateKey from a stale version = %v, want ErrConflict", err)
			}
			if errors.Is(err, record.ErrNotFound) {
				t.Errorf("UpdateKey error %v also matches ErrNotFound", err)
			}
			checkKey(t, mustGet(t, s, "k1"), v2)
			checkEvents(t, mustHistory(t, s, "k1"), before)
		})
	}
}

func testUpdateMissing(t *testing.T, s store.Store) {
	mustCreate(t, s, NewKey("present"))
	k := rotated(NewKey("absent"), base.Add(time.Hour))
	err := s.UpdateKey(t.Context(), k, newEvent(k, record.ActionRotated, k.UpdatedAt))
	if !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("UpdateKey of a missing key = %v, want ErrNotFound", err)
	}
	if errors.Is(err, record.ErrConflict) {
		t.Errorf("UpdateKey error %v also matches ErrConflict", err)
	}
	if _, err := s.GetKey(t.Context(), "absent"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("GetKey after updating a missing key = %v, want ErrNotFound", err)
	}
	if evs := mustHistory(t, s, "absent"); len(evs) != 0 {
		t.Errorf("history of a missing key after a refused update = %+v, want none", evs)
	}
}

func testHistory(t *testing.T, s store.Store) {
	k := NewKey("k1")
	other := NewKey("k2")
	want := []record.AuditEvent{newEvent(k, record.ActionCreated, k.CreatedAt)}
	if err := s.CreateKey(t.Context(), k, want[0]); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	mustCreate(t, s, other) // its events must not show up in k1's history
	cur := k
	for i, action := range []string{record.ActionRotated, record.ActionRotated, record.ActionRevoked} {
		next := rotated(cur, base.Add(time.Duration(i+1)*time.Hour+time.Duration(i)))
		ev := newEvent(next, action, next.UpdatedAt)
		ev.Actor = fmt.Sprintf("operator %d", i)
		if err := s.UpdateKey(t.Context(), next, ev); err != nil {
			t.Fatalf("UpdateKey: %v", err)
		}
		want = append(want, ev)
		// A conflicting update in between appends nothing.
		stale := rotated(cur, next.UpdatedAt)
		if err := s.UpdateKey(t.Context(), stale, newEvent(stale, "stale", stale.UpdatedAt)); !errors.Is(err, record.ErrConflict) {
			t.Fatalf("stale UpdateKey = %v, want ErrConflict", err)
		}
		cur = next
	}
	checkEvents(t, mustHistory(t, s, "k1"), want)
	checkEvents(t, mustHistory(t, s, "k2"), []record.AuditEvent{newEvent(other, record.ActionCreated, other.CreatedAt)})
}

func testHistoryEqualTimes(t *testing.T, s store.Store) {
	// A key created and revoked within one millisecond: a store keeping
	// millisecond times must still not swap the two events.
	k := NewKey("k1")
	at := base.Truncate(Precision)
	want := []record.AuditEvent{newEvent(k, record.ActionCreated, at)}
	if err := s.CreateKey(t.Context(), k, want[0]); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	cur := k
	for _, action := range []string{"rotated", "expired", "revoked", "archived", "noted"} {
		next := *cur
		next.Version++
		ev := newEvent(&next, action, at)
		if err := s.UpdateKey(t.Context(), &next, ev); err != nil {
			t.Fatalf("UpdateKey: %v", err)
		}
		want = append(want, ev)
		cur = &next
	}
	checkEvents(t, mustHistory(t, s, "k1"), want)
}

func testHistoryUnknown(t *testing.T, s store.Store) {
	mustCreate(t, s, NewKey("present"))
	for _, id := range []string{"absent", ""} {
		evs, err := s.KeyHistory(t.Context(), id)
		if err != nil {
			t.Errorf("KeyHistory(%q) = %v, want no error", id, err)
		}
		if len(evs) != 0 {
			t.Errorf("KeyHistory(%q) = %+v, want none", id, evs)
		}
	}
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	const writers = 16
	k := NewKey("k1")
	mustCreate(t, s, k)
	read := mustGet(t, s, "k1")

	var (
		start sync.WaitGroup
		done  sync.WaitGroup
		errs  [writers]error
		mine  [writers]*record.Key
	)
	start.Add(1)
	for i := range writers {
		next := rotated(read, base.Add(time.Hour))
		next.Name = fmt.Sprintf("writer %d", i)
		mine[i] = next
		done.Go(func() {
			start.Wait()
			ev := newEvent(next, record.ActionRotated, next.UpdatedAt)
			ev.Actor = next.Name
			errs[i] = s.UpdateKey(context.Background(), next, ev)
		})
	}
	start.Done()
	done.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, record.ErrConflict):
			t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer succeeded")
	}
	checkKey(t, mustGet(t, s, "k1"), mine[winner])
	evs := mustHistory(t, s, "k1")
	if len(evs) != 2 {
		t.Fatalf("history has %d events, want created + 1 update: %+v", len(evs), evs)
	}
	if evs[1].Actor != mine[winner].Name {
		t.Errorf("update event by %q, want the winner %q", evs[1].Actor, mine[winner].Name)
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	existing := NewKey("existing")
	mustCreate(t, s, existing)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	fresh := NewKey("fresh")
	next := rotated(existing, base.Add(time.Hour))
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"CreateKey", func() error {
			return s.CreateKey(ctx, fresh, newEvent(fresh, record.ActionCreated, fresh.CreatedAt))
		}},
		{"GetKey", func() error { _, err := s.GetKey(ctx, "existing"); return err }},
		{"ListKeys", func() error { _, err := s.ListKeys(ctx, store.ListOptions{}); return err }},
		{"UpdateKey", func() error {
			return s.UpdateKey(ctx, next, newEvent(next, record.ActionRotated, next.UpdatedAt))
		}},
		{"KeyHistory", func() error { _, err := s.KeyHistory(ctx, "existing"); return err }},
	} {
		if err := tc.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled", tc.name, err)
		}
	}
	if _, err := s.GetKey(t.Context(), "fresh"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("GetKey of a key created with a canceled context = %v, want ErrNotFound", err)
	}
	checkKey(t, mustGet(t, s, "existing"), existing)
	if evs := mustHistory(t, s, "existing"); len(evs) != 1 {
		t.Errorf("history after canceled writes has %d events, want 1", len(evs))
	}
}
