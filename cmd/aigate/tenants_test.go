package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/server"

	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/sqlite"
)

func TestKeysUSDBudgetsAreShownAndKeptByRotation(t *testing.T) {
	c := newCLI(t)
	out := c.ok("keys", "create", "--json", "--name", "svc", "--usd-per-day", "5", "--usd-per-month", "100.50")
	var k struct {
		ID     string        `json:"id"`
		Limits record.Limits `json:"limits"`
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.Limits.USDPerDay != 5_000_000 || k.Limits.USDPerMonth != 100_500_000 {
		t.Fatalf("created %s (%v), want $5 and $100.50 as micro-dollars", out, err)
	}
	if show := c.ok("keys", "show", k.ID); !strings.Contains(show, "$5.00/day, $100.50/month") {
		t.Errorf("keys show does not print the USD budgets:\n%s", show)
	}
	var rotated struct {
		Limits record.Limits `json:"limits"`
	}
	if err := json.Unmarshal([]byte(c.ok("keys", "rotate", k.ID, "--json")), &rotated); err != nil || rotated.Limits != k.Limits {
		t.Errorf("rotated limits %+v (%v), want %+v kept", rotated.Limits, err, k.Limits)
	}
	for _, bad := range [][]string{
		{"--usd-per-day", "0.0000001"}, {"--usd-per-day", "-1"}, {"--usd-per-month", "ten"}, {"--usd-per-day", "1e3"},
	} {
		args := append([]string{"keys", "create", "--name", "bad"}, bad...)
		if _, errs, code := c.run("", args...); code != 2 || !strings.Contains(errs, bad[0][1:]) {
			t.Errorf("%v: exit %d (%s), want 2 naming %s", bad, code, errs, bad[0])
		}
	}
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(c.ok("keys", "list", "--json")), &list); err != nil || len(list) != 1 {
		t.Errorf("keys after the bad creates: %d, %v; want the one good key", len(list), err)
	}
}

type tenantJSON struct {
	Name         string `json:"name"`
	USDPerDay    string `json:"-"` // a JSON number, read as its text
	USDPerMonth  string `json:"-"`
	TokensPerDay int64  `json:"tokens_per_day"`
	RPM          int64  `json:"rpm"`
	Version      int64  `json:"version"`
	Keys         []string
	History      []struct {
		Action, Actor, Detail string
	}
}

func (c *cli) tenant(name string) tenantJSON {
	c.t.Helper()
	var out struct {
		tenantJSON
		Keys    []string `json:"keys"`
		History []struct {
			Action string `json:"action"`
			Actor  string `json:"actor"`
			Detail string `json:"detail"`
		} `json:"history"`
	}
	// usd_* are JSON numbers; read them as their text.
	raw := c.ok("tenants", "show", name, "--json")
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		c.t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		c.t.Fatalf("%s: %v", raw, err)
	}
	t := out.tenantJSON
	t.USDPerDay, t.USDPerMonth = fmt.Sprint(m["usd_per_day"]), fmt.Sprint(m["usd_per_month"])
	t.Keys = out.Keys
	for _, h := range out.History {
		t.History = append(t.History, struct{ Action, Actor, Detail string }{h.Action, h.Actor, h.Detail})
	}
	return t
}

func TestTenantsSetListShow(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("tenants", "set", "acme", "--usd-per-day", "50", "--tokens-per-day", "1000000"); !strings.Contains(out, "created") {
		t.Errorf("first set: %q", out)
	}
	if out := c.ok("tenants", "set", "acme", "--rpm", "60", "--usd-per-month", "999.99"); !strings.Contains(out, "updated") {
		t.Errorf("second set: %q", out)
	}
	k := c.create("--name", "a", "--tenant", "acme")
	got := c.tenant("acme")
	if got.USDPerDay != "50.00" || got.USDPerMonth != "999.99" || got.TokensPerDay != 1_000_000 || got.RPM != 60 || got.Version != 2 {
		t.Errorf("tenant = %+v, want the first set's limits kept and the second's added", got)
	}
	if len(got.Keys) != 1 || got.Keys[0] != k.ID {
		t.Errorf("keys = %v, want [%s]", got.Keys, k.ID)
	}
	if len(got.History) != 2 || got.History[0].Action != "created" || got.History[1].Action != "updated" ||
		got.History[1].Actor != "aigate tenants set" || !strings.Contains(got.History[1].Detail, "rpm=60") ||
		!strings.Contains(got.History[0].Detail, "usd_micros_per_day=50000000") {
		t.Errorf("history = %+v", got.History)
	}
	c.ok("tenants", "set", "beta")
	var list []map[string]any
	if err := json.Unmarshal([]byte(c.ok("tenants", "list", "--json")), &list); err != nil || len(list) != 2 || list[0]["name"] != "acme" || list[1]["name"] != "beta" {
		t.Errorf("tenants list --json = %v, %v", list, err)
	}
	if table := c.ok("tenants", "list"); !strings.Contains(table, "$50.00") || !strings.Contains(table, "beta") {
		t.Errorf("tenants list:\n%s", table)
	}
}

