// Package store defines the interface every backend implements: API keys
// with their audit history (the model is package record's), tenants, and
// quota's ledger. Backends live in subpackages (store/sqlite,
// store/dynamodb) and all pass storetest.Run; every one returns record's
// errors (record.ErrNotFound, ErrExists, ErrConflict), wrapped.
// A store never sees a secret: keys arrive with their keyed hashes only.
package store

import (
	"context"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// ListOptions filters ListKeys. The zero value lists every key.
type ListOptions struct {
	Tenant string // only keys of this tenant, when set
}

// Keys persists API keys. Every change to a key is written together with
// its audit event, so that the history cannot miss a change.
type Keys interface {
	// CreateKey stores a new key (Version must be 1) and its "created"
	// event. record.ErrExists if the id is taken.
	CreateKey(ctx context.Context, k *record.Key, ev record.AuditEvent) error
	// GetKey returns the key with that id, or record.ErrNotFound.
	GetKey(ctx context.Context, id string) (*record.Key, error)
	// ListKeys returns keys ordered by creation time, then id.
	ListKeys(ctx context.Context, opts ListOptions) ([]*record.Key, error)
	// UpdateKey replaces the stored key whose Version is k.Version-1 with k
	// and appends ev. record.ErrNotFound if absent, record.ErrConflict if
	// the stored version differs (someone else updated it first).
	UpdateKey(ctx context.Context, k *record.Key, ev record.AuditEvent) error
	// KeyHistory returns the key's audit events, oldest first.
	KeyHistory(ctx context.Context, id string) ([]record.AuditEvent, error)
}

// Tenant is a tenant's own limits, above those of its keys: every request
// of a principal of the tenant (its API keys, JWT principals whose tenant
// claim names it) must fit both, and the tenant's budget is shared by all
// of them. Zero limits are unlimited.
type Tenant struct {
	Name      string        `json:"name"`
	Limits    record.Limits `json:"limits"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	// Version increases by one on every change (optimistic concurrency,
	// as for keys).
	Version int64 `json:"version"`
}

// TenantEvent is one change to a tenant, kept like a key's AuditEvent.
type TenantEvent struct {
	Tenant string    `json:"tenant"`
	Action string    `json:"action"` // "created" or "updated"
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"`
}

// Tenants persists tenants. Every change is written with its event.
type Tenants interface {
	// PutTenant stores t with its event: a new tenant when t.Version is 1
	// (record.ErrExists if the name is taken), else it replaces the stored
	// one at t.Version-1 (record.ErrNotFound if absent, record.ErrConflict
	// if changed since).
	PutTenant(ctx context.Context, t *Tenant, ev TenantEvent) error
	// GetTenant returns the tenant, or record.ErrNotFound.
	GetTenant(ctx context.Context, name string) (*Tenant, error)
	// ListTenants returns every tenant, by name.
	ListTenants(ctx context.Context) ([]*Tenant, error)
	// TenantHistory returns the tenant's events, oldest first.
	TenantHistory(ctx context.Context, name string) ([]TenantEvent, error)
}

// Store is everything a backend provides.
type Store interface {
	Keys
	Tenants
	quota.Ledger // rate-limit windows, reservations and the usage ledger
	Close() error
}
