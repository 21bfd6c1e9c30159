package jwtauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/record"
)

// Verifier verifies bearer JWTs from the configured issuers and maps them to
// principals. It implements authz.TokenVerifier and is safe for concurrent
// use. Its configuration is fixed at New.
type Verifier struct {
	issuers map[string]*issuer
	algs    []jose.SignatureAlgorithm // union over issuers: the parse allow-list
	leeway  time.Duration
	now     func() time.Time
	cache   *tokenCache // nil: disabled
}

var _ authz.TokenVerifier = (*Verifier)(nil)

// issuer is one trusted provider, ready to verify.
type issuer struct {
	keys      *keySet     // the issuer's keys, with our refresh policy
	sigs      oidc.KeySet // keys, as the signature checker
	algs      []string
	audiences []string
	audClaim  string
	required  map[string]string
	mapper    *claimMapper
}

// supportedAlgs are the asymmetric algorithms an issuer may allow. "none"
// and HS256/384/512 are deliberately absent.
var supportedAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.EdDSA,
}

// New checks cfg and returns a Verifier. It makes no network call: keys are
// fetched when a token first needs them (or never, for static keys). ctx is
// not retained.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	_ = ctx
	if len(cfg.Issuers) == 0 {
		return nil, errors.New("jwtauth: no issuers configured")
	}
	v := &Verifier{issuers: make(map[string]*issuer, len(cfg.Issuers)), now: cfg.Now}
	if v.now == nil {
		v.now = time.Now
	}
	v.leeway = orDefault(cfg.Leeway, DefaultLeeway)
	if v.leeway < 0 || v.leeway > MaxLeeway {
		return nil, fmt.Errorf("jwtauth: leeway %v is outside 0…%v", v.leeway, MaxLeeway)
	}
	refresh := orDefault(cfg.RefreshInterval, DefaultRefreshInterval)
	maxAge := orDefault(cfg.MaxKeyAge, DefaultMaxKeyAge)
	fetchTimeout := orDefault(cfg.FetchTimeout, DefaultFetchTimeout)
	if refresh < 0 || maxAge < 0 || fetchTimeout < 0 {
		return nil, errors.New("jwtauth: refreshInterval, maxKeyAge and fetchTimeout must not be negative")
	}
	if err := checkPlans(cfg); err != nil {
		return nil, err
	}
	cfg.Plans = maps.Clone(cfg.Plans) // the caller's map may change; ours may not
	client := limitedClient(cfg.HTTPClient, fetchTimeout)
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}

	for i := range cfg.Issuers {
		ic := &cfg.Issuers[i]
		if _, dup := v.issuers[ic.Issuer]; dup {
			return nil, fmt.Errorf("jwtauth: issuer %q configured twice", ic.Issuer)
		}
		is, err := newIssuer(ic, cfg, v.now)
		if err != nil {
			return nil, fmt.Errorf("jwtauth: issuer %q: %w", ic.Issuer, err)
		}
		ks := is.keys
		ks.client, ks.now, ks.logger = client, v.now, logger
		ks.refreshInterval, ks.maxAge, ks.fetchTimeout = refresh, maxAge, fetchTimeout
		v.issuers[ic.Issuer] = is
		for _, a := range is.algs {
			if !containsAlg(v.algs, a) {
				v.algs = append(v.algs, jose.SignatureAlgorithm(a))
			}
		}
	}

	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		v.cache = newTokenCache(size)
	}
	return v, nil
}

func checkPlans(cfg Config) error {
	if cfg.DefaultPlan != "" {
		if _, ok := cfg.Plans[cfg.DefaultPlan]; !ok {
			return fmt.Errorf("jwtauth: default plan %q is not defined in plans", cfg.DefaultPlan)
		}
	}
	for _, ic := range cfg.Issuers {
		for _, gp := range ic.Claims.GroupPlans {
			if gp.Group == "" {
				return fmt.Errorf("jwtauth: issuer %q: a group plan rule has no group", ic.Issuer)
			}
			if _, ok := cfg.Plans[gp.Plan]; !ok {
				return fmt.Errorf("jwtauth: issuer %q: group %q maps to undefined plan %q", ic.Issuer, gp.Group, gp.Plan)
			}
		}
		if len(ic.Claims.GroupPlans) > 0 && ic.Claims.Groups == "" {
			return fmt.Errorf("jwtauth: issuer %q: groupPlans need a groups claim", ic.Issuer)
		}
		for _, m := range ic.Claims.DefaultModels {
			if err := authz.CheckModelPattern(m); err != nil {
				return fmt.Errorf("jwtauth: issuer %q: defaultModels: %w", ic.Issuer, err)
			}
		}
	}
	return nil
}

