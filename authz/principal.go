package authz

import (
	"errors"
	"time"
)

// Kind says how a principal proved who it is.
type Kind string

const (
	KindAPIKey Kind = "api_key"
	KindJWT    Kind = "jwt"
)

// Status is the lifecycle state of an API key.
type Status string

const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
	// StatusExpired is set the first time an expired key is presented, so
	// that the audit trail records when it stopped working.
	StatusExpired Status = "expired"
)

// Role is what a key may administer. The zero role administers nothing.
type Role string

// RoleAdmin may use the admin API and the console (package console). It
// grants no model: an admin key calls models only if its Models say so.
const RoleAdmin Role = "admin"

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

// Key is an API key as stored: everything about it except its secret, of
// which only keyed hashes are kept.
type Key struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Tenant string   `json:"tenant,omitempty"`
	Models []string `json:"models"`
	Limits Limits   `json:"limits"`
	Status Status   `json:"status"`
	// Role is "" for an ordinary key, RoleAdmin for an administrator's.
	Role Role `json:"role,omitempty"`

	// SecretHash is the keyed hash of the current secret (apikey.Hasher).
	SecretHash []byte `json:"-"`
	// PreviousSecretHash is the hash of the secret replaced by the last
	// rotation; it is accepted until PreviousExpiresAt.
	PreviousSecretHash []byte    `json:"-"`
	PreviousExpiresAt  time.Time `json:"previous_expires_at,omitzero"`

	UsageIdentifierKey string `json:"usage_identifier_key,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // zero: never
	RevokedAt time.Time `json:"revoked_at,omitzero"`

	// Version increases by one on every update; stores use it for
	// optimistic concurrency (UpdateKey fails with ErrConflict when the
	// stored version is not the one the caller read).
	Version int64 `json:"version"`
}

// Principal returns the principal this key authenticates.
func (k *Key) Principal() *Principal {
	return &Principal{
		ID:                 KeyPrincipalID(k.ID),
		Kind:               KindAPIKey,
		Name:               k.Name,
		Tenant:             k.Tenant,
		Models:             k.Models,
		Limits:             k.Limits,
		ExpiresAt:          k.ExpiresAt,
		UsageIdentifierKey: k.UsageIdentifierKey,
	}
}

// Expired reports whether the key's expiry has passed at now.
func (k *Key) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// Audit actions recorded for a key's lifecycle.
const (
	ActionCreated = "created"
	ActionRotated = "rotated"
	ActionRevoked = "revoked"
	ActionExpired = "expired"
)

// AuditEvent is one change in a key's lifecycle. It never carries a secret
// or a hash.
type AuditEvent struct {
	KeyID  string    `json:"key_id"`
	Action string    `json:"action"`
	Actor  string    `json:"actor"` // the command or component, e.g. "aigate keys revoke"
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"`
}

// Errors shared by every store implementation (store re-exports them).
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("concurrent update")
)
