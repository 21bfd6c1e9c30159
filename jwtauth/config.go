package jwtauth

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/record"
)

// Limits of this package that no configuration changes.
const (
	// MaxTokenBytes is the largest token VerifyToken parses; a longer one is
	// refused before any decoding. Real access tokens are well under 4 KiB.
	MaxTokenBytes = 8 << 10
	// MaxResponseBytes bounds a discovery document or JWKS response; a
	// larger body is an error (it is never truncated and then parsed).
	MaxResponseBytes = 1 << 20
	// MaxLeeway is the largest clock skew Config.Leeway may allow.
	MaxLeeway = 60 * time.Second
)

// Defaults for the zero values of Config, IssuerConfig and ClaimMapping.
const (
	DefaultLeeway           = 30 * time.Second
	DefaultRefreshInterval  = time.Minute
	DefaultMaxKeyAge        = 15 * time.Minute
	DefaultFetchTimeout     = 10 * time.Second
	DefaultCacheSize        = 10000
	DefaultModelScopePrefix = "models:"
)

// defaultAlgorithms are the signature algorithms accepted when
// IssuerConfig.Algorithms is empty.
var defaultAlgorithms = []string{"RS256", "ES256"}

// Config configures a Verifier. Its fields are read once, by New; the zero
// value of each optional field is documented beside it.
type Config struct {
	// Issuers are the trusted identity providers. A token is verified by the
	// one whose Issuer equals the token's "iss", and by no other. Required.
	Issuers []IssuerConfig `json:"issuers" yaml:"issuers"`

	// Plans are named sets of limits. A principal's plan is picked by its
	// issuer's ClaimMapping (Plan claim, then GroupPlans), else DefaultPlan.
	Plans map[string]record.Limits `json:"plans,omitempty" yaml:"plans,omitempty"`
	// DefaultPlan is the plan of a principal whose token names none (or
	// names one that Plans does not define). It must name an entry of Plans.
	//
	// Empty: such principals get zero record.Limits, which downstream means
	// UNLIMITED. Set it whenever tokens are not all mapped to a plan.
	DefaultPlan string `json:"defaultPlan,omitempty" yaml:"defaultPlan,omitempty"`

	// Leeway is the clock skew allowed on "nbf" and "iat" (a token may be
	// used this long before its nbf, and its iat may be this far in the
	// future). It is never applied to "exp": a token is refused from its
	// exp on. Zero: DefaultLeeway (30 s). At most MaxLeeway (60 s); New
	// refuses more, since skew tolerance also extends a stolen future-dated
	// token's life.
	Leeway Duration `json:"leeway,omitempty" yaml:"leeway,omitempty"`

	// RefreshInterval is the least time between two JWKS fetches of one
	// issuer caused by tokens (an unknown "kid", or keys older than
	// MaxKeyAge). Whatever tokens an attacker sends, an issuer's JWKS is
	// fetched at most once per interval. A key the issuer has just
	// introduced is therefore accepted up to this late. While an issuer has
	// no keys at all (a cold start during an outage), attempts are spaced
	// by the lesser of this and 5 s instead. Zero: DefaultRefreshInterval
	// (1 min). Small values let forged key ids drive fetches at that rate.
	RefreshInterval Duration `json:"refreshInterval,omitempty" yaml:"refreshInterval,omitempty"`
	// MaxKeyAge is how long fetched keys are used before they are fetched
	// again (on the next token that needs them, subject to
	// RefreshInterval). It bounds how long a key the issuer has withdrawn
	// keeps verifying tokens. A failed refetch keeps the old keys: an
	// identity provider outage does not stop valid tokens. Zero:
	// DefaultMaxKeyAge (15 min).
	MaxKeyAge Duration `json:"maxKeyAge,omitempty" yaml:"maxKeyAge,omitempty"`
	// FetchTimeout bounds each discovery or JWKS request, whatever
	// HTTPClient's own timeout. Zero: DefaultFetchTimeout (10 s).
	FetchTimeout Duration `json:"fetchTimeout,omitempty" yaml:"fetchTimeout,omitempty"`
	// HTTPClient fetches discovery documents and JWKS. Its responses are
	// limited to MaxResponseBytes. Nil: a client with FetchTimeout as its
	// timeout over http.DefaultTransport.
	HTTPClient *http.Client `json:"-" yaml:"-"`

	// CacheSize bounds the cache of verified tokens (least recently used
	// evicted). A cached token is answered until its "exp" and no later; not
	// once a key refresh has withdrawn any key of its issuer; and not while
	// its issuer's keys are older than MaxKeyAge (it is then verified again,
	// which refreshes them).
	// Zero: DefaultCacheSize (10,000 entries, a few MB). Negative: no cache.
	CacheSize int `json:"cacheSize,omitempty" yaml:"cacheSize,omitempty"`

	// Now is the clock for claim checks, the cache and key refresh. Nil:
	// time.Now.
	Now func() time.Time `json:"-" yaml:"-"`
	// Logger receives key fetch failures that were survived (a warm cache
	// kept working). Nil: slog.Default(). Tokens are never logged.
	Logger *slog.Logger `json:"-" yaml:"-"`
}

