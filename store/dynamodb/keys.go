package dynamodb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// CreateKey stores k, which must be at version 1, with its creation event
// embedded in the key item (one conditional PutItem: the commit), then
// copies the event to key_events. ErrExists if the id is taken.
func (s *Store) CreateKey(ctx context.Context, k *record.Key, ev record.AuditEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamodb: create key %q: %w", k.ID, err)
	}
	if k.ID == "" {
		return errors.New("dynamodb: create key: empty id")
	}
	if k.Version != 1 {
		return fmt.Errorf("dynamodb: create key %q: version %d, want 1", k.ID, k.Version)
	}
	it, err := keyItem(k, ev)
	if err != nil {
		return fmt.Errorf("dynamodb: create key %q: %w", k.ID, err)
	}
	_, err = s.putOnce(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.t.keys),
		Item:                it,
		ConditionExpression: aws.String("attribute_not_exists(id)"),
	}, "")
	if conditionFailed(err) {
		return fmt.Errorf("dynamodb: create key %q: %w", k.ID, record.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("dynamodb: create key %q: %w", k.ID, err)
	}
	s.copyEventAfterCommit(ctx, it)
	return nil
}

// UpdateKey replaces the key stored at version k.Version-1 with k and
// records ev. The steps, and why a crash between any two loses nothing:
//
//  1. Read the stored key (strongly consistent). ErrNotFound if absent,
//     ErrConflict if its version is not k.Version-1.
//  2. Copy the stored key's embedded event (its version's) to key_events,
//     if no one has yet. From here on key_events holds every event older
//     than the one the commit is about to replace.
//  3. Commit: PutItem of the new key with ev embedded, on the condition
//     that the stored version is still k.Version-1 (else ErrConflict).
//  4. Copy ev to key_events (best effort; step 2 of the next update, or
//     KeyHistory reading the key item, covers a crash here).
//
// Only committed events ever reach key_events, so readers never see the
// event of a version the key did not reach, and no TransactWriteItems is
// needed (dynalite has none).
func (s *Store) UpdateKey(ctx context.Context, k *record.Key, ev record.AuditEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamodb: update key %q: %w", k.ID, err)
	}
	if k.ID == "" {
		return fmt.Errorf("dynamodb: update key %q: %w", k.ID, record.ErrNotFound)
	}
	it, err := keyItem(k, ev)
	if err != nil {
		return fmt.Errorf("dynamodb: update key %q: %w", k.ID, err)
	}
	cur, err := s.getKeyItem(ctx, k.ID)
	if err != nil {
		return fmt.Errorf("dynamodb: update key %q: %w", k.ID, err)
	}
	if cur == nil {
		return fmt.Errorf("dynamodb: update key %q: %w", k.ID, record.ErrNotFound)
	}
	stored, err := getN(cur, "version")
	if err != nil {
		return fmt.Errorf("dynamodb: update key %q: %w", k.ID, err)
	}
	if stored != k.Version-1 {
		return fmt.Errorf("dynamodb: update key %q to version %d: stored version is %d: %w",
			k.ID, k.Version, stored, record.ErrConflict)
	}
	if err := s.copyEvent(ctx, cur); err != nil {
		// Committing now could overwrite the only copy of that event.
		return fmt.Errorf("dynamodb: update key %q: save the previous event: %w", k.ID, err)
	}
	_, err = s.putOnce(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.t.keys),
		Item:                      it,
		ConditionExpression:       aws.String("#v = :prev"),
		ExpressionAttributeNames:  map[string]string{"#v": "version"},
		ExpressionAttributeValues: item{":prev": attrN(stored), ":next": attrN(k.Version)},
	}, "#v = :next")
	if conditionFailed(err) {
		return fmt.Errorf("dynamodb: update key %q to version %d: %w", k.ID, k.Version, record.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("dynamodb: update key %q: %w", k.ID, err)
	}
	s.copyEventAfterCommit(ctx, it)
	return nil
}

// copyEventAfterCommit copies the event of a key (or tenant) item just
// committed, as a best effort: the event is already in the item, history
// reads it from there, and the next update copies it before replacing it.
// A failure is logged, since it leaves the copy to that next update.
func (s *Store) copyEventAfterCommit(ctx context.Context, it item) {
	cctx, cancel := afterCommit(ctx)
	defer cancel()
	if err := s.copyEvent(cctx, it); err != nil {
		s.logger.WarnContext(ctx, "dynamodb: copy the committed event to key_events (left to the next update)",
			"id", getS(it, "id"), "error", err)
	}
}

