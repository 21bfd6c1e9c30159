package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/internal/ttlcache"
	"github.com/aigate/aigate/record"
)

// Outcome is the kind of a decision.
type Outcome int

const (
	// Unauthorized: the credential proves nothing (API Gateway's 401).
	Unauthorized Outcome = iota
	// Deny: the caller is known but may call nothing on this API (403 with
	// an explicit deny).
	Deny
	// Allow: the caller may call the routes in the decision's Scope.
	Allow
)

func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	default:
		return "unauthorized"
	}
}

// Decision is the authorizer's answer for one credential. It does not depend
// on the route being called: API Gateway caches it and applies it to every
// later route, so the Scope must cover everything the principal may call.
// Every Decide returns a decision of its own (Principal, Scope and Context
// included): a caller may change it without changing anyone else's.
type Decision struct {
	Outcome   Outcome
	Principal *record.Principal // nil when Unauthorized
	// Scope lists route patterns relative to an API stage, "VERB/path" with
	// IAM wildcards (e.g. "GET/v1/models/*"). apigw turns them into
	// resource ARNs anchored at the event's API and stage.
	Scope []string
	// Context is what the integration receives: scalars only.
	Context map[string]any
	// Reason says why, for logs only; never shown to the caller and never
	// holding a secret.
	Reason string
}

// KeyStore is what the authorizer needs from a store: a lookup by key id.
// It returns an error wrapping record.ErrNotFound for an unknown id.
type KeyStore interface {
	GetKey(ctx context.Context, id string) (*record.Key, error)
}

// KeyUpdater is implemented by stores that let the authorizer record that a
// key expired on use. Optional: without it the expiry is only enforced.
type KeyUpdater interface {
	UpdateKey(ctx context.Context, k *record.Key, ev record.AuditEvent) error
}

// KeysGeneration is implemented by stores that say cheaply, without a
// store read, whether any key may have changed since an earlier call: the
// value changes once a change has committed, by any process, before the
// call that made it returns (store/sqlite). With it the key cache re-reads
// a key whenever the value differs from the one noted before the key was
// read, so a revocation is seen at the next decision; CacheTTL still
// bounds an entry's age, for a writer that died before changing the value.
// An error means nothing can be said: the key is read from the store, and
// the cache neither answers nor is filled.
type KeysGeneration interface {
	KeysGeneration() (uint64, error)
}

// DefaultRoutes returns the scope of an allowed principal when Config.Routes
// is empty: exactly the AI API's routes, each with its verb. No pattern
// starts with a wildcard: IAM's '*' spans '/', so "*/v1/*" would also grant
// "GET/admin/v1/users". A trailing '*' stands for a model or response id,
// which may itself hold '/'. Each call returns a new slice: the default
// every Authorizer shares cannot be changed through it.
func DefaultRoutes() []string { return slices.Clone(defaultRoutes) }

var defaultRoutes = []string{
	"POST/v1/chat/completions",
	"POST/v1/embeddings",
	"GET/v1/models",
	"GET/v1/models/*",
	"POST/v1/responses",
	"GET/v1/responses/*",
	"POST/v1/messages",
	"POST/v1/messages/count_tokens",
}

// ModelPlaceholder in a route pattern expands to each of the principal's
// model patterns, so path-style model routes (Bedrock's /model/{id}/invoke)
// are scoped per model by API Gateway itself.
const ModelPlaceholder = "{model}"

// Config configures an Authorizer. Keys and Hasher are required for API keys.
type Config struct {
	// Keys looks up API keys by id. Nil: API keys are never accepted.
	Keys KeyStore
	// Hasher verifies API key secrets against the stored keyed hashes.
	Hasher *apikey.Hasher
	// Tokens verifies JWTs. Nil: JWTs are never accepted.
	Tokens TokenVerifier
	// Routes is the scope granted to every allowed principal (see
	// Decision.Scope and ModelPlaceholder). Empty: DefaultRoutes. New
	// copies it: changing the slice later changes nothing.
	Routes []string
	// CacheTTL keeps looked-up keys in memory for this long, so a warm
	// Lambda answers without a store read. It bounds how long a revocation
	// takes to be seen by this process; over a store that implements
	// KeysGeneration, only when the writer died between its commit and
	// telling the others (a change is otherwise seen at the next
	// decision). Zero disables the cache.
	CacheTTL time.Duration
	// CacheSize bounds the key cache. Zero: 10,000 entries.
	CacheSize int
	// Actor names this component in audit events it writes ("expired").
	Actor string
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// Logger receives expiry-recording failures. Nil: slog.Default().
	Logger *slog.Logger
}

