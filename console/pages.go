package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/record"
)

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"limit": func(n int64) string {
		if n == 0 {
			return "∞"
		}
		return strconv.FormatInt(n, 10)
	},
	"join": strings.Join,
	"usd": func(micros int64) string {
		if micros == 0 {
			return "∞"
		}
		return dollars(micros)
	},
	// usdLimit shows a tenant's budget, exact decimal dollars.
	"usdLimit": func(n json.Number) string {
		if m, err := pricing.ParseUSD(n.String()); err != nil || m == 0 {
			return "∞"
		}
		return "$" + n.String()
	},
	"orDash": func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	},
}

// view is what every page template gets.
type view struct {
	Title  string
	Nav    string // the current page, for aria-current
	CSRF   string
	Admin  *record.Key
	Error  string
	Notice string
	Data   any
}

// page wraps an HTML page: without a valid session (or bearer key) it
// redirects to sign-in; a state-changing form needs the CSRF field.
func (c *Console) page(h func(http.ResponseWriter, *http.Request, *admin) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := c.authenticate(r)
		if errors.Is(err, errUnauthorized) {
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		if err == nil && stateChanging(r.Method) {
			err = checkCSRF(r, a)
		}
		if err == nil {
			err = h(w, r, a)
		}
		if err != nil {
			status, msg := statusOf(err)
			if status == http.StatusInternalServerError {
				c.Logger.ErrorContext(r.Context(), "console: page failed", "path", r.URL.Path, "error", err)
			}
			c.render(w, status, "error", view{Title: "Error", Error: msg, Admin: adminKey(a), CSRF: csrfOf(a)})
		}
	}
}

func adminKey(a *admin) *record.Key {
	if a == nil {
		return nil
	}
	return a.key
}

func csrfOf(a *admin) string {
	if a == nil || a.session == nil {
		return ""
	}
	return a.session.csrf
}

func (c *Console) render(w http.ResponseWriter, status int, name string, v view) {
	var buf bytes.Buffer
	if err := c.pages.ExecuteTemplate(&buf, name, v); err != nil {
		c.Logger.Error("console: render", "page", name, "error", err)
		http.Error(w, "console: internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	if _, err := c.authenticate(r); err == nil {
		http.Redirect(w, r, "/console/keys", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, "signin", view{Title: "Sign in"})
}

// signIn takes the admin key from the form. A wrong key, a key that is
// not an admin's and a malformed one get the same answer.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	key, err := c.verifyAdminKey(r.Context(), strings.TrimSpace(r.PostFormValue("key")))
	if err != nil {
		status := http.StatusUnauthorized
		if !errors.Is(err, errUnauthorized) && !errors.Is(err, errForbidden) {
			c.Logger.ErrorContext(r.Context(), "console: sign-in failed", "error", err)
			status = http.StatusInternalServerError
		} else {
			c.Logger.InfoContext(r.Context(), "console: sign-in refused")
		}
		c.render(w, status, "signin", view{Title: "Sign in", Error: "Sign-in failed: that is not an active admin key."})
		return
	}
	c.startSession(w, r, key)
	http.Redirect(w, r, "/console/keys", http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, a *admin) error {
	c.endSession(w, r, a)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
	return nil
}

type keysData struct {
	Keys   []KeyView
	Issued any // the one-time secret just created or rotated
}

type issuedSecret struct {
	What   string
	ID     string
	Name   string
	Secret string
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, a *admin) error {
	return c.renderKeys(w, r, a, http.StatusOK, nil, "")
}

func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, a *admin, status int, issued *issuedSecret, formErr string) error {
	views, err := c.keyViews(r.Context(), "")
	if err != nil {
		return err
	}
	d := keysData{Keys: views}
	if issued != nil {
		d.Issued = issued
	}
	c.render(w, status, "keys", view{Title: "Keys", Nav: "keys", CSRF: csrfOf(a), Admin: a.key, Error: formErr, Data: d})
	return nil
}

// createKeyForm creates a key from the page's form and shows its secret,
// once, on the page it answers with (no redirect: the secret is never in
// a URL or stored for a later request).
func (c *Console) createKeyForm(w http.ResponseWriter, r *http.Request, a *admin) error {
	spec, err := specFromForm(r, c.Now())
	if err == nil {
		var issued *keys.Issued
		if issued, err = c.create(r.Context(), a, spec); err == nil {
			return c.renderKeys(w, r, a, http.StatusCreated, &issuedSecret{What: "created", ID: issued.Key.ID, Name: issued.Key.Name, Secret: issued.Secret}, "")
		}
	}
	if status, msg := statusOf(err); status == http.StatusBadRequest {
		return c.renderKeys(w, r, a, status, nil, msg)
	}
	return err
}

func specFromForm(r *http.Request, now time.Time) (keys.Spec, error) {
	s := keys.Spec{Name: strings.TrimSpace(r.PostFormValue("name")), Tenant: strings.TrimSpace(r.PostFormValue("tenant"))}
	for _, m := range strings.Split(r.PostFormValue("models"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			s.Models = append(s.Models, m)
		}
	}
	for name, v := range map[string]*int64{"rpm": &s.Limits.RPM, "tpm": &s.Limits.TPM,
		"tokens_per_day": &s.Limits.TokensPerDay, "tokens_per_month": &s.Limits.TokensPerMonth} {
		raw := strings.TrimSpace(r.PostFormValue(name))
		if raw == "" {
			continue
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			return s, badRequest("%s: %q is not a number of 0 or more", name, raw)
		}
		*v = n
	}
	for name, v := range map[string]*int64{"usd_per_day": &s.Limits.USDPerDay, "usd_per_month": &s.Limits.USDPerMonth} {
		raw := strings.TrimSpace(r.PostFormValue(name))
		if raw == "" {
			continue
		}
		// Exactly as `aigate keys create --usd-per-day`: to the
		// micro-dollar, finer refused, never through a float.
		m, err := pricing.ParseUSD(raw)
		if err != nil {
			return s, badRequest("%s: %v", name, err)
		}
		*v = int64(m)
	}
	if v := strings.TrimSpace(r.PostFormValue("expires")); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return s, badRequest("expires: %q is not a date", v)
		}
		s.ExpiresAt = t
	}
	if r.PostFormValue("admin") == "on" {
		s.Role = record.RoleAdmin
	}
	return s, s.Validate(now)
}