// copyEvent writes the event embedded in a key item to key_events under
// (key id, version), unless it is there already.
func (s *Store) copyEvent(ctx context.Context, key item) error {
	v, ok := key["ev_version"]
	if !ok {
		return nil // a key item without an event (written by hand)
	}
	ev := item{"key_id": key["id"], "version": v}
	for _, a := range []struct{ from, to string }{
		{"ev_action", "action"}, {"ev_actor", "actor"}, {"ev_at", "at"}, {"ev_detail", "detail"},
	} {
		if v, ok := key[a.from]; ok {
			ev[a.to] = v
		}
	}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.t.events),
		Item:                ev,
		ConditionExpression: aws.String("attribute_not_exists(key_id)"),
	})
	if err != nil && !conditionFailed(err) {
		return err
	}
	return nil
}

// GetKey returns the key with that id, or ErrNotFound. The read is strongly
// consistent: a revocation is seen by the next read.
func (s *Store) GetKey(ctx context.Context, id string) (*record.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dynamodb: get key %q: %w", id, err)
	}
	it, err := s.getKeyItem(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: get key %q: %w", id, err)
	}
	if it == nil {
		return nil, fmt.Errorf("dynamodb: get key %q: %w", id, record.ErrNotFound)
	}
	k, err := decodeKey(it)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: get key %q: %w", id, err)
	}
	return k, nil
}

// getKeyItem returns the key item, or nil if there is none. DynamoDB
// refuses an empty key value; no key has the empty id.
func (s *Store) getKeyItem(ctx context.Context, id string) (item, error) {
	it, err := s.getItem(ctx, id)
	if getS(it, "kind") == kindTenant {
		return nil, err // a tenant (tenants.go) is no key
	}
	return it, err
}

// getItem reads any item of the keys table (a key or a tenant); nil when
// absent.
func (s *Store) getItem(ctx context.Context, id string) (item, error) {
	if id == "" {
		return nil, nil
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.t.keys),
		Key:            item{"id": attrS(id)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// ListKeys returns the keys, of opts.Tenant only when it is set, ordered by
// creation time, then id. A tenant's keys come from the by_tenant index
// already in that order (eventually consistent on AWS: a key created a
// moment ago may be missing); all keys come from a strongly consistent Scan
// of the keys table, sorted here: listing every key reads every key anyway.
func (s *Store) ListKeys(ctx context.Context, opts store.ListOptions) ([]*record.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dynamodb: list keys: %w", err)
	}
	keys := []*record.Key{}
	add := func(it item) error {
		k, err := decodeKey(it)
		if err != nil {
			return err
		}
		keys = append(keys, k)
		return nil
	}
	if opts.Tenant != "" {
		err := s.query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.t.keys),
			IndexName:                 aws.String(keysByTenant),
			KeyConditionExpression:    aws.String("tenant_pk = :t"),
			ExpressionAttributeValues: item{":t": attrS(tenantPartitionPrefix + opts.Tenant)},
		}, add)
		if err != nil {
			return nil, fmt.Errorf("dynamodb: list keys of tenant %q: %w", opts.Tenant, err)
		}
		return keys, nil
	}
	err := s.scan(ctx, &dynamodb.ScanInput{
		TableName:                 aws.String(s.t.keys),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("attribute_not_exists(#k) OR #k <> :tenant"),
		ExpressionAttributeNames:  map[string]string{"#k": "kind"},
		ExpressionAttributeValues: item{":tenant": attrS(kindTenant)},
	}, add)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: list keys: %w", err)
	}
	slices.SortFunc(keys, func(a, b *record.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return keys, nil
}

// KeyHistory returns the key's audit events in the order they were written
// (by version); none, and no error, for an unknown id.
//
// It reads the key item first, then key_events: every event older than the
// key's version was copied to key_events before that version was committed
// (UpdateKey, step 2), so key_events holds versions 1..m with m at least
// the key's version - 1, and the key item supplies its own version's event
// when its copy is missing (a crash, or a copy still in flight).
func (s *Store) KeyHistory(ctx context.Context, id string) ([]record.AuditEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dynamodb: key history %q: %w", id, err)
	}
	evs := []record.AuditEvent{}
	if id == "" {
		return evs, nil
	}
	key, err := s.getKeyItem(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: key history %q: %w", id, err)
	}
	return s.history(ctx, id, key)
}

// history is the events of the keys-table item id (a key or a tenant):
// those copied to key_events, then the item's embedded one if newer.
func (s *Store) history(ctx context.Context, id string, key item) ([]record.AuditEvent, error) {
	evs := []record.AuditEvent{}
	var last int64
	err := s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.t.events),
		KeyConditionExpression:    aws.String("key_id = :id"),
		ExpressionAttributeValues: item{":id": attrS(id)},
		ConsistentRead:            aws.Bool(true),
	}, func(it item) error {
		ev, v, err := decodeEvent(it, "")
		if err != nil {
			return err
		}
		evs = append(evs, ev)
		last = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamodb: key history %q: %w", id, err)
	}
	if key != nil {
		if _, ok := key["ev_version"]; ok {
			ev, v, err := decodeEvent(key, "ev_")
			if err != nil {
				return nil, fmt.Errorf("dynamodb: key history %q: %w", id, err)
			}
			if v > last {
				evs = append(evs, ev)
			}
		}
	}
	return evs, nil
}

