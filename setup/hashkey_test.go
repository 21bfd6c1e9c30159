package setup_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/setup"
)

// TestConcurrentFirstStartsAgreeOnOneHashKey: processes starting at once on
// an empty data directory (the CLI beside `aigate serve`, several Lambdas on
// a shared volume) must all get the same secret, and none may read the file
// half-written. With create-then-write, a loser of the O_EXCL race could
// read the empty file and fail with "hash key has 0 bytes".
func TestConcurrentFirstStartsAgreeOnOneHashKey(t *testing.T) {
	_, key, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	const dirs, starts = 40, 16
	for range dirs {
		dir := t.TempDir()
		hashes := make([][]byte, starts)
		errs := make([]error, starts)
		var ready, wg sync.WaitGroup
		ready.Add(1)
		for i := range starts {
			wg.Go(func() {
				ready.Wait() // start together: widen the race
				h, err := setup.Hasher(setup.Settings{DataDir: dir})
				if err != nil {
					errs[i] = err
					return
				}
				hashes[i] = h.Hash(key)
			})
		}
		ready.Done()
		wg.Wait()
		for i := range starts {
			if errs[i] != nil {
				t.Fatalf("start %d of %d: %v", i, starts, errs[i])
			}
			if !bytes.Equal(hashes[i], hashes[0]) {
				t.Fatalf("start %d hashes with another secret than start 0", i)
			}
		}
	}
}
