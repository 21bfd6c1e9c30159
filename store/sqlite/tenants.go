package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

const tenantColumns = `name, rpm, tpm, tokens_per_day, tokens_per_month, usd_per_day, usd_per_month,
	created_at, updated_at, version`

// PutTenant creates (Version 1) or replaces (at Version-1) a tenant, with
// its event, in one transaction, then changes KeysGeneration.
func (s *Store) PutTenant(ctx context.Context, t *store.Tenant, ev store.TenantEvent) error {
	op := fmt.Sprintf("put tenant %q", t.Name)
	if t.Name == "" || t.Version < 1 {
		return fmt.Errorf("sqlite: %s: a name and a version from 1 are required", op)
	}
	if ev.Tenant != "" && ev.Tenant != t.Name {
		return fmt.Errorf("sqlite: %s: event is for tenant %q", op, ev.Tenant)
	}
	created, err := toNanos(t.CreatedAt)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	updated, err := toNanos(t.UpdatedAt)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	at, err := toNanos(ev.At)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	l := t.Limits
	return s.keysChanged(op, s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		var res sql.Result
		if t.Version == 1 {
			res, err = tx.ExecContext(ctx, `INSERT INTO tenants (`+tenantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (name) DO NOTHING`,
				t.Name, l.RPM, l.TPM, l.TokensPerDay, l.TokensPerMonth, l.USDPerDay, l.USDPerMonth, created, updated, t.Version)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE tenants SET rpm = ?, tpm = ?, tokens_per_day = ?, tokens_per_month = ?,
				usd_per_day = ?, usd_per_month = ?, created_at = ?, updated_at = ?, version = ?
				WHERE name = ? AND version = ?`,
				l.RPM, l.TPM, l.TokensPerDay, l.TokensPerMonth, l.USDPerDay, l.USDPerMonth, created, updated, t.Version,
				t.Name, t.Version-1)
		}
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		if n == 0 {
			if t.Version == 1 {
				return fmt.Errorf("sqlite: %s: %w", op, record.ErrExists)
			}
			var v int64
			err := tx.QueryRowContext(ctx, `SELECT version FROM tenants WHERE name = ?`, t.Name).Scan(&v)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlite: %s: %w", op, record.ErrNotFound)
			}
			return fmt.Errorf("sqlite: %s: stored version %d: %w", op, v, record.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenant_audit (tenant, action, actor, at, detail) VALUES (?, ?, ?, ?, ?)`,
			t.Name, ev.Action, ev.Actor, at, ev.Detail); err != nil {
			return fmt.Errorf("sqlite: %s: audit: %w", op, err)
		}
		return nil
	}))
}

func scanTenant(row interface{ Scan(...any) error }) (*store.Tenant, error) {
	var (
		t                store.Tenant
		created, updated int64
	)
	l := &t.Limits
	if err := row.Scan(&t.Name, &l.RPM, &l.TPM, &l.TokensPerDay, &l.TokensPerMonth, &l.USDPerDay, &l.USDPerMonth,
		&created, &updated, &t.Version); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &t, nil
}

// GetTenant returns the named tenant, or ErrNotFound.
func (s *Store) GetTenant(ctx context.Context, name string) (*store.Tenant, error) {
	t, err := scanTenant(s.reader.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: tenant %q: %w", name, record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: tenant %q: %w", name, err)
	}
	return t, nil
}

// ListTenants returns every tenant, by name.
func (s *Store) ListTenants(ctx context.Context) ([]*store.Tenant, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tenants: %w", err)
	}
	defer rows.Close()
	out := []*store.Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list tenants: %w", err)
	}
	return out, nil
}

// TenantHistory returns the tenant's events in the order written.
func (s *Store) TenantHistory(ctx context.Context, name string) ([]store.TenantEvent, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT tenant, action, actor, at, detail FROM tenant_audit WHERE tenant = ? ORDER BY seq`, name)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tenant history %q: %w", name, err)
	}
	defer rows.Close()
	evs := []store.TenantEvent{}
	for rows.Next() {
		var (
			ev store.TenantEvent
			at int64
		)
		if err := rows.Scan(&ev.Tenant, &ev.Action, &ev.Actor, &at, &ev.Detail); err != nil {
			return nil, fmt.Errorf("sqlite: tenant history %q: %w", name, err)
		}
		ev.At = fromNanos(at)
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: tenant history %q: %w", name, err)
	}
	return evs, nil
}
