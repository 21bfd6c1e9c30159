package authz_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/record"
)

// countingStore is an in-memory KeyStore that counts reads, so tests can
// prove which credentials never reach the store.
type countingStore struct {
	mu      sync.Mutex
	keys    map[string]*record.Key
	reads   atomic.Int64
	updates []record.AuditEvent
	fail    error
}

func newCountingStore() *countingStore { return &countingStore{keys: map[string]*record.Key{}} }

func (s *countingStore) GetKey(_ context.Context, id string) (*record.Key, error) {
	s.reads.Add(1)
	if s.fail != nil {
		return nil, s.fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return nil, record.ErrNotFound
	}
	c := *k
	return &c, nil
}

func (s *countingStore) UpdateKey(_ context.Context, k *record.Key, ev record.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.keys[k.ID]
	if !ok {
		return record.ErrNotFound
	}
	if old.Version != k.Version-1 {
		return record.ErrConflict
	}
	c := *k
	s.keys[k.ID] = &c
	s.updates = append(s.updates, ev)
	return nil
}

type fixture struct {
	store  *countingStore
	hasher *apikey.Hasher
	now    time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	hk, err := apikey.NewHashKey()
	if err != nil {
		t.Fatal(err)
	}
	h, err := apikey.NewHasher(hk)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: newCountingStore(), hasher: h, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

// addKey stores a key and returns its full secret form.
func (f *fixture) addKey(t testing.TB, mutate func(*record.Key)) string {
	t.Helper()
	full, k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	key := &record.Key{
		ID: k.ID, Name: "test", Tenant: "acme", Models: []string{"gpt-4o*", "echo"},
		Limits: record.Limits{RPM: 60, TPM: 1000, TokensPerDay: 10000, TokensPerMonth: 100000},
		Status: record.StatusActive, SecretHash: f.hasher.Hash(k), CreatedAt: f.now, UpdatedAt: f.now, Version: 1,
	}
	if mutate != nil {
		mutate(key)
	}
	f.store.keys[key.ID] = key
	return full
}

func (f *fixture) authorizer(t testing.TB, cfg authz.Config) *authz.Authorizer {
	t.Helper()
	cfg.Keys = f.store
	cfg.Hasher = f.hasher
	cfg.Now = func() time.Time { return f.now }
	a, err := authz.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDecideAPIKeyOutcomes(t *testing.T) {
	f := newFixture(t)
	valid := f.addKey(t, nil)
	revoked := f.addKey(t, func(k *record.Key) { k.Status = record.StatusRevoked })
	expired := f.addKey(t, func(k *record.Key) { k.ExpiresAt = f.now.Add(-time.Second) })
	noModels := f.addKey(t, func(k *record.Key) { k.Models = nil })
	wrongSecret := func() string {
		other, k, _ := apikey.Generate()
		_ = other
		k.ID = strings.Split(strings.TrimPrefix(valid, apikey.Prefix), "_")[0]
		return k.String()
	}()
	unknown, _, _ := apikey.Generate()
	a := f.authorizer(t, authz.Config{})

	tests := []struct {
		name       string
		credential string
		want       authz.Outcome
	}{
		{"valid key is allowed", valid, authz.Allow},
		{"revoked key is unauthorized", revoked, authz.Unauthorized},
		{"expired key is unauthorized", expired, authz.Unauthorized},
		{"key without models is denied", noModels, authz.Deny},
		{"wrong secret for a real id is unauthorized", wrongSecret, authz.Unauthorized},
		{"unknown key is unauthorized", unknown, authz.Unauthorized},
		{"empty credential is unauthorized", "", authz.Unauthorized},
		{"garbage is unauthorized", "hello", authz.Unauthorized},
		{"mistyped key is unauthorized", valid[:len(valid)-1] + flip(valid[len(valid)-1]), authz.Unauthorized},
		{"jwt without a verifier is unauthorized", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", authz.Unauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := a.Decide(context.Background(), tt.credential)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if d.Outcome != tt.want {
				t.Fatalf("outcome = %v (%s), want %v", d.Outcome, d.Reason, tt.want)
			}
			if d.Outcome == authz.Unauthorized && d.Principal != nil {
				t.Fatal("unauthorized decision carries a principal")
			}
			if strings.Contains(d.Reason, tt.credential) && tt.credential != "" {
				t.Fatal("reason contains the credential")
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestMalformedKeysNeverReachTheStore(t *testing.T) {
	f := newFixture(t)
	valid := f.addKey(t, nil)
	a := f.authorizer(t, authz.Config{})
	bad := []string{
		"aig_", "aig_x", valid[:len(valid)-1], valid + "A", strings.ToUpper(valid),
		valid[:10] + "!" + valid[11:], "aig_" + strings.Repeat("a", 51),
	}
	for i := 4; i < len(valid); i++ { // every single-character typo
		bad = append(bad, valid[:i]+flip(valid[i])+valid[i+1:])
	}
	for _, cred := range bad {
		if cred == valid {
			continue
		}
		d, err := a.Decide(context.Background(), cred)
		if err != nil || d.Outcome != authz.Unauthorized {
			t.Fatalf("Decide(malformed) = %v, %v", d.Outcome, err)
		}
	}
	if n := f.store.reads.Load(); n != 0 {
		t.Fatalf("malformed keys caused %d store reads, want 0", n)
	}
}

func TestStoreOutageFailsClosed(t *testing.T) {
	f := newFixture(t)
	valid := f.addKey(t, nil)
	f.store.fail = errors.New("connection refused")
	a := f.authorizer(t, authz.Config{})
	d, err := a.Decide(context.Background(), valid)
	if err == nil {
		t.Fatalf("Decide with a failing store = %v, want an error", d.Outcome)
	}
	if d.Outcome == authz.Allow {
		t.Fatal("store outage produced an Allow")
	}
	if strings.Contains(err.Error(), valid) {
		t.Fatal("error contains the key")
	}
}

func TestUnknownStatusFailsClosed(t *testing.T) {
	f := newFixture(t)
	k := f.addKey(t, func(k *record.Key) { k.Status = "suspended" })
	_, err := f.authorizer(t, authz.Config{}).Decide(context.Background(), k)
	if err == nil {
		t.Fatal("a corrupt status must be an error (500), not a decision")
	}
}

func TestExpiredKeyIsRecordedOnce(t *testing.T) {
	f := newFixture(t)
	k := f.addKey(t, func(k *record.Key) { k.ExpiresAt = f.now.Add(-time.Minute) })
	a := f.authorizer(t, authz.Config{Actor: "test"})
	for range 3 {
		if d, err := a.Decide(context.Background(), k); err != nil || d.Outcome != authz.Unauthorized {
			t.Fatalf("Decide = %v, %v", d.Outcome, err)
		}
	}
	if len(f.store.updates) != 1 || f.store.updates[0].Action != record.ActionExpired || f.store.updates[0].Actor != "test" {
		t.Fatalf("audit = %+v, want one expired event", f.store.updates)
	}
}

// During a rotation's grace both secrets are allowed, each with the
// fingerprint of its own hash in the context (so that the AI API can stop
// the old one when the grace ends, whatever API Gateway cached), whether
// the key comes from the store or from the authorizer's cache.
func TestRotationGracePeriod(t *testing.T) {
	for _, ttl := range []time.Duration{0, 2 * time.Hour} {
		t.Run(fmt.Sprintf("cache %s", ttl), func(t *testing.T) {
			f := newFixture(t)
			old := f.addKey(t, nil)
			parsed, _ := apikey.Parse(old)
			newSecret, err := apikey.GenerateSecretFor(parsed.ID)
			if err != nil {
				t.Fatal(err)
			}
			key := f.store.keys[parsed.ID]
			key.PreviousSecretHash = key.SecretHash
			key.PreviousExpiresAt = f.now.Add(time.Hour)
			key.SecretHash = f.hasher.Hash(newSecret)
			a := f.authorizer(t, authz.Config{CacheTTL: ttl})
			check := func(cred string, want authz.Outcome, wantHash []byte) {
				t.Helper()
				d, err := a.Decide(context.Background(), cred)
				if err != nil || d.Outcome != want {
					t.Fatalf("Decide = %v, %v; want %v", d.Outcome, err, want)
				}
				if want != authz.Allow {
					return
				}
				fp := record.SecretFingerprint(wantHash)
				if got := d.Context[authz.CtxSecretFingerprint]; got != fp || len(fp) != 16 {
					t.Fatalf("context fingerprint = %v, want %q", got, fp)
				}
			}
			check(newSecret.String(), authz.Allow, key.SecretHash)
			check(old, authz.Allow, key.PreviousSecretHash)
			check(newSecret.String(), authz.Allow, key.SecretHash)
			f.now = f.now.Add(time.Hour)
			check(old, authz.Unauthorized, nil)
			check(newSecret.String(), authz.Allow, key.SecretHash)
		})
	}
}

// A key's principal id names its kind: a JWT subject equal to the key id
// is another principal.
func TestKeyPrincipalIDCarriesItsKind(t *testing.T) {
	f := newFixture(t)
	k := f.addKey(t, nil)
	parsed, _ := apikey.Parse(k)
	d, err := f.authorizer(t, authz.Config{}).Decide(context.Background(), k)
	if err != nil || d.Outcome != authz.Allow {
		t.Fatalf("Decide = %v, %v", d.Outcome, err)
	}
	want := "key:" + parsed.ID
	if d.Principal.ID != want || d.Context[authz.CtxPrincipalID] != want {
		t.Fatalf("principal id = %q, context %v; want %q", d.Principal.ID, d.Context[authz.CtxPrincipalID], want)
	}
	if id, ok := record.KeyIDOf(d.Principal.ID); !ok || id != parsed.ID {
		t.Fatalf("KeyIDOf(%q) = %q, %v", d.Principal.ID, id, ok)
	}
	if _, ok := record.KeyIDOf(record.JWTPrincipalID("https://idp", parsed.ID)); ok {
		t.Fatal("a JWT principal id read as a key's")
	}
}

func TestAllowScopeAndContext(t *testing.T) {
	f := newFixture(t)
	k := f.addKey(t, nil)
	a := f.authorizer(t, authz.Config{Routes: []string{"*/v1/*", "POST/model/{model}/invoke"}})
	d, err := a.Decide(context.Background(), k)
	if err != nil || d.Outcome != authz.Allow {
		t.Fatalf("Decide = %v, %v", d.Outcome, err)
	}
	want := []string{"*/v1/*", "POST/model/gpt-4o*/invoke", "POST/model/echo/invoke"}
	if strings.Join(d.Scope, " ") != strings.Join(want, " ") {
		t.Fatalf("scope = %q, want %q", d.Scope, want)
	}
	for key, v := range d.Context {
		switch v.(type) {
		case string, int64, bool:
		default:
			t.Fatalf("context[%s] = %T, want a scalar", key, v)
		}
	}
	if d.Context[authz.CtxModels] != `["gpt-4o*","echo"]` || d.Context[authz.CtxRPM] != int64(60) || d.Context[authz.CtxTenant] != "acme" {
		t.Fatalf("context = %v", d.Context)
	}
}

func TestKeyCacheAvoidsStoreReadsUntilTTL(t *testing.T) {
	f := newFixture(t)
	k := f.addKey(t, nil)
	a := f.authorizer(t, authz.Config{CacheTTL: time.Second})
	for range 5 {
		if _, err := a.Decide(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.store.reads.Load(); n != 1 {
		t.Fatalf("reads = %d, want 1 within the TTL", n)
	}
	f.now = f.now.Add(time.Second)
	if _, err := a.Decide(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if n := f.store.reads.Load(); n != 2 {
		t.Fatalf("reads = %d, want 2 after the TTL", n)
	}
}

type stubVerifier struct {
	p   *record.Principal
	err error
}

func (s stubVerifier) VerifyToken(context.Context, string) (*record.Principal, error) {
	return s.p, s.err
}

func TestJWTDecisions(t *testing.T) {
	f := newFixture(t)
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
	tests := []struct {
		name    string
		v       stubVerifier
		want    authz.Outcome
		wantErr bool
	}{
		{"verified token is allowed", stubVerifier{p: &record.Principal{ID: "alice", Kind: record.KindJWT, Models: []string{"*"}}}, authz.Allow, false},
		{"invalid token is unauthorized", stubVerifier{err: authz.ErrInvalidCredential}, authz.Unauthorized, false},
		{"issuer outage fails closed", stubVerifier{err: errors.New("jwks unreachable")}, authz.Unauthorized, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.authorizer(t, authz.Config{Tokens: tt.v})
			d, err := a.Decide(context.Background(), jwt)
			if (err != nil) != tt.wantErr || d.Outcome != tt.want {
				t.Fatalf("Decide = %v, %v", d.Outcome, err)
			}
		})
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for s, want := range map[string]bool{
		"a.b.c": true, "a.b.": false, ".b.c": false, "a..c": false, "a.b.c.d": false, "abc": false, "aig_x": false,
	} {
		if got := authz.LooksLikeJWT(s); got != want {
			t.Errorf("LooksLikeJWT(%q) = %v, want %v", s, got, want)
		}
	}
}

func BenchmarkAuthorizeAPIKey(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Hour}, {"uncached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b)
			k := f.addKey(b, nil)
			a := f.authorizer(b, authz.Config{CacheTTL: bc.ttl})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				d, err := a.Decide(ctx, k)
				if err != nil || d.Outcome != authz.Allow {
					b.Fatal(d.Outcome, err)
				}
			}
		})
	}
}
