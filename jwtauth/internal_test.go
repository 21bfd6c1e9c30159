package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/jwtauth/jwttest"
	"github.com/aigate/aigate/record"
)

// countingKeySet counts signature checks that reach the keys.
type countingKeySet struct {
	oidc.KeySet
	n atomic.Int64
}

func (c *countingKeySet) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	c.n.Add(1)
	return c.KeySet.VerifySignature(ctx, token)
}

type cacheFixture struct {
	v      *Verifier
	key    *jwttest.Key
	now    time.Time
	checks *countingKeySet
}

const cacheIssuer = "https://idp.example"

func newCacheFixture(t *testing.T, size int) *cacheFixture {
	t.Helper()
	f := &cacheFixture{key: jwttest.MustKey(t, "ES256", "k1"), now: time.Unix(1_800_000_000, 0)}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{f.key.JWK()}})
	if err != nil {
		t.Fatal(err)
	}
	f.v, err = New(context.Background(), Config{
		Issuers: []IssuerConfig{{
			Issuer: cacheIssuer, StaticJWKS: string(set), Audiences: []string{"api"},
			Claims: ClaimMapping{Models: "models"},
		}},
		CacheSize: size,
		Now:       func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	is := f.v.issuers[cacheIssuer]
	f.checks = &countingKeySet{KeySet: is.sigs}
	is.sigs = f.checks
	return f
}

func (f *cacheFixture) token(t *testing.T, sub string, ttl time.Duration) string {
	t.Helper()
	c := jwttest.Claims(cacheIssuer, "api", sub, f.now, ttl)
	c["models"] = []string{"gpt-4o"}
	return f.key.MustSign(t, c, nil)
}

func TestRepeatedTokenIsAnsweredFromCache(t *testing.T) {
	f := newCacheFixture(t, 0)
	tok := f.token(t, "alice", time.Minute)
	p1, err := f.v.VerifyToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	p1.Models[0] = "changed by a careless caller"
	p2, err := f.v.VerifyToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.checks.n.Load(); n != 1 {
		t.Errorf("signature checks = %d, want 1", n)
	}
	if p2.ID != record.JWTPrincipalID(cacheIssuer, "alice") || p2.Models[0] != "gpt-4o" {
		t.Errorf("cached principal = %+v", p2)
	}
}

func TestExpiredTokenIsNeverAnsweredFromCache(t *testing.T) {
	f := newCacheFixture(t, 0)
	tok := f.token(t, "alice", time.Minute)
	if _, err := f.v.VerifyToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Minute - time.Nanosecond)
	if _, err := f.v.VerifyToken(context.Background(), tok); err != nil {
		t.Fatalf("just before exp: %v", err)
	}
	f.now = f.now.Add(time.Nanosecond) // exactly exp
	p, err := f.v.VerifyToken(context.Background(), tok)
	if !errors.Is(err, authz.ErrInvalidCredential) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("at exp: %+v, %v; want expired", p, err)
	}
	if n := f.v.cache.len(); n != 0 {
		t.Errorf("cache holds %d entries after expiry, want 0", n)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	f := newCacheFixture(t, 2)
	t1, t2, t3 := f.token(t, "a", time.Hour), f.token(t, "b", time.Hour), f.token(t, "c", time.Hour)
	for _, tok := range []string{t1, t2, t1, t3} {
		if _, err := f.v.VerifyToken(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.checks.n.Load(); n != 3 {
		t.Fatalf("checks = %d, want 3 (t1 hit once)", n)
	}
	// t2 was least recently used when t3 arrived.
	for _, tok := range []string{t1, t3, t2} {
		if _, err := f.v.VerifyToken(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.checks.n.Load(); n != 4 {
		t.Errorf("checks = %d, want 4 (only t2 verified again)", n)
	}
	if n := f.v.cache.len(); n != 2 {
		t.Errorf("cache size = %d, want 2", n)
	}
}

func TestNegativeCacheSizeDisablesTheCache(t *testing.T) {
	f := newCacheFixture(t, -1)
	tok := f.token(t, "alice", time.Hour)
	for range 3 {
		if _, err := f.v.VerifyToken(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.checks.n.Load(); n != 3 {
		t.Errorf("checks = %d, want 3", n)
	}
}

func TestResponseLimitHoldsWithoutContentLength(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range (MaxResponseBytes / len(chunk)) + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	resp, err := limitedClient(nil, 5*time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != -1 {
		t.Fatalf("server sent a Content-Length; the test needs a chunked body")
	}
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, errBodyTooLarge) || len(b) > MaxResponseBytes {
		t.Fatalf("read %d bytes, err %v; want at most %d and errBodyTooLarge", len(b), err, MaxResponseBytes)
	}
}

func TestRedirectToPlainHTTPIsRefused(t *testing.T) {
	c := limitedClient(nil, time.Second)
	req, _ := http.NewRequest(http.MethodGet, "http://idp.example/jwks", nil)
	if err := c.CheckRedirect(req, nil); err == nil {
		t.Error("redirect to plain http to a remote host was allowed")
	}
	req, _ = http.NewRequest(http.MethodGet, "https://idp.example/jwks", nil)
	if err := c.CheckRedirect(req, nil); err != nil {
		t.Errorf("redirect to https: %v", err)
	}
}
