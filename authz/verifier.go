package authz

import (
	"context"
	"errors"

	"github.com/aigate/aigate/record"
)

// ErrInvalidCredential marks a credential that proves nothing: absent,
// malformed, unknown, wrong, expired or revoked. The authorizer answers all
// of them alike (API Gateway's 401), so callers learn nothing about which.
// Any other error is an outage and fails closed (API Gateway's 500).
var ErrInvalidCredential = errors.New("authz: invalid credential")

// TokenVerifier turns a bearer JWT into a principal. Implementations return
// an error wrapping ErrInvalidCredential for every token that does not
// verify, and any other error only when they cannot decide (an identity
// provider outage with no cached keys).
type TokenVerifier interface {
	VerifyToken(ctx context.Context, token string) (*record.Principal, error)
}
