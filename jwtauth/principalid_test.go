package jwtauth_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/jwttest"
	"github.com/aigate/aigate/record"
)

// The same subject from two issuers is two principals, and neither is the
// API key whose id equals the subject: limits and usage key on the id.
func TestPrincipalIDNamesTheIssuerAndTheKind(t *testing.T) {
	clk := newClock()
	k := jwttest.MustKey(t, "EdDSA", "k1")
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.JWK()}})
	if err != nil {
		t.Fatal(err)
	}
	const a, b = "https://a.idp.invalid", "https://b.idp.invalid"
	ic := func(iss string) jwtauth.IssuerConfig {
		return jwtauth.IssuerConfig{Issuer: iss, StaticJWKS: string(set), Audiences: []string{testAudience}, Algorithms: []string{"EdDSA"}}
	}
	v := newVerifier(t, jwtauth.Config{Issuers: []jwtauth.IssuerConfig{ic(a), ic(b)}, Now: clk.Now})
	const sub = "7ltwygwjurzt" // shaped like an API key id
	pa := mustVerify(t, v, k.MustSign(t, with(claims(a, clk), "sub", sub), nil))
	pb := mustVerify(t, v, k.MustSign(t, with(claims(b, clk), "sub", sub), nil))
	if pa.ID != "jwt:"+a+"#"+sub || pb.ID != "jwt:"+b+"#"+sub {
		t.Fatalf("principal ids = %q, %q", pa.ID, pb.ID)
	}
	if pa.ID == record.KeyPrincipalID(sub) {
		t.Fatalf("a JWT subject names the API key %s", sub)
	}
	kind, iss, s, ok := record.SplitPrincipalID(pa.ID)
	if !ok || kind != record.KindJWT || iss != a || s != sub {
		t.Errorf("SplitPrincipalID(%q) = %q, %q, %q, %v", pa.ID, kind, iss, s, ok)
	}
}

// An issuer with a '#' would make "jwt:ISSUER#SUBJECT" ambiguous (and is no
// OIDC issuer: those have no fragment).
func TestIssuerWithAFragmentIsRefused(t *testing.T) {
	_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.IssuerConfig{{
		Issuer: "https://idp.example/#x", StaticJWKS: `{"keys":[]}`, Audiences: []string{testAudience},
	}}})
	if err == nil || !strings.Contains(err.Error(), "'#'") {
		t.Fatalf("New = %v, want an error about the '#'", err)
	}
}
