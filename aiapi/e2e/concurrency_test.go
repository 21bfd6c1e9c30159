package e2e_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/echo"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
)

// gate is the echo model, except that its calls wait until the test opens
// the gate: every admitted request then holds its reservation while the
// others are decided.
type gate struct {
	echo.Model
	open    chan struct{}
	entered atomic.Int64
}

func (g *gate) Chat(ctx context.Context, r *provider.ChatRequest) (*provider.Response, error) {
	g.entered.Add(1)
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Model.Chat(ctx, r)
}

// 64 callers race for a budget that fits exactly n of their reservations:
// n get an answer, the others 429, and the ledger holds exactly the n.
func TestConcurrentRequestsNeverOverspendABudget(t *testing.T) {
	const (
		callers = 64
		n       = 9
	)
	g := &gate{open: make(chan struct{})}
	cfg := aiapi.DefaultConfig()
	// "plain" has the length of "gated": requests for either have one bound.
	cfg.Models = append(cfg.Models, aiapi.ModelRoute{Name: "gated", Provider: "gate"}, aiapi.ModelRoute{Name: "plain", Provider: "echo"})
	cfg.Upstreams = map[string]provider.Provider{"gate": g}
	cfg.DefaultMaxTokens = 1000
	s := newStack(t, cfg)

	// Measure one request's bound on a key of its own.
	probeID, probe := s.key(t, keys.Spec{})
	pc := s.client(probe)
	if _, err := pc.Chat.Completions.New(t.Context(), chatParams("plain", "the same words from everyone")); err != nil {
		t.Fatal(err)
	}
	bound := s.ledger(t, quota.Query{PrincipalID: authz.KeyPrincipalID(probeID)})[0].ReservedTokens
	budget := n*bound + bound - 1 // n fit, n+1 do not
	id, secret := s.key(t, keys.Spec{Limits: authz.Limits{TokensPerDay: budget}})
	c := s.client(secret)

	type result struct {
		err error
	}
	results := make(chan result, callers)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p := chatParams("gated", "the same words from everyone")
	for range callers {
		go func() {
			_, err := c.Chat.Completions.New(ctx, p)
			results <- result{err}
		}()
	}
	var ok, denied int
	for i := range callers {
		var r result
		select {
		case r = <-results:
		case <-ctx.Done():
			t.Fatalf("after %d answers (%d denied, %d admitted): %v", i, denied, g.entered.Load(), ctx.Err())
		}
		switch {
		case r.err == nil:
			ok++
		default:
			e := asAPIError(t, r.err, http.StatusTooManyRequests)
			if e.Code != "insufficient_quota" {
				t.Errorf("denial = %s", e.RawJSON())
			}
			denied++
			// Every request not admitted has been refused: let the admitted
			// ones through.
			if denied == callers-n {
				close(g.open)
			}
		}
	}
	if ok != n || denied != callers-n {
		t.Fatalf("%d answered, %d denied; want %d and %d (bound %d, budget %d)", ok, denied, n, callers-n, bound, budget)
	}
	es := s.ledger(t, quota.Query{PrincipalID: authz.KeyPrincipalID(id)})
	var used int64
	for _, e := range es {
		used += e.PromptTokens + e.CompletionTokens
	}
	if len(es) != n || used > budget {
		t.Errorf("ledger has %d entries for %d tokens; want %d entries within %d", len(es), used, n, budget)
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}
