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

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/storetest"
)

// The suite must pass on a backend that shares nothing with SQL and keeps
// only the promised millisecond precision, or it tests SQLite, not the
// interface.
func TestSuitePassesOnAMillisecondMapStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return &mapStore{keys: map[string]*record.Key{}} })
}

// mapStore is the least a backend may do: times truncated to the
// millisecond, everything under one lock.
type mapStore struct {
	mu      sync.Mutex
	keys    map[string]*record.Key
	history []record.AuditEvent

	windows map[windowKey]windowCount
	pending map[string]quota.Reservation
	ledger  []quota.Entry

	tenants       map[string]*store.Tenant
	tenantHistory []store.TenantEvent
}

func clone(k *record.Key) *record.Key {
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

func (s *mapStore) event(k *record.Key, ev record.AuditEvent) error {
	if ev.KeyID != "" && ev.KeyID != k.ID {
		return errors.New("map: event of another key")
	}
	ev.KeyID, ev.At = k.ID, ms(ev.At)
	s.history = append(s.history, ev)
	return nil
}

func (s *mapStore) CreateKey(ctx context.Context, k *record.Key, ev record.AuditEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("map: %w", err)
	}
	if k.ID == "" || k.Version != 1 || (ev.KeyID != "" && ev.KeyID != k.ID) {
		return errors.New("map: invalid key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return fmt.Errorf("map: %w", record.ErrExists)
	}
	s.keys[k.ID] = clone(k)
	return s.event(k, ev)
}

func (s *mapStore) GetKey(ctx context.Context, id string) (*record.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("map: %w", record.ErrNotFound)
	}
	return clone(k), nil
}

