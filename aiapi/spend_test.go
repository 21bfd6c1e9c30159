package aiapi_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// JWT principals whose tenant claim names a tenant share its budget with
// each other (and with its keys): the authorizer context's tenant decides.
func TestJWTPrincipalsShareTheirTenantsUSDBudget(t *testing.T) {
	st := openStore(t)
	now := time.Now()
	if err := st.PutTenant(t.Context(), &store.Tenant{Name: "acme", Limits: record.Limits{USDPerDay: 300_000}, CreatedAt: now, UpdatedAt: now, Version: 1},
		store.TenantEvent{Action: "created", At: now}); err != nil {
		t.Fatal(err)
	}
	cfg := aiapi.DefaultConfig()
	cfg.Ledger, cfg.Tenants = st, st
	cfg.Pricing = pricing.NewTable([]pricing.Entry{{Model: "echo", Price: pricing.Price{Input: 100_000_000, Output: 100_000_000}}})
	srv := newServer(t, cfg)
	body := `{"model":"echo","max_tokens":10,"messages":[{"role":"user","content":"` + strings.Repeat("spend ", 300) + `"}]}`
	answered := map[string]int{}
	refusal := ""
	for i := 0; i < 20 && refusal == ""; i++ {
		for _, sub := range []string{"jwt:https://idp#alice", "jwt:https://idp#bob"} {
			rec := serve(srv, caller(authz.CtxPrincipalID, sub, authz.CtxTenant, "acme"), http.MethodPost, "/v1/chat/completions", body)
			if rec.Code == http.StatusTooManyRequests {
				refusal = rec.Body.String()
				break
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", sub, rec.Code, rec.Body)
			}
			answered[sub]++
		}
	}
	if len(answered) != 2 || !strings.Contains(refusal, "tenant acme") {
		t.Fatalf("answered %v, refusal %q; want both principals answered, then acme's budget named", answered, refusal)
	}
	es, err := st.Usage(t.Context(), quota.Query{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range es {
		total += e.CostMicros
	}
	if total == 0 || total > 300_000 {
		t.Errorf("acme's principals spent $%s of $0.30", pricing.Micros(total))
	}
}

func TestUnpricedRequestsAreCountedInAMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := aiapi.DefaultConfig()
	cfg.Metrics = reg
	srv := newServer(t, cfg)
	for range 2 {
		if rec := serve(srv, caller(), http.MethodPost, "/v1/chat/completions", chatBody); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "aigate_aiapi_unpriced_requests_total" {
		t.Fatalf("metrics: %v, %v", mfs, err)
	}
	if v := mfs[0].GetMetric()[0].GetCounter().GetValue(); v != 2 {
		t.Errorf("unpriced requests counted %v, want 2", v)
	}
}
