package record

import "time"

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