// IssuerConfig is one trusted identity provider.
//
// Where the keys come from:
//   - JWKSURL set: fetched from there (StaticJWKS, if also set, seeds the
//     cache so that the first tokens need no network call);
//   - JWKSURL empty, StaticJWKS set: the static keys only, never fetched;
//   - both empty: discovered from Issuer + "/.well-known/openid-configuration"
//     ("jwks_uri"), whose "issuer" must equal Issuer.
type IssuerConfig struct {
	// Issuer is the exact "iss" of this provider's tokens, e.g.
	// "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123".
	// No trailing-slash or case normalisation is done. Required.
	Issuer string `json:"issuer" yaml:"issuer"`
	// JWKSURL is the provider's JSON Web Key Set. Empty: see above.
	JWKSURL string `json:"jwksUrl,omitempty" yaml:"jwksUrl,omitempty"`
	// StaticJWKS is a JSON Web Key Set document ({"keys":[...]}), e.g. read
	// from a file or an environment variable, so that a Lambda can verify
	// its first token without a network call. Empty: none.
	StaticJWKS string `json:"staticJwks,omitempty" yaml:"staticJwks,omitempty"`
	// InsecureAllowHTTP permits discovery and JWKS over plain http to hosts
	// other than loopback (e.g. a Keycloak container in a compose file).
	// Anyone on the network path could then substitute keys and mint
	// tokens: never set it in production. Loopback hosts (127.0.0.1, ::1,
	// localhost) are always allowed http.
	InsecureAllowHTTP bool `json:"insecureAllowHttp,omitempty" yaml:"insecureAllowHttp,omitempty"`

	// Audiences accepted: the token's AudienceClaim must contain at least
	// one. Required: a verifier that accepted any audience would accept
	// tokens the provider minted for other applications.
	Audiences []string `json:"audiences" yaml:"audiences"`
	// AudienceClaim is the claim checked against Audiences, a string or an
	// array of strings. Empty: "aud". Cognito access tokens carry no "aud";
	// use "client_id" for them.
	AudienceClaim string `json:"audienceClaim,omitempty" yaml:"audienceClaim,omitempty"`
	// RequiredClaims are claims that must be present with exactly these
	// string values, e.g. {"token_use": "access"} so that a Cognito ID
	// token is not accepted where an access token is expected. Empty: none.
	RequiredClaims map[string]string `json:"requiredClaims,omitempty" yaml:"requiredClaims,omitempty"`

	// Algorithms are the accepted "alg" values, from RS256, RS384, RS512,
	// PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA. Empty: RS256 and
	// ES256 (EdDSA only on request). "none" and the HMAC algorithms
	// (HS256…) are refused by New: with a public-key issuer they only ever
	// serve forgeries.
	Algorithms []string `json:"algorithms,omitempty" yaml:"algorithms,omitempty"`

	// Claims maps this provider's claims to a principal.
	Claims ClaimMapping `json:"claims,omitzero" yaml:"claims,omitempty"`
}

// ClaimMapping names the claims that make a principal. A claim name is
// looked up as a top-level claim first; failing that, a dotted name walks
// nested objects ("realm_access.roles").
type ClaimMapping struct {
	// PrincipalID is the claim holding the principal's id, a non-empty
	// string. A token without it is refused. Empty: "sub".
	PrincipalID string `json:"principalId,omitempty" yaml:"principalId,omitempty"`
	// Name is the claim holding a display name. Empty: "name". A missing
	// claim leaves Principal.Name empty.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Tenant is the claim holding the tenant. Empty: no tenant.
	Tenant string `json:"tenant,omitempty" yaml:"tenant,omitempty"`

	// Models is the claim holding model patterns (IAM wildcards, as in
	// Principal.Models): a comma-separated string "gpt-4o*,claude-*" or an
	// array of strings. Empty: no models claim.
	Models string `json:"models,omitempty" yaml:"models,omitempty"`
	// ScopeClaim is the claim holding OAuth scopes: a space-separated string
	// (RFC 8693 "scope") or an array ("scp" at Okta). Empty: "scope".
	ScopeClaim string `json:"scopeClaim,omitempty" yaml:"scopeClaim,omitempty"`
	// ModelScopePrefix marks scopes that grant models: the scope
	// "models:gpt-4o*" grants the pattern "gpt-4o*". Cognito prefixes custom
	// scopes with the resource server id, so there it is e.g.
	// "aigate/models:". Empty: DefaultModelScopePrefix ("models:").
	ModelScopePrefix string `json:"modelScopePrefix,omitempty" yaml:"modelScopePrefix,omitempty"`
	// DefaultModels are the patterns of a principal whose token grants no
	// model by claim or scope. Empty: none (the principal may use no model).
	DefaultModels []string `json:"defaultModels,omitempty" yaml:"defaultModels,omitempty"`

	// Plan is the claim naming the principal's plan (a key of Config.Plans).
	// Empty: no plan claim.
	Plan string `json:"plan,omitempty" yaml:"plan,omitempty"`
	// Groups is the claim holding group memberships, an array of strings
	// or a space- or comma-separated string (e.g. "cognito:groups",
	// "groups"). Empty: no groups claim.
	Groups string `json:"groups,omitempty" yaml:"groups,omitempty"`
	// GroupPlans picks a plan from group membership when the Plan claim does
	// not: the first rule whose group the principal is in wins, so list the
	// most generous plans first. (A list, not a map, so that a member of
	// several groups always gets the same plan.)
	GroupPlans []GroupPlan `json:"groupPlans,omitempty" yaml:"groupPlans,omitempty"`
}

// GroupPlan maps membership of Group to Plan.
type GroupPlan struct {
	Group string `json:"group" yaml:"group"`
	Plan  string `json:"plan" yaml:"plan"`
}

// Duration is the configuration's one duration type ("30s", "5m" in JSON
// and YAML), kept under this name for existing callers.
type Duration = duration.Duration

func orDefault(d Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}
