package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Table, index and attribute names. The package doc describes the design;
// deploy/aws must create exactly these.
const (
	keysTable         = "keys"
	keyEventsTable    = "key_events"
	usageTable        = "usage"
	reservationsTable = "reservations"
	ledgerTable       = "ledger"

	keysByTenant          = "by_tenant"
	reservationsByExpiry  = "by_expiry"
	ledgerByTenant        = "by_tenant"
	usageTTLAttribute     = "ttl"
	expiryShards          = 16 // reservations.expiry_shard is 0..15
	ledgerTenantShards    = 16 // ledger.tenant_shard is TENANT#00..TENANT#15
	tenantPartitionPrefix = "t#"
)

// tables are the full table names for one prefix.
type tables struct {
	keys, events, usage, reservations, ledger string
}

func tableNames(prefix string) tables {
	return tables{
		keys:         prefix + keysTable,
		events:       prefix + keyEventsTable,
		usage:        prefix + usageTable,
		reservations: prefix + reservationsTable,
		ledger:       prefix + ledgerTable,
	}
}

// TableNames returns the five table names, in the order CreateTables
// creates them.
func (s *Store) TableNames() []string {
	return []string{s.t.keys, s.t.events, s.t.usage, s.t.reservations, s.t.ledger}
}

func attrDef(name string, t types.ScalarAttributeType) types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: t}
}

func keySchema(hash, rng string) []types.KeySchemaElement {
	ks := []types.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash}}
	if rng != "" {
		ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange})
	}
	return ks
}

func gsi(name, hash, rng string) types.GlobalSecondaryIndex {
	return types.GlobalSecondaryIndex{
		IndexName:  aws.String(name),
		KeySchema:  keySchema(hash, rng),
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
	}
}

// tableSpecs are the CreateTable requests for every table, on-demand
// capacity. The package doc is their prose version.
func (s *Store) tableSpecs() []*dynamodb.CreateTableInput {
	onDemand := types.BillingModePayPerRequest
	return []*dynamodb.CreateTableInput{
		{
			TableName: aws.String(s.t.keys),
			AttributeDefinitions: []types.AttributeDefinition{
				attrDef("id", types.ScalarAttributeTypeS),
				attrDef("tenant_pk", types.ScalarAttributeTypeS),
				attrDef("tenant_sk", types.ScalarAttributeTypeS),
			},
			KeySchema:              keySchema("id", ""),
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{gsi(keysByTenant, "tenant_pk", "tenant_sk")},
			BillingMode:            onDemand,
		},
		{
			TableName: aws.String(s.t.events),
			AttributeDefinitions: []types.AttributeDefinition{
				attrDef("key_id", types.ScalarAttributeTypeS),
				attrDef("version", types.ScalarAttributeTypeN),
			},
			KeySchema:   keySchema("key_id", "version"),
			BillingMode: onDemand,
		},
		{
			TableName:            aws.String(s.t.usage),
			AttributeDefinitions: []types.AttributeDefinition{attrDef("pk", types.ScalarAttributeTypeS)},
			KeySchema:            keySchema("pk", ""),
			BillingMode:          onDemand,
		},
		{
			TableName: aws.String(s.t.reservations),
			AttributeDefinitions: []types.AttributeDefinition{
				attrDef("id", types.ScalarAttributeTypeS),
				attrDef("expiry_shard", types.ScalarAttributeTypeN),
				attrDef("expires_at", types.ScalarAttributeTypeN),
			},
			KeySchema:              keySchema("id", ""),
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{gsi(reservationsByExpiry, "expiry_shard", "expires_at")},
			BillingMode:            onDemand,
		},
		{
			TableName: aws.String(s.t.ledger),
			AttributeDefinitions: []types.AttributeDefinition{
				attrDef("principal_id", types.ScalarAttributeTypeS),
				attrDef("at_id", types.ScalarAttributeTypeS),
				attrDef("tenant_shard", types.ScalarAttributeTypeS),
			},
			KeySchema:              keySchema("principal_id", "at_id"),
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{gsi(ledgerByTenant, "tenant_shard", "at_id")},
			BillingMode:            onDemand,
		},
	}
}

// TableStatus is what CreateTables did to one table.
type TableStatus struct {
	Name    string
	Created bool // false: it existed already
	// TTL describes the table's time-to-live setting: "" for tables
	// without one, "enabled on ttl", or why it could not be set.
	TTL string
}

// CreateTables creates the tables that do not exist yet and waits until
// every table and index is ACTIVE. Existing tables are left as they are
// (their schema is not compared). It is meant for a local endpoint; on AWS
// the Pulumi program creates the tables, with the same schema.
//
// It also enables TTL on the usage table. dynalite has no UpdateTimeToLive:
// there the TTL status says so, and window items simply stay.
func (s *Store) CreateTables(ctx context.Context) ([]TableStatus, error) {
	var out []TableStatus
	for _, in := range s.tableSpecs() {
		st := TableStatus{Name: aws.ToString(in.TableName)}
		_, err := s.client.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		switch {
		case err == nil:
			st.Created = true
		case errors.As(err, &inUse):
		default:
			return out, fmt.Errorf("dynamodb: create table %s: %w", st.Name, err)
		}
		if err := s.waitActive(ctx, st.Name); err != nil {
			return out, err
		}
		if st.Name == s.t.usage {
			st.TTL = s.enableTTL(ctx, st.Name)
		}
		out = append(out, st)
	}
	return out, nil
}

// waitActive polls until the table and all its indexes are ACTIVE.
func (s *Store) waitActive(ctx context.Context, name string) error {
	delay := 50 * time.Millisecond
	for {
		out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("dynamodb: describe table %s: %w", name, err)
		}
		active := out.Table.TableStatus == types.TableStatusActive
		for _, ix := range out.Table.GlobalSecondaryIndexes {
			active = active && ix.IndexStatus == types.IndexStatusActive
		}
		if active {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dynamodb: waiting for table %s (%s): %w", name, out.Table.TableStatus, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// enableTTL turns on expiry of the usage table's window items by their ttl
// attribute, and describes the outcome; failure is reported, not fatal:
// without TTL the items merely stay.
func (s *Store) enableTTL(ctx context.Context, name string) string {
	d, err := s.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err == nil && d.TimeToLiveDescription != nil &&
		(d.TimeToLiveDescription.TimeToLiveStatus == types.TimeToLiveStatusEnabled ||
			d.TimeToLiveDescription.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		return "enabled on " + usageTTLAttribute
	}
	_, err = s.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(usageTTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	var apiErr smithy.APIError
	switch {
	case err == nil:
		return "enabled on " + usageTTLAttribute
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "UnknownOperationException":
		return "not supported by this endpoint (dynalite): window items are not expired"
	default:
		return fmt.Sprintf("not enabled: %v", err)
	}
}
