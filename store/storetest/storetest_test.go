package storetest_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/storetest"
)

// The suite must pass on a backend that shares nothing with SQL and keeps
// only the promised millisecond precision, or it tests SQLite, not the
// interface.
func TestSuitePassesOnAMillisecondMapStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return &mapStore{keys: map[string]*authz.Key{}} })
}

// mapStore is the least a backend may do: times truncated to the
// millisecond, everything under one lock.
type mapStore struct {
	mu      sync.Mutex
	keys    map[string]*authz.Key
	history []authz.AuditEvent
}

func clone(k *authz.Key) *authz.Key {
	c := *k
	c.Models = append([]string{}, k.Models...)
	c.SecretHash = nilIfEmpty(k.SecretHash)
	c.PreviousSecretHash = nilIfEmpty(k.PreviousSecretHash)
	for _, t := range []*time.Time{&c.PreviousExpiresAt, &c.CreatedAt, &c.UpdatedAt, &c.ExpiresAt, &c.RevokedAt} {
		*t = ms(*t)
	}
	return &c
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func ms(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Millisecond).UTC()
}

func (s *mapStore) event(k *authz.Key, ev authz.AuditEvent) error {
	if ev.KeyID != "" && ev.KeyID != k.ID {
		return errors.New("map: event of another key")
	}
	ev.KeyID, ev.At = k.ID, ms(ev.At)
	s.history = append(s.history, ev)
	return nil
}

func (s *mapStore) CreateKey(ctx context.Context, k *authz.Key, ev authz.AuditEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("map: %w", err)
	}
	if k.ID == "" || k.Version != 1 || (ev.KeyID != "" && ev.KeyID != k.ID) {
		return errors.New("map: invalid key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return fmt.Errorf("map: %w", store.ErrExists)
	}
	s.keys[k.ID] = clone(k)
	return s.event(k, ev)
}

func (s *mapStore) GetKey(ctx context.Context, id string) (*authz.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("map: %w", store.ErrNotFound)
	}
	return clone(k), nil
}

func (s *mapStore) ListKeys(ctx context.Context, opts store.ListOptions) ([]*authz.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*authz.Key
	for _, k := range s.keys {
		if opts.Tenant == "" || k.Tenant == opts.Tenant {
			out = append(out, clone(k))
		}
	}
	slices.SortFunc(out, func(a, b *authz.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *mapStore) UpdateKey(ctx context.Context, k *authz.Key, ev authz.AuditEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.keys[k.ID]
	switch {
	case !ok:
		return fmt.Errorf("map: %w", store.ErrNotFound)
	case old.Version != k.Version-1:
		return fmt.Errorf("map: %w", store.ErrConflict)
	}
	if ev.KeyID != "" && ev.KeyID != k.ID {
		return errors.New("map: event of another key")
	}
	s.keys[k.ID] = clone(k)
	return s.event(k, ev)
}

func (s *mapStore) KeyHistory(ctx context.Context, id string) ([]authz.AuditEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []authz.AuditEvent
	for _, ev := range s.history {
		if ev.KeyID == id {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (s *mapStore) Close() error { return nil }
