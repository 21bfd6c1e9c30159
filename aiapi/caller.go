package aiapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/policy"
	"github.com/aigate/aigate/record"
)

type authorizerContextKey struct{}

// WithAuthorizerContext returns a context that carries the authorizer's
// context for a request, stringified as API Gateway delivers it to a REST
// proxy integration (requestContext.authorizer: every value a string, with
// principalId). The Lambda adapter and the local gateway set it; a request
// without it is refused with a 500, since nothing vouches for its caller.
func WithAuthorizerContext(ctx context.Context, c map[string]string) context.Context {
	return context.WithValue(ctx, authorizerContextKey{}, c)
}

// AuthorizerContext returns the authorizer context WithAuthorizerContext put
// in ctx.
func AuthorizerContext(ctx context.Context) (map[string]string, bool) {
	c, ok := ctx.Value(authorizerContextKey{}).(map[string]string)
	return c, ok
}

// caller is the principal behind a request, as the authorizer described it.
type caller struct {
	// principalID names the principal with its kind ("key:ID",
	// "jwt:ISSUER#SUBJECT"): every rate-limit window, reservation and
	// ledger row is keyed by it, so a key and a JWT never share them.
	principalID string
	kind        record.Kind
	// keyID and secretFingerprint are set for API keys: the key whose
	// status is re-checked, and which of its secrets the authorizer matched.
	keyID             string
	secretFingerprint string
	tenant            string
	models            []string // glob patterns
	limits            record.Limits
	expiresAt         time.Time // zero: never
}

var errNoAuthorizerContext = errors.New("aiapi: the request has no authorizer context")

// parseCaller reads the authorizer context (authz's Ctx* keys). Anything
// malformed is an error: a context the AI API cannot read is never taken to
// mean "no limits".
func parseCaller(m map[string]string) (*caller, error) {
	if m == nil {
		return nil, errNoAuthorizerContext
	}
	c := &caller{
		kind:              record.Kind(m[authz.CtxKind]),
		tenant:            m[authz.CtxTenant],
		secretFingerprint: m[authz.CtxSecretFingerprint],
	}
	if err := c.setPrincipal(m[authz.CtxPrincipalID]); err != nil {
		return nil, err
	}
	// authz.EncodeModels wrote a JSON array; anything else (the old
	// comma-separated form included) is refused rather than split.
	models, err := authz.ParseModels(m[authz.CtxModels])
	if err != nil {
		return nil, fmt.Errorf("aiapi: authorizer context: %w", err)
	}
	c.models = models
	for _, f := range []struct {
		key string
		v   *int64
	}{
		{authz.CtxRPM, &c.limits.RPM},
		{authz.CtxTPM, &c.limits.TPM},
		{authz.CtxTokensPerDay, &c.limits.TokensPerDay},
		{authz.CtxTokensPerMonth, &c.limits.TokensPerMonth},
		{authz.CtxUSDPerDay, &c.limits.USDPerDay},
		{authz.CtxUSDPerMonth, &c.limits.USDPerMonth},
	} {
		n, err := contextInt(m, f.key)
		if err != nil {
			return nil, err
		}
		*f.v = n
	}
	exp, err := contextInt(m, authz.CtxExpiresAt)
	if err != nil {
		return nil, err
	}
	if exp > 0 {
		c.expiresAt = time.Unix(exp, 0)
	}
	return c, nil
}

// setPrincipal sets the principal id from the context's principalId and
// kind. An authorizer older than principal ids with a kind sent the bare key
// id or JWT subject, and API Gateway may replay its cached Allow for its TTL
// after an upgrade: such an id is qualified here by the context's kind,
// as the store migration qualified the rows it wrote (a JWT's issuer was
// not recorded then: "jwt:#SUBJECT"). A context of another kind is refused:
// it could not be kept apart from the others.
func (c *caller) setPrincipal(id string) error {
	if id == "" {
		return errors.New("aiapi: authorizer context without principalId")
	}
	switch c.kind {
	case record.KindAPIKey:
		c.principalID = id
		keyID, ok := record.KeyIDOf(id)
		if !ok {
			keyID, c.principalID = id, record.KeyPrincipalID(id)
		}
		c.keyID = keyID
	case record.KindJWT:
		c.principalID = id
		if kind, _, _, ok := record.SplitPrincipalID(id); !ok || kind != record.KindJWT {
			c.principalID = record.JWTPrincipalID("", id)
		}
	default:
		return fmt.Errorf("aiapi: authorizer context kind %.20q is neither %s nor %s", c.kind, record.KindAPIKey, record.KindJWT)
	}
	return nil
}

// contextInt reads a non-negative integer; absent or "" is 0 (unlimited).
// A number in another notation ("1e6", "60.0"), which a JSON encoder along
// the way may have produced, is taken when it is a whole number.
func contextInt(m map[string]string, key string) (int64, error) {
	v := m[key]
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || f != math.Trunc(f) || f < 0 || f >= math.MaxInt64 {
			return 0, fmt.Errorf("aiapi: authorizer context %s=%.40q is not a count", key, v)
		}
		n = int64(f)
	}
	if n < 0 {
		return 0, fmt.Errorf("aiapi: authorizer context %s=%.40q is not a count", key, v)
	}
	return n, nil
}

// mayUse reports whether the caller's model globs allow model.
func (c *caller) mayUse(model string) bool {
	for _, g := range c.models {
		if policy.Match(g, model) {
			return true
		}
	}
	return false
}
