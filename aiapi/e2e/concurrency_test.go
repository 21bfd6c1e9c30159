package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/echo"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// gate is the echo model, except that its calls wait until the test opens
// the gate: every admitted request then holds its reservation while the
// others are decided. Chat is what chat completions reach; Forward is what
// the Responses and Messages APIs reach, echo answering them natively.
type gate struct {
	echo.Model
	open    chan struct{}
	entered atomic.Int64
}

func (g *gate) wait(ctx context.Context) error {
	g.entered.Add(1)
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) Chat(ctx context.Context, r *provider.ChatRequest) (*provider.Response, error) {
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	return g.Model.Chat(ctx, r)
}

func (g *gate) Forward(ctx context.Context, r *provider.ForwardRequest) (*provider.ForwardResponse, error) {
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	return g.Model.Forward(ctx, r)
}

// wireProtocol is one inbound API as a client speaks it on the wire: its
// path, a request body, and what its budget denial must look like.
type wireProtocol struct {
	name, path string
	body       func(model, text string) string
	// denial checks a 429's body, in the protocol's own error shape.
	denial func(body []byte) error
}

var wireProtocols = []wireProtocol{
	{
		name: "chat completions", path: "/v1/chat/completions",
		body: func(model, text string) string {
			return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%q}]}`, model, text)
		},
		denial: openAIDenial,
	},
	{
		name: "responses", path: "/v1/responses",
		body: func(model, text string) string {
			return fmt.Sprintf(`{"model":%q,"input":%q}`, model, text)
		},
		denial: openAIDenial,
	},
	{
		name: "messages", path: "/v1/messages",
		body: func(model, text string) string {
			return fmt.Sprintf(`{"model":%q,"max_tokens":1000,"messages":[{"role":"user","content":%q}]}`, model, text)
		},
		denial: func(b []byte) error {
			if gjson.GetBytes(b, "type").Str != "error" || gjson.GetBytes(b, "error.type").Str != "rate_limit_error" || gjson.GetBytes(b, "error.message").Str == "" {
				return fmt.Errorf("denial %s, want Anthropic's rate_limit_error", b)
			}
			return nil
		},
	},
}

func openAIDenial(b []byte) error {
	if gjson.GetBytes(b, "error.code").Str != "insufficient_quota" {
		return fmt.Errorf("denial %s, want insufficient_quota", b)
	}
	return nil
}

// post sends body to the stack at path with a bearer key (with
// anthropic-version, which Anthropic's clients always send) and returns the
// status, headers and body.
func (s *stack) post(ctx context.Context, secret, path, body string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// 64 callers race for a budget that fits exactly n of their reservations,
// in every protocol: n get an answer, the others 429 in the protocol's
// error shape with Retry-After, and the ledger holds exactly the n.
func TestConcurrentRequestsNeverOverspendABudget(t *testing.T) {
	const (
		callers = 64
		n       = 9
		words   = "the same words from everyone"
	)
	for _, p := range wireProtocols {
		t.Run(p.name, func(t *testing.T) {
			g := &gate{open: make(chan struct{})}
			cfg := aiapi.DefaultConfig()
			// "plain" has the length of "gated": requests for either have one bound.
			cfg.Models = append(cfg.Models, aiapi.ModelRoute{Name: "gated", Provider: "gate"}, aiapi.ModelRoute{Name: "plain", Provider: "echo"})
			cfg.Upstreams = map[string]provider.Provider{"gate": g}
			cfg.DefaultMaxTokens = 1000
			s := newStack(t, cfg)

			// Measure one request's bound on a key of its own.
			probeID, probe := s.key(t, keys.Spec{})
			if status, _, b, err := s.post(t.Context(), probe, p.path, p.body("plain", words)); err != nil || status != http.StatusOK {
				t.Fatalf("probe: %d %s %v", status, b, err)
			}
			bound := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(probeID)})[0].ReservedTokens
			budget := n*bound + bound - 1 // n fit, n+1 do not
			id, secret := s.key(t, keys.Spec{Limits: record.Limits{TokensPerDay: budget}})

			type result struct {
				status int
				header http.Header
				body   []byte
				err    error
			}
			results := make(chan result, callers)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			for range callers {
				go func() {
					var r result
					r.status, r.header, r.body, r.err = s.post(ctx, secret, p.path, p.body("gated", words))
					results <- r
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
				case r.err != nil:
					t.Fatal(r.err)
				case r.status == http.StatusOK:
					ok++
				case r.status == http.StatusTooManyRequests:
					if err := p.denial(r.body); err != nil {
						t.Error(err)
					}
					if r.header.Get("Retry-After") == "" {
						t.Errorf("denial without Retry-After: %v", r.header)
					}
					denied++
					// Every request not admitted has been refused: let the
					// admitted ones through.
					if denied == callers-n {
						close(g.open)
					}
				default:
					t.Fatalf("answer %d %s", r.status, r.body)
				}
			}
			if ok != n || denied != callers-n {
				t.Fatalf("%d answered, %d denied; want %d and %d (bound %d, budget %d)", ok, denied, n, callers-n, bound, budget)
			}
			if got := g.entered.Load(); got != n {
				t.Errorf("%d requests reached the gated model, want the %d admitted", got, n)
			}
			es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
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
		})
	}
}
