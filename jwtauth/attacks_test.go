package jwtauth_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/jwttest"
)

// TestAttacksAreRefusedWithoutFetchStorm presents the classic JWT attacks to a
// verifier trusting two issuers. Each must be refused as an invalid
// credential (never an outage, never a principal), none may fetch a URL
// named in the token, and together they may cause at most one JWKS refresh
// per RefreshInterval.
func TestAttacksAreRefusedWithoutFetchStorm(t *testing.T) {
	clk := newClock()
	good := rsaKey(t, 0)
	ecGood := jwttest.MustKey(t, "ES256", "ec-good")
	a := jwttest.NewIssuer(t, good, ecGood)
	bKey := jwttest.MustKey(t, "ES256", "b-key")
	b := jwttest.NewIssuer(t, bKey)
	attacker := jwttest.MustKey(t, "ES256", "attacker")
	attackerRSA := rsaKey(t, 2)
	counter := jwttest.NewCounter(t)

	const refresh = time.Minute
	v := newVerifier(t, jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{
			{Issuer: a.URL, Audiences: []string{testAudience}}, // by discovery
			{Issuer: b.URL, JWKSURL: b.JWKSURL(), Audiences: []string{"b-api"}},
		},
		RefreshInterval: jwtauth.Duration(refresh),
		Now:             clk.Now,
	})
	mustVerify(t, v, good.MustSign(t, claims(a.URL, clk), nil))
	mustVerify(t, v, ecGood.MustSign(t, claims(a.URL, clk), nil))
	mustVerify(t, v, bKey.MustSign(t, with(claims(b.URL, clk), "aud", "b-api"), nil))

	pubDER, err := x509.MarshalPKIXPublicKey(good.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubJWK, err := json.Marshal(good.JWK())
	if err != nil {
		t.Fatal(err)
	}
	sign := func(alg jose.SignatureAlgorithm, key any, kid string, c any, hdr map[string]any) string {
		t.Helper()
		s, err := jwttest.SignWith(alg, key, kid, c, hdr)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := func() int64 { return clk.Now().Unix() }
	c := func() map[string]any { return claims(a.URL, clk) }
	parts := func(tok string) []string { return strings.Split(tok, ".") }
	embedded := attacker.JWK()
	embeddedTrusted := attacker.JWK()
	embeddedTrusted.KeyID = ecGood.ID

	attacks := []struct {
		name  string
		want  string // in the error: refused for the right reason
		token func() string
	}{
		{"alg none with an empty signature", "not a compact JWS", func() string {
			return jwttest.Unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": good.ID}, c())
		}},
		{"alg none with a signature", "algorithm is not allowed", func() string {
			return jwttest.Unsigned(map[string]any{"alg": "none", "kid": good.ID}, c()) + "c2ln"
		}},
		{"alg NoNe", "algorithm is not allowed", func() string {
			return jwttest.Unsigned(map[string]any{"alg": "NoNe", "kid": good.ID}, c()) + "c2ln"
		}},
		{"HS256 keyed with the RSA public key as PEM", "algorithm is not allowed", func() string {
			return sign(jose.HS256, pubPEM, good.ID, c(), nil)
		}},
		{"HS256 keyed with the RSA public key as DER", "algorithm is not allowed", func() string {
			return sign(jose.HS256, pubDER, good.ID, c(), nil)
		}},
		{"HS512 keyed with the public JWK", "algorithm is not allowed", func() string {
			return sign(jose.HS512, pubJWK, good.ID, c(), nil)
		}},
		{"kid that does not exist", "key id is unknown", func() string {
			return sign(jose.ES256, attacker.Private, "does-not-exist", c(), nil)
		}},
		{"kid with path characters", "key id is unknown", func() string {
			return sign(jose.ES256, attacker.Private, "../../../../etc/passwd", c(), nil)
		}},
		{"kid with SQL characters", "key id is unknown", func() string {
			return sign(jose.ES256, attacker.Private, "' OR '1'='1' --", c(), nil)
		}},
		{"kid with NUL and URL characters", "key id is unknown", func() string {
			return sign(jose.ES256, attacker.Private, "x\x00/..%2f?a=1#", c(), nil)
		}},
		{"jku header to the attacker's keys", "key id is unknown", func() string {
			return sign(jose.ES256, attacker.Private, attacker.ID, c(), map[string]any{"jku": counter.URL + "/jwks.json"})
		}},
		{"jku header with a trusted kid", "signature does not verify", func() string {
			return sign(jose.ES256, attacker.Private, ecGood.ID, c(), map[string]any{"jku": counter.URL + "/jwks.json"})
		}},
		{"x5u header", "key id is unknown", func() string {
			return sign(jose.ES256, attacker.Private, attacker.ID, c(), map[string]any{"x5u": counter.URL + "/cert.pem"})
		}},
		{"embedded jwk header", "key id is unknown", func() string {
			return sign(jose.ES256, attacker.Private, attacker.ID, c(), map[string]any{"jwk": embedded})
		}},
		{"embedded jwk header with a trusted kid", "signature does not verify", func() string {
			return sign(jose.ES256, attacker.Private, ecGood.ID, c(), map[string]any{"jwk": embeddedTrusted})
		}},
		{"crit header on a well-signed token", `"crit"`, func() string {
			return good.MustSign(t, c(), map[string]any{"crit": []string{"exp"}})
		}},
		{"crit b64 on a well-signed token", `"crit"`, func() string {
			return good.MustSign(t, c(), map[string]any{"crit": []string{"b64"}, "b64": true})
		}},
		{"expired", "expired", func() string { return good.MustSign(t, with(c(), "exp", now()-1), nil) }},
		{"expiring this second", "expired", func() string { return good.MustSign(t, with(c(), "exp", now()), nil) }},
		{"nbf in the future beyond leeway", `"nbf"`, func() string {
			return good.MustSign(t, with(c(), "nbf", now()+31), nil)
		}},
		{"iat in the future beyond leeway", `"iat"`, func() string {
			return good.MustSign(t, with(c(), "iat", now()+31), nil)
		}},
		{"wrong aud", "audience", func() string { return good.MustSign(t, with(c(), "aud", "other-app"), nil) }},
		{"aud list without ours", "audience", func() string {
			return good.MustSign(t, with(c(), "aud", []string{"x", "y"}), nil)
		}},
		{"no aud", "audience", func() string { return good.MustSign(t, with(c(), "aud", nil), nil) }},
		{"wrong iss", "not trusted", func() string { return good.MustSign(t, with(c(), "iss", "https://evil.example"), nil) }},
		{"iss with a trailing slash", "not trusted", func() string { return good.MustSign(t, with(c(), "iss", a.URL+"/"), nil) }},
		{"no iss", `no "iss"`, func() string { return good.MustSign(t, with(c(), "iss", nil), nil) }},
		{"no exp", `no "exp"`, func() string { return good.MustSign(t, with(c(), "exp", nil), nil) }},
		{"exp as a string", "NumericDate", func() string {
			return good.MustSign(t, with(c(), "exp", "99999999999"), nil)
		}},
		{"no sub", "principal id", func() string { return good.MustSign(t, with(c(), "sub", nil), nil) }},
		{"stripped signature", "not a compact JWS", func() string {
			p := parts(good.MustSign(t, c(), nil))
			return p[0] + "." + p[1] + "."
		}},
		{"signature of another token", "signature does not verify", func() string {
			p := parts(good.MustSign(t, c(), nil))
			q := parts(good.MustSign(t, with(c(), "sub", "admin"), nil))
			return p[0] + "." + q[1] + "." + p[2]
		}},
		{"tampered payload", "signature does not verify", func() string {
			p := parts(good.MustSign(t, c(), nil))
			return p[0] + "." + jwttest.Segment(with(c(), "sub", "admin")) + "." + p[2]
		}},
		{"ES256 signature from another key with a trusted kid", "signature does not verify", func() string {
			return sign(jose.ES256, attacker.Private, ecGood.ID, c(), nil)
		}},
		{"RS256 signature from another key with a trusted kid", "signature does not verify", func() string {
			return sign(jose.RS256, attackerRSA.Private, good.ID, c(), nil)
		}},
		{"ES256 header with an RSA kid", "another type", func() string {
			return sign(jose.ES256, attacker.Private, good.ID, c(), nil)
		}},
		{"RS256 header with an EC kid", "another type", func() string {
			return sign(jose.RS256, attackerRSA.Private, ecGood.ID, c(), nil)
		}},
		{"PS256 not allowed for the issuer", "algorithm is not allowed", func() string {
			return sign(jose.PS256, good.Private, good.ID, c(), nil)
		}},
		{"oversized token", "larger than", func() string {
			return good.MustSign(t, with(c(), "pad", strings.Repeat("x", jwtauth.MaxTokenBytes)), nil)
		}},
		{"malformed base64", "not a compact JWS", func() string {
			p := parts(good.MustSign(t, c(), nil))
			return p[0] + "." + p[1][:len(p[1])-1] + "!." + p[2]
		}},
		{"base64 of impossible length", "malformed", func() string {
			p := parts(good.MustSign(t, c(), nil))
			return p[0] + "." + p[1] + "A." + p[2]
		}},
		{"header not JSON", "malformed", func() string {
			p := parts(good.MustSign(t, c(), nil))
			return base64.RawURLEncoding.EncodeToString([]byte("{alg:RS256")) + "." + p[1] + "." + p[2]
		}},
		{"payload not JSON", "malformed", func() string {
			s, err := jwttest.SignRaw(jose.RS256, good.Private, good.ID, []byte("{not json"), nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"payload a JSON array", "malformed", func() string {
			return sign(jose.RS256, good.Private, good.ID, []any{"iss", a.URL}, nil)
		}},
		{"payload null", "malformed", func() string {
			return sign(jose.RS256, good.Private, good.ID, nil, nil)
		}},
		{"JWS JSON serialization", "not a compact JWS", func() string {
			p := parts(good.MustSign(t, c(), nil))
			return `{"payload":"` + p[1] + `","protected":"` + p[0] + `","signature":"` + p[2] + `"}`
		}},
		{"leading whitespace", "not a compact JWS", func() string { return " " + good.MustSign(t, c(), nil) }},
		{"empty", "not a compact JWS", func() string { return "" }},
		{"second trusted issuer's token presented as the first", "key id is unknown", func() string {
			return bKey.MustSign(t, c(), nil)
		}},
		{"second trusted issuer's key under the first's kid", "signature does not verify", func() string {
			return sign(jose.ES256, bKey.Private, ecGood.ID, c(), nil)
		}},
		{"first issuer's token for the second issuer's audience", "audience", func() string {
			return good.MustSign(t, with(c(), "aud", "b-api"), nil)
		}},
		{"second issuer's token with the first issuer's audience", "audience", func() string {
			return bKey.MustSign(t, claims(b.URL, clk), nil)
		}},
	}
	if len(attacks) < 20 {
		t.Fatalf("only %d attacks", len(attacks))
	}

	for round := range 2 {
		if round == 1 {
			// A refresh becomes allowed again: all the attacks of this round
			// together may use it once per issuer.
			clk.Advance(refresh + time.Second)
		}
		for _, at := range attacks {
			t.Run(at.name, func(t *testing.T) {
				tok := at.token()
				err := mustRefuse(t, v, tok)
				if !strings.Contains(err.Error(), at.want) {
					t.Errorf("error %q does not say %q", err, at.want)
				}
				if sig := tok[strings.LastIndexByte(tok, '.')+1:]; len(sig) > 8 && strings.Contains(err.Error(), sig) {
					t.Errorf("error %q contains the token", err)
				}
			})
		}
	}

	if n := counter.Hits(); n != 0 {
		t.Errorf("URLs named in tokens were fetched %d times", n)
	}
	if n := a.DiscoveryFetches(); n != 1 {
		t.Errorf("issuer A discovery fetched %d times, want 1", n)
	}
	// One fetch to warm up, then at most one per RefreshInterval elapsed.
	if n := a.JWKSFetches(); n > 2 {
		t.Errorf("issuer A JWKS fetched %d times, want ≤ 2", n)
	}
	if n := b.JWKSFetches(); n > 2 {
		t.Errorf("issuer B JWKS fetched %d times, want ≤ 2", n)
	}
	// And the real tokens still work.
	mustVerify(t, v, good.MustSign(t, claims(a.URL, clk), nil))
	mustVerify(t, v, bKey.MustSign(t, with(claims(b.URL, clk), "aud", "b-api"), nil))
}
