package dynamodb

import (
	"context"
	"crypto/rand"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// nonceAttr is where every idempotent put (putOnce) keeps its nonce, in
// every table. A settlement's settle_nonce is another thing: it names the
// settlement across its steps and processes, so it keeps its own name.
const nonceAttr = "write_nonce"

// putOnce is PutItem made safe to retry. The SDK retries a put whose answer
// was lost, which then fails its own condition: the item carries a fresh
// nonce, and the condition also accepts an item holding it (and, when
// applied is set, matching that condition too: "#v = :next"), so the retry
// succeeds instead of reporting ErrExists or ErrConflict. The nonce is
// returned to recognise the item in a read after an unknown outcome.
// in.ConditionExpression is the put's own condition; the placeholder
// :nonce is putOnce's.
func (s *Store) putOnce(ctx context.Context, in *dynamodb.PutItemInput, applied string) (nonce string, err error) {
	nonce = rand.Text()
	in.Item[nonceAttr] = attrS(nonce)
	mine := nonceAttr + " = :nonce"
	if applied != "" {
		mine = "(" + applied + " AND " + mine + ")"
	}
	in.ConditionExpression = aws.String(aws.ToString(in.ConditionExpression) + " OR " + mine)
	if in.ExpressionAttributeValues == nil {
		in.ExpressionAttributeValues = item{}
	}
	in.ExpressionAttributeValues[":nonce"] = attrS(nonce)
	_, err = s.client.PutItem(ctx, in)
	return nonce, err
}

// pager is what the SDK's Query and Scan paginators share.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*dynamodb.Options)) (O, error)
}

// eachItem calls fn for every item of every page, stopping at the first
// error.
func eachItem[O any](ctx context.Context, p pager[O], items func(O) []item, fn func(item) error) error {
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range items(out) {
			if err := fn(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// query calls fn for every item the query matches, page after page.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, fn func(item) error) error {
	return eachItem(ctx, dynamodb.NewQueryPaginator(s.client, in),
		func(o *dynamodb.QueryOutput) []item { return o.Items }, fn)
}

// scan calls fn for every item the scan returns, page after page.
func (s *Store) scan(ctx context.Context, in *dynamodb.ScanInput, fn func(item) error) error {
	return eachItem(ctx, dynamodb.NewScanPaginator(s.client, in),
		func(o *dynamodb.ScanOutput) []item { return o.Items }, fn)
}
