package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// ErrKeysUnavailable is wrapped by VerifyToken's error when it cannot decide
// because an issuer's keys could not be had (an identity provider outage
// with no usable cached keys). It never wraps authz.ErrInvalidCredential:
// the caller must fail closed (API Gateway's 500), not answer 401.
var ErrKeysUnavailable = errors.New("jwtauth: signing keys unavailable")

// coldRetryInterval spaces fetch attempts while an issuer has no keys at
// all, so that a brief outage at a cold start is not held against every
// request for a whole RefreshInterval, yet a down provider is not hammered.
const coldRetryInterval = 5 * time.Second

// minRSABits refuses published RSA keys too short to be trusted.
const minRSABits = 2048

// keySet is one issuer's keys: an oidc.KeySet backed by a go-jose
// JSONWebKeySet, fetched lazily and refreshed by a policy an attacker
// cannot turn into a fetch storm (go-oidc's RemoteKeySet refetches on every
// unknown kid). Safe for concurrent use.
type keySet struct {
	issuer    string
	jwksURL   string // empty: discover it (when fetches)
	fetches   bool   // false: static keys only
	allowHTTP bool
	algs      []jose.SignatureAlgorithm

	client          *http.Client
	now             func() time.Time
	refreshInterval time.Duration
	maxAge          time.Duration
	fetchTimeout    time.Duration
	logger          *slog.Logger

	cur atomic.Pointer[keySnapshot] // nil until the first keys

	mu          sync.Mutex
	lastAttempt time.Time // start of the last fetch; zero: never
	lastErr     error     // outcome of the last fetch
	inflight    *inflight
	discovered  string // jwks_uri found by discovery; owned by the fetch in flight
}

var _ oidc.KeySet = (*keySet)(nil)

// keySnapshot is an immutable set of keys as fetched at one time.
type keySnapshot struct {
	set     jose.JSONWebKeySet
	fetched time.Time
	// gen increases each time a refresh withdraws a key, so that tokens
	// cached under the old keys stop being answered.
	gen uint64
}

type inflight struct {
	done chan struct{}
	snap *keySnapshot
	err  error
}

// answers reports whether a token verified under key generation gen may
// still be answered from the token cache at now: no key withdrawn since,
// and the keys not due for a refresh (which might withdraw some).
func (k *keySet) answers(gen uint64, now time.Time) bool {
	s := k.cur.Load()
	return s != nil && s.gen == gen && (!k.fetches || now.Sub(s.fetched) < k.maxAge)
}

// verifyStateKey carries a *verifyState into VerifySignature: the token as
// VerifyToken already parsed it in, the key generation that verified it
// out (for the token cache).
type verifyStateKey struct{}

type verifyState struct {
	jws *jose.JSONWebSignature
	gen uint64
}

// VerifySignature implements oidc.KeySet. It checks the signature only;
// the caller checks algorithms against its allow-list and every claim. Its
// errors wrap authz.ErrInvalidCredential, or ErrKeysUnavailable when the
// keys cannot be had.
func (k *keySet) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	st, _ := ctx.Value(verifyStateKey{}).(*verifyState)
	if st == nil {
		st = &verifyState{}
	}
	if st.jws == nil {
		jws, err := jose.ParseSignedCompact(token, k.algs)
		if err != nil {
			return nil, errMalformed
		}
		st.jws = jws
	}
	payload, gen, err := k.verify(ctx, st.jws)
	st.gen = gen
	return payload, err
}

