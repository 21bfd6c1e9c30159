package stack

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Tables are the store's five tables, exactly as store/dynamodb's package
// doc (and its tableSpecs) define them: names, keys, indexes, TTL.
type Tables struct {
	Keys, KeyEvents, Usage, Reservations, Ledger *dynamodb.Table
}

// Index names the store queries (store/dynamodb).
const (
	indexKeysByTenant         = "by_tenant"
	indexReservationsByExpiry = "by_expiry"
	indexLedgerByTenant       = "by_tenant"
)

type attr struct{ name, typ string }

type tableSpec struct {
	suffix    string
	hash      attr
	rng       *attr
	gsi       *gsiSpec
	ttl       string
	extraAttr []attr
}

type gsiSpec struct {
	name, hash, rng string
}

// tableSpecs mirror store/dynamodb/tables.go. Every GSI projects ALL.
var tableSpecs = []tableSpec{
	{suffix: "keys", hash: attr{"id", "S"},
		extraAttr: []attr{{"tenant_pk", "S"}, {"tenant_sk", "S"}},
		gsi:       &gsiSpec{indexKeysByTenant, "tenant_pk", "tenant_sk"}},
	{suffix: "key_events", hash: attr{"key_id", "S"}, rng: &attr{"version", "N"}},
	// Window counters expire by their ttl attribute. Never on keys: its
	// expires_at is a key's expiry, not a TTL.
	{suffix: "usage", hash: attr{"pk", "S"}, ttl: "ttl"},
	{suffix: "reservations", hash: attr{"id", "S"},
		extraAttr: []attr{{"expiry_shard", "N"}, {"expires_at", "N"}},
		gsi:       &gsiSpec{indexReservationsByExpiry, "expiry_shard", "expires_at"}},
	{suffix: "ledger", hash: attr{"principal_id", "S"}, rng: &attr{"at_id", "S"},
		extraAttr: []attr{{"tenant_shard", "S"}},
		gsi:       &gsiSpec{indexLedgerByTenant, "tenant_shard", "at_id"}},
}

// newTables creates the tables: on demand, with point-in-time recovery and
// encryption under the AWS managed key (aws/dynamodb).
func newTables(ctx *pulumi.Context, c Config) (Tables, error) {
	made := map[string]*dynamodb.Table{}
	for _, spec := range tableSpecs {
		attrs := dynamodb.TableAttributeArray{dynamodb.TableAttributeArgs{Name: pulumi.String(spec.hash.name), Type: pulumi.String(spec.hash.typ)}}
		args := &dynamodb.TableArgs{
			Name:                      pulumi.String(c.TablePrefix + spec.suffix),
			BillingMode:               pulumi.String("PAY_PER_REQUEST"),
			HashKey:                   pulumi.String(spec.hash.name),
			PointInTimeRecovery:       dynamodb.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(true)},
			ServerSideEncryption:      dynamodb.TableServerSideEncryptionArgs{Enabled: pulumi.Bool(true)},
			DeletionProtectionEnabled: pulumi.Bool(c.DeletionProtection),
			Tags:                      pulumi.ToStringMap(c.Tags),
		}
		if spec.rng != nil {
			args.RangeKey = pulumi.String(spec.rng.name)
			attrs = append(attrs, dynamodb.TableAttributeArgs{Name: pulumi.String(spec.rng.name), Type: pulumi.String(spec.rng.typ)})
		}
		for _, a := range spec.extraAttr {
			attrs = append(attrs, dynamodb.TableAttributeArgs{Name: pulumi.String(a.name), Type: pulumi.String(a.typ)})
		}
		args.Attributes = attrs
		if g := spec.gsi; g != nil {
			args.GlobalSecondaryIndexes = dynamodb.TableGlobalSecondaryIndexArray{dynamodb.TableGlobalSecondaryIndexArgs{
				Name:           pulumi.String(g.name),
				HashKey:        pulumi.String(g.hash),
				RangeKey:       pulumi.String(g.rng),
				ProjectionType: pulumi.String("ALL"),
			}}
		}
		if spec.ttl != "" {
			args.Ttl = dynamodb.TableTtlArgs{AttributeName: pulumi.String(spec.ttl), Enabled: pulumi.Bool(true)}
		}
		t, err := dynamodb.NewTable(ctx, spec.suffix, args)
		if err != nil {
			return Tables{}, err
		}
		made[spec.suffix] = t
	}
	return Tables{
		Keys: made["keys"], KeyEvents: made["key_events"], Usage: made["usage"],
		Reservations: made["reservations"], Ledger: made["ledger"],
	}, nil
}
