// Package store defines what aigate persists and the interface every backend
// implements: API keys with their audit history. Backends live in
// subpackages (store/sqlite, store/dynamodb) and all pass storetest.Run.
// A store never sees a secret: keys arrive with their keyed hashes only.
package store

import (
	"context"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/quota"
)

// Errors returned (wrapped) by every backend; test with errors.Is.
var (
	ErrNotFound = authz.ErrNotFound
	ErrExists   = authz.ErrExists
	ErrConflict = authz.ErrConflict
)

// ListOptions filters ListKeys. The zero value lists every key.
type ListOptions struct {
	Tenant string // only keys of this tenant, when set
}

// Keys persists API keys. Every change to a key is written together with
// its audit event, so that the history cannot miss a change.
type Keys interface {
	// CreateKey stores a new key (Version must be 1) and its "created"
	// event. ErrExists if the id is taken.
	CreateKey(ctx context.Context, k *authz.Key, ev authz.AuditEvent) error
	// GetKey returns the key with that id, or ErrNotFound.
	GetKey(ctx context.Context, id string) (*authz.Key, error)
	// ListKeys returns keys ordered by creation time, then id.
	ListKeys(ctx context.Context, opts ListOptions) ([]*authz.Key, error)
	// UpdateKey replaces the stored key whose Version is k.Version-1 with k
	// and appends ev. ErrNotFound if absent, ErrConflict if the stored
	// version differs (someone else updated it first).
	UpdateKey(ctx context.Context, k *authz.Key, ev authz.AuditEvent) error
	// KeyHistory returns the key's audit events, oldest first.
	KeyHistory(ctx context.Context, id string) ([]authz.AuditEvent, error)
}

// Store is everything a backend provides.
type Store interface {
	Keys
	quota.Ledger // rate-limit windows, reservations and the usage ledger
	Close() error
}