func (s *mapStore) ListKeys(ctx context.Context, opts store.ListOptions) ([]*record.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*record.Key
	for _, k := range s.keys {
		if opts.Tenant == "" || k.Tenant == opts.Tenant {
			out = append(out, clone(k))
		}
	}
	slices.SortFunc(out, func(a, b *record.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *mapStore) UpdateKey(ctx context.Context, k *record.Key, ev record.AuditEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.keys[k.ID]
	switch {
	case !ok:
		return fmt.Errorf("map: %w", record.ErrNotFound)
	case old.Version != k.Version-1:
		return fmt.Errorf("map: %w", record.ErrConflict)
	}
	if ev.KeyID != "" && ev.KeyID != k.ID {
		return errors.New("map: event of another key")
	}
	s.keys[k.ID] = clone(k)
	return s.event(k, ev)
}

func (s *mapStore) KeyHistory(ctx context.Context, id string) ([]record.AuditEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []record.AuditEvent
	for _, ev := range s.history {
		if ev.KeyID == id {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (s *mapStore) Close() error { return nil }

// The ledger of the map store: everything under the same lock, which makes
// every method atomic, as the contract asks.

type windowKey struct {
	principal, span string
	start           time.Time
}

type windowCount struct{ requests, tokens, usd int64 }

// windowKeys are the windows of id (a principal's or a tenant's) for r.
func windowKeys(r quota.Reservation, id string) [3]windowKey {
	return [3]windowKey{
		{id, "minute", r.Windows.Minute},
		{id, "day", r.Windows.Day},
		{id, "month", r.Windows.Month},
	}
}

// allWindowKeys are every window r counts in: its principal's, and its
// tenant's when that is defined.
func allWindowKeys(r quota.Reservation) []windowKey {
	k := windowKeys(r, r.PrincipalID)
	out := k[:]
	if r.TenantLimits != nil && r.Tenant != "" {
		t := windowKeys(r, quota.TenantWindowsID(r.Tenant))
		out = append(out, t[:]...)
	}
	return out
}

func deny(k [3]windowKey, w map[windowKey]windowCount, r quota.Reservation, l record.Limits) *quota.Denial {
	m, d, mo := w[k[0]], w[k[1]], w[k[2]]
	for _, c := range []struct {
		name            string
		max, used, plus int64
		reset           time.Time
	}{
		{quota.LimitRequestsPerMinute, l.RPM, m.requests, 1, r.Windows.MinuteEnd()},
		{quota.LimitTokensPerMinute, l.TPM, m.tokens, r.Tokens, r.Windows.MinuteEnd()},
		{quota.LimitTokensPerDay, l.TokensPerDay, d.tokens, r.Tokens, r.Windows.DayEnd()},
		{quota.LimitTokensPerMonth, l.TokensPerMonth, mo.tokens, r.Tokens, r.Windows.MonthEnd()},
		{quota.LimitUSDPerDay, l.USDPerDay, d.usd, r.CostMicros, r.Windows.DayEnd()},
		{quota.LimitUSDPerMonth, l.USDPerMonth, mo.usd, r.CostMicros, r.Windows.MonthEnd()},
	} {
		if c.max > 0 && c.used+c.plus > c.max {
			return &quota.Denial{Limit: c.name, Max: c.max, Used: c.used, ResetAt: c.reset}
		}
	}
	return nil
}

func (s *mapStore) Reserve(ctx context.Context, r quota.Reservation, l record.Limits) (quota.Status, error) {
	if err := ctx.Err(); err != nil {
		return quota.Status{}, fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.windows == nil {
		s.windows, s.pending = map[windowKey]windowCount{}, map[string]quota.Reservation{}
	}
	if _, ok := s.pending[r.ID]; ok {
		return quota.Status{}, fmt.Errorf("map: %w", record.ErrExists)
	}
	k := windowKeys(r, r.PrincipalID)
	if d := deny(k, s.windows, r, l); d != nil {
		return quota.Status{}, d
	}
	if r.TenantLimits != nil && r.Tenant != "" {
		if d := deny(windowKeys(r, quota.TenantWindowsID(r.Tenant)), s.windows, r, *r.TenantLimits); d != nil {
			d.Tenant = r.Tenant
			return quota.Status{}, d
		}
	}
	for _, wk := range allWindowKeys(r) {
		c := s.windows[wk]
		c.requests++
		c.tokens += r.Tokens
		c.usd += r.CostMicros
		s.windows[wk] = c
	}
	s.pending[r.ID] = r
	m := s.windows[k[0]]
	return quota.Status{
		RequestsLimit: l.RPM, RequestsRemaining: max(l.RPM-m.requests, 0),
		TokensLimit: l.TPM, TokensRemaining: max(l.TPM-m.tokens, 0),
		Reset: r.Windows.MinuteEnd(),
	}, nil
}

// take removes a pending reservation and adds delta tokens and dollars to
// its windows.
func (s *mapStore) take(id string, delta func(quota.Reservation) (int64, int64)) (quota.Reservation, error) {
	r, ok := s.pending[id]
	if !ok {
		return r, fmt.Errorf("map: %w", record.ErrNotFound)
	}
	delete(s.pending, id)
	tokens, usd := delta(r)
	s.add(r, tokens, usd)
	return r, nil
}

// add adds tokens and dollars to r's windows.
func (s *mapStore) add(r quota.Reservation, tokens, usd int64) {
	for _, wk := range allWindowKeys(r) {
		c := s.windows[wk]
		c.tokens += tokens
		c.usd += usd
		s.windows[wk] = c
	}
}

func (s *mapStore) Settle(ctx context.Context, st quota.Settlement) (quota.Entry, error) {
	if err := ctx.Err(); err != nil {
		return quota.Entry{}, fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	real := st.PromptTokens + st.CompletionTokens
	r, err := s.take(st.Reservation.ID, func(r quota.Reservation) (int64, int64) {
		return real - r.Tokens, st.CostMicros - r.CostMicros
	})
	late := errors.Is(err, record.ErrNotFound)
	if late {
		// Late: recorded from the settlement's copy, once per request, all
		// the real tokens counted (the release gave the reserved back).
		r = st.Reservation
		if r.PrincipalID == "" || slices.ContainsFunc(s.ledger, func(e quota.Entry) bool { return e.RequestID == r.ID }) {
			return quota.Entry{}, err
		}
		s.add(r, real, st.CostMicros)
	} else if err != nil {
		return quota.Entry{}, err
	}
	e := quota.Entry{RequestID: r.ID, PrincipalID: r.PrincipalID, Tenant: r.Tenant, Model: r.Model, Protocol: r.Protocol,
		PromptTokens: st.PromptTokens, CompletionTokens: st.CompletionTokens, ReservedTokens: r.Tokens, At: ms(st.At),
		CachedTokens: st.CachedTokens, CacheWriteTokens: st.CacheWriteTokens, CostMicros: st.CostMicros,
		Price: st.Price, Unpriced: st.Unpriced}
	s.ledger = append(s.ledger, e)
	e.Late = late
	return e, nil
}

func (s *mapStore) Extend(ctx context.Context, id string, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.pending[id]
	if !ok {
		return fmt.Errorf("map: %w", record.ErrNotFound)
	}
	if expiresAt.After(r.ExpiresAt) {
		r.ExpiresAt = expiresAt
		s.pending[id] = r
	}
	return nil
}

func (s *mapStore) Release(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.take(id, func(r quota.Reservation) (int64, int64) { return -r.Tokens, -r.CostMicros })
	return err
}

func (s *mapStore) ExpireReservations(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, r := range s.pending {
		if r.ExpiresAt.Before(now) {
			s.take(id, func(r quota.Reservation) (int64, int64) { return -r.Tokens, -r.CostMicros })
			n++
		}
	}
	return n, nil
}

func (s *mapStore) Usage(ctx context.Context, q quota.Query) ([]quota.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []quota.Entry
	for _, e := range s.ledger {
		if (q.PrincipalID == "" || e.PrincipalID == q.PrincipalID) && (q.Tenant == "" || e.Tenant == q.Tenant) &&
			!e.At.Before(q.Since) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b quota.Entry) int { return a.At.Compare(b.At) })
	return out, nil
}

func (s *mapStore) PutTenant(ctx context.Context, t *store.Tenant, ev store.TenantEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("map: %w", err)
	}
	if t.Name == "" || t.Version < 1 || (ev.Tenant != "" && ev.Tenant != t.Name) {
		return errors.New("map: invalid tenant")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenants == nil {
		s.tenants = map[string]*store.Tenant{}
	}
	cur, ok := s.tenants[t.Name]
	switch {
	case t.Version == 1 && ok:
		return fmt.Errorf("map: %w", record.ErrExists)
	case t.Version > 1 && !ok:
		return fmt.Errorf("map: %w", record.ErrNotFound)
	case t.Version > 1 && cur.Version != t.Version-1:
		return fmt.Errorf("map: %w", record.ErrConflict)
	}
	c := *t
	c.CreatedAt, c.UpdatedAt = ms(c.CreatedAt), ms(c.UpdatedAt)
	s.tenants[t.Name] = &c
	ev.Tenant, ev.At = t.Name, ms(ev.At)
	s.tenantHistory = append(s.tenantHistory, ev)
	return nil
}

func (s *mapStore) GetTenant(ctx context.Context, name string) (*store.Tenant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[name]
	if !ok {
		return nil, fmt.Errorf("map: %w", record.ErrNotFound)
	}
	c := *t
	return &c, nil
}

func (s *mapStore) ListTenants(ctx context.Context) ([]*store.Tenant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*store.Tenant{}
	for _, t := range s.tenants {
		c := *t
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *store.Tenant) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *mapStore) TenantHistory(ctx context.Context, name string) ([]store.TenantEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []store.TenantEvent{}
	for _, ev := range s.tenantHistory {
		if ev.Tenant == name {
			out = append(out, ev)
		}
	}
	return out, nil
}
