package server

import (
	"context"
	"testing"
	"time"

	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/record"
)

type keysOnly struct{}

func (keysOnly) GetKey(context.Context, string) (*record.Key, error) { return nil, record.ErrNotFound }

type keysWithGeneration struct{ keysOnly }

func (keysWithGeneration) KeysGeneration() (uint64, error) { return 1, nil }

// serve caches keys by default only over a store whose key changes reach
// the cache at once (SQLite's KeysGeneration); over any other store
// (DynamoDB) the TTL alone would delay a revocation, so the default stays
// no cache. A configured TTL, 0 included, is taken as it is.
func TestKeyCacheIsOnByDefaultOnlyOverAStoreWithAGeneration(t *testing.T) {
	zero, five := duration.Duration(0), duration.Duration(5*time.Second)
	for _, tc := range []struct {
		name string
		set  *duration.Duration
		gens bool
		want time.Duration
	}{
		{"default with generation", nil, true, DefaultKeyCacheTTL},
		{"default without generation", nil, false, 0},
		{"0s with generation", &zero, true, 0},
		{"5s without generation", &five, false, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var keys interface {
				GetKey(context.Context, string) (*record.Key, error)
			} = keysOnly{}
			if tc.gens {
				keys = keysWithGeneration{}
			}
			if got := (AuthorizerConfig{KeyCacheTTL: tc.set}).keyCacheTTL(keys); got != tc.want {
				t.Errorf("keyCacheTTL = %v, want %v", got, tc.want)
			}
		})
	}
}