func newIssuer(ic *IssuerConfig, cfg Config, now func() time.Time) (*issuer, error) {
	if ic.Issuer == "" {
		return nil, errors.New("issuer is empty")
	}
	// An OIDC issuer is a URL without a fragment; a '#' would also make
	// principal ids ("jwt:ISSUER#SUBJECT") ambiguous between issuers.
	if strings.Contains(ic.Issuer, "#") {
		return nil, errors.New("issuer contains '#'")
	}
	if len(ic.Audiences) == 0 || slices.Contains(ic.Audiences, "") {
		return nil, errors.New("audiences must list at least one non-empty audience")
	}
	algs := ic.Algorithms
	if len(algs) == 0 {
		algs = defaultAlgorithms
	}
	for _, a := range algs {
		if !slices.Contains(supportedAlgs, a) {
			return nil, fmt.Errorf("algorithm %q is not allowed (want some of %v)", a, supportedAlgs)
		}
	}
	ks := &keySet{issuer: ic.Issuer, jwksURL: ic.JWKSURL, allowHTTP: ic.InsecureAllowHTTP}
	for _, a := range algs {
		ks.algs = append(ks.algs, jose.SignatureAlgorithm(a))
	}
	switch {
	case ic.JWKSURL != "":
		if err := checkFetchURL(ic.JWKSURL, ic.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("jwksUrl: %w", err)
		}
		ks.fetches = true
	case ic.StaticJWKS == "":
		if err := checkFetchURL(ic.Issuer, ic.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		ks.fetches = true
	}
	if ic.StaticJWKS != "" {
		set, err := parseJWKS([]byte(ic.StaticJWKS), ks.algs)
		if err != nil {
			return nil, fmt.Errorf("staticJwks: %w", err)
		}
		// Seeded keys count as fetched now: they are refreshed after
		// MaxKeyAge like any other, when there is a URL to refresh from.
		ks.cur.Store(&keySnapshot{set: set, fetched: now()})
	}
	audClaim := ic.AudienceClaim
	if audClaim == "" {
		audClaim = "aud"
	}
	return &issuer{
		keys:      ks,
		sigs:      ks,
		algs:      slices.Clone(algs),
		audiences: slices.Clone(ic.Audiences),
		audClaim:  audClaim,
		required:  maps.Clone(ic.RequiredClaims),
		mapper:    newClaimMapper(ic.Claims, cfg.Plans, cfg.DefaultPlan),
	}, nil
}

// limitedClient returns a copy of c (or a new client) whose responses are
// limited to MaxResponseBytes and, unless c has its own redirect policy,
// whose redirects stay on https (or loopback), so that an https JWKS URL
// cannot be redirected to plain http.
func limitedClient(c *http.Client, timeout time.Duration) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	} else {
		out.Timeout = timeout
	}
	if out.CheckRedirect == nil {
		out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("jwtauth: too many redirects")
			}
			return checkFetchURL(req.URL.String(), false)
		}
	}
	base := out.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = limitedTransport{base: base}
	return &out
}

