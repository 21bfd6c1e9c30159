package jwtauth

import (
	"fmt"

	"github.com/aigate/aigate/authz"
)

// tokenError is a token that proves nothing. It wraps
// authz.ErrInvalidCredential, so the authorizer answers 401 for every one of
// them alike; the reason is for logs. It never holds the token.
type tokenError struct{ reason string }

func (e *tokenError) Error() string { return "jwtauth: " + e.reason }
func (e *tokenError) Unwrap() error { return authz.ErrInvalidCredential }

func invalid(reason string) error { return &tokenError{reason: reason} }

func invalidf(format string, args ...any) error {
	return &tokenError{reason: fmt.Sprintf(format, args...)}
}

// Reasons a token is refused, preallocated: forged tokens cost no formatting.
var (
	errTooLarge       = invalid(fmt.Sprintf("token is larger than %d bytes", MaxTokenBytes))
	errNotJWT         = invalid("token is not a compact JWS")
	errMalformed      = invalid("malformed token")
	errCritical       = invalid(`token has a "crit" header`)
	errB64            = invalid(`token has a "b64" header`)
	errNoIssuer       = invalid(`token has no "iss"`)
	errUntrusted      = invalid("token issuer is not trusted")
	errAlgorithm      = invalid("token algorithm is not allowed for its issuer")
	errNoExpiry       = invalid(`token has no "exp"`)
	errExpired        = invalid("token is expired")
	errNotYetValid    = invalid(`token is not valid yet ("nbf")`)
	errIssuedInFuture = invalid(`token is issued in the future ("iat")`)
	errAudience       = invalid("token audience is not accepted")
	errUnknownKey     = invalid("token key id is unknown")
	errKeyMismatch    = invalid("token key id names a key of another type or algorithm")
	errBadSignature   = invalid("token signature does not verify")
)

// truncate keeps attacker-chosen strings short in error messages.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