func (k *keySet) verify(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, uint64, error) {
	if len(jws.Signatures) != 1 {
		return nil, 0, errMalformed
	}
	hdr := jws.Signatures[0].Header
	kid, alg := hdr.KeyID, hdr.Algorithm

	snap := k.cur.Load()
	if snap == nil || (k.fetches && k.now().Sub(snap.fetched) >= k.maxAge) {
		s, fetched, err := k.refresh(ctx)
		switch {
		case s == nil && snap == nil:
			if err == nil {
				err = errors.New("jwtauth: no keys yet")
			}
			return nil, 0, k.unavailable(err)
		case s == nil:
			// Gave up waiting for a refresh: the stale keys still serve.
			s = snap
		case fetched && err != nil:
			// Stale keys are still the provider's keys: keep using them.
			k.logger.WarnContext(ctx, "jwtauth: key refresh failed; using cached keys",
				"issuer", k.issuer, "error", err)
		}
		snap = s
	}

	match := matchKeys(snap, kid, alg)
	if match.fitting == 0 && !match.kidKnown && k.fetches {
		// An unknown key may be a new one: fetch, if the policy allows.
		s, fetched, err := k.refresh(ctx)
		switch {
		case err != nil:
			return nil, 0, k.unavailable(err)
		case !fetched:
			return nil, 0, errUnknownKey
		}
		snap = s
		match = matchKeys(snap, kid, alg)
	}
	switch {
	case match.fitting == 0 && match.kidKnown:
		return nil, 0, errKeyMismatch
	case match.fitting == 0:
		return nil, 0, errUnknownKey
	}
	for i := range snap.set.Keys {
		key := &snap.set.Keys[i]
		if !keyMatches(key, kid, alg) {
			continue
		}
		if payload, err := jws.Verify(key); err == nil {
			return payload, snap.gen, nil
		}
	}
	return nil, 0, errBadSignature
}

func (k *keySet) unavailable(cause error) error {
	return fmt.Errorf("%w: issuer %q: %w", ErrKeysUnavailable, k.issuer, cause)
}

type keyMatch struct {
	fitting  int  // keys that may verify this token
	kidKnown bool // the token's kid names a key, fitting or not
}

func matchKeys(snap *keySnapshot, kid, alg string) keyMatch {
	var m keyMatch
	for i := range snap.set.Keys {
		key := &snap.set.Keys[i]
		if kid != "" && key.KeyID == kid {
			m.kidKnown = true
		}
		if keyMatches(key, kid, alg) {
			m.fitting++
		}
	}
	return m
}

// keyMatches reports whether key may verify a signature with this kid and
// alg: same kid (any key when the token names none), an "alg" that agrees,
// and a key type and curve that fit alg, so that an ES256 header never
// reaches an RSA key (nor HS256 any public key).
func keyMatches(key *jose.JSONWebKey, kid, alg string) bool {
	if kid != "" && key.KeyID != kid {
		return false
	}
	if key.Algorithm != "" && key.Algorithm != alg {
		return false
	}
	switch pub := key.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// refresh returns the keys after fetching them if the policy allows a fetch
// now (or joining a fetch in flight). fetched reports whether this call saw
// a fetch; err is that fetch's error, or, when none was allowed, the last
// fetch's. snap is the current keys either way (nil while cold).
func (k *keySet) refresh(ctx context.Context) (snap *keySnapshot, fetched bool, err error) {
	if !k.fetches {
		return k.cur.Load(), false, nil
	}
	k.mu.Lock()
	f := k.inflight
	if f == nil {
		now := k.now()
		wait := k.refreshInterval
		if k.cur.Load() == nil {
			wait = min(wait, coldRetryInterval)
		}
		if !k.lastAttempt.IsZero() && now.Sub(k.lastAttempt) < wait {
			snap, err = k.cur.Load(), k.lastErr
			k.mu.Unlock()
			return snap, false, err
		}
		k.lastAttempt = now
		f = &inflight{done: make(chan struct{})}
		k.inflight = f
		// The fetch outlives a caller that gives up: others may be waiting.
		go k.fetch(context.WithoutCancel(ctx), f)
	}
	k.mu.Unlock()

	select {
	case <-ctx.Done():
		return nil, false, fmt.Errorf("jwtauth: waiting for keys: %w", ctx.Err())
	case <-f.done:
		if f.err != nil {
			return k.cur.Load(), true, f.err
		}
		return f.snap, true, nil
	}
}

func (k *keySet) fetch(ctx context.Context, f *inflight) {
	ctx, cancel := context.WithTimeout(ctx, k.fetchTimeout)
	defer cancel()
	set, err := k.download(ctx)

	k.mu.Lock()
	if err == nil {
		old := k.cur.Load()
		snap := &keySnapshot{set: set, fetched: k.now()}
		if old != nil {
			snap.gen = old.gen
			if withdrawsKey(old.set, set) {
				snap.gen++
			}
		}
		k.cur.Store(snap)
		f.snap = snap
	}
	f.err = err
	k.lastErr = err
	k.inflight = nil
	k.mu.Unlock()
	close(f.done)
}

func (k *keySet) download(ctx context.Context) (jose.JSONWebKeySet, error) {
	jwksURL := k.jwksURL
	if jwksURL == "" {
		if k.discovered == "" {
			u, err := k.discover(ctx)
			if err != nil {
				return jose.JSONWebKeySet{}, err
			}
			k.discovered = u
		}
		jwksURL = k.discovered
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwtauth: jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwtauth: fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwtauth: fetch jwks: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwtauth: fetch jwks: %s", resp.Status)
	}
	return parseJWKS(body, k.algs)
}

// discover finds the JWKS URL with go-oidc's discovery, which also checks
// that the document's "issuer" is ours.
func (k *keySet) discover(ctx context.Context) (string, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, k.client), k.issuer)
	if err != nil {
		return "", fmt.Errorf("jwtauth: discovery: %w", err)
	}
	var doc struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil {
		return "", fmt.Errorf("jwtauth: discovery: %w", err)
	}
	if doc.JWKSURL == "" {
		return "", errors.New("jwtauth: discovery: no jwks_uri")
	}
	if err := checkFetchURL(doc.JWKSURL, k.allowHTTP); err != nil {
		return "", fmt.Errorf("jwtauth: discovery: jwks_uri: %w", err)
	}
	return doc.JWKSURL, nil
}

