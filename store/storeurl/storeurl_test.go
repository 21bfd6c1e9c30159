package storeurl_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigate/aigate/store/storeurl"
)

func TestOpenStoreFollowsTheStoreURL(t *testing.T) {
	dir := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "sub", "keys.db")
	for _, tc := range []struct {
		url     string
		created string // the file the store must have created; "" for none
		fails   string
	}{
		{"", filepath.Join(dir, "aigate.db"), ""},
		{"sqlite:", filepath.Join(dir, "aigate.db"), ""},
		{"sqlite:" + elsewhere, elsewhere, ""},
		// The SDK client only: no request is made, so nothing listens.
		{"dynamodb://aigate?region=us-east-1&endpoint=http://127.0.0.1:1", "", ""},
		{"postgres://db/aigate", "", "unsupported store"},
		{"dynamodb://", "", "dynamodb"},
	} {
		st, err := storeurl.Open(context.Background(), storeurl.Config{URL: tc.url, DataDir: dir})
		if tc.fails != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fails) {
				t.Errorf("%q: %v, want an error saying %q", tc.url, err, tc.fails)
			}
			if st != nil {
				t.Errorf("%q: a store beside the error", tc.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.url, err)
			continue
		}
		st.Close()
		if tc.created != "" {
			if _, err := os.Stat(tc.created); err != nil {
				t.Errorf("%q: %v; want the database at %s", tc.url, err, tc.created)
			}
		}
	}
}
