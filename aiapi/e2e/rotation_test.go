package e2e_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// A rotation stops the replaced secret like a revocation: the gateway still
// holds the old secret's cached Allow (300 s), but the AI API compares the
// fingerprint of the secret the authorizer matched with the key's secrets,
// at most a key status TTL stale. Without a grace the old secret is refused
// at once; with one, when the grace ends. The new secret works throughout.
func TestRotatedSecretIsRefusedDespiteTheCachedAllow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
	}{
		{"without grace", 0},
		{"with a grace", time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, aiapi.DefaultConfig())
			id, oldSecret := s.key(t, keys.Spec{})
			old := s.client(oldSecret)
			if _, err := old.Chat.Completions.New(t.Context(), chatParams("echo", "hi")); err != nil {
				t.Fatal(err) // the gateway now caches the old secret's Allow
			}
			rotated, err := s.Keys.Rotate(context.Background(), id, tc.grace)
			if err != nil {
				t.Fatal(err)
			}
			s.Clock.Advance(aiapi.DefaultKeyStatusTTL.Std())
			if tc.grace > 0 {
				if _, err := old.Chat.Completions.New(t.Context(), chatParams("echo", "hi")); err != nil {
					t.Fatalf("old secret during the grace: %v", err)
				}
				s.Clock.Advance(tc.grace)
			}
			_, err = old.Chat.Completions.New(t.Context(), chatParams("echo", "hi"))
			if e := asAPIError(t, err, http.StatusUnauthorized); e.Code != "invalid_api_key" {
				// OpenAI's shape: the AI API refused it behind the cached Allow.
				t.Errorf("error = %s, want invalid_api_key", e.RawJSON())
			}
			fresh := s.client(rotated.Secret)
			if _, err := fresh.Chat.Completions.New(t.Context(), chatParams("echo", "hi")); err != nil {
				t.Fatalf("new secret: %v", err)
			}
			want := 2
			if tc.grace > 0 {
				want = 3
			}
			if es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}); len(es) != want {
				t.Errorf("ledger has %d entries, want %d: the refused request is not metered", len(es), want)
			}
		})
	}
}
