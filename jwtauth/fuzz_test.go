package jwtauth_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/jwttest"
	"github.com/aigate/aigate/record"
)

// The fuzz target's issuer has a fixed key (testdata/fuzz-es256-key.json, a
// test key that protects nothing) and a fixed clock, so that the valid
// token in the committed seed corpus stays valid.
const (
	fuzzIssuer = "https://idp.example/fuzz"
	fuzzNow    = 1_800_000_000
)

func fuzzKey(f *testing.F) *jwttest.Key {
	f.Helper()
	b, err := os.ReadFile("testdata/fuzz-es256-key.json")
	if err != nil {
		f.Fatal(err)
	}
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(b, &jwk); err != nil {
		f.Fatal(err)
	}
	return &jwttest.Key{ID: jwk.KeyID, Alg: jwk.Algorithm, Private: jwk.Key.(crypto.Signer)}
}

// fuzzValidToken is the one token the fuzz verifier accepts.
func fuzzValidToken(f *testing.F, key *jwttest.Key) string {
	c := jwttest.Claims(fuzzIssuer, testAudience, "fuzzer", time.Unix(fuzzNow, 0), 100*365*24*time.Hour)
	c["models"] = "gpt-4o*"
	return key.MustSign(f, c, nil)
}

// FuzzVerifyToken: arbitrary strings never panic the verifier, are always
// refused as invalid credentials (its keys are static: there is no outage
// to report), never with the token in the error, and any token it accepts
// is one go-jose alone verifies with the single trusted key: the fuzzer
// cannot forge a signature, so every mutation of a seed must be refused.
func FuzzVerifyToken(f *testing.F) {
	key := fuzzKey(f)
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Private.Public(), KeyID: key.ID, Algorithm: key.Alg}}})
	if err != nil {
		f.Fatal(err)
	}
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{{
			Issuer: fuzzIssuer, StaticJWKS: string(set), Audiences: []string{testAudience},
			Algorithms: []string{"ES256", "RS256", "EdDSA"},
			Claims:     jwtauth.ClaimMapping{Models: "models", Groups: "groups", Tenant: "org.id"},
		}},
		CacheSize: -1,
		Now:       func() time.Time { return time.Unix(fuzzNow, 0) },
	})
	if err != nil {
		f.Fatal(err)
	}
	valid := fuzzValidToken(f, key)
	if _, err := v.VerifyToken(context.Background(), valid); err != nil {
		f.Fatalf("the valid seed does not verify: %v", err)
	}
	p := strings.Split(valid, ".")
	f.Add(valid)
	f.Add(p[0] + "." + p[1] + ".")
	f.Add(jwttest.Unsigned(map[string]any{"alg": "none"}, map[string]any{"iss": fuzzIssuer}) + "x")
	f.Add(p[0] + "." + jwttest.Segment(map[string]any{"iss": fuzzIssuer, "sub": "root", "aud": testAudience, "exp": fuzzNow + 60}) + "." + p[2])
	f.Add("a.b.c")
	f.Add("")

	f.Fuzz(func(t *testing.T, token string) {
		pr, err := v.VerifyToken(context.Background(), token)
		if err == nil {
			// Accepted: go-jose alone, with the one trusted key, must agree
			// that the key holder signed exactly this, for this issuer.
			jws, perr := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
			if perr != nil {
				t.Fatalf("accepted %q, which go-jose cannot parse: %v", token, perr)
			}
			payload, verr := jws.Verify(key.Private.Public())
			if verr != nil {
				t.Fatalf("accepted %q, whose signature go-jose refuses: %v", token, verr)
			}
			var c struct{ Iss, Sub string }
			if json.Unmarshal(payload, &c) != nil || c.Iss != fuzzIssuer || pr == nil || pr.ID != record.JWTPrincipalID(c.Iss, c.Sub) || pr.Kind != record.KindJWT {
				t.Fatalf("accepted %q as %+v", token, pr)
			}
			return
		}
		if pr != nil {
			t.Fatalf("principal with an error: %+v, %v", pr, err)
		}
		if !errors.Is(err, authz.ErrInvalidCredential) {
			t.Fatalf("err = %v, want invalid credential", err)
		}
		if sig := token[strings.LastIndexByte(token, '.')+1:]; len(sig) >= 16 && strings.Contains(err.Error(), sig) {
			t.Fatalf("error %q contains the token", err)
		}
	})
}
