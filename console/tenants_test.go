package console

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

func (f *fixture) adminHeader() http.Header {
	return http.Header{"Authorization": {"Bearer " + f.admin.Secret}}
}

func (f *fixture) tenantHistory(name string) []store.TenantEvent {
	f.t.Helper()
	h, err := f.console.Store.TenantHistory(f.t.Context(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func TestSettingATenantsLimitsStoresThemExactlyAndAuditsTheAdmin(t *testing.T) {
	f := newFixture(t, false)
	set := func(body string) (int, string) {
		return f.do(f.srv.Client(), endpoint{"POST", "/console/api/tenants/acme", body, 200}, f.adminHeader())
	}
	if got, body := set(`{"usd_per_day":"12.50","usd_per_month":300.000001,"tokens_per_day":1000,"rpm":60}`); got != 200 {
		t.Fatalf("set: %d %s", got, body)
	}
	// Only the fields given change; the others keep their value.
	got, body := set(`{"rpm":0}`)
	if got != 200 {
		t.Fatalf("second set: %d %s", got, body)
	}
	var d TenantDetail
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if !d.Stored || d.USDPerDay != "12.50" || d.USDPerMonth != "300.000001" || d.TokensPerDay != 1000 || d.RPM != 0 ||
		d.Version != 2 || d.Keys != 1 || len(d.KeyIDs) != 1 || d.KeyIDs[0] != f.user.Key.ID || len(d.History) != 2 {
		t.Errorf("tenant = %+v", d)
	}
	st, err := f.console.Store.GetTenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if want := (record.Limits{USDPerDay: 12_500_000, USDPerMonth: 300_000_001, TokensPerDay: 1000}); st.Limits != want {
		t.Errorf("stored limits %+v, want %+v", st.Limits, want)
	}
	actor := "console key:" + f.admin.Key.ID
	h := f.tenantHistory("acme")
	if len(h) != 2 || h[0].Action != keys.TenantCreated || h[1].Action != keys.TenantUpdated || h[0].Actor != actor || h[1].Actor != actor ||
		h[1].Detail != "rpm=0" {
		t.Errorf("history = %+v", h)
	}
	if strings.Contains(f.logs.String(), f.admin.Secret) || !strings.Contains(f.logs.String(), "console: tenant set") {
		t.Errorf("logs:\n%s", f.logs)
	}
}

func TestBadTenantLimitsAreRefusedAndChangeNothing(t *testing.T) {
	f := newFixture(t, false)
	if got, body := f.do(f.srv.Client(), endpoint{"POST", "/console/api/tenants/acme", `{"usd_per_day":"1"}`, 200}, f.adminHeader()); got != 200 {
		t.Fatalf("set: %d %s", got, body)
	}
	for _, tc := range []struct{ name, path, body string }{
		{"finer than a micro-dollar", "acme", `{"usd_per_day":"0.0000001"}`},
		{"negative dollars", "acme", `{"usd_per_month":-1}`},
		{"dollars with an exponent", "acme", `{"usd_per_day":1e3}`},
		{"dollars not a number", "acme", `{"usd_per_day":"ten"}`},
		{"negative rpm", "acme", `{"rpm":-1}`},
		{"fractional tokens", "acme", `{"tokens_per_day":1.5}`},
		{"a limit tenants set has not", "acme", `{"tpm":10}`},
		{"not JSON", "acme", `usd=1`},
		{"name with a colon", "a:b", `{"rpm":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, body := f.do(f.srv.Client(), endpoint{"POST", "/console/api/tenants/" + tc.path, tc.body, 400}, f.adminHeader())
			if got != 400 || !strings.Contains(body, `"message"`) {
				t.Errorf("status %d, want 400: %s", got, body)
			}
		})
	}
	st, err := f.console.Store.GetTenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 1 || st.Limits != (record.Limits{USDPerDay: 1_000_000}) || len(f.tenantHistory("acme")) != 1 {
		t.Errorf("after refused changes: %+v", st)
	}
	if _, err := f.console.Store.GetTenant(t.Context(), "a:b"); err == nil {
		t.Error("tenant a:b was created")
	}
}

func TestTenantsListStoredTenantsAndThoseOnlyKeysName(t *testing.T) {
	f := newFixture(t, false)
	if _, err := f.mgr.SetTenant(t.Context(), "beta", keys.TenantChange{USDPerMonth: ptr(int64(2_500_000))}); err != nil {
		t.Fatal(err)
	}
	_, body := f.do(f.srv.Client(), endpoint{"GET", "/console/api/tenants", "", 200}, f.adminHeader())
	var out struct {
		Tenants []Tenant `json:"tenants"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Tenants) != 2 {
		t.Fatalf("tenants = %+v", out.Tenants)
	}
	acme, beta := out.Tenants[0], out.Tenants[1]
	if acme.Name != "acme" || acme.Stored || acme.Keys != 1 || acme.ActiveKeys != 1 || acme.USDPerDay != "0.00" {
		t.Errorf("acme = %+v", acme)
	}
	if beta.Name != "beta" || !beta.Stored || beta.Keys != 0 || beta.USDPerMonth != "2.50" || beta.Version != 1 {
		t.Errorf("beta = %+v", beta)
	}
	if got, body := f.do(f.srv.Client(), endpoint{"GET", "/console/api/tenants/nobody", "", 404}, f.adminHeader()); got != 404 ||
		!strings.Contains(body, "no such tenant") {
		t.Errorf("unknown tenant: %d %s", got, body)
	}
}

func ptr[T any](v T) *T { return &v }

// TestTenantsFormSetsLimits drives the Tenants page's form as a browser
// would: with the session's CSRF field, and refused without it.
func TestTenantsFormSetsLimits(t *testing.T) {
	f := newFixture(t, false)
	client, csrf := f.signIn()
	post := func(v url.Values) (int, string) {
		resp, err := client.PostForm(f.srv.URL+"/console/tenants", v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	form := url.Values{"name": {"acme"}, "usd_per_day": {"7.25"}, "usd_per_month": {""}, "tokens_per_day": {""}, "rpm": {"30"}}
	if got, _ := post(form); got != 403 {
		t.Errorf("without CSRF: %d, want 403", got)
	}
	form.Set("csrf", csrf)
	if got, body := post(form); got != http.StatusSeeOther {
		t.Fatalf("with CSRF: %d %s", got, body)
	}
	form.Set("usd_per_day", "7.2500001")
	if got, body := post(form); got != 400 || !strings.Contains(body, "micro-dollar") {
		t.Errorf("too fine: %d %s", got, body)
	}
	st, err := f.console.Store.GetTenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if st.Limits != (record.Limits{USDPerDay: 7_250_000, RPM: 30}) || st.Version != 1 {
		t.Errorf("stored %+v", st)
	}
	resp, err := client.Get(f.srv.URL + "/console/tenants")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "$7.25") {
		t.Errorf("the page does not show the budget:\n%s", b)
	}
}

func TestKeyFormTakesUSDBudgetsExactly(t *testing.T) {
	f := newFixture(t, false)
	client, csrf := f.signIn()
	for _, tc := range []struct {
		day, month string
		want       int
	}{
		{"2.5", "0.000001", 201},
		{"1.0000001", "", 400},
		{"-1", "", 400},
	} {
		resp, err := client.PostForm(f.srv.URL+"/console/keys", url.Values{"csrf": {csrf}, "name": {"budgeted " + tc.day},
			"models": {"*"}, "usd_per_day": {tc.day}, "usd_per_month": {tc.month}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("usd_per_day %q: %d, want %d", tc.day, resp.StatusCode, tc.want)
		}
	}
	list, err := f.console.Store.ListKeys(t.Context(), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var found []record.Limits
	for _, k := range list {
		if strings.HasPrefix(k.Name, "budgeted") {
			found = append(found, k.Limits)
		}
	}
	if len(found) != 1 || found[0].USDPerDay != 2_500_000 || found[0].USDPerMonth != 1 {
		t.Errorf("budgeted keys' limits = %+v", found)
	}
}

func TestUsageReportsTheLedgersCostInDollars(t *testing.T) {
	f := newFixture(t, false)
	now := time.Now().UTC()
	st := f.console.Store
	price := pricing.Price{Input: 2_500_000, Output: 10_000_000}
	for i, s := range []struct {
		model    string
		cost     int64
		unpriced bool
	}{{"gpt-4o", 21_000, false}, {"gpt-4o", 1, false}, {"mystery", 0, true}} {
		r := quota.Reservation{ID: "c" + string(rune('0'+i)), PrincipalID: record.KeyPrincipalID(f.user.Key.ID), Tenant: "acme", Model: s.model,
			Tokens: 10, Windows: quota.WindowsAt(now), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if _, err := st.Reserve(t.Context(), r, record.Limits{}); err != nil {
			t.Fatal(err)
		}
		p := price
		if s.unpriced {
			p = pricing.Price{}
		}
		if _, err := st.Settle(t.Context(), quota.Settlement{Reservation: r, PromptTokens: 3, CompletionTokens: 4, At: now,
			CostMicros: s.cost, Price: p, Unpriced: s.unpriced}); err != nil {
			t.Fatal(err)
		}
	}
	_, body := f.do(f.srv.Client(), endpoint{"GET", "/console/api/usage?group_by=model", "", 200}, f.adminHeader())
	var rep struct {
		Groups []map[string]any `json:"groups"`
		Total  map[string]any   `json:"total"`
		Series []map[string]any `json:"series"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&rep); err != nil {
		t.Fatal(err)
	}
	// The same field as `aigate usage --json`, an exact decimal.
	if len(rep.Groups) != 2 || rep.Groups[0]["model"] != "gpt-4o" || rep.Groups[0]["cost_usd"] != json.Number("0.021001") ||
		rep.Groups[1]["cost_usd"] != json.Number("0.00") || rep.Groups[1]["unpriced_requests"] != json.Number("1") {
		t.Errorf("groups = %v", rep.Groups)
	}
	if rep.Total["cost_usd"] != json.Number("0.021001") || rep.Total["unpriced_requests"] != json.Number("1") {
		t.Errorf("total = %v", rep.Total)
	}
	var inSeries int64
	for _, p := range rep.Series {
		m, err := pricing.ParseUSD(string(p["cost_usd"].(json.Number)))
		if err != nil {
			t.Fatal(err)
		}
		inSeries += int64(m)
	}
	if inSeries != 21_001 {
		t.Errorf("series cost %d micro-dollars, want 21001", inSeries)
	}
	client, _ := f.signIn()
	resp, err := client.Get(f.srv.URL + "/console/usage?group_by=model")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	for _, want := range []string{`aria-label="Cost per hour (USD)"`, `$0.021001`, `Requests of models without a price, metered at $0: 1.`} {
		if !strings.Contains(page, want) {
			t.Errorf("usage page lacks %q", want)
		}
	}
}