type keyData struct {
	Key     KeyView
	History []record.AuditEvent
}

func (c *Console) keyPage(w http.ResponseWriter, r *http.Request, a *admin) error {
	k, err := c.Store.GetKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	history, err := c.Store.KeyHistory(r.Context(), k.ID)
	if err != nil {
		return err
	}
	last, err := c.lastUsed(r.Context())
	if err != nil {
		return err
	}
	c.render(w, http.StatusOK, "key", view{Title: "Key " + k.Name, Nav: "keys", CSRF: csrfOf(a), Admin: a.key,
		Data: keyData{Key: viewOf(k, c.Now(), last[record.KeyPrincipalID(k.ID)]), History: history}})
	return nil
}

// revokePage asks for confirmation: revoking cannot be undone.
func (c *Console) revokePage(w http.ResponseWriter, r *http.Request, a *admin) error {
	k, err := c.Store.GetKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	c.render(w, http.StatusOK, "revoke", view{Title: "Revoke key", Nav: "keys", CSRF: csrfOf(a), Admin: a.key,
		Data: viewOf(k, c.Now(), time.Time{})})
	return nil
}

func (c *Console) revokeForm(w http.ResponseWriter, r *http.Request, a *admin) error {
	if _, err := c.revoke(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/keys", http.StatusSeeOther)
	return nil
}

func (c *Console) rotateForm(w http.ResponseWriter, r *http.Request, a *admin) error {
	grace, err := parseGrace(strings.TrimSpace(r.PostFormValue("grace")))
	if err != nil {
		return err
	}
	issued, err := c.rotate(r.Context(), a, r.PathValue("id"), grace)
	if err != nil {
		return err
	}
	return c.renderKeys(w, r, a, http.StatusOK, &issuedSecret{What: "rotated", ID: issued.Key.ID, Name: issued.Key.Name, Secret: issued.Secret}, "")
}

type usageData struct {
	Filter   UsageFilter
	Report   *UsageReport
	Requests template.HTML
	Tokens   template.HTML
	Cost     template.HTML
	Keys     []KeyView
	Grouped  map[string]bool
	FromText string
	ToText   string
}

func (c *Console) usagePage(w http.ResponseWriter, r *http.Request, a *admin) error {
	f, err := parseUsageFilter(r.URL.Query(), c.Now())
	if err != nil {
		return err
	}
	rep, err := c.usage(r.Context(), f)
	if err != nil {
		return err
	}
	views, err := c.keyViews(r.Context(), "")
	if err != nil {
		return err
	}
	d := usageData{Filter: f, Report: rep, Keys: views, Grouped: map[string]bool{},
		FromText: f.From.Format("2006-01-02T15:04"), ToText: f.To.Format("2006-01-02T15:04"),
		Requests: barChart("Requests per "+rep.Step, rep.Series, func(p UsagePoint) int64 { return p.Requests }, count, rep.Step),
		Tokens:   barChart("Tokens per "+rep.Step, rep.Series, func(p UsagePoint) int64 { return p.Tokens }, count, rep.Step),
		Cost:     barChart("Cost per "+rep.Step+" (USD)", rep.Series, func(p UsagePoint) int64 { return p.costMicros }, dollars, rep.Step),
	}
	for _, g := range f.GroupBy {
		d.Grouped[g] = true
	}
	c.render(w, http.StatusOK, "usage", view{Title: "Usage", Nav: "usage", CSRF: csrfOf(a), Admin: a.key, Data: d})
	return nil
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, a *admin) error {
	evs, err := c.audit(r.Context(), r.URL.Query().Get("key"))
	if err != nil {
		return err
	}
	c.render(w, http.StatusOK, "audit", view{Title: "Audit", Nav: "audit", CSRF: csrfOf(a), Admin: a.key, Data: evs})
	return nil
}
