// Package devissuer is a local development identity provider: it keeps one
// ES256 signing key in a data directory, issues tokens for aigate's claim
// names, and serves discovery and a JWKS so that other tools can trust it.
// It is for development and tests; it must never be the issuer of a
// production deployment (anyone who can read its key file can mint tokens).
package devissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/aigate/aigate/internal/secretfile"
	"github.com/aigate/aigate/jwtauth"
)

// KeyFile is the name of the signing key in the data directory: a PKCS#8
// PEM private key, mode 0600.
const KeyFile = "devissuer-es256.pem"

// DefaultAudience is the audience of tokens issued without one, and the one
// Config accepts.
const DefaultAudience = "aigate"

// DefaultTTL is the lifetime of tokens issued without one.
const DefaultTTL = time.Hour

// Claim names of issued tokens, as Config maps them.
const (
	ClaimTenant = "tenant"
	ClaimModels = "models"
	ClaimPlan   = "plan"
)

// Issuer signs development tokens. Safe for concurrent use.
type Issuer struct {
	url    string
	kid    string
	signer jose.Signer
	jwks   []byte
}

// Claims describe a token to issue.
type Claims struct {
	Subject  string        // required: the principal id
	Name     string        // optional display name
	Tenant   string        // optional
	Models   []string      // model patterns (IAM wildcards); empty: none
	Plan     string        // optional: a plan of jwtauth.Config.Plans
	TTL      time.Duration // zero: DefaultTTL
	Audience string        // empty: DefaultAudience
}

// LoadOrCreate returns the issuer whose key lives in dir, creating dir
// (0700) and the key (0600) the first time. issuerURL is the "iss" of its
// tokens and the base of its discovery document, e.g.
// "http://127.0.0.1:8080/dev-issuer". A key file readable by others is
// refused rather than used.
func LoadOrCreate(dir, issuerURL string) (*Issuer, error) {
	if issuerURL == "" {
		return nil, errors.New("devissuer: empty issuer URL")
	}
	issuerURL = strings.TrimSuffix(issuerURL, "/")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	path := filepath.Join(dir, KeyFile)
	key, err := loadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
	}
	if err != nil {
		return nil, err
	}
	return newIssuer(key, issuerURL)
}

func loadKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := secretfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("devissuer: %s is not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("devissuer: %s is not a P-256 key", path)
	}
	return ec, nil
}

// createKey publishes a new key (secretfile.Create), so that two processes
// starting at once agree on one key and none ever reads a half-written file.
func createKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	err = secretfile.Create(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if errors.Is(err, fs.ErrExist) {
		return loadKey(path) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("devissuer: write key: %w", err)
	}
	return key, nil
}

func newIssuer(key *ecdsa.PrivateKey, issuerURL string) (*Issuer, error) {
	pub := jose.JSONWebKey{Key: key.Public(), Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	return &Issuer{url: issuerURL, kid: pub.KeyID, signer: signer, jwks: jwks}, nil
}

// URL is the issuer identifier ("iss").
func (i *Issuer) URL() string { return i.url }

// KeyID is the "kid" of the signing key (its RFC 7638 thumbprint).
func (i *Issuer) KeyID() string { return i.kid }

// Issue signs a token for c.
func (i *Issuer) Issue(c Claims) (string, error) {
	if c.Subject == "" {
		return "", errors.New("devissuer: subject is required")
	}
	if c.TTL < 0 {
		return "", errors.New("devissuer: negative ttl")
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	now := time.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	claims := map[string]any{
		"iss": i.url,
		"sub": c.Subject,
		"aud": c.Audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(c.TTL).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti),
	}
	if c.Name != "" {
		claims["name"] = c.Name
	}
	if c.Tenant != "" {
		claims[ClaimTenant] = c.Tenant
	}
	if len(c.Models) > 0 {
		claims[ClaimModels] = c.Models
	}
	if c.Plan != "" {
		claims[ClaimPlan] = c.Plan
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	obj, err := i.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("devissuer: sign: %w", err)
	}
	return obj.CompactSerialize()
}

// JWKS is the issuer's JSON Web Key Set (its public key).
func (i *Issuer) JWKS() []byte { return append([]byte(nil), i.jwks...) }

// Config returns the jwtauth configuration that trusts this issuer through
// its static JWKS, without a network call: audience DefaultAudience, ES256,
// and the claims Issue writes ("sub", "name", "tenant", "models", "plan").
func (i *Issuer) Config() jwtauth.IssuerConfig {
	return jwtauth.IssuerConfig{
		Issuer:     i.url,
		StaticJWKS: string(i.jwks),
		Audiences:  []string{DefaultAudience},
		Algorithms: []string{string(jose.ES256)},
		Claims: jwtauth.ClaimMapping{
			PrincipalID: "sub",
			Name:        "name",
			Tenant:      ClaimTenant,
			Models:      ClaimModels,
			Plan:        ClaimPlan,
		},
	}
}

// Handler serves the discovery document at any path ending in
// "/.well-known/openid-configuration" and the JWKS at any path ending in
// "/.well-known/jwks.json", so it works mounted under the issuer URL's path.
func (i *Issuer) Handler() http.Handler {
	discovery, _ := json.Marshal(map[string]any{
		"issuer":                                i.url,
		"jwks_uri":                              i.url + "/.well-known/jwks.json",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{string(jose.ES256)},
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var body []byte
		switch {
		case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
			body = discovery
		case strings.HasSuffix(r.URL.Path, "/.well-known/jwks.json"):
			body = i.jwks
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}