func TestTenantsBadInputExitsTwoAndChangesNothing(t *testing.T) {
	c := newCLI(t)
	c.ok("tenants", "set", "acme", "--usd-per-day", "5")
	for _, args := range [][]string{
		{"tenants"},
		{"tenants", "rename", "acme"},
		{"tenants", "set"},
		{"tenants", "set", "acme", "beta"},
		{"tenants", "set", "bad:name"},
		{"tenants", "set", "acme", "--usd-per-day", "1.2345678"},
		{"tenants", "set", "acme", "--usd-per-day", "abc"},
		{"tenants", "set", "acme", "--usd-per-month", "-3"},
		{"tenants", "set", "acme", "--rpm", "-1"},
		{"tenants", "set", "acme", "--rpm", "1.5"},
		{"tenants", "set", "acme", "--tokens-per-day", "many"},
		{"tenants", "set", "acme", "--bogus", "1"},
		{"tenants", "show"},
		{"tenants", "show", "nobody"},
		{"tenants", "list", "extra"},
	} {
		if _, errs, code := c.run("", args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errs)
		}
	}
	if got := c.tenant("acme"); got.Version != 1 || got.USDPerDay != "5.00" || len(got.History) != 1 {
		t.Errorf("acme after bad input = %+v, want it unchanged", got)
	}
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(c.ok("tenants", "list", "--json")), &list); err != nil || len(list) != 1 {
		t.Errorf("tenants = %d, %v; want acme only", len(list), err)
	}
}

