package jwtauth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/jwttest"
	"github.com/aigate/aigate/record"
)

const testAudience = "aigate-api"

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// RSA-2048 generation takes up to seconds under -race: each test binary
// makes these once.
var (
	rsaKeysOnce sync.Once
	rsaKeys     [3]*jwttest.Key
)

func rsaKey(t testing.TB, i int) *jwttest.Key {
	t.Helper()
	rsaKeysOnce.Do(func() {
		var wg sync.WaitGroup
		for j := range rsaKeys {
			wg.Go(func() {
				k, err := jwttest.NewKey("RS256", "rsa-"+string(rune('a'+j)))
				if err != nil {
					panic(err)
				}
				rsaKeys[j] = k
			})
		}
		wg.Wait()
	})
	return rsaKeys[i]
}

// claims returns valid claims of iss for testAudience at c's time.
func claims(iss string, c *clock) map[string]any {
	return jwttest.Claims(iss, testAudience, "alice", c.Now(), time.Hour)
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func newVerifier(t testing.TB, cfg jwtauth.Config) *jwtauth.Verifier {
	t.Helper()
	v, err := jwtauth.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustVerify(t testing.TB, v *jwtauth.Verifier, token string) *record.Principal {
	t.Helper()
	p, err := v.VerifyToken(context.Background(), token)
	if err != nil {
		t.Fatalf("VerifyToken: %v", err)
	}
	return p
}

func mustRefuse(t testing.TB, v *jwtauth.Verifier, token string) error {
	t.Helper()
	p, err := v.VerifyToken(context.Background(), token)
	if !errors.Is(err, authz.ErrInvalidCredential) {
		t.Fatalf("VerifyToken = %v, %v; want an error wrapping authz.ErrInvalidCredential", p, err)
	}
	if p != nil {
		t.Fatalf("VerifyToken returned a principal with its error: %+v", p)
	}
	return err
}

func mustBeOutage(t testing.TB, v *jwtauth.Verifier, token string) error {
	t.Helper()
	p, err := v.VerifyToken(context.Background(), token)
	if err == nil || errors.Is(err, authz.ErrInvalidCredential) {
		t.Fatalf("VerifyToken = %v, %v; want an outage error not wrapping ErrInvalidCredential", p, err)
	}
	if p != nil {
		t.Fatalf("VerifyToken returned a principal with its error: %+v", p)
	}
	return err
}
