//go:build !lambda.norpc || aigate_sqlite

package storeurl

import (
	"context"

	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/sqlite"
)

func openSQLite(ctx context.Context, path string, owner bool) (store.Store, error) {
	if owner {
		o, err := sqlite.OpenOwner(ctx, path)
		if err != nil {
			return nil, err
		}
		return o, nil
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return st, nil
}
