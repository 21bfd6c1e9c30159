package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// errNoTenant: neither a stored tenant nor a tenant any key names.
var errNoTenant = errors.New("console: no such tenant")

// usd is micro-dollars as an exact decimal number of dollars ("12.50"),
// written from the integer so that no float rounds it.
func usd(micros int64) json.Number { return json.Number(pricing.Micros(micros).String()) }

func tenantOf(t *store.Tenant) Tenant {
	l := t.Limits
	return Tenant{Name: t.Name, Stored: true, USDPerDay: usd(l.USDPerDay), USDPerMonth: usd(l.USDPerMonth),
		TokensPerDay: l.TokensPerDay, TokensPerMonth: l.TokensPerMonth, RPM: l.RPM, TPM: l.TPM,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(), Version: t.Version}
}

// tenants are the stored tenants and the tenants only keys name, by
// name, with their key counts. Keys without a tenant are no tenant.
func (c *Console) tenants(ctx context.Context) ([]Tenant, error) {
	stored, err := c.Store.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	list, err := c.Store.ListKeys(ctx, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	byName := map[string]*Tenant{}
	for _, st := range stored {
		t := tenantOf(st)
		byName[t.Name] = &t
	}
	now := c.Now()
	for _, k := range list {
		if k.Tenant == "" {
			continue
		}
		t := byName[k.Tenant]
		if t == nil {
			t = &Tenant{Name: k.Tenant, USDPerDay: usd(0), USDPerMonth: usd(0)}
			byName[k.Tenant] = t
		}
		t.Keys++
		if keys.StatusAt(k, now) == record.StatusActive {
			t.ActiveKeys++
		}
	}
	out := make([]Tenant, 0, len(byName))
	for _, t := range byName {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Tenant) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// TenantDetail is what GET /console/api/tenants/{name} answers: the
// tenant, its keys' ids and its history, oldest first (as `aigate tenants
// show --json`).
type TenantDetail struct {
	Tenant
	KeyIDs  []string            `json:"key_ids"`
	History []store.TenantEvent `json:"history"`
}

func (c *Console) tenant(ctx context.Context, name string) (*TenantDetail, error) {
	d := &TenantDetail{Tenant: Tenant{Name: name, USDPerDay: usd(0), USDPerMonth: usd(0)},
		KeyIDs: []string{}, History: []store.TenantEvent{}}
	st, err := c.Store.GetTenant(ctx, name)
	switch {
	case errors.Is(err, record.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		d.Tenant = tenantOf(st)
		history, err := c.Store.TenantHistory(ctx, name)
		if err != nil {
			return nil, err
		}
		d.History = append(d.History, history...)
	}
	list, err := c.Store.ListKeys(ctx, store.ListOptions{Tenant: name})
	if err != nil {
		return nil, err
	}
	if !d.Stored && len(list) == 0 {
		return nil, errNoTenant
	}
	now := c.Now()
	for _, k := range list {
		d.KeyIDs = append(d.KeyIDs, k.ID)
		d.Keys++
		if keys.StatusAt(k, now) == record.StatusActive {
			d.ActiveKeys++
		}
	}
	return d, nil
}

func (c *Console) apiTenants(w http.ResponseWriter, r *http.Request, a *admin) error {
	ts, err := c.tenants(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": ts})
	return nil
}

func (c *Console) apiShowTenant(w http.ResponseWriter, r *http.Request, a *admin) error {
	d, err := c.tenant(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// TenantLimitsRequest is the body of POST /console/api/tenants/{name}:
// the limits of `aigate tenants set`. An absent field keeps its value
// (unlimited for a new tenant), 0 is unlimited. Dollars are a JSON number
// or string such as 12.50, exact to the micro-dollar; finer is refused,
// never rounded.
type TenantLimitsRequest struct {
	USDPerDay    *json.Number `json:"usd_per_day,omitempty"`
	USDPerMonth  *json.Number `json:"usd_per_month,omitempty"`
	TokensPerDay *int64       `json:"tokens_per_day,omitempty"`
	RPM          *int64       `json:"rpm,omitempty"`
}

func (c *Console) apiSetTenant(w http.ResponseWriter, r *http.Request, a *admin) error {
	var req TenantLimitsRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return badRequest("body: %v", err)
	}
	var raw [2]string
	for i, v := range []*json.Number{req.USDPerDay, req.USDPerMonth} {
		if v != nil {
			raw[i] = v.String()
		}
	}
	change, err := usdChange(raw[0], raw[1])
	if err != nil {
		return err
	}
	change.TokensPerDay, change.RPM = req.TokensPerDay, req.RPM
	name := r.PathValue("name")
	if err := c.setTenant(r.Context(), a, name, change); err != nil {
		return err
	}
	d, err := c.tenant(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// usdChange parses the USD limits as `aigate tenants set` does
// (pricing.ParseUSD); an empty one is not changed.
func usdChange(day, month string) (keys.TenantChange, error) {
	var c keys.TenantChange
	for _, f := range []struct {
		name, raw string
		dst       **int64
	}{{"usd_per_day", day, &c.USDPerDay}, {"usd_per_month", month, &c.USDPerMonth}} {
		if f.raw == "" {
			continue
		}
		m, err := pricing.ParseUSD(f.raw)
		if err != nil {
			return c, badRequest("%s: %v", f.name, err)
		}
		v := int64(m)
		*f.dst = &v
	}
	return c, nil
}

// setTenant changes a tenant's limits in the admin's name: the tenant's
// history names the admin key as actor.
func (c *Console) setTenant(ctx context.Context, a *admin, name string, change keys.TenantChange) error {
	t, err := c.manager(a).SetTenant(ctx, name, change)
	if err != nil {
		return err
	}
	c.Logger.InfoContext(ctx, "console: tenant set", "admin_key_id", a.key.ID, "tenant", t.Name, "version", t.Version)
	return nil
}

func (c *Console) tenantsPage(w http.ResponseWriter, r *http.Request, a *admin) error {
	return c.renderTenants(w, r, a, http.StatusOK, "")
}

func (c *Console) renderTenants(w http.ResponseWriter, r *http.Request, a *admin, status int, formErr string) error {
	ts, err := c.tenants(r.Context())
	if err != nil {
		return err
	}
	c.render(w, status, "tenants", view{Title: "Tenants", Nav: "tenants", CSRF: csrfOf(a), Admin: a.key, Error: formErr, Data: ts})
	return nil
}

// setTenantForm sets a tenant's limits from the Tenants page's form: a
// blank field keeps its value, 0 is unlimited.
func (c *Console) setTenantForm(w http.ResponseWriter, r *http.Request, a *admin) error {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	change, err := usdChange(strings.TrimSpace(r.PostFormValue("usd_per_day")), strings.TrimSpace(r.PostFormValue("usd_per_month")))
	for _, f := range []struct {
		name string
		dst  **int64
	}{{"tokens_per_day", &change.TokensPerDay}, {"rpm", &change.RPM}} {
		raw := strings.TrimSpace(r.PostFormValue(f.name))
		if err != nil || raw == "" {
			continue
		}
		n, perr := strconv.ParseInt(raw, 10, 64)
		if perr != nil || n < 0 {
			err = badRequest("%s: %q is not a number of 0 or more", f.name, raw)
			continue
		}
		*f.dst = &n
	}
	if err == nil {
		err = c.setTenant(r.Context(), a, strings.TrimSpace(r.PostFormValue("name")), change)
	}
	if status, msg := statusOf(err); err != nil && status == http.StatusBadRequest {
		return c.renderTenants(w, r, a, status, msg)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/tenants", http.StatusSeeOther)
	return nil
}
