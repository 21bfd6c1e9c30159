package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/sqlite"
)

// settle records usage of an API key in the data directory's ledger, as the
// AI API does.
func (c *cli) settle(key, tenant, model string, prompt, completion int64, at time.Time) {
	c.t.Helper()
	c.settlePrincipal(record.KeyPrincipalID(key), tenant, model, prompt, completion, at)
}

// settlePrincipal records usage of any principal.
func (c *cli) settlePrincipal(principal, tenant, model string, prompt, completion int64, at time.Time) {
	c.t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(c.data, "aigate.db"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer st.Close()
	l := &quota.Limiter{Ledger: st, Now: func() time.Time { return at }}
	id := strings.ToLower(time.Now().Format("150405.000000000")) + model
	r, _, err := l.Reserve(context.Background(), quota.Request{ID: id, PrincipalID: principal, Tenant: tenant, Model: model, Tokens: 1000})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := l.Settle(context.Background(), r, prompt, completion); err != nil {
		c.t.Fatal(err)
	}
}

func TestUsageReportsPerKeyAndModel(t *testing.T) {
	c := newCLI(t)
	a := c.create("--name", "a", "--tenant", "acme")
	b := c.create("--name", "b", "--tenant", "globex")
	now := time.Now()
	c.settle(a.ID, "acme", "echo", 10, 5, now.Add(-2*time.Hour))
	c.settle(a.ID, "acme", "echo", 1, 2, now.Add(-time.Minute))
	c.settle(a.ID, "acme", "gpt-4o", 100, 50, now.Add(-48*time.Hour))
	c.settle(b.ID, "globex", "echo", 7, 7, now.Add(-time.Minute))

	rows := func(args ...string) []usageRow {
		t.Helper()
		var out []usageRow
		if err := json.Unmarshal([]byte(c.ok(append([]string{"usage", "--json"}, args...)...)), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := rows()
	if len(all) != 3 {
		t.Fatalf("rows = %+v", all)
	}
	for _, r := range all {
		if r.KeyID == a.ID && r.Model == "echo" && (r.Requests != 2 || r.PromptTokens != 11 || r.CompletionTokens != 7 || r.TotalTokens != 18 || r.Tenant != "acme") {
			t.Errorf("key a, echo: %+v", r)
		}
	}
	if got := rows("--key", b.ID); len(got) != 1 || got[0].TotalTokens != 14 {
		t.Errorf("--key: %+v", got)
	}
	if got := rows("--tenant", "acme"); len(got) != 2 {
		t.Errorf("--tenant: %+v", got)
	}
	if got := rows("--since", "24h"); len(got) != 2 {
		t.Errorf("--since 24h: %+v", got)
	}
	if got := rows("--since", now.Add(-90*time.Minute).Format(time.RFC3339), "--key", a.ID); len(got) != 1 || got[0].Requests != 1 {
		t.Errorf("--since RFC 3339: %+v", got)
	}
	if got := rows("--tenant", "initech"); len(got) != 0 {
		t.Errorf("no usage: %+v", got)
	}
	table := c.ok("usage", "--key", a.ID)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	// The total line ends with the tokens, then the cost (none priced here).
	if len(lines) != 4 || !strings.Contains(lines[0], "COMPLETION") || !strings.HasPrefix(strings.TrimSpace(lines[3]), "total") ||
		!strings.HasSuffix(strings.TrimSpace(lines[3]), "168      0.00") {
		t.Errorf("table:\n%s", table)
	}
}

// A JWT whose subject is a key's id is another principal: --key reports the
// key only, and the JSON rows say which kind each is.
func TestUsageTellsAKeyFromAJWTSubjectWithItsID(t *testing.T) {
	c := newCLI(t)
	k := c.create("--name", "k")
	now := time.Now()
	c.settle(k.ID, "", "echo", 10, 5, now.Add(-time.Minute))
	jwt := record.JWTPrincipalID("http://127.0.0.1:8080/dev-issuer", k.ID)
	c.settlePrincipal(jwt, "", "echo", 1000, 1000, now.Add(-time.Minute))
	rows := func(args ...string) []usageRow {
		t.Helper()
		var out []usageRow
		if err := json.Unmarshal([]byte(c.ok(append([]string{"usage", "--json"}, args...)...)), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := rows("--key", k.ID); len(got) != 1 || got[0].TotalTokens != 15 || got[0].Kind != record.KindAPIKey ||
		got[0].KeyID != k.ID || got[0].PrincipalID != "key:"+k.ID {
		t.Errorf("--key %s: %+v, want the key's 15 tokens only", k.ID, got)
	}
	if got := rows("--principal", jwt); len(got) != 1 || got[0].TotalTokens != 2000 || got[0].Kind != record.KindJWT ||
		got[0].Issuer != "http://127.0.0.1:8080/dev-issuer" || got[0].KeyID != k.ID {
		t.Errorf("--principal %s: %+v", jwt, got)
	}
	if got := rows(); len(got) != 2 {
		t.Errorf("all: %+v, want two rows", got)
	}
	table := c.ok("usage")
	if !strings.Contains(table, jwt) || !strings.Contains(table, "2015") {
		t.Errorf("table does not show the JWT principal by its id:\n%s", table)
	}
}

func TestUsageBadInputExitsTwo(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"usage", "--since", "yesterday"},
		{"usage", "--since", "-5h"},
		{"usage", "extra"},
		{"usage", "--bogus"},
		{"usage", "--key", "k", "--principal", "key:k"},
	} {
		_, errs, code := c.run("", args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if args[1] == "--since" || args[1] == "extra" {
			if n := strings.Count(strings.TrimSpace(errs), "\n"); n != 0 {
				t.Errorf("%v: %d lines of error, want one: %s", args, n+1, errs)
			}
		}
	}
}
