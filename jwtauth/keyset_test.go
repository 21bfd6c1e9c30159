package jwtauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/jwttest"
	"github.com/aigate/aigate/record"
)

const (
	testRefresh = time.Minute
	testMaxAge  = 15 * time.Minute
)

func remoteConfig(iss *jwttest.Issuer, clk *clock) jwtauth.Config {
	return jwtauth.Config{
		Issuers:         []jwtauth.IssuerConfig{{Issuer: iss.URL, JWKSURL: iss.JWKSURL(), Audiences: []string{testAudience}}},
		RefreshInterval: jwtauth.Duration(testRefresh),
		MaxKeyAge:       jwtauth.Duration(testMaxAge),
		Now:             clk.Now,
	}
}

func TestRotatedKeyVerifiesAfterOneRefreshAndWithdrawnKeyStops(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "ES256", "k1")
	k2 := jwttest.MustKey(t, "ES256", "k2")
	iss := jwttest.NewIssuer(t, k1)
	v := newVerifier(t, remoteConfig(iss, clk)) // token cache on

	old := k1.MustSign(t, claims(iss.URL, clk), nil)
	mustVerify(t, v, old)
	if n := iss.JWKSFetches(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}

	// The issuer publishes k2 and signs with it at once. Within the
	// refresh interval the new kid is unknown and may not cause a fetch.
	iss.Publish(k1, k2)
	mustRefuse(t, v, k2.MustSign(t, claims(iss.URL, clk), nil))
	if n := iss.JWKSFetches(); n != 1 {
		t.Fatalf("fetches = %d, want 1 (refresh too soon)", n)
	}
	clk.Advance(testRefresh)
	mustVerify(t, v, k2.MustSign(t, claims(iss.URL, clk), nil))
	if n := iss.JWKSFetches(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (one refresh)", n)
	}
	mustVerify(t, v, old) // k1 is still published

	// k1 leaves the JWKS. Until the next refresh it is still trusted (the
	// stated bound is MaxKeyAge); after it, neither fresh nor cached k1
	// tokens verify.
	iss.Publish(k2)
	mustVerify(t, v, old)
	clk.Advance(testMaxAge)
	err := mustRefuse(t, v, old)
	if !strings.Contains(err.Error(), "key id is unknown") {
		t.Errorf("err = %v, want unknown key id", err)
	}
	mustRefuse(t, v, k1.MustSign(t, claims(iss.URL, clk), nil))
	mustVerify(t, v, k2.MustSign(t, claims(iss.URL, clk), nil))
	if n := iss.JWKSFetches(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}
}

func TestUnknownKidRefreshWithdrawsKeysImmediately(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "ES256", "k1")
	k2 := jwttest.MustKey(t, "ES256", "k2")
	iss := jwttest.NewIssuer(t, k1)
	v := newVerifier(t, remoteConfig(iss, clk))
	old := k1.MustSign(t, claims(iss.URL, clk), nil)
	mustVerify(t, v, old)

	// A clean cut-over: k2 replaces k1. The first k2 token refreshes the
	// keys, and from then on k1 tokens, even cached ones, are refused.
	iss.Publish(k2)
	clk.Advance(testRefresh)
	mustVerify(t, v, k2.MustSign(t, claims(iss.URL, clk), nil))
	mustRefuse(t, v, old)
}

func TestUnknownKidFloodCausesOneFetch(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "ES256", "k1")
	attacker := jwttest.MustKey(t, "ES256", "x")
	iss := jwttest.NewIssuer(t, k1)
	v := newVerifier(t, remoteConfig(iss, clk))
	mustVerify(t, v, k1.MustSign(t, claims(iss.URL, clk), nil))
	clk.Advance(testRefresh) // one refresh is allowed now
	iss.SetDelay(50 * time.Millisecond)

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		tok, err := jwttest.SignWith(jose.ES256, attacker.Private, fmt.Sprintf("forged-%d", i), claims(iss.URL, clk), nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			_, err := v.VerifyToken(context.Background(), tok)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, authz.ErrInvalidCredential) {
			t.Errorf("err = %v, want invalid credential", err)
		}
	}
	if n := iss.JWKSFetches(); n != 2 {
		t.Errorf("fetches = %d, want 2 (warm-up + one refresh for 64 forged kids)", n)
	}
}

