package authz_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/record"
)

// scribble changes everything a caller could change in a decision it got.
func scribble(d authz.Decision) {
	for i := range d.Scope {
		d.Scope[i] = "*"
	}
	for k := range d.Context {
		d.Context[k] = "scribbled"
	}
	d.Context["extra"] = "scribbled"
	if d.Principal != nil {
		d.Principal.ID, d.Principal.Tenant = "scribbled", "scribbled"
		d.Principal.Limits.RPM = 1
		for i := range d.Principal.Models {
			d.Principal.Models[i] = "*"
		}
	}
}

// TestADecisionChangedByItsCallerChangesNoOtherDecision: the key cache keeps
// one decision per key and a token verifier may keep one principal per
// token; what a caller does to its decision (a Lambda wrapper adding a
// context entry, say) must not reach the next caller of the same key.
func TestADecisionChangedByItsCallerChangesNoOtherDecision(t *testing.T) {
	f := newFixture(t)
	key := f.addKey(t, nil)
	rotated := f.addKey(t, func(k *record.Key) {
		k.PreviousSecretHash, k.PreviousExpiresAt = k.SecretHash, f.now.Add(time.Hour)
	})
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
	verifier := stubVerifier{p: &record.Principal{ID: "jwt:i#alice", Kind: record.KindJWT, Models: []string{"echo"}}}
	for _, tc := range []struct {
		name       string
		cfg        authz.Config
		credential string
	}{
		{"cached api key", authz.Config{CacheTTL: time.Hour}, key},
		{"cached api key, previous secret", authz.Config{CacheTTL: time.Hour}, rotated},
		{"uncached api key", authz.Config{}, key},
		{"jwt whose principal the verifier keeps", authz.Config{Tokens: verifier}, jwt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Routes = []string{"POST/v1/chat/completions", "POST/model/{model}/invoke"}
			a := f.authorizer(t, tc.cfg)
			first, err := a.Decide(context.Background(), tc.credential)
			if err != nil || first.Outcome != authz.Allow {
				t.Fatalf("Decide = %v, %v", first.Outcome, err)
			}
			want := snapshot(first)
			scribble(first)
			again, err := a.Decide(context.Background(), tc.credential)
			if err != nil {
				t.Fatal(err)
			}
			if got := snapshot(again); !reflect.DeepEqual(got, want) {
				t.Errorf("after the first caller changed its decision the next got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// decisionValues is a decision's content without its shared references.
type decisionValues struct {
	Outcome   authz.Outcome
	Principal record.Principal
	Scope     []string
	Context   map[string]any
}

func snapshot(d authz.Decision) decisionValues {
	v := decisionValues{Outcome: d.Outcome, Scope: slices.Clone(d.Scope), Context: map[string]any{}}
	if d.Principal != nil {
		v.Principal = *d.Principal
		v.Principal.Models = slices.Clone(d.Principal.Models)
	}
	for k, x := range d.Context {
		v.Context[k] = x
	}
	return v
}

// TestRoutesAreTheAuthorizersOwn: the routes an Authorizer grants are fixed
// when it is built. Neither changing the slice passed as Config.Routes nor
// changing what DefaultRoutes returned reaches an Authorizer's scope.
func TestRoutesAreTheAuthorizersOwn(t *testing.T) {
	f := newFixture(t)
	key := f.addKey(t, nil)
	scopeOf := func(a *authz.Authorizer) []string {
		t.Helper()
		d, err := a.Decide(context.Background(), key)
		if err != nil || d.Outcome != authz.Allow {
			t.Fatalf("Decide = %v, %v", d.Outcome, err)
		}
		return d.Scope
	}

	routes := []string{"POST/v1/chat/completions"}
	a := f.authorizer(t, authz.Config{Routes: routes})
	routes[0] = "*"
	if got := scopeOf(a); !slices.Equal(got, []string{"POST/v1/chat/completions"}) {
		t.Errorf("after the caller changed its Config.Routes, scope = %q", got)
	}

	defaults := authz.DefaultRoutes()
	want := slices.Clone(defaults)
	defaults[0] = "*"
	if got := scopeOf(f.authorizer(t, authz.Config{})); !slices.Equal(got, want) {
		t.Errorf("after a caller changed DefaultRoutes' answer, the default scope = %q, want %q", got, want)
	}
	if got := authz.DefaultRoutes(); !slices.Equal(got, want) {
		t.Errorf("DefaultRoutes = %q after a caller changed an earlier answer, want %q", got, want)
	}
}
