package keys_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/sqlite"
)

// world is a Manager over a real SQLite store, and an authorizer over the
// same store and hasher: a key is checked the way a request would check it.
type world struct {
	m   *keys.Manager
	st  *sqlite.Store
	az  *authz.Authorizer
	now time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hk, err := apikey.NewHashKey()
	if err != nil {
		t.Fatal(err)
	}
	h, err := apikey.NewHasher(hk)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{st: st, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return w.now }
	w.m = &keys.Manager{Store: st, Hasher: h, Actor: "test", Now: clock}
	if w.az, err = authz.New(authz.Config{Keys: st, Hasher: h, Now: clock}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) outcome(t *testing.T, secret string) authz.Outcome {
	t.Helper()
	d, err := w.az.Decide(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return d.Outcome
}

func (w *world) history(t *testing.T, id string) []string {
	t.Helper()
	evs, err := w.st.KeyHistory(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range evs {
		if ev.Actor != "test" {
			t.Errorf("event %+v: actor %q, want the manager's", ev, ev.Actor)
		}
		actions = append(actions, ev.Action)
	}
	return actions
}

func TestCreatedKeyAuthorizesAndItsSecretIsNotStored(t *testing.T) {
	w := newWorld(t)
	spec := keys.Spec{Name: "ci", Tenant: "acme", Models: []string{"echo"}, Limits: record.Limits{RPM: 5}}
	iss, err := w.m.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.outcome(t, iss.Secret); got != authz.Allow {
		t.Errorf("a new key: %v, want allow", got)
	}
	stored, err := w.st.GetKey(context.Background(), iss.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Name != "ci" || stored.Tenant != "acme" || !slices.Equal(stored.Models, []string{"echo"}) ||
		stored.Limits.RPM != 5 || stored.Status != record.StatusActive || stored.Version != 1 || !stored.CreatedAt.Equal(w.now) {
		t.Errorf("stored key = %+v", stored)
	}
	k, err := apikey.Parse(iss.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored.SecretHash) == k.String() || len(stored.SecretHash) == 0 {
		t.Error("the stored hash is the secret, or empty")
	}
	spec.Models[0] = "*" // the caller's slice is not the stored key's
	if iss.Key.Models[0] != "echo" {
		t.Errorf("changing the spec changed the issued key: %q", iss.Key.Models)
	}
	if got := w.history(t, iss.Key.ID); !slices.Equal(got, []string{record.ActionCreated}) {
		t.Errorf("history = %v", got)
	}
}

func TestInvalidSpecsAreRefusedAndWriteNothing(t *testing.T) {
	w := newWorld(t)
	for name, spec := range map[string]keys.Spec{
		"no name":               {Name: " ", Models: []string{"echo"}},
		"empty model pattern":   {Name: "k", Models: []string{""}},
		"model list in one":     {Name: "k", Models: []string{"a,b"}},
		"negative limit":        {Name: "k", Limits: record.Limits{TPM: -1}},
		"expiry in the past":    {Name: "k", ExpiresAt: w.now.Add(-time.Second)},
		"expiry at this moment": {Name: "k", ExpiresAt: w.now},
	} {
		if _, err := w.m.Create(context.Background(), spec); !errors.Is(err, keys.ErrInvalid) {
			t.Errorf("%s: Create = %v, want ErrInvalid", name, err)
		}
	}
	if ks, err := w.st.ListKeys(context.Background(), store.ListOptions{}); err != nil || len(ks) != 0 {
		t.Errorf("after refused creates the store holds %d keys (%v)", len(ks), err)
	}
}

func TestRevokeStopsAKeyOnceAndForAll(t *testing.T) {
	w := newWorld(t)
	iss, err := w.m.Create(context.Background(), keys.Spec{Name: "k", Models: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		changed, err := w.m.Revoke(context.Background(), iss.Key.ID)
		if err != nil || changed != want {
			t.Errorf("revoke #%d = %v, %v; want %v", i+1, changed, err, want)
		}
	}
	if got := w.outcome(t, iss.Secret); got != authz.Unauthorized {
		t.Errorf("a revoked key: %v", got)
	}
	if got := w.history(t, iss.Key.ID); !slices.Equal(got, []string{record.ActionCreated, record.ActionRevoked}) {
		t.Errorf("history = %v, want created then one revoked", got)
	}
	if _, err := w.m.Revoke(context.Background(), "nosuchkey000"); err == nil {
		t.Error("revoking an unknown key succeeded")
	}
}

func TestRotateKeepsTheOldSecretForTheGraceOnly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
	}{{"with grace", time.Hour}, {"without grace", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			iss, err := w.m.Create(context.Background(), keys.Spec{Name: "k", Models: []string{"*"}})
			if err != nil {
				t.Fatal(err)
			}
			rot, err := w.m.Rotate(context.Background(), iss.Key.ID, tc.grace)
			if err != nil {
				t.Fatal(err)
			}
			if rot.Key.ID != iss.Key.ID || rot.Secret == iss.Secret {
				t.Fatalf("rotation gave id %s (was %s) and the same secret: %v", rot.Key.ID, iss.Key.ID, rot.Secret == iss.Secret)
			}
			if got := w.outcome(t, rot.Secret); got != authz.Allow {
				t.Errorf("the new secret: %v", got)
			}
			oldWorks := authz.Unauthorized
			if tc.grace > 0 {
				oldWorks = authz.Allow
			}
			if got := w.outcome(t, iss.Secret); got != oldWorks {
				t.Errorf("the old secret within the grace: %v, want %v", got, oldWorks)
			}
			w.now = w.now.Add(tc.grace)
			if got := w.outcome(t, iss.Secret); got != authz.Unauthorized {
				t.Errorf("the old secret once the grace is over: %v", got)
			}
			if got := w.outcome(t, rot.Secret); got != authz.Allow {
				t.Errorf("the new secret once the grace is over: %v", got)
			}
			if got := w.history(t, iss.Key.ID); !slices.Equal(got, []string{record.ActionCreated, record.ActionRotated}) {
				t.Errorf("history = %v", got)
			}
		})
	}
}

func TestOnlyActiveUnexpiredKeysRotate(t *testing.T) {
	w := newWorld(t)
	revoked, err := w.m.Create(context.Background(), keys.Spec{Name: "revoked", Models: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.Revoke(context.Background(), revoked.Key.ID); err != nil {
		t.Fatal(err)
	}
	expiring, err := w.m.Create(context.Background(), keys.Spec{Name: "expiring", Models: []string{"*"}, ExpiresAt: w.now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	active, err := w.m.Create(context.Background(), keys.Spec{Name: "active", Models: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(time.Minute)
	for _, tc := range []struct {
		name  string
		id    string
		grace time.Duration
	}{
		{"revoked", revoked.Key.ID, 0},
		{"expired", expiring.Key.ID, 0},
		{"negative grace", active.Key.ID, -time.Second},
	} {
		if _, err := w.m.Rotate(context.Background(), tc.id, tc.grace); !errors.Is(err, keys.ErrInvalid) {
			t.Errorf("%s: Rotate = %v, want ErrInvalid", tc.name, err)
		}
	}
	if got := keys.StatusAt(expiring.Key, w.now); got != record.StatusExpired {
		t.Errorf("StatusAt past the expiry = %s, want expired", got)
	}
	if got := keys.StatusAt(expiring.Key, w.now.Add(-time.Second)); got != record.StatusActive {
		t.Errorf("StatusAt before the expiry = %s, want active", got)
	}
}