// parseJWKS keeps the keys of a JWK Set that may verify signatures with
// algs, ignoring the rest as RFC 7517 §5 asks (unknown types, other uses,
// symmetric and short RSA keys). A private key published by mistake is
// reduced to its public half. A set with no usable key is an error, so that
// a broken response never replaces working keys.
func parseJWKS(body []byte, algs []jose.SignatureAlgorithm) (jose.JSONWebKeySet, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwtauth: jwks is not a JWK Set: %w", err)
	}
	var set jose.JSONWebKeySet
	for _, r := range raw.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(r); err != nil {
			continue
		}
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		if key.Algorithm != "" && !containsAlg(algs, key.Algorithm) {
			continue
		}
		if !key.IsPublic() {
			key = key.Public()
		}
		switch pub := key.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < minRSABits {
				continue
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			continue
		}
		set.Keys = append(set.Keys, key)
	}
	if len(set.Keys) == 0 {
		return set, errors.New("jwtauth: jwks has no usable signing key")
	}
	return set, nil
}

func containsAlg(algs []jose.SignatureAlgorithm, alg string) bool {
	for _, a := range algs {
		if string(a) == alg {
			return true
		}
	}
	return false
}

// withdrawsKey reports whether some key of old is not in next.
func withdrawsKey(old, next jose.JSONWebKeySet) bool {
	for i := range old.Keys {
		if !containsKey(next, &old.Keys[i]) {
			return true
		}
	}
	return false
}

func containsKey(set jose.JSONWebKeySet, key *jose.JSONWebKey) bool {
	pub, ok := key.Key.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return false
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if k.KeyID == key.KeyID && k.Algorithm == key.Algorithm && pub.Equal(k.Key) {
			return true
		}
	}
	return false
}

// checkFetchURL refuses plain http except to loopback hosts (or when the
// issuer's configuration explicitly allows it).
func checkFetchURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("jwtauth: bad url: %w", err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !isLoopback(u.Hostname()) {
			return fmt.Errorf("jwtauth: %q: plain http to a non-loopback host (set insecureAllowHttp to permit it)", u.Host)
		}
	default:
		return fmt.Errorf("jwtauth: url scheme %q: want https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("jwtauth: url has no host")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// limitedTransport fails a response body that exceeds MaxResponseBytes, rather
// than letting a hostile or broken endpoint fill memory.
type limitedTransport struct {
	base http.RoundTripper
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > MaxResponseBytes {
		resp.Body.Close()
		return nil, errBodyTooLarge
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxResponseBytes}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

var errBodyTooLarge = fmt.Errorf("jwtauth: response exceeds %d bytes", MaxResponseBytes)

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than allowed tells "exactly the limit" from "over".
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
