package jwttest_test

import (
	"encoding/json"
	"net/http"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/aigate/aigate/jwtauth/jwttest"
)

func TestIssuerServesRotatesCountsAndFails(t *testing.T) {
	k1 := jwttest.MustKey(t, "ES256", "k1")
	k2 := jwttest.MustKey(t, "EdDSA", "k2")
	iss := jwttest.NewIssuer(t, k1)

	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	get(t, iss.URL+"/.well-known/openid-configuration", http.StatusOK, &doc)
	if doc.Issuer != iss.URL || doc.JWKSURI != iss.JWKSURL() {
		t.Errorf("discovery = %+v", doc)
	}
	var set jose.JSONWebKeySet
	get(t, iss.JWKSURL(), http.StatusOK, &set)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != "k1" || !set.Keys[0].IsPublic() {
		t.Errorf("jwks = %+v", set)
	}
	iss.Publish(k1, k2)
	get(t, iss.JWKSURL(), http.StatusOK, &set)
	if len(set.Keys) != 2 {
		t.Errorf("after rotation: %d keys", len(set.Keys))
	}
	iss.SetDown(true)
	get(t, iss.JWKSURL(), http.StatusServiceUnavailable, nil)
	if n, d := iss.JWKSFetches(), iss.DiscoveryFetches(); n != 3 || d != 1 {
		t.Errorf("counted %d jwks and %d discovery fetches, want 3 and 1", n, d)
	}

	tok := k2.MustSign(t, map[string]any{"sub": "a"}, map[string]any{"x5u": "http://127.0.0.1:1/"})
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(k2.Private.Public()); err != nil || jws.Signatures[0].Header.KeyID != "k2" {
		t.Errorf("signed token: %v, kid %q", err, jws.Signatures[0].Header.KeyID)
	}
}

func get(t *testing.T, url string, code int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != code {
		t.Fatalf("GET %s = %d, want %d", url, resp.StatusCode, code)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
}
