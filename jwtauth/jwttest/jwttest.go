// Package jwttest stands up a fake OpenID Connect provider on 127.0.0.1 for
// tests: its own key pairs, a discovery document, a JWKS that can be rotated,
// counters of every fetch, and an outage switch. It signs with go-jose; it
// is for tests only and never verifies anything.
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is a signing key pair of the test issuer.
type Key struct {
	ID      string
	Alg     string // RS256, ES256, EdDSA, …
	Private crypto.Signer
}

// NewKey generates a key for alg (RS*/PS*: RSA-2048; ES256/384/512: the
// matching curve; EdDSA: Ed25519) with key id kid.
func NewKey(alg, kid string) (*Key, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("jwttest: unsupported alg %q", alg)
	}
	if err != nil {
		return nil, err
	}
	return &Key{ID: kid, Alg: alg, Private: priv}, nil
}

// MustKey is NewKey that fails the test on error.
func MustKey(t testing.TB, alg, kid string) *Key {
	t.Helper()
	k, err := NewKey(alg, kid)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// JWK is the public half of k as published in a JWKS.
func (k *Key) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Private.Public(), KeyID: k.ID, Algorithm: k.Alg, Use: "sig"}
}

// Sign returns a compact JWS of claims signed by k, with "kid" set to k.ID
// (omitted when empty) and any extra protected headers.
func (k *Key) Sign(claims any, extra map[string]any) (string, error) {
	return SignWith(jose.SignatureAlgorithm(k.Alg), k.Private, k.ID, claims, extra)
}

// MustSign is Sign that fails the test on error.
func (k *Key) MustSign(t testing.TB, claims any, extra map[string]any) string {
	t.Helper()
	s, err := k.Sign(claims, extra)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// SignWith signs claims, as JSON, with any go-jose signing key, including
// an HMAC secret ([]byte), which a verifier must refuse.
func SignWith(alg jose.SignatureAlgorithm, key any, kid string, claims any, extra map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return SignRaw(alg, key, kid, payload, extra)
}

// SignRaw signs payload bytes as they are (not necessarily JSON).
func SignRaw(alg jose.SignatureAlgorithm, key any, kid string, payload []byte, extra map[string]any) (string, error) {
	opts := &jose.SignerOptions{}
	opts.WithType("JWT")
	for k, v := range extra {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	sk := jose.SigningKey{Algorithm: alg, Key: key}
	if kid != "" {
		sk.Key = jose.JSONWebKey{Key: key, KeyID: kid}
	}
	signer, err := jose.NewSigner(sk, opts)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// Unsigned returns header.claims. with an empty signature, as an "alg":
// "none" token is written. For attack tests.
func Unsigned(header, claims map[string]any) string {
	return Segment(header) + "." + Segment(claims) + "."
}

// Segment is v as JSON in unpadded base64url, a token segment.
func Segment(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Claims returns the usual claims of a token from iss for aud, valid from
// now for ttl.
func Claims(iss, aud, sub string, now time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"iss": iss,
		"aud": aud,
		"sub": sub,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
}

// Issuer is a fake OpenID Connect provider served on 127.0.0.1. URL is both
// its issuer identifier and its base URL.
type Issuer struct {
	URL string

	srv *httptest.Server

	mu              sync.Mutex
	published       []*Key
	jwksBody        []byte // overrides published keys when non-nil
	discoveryIssuer string // overrides "issuer" in discovery when non-empty
	down            bool
	delay           time.Duration

	jwksHits      atomic.Int64
	discoveryHits atomic.Int64
}

// NewIssuer starts an issuer publishing keys; it is closed when the test
// ends.
func NewIssuer(t testing.TB, keys ...*Key) *Issuer {
	t.Helper()
	i := &Issuer{published: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /.well-known/jwks.json", i.serveJWKS)
	i.srv = httptest.NewServer(mux)
	i.URL = i.srv.URL
	t.Cleanup(i.srv.Close)
	return i
}

// JWKSURL is where the issuer serves its JWKS.
func (i *Issuer) JWKSURL() string { return i.URL + "/.well-known/jwks.json" }

// Publish replaces the published keys (a rotation).
func (i *Issuer) Publish(keys ...*Key) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.published = keys
}

// SetJWKSBody makes the JWKS endpoint answer body verbatim (nil: the
// published keys).
func (i *Issuer) SetJWKSBody(body []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksBody = body
}

// SetDiscoveryIssuer makes discovery claim another issuer ("": the truth).
func (i *Issuer) SetDiscoveryIssuer(iss string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.discoveryIssuer = iss
}

// SetDown makes every endpoint answer 503 (an outage) or recover.
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.down = down
}

// SetDelay delays every answer by d (a slow provider).
func (i *Issuer) SetDelay(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.delay = d
}

// JWKSFetches counts requests to the JWKS endpoint.
func (i *Issuer) JWKSFetches() int64 { return i.jwksHits.Load() }

// DiscoveryFetches counts requests to the discovery endpoint.
func (i *Issuer) DiscoveryFetches() int64 { return i.discoveryHits.Load() }

// JWKS is the JWK Set of the published keys.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.jwksLocked()
}

func (i *Issuer) jwksLocked() []byte {
	if i.jwksBody != nil {
		return i.jwksBody
	}
	var set jose.JSONWebKeySet
	for _, k := range i.published {
		set.Keys = append(set.Keys, k.JWK())
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

// wait applies the outage and delay settings; false means answered 503.
func (i *Issuer) wait(w http.ResponseWriter, r *http.Request) bool {
	i.mu.Lock()
	down, delay := i.down, i.delay
	i.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return false
		}
	}
	if down {
		http.Error(w, "identity provider unavailable", http.StatusServiceUnavailable)
		return false
	}
	return true
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.discoveryHits.Add(1)
	if !i.wait(w, r) {
		return
	}
	i.mu.Lock()
	iss := i.discoveryIssuer
	i.mu.Unlock()
	if iss == "" {
		iss = i.URL
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              i.JWKSURL(),
		"authorization_endpoint":                i.URL + "/authorize",
		"token_endpoint":                        i.URL + "/token",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.jwksHits.Add(1)
	if !i.wait(w, r) {
		return
	}
	i.mu.Lock()
	body := i.jwksLocked()
	i.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// Counter is an HTTP server that only counts requests: the place an attack
// token's "jku" or "x5u" points to, to prove nothing ever fetches it.
type Counter struct {
	URL  string
	hits atomic.Int64
}

// NewCounter starts a Counter, closed when the test ends.
func NewCounter(t testing.TB) *Counter {
	t.Helper()
	c := &Counter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		http.NotFound(w, r)
	}))
	c.URL = srv.URL
	t.Cleanup(srv.Close)
	return c
}

// Hits counts the requests the Counter received.
func (c *Counter) Hits() int64 { return c.hits.Load() }
