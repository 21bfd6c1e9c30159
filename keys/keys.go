// Package keys runs the lifecycle of API keys over a store: create, rotate,
// revoke, each written together with its audit event. It is the only code
// that sees a key's secret, and only long enough to hash it and hand the
// full key back once.
package keys

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// ErrInvalid marks a request that is wrong in itself (bad name, limits,
// state); the store is untouched.
var ErrInvalid = errors.New("keys: invalid request")

// Manager creates and changes keys. Actor names the command in audit events.
type Manager struct {
	Store  store.Keys
	Hasher *apikey.Hasher
	Actor  string
	Now    func() time.Time // nil: time.Now
}

// Spec describes a key to create.
type Spec struct {
	Name               string
	Tenant             string
	Models             []string // glob patterns; empty: the key may call nothing (403)
	Limits             record.Limits
	ExpiresAt          time.Time // zero: never
	UsageIdentifierKey string
	// Role is the key's role; RoleAdmin lets it use the console and the
	// admin API. It grants no model: Models still say what it may call.
	Role record.Role
}

// Issued is a key together with its full secret form, which exists only in
// this value: it is shown once and never stored.
type Issued struct {
	Key    *record.Key
	Secret string // the full "aig_…" key
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// Validate checks a spec before anything is written.
func (s Spec) Validate(now time.Time) error {
	if strings.TrimSpace(s.Name) == "" {
		return fmt.Errorf("%w: name is required", ErrInvalid)
	}
	// The authorizer's rule, so that no key is issued that it would deny.
	for _, m := range s.Models {
		if err := authz.CheckModelPattern(m); err != nil {
			return fmt.Errorf("%w: model pattern %q: %v", ErrInvalid, m, err)
		}
	}
	l := s.Limits
	if l.RPM < 0 || l.TPM < 0 || l.TokensPerDay < 0 || l.TokensPerMonth < 0 || l.USDPerDay < 0 || l.USDPerMonth < 0 {
		return fmt.Errorf("%w: limits must not be negative", ErrInvalid)
	}
	if s.Role != "" && s.Role != record.RoleAdmin {
		return fmt.Errorf("%w: role %q is not %q", ErrInvalid, s.Role, record.RoleAdmin)
	}
	if !s.ExpiresAt.IsZero() && !s.ExpiresAt.After(now) {
		return fmt.Errorf("%w: expiry %s is not in the future", ErrInvalid, s.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// Create issues a new key. Key ids are random; a collision (one in 2^60)
// is retried with a new id.
func (m *Manager) Create(ctx context.Context, s Spec) (*Issued, error) {
	now := m.now()
	if err := s.Validate(now); err != nil {
		return nil, err
	}
	for range 3 {
		full, k, err := apikey.Generate()
		if err != nil {
			return nil, err
		}
		key := &record.Key{
			ID:                 k.ID,
			Name:               s.Name,
			Tenant:             s.Tenant,
			Models:             append([]string(nil), s.Models...),
			Limits:             s.Limits,
			Status:             record.StatusActive,
			Role:               s.Role,
			SecretHash:         m.Hasher.Hash(k),
			UsageIdentifierKey: s.UsageIdentifierKey,
			CreatedAt:          now,
			UpdatedAt:          now,
			ExpiresAt:          s.ExpiresAt.UTC(),
			Version:            1,
		}
		if s.ExpiresAt.IsZero() {
			key.ExpiresAt = time.Time{}
		}
		ev := record.AuditEvent{KeyID: k.ID, Action: record.ActionCreated, Actor: m.Actor, At: now, Detail: createdDetail(s)}
		err = m.Store.CreateKey(ctx, key, ev)
		if errors.Is(err, record.ErrExists) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("keys: create: %w", err)
		}
		return &Issued{Key: key, Secret: full}, nil
	}
	return nil, errors.New("keys: create: could not find a free key id")
}

// createdDetail is the "created" event's detail: the name, and the role
// when there is one, so the audit log shows when an admin was made.
func createdDetail(s Spec) string {
	if s.Role != "" {
		return "name=" + s.Name + " role=" + string(s.Role)
	}
	return "name=" + s.Name
}

// Revoke stops a key at once. Revoking a revoked key changes nothing and
// reports false.
func (m *Manager) Revoke(ctx context.Context, id string) (changed bool, err error) {
	key, err := m.Store.GetKey(ctx, id)
	if err != nil {
		return false, fmt.Errorf("keys: revoke: %w", err)
	}
	if key.Status == record.StatusRevoked {
		return false, nil
	}
	now := m.now()
	next := *key
	next.Status = record.StatusRevoked
	next.RevokedAt = now
	next.UpdatedAt = now
	next.PreviousSecretHash, next.PreviousExpiresAt = nil, time.Time{}
	next.Version++
	ev := record.AuditEvent{KeyID: id, Action: record.ActionRevoked, Actor: m.Actor, At: now}
	if err := m.Store.UpdateKey(ctx, &next, ev); err != nil {
		return false, fmt.Errorf("keys: revoke: %w", err)
	}
	return true, nil
}

// Rotate gives the key a new secret. The old secret keeps working for
// grace (zero: it stops at once). Only active, unexpired keys rotate.
func (m *Manager) Rotate(ctx context.Context, id string, grace time.Duration) (*Issued, error) {
	if grace < 0 {
		return nil, fmt.Errorf("%w: grace must not be negative", ErrInvalid)
	}
	key, err := m.Store.GetKey(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("keys: rotate: %w", err)
	}
	now := m.now()
	if key.Status != record.StatusActive || key.Expired(now) {
		return nil, fmt.Errorf("%w: key %s is %s and cannot be rotated", ErrInvalid, id, statusAt(key, now))
	}
	secret, err := apikey.GenerateSecretFor(id)
	if err != nil {
		return nil, err
	}
	next := *key
	next.SecretHash = m.Hasher.Hash(secret)
	next.PreviousSecretHash, next.PreviousExpiresAt = nil, time.Time{}
	if grace > 0 {
		next.PreviousSecretHash = key.SecretHash
		next.PreviousExpiresAt = now.Add(grace)
	}
	next.UpdatedAt = now
	next.Version++
	ev := record.AuditEvent{KeyID: id, Action: record.ActionRotated, Actor: m.Actor, At: now, Detail: "grace=" + grace.String()}
	if err := m.Store.UpdateKey(ctx, &next, ev); err != nil {
		return nil, fmt.Errorf("keys: rotate: %w", err)
	}
	return &Issued{Key: &next, Secret: secret.String()}, nil
}

// statusAt is the status a person should see: an active key past its
// expiry is expired even before anyone presented it.
func statusAt(k *record.Key, now time.Time) record.Status {
	if k.Status == record.StatusActive && k.Expired(now) {
		return record.StatusExpired
	}
	return k.Status
}

// StatusAt is the key's effective status at now.
func StatusAt(k *record.Key, now time.Time) record.Status { return statusAt(k, now) }

// View is a key as aigate shows it (the CLI's JSON, the console's API and
// pages): its effective status, never a hash.
type View struct {
	ID                string        `json:"id"`
	Name              string        `json:"name"`
	Tenant            string        `json:"tenant"`
	Role              record.Role   `json:"role,omitempty"`
	Models            []string      `json:"models"`
	Limits            record.Limits `json:"limits"`
	Status            record.Status `json:"status"`
	CreatedAt         time.Time     `json:"created_at"`
	UpdatedAt         time.Time     `json:"updated_at"`
	ExpiresAt         time.Time     `json:"expires_at,omitzero"`
	RevokedAt         time.Time     `json:"revoked_at,omitzero"`
	PreviousExpiresAt time.Time     `json:"previous_secret_expires_at,omitzero"`
}

// ViewOf is k as shown at now (models [] rather than null).
func ViewOf(k *record.Key, now time.Time) View {
	models := k.Models
	if models == nil {
		models = []string{}
	}
	return View{
		ID: k.ID, Name: k.Name, Tenant: k.Tenant, Role: k.Role, Models: models, Limits: k.Limits,
		Status: StatusAt(k, now), CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt,
		ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, PreviousExpiresAt: k.PreviousExpiresAt,
	}
}
