//go:build lambda.norpc && !aigate_sqlite

package storeurl

import (
	"context"
	"errors"

	"github.com/aigate/aigate/store"
)

// openSQLite: Lambda builds (tag lambda.norpc) leave the embedded store
// out, which keeps the authorizer's bootstrap under 8 MB; DynamoDB is the
// store on AWS. Add -tags aigate_sqlite for a Lambda over SQLite (the local
// gateway's tests run the authorizer that way under the emulator).
func openSQLite(context.Context, string, bool) (store.Store, error) {
	return nil, errors.New("storeurl: this Lambda build has no SQLite store (build with -tags aigate_sqlite, or use AIGATE_STORE=dynamodb://…)")
}