// keyItem encodes k, with ev as its embedded event (the event of k's
// version), for the keys table.
func keyItem(k *record.Key, ev record.AuditEvent) (item, error) {
	if ev.KeyID != "" && ev.KeyID != k.ID {
		return nil, fmt.Errorf("audit event is for key %q", ev.KeyID)
	}
	// nil and empty Models are both stored as an empty list: one way to say
	// "no models", which reads back as a non-nil empty slice.
	models := make([]types.AttributeValue, len(k.Models))
	for i, m := range k.Models {
		models[i] = attrS(m)
	}
	it := item{
		"id":               attrS(k.ID),
		"tenant_pk":        attrS(tenantPartitionPrefix + k.Tenant),
		"tenant_sk":        attrS(orderKey(k.CreatedAt, k.ID)),
		"models":           &types.AttributeValueMemberL{Value: models},
		"rpm":              attrN(k.Limits.RPM),
		"tpm":              attrN(k.Limits.TPM),
		"tokens_per_day":   attrN(k.Limits.TokensPerDay),
		"tokens_per_month": attrN(k.Limits.TokensPerMonth),
		"usd_per_day":      attrN(k.Limits.USDPerDay),
		"usd_per_month":    attrN(k.Limits.USDPerMonth),
		"version":          attrN(k.Version),
		"ev_version":       attrN(k.Version),
	}
	setS(it, "name", k.Name)
	setS(it, "tenant", k.Tenant)
	setS(it, "status", string(k.Status))
	setS(it, "role", string(k.Role))
	setB(it, "secret_hash", k.SecretHash)
	setB(it, "previous_secret_hash", k.PreviousSecretHash)
	setS(it, "usage_identifier_key", k.UsageIdentifierKey)
	setS(it, "ev_action", ev.Action)
	setS(it, "ev_actor", ev.Actor)
	setS(it, "ev_detail", ev.Detail)
	for _, t := range []struct {
		name string
		t    time.Time
	}{
		{"previous_expires_at", k.PreviousExpiresAt},
		{"created_at", k.CreatedAt},
		{"updated_at", k.UpdatedAt},
		{"expires_at", k.ExpiresAt},
		{"revoked_at", k.RevokedAt},
		{"ev_at", ev.At},
	} {
		if err := setTime(it, t.name, t.t); err != nil {
			return nil, err
		}
	}
	return it, nil
}

// decodeKey is the inverse of keyItem, for the key part.
func decodeKey(it item) (*record.Key, error) {
	d := decoder{it: it}
	k := &record.Key{
		ID:     getS(it, "id"),
		Name:   getS(it, "name"),
		Tenant: getS(it, "tenant"),
		Models: []string{},
		Limits: record.Limits{
			RPM:            d.n("rpm"),
			TPM:            d.n("tpm"),
			TokensPerDay:   d.n("tokens_per_day"),
			TokensPerMonth: d.n("tokens_per_month"),
			USDPerDay:      d.n("usd_per_day"),
			USDPerMonth:    d.n("usd_per_month"),
		},
		Status:             record.Status(getS(it, "status")),
		Role:               record.Role(getS(it, "role")),
		SecretHash:         getB(it, "secret_hash"),
		PreviousSecretHash: getB(it, "previous_secret_hash"),
		PreviousExpiresAt:  d.time("previous_expires_at"),
		UsageIdentifierKey: getS(it, "usage_identifier_key"),
		CreatedAt:          d.time("created_at"),
		UpdatedAt:          d.time("updated_at"),
		ExpiresAt:          d.time("expires_at"),
		RevokedAt:          d.time("revoked_at"),
		Version:            d.n("version"),
	}
	if d.err != nil {
		return nil, fmt.Errorf("key %q: %w", k.ID, d.err)
	}
	if l, ok := it["models"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			m, ok := v.(*types.AttributeValueMemberS)
			if !ok {
				return nil, fmt.Errorf("key %q: models holds a %T", k.ID, v)
			}
			k.Models = append(k.Models, m.Value)
		}
	}
	return k, nil
}

// decodeEvent reads an event from a key_events item (prefix "") or the
// event embedded in a key item (prefix "ev_"), with its version.
func decodeEvent(it item, prefix string) (record.AuditEvent, int64, error) {
	d := decoder{it: it}
	idAttr := "key_id"
	if prefix != "" {
		idAttr = "id"
	}
	ev := record.AuditEvent{
		KeyID:  getS(it, idAttr),
		Action: getS(it, prefix+"action"),
		Actor:  getS(it, prefix+"actor"),
		At:     d.time(prefix + "at"),
		Detail: getS(it, prefix+"detail"),
	}
	v := d.n(prefix + "version")
	if d.err != nil {
		return ev, 0, fmt.Errorf("event: %w", d.err)
	}
	return ev, v, nil
}
