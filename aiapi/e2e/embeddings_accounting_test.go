package e2e_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/builtin"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// TestEmbeddingsAreChargedWhenTheUpstreamReportsNoUsage: an upstream that
// omits "usage" does not make embeddings free. Token arrays are counted
// exactly; texts are estimated from the body.
func TestEmbeddingsAreChargedWhenTheUpstreamReportsNoUsage(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","model":"up-internal","data":[{"object":"embedding","index":0,"embedding":[0.5]}]}`)
	})
	s := newStack(t, withUpstream(t, u, 0))
	id, key := s.key(t, keys.Spec{})
	text := `{"model":"up","input":"` + strings.Repeat("word ", 40) + `"}`
	for _, tc := range []struct {
		name, body string
		prompt     int64
	}{
		{"one token array", `{"model":"up","input":[1,2,3,4]}`, 4},
		{"several token arrays", `{"model":"up","input":[[1,2,3],[4,5]]}`, 5},
		{"text", text, int64(len(text)+3) / 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}))
			if status, body := post(t, s.URL, key, "/v1/embeddings", tc.body); status != http.StatusOK {
				t.Fatalf("%d %.300s", status, body)
			}
			es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
			if len(es) != before+1 || es[len(es)-1].PromptTokens != tc.prompt {
				t.Errorf("ledger rows %+v, want one more with %d prompt tokens", es[before:], tc.prompt)
			}
		})
	}
}

// TestACallerWhoHangsUpIsChargedThePromptOnEveryEndpoint: once a request
// has gone upstream, the upstream may have read (and billed) its prompt, so
// a caller that goes away before the answer is charged the prompt's
// estimate, on embeddings as on chat, and no reservation is left pending.
func TestACallerWhoHangsUpIsChargedThePromptOnEveryEndpoint(t *testing.T) {
	arrived := make(chan struct{}, 1)
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // answers only once the gateway gives up
	})
	s := newStack(t, aiapi.DefaultConfig())
	cfg := withUpstream(t, u, 0)
	cfg.Ledger, cfg.Keys, cfg.Logger = s.Store, s.Store, slog.New(slog.DiscardHandler)
	cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
	srv, err := aiapi.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"up","messages":[{"role":"user","content":"` + strings.Repeat("hi ", 30) + `"}]}`},
		{"/v1/embeddings", `{"model":"up","input":"` + strings.Repeat("hi ", 30) + `"}`},
		{"/v1/embeddings", `{"model":"up","input":[1,2,3,4,5,6,7,8,9,10,11,12]}`},
	} {
		principal := fmt.Sprintf("jwt:test#caller%d", i)
		ctx, cancel := context.WithCancel(aiapi.WithAuthorizerContext(t.Context(), map[string]string{
			authz.CtxPrincipalID: principal, authz.CtxKind: "jwt", authz.CtxModels: `["*"]`,
		}))
		go func() {
			<-arrived
			cancel() // the caller hangs up while the upstream works
		}()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodPost, tc.path, strings.NewReader(tc.body)))
		cancel()
		es := s.ledger(t, quota.Query{PrincipalID: principal})
		want := int64(len(tc.body)+3) / 4
		if len(es) != 1 || es[0].PromptTokens != want || es[0].CompletionTokens != 0 {
			t.Errorf("%s %s: ledger %+v, want one row charging the prompt's %d tokens", tc.path, tc.body, es, want)
		}
		if n := s.pending(t); n != 0 {
			t.Errorf("%s: %d reservations still pending", tc.path, n)
		}
	}
}
