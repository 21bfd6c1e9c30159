package devissuer_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/devissuer"
	"github.com/aigate/aigate/record"
)

const issuerURL = "http://127.0.0.1:8080/dev"

func TestLoadOrCreateKeepsOneKeyWithMode0600(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := devissuer.LoadOrCreate(dir, issuerURL)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, devissuer.KeyFile)
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %#o, want 0600", perm)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v, %v; want mode 0700", di.Mode().Perm(), err)
	}
	before, _ := os.ReadFile(keyPath)

	second, err := devissuer.LoadOrCreate(dir, issuerURL)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(keyPath)
	if first.KeyID() != second.KeyID() || string(before) != string(after) {
		t.Error("a second LoadOrCreate made a new key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d files, want only the key", len(entries))
	}
}

func TestConcurrentStartsAgreeOnOneKey(t *testing.T) {
	dir := t.TempDir()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		kids = map[string]bool{}
	)
	for range 8 {
		wg.Go(func() {
			iss, err := devissuer.LoadOrCreate(dir, issuerURL)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			kids[iss.KeyID()] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(kids) != 1 {
		t.Errorf("%d different keys, want 1", len(kids))
	}
}

func TestKeyReadableByOthersIsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := devissuer.LoadOrCreate(dir, issuerURL); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, devissuer.KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := devissuer.LoadOrCreate(dir, issuerURL); err == nil {
		t.Fatal("LoadOrCreate accepted a world-readable key")
	}
}

func TestIssuedTokenVerifiesWithItsConfig(t *testing.T) {
	iss, err := devissuer.LoadOrCreate(t.TempDir(), issuerURL)
	if err != nil {
		t.Fatal(err)
	}
	plans := map[string]record.Limits{"free": {RPM: 5}, "pro": {RPM: 500, TPM: 50000}}
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{iss.Config()}, Plans: plans, DefaultPlan: "free",
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(devissuer.Claims{
		Subject: "alice", Name: "Alice", Tenant: "acme", Models: []string{"gpt-4o*", "echo"}, Plan: "pro", TTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.VerifyToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if time.Until(p.ExpiresAt) < 59*time.Minute || time.Until(p.ExpiresAt) > time.Hour {
		t.Errorf("ExpiresAt = %v, want an hour from now", p.ExpiresAt)
	}
	p.ExpiresAt = time.Time{}
	want := record.Principal{ID: record.JWTPrincipalID(iss.URL(), "alice"), Kind: record.KindJWT, Name: "Alice", Tenant: "acme", Models: []string{"gpt-4o*", "echo"}, Limits: plans["pro"]}
	if !reflect.DeepEqual(*p, want) {
		t.Errorf("principal = %+v, want %+v", *p, want)
	}

	// Defaults: an hour, the default audience, the default plan, no models.
	tok, err = iss.Issue(devissuer.Claims{Subject: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = v.VerifyToken(context.Background(), tok); err != nil || p.Limits != plans["free"] || len(p.Models) != 0 {
		t.Errorf("defaults: %+v, %v", p, err)
	}
	// Another audience is not accepted by Config.
	tok, err = iss.Issue(devissuer.Claims{Subject: "carol", Audience: "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = v.VerifyToken(context.Background(), tok); !errors.Is(err, authz.ErrInvalidCredential) {
		t.Errorf("foreign audience: %v", err)
	}
}

func TestIssueRefusesBadClaims(t *testing.T) {
	iss, err := devissuer.LoadOrCreate(t.TempDir(), issuerURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []devissuer.Claims{{}, {Subject: "a", TTL: -time.Second}} {
		if _, err := iss.Issue(c); err == nil {
			t.Errorf("Issue(%+v) succeeded", c)
		}
	}
}

// TestDiscoveryFromHandler points a verifier at the issuer's Handler by
// discovery, the way a separate process would trust it.
func TestDiscoveryFromHandler(t *testing.T) {
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	iss, err := devissuer.LoadOrCreate(t.TempDir(), srv.URL+"/dev")
	if err != nil {
		t.Fatal(err)
	}
	h = iss.Handler()

	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{{Issuer: iss.URL(), Audiences: []string{devissuer.DefaultAudience}, Algorithms: []string{"ES256"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(devissuer.Claims{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.VerifyToken(context.Background(), tok); err != nil || p.ID != record.JWTPrincipalID(iss.URL(), "alice") {
		t.Fatalf("VerifyToken = %+v, %v", p, err)
	}

	resp, err := http.Get(srv.URL + "/dev/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != string(iss.JWKS()) {
		t.Errorf("jwks: %d %s", resp.StatusCode, body)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != 1 || set.Keys[0]["d"] != nil {
		t.Errorf("jwks must hold exactly the public key: %s", body)
	}
	for path, code := range map[string]int{"/dev/other": 404, "/": 404} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, code)
		}
	}
	resp, err = http.Post(srv.URL+"/dev/.well-known/jwks.json", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", resp.StatusCode)
	}
}