// settleSpend records a priced request in the data directory's ledger.
func (c *cli) settleSpend(principal, tenant, model string, u quota.TokenUsage, price pricing.Price, at time.Time) {
	c.t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(c.data, "aigate.db"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer st.Close()
	l := &quota.Limiter{Ledger: st, Now: func() time.Time { return at }}
	id := fmt.Sprintf("r%d%s", time.Now().UnixNano(), model)
	r, _, err := l.Reserve(context.Background(), quota.Request{ID: id, PrincipalID: principal, Tenant: tenant, Model: model,
		Tokens: 100_000, Price: price, Unpriced: price == (pricing.Price{})})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := l.SettleUsage(context.Background(), r, u); err != nil {
		c.t.Fatal(err)
	}
}

func TestUsageByGroupsSumsTokensAndCost(t *testing.T) {
	c := newCLI(t)
	c.ok("keys", "list") // creates the data directory
	sonnet := pricing.Price{Input: 3_000_000, Output: 15_000_000, CachedInput: 300_000, CacheWrite: 3_750_000}
	mini := pricing.Price{Input: 150_000, Output: 600_000, CachedInput: 75_000, CacheWrite: 150_000}
	day1 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	// $0.021 (the worked Anthropic example), twice; $0.00036 + 2 × $0.0000… ; and one unpriced.
	c.settleSpend("key:a", "acme", "claude-sonnet-4", quota.TokenUsage{Prompt: 13_000, Completion: 500, Cached: 10_000, CacheWrite: 2_000}, sonnet, day1)
	c.settleSpend("key:b", "acme", "claude-sonnet-4", quota.TokenUsage{Prompt: 13_000, Completion: 500, Cached: 10_000, CacheWrite: 2_000}, sonnet, day2)
	c.settleSpend("key:b", "acme", "gpt-4o-mini", quota.TokenUsage{Prompt: 2_000, Completion: 100}, mini, day2) // $0.0003 + $0.00006
	c.settleSpend("jwt:https://idp#sub", "", "echo", quota.TokenUsage{Prompt: 5, Completion: 5}, pricing.Price{}, day2)

	groups := func(by string, extra ...string) []map[string]any {
		t.Helper()
		dec := json.NewDecoder(strings.NewReader(c.ok(append([]string{"usage", "--json", "--by", by}, extra...)...)))
		dec.UseNumber()
		var out []map[string]any
		if err := dec.Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	tenants := groups("tenant")
	if len(tenants) != 2 || tenants[0]["tenant"] != "" || tenants[1]["tenant"] != "acme" {
		t.Fatalf("--by tenant = %v", tenants)
	}
	acme := tenants[1]
	for field, want := range map[string]string{
		"requests": "3", "input_tokens": "28000", "output_tokens": "1100", "cached_tokens": "20000",
		"cache_write_tokens": "4000", "cost_usd": "0.04236", "unpriced_requests": "0",
	} {
		if got := fmt.Sprint(acme[field]); got != want {
			t.Errorf("acme %s = %s, want %s", field, got, want)
		}
	}
	if _, ok := acme["model"]; ok {
		t.Errorf("a tenant row names a model: %v", acme)
	}
	if fmt.Sprint(tenants[0]["unpriced_requests"]) != "1" || fmt.Sprint(tenants[0]["cost_usd"]) != "0.00" {
		t.Errorf("no-tenant row = %v, want the unpriced request at $0", tenants[0])
	}
	models := groups("model")
	if len(models) != 3 || models[0]["model"] != "claude-sonnet-4" || fmt.Sprint(models[0]["cost_usd"]) != "0.042" {
		t.Errorf("--by model = %v", models)
	}
	days := groups("day")
	if len(days) != 2 || days[0]["day"] != "2026-03-01" || fmt.Sprint(days[0]["cost_usd"]) != "0.021" || fmt.Sprint(days[1]["requests"]) != "3" {
		t.Errorf("--by day = %v", days)
	}
	keys := groups("key", "--since", day2.Format(time.RFC3339))
	if len(keys) != 2 || keys[1]["key_id"] != "b" || keys[1]["principal_id"] != "key:b" || fmt.Sprint(keys[1]["cost_usd"]) != "0.02136" ||
		keys[0]["principal_id"] != "jwt:https://idp#sub" || keys[0]["key_id"] != "sub" {
		t.Errorf("--by key --since day 2 = %v", keys)
	}
	table := c.ok("usage", "--by", "tenant")
	if !strings.Contains(table, "COST USD") || !strings.Contains(table, "0.04236") || !strings.Contains(table, "acme") {
		t.Errorf("--by tenant table:\n%s", table)
	}
	for _, args := range [][]string{
		{"usage", "--by", "user"}, {"usage", "--by", ""}, {"usage", "--by", "tenant", "--since", "soon"}, {"usage", "--by"},
	} {
		if _, errs, code := c.run("", args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errs)
		}
	}
}

func TestServeConfigPricingIsCheckedAtStart(t *testing.T) {
	good := `pricing:
  - model: "gpt-4o*"
    input: 2.50
    output: 10
    cachedInput: 1.25
  - model: "claude-sonnet-4*"
    input: "3"
    output: 15
    cachedInput: 0.30
    cacheWrite: 3.75
    effective: 2026-01-01
`
	cfg, err := server.ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	es, err := cfg.Pricing.Entries()
	if err != nil || len(es) != 2 || es[0].Price.Input != 2_500_000 || es[1].Price.CacheWrite != 3_750_000 ||
		!es[1].Effective.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("entries = %+v, %v", es, err)
	}
	c := newCLI(t)
	for bad, field := range map[string]string{
		"pricing:\n  - model: m\n    input: 1\n    output: 1\n  - model: n\n    input: 1\n    output: 2\n    cachedInput: 0.0000001\n": "pricing[1].cachedInput",
		"pricing:\n  - model: m\n    output: 1\n":                            "pricing[0].input",
		"pricing:\n  - model: m\n    input: [1]\n    output: 1\n":            "input",
		"pricing:\n  - model: m\n    input: 1\n    output: 1\n    cost: 3\n": "cost",
	} {
		path := filepath.Join(t.TempDir(), "aigate.yaml")
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, errs, code := c.run("", "serve", "--config", path, "--addr", "127.0.0.1:0"); code != 2 || !strings.Contains(errs, field) {
			t.Errorf("serve with %q: exit %d (%s), want 2 naming %s", bad, code, errs, field)
		}
	}
}
