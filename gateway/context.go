package gateway

import (
	"context"
	"maps"
	"time"
)

// requestKey carries the *request in the context of what the gateway calls:
// HANDLER integrations and the HTTP_PROXY rewrite.
type requestKey struct{}

// Authorization is what the authorizer decided for a request, as an
// in-process HANDLER integration sees it: on AWS the same values reach a
// Lambda proxy integration as requestContext.authorizer.
type Authorization struct {
	// PrincipalID is the authorizer's principalId ("" for an HTTP API
	// simple response, which has none).
	PrincipalID string
	// Context is the authorizer's context, every value stringified as a
	// REST integration receives it (1 → "1", true → "true").
	Context map[string]string
	// IntegrationLatency is how long the authorizer took; 0 when the
	// result came from the cache.
	IntegrationLatency time.Duration
	// CacheHit reports that the result came from the authorizer cache.
	CacheHit bool
}

// AuthorizerFromContext returns the authorization of the request whose
// context ctx is, when a HANDLER integration serves it behind an authorizer.
func AuthorizerFromContext(ctx context.Context) (Authorization, bool) {
	rq, ok := ctx.Value(requestKey{}).(*request)
	if !ok || rq.auth == nil {
		return Authorization{}, false
	}
	return Authorization{
		PrincipalID:        rq.auth.principalID,
		Context:            maps.Clone(rq.auth.strContext),
		IntegrationLatency: rq.authLatency,
		CacheHit:           rq.cache == cacheHit,
	}, true
}

// RequestIDFromContext returns the gateway's request id (the
// x-amzn-RequestId or apigw-requestid of the response) of the request whose
// context ctx is, for a HANDLER integration.
func RequestIDFromContext(ctx context.Context) (string, bool) {
	rq, ok := ctx.Value(requestKey{}).(*request)
	if !ok {
		return "", false
	}
	return rq.id, true
}
