package console

import (
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/store"
)

//go:embed assets
var assets embed.FS

// Console is the admin console and API. Its exported fields are its whole
// configuration; build it with New.
type Console struct {
	// Store holds the keys, the tenants, their audit history and the usage
	// ledger, whose rows carry their cost.
	Store store.Store
	// Hasher verifies admin keys and hashes the keys the console creates:
	// the gateway's own, so that both accept the same keys.
	Hasher *apikey.Hasher
	// Logger receives one line per admin action and per refused sign-in,
	// with key ids only, never a credential. Nil: slog.Default().
	Logger *slog.Logger
	// SessionTTL is how long a sign-in lasts. Zero: 8 hours.
	SessionTTL time.Duration
	// Now is the clock. Nil: time.Now.
	Now func() time.Time

	sessions *sessions
	pages    *template.Template
	mux      *http.ServeMux
}

// Tenant is a tenant as the console shows it: the store's record, with
// its limits, or a name only keys carry (Stored false, no limits). The
// field names are those of `aigate tenants list --json`; dollars are
// exact decimals, never floats. Zero limits are unlimited.
type Tenant struct {
	Name           string      `json:"name"`
	Stored         bool        `json:"stored"`
	USDPerDay      json.Number `json:"usd_per_day"`
	USDPerMonth    json.Number `json:"usd_per_month"`
	TokensPerDay   int64       `json:"tokens_per_day"`
	TokensPerMonth int64       `json:"tokens_per_month"`
	RPM            int64       `json:"rpm"`
	TPM            int64       `json:"tpm"`
	Keys           int         `json:"keys"`
	ActiveKeys     int         `json:"active_keys"`
	CreatedAt      time.Time   `json:"created_at,omitzero"`
	UpdatedAt      time.Time   `json:"updated_at,omitzero"`
	Version        int64       `json:"version,omitempty"`
}

// New checks c's configuration and builds its routes.
func New(c *Console) (*Console, error) {
	if c.Store == nil || c.Hasher == nil {
		return nil, errors.New("console: a store and a hasher are required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 8 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.sessions = newSessions()
	var err error
	if c.pages, err = template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html"); err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", staticFiles(static)))
	m.HandleFunc("GET /console/{$}", c.home)
	m.HandleFunc("GET /console/signin", c.signInPage)
	m.HandleFunc("POST /console/signin", c.signIn)
	m.HandleFunc("POST /console/signout", c.page(c.signOut))
	m.HandleFunc("GET /console/keys", c.page(c.keysPage))
	m.HandleFunc("POST /console/keys", c.page(c.createKeyForm))
	m.HandleFunc("GET /console/keys/{id}", c.page(c.keyPage))
	m.HandleFunc("GET /console/keys/{id}/revoke", c.page(c.revokePage))
	m.HandleFunc("POST /console/keys/{id}/revoke", c.page(c.revokeForm))
	m.HandleFunc("POST /console/keys/{id}/rotate", c.page(c.rotateForm))
	m.HandleFunc("GET /console/usage", c.page(c.usagePage))
	m.HandleFunc("GET /console/tenants", c.page(c.tenantsPage))
	m.HandleFunc("POST /console/tenants", c.page(c.setTenantForm))
	m.HandleFunc("GET /console/audit", c.page(c.auditPage))

	m.HandleFunc("GET /console/api/keys", c.api(c.apiListKeys))
	m.HandleFunc("POST /console/api/keys", c.api(c.apiCreateKey))
	m.HandleFunc("GET /console/api/keys/{id}", c.api(c.apiShowKey))
	m.HandleFunc("POST /console/api/keys/{id}/rotate", c.api(c.apiRotateKey))
	m.HandleFunc("POST /console/api/keys/{id}/revoke", c.api(c.apiRevokeKey))
	m.HandleFunc("GET /console/api/tenants", c.api(c.apiTenants))
	m.HandleFunc("GET /console/api/tenants/{name}", c.api(c.apiShowTenant))
	m.HandleFunc("POST /console/api/tenants/{name}", c.api(c.apiSetTenant))
	m.HandleFunc("GET /console/api/usage", c.api(c.apiUsage))
	m.HandleFunc("GET /console/api/audit", c.api(c.apiAudit))
	m.HandleFunc("POST /console/api/session", c.apiSignIn)
	m.HandleFunc("DELETE /console/api/session", c.api(c.apiSignOut))
	m.HandleFunc("/console/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	c.mux = m
	return c, nil
}

// ServeHTTP serves everything under /console/, with the security headers
// every answer carries.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Everything the console loads is its own: no inline script or style,
	// no other origin, no framing, no plugins.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: under no-referrer Chromium sends
	// "Origin: null" on form posts, which checkCSRF must refuse.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

func staticFiles(root fs.FS) http.Handler {
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "console.js", "console.css":
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
