package dynamodb

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// Tenants live in the keys table, so that no new table or IAM grant is
// needed (the AI API Lambda already reads that table by id): one item per
// tenant, id "tenant:NAME" (no key id holds a ':'), kind "tenant", with
// its limits and, like a key, its version and embedded event, which is
// copied to key_events (key_id "tenant:NAME") before the next change.
// GetKey and ListKeys never return them; the by_tenant index never holds
// them (they have no tenant_pk).
const kindTenant = "tenant"

func tenantItemID(name string) string { return "tenant:" + name }

// PutTenant creates (Version 1: attribute_not_exists) or replaces (at
// Version-1) a tenant, the conditional PutItem being the commit point; the
// previous version's event is copied to key_events first, as UpdateKey
// does.
func (s *Store) PutTenant(ctx context.Context, t *store.Tenant, ev store.TenantEvent) error {
	op := fmt.Sprintf("put tenant %q", t.Name)
	if t.Name == "" || t.Version < 1 {
		return fmt.Errorf("dynamodb: %s: a name and a version from 1 are required", op)
	}
	if ev.Tenant != "" && ev.Tenant != t.Name {
		return fmt.Errorf("dynamodb: %s: event is for tenant %q", op, ev.Tenant)
	}
	id := tenantItemID(t.Name)
	l := t.Limits
	it := item{
		"id": attrS(id), "kind": attrS(kindTenant), "name": attrS(t.Name),
		"rpm": attrN(l.RPM), "tpm": attrN(l.TPM), "tokens_per_day": attrN(l.TokensPerDay),
		"tokens_per_month": attrN(l.TokensPerMonth), "usd_per_day": attrN(l.USDPerDay), "usd_per_month": attrN(l.USDPerMonth),
		"version": attrN(t.Version), "ev_version": attrN(t.Version),
	}
	setS(it, "ev_action", ev.Action)
	setS(it, "ev_actor", ev.Actor)
	setS(it, "ev_detail", ev.Detail)
	if err := setTime(it, "created_at", t.CreatedAt); err != nil {
		return fmt.Errorf("dynamodb: %s: %w", op, err)
	}
	if err := setTime(it, "updated_at", t.UpdatedAt); err != nil {
		return fmt.Errorf("dynamodb: %s: %w", op, err)
	}
	if err := setTime(it, "ev_at", ev.At); err != nil {
		return fmt.Errorf("dynamodb: %s: %w", op, err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.t.keys), Item: it}
	applied := "" // see putOnce
	if t.Version == 1 {
		in.ConditionExpression = aws.String("attribute_not_exists(id)")
	} else {
		cur, err := s.getItem(ctx, id)
		if err != nil {
			return fmt.Errorf("dynamodb: %s: %w", op, err)
		}
		if cur == nil || getS(cur, "kind") != kindTenant {
			return fmt.Errorf("dynamodb: %s: %w", op, record.ErrNotFound)
		}
		if err := s.copyEvent(ctx, cur); err != nil {
			return fmt.Errorf("dynamodb: %s: save the previous event: %w", op, err)
		}
		in.ConditionExpression = aws.String("#v = :prev")
		in.ExpressionAttributeNames = map[string]string{"#v": "version"}
		in.ExpressionAttributeValues = item{":prev": attrN(t.Version - 1), ":next": attrN(t.Version)}
		applied = "#v = :next"
	}
	_, err := s.putOnce(ctx, in, applied)
	switch {
	case conditionFailed(err) && t.Version == 1:
		return fmt.Errorf("dynamodb: %s: %w", op, record.ErrExists)
	case conditionFailed(err):
		return fmt.Errorf("dynamodb: %s to version %d: %w", op, t.Version, record.ErrConflict)
	case err != nil:
		return fmt.Errorf("dynamodb: %s: %w", op, err)
	}
	s.copyEventAfterCommit(ctx, it)
	return nil
}

func decodeTenant(it item) (*store.Tenant, error) {
	d := decoder{it: it}
	t := &store.Tenant{
		Name: getS(it, "name"),
		Limits: record.Limits{
			RPM: d.n("rpm"), TPM: d.n("tpm"), TokensPerDay: d.n("tokens_per_day"), TokensPerMonth: d.n("tokens_per_month"),
			USDPerDay: d.n("usd_per_day"), USDPerMonth: d.n("usd_per_month"),
		},
		CreatedAt: d.time("created_at"),
		UpdatedAt: d.time("updated_at"),
		Version:   d.n("version"),
	}
	if d.err != nil {
		return nil, fmt.Errorf("tenant %q: %w", t.Name, d.err)
	}
	return t, nil
}

// GetTenant reads the tenant (strongly consistent), or ErrNotFound.
func (s *Store) GetTenant(ctx context.Context, name string) (*store.Tenant, error) {
	it, err := s.getItem(ctx, tenantItemID(name))
	if err != nil {
		return nil, fmt.Errorf("dynamodb: tenant %q: %w", name, err)
	}
	if it == nil || getS(it, "kind") != kindTenant || name == "" {
		return nil, fmt.Errorf("dynamodb: tenant %q: %w", name, record.ErrNotFound)
	}
	t, err := decodeTenant(it)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: %w", err)
	}
	return t, nil
}

// ListTenants scans the keys table for tenants: an operator's command.
func (s *Store) ListTenants(ctx context.Context) ([]*store.Tenant, error) {
	out := []*store.Tenant{}
	err := s.scan(ctx, &dynamodb.ScanInput{
		TableName:                 aws.String(s.t.keys),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("#k = :tenant"),
		ExpressionAttributeNames:  map[string]string{"#k": "kind"},
		ExpressionAttributeValues: item{":tenant": attrS(kindTenant)},
	}, func(it item) error {
		t, err := decodeTenant(it)
		if err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamodb: list tenants: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// TenantHistory returns the tenant's events, oldest first.
func (s *Store) TenantHistory(ctx context.Context, name string) ([]store.TenantEvent, error) {
	id := tenantItemID(name)
	cur, err := s.getItem(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: tenant history %q: %w", name, err)
	}
	if cur != nil && getS(cur, "kind") != kindTenant {
		cur = nil
	}
	evs, err := s.history(ctx, id, cur)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: tenant history %q: %w", name, err)
	}
	out := make([]store.TenantEvent, len(evs))
	for i, ev := range evs {
		out[i] = store.TenantEvent{Tenant: strings.TrimPrefix(ev.KeyID, "tenant:"), Action: ev.Action, Actor: ev.Actor, At: ev.At, Detail: ev.Detail}
	}
	return out, nil
}
