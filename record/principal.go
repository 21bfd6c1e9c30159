package record

import "time"

// Kind says how a principal proved who it is.
type Kind string

const (
	KindAPIKey Kind = "api_key"
	KindJWT    Kind = "jwt"
)

// Limits are a principal's rate limits and token budgets. Zero means
// unlimited for that dimension.
type Limits struct {
	RPM            int64 `json:"rpm"`              // requests per minute
	TPM            int64 `json:"tpm"`              // tokens per minute
	TokensPerDay   int64 `json:"tokens_per_day"`   // calendar day, UTC
	TokensPerMonth int64 `json:"tokens_per_month"` // calendar month, UTC
	// USDPerDay and USDPerMonth are budgets in micro-dollars
	// (pricing.Micros: $1 is 1_000_000), calendar day and month, UTC.
	USDPerDay   int64 `json:"usd_micros_per_day,omitempty"`
	USDPerMonth int64 `json:"usd_micros_per_month,omitempty"`
}

// HasUSD reports whether any USD budget is set: a caller with one may not
// use a model without a price.
func (l Limits) HasUSD() bool { return l.USDPerDay > 0 || l.USDPerMonth > 0 }

// Principal is an authenticated caller: an API key or a JWT subject.
// Everything downstream (policy scope, context, AI API enforcement, usage)
// works on a Principal, never on the credential.
type Principal struct {
	// ID names the principal with its kind, "key:KEYID" or
	// "jwt:ISSUER#SUBJECT" (see KeyPrincipalID, JWTPrincipalID), so that
	// a key id and a JWT subject never share limits or usage.
	ID     string `json:"id"`
	Kind   Kind   `json:"kind"`
	Name   string `json:"name,omitempty"`
	Tenant string `json:"tenant,omitempty"`
	// Models are glob patterns (IAM wildcards: * any run, ? one character)
	// naming the models the principal may use. Empty means none.
	Models    []string  `json:"models"`
	Limits    Limits    `json:"limits"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// UsageIdentifierKey is passed to API Gateway for usage plans when the
	// API's apiKeySource is AUTHORIZER. Optional.
	UsageIdentifierKey string `json:"usage_identifier_key,omitempty"`
}
