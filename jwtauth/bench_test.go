package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/jwttest"
)

// benchFixture is a verifier with warm (static) keys and a token with the
// claims a real access token carries.
type benchFixture struct {
	v     *jwtauth.Verifier
	key   *jwttest.Key
	token string
}

func newBenchFixture(b *testing.B, key *jwttest.Key, cacheSize int) *benchFixture {
	b.Helper()
	const iss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.JWK()}})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{{
			Issuer: iss, StaticJWKS: string(set), Audiences: []string{testAudience},
			Algorithms: []string{key.Alg},
			Claims: jwtauth.ClaimMapping{
				Tenant: "custom:tenant", Models: "custom:models",
				Groups: "cognito:groups", GroupPlans: []jwtauth.GroupPlan{{Group: "pro-users", Plan: "pro"}},
			},
		}},
		Plans: testPlans, DefaultPlan: "free",
		CacheSize: cacheSize,
		Now:       func() time.Time { return now },
	})
	if err != nil {
		b.Fatal(err)
	}
	c := jwttest.Claims(iss, testAudience, "5b9c1e2a-7f0d-4c1e-9a51-3f1f0e8c2d7b", now, time.Hour)
	c["name"] = "Alice Example"
	c["custom:tenant"] = "acme"
	c["custom:models"] = "gpt-4o*,claude-3-5-sonnet*"
	c["cognito:groups"] = []string{"users", "pro-users"}
	c["scope"] = "openid profile models:o1-mini"
	c["token_use"] = "access"
	c["jti"] = "0e1d2c3b-4a59-6877-8695-a4b3c2d1e0f9"
	c["auth_time"] = now.Unix()
	return &benchFixture{v: v, key: key, token: key.MustSign(b, c, nil)}
}

func (f *benchFixture) verify(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.v.VerifyToken(ctx, f.token); err != nil {
			b.Fatal(err)
		}
	}
}

// bareCrypto returns the signature check alone with crypto/rsa or
// crypto/ecdsa: SHA-256 of the signing input and the verify, nothing else.
func (f *benchFixture) bareCrypto(b *testing.B) func() {
	i := strings.LastIndexByte(f.token, '.')
	input := []byte(f.token[:i])
	sig, err := base64.RawURLEncoding.DecodeString(f.token[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	switch pub := f.key.Private.Public().(type) {
	case *rsa.PublicKey:
		return func() {
			d := sha256.Sum256(input)
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	case *ecdsa.PublicKey:
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return func() {
			d := sha256.Sum256(input)
			if !ecdsa.Verify(pub, d[:], r, s) {
				b.Fatal("bad signature")
			}
		}
	}
	b.Fatalf("unexpected key %T", f.key.Private.Public())
	return nil
}

// ratio alternates VerifyToken and a baseline check of the same token in
// one loop and reports their ratio, which, unlike two separate
// benchmarks, holds on a machine whose load changes during the run.
func (f *benchFixture) ratio(baseline func(*testing.B) func()) func(*testing.B) {
	return func(b *testing.B) { f.ratioTo(b, baseline(b)) }
}

func (f *benchFixture) ratioTo(b *testing.B, check func()) {
	ctx := context.Background()
	var verify, bare time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := f.v.VerifyToken(ctx, f.token); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		check()
		bare += time.Since(t1)
		verify += t1.Sub(t0)
		n++
	}
	b.ReportMetric(float64(verify.Nanoseconds())/float64(n), "verify-ns")
	b.ReportMetric(float64(bare.Nanoseconds())/float64(n), "baseline-ns")
	b.ReportMetric(float64(verify)/float64(bare), "x-baseline")
}

// bareGoJose returns go-jose's parse and verify of the token, no claims.
func (f *benchFixture) bareGoJose(b *testing.B) func() {
	pub := f.key.Private.Public()
	algs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(f.key.Alg)}
	return func() {
		jws, err := jose.ParseSignedCompact(f.token, algs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jws.Verify(pub); err != nil {
			b.Fatal(err)
		}
	}
}

func bench(check func(*testing.B) func()) func(*testing.B) {
	return func(b *testing.B) {
		run := check(b)
		b.ReportAllocs()
		for b.Loop() {
			run()
		}
	}
}

// BenchmarkVerifyToken measures verification plus claim mapping with warm
// keys and no token cache, beside the bare signature check of the same
// token in the same run; and the cache-hit path.
func BenchmarkVerifyToken(b *testing.B) {
	for _, tc := range []struct {
		alg string
		key func(testing.TB) *jwttest.Key
	}{
		{"RS256", func(t testing.TB) *jwttest.Key { return rsaKey(t, 0) }},
		{"ES256", func(t testing.TB) *jwttest.Key { return jwttest.MustKey(t, "ES256", "ec") }},
	} {
		f := newBenchFixture(b, tc.key(b), -1)
		b.Run(tc.alg+"/verify", f.verify)
		b.Run(tc.alg+"/bare-crypto", bench(f.bareCrypto))
		b.Run(tc.alg+"/bare-go-jose", bench(f.bareGoJose))
		b.Run(tc.alg+"/ratio-to-bare-crypto", f.ratio(f.bareCrypto))
		b.Run(tc.alg+"/ratio-to-bare-go-jose", f.ratio(f.bareGoJose))
	}
	f := newBenchFixture(b, jwttest.MustKey(b, "ES256", "ec"), 0)
	b.Run("cache-hit", f.verify)
}
