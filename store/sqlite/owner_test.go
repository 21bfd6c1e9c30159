package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/storetest"
)

func TestOwnerConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		o, err := OpenOwner(t.Context(), filepath.Join(t.TempDir(), "aigate.db"))
		if err != nil {
			t.Fatalf("OpenOwner: %v", err)
		}
		return o
	})
}
