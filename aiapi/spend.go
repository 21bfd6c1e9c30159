package aiapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// codeModelNotPriced refuses a caller with a USD budget a model without a
// price: its spend could not be counted against the budget. Callers
// without one are never refused for it (metered at $0, counted unpriced).
const codeModelNotPriced = "model_not_priced"

// TenantStore is where tenants' limits are read (store.Tenants.GetTenant).
type TenantStore interface {
	GetTenant(ctx context.Context, name string) (*store.Tenant, error)
}

// tenantCacheSize bounds the tenant cache; past it an arbitrary entry goes.
const tenantCacheSize = 10000

// tenantLimits reads tenants' limits, at most ttl stale: a change made with
// `aigate tenants set` applies within ttl, and the hot path reads the store
// once per tenant per ttl, not per request.
type tenantLimits struct {
	tenants TenantStore
	ttl     time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]tenantEntry
}

type tenantEntry struct {
	limits *record.Limits // nil: no such tenant
	loaded time.Time
}

// get returns the tenant's limits, nil when it is not defined (nothing is
// counted for it then), or an error, on which the caller fails closed.
func (t *tenantLimits) get(ctx context.Context, name string) (*record.Limits, error) {
	if t == nil || name == "" {
		return nil, nil
	}
	now := t.now()
	t.mu.Lock()
	e, ok := t.entries[name]
	t.mu.Unlock()
	if ok && now.Sub(e.loaded) < t.ttl && !now.Before(e.loaded) {
		return e.limits, nil
	}
	tn, err := t.tenants.GetTenant(ctx, name)
	switch {
	case errors.Is(err, record.ErrNotFound):
		e = tenantEntry{loaded: now}
	case err != nil:
		return nil, fmt.Errorf("aiapi: read tenant %q: %w", name, err)
	default:
		l := tn.Limits
		e = tenantEntry{limits: &l, loaded: now}
	}
	t.mu.Lock()
	if len(t.entries) >= tenantCacheSize {
		for k := range t.entries {
			delete(t.entries, k)
			break
		}
	}
	t.entries[name] = e
	t.mu.Unlock()
	return e.limits, nil
}

// price is the price of the upstream model, or else of the model the
// caller named (a route's alias), at now.
func (s *Server) price(upstream, model string) (pricing.Price, bool) {
	now := s.cfg.Now()
	if p, ok := s.cfg.Pricing.Lookup(upstream, now); ok {
		return p, true
	}
	return s.cfg.Pricing.Lookup(model, now)
}

// spend is what a request may cost, worked out before it is reserved.
type spend struct {
	price        pricing.Price
	unpriced     bool
	bound        pricing.Micros
	tenantLimits *record.Limits
}

// spendOf prices a request of at most total tokens, output of them output
// tokens, and reads its tenant's limits. It answers the caller itself (403
// model_not_priced, 400, 500) when it returns false.
func (s *Server) spendOf(w http.ResponseWriter, r *http.Request, x *exchange, total, output int64, upstream string, ew errorWriter) (spend, bool) {
	c := x.caller
	tl, err := s.tenants.get(r.Context(), c.tenant)
	if err != nil {
		x.err = err
		ew(w, http.StatusInternalServerError, typeServer, codeInternal, "", "The server could not check the tenant's limits.")
		return spend{}, false
	}
	sp := spend{tenantLimits: tl}
	price, ok := s.price(upstream, x.model)
	if !ok {
		if c.limits.HasUSD() || tl != nil && tl.HasUSD() {
			x.err = fmt.Errorf("aiapi: model %q has no price and the caller has a USD budget", x.model)
			ew(w, http.StatusForbidden, typeInvalidRequest, codeModelNotPriced, "model",
				fmt.Sprintf("The model `%s` has no price configured, and your usage is budgeted in USD: it cannot be used until it has one.", x.model))
			return spend{}, false
		}
		sp.unpriced = true
		return sp, true
	}
	sp.price = price
	if sp.bound, err = price.Bound(max(total-output, 0), output); err != nil {
		badRequest(w, badParam(fieldMaxTokens, "the request's cost bound is too large"), ew)
		return spend{}, false
	}
	return sp, true
}