// Authorizer makes decisions. Safe for concurrent use.
type Authorizer struct {
	cfg    Config
	routes []string
	cache  *ttlcache.Cache[string, *cachedKey] // nil: disabled
	gens   KeysGeneration                      // cfg.Keys's, if it has one
}

// New returns an Authorizer for cfg.
func New(cfg Config) (*Authorizer, error) {
	if cfg.Keys != nil && cfg.Hasher == nil {
		return nil, errors.New("authz: a key store needs a hasher")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Actor == "" {
		cfg.Actor = "authorizer"
	}
	routes := slices.Clone(cfg.Routes)
	if len(routes) == 0 {
		routes = defaultRoutes // never written: scopeFor only reads it
	}
	for _, r := range routes {
		verb, path, ok := strings.Cut(r, "/")
		if !ok || verb == "" || path == "" {
			return nil, fmt.Errorf("authz: route pattern %q is not VERB/path", r)
		}
	}
	a := &Authorizer{cfg: cfg, routes: routes}
	a.gens, _ = cfg.Keys.(KeysGeneration)
	if cfg.CacheTTL > 0 {
		size := cfg.CacheSize
		if size <= 0 {
			size = 10000
		}
		a.cache = ttlcache.New[string, *cachedKey](size)
	}
	return a, nil
}

var unauthorized = Decision{Outcome: Unauthorized}

// Decide authenticates credential (the bare secret: an API key or a JWT,
// without "Bearer ") and decides. A nil error with Outcome Unauthorized
// covers every bad credential; a non-nil error means the decision could not
// be made (store or identity provider outage) and must fail closed.
func (a *Authorizer) Decide(ctx context.Context, credential string) (Decision, error) {
	switch {
	case credential == "":
		return withReason(unauthorized, "no credential"), nil
	case apikey.LooksLikeKey(credential):
		return a.decideAPIKey(ctx, credential)
	case a.cfg.Tokens != nil && LooksLikeJWT(credential):
		p, err := a.cfg.Tokens.VerifyToken(ctx, credential)
		if errors.Is(err, ErrInvalidCredential) {
			return withReason(unauthorized, err.Error()), nil
		}
		if err != nil {
			return Decision{}, fmt.Errorf("authz: verify token: %w", err)
		}
		// The verifier may keep p in its token cache: the decision gets
		// a copy.
		return a.decideFor(p, a.contextFor(p)).clone(), nil
	default:
		return withReason(unauthorized, "unrecognised credential"), nil
	}
}

func withReason(d Decision, reason string) Decision {
	d.Reason = reason
	return d
}

func (a *Authorizer) decideAPIKey(ctx context.Context, credential string) (Decision, error) {
	// The checksum is checked before anything else: a mistyped or forged
	// key never costs a store read.
	k, err := apikey.Parse(credential)
	if err != nil {
		return withReason(unauthorized, "malformed api key"), nil
	}
	if a.cfg.Keys == nil {
		return withReason(unauthorized, "api keys not enabled"), nil
	}
	entry, err := a.lookup(ctx, k.ID)
	if errors.Is(err, record.ErrNotFound) {
		return withReason(unauthorized, "unknown api key"), nil
	}
	if err != nil {
		return Decision{}, fmt.Errorf("authz: look up key: %w", err)
	}
	key := entry.key
	now := a.cfg.Now()
	matched, previous := a.secretMatches(key, k, now)
	if !matched {
		return withReason(unauthorized, "wrong secret"), nil
	}
	switch {
	case key.Status == record.StatusRevoked:
		return withReason(unauthorized, "revoked api key"), nil
	case key.Status == record.StatusExpired:
		return withReason(unauthorized, "expired api key"), nil
	case key.Status != record.StatusActive:
		return Decision{}, fmt.Errorf("authz: key %s has unknown status %q", key.ID, key.Status)
	case key.Expired(now):
		a.recordExpired(ctx, key, now)
		return withReason(unauthorized, "expired api key"), nil
	}
	if previous {
		return entry.previous.clone(), nil
	}
	return entry.decision.clone(), nil
}

// clone returns d with a Principal, Scope and Context of its own. Cached
// decisions are handed out only through it, so that a caller changing its
// decision cannot change what the next caller of the same key is told.
// The cost, a few small allocations per warm decision, is measured by
// BenchmarkAuthorizeAPIKey.
func (d Decision) clone() Decision {
	if d.Principal != nil {
		p := *d.Principal
		p.Models = slices.Clone(p.Models)
		d.Principal = &p
	}
	d.Scope = slices.Clone(d.Scope)
	d.Context = maps.Clone(d.Context)
	return d
}

// secretMatches checks the current secret and, during a rotation's grace
// period, the previous one; previous says which matched. Both comparisons
// are constant-time.
func (a *Authorizer) secretMatches(key *record.Key, k apikey.Key, now time.Time) (matched, previous bool) {
	if a.cfg.Hasher.Verify(k, key.SecretHash) {
		return true, false
	}
	ok := len(key.PreviousSecretHash) > 0 && now.Before(key.PreviousExpiresAt) &&
		a.cfg.Hasher.Verify(k, key.PreviousSecretHash)
	return ok, ok
}

// recordExpired marks the key expired with an audit event, once: later uses
// see StatusExpired. A failure is logged, not returned: the caller is
// refused either way.
func (a *Authorizer) recordExpired(ctx context.Context, key *record.Key, now time.Time) {
	up, ok := a.cfg.Keys.(KeyUpdater)
	if !ok {
		return
	}
	next := *key
	next.Status = record.StatusExpired
	next.UpdatedAt = now
	next.Version++
	ev := record.AuditEvent{KeyID: key.ID, Action: record.ActionExpired, Actor: a.cfg.Actor, At: now, Detail: "presented after expiry"}
	if err := up.UpdateKey(ctx, &next, ev); err != nil && !errors.Is(err, record.ErrConflict) {
		a.cfg.Logger.WarnContext(ctx, "authz: record key expiry", "key_id", key.ID, "error", err)
	}
	if a.cache != nil {
		a.cache.Remove(key.ID)
	}
}

// cachedKey is a key with its decisions precomputed, so that a warm lookup
// only copies them (Decision.clone): one for the current secret and, while a
// rotation's grace lasts, one for the previous secret. They differ only in
// the context's CtxSecretFingerprint, which names the secret that matched.
// Shared by every caller of the cache, it is never written after lookup
// builds it.
type cachedKey struct {
	// generation is the store's KeysGeneration noted before the key was
	// read (0 for a store without one).
	generation uint64
	key        *record.Key
	decision   Decision
	previous   Decision // zero when the key has no previous secret
}

func (a *Authorizer) lookup(ctx context.Context, id string) (*cachedKey, error) {
	// The generation is read before the key: a change committed after it
	// was read changes it again, so the entry filled below is re-read at
	// the next decision that sees the new value.
	gen, cacheable := a.generation()
	// The entry's age counts from before the read: what it holds may be
	// that old.
	loaded := a.cfg.Now()
	if cacheable {
		if e, ok := a.cache.Get(id, loaded); ok && e.generation == gen {
			return e, nil
		}
	}
	key, err := a.cfg.Keys.GetKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if key.ID != id {
		return nil, fmt.Errorf("authz: store returned key %q for id %q", key.ID, id)
	}
	p := key.Principal()
	e := &cachedKey{generation: gen, key: key, decision: a.decideFor(p, a.secretContext(p, key.SecretHash))}
	if len(key.PreviousSecretHash) > 0 {
		e.previous = a.decideFor(p, a.secretContext(p, key.PreviousSecretHash))
	}
	if cacheable {
		a.cache.Put(id, e, loaded.Add(a.cfg.CacheTTL))
	}
	return e, nil
}

// generation returns the store's KeysGeneration (0 for a store without
// one), and whether the cache may answer and be filled: not when it is
// off, nor when the generation cannot be read (fail closed: the store is
// the truth).
func (a *Authorizer) generation() (uint64, bool) {
	if a.cache == nil {
		return 0, false
	}
	if a.gens == nil {
		return 0, true
	}
	g, err := a.gens.KeysGeneration()
	return g, err == nil
}

// decideFor turns an authenticated principal into a decision. A principal
// that may use no model may call nothing: an explicit Deny, which API
// Gateway caches like an Allow.
//
// A principal holding a pattern that is not a model name (CheckModelPattern)
// is denied as well: its grant cannot be carried to the AI API, or into a
// per-model scope, one way only.
func (a *Authorizer) decideFor(p *record.Principal, ctxMap map[string]any) Decision {
	if len(p.Models) == 0 {
		return Decision{Outcome: Deny, Principal: p, Context: ctxMap, Reason: "principal may use no model"}
	}
	for _, m := range p.Models {
		if err := CheckModelPattern(m); err != nil {
			return Decision{Outcome: Deny, Principal: p, Context: ctxMap, Reason: err.Error()}
		}
	}
	return Decision{Outcome: Allow, Principal: p, Scope: a.scopeFor(p), Context: ctxMap}
}

func (a *Authorizer) scopeFor(p *record.Principal) []string {
	scope := make([]string, 0, len(a.routes))
	for _, r := range a.routes {
		if !strings.Contains(r, ModelPlaceholder) {
			scope = append(scope, r)
			continue
		}
		for _, m := range p.Models {
			scope = append(scope, strings.ReplaceAll(r, ModelPlaceholder, m))
		}
	}
	return scope
}

// Context keys the integration receives. Values are scalars, as API Gateway
// requires; the AI API reads the same names back (see ParseContext).
const (
	CtxPrincipalID    = "principalId"
	CtxKind           = "kind"
	CtxName           = "name"
	CtxTenant         = "tenant"
	CtxModels         = "models" // EncodeModels: a JSON array of patterns, as a string
	CtxRPM            = "rpm"
	CtxTPM            = "tpm"
	CtxTokensPerDay   = "tokensPerDay"
	CtxTokensPerMonth = "tokensPerMonth"
	// CtxUSDPerDay and CtxUSDPerMonth are USD budgets in micro-dollars,
	// present only when set (absent reads as unlimited).
	CtxUSDPerDay   = "usdMicrosPerDay"
	CtxUSDPerMonth = "usdMicrosPerMonth"
	CtxExpiresAt   = "expiresAt"
	// CtxSecretFingerprint is set for API keys only: record.SecretFingerprint of
	// the stored hash the presented secret matched.
	CtxSecretFingerprint = "secretFingerprint"
)

func (a *Authorizer) contextFor(p *record.Principal) map[string]any {
	var exp int64
	if !p.ExpiresAt.IsZero() {
		exp = p.ExpiresAt.Unix()
	}
	m := map[string]any{
		CtxPrincipalID:    p.ID,
		CtxKind:           string(p.Kind),
		CtxName:           p.Name,
		CtxTenant:         p.Tenant,
		CtxModels:         EncodeModels(p.Models),
		CtxRPM:            p.Limits.RPM,
		CtxTPM:            p.Limits.TPM,
		CtxTokensPerDay:   p.Limits.TokensPerDay,
		CtxTokensPerMonth: p.Limits.TokensPerMonth,
		CtxExpiresAt:      exp,
	}
	if p.Limits.USDPerDay > 0 {
		m[CtxUSDPerDay] = p.Limits.USDPerDay
	}
	if p.Limits.USDPerMonth > 0 {
		m[CtxUSDPerMonth] = p.Limits.USDPerMonth
	}
	return m
}

// secretContext is an API key's context: the principal's, plus the
// fingerprint of the secret hash that the presented secret matched, which
// the AI API compares with the key's current secrets (see
// record.SecretFingerprint).
func (a *Authorizer) secretContext(p *record.Principal, hash []byte) map[string]any {
	m := a.contextFor(p)
	m[CtxSecretFingerprint] = record.SecretFingerprint(hash)
	return m
}

// LooksLikeJWT reports whether s has the shape of a compact JWS: three
// non-empty segments of unpadded base64url separated by dots. The shape
// alone decides whether a credential is a JWT; it is never tried as an API
// key and then as a token.
func LooksLikeJWT(s string) bool {
	dots, run := 0, 0
	for i := 0; i < len(s); i++ {
		switch base64url[s[i]] {
		case 1:
			run++
		case 2:
			if run == 0 {
				return false
			}
			dots++
			run = 0
		default:
			return false
		}
	}
	return dots == 2 && run > 0
}

// base64url classifies bytes: 1 for the base64url alphabet, 2 for '.'.
// Read-only after initialisation.
var base64url = func() (t [256]byte) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = 1
	}
	t['.'] = 2
	return t
}()