// VerifyToken verifies token (the bare JWT, without "Bearer ") and returns
// its principal. Every token that does not verify gives an error wrapping
// authz.ErrInvalidCredential; an error that does not wrap it (e.g. wrapping
// ErrKeysUnavailable, or the context's error) means no decision could be
// made and the caller must fail closed.
func (v *Verifier) VerifyToken(ctx context.Context, token string) (*record.Principal, error) {
	if len(token) > MaxTokenBytes {
		return nil, errTooLarge
	}
	now := v.now()
	var sum [32]byte
	if v.cache != nil {
		// Hashed in place: converting the token to []byte would copy
		// (and allocate) up to 8 KiB, a third of a cache hit's time;
		// Sum256 neither keeps nor modifies its input.
		sum = sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
		if p, ok := v.cache.get(sum, now); ok {
			return p, nil
		}
	}
	if !authz.LooksLikeJWT(token) {
		return nil, errNotJWT
	}
	jws, err := jose.ParseSignedCompact(token, v.algs)
	if err != nil {
		var algErr *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &algErr) {
			return nil, errAlgorithm
		}
		return nil, errMalformed
	}
	if len(jws.Signatures) != 1 {
		return nil, errMalformed
	}
	hdr := jws.Signatures[0].Header
	// go-jose honours crit ["b64"]; no issuer of ours sends either, so a
	// token that does is refused rather than interpreted.
	if _, ok := hdr.ExtraHeaders["crit"]; ok {
		return nil, errCritical
	}
	if _, ok := hdr.ExtraHeaders["b64"]; ok {
		return nil, errB64
	}

	// Claims are checked before the signature, so that a token that could
	// not be accepted anyway costs no signature check and no key fetch. The
	// payload is the one the signature covers (checked below).
	payload := jws.UnsafePayloadWithoutVerification()
	c, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	iss, _, err := c.str("iss")
	if err != nil {
		return nil, err
	}
	if iss == "" {
		return nil, errNoIssuer
	}
	is := v.issuers[iss]
	if is == nil {
		return nil, errUntrusted
	}
	if !slices.Contains(is.algs, hdr.Algorithm) {
		return nil, errAlgorithm
	}
	exp, err := v.checkTimes(c, now)
	if err != nil {
		return nil, err
	}
	if err := is.checkAudience(c); err != nil {
		return nil, err
	}
	for name, want := range is.required {
		if got, _, err := c.str(name); err != nil || got != want {
			return nil, invalidf("claim %q does not have its required value", name)
		}
	}
	p, err := is.mapper.principal(iss, c, exp)
	if err != nil {
		return nil, err
	}

	// The signature, with this issuer's keys only (its oidc.KeySet), last:
	// it is the expensive step and the only one that may fetch keys. The
	// KeySet reuses the parse above rather than parsing again.
	st := &verifyState{jws: jws}
	verified, err := is.sigs.VerifySignature(context.WithValue(ctx, verifyStateKey{}, st), token)
	switch {
	case err != nil:
		return nil, err
	case !bytes.Equal(verified, payload):
		return nil, errBadSignature // cannot happen: one parse, one payload
	}
	if v.cache != nil {
		v.cache.put(sum, p, is.keys, st.gen)
	}
	return p, nil
}

// checkTimes enforces exp (required, no leeway), and nbf and iat (optional,
// with the leeway). go-oidc's own nbf check allows 5 minutes; this one is
// the binding one.
func (v *Verifier) checkTimes(c claimSet, now time.Time) (time.Time, error) {
	exp, ok, err := c.numericDate("exp")
	switch {
	case err != nil:
		return time.Time{}, err
	case !ok:
		return time.Time{}, errNoExpiry
	case !now.Before(exp):
		return time.Time{}, errExpired
	}
	skewed := now.Add(v.leeway)
	nbf, ok, err := c.numericDate("nbf")
	switch {
	case err != nil:
		return time.Time{}, err
	case ok && skewed.Before(nbf):
		return time.Time{}, errNotYetValid
	}
	iat, ok, err := c.numericDate("iat")
	switch {
	case err != nil:
		return time.Time{}, err
	case ok && skewed.Before(iat):
		return time.Time{}, errIssuedInFuture
	}
	return exp, nil
}

func (is *issuer) checkAudience(c claimSet) error {
	raw, ok := c.lookup(is.audClaim)
	if !ok {
		return errAudience
	}
	if one, ok := stringValue(raw); ok {
		if slices.Contains(is.audiences, one) {
			return nil
		}
		return errAudience
	}
	many, _ := stringArray(raw)
	for _, a := range many {
		if slices.Contains(is.audiences, a) {
			return nil
		}
	}
	return errAudience
}
