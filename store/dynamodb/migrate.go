package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// PrincipalMigration says what MigratePrincipalIDs rewrote, per table.
type PrincipalMigration struct {
	Windows      int // usage counter items, merged into the new id's item
	Reservations int // pending reservations
	LedgerRows   int
}

// MigratePrincipalIDs gives the principal ids stored before they had a kind
// theirs (see record.KeyPrincipalID): an id that is a key's id becomes
// "key:ID"; any other was a JWT subject whose issuer was not recorded and
// becomes "jwt:#SUBJECT" (a JWT principal's windows then start again, its
// new requests naming the issuer). Ids that already have a kind are left
// alone, so it may run again, and after the new code has started writing.
// It is an operator's command (`aigate store migrate`): it scans the keys,
// usage, reservations and ledger tables.
//
// Order and crashes: reservations first, then the counters, then the
// ledger. A settlement that runs meanwhile adjusts the new id's counter
// (creating it if need be): the counters are merged with ADD, which
// commutes with it. Each counter item is added to its new item, then
// deleted; a crash between the two counts it twice when run again, which
// holds budget back and never overspends. A ledger row is copied, then the
// old row deleted; running again after a crash copies it again, identically.
// An AI API of the old version still running writes bare ids: run it once
// more after the old version is gone.
//
// A legacy JWT subject that already looked like a qualified id ("key:…",
// "jwt:…#…") cannot be told from one and is left as it is; rows a JWT
// whose subject equalled a key id wrote stay the key's.
func (s *Store) MigratePrincipalIDs(ctx context.Context) (PrincipalMigration, error) {
	var m PrincipalMigration
	keyIDs := map[string]bool{}
	err := s.scan(ctx, consistentScan(s.t.keys, "id"), func(it item) error {
		keyIDs[getS(it, "id")] = true
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("dynamodb: migrate principal ids: %w", err)
	}
	qualify := func(id string) (string, bool) {
		if _, _, _, ok := record.SplitPrincipalID(id); ok || id == "" {
			return id, false
		}
		if strings.HasPrefix(id, quota.TenantWindowsPrefix) {
			return id, false // a tenant's counters: written by this version, never bare
		}
		if keyIDs[id] {
			return record.KeyPrincipalID(id), true
		}
		return record.JWTPrincipalID("", id), true
	}
	steps := []struct {
		table string
		n     *int
		fn    func(ctx context.Context, it item, to string) error
	}{
		{s.t.reservations, &m.Reservations, s.migrateReservation},
		{s.t.usage, &m.Windows, s.migrateWindow},
		{s.t.ledger, &m.LedgerRows, s.migrateLedgerRow},
	}
	for _, st := range steps {
		err := s.scan(ctx, consistentScan(st.table, ""), func(it item) error {
			to, ok := qualify(getS(it, "principal_id"))
			if !ok {
				return nil
			}
			if err := st.fn(ctx, it, to); err != nil {
				return err
			}
			*st.n++
			return nil
		})
		if err != nil {
			return m, fmt.Errorf("dynamodb: migrate principal ids in %s: %w", st.table, err)
		}
	}
	return m, nil
}

// migrateReservation renames a pending reservation's principal, unless it
// was settled or released meanwhile.
func (s *Store) migrateReservation(ctx context.Context, it item, to string) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.reservations),
		Key:                       item{"id": it["id"]},
		UpdateExpression:          aws.String("SET principal_id = :to"),
		ConditionExpression:       aws.String("principal_id = :from"),
		ExpressionAttributeValues: item{":to": attrS(to), ":from": it["principal_id"]},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	return err
}

// migrateWindow adds a counter item to the new id's item for the same
// window, then deletes it.
func (s *Store) migrateWindow(ctx context.Context, it item, to string) error {
	pk, from := getS(it, "pk"), getS(it, "principal_id")
	prefix, ok := strings.CutSuffix(pk, "#"+from)
	if !ok {
		return fmt.Errorf("counter %q does not end with its principal", pk)
	}
	requests, err := getN(it, "requests")
	if err != nil {
		return err
	}
	tokens, err := getN(it, "tokens")
	if err != nil {
		return err
	}
	values := item{":r": attrN(requests), ":t": attrN(tokens), ":p": attrS(to)}
	names := map[string]string{"#r": "requests", "#t": "tokens", "#p": "principal_id"}
	update := "ADD #r :r, #t :t SET #p = :p"
	if ttl, ok := it[usageTTLAttribute]; ok {
		update += ", #ttl = if_not_exists(#ttl, :ttl)"
		values[":ttl"], names["#ttl"] = ttl, usageTTLAttribute
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.usage),
		Key:                       item{"pk": attrS(prefix + "#" + to)},
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
	if _, err := s.client.UpdateItem(ctx, in); err != nil {
		return err
	}
	_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.t.usage), Key: item{"pk": it["pk"]}})
	return err
}

// migrateLedgerRow copies a ledger row under the new id, then deletes it.
func (s *Store) migrateLedgerRow(ctx context.Context, it item, to string) error {
	next := make(item, len(it))
	for k, v := range it {
		next[k] = v
	}
	next["principal_id"] = attrS(to)
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.t.ledger), Item: next}); err != nil {
		return err
	}
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.t.ledger),
		Key:       item{"principal_id": it["principal_id"], "at_id": it["at_id"]},
	})
	return err
}

// consistentScan is a strongly consistent scan of table (only the
// attribute projection names, when set).
func consistentScan(table, projection string) *dynamodb.ScanInput {
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	if projection != "" {
		in.ProjectionExpression = aws.String(projection)
	}
	return in
}