func TestOutageWithWarmCacheKeepsValidTokensWorking(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "ES256", "k1")
	iss := jwttest.NewIssuer(t, k1)
	cfg := remoteConfig(iss, clk)
	cfg.CacheSize = -1 // every token goes to the keys
	v := newVerifier(t, cfg)
	mustVerify(t, v, k1.MustSign(t, claims(iss.URL, clk), nil))

	iss.SetDown(true)
	clk.Advance(testMaxAge) // the keys are due for a refresh, which fails
	for range 3 {
		mustVerify(t, v, k1.MustSign(t, claims(iss.URL, clk), nil))
	}
	if n := iss.JWKSFetches(); n != 2 {
		t.Errorf("fetches = %d, want 2 (one failed refresh, then spaced)", n)
	}
	// A token under an unknown key cannot be decided while the provider
	// is down: fail closed, not 401.
	other := jwttest.MustKey(t, "ES256", "k-new")
	err := mustBeOutage(t, v, other.MustSign(t, claims(iss.URL, clk), nil))
	if !errors.Is(err, jwtauth.ErrKeysUnavailable) {
		t.Errorf("err = %v, want ErrKeysUnavailable", err)
	}
	// Bad tokens are still refused as such.
	mustRefuse(t, v, k1.MustSign(t, with(claims(iss.URL, clk), "aud", "x"), nil))
}

func TestOutageWithColdCacheFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*jwttest.Issuer)
		cfg   func(*jwttest.Issuer) jwtauth.IssuerConfig
	}{
		{"jwks down", func(i *jwttest.Issuer) { i.SetDown(true) }, func(i *jwttest.Issuer) jwtauth.IssuerConfig {
			return jwtauth.IssuerConfig{Issuer: i.URL, JWKSURL: i.JWKSURL(), Audiences: []string{testAudience}}
		}},
		{"discovery down", func(i *jwttest.Issuer) { i.SetDown(true) }, func(i *jwttest.Issuer) jwtauth.IssuerConfig {
			return jwtauth.IssuerConfig{Issuer: i.URL, Audiences: []string{testAudience}}
		}},
		{"discovery names another issuer", func(i *jwttest.Issuer) { i.SetDiscoveryIssuer("https://elsewhere.example") },
			func(i *jwttest.Issuer) jwtauth.IssuerConfig {
				return jwtauth.IssuerConfig{Issuer: i.URL, Audiences: []string{testAudience}}
			}},
		{"jwks larger than the limit", func(i *jwttest.Issuer) {
			i.SetJWKSBody([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", jwtauth.MaxResponseBytes) + `"}`))
		}, func(i *jwttest.Issuer) jwtauth.IssuerConfig {
			return jwtauth.IssuerConfig{Issuer: i.URL, JWKSURL: i.JWKSURL(), Audiences: []string{testAudience}}
		}},
		{"jwks not JSON", func(i *jwttest.Issuer) { i.SetJWKSBody([]byte("<html>")) }, func(i *jwttest.Issuer) jwtauth.IssuerConfig {
			return jwtauth.IssuerConfig{Issuer: i.URL, JWKSURL: i.JWKSURL(), Audiences: []string{testAudience}}
		}},
		{"jwks with only a symmetric key", func(i *jwttest.Issuer) {
			i.SetJWKSBody([]byte(`{"keys":[{"kty":"oct","kid":"k1","k":"c2VjcmV0"}]}`))
		}, func(i *jwttest.Issuer) jwtauth.IssuerConfig {
			return jwtauth.IssuerConfig{Issuer: i.URL, JWKSURL: i.JWKSURL(), Audiences: []string{testAudience}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			k1 := jwttest.MustKey(t, "ES256", "k1")
			iss := jwttest.NewIssuer(t, k1)
			tc.setup(iss)
			v := newVerifier(t, jwtauth.Config{Issuers: []jwtauth.IssuerConfig{tc.cfg(iss)}, Now: clk.Now})
			tok := k1.MustSign(t, claims(iss.URL, clk), nil)
			err := mustBeOutage(t, v, tok)
			if !errors.Is(err, jwtauth.ErrKeysUnavailable) {
				t.Errorf("err = %v, want ErrKeysUnavailable", err)
			}
			if strings.Contains(err.Error(), tok[strings.LastIndexByte(tok, '.')+1:]) {
				t.Errorf("error %q contains the token", err)
			}
			// Tokens refused by the cheap checks need no keys: still 401.
			mustRefuse(t, v, k1.MustSign(t, with(claims(iss.URL, clk), "exp", clk.Now().Unix()-5), nil))
			mustRefuse(t, v, k1.MustSign(t, with(claims(iss.URL, clk), "iss", "https://evil.example"), nil))
		})
	}
}

func TestColdCacheRecoversAndRetriesAreSpaced(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "ES256", "k1")
	iss := jwttest.NewIssuer(t, k1)
	v := newVerifier(t, remoteConfig(iss, clk))
	iss.SetDown(true)
	tok := k1.MustSign(t, claims(iss.URL, clk), nil)
	for range 20 {
		mustBeOutage(t, v, tok)
	}
	if n := iss.JWKSFetches(); n != 1 {
		t.Errorf("fetches while down = %d, want 1", n)
	}
	iss.SetDown(false)
	mustBeOutage(t, v, tok) // still within the cold retry spacing
	clk.Advance(5 * time.Second)
	mustVerify(t, v, tok)
	if n := iss.JWKSFetches(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}
}

func TestSlowProviderTimesOut(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "ES256", "k1")
	iss := jwttest.NewIssuer(t, k1)
	// A provider that would answer in an hour: only the fetch timeout
	// lets VerifyToken return at all (else the test runs into go test's
	// timeout), and the error says the fetch ran out of time.
	iss.SetDelay(time.Hour)
	cfg := remoteConfig(iss, clk)
	cfg.FetchTimeout = jwtauth.Duration(100 * time.Millisecond)
	v := newVerifier(t, cfg)
	err := mustBeOutage(t, v, k1.MustSign(t, claims(iss.URL, clk), nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the fetch's deadline", err)
	}
}

func TestCallerGivingUpIsNotAnInvalidCredential(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "ES256", "k1")
	iss := jwttest.NewIssuer(t, k1)
	iss.SetDelay(time.Second)
	v := newVerifier(t, remoteConfig(iss, clk))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := v.VerifyToken(ctx, k1.MustSign(t, claims(iss.URL, clk), nil))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, authz.ErrInvalidCredential) {
		t.Fatalf("err = %v, want the context's error and not invalid credential", err)
	}
}

func TestStaticJWKSNeedsNoNetwork(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "EdDSA", "k1")
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k1.JWK()}})
	if err != nil {
		t.Fatal(err)
	}
	const issuer = "https://idp.invalid/tenant" // would not resolve
	v := newVerifier(t, jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{{Issuer: issuer, StaticJWKS: string(set), Audiences: []string{testAudience}, Algorithms: []string{"EdDSA"}}},
		Now:     clk.Now,
	})
	p := mustVerify(t, v, k1.MustSign(t, claims(issuer, clk), nil))
	if p.ID != record.JWTPrincipalID(issuer, "alice") || p.Kind != record.KindJWT {
		t.Errorf("principal = %+v", p)
	}
	other := jwttest.MustKey(t, "EdDSA", "k2")
	mustRefuse(t, v, other.MustSign(t, claims(issuer, clk), nil))
}

func TestStaticJWKSSeedsARemoteKeySet(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "ES256", "k1")
	k2 := jwttest.MustKey(t, "ES256", "k2")
	iss := jwttest.NewIssuer(t, k1, k2)
	seed, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k1.JWK()}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := remoteConfig(iss, clk)
	cfg.Issuers[0].StaticJWKS = string(seed)
	v := newVerifier(t, cfg)
	mustVerify(t, v, k1.MustSign(t, claims(iss.URL, clk), nil))
	if n := iss.JWKSFetches(); n != 0 {
		t.Fatalf("fetches = %d, want 0: the seed answers", n)
	}
	mustVerify(t, v, k2.MustSign(t, claims(iss.URL, clk), nil))
	if n := iss.JWKSFetches(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
}

func TestDiscoveryFindsTheJWKSOnce(t *testing.T) {
	clk := newClock()
	k1 := rsaKey(t, 1)
	iss := jwttest.NewIssuer(t, k1)
	v := newVerifier(t, jwtauth.Config{Issuers: []jwtauth.IssuerConfig{{Issuer: iss.URL, Audiences: []string{testAudience}}}, Now: clk.Now})
	mustVerify(t, v, k1.MustSign(t, claims(iss.URL, clk), nil))
	clk.Advance(testMaxAge)
	mustVerify(t, v, k1.MustSign(t, claims(iss.URL, clk), nil))
	if d, j := iss.DiscoveryFetches(), iss.JWKSFetches(); d != 1 || j != 2 {
		t.Errorf("discovery fetches = %d, jwks fetches = %d; want 1 and 2", d, j)
	}
}

func TestPublishedPrivateKeyIsUsedOnlyAsPublic(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "ES256", "k1")
	iss := jwttest.NewIssuer(t, k1)
	priv := jose.JSONWebKey{Key: k1.Private, KeyID: "k1", Algorithm: "ES256"}
	body, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{priv}})
	if err != nil {
		t.Fatal(err)
	}
	iss.SetJWKSBody(body)
	v := newVerifier(t, remoteConfig(iss, clk))
	mustVerify(t, v, k1.MustSign(t, claims(iss.URL, clk), nil))
}

func TestLeewayBindsNotBeforeAndIssuedAt(t *testing.T) {
	clk := newClock()
	k1 := jwttest.MustKey(t, "ES256", "k1")
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k1.JWK()}})
	if err != nil {
		t.Fatal(err)
	}
	const issuer = "https://idp.example"
	for _, tc := range []struct {
		name   string
		leeway time.Duration
		claim  string
		ahead  int64 // seconds in the future
		ok     bool
	}{
		{"nbf within default leeway", 0, "nbf", 30, true},
		{"nbf beyond default leeway", 0, "nbf", 31, false},
		{"iat within default leeway", 0, "iat", 29, true},
		{"iat beyond default leeway", 0, "iat", 31, false},
		{"nbf beyond a 5s leeway (go-oidc alone allows 5 min)", 5 * time.Second, "nbf", 6, false},
		{"nbf within a 60s leeway", 60 * time.Second, "nbf", 60, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, jwtauth.Config{
				Issuers: []jwtauth.IssuerConfig{{Issuer: issuer, StaticJWKS: string(set), Audiences: []string{testAudience}}},
				Leeway:  jwtauth.Duration(tc.leeway),
				Now:     clk.Now,
			})
			tok := k1.MustSign(t, with(claims(issuer, clk), tc.claim, clk.Now().Unix()+tc.ahead), nil)
			if tc.ok {
				mustVerify(t, v, tok)
			} else {
				mustRefuse(t, v, tok)
			}
		})
	}
}

func TestNewRefusesDangerousConfig(t *testing.T) {
	const iss = "https://idp.example"
	ok := jwtauth.IssuerConfig{Issuer: iss, JWKSURL: iss + "/jwks", Audiences: []string{"a"}}
	for _, tc := range []struct {
		name string
		mod  func(*jwtauth.Config)
		want string
	}{
		{"no issuers", func(c *jwtauth.Config) { c.Issuers = nil }, "no issuers"},
		{"no audience", func(c *jwtauth.Config) { c.Issuers[0].Audiences = nil }, "audiences"},
		{"empty audience", func(c *jwtauth.Config) { c.Issuers[0].Audiences = []string{""} }, "audiences"},
		{"alg none", func(c *jwtauth.Config) { c.Issuers[0].Algorithms = []string{"none"} }, `"none"`},
		{"HS256", func(c *jwtauth.Config) { c.Issuers[0].Algorithms = []string{"RS256", "HS256"} }, `"HS256"`},
		{"leeway over 60s", func(c *jwtauth.Config) { c.Leeway = jwtauth.Duration(61 * time.Second) }, "leeway"},
		{"negative refresh", func(c *jwtauth.Config) { c.RefreshInterval = -1 }, "negative"},
		{"http jwks to a remote host", func(c *jwtauth.Config) { c.Issuers[0].JWKSURL = "http://idp.example/jwks" }, "plain http"},
		{"http discovery to a remote host", func(c *jwtauth.Config) {
			c.Issuers[0] = jwtauth.IssuerConfig{Issuer: "http://idp.example", Audiences: []string{"a"}}
		}, "plain http"},
		{"ftp jwks", func(c *jwtauth.Config) { c.Issuers[0].JWKSURL = "ftp://idp.example/jwks" }, "scheme"},
		{"bad static jwks", func(c *jwtauth.Config) { c.Issuers[0].StaticJWKS = `{"keys":[]}` }, "staticJwks"},
		{"duplicate issuer", func(c *jwtauth.Config) { c.Issuers = append(c.Issuers, c.Issuers[0]) }, "twice"},
		{"undefined default plan", func(c *jwtauth.Config) { c.DefaultPlan = "gold" }, "default plan"},
		{"group plan to an undefined plan", func(c *jwtauth.Config) {
			c.Issuers[0].Claims.Groups = "groups"
			c.Issuers[0].Claims.GroupPlans = []jwtauth.GroupPlan{{Group: "g", Plan: "gold"}}
		}, "undefined plan"},
		{"group plans without a groups claim", func(c *jwtauth.Config) {
			c.Plans = map[string]record.Limits{"gold": {}}
			c.Issuers[0].Claims.GroupPlans = []jwtauth.GroupPlan{{Group: "g", Plan: "gold"}}
		}, "groups claim"},
		{"default model that is no model name", func(c *jwtauth.Config) {
			c.Issuers[0].Claims.DefaultModels = []string{"echo,gpt-x"}
		}, "defaultModels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := jwtauth.Config{Issuers: []jwtauth.IssuerConfig{ok}}
			tc.mod(&cfg)
			_, err := jwtauth.New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error about %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "jwtauth: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	// Plain http is fine to loopback (tests, a local issuer) and when the
	// configuration says so explicitly.
	for _, ic := range []jwtauth.IssuerConfig{
		{Issuer: "http://127.0.0.1:8080", Audiences: []string{"a"}},
		{Issuer: "http://localhost:8080/realms/dev", Audiences: []string{"a"}},
		{Issuer: "http://keycloak:8080/realms/dev", Audiences: []string{"a"}, InsecureAllowHTTP: true},
	} {
		if _, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.IssuerConfig{ic}}); err != nil {
			t.Errorf("New(%s) = %v", ic.Issuer, err)
		}
	}
}
