package storetest

import (
	"testing"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// testPrincipalsOfEachKindAreApart: principal ids carry their kind and a
// JWT's issuer, with ':', '#' and '/' in them; a key and JWT subjects with
// the same bare id, from one issuer or two, each have windows and ledger
// rows of their own.
func testPrincipalsOfEachKindAreApart(t *testing.T, s store.Store) {
	ids := []string{
		record.KeyPrincipalID("k1"),
		record.JWTPrincipalID("https://a.example/realms/x", "k1"),
		record.JWTPrincipalID("https://b.example", "k1"),
		record.JWTPrincipalID("", "k1"), // a migrated row of unknown issuer
	}
	one := record.Limits{RPM: 1}
	for i, p := range ids {
		id := string(rune('a' + i))
		mustReserve(t, s, reservation(id, p, 10, usageBase), one)
		mustSettle(t, s, id, 1, 2, usageBase)
	}
	for i, p := range ids {
		_, err := s.Reserve(t.Context(), reservation("again-"+p, p, 10, usageBase), one)
		if d := denial(t, err, "second request of "+p); d.Used != 1 {
			t.Errorf("%s: %d requests used, want its own 1", p, d.Used)
		}
		es := mustUsage(t, s, quota.Query{PrincipalID: p})
		if len(es) != 1 || es[0].RequestID != string(rune('a'+i)) || es[0].PrincipalID != p {
			t.Errorf("usage of %s = %+v, want its own row only", p, es)
		}
	}
}
