package keys

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// Tenant actions recorded in a tenant's history.
const (
	TenantCreated = "created"
	TenantUpdated = "updated"
)

// TenantChange says which of a tenant's limits to set; nil fields keep
// the current value (zero for a new tenant, which is unlimited).
type TenantChange struct {
	USDPerDay, USDPerMonth *int64 // micro-dollars
	TokensPerDay, RPM      *int64
}

// CheckTenantName reports whether name may name a tenant: what a key's
// tenant or a JWT's tenant claim holds, 1 to 128 characters, without
// whitespace, control characters or ':'.
func CheckTenantName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("%w: tenant name must be 1 to 128 characters", ErrInvalid)
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || r == ':' {
			return fmt.Errorf("%w: tenant name %q holds a space, control character or ':'", ErrInvalid, name)
		}
	}
	return nil
}

// SetTenant creates the tenant or changes its limits, with an audit event
// naming what changed. A concurrent change makes it fail with ErrConflict
// (wrapped), nothing written.
func (m *Manager) SetTenant(ctx context.Context, name string, c TenantChange) (*store.Tenant, error) {
	ts, ok := m.Store.(store.Tenants)
	if !ok {
		return nil, errors.New("keys: set tenant: the store keeps no tenants")
	}
	if err := CheckTenantName(name); err != nil {
		return nil, err
	}
	for _, v := range []*int64{c.USDPerDay, c.USDPerMonth, c.TokensPerDay, c.RPM} {
		if v != nil && *v < 0 {
			return nil, fmt.Errorf("%w: limits must not be negative", ErrInvalid)
		}
	}
	now := m.now()
	cur, err := ts.GetTenant(ctx, name)
	next := &store.Tenant{Name: name, CreatedAt: now, Version: 1}
	action := TenantCreated
	switch {
	case errors.Is(err, record.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("keys: set tenant: %w", err)
	default:
		cp := *cur
		next = &cp
		next.Version++
		action = TenantUpdated
	}
	next.UpdatedAt = now
	var detail []string
	for _, f := range []struct {
		name string
		v    *int64
		dst  *int64
	}{
		{"usd_micros_per_day", c.USDPerDay, &next.Limits.USDPerDay},
		{"usd_micros_per_month", c.USDPerMonth, &next.Limits.USDPerMonth},
		{"tokens_per_day", c.TokensPerDay, &next.Limits.TokensPerDay},
		{"rpm", c.RPM, &next.Limits.RPM},
	} {
		if f.v != nil {
			detail = append(detail, fmt.Sprintf("%s=%d", f.name, *f.v))
			*f.dst = *f.v
		}
	}
	ev := store.TenantEvent{Tenant: name, Action: action, Actor: m.Actor, At: now, Detail: strings.Join(detail, " ")}
	if err := ts.PutTenant(ctx, next, ev); err != nil {
		return nil, fmt.Errorf("keys: set tenant: %w", err)
	}
	return next, nil
}
