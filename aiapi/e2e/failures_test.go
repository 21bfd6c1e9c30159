package e2e_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/builtin"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// upstream is an OpenAI-compatible server on 127.0.0.1 whose answer each
// test chooses; it records the bodies it got.
type upstream struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	paths  []string
}

func newUpstream(t testing.TB, answer http.HandlerFunc) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.bodies = append(u.bodies, string(b))
		u.paths = append(u.paths, r.URL.Path)
		u.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) lastBody() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.bodies) == 0 {
		return ""
	}
	return u.bodies[len(u.bodies)-1]
}

func (u *upstream) lastPath() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.paths) == 0 {
		return ""
	}
	return u.paths[len(u.paths)-1]
}

// withUpstream routes model "up" to an openai provider at u, as upstream
// model "up-internal", with key env var set.
func withUpstream(t *testing.T, u *upstream, timeout time.Duration) aiapi.Config {
	t.Setenv("TEST_UPSTREAM_KEY", "sk-upstream-secret")
	cfg := aiapi.DefaultConfig()
	cfg.Providers["up"] = aiapi.ProviderConfig{Type: aiapi.ProviderOpenAI, BaseURL: u.URL + "/v1", APIKeyEnv: "TEST_UPSTREAM_KEY", Timeout: duration.Duration(timeout)}
	cfg.Models = append(cfg.Models, aiapi.ModelRoute{Name: "up", Provider: "up", UpstreamModel: "up-internal"})
	return cfg
}

func TestUpstreamFailuresBecome502Or504AndReleaseTheReservation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer http.HandlerFunc
		status int
		code   string
		stream bool
	}{
		{"5xx", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":{"message":"backend http://10.1.2.3:8000 is down, key sk-upstream-secret"}}`, http.StatusInternalServerError)
		}, http.StatusBadGateway, "upstream_error", false},
		{"5xx when streaming", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		}, http.StatusBadGateway, "upstream_error", true},
		{"rejected key", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":{"message":"Incorrect API key provided: sk-upstream-secret"}}`, http.StatusUnauthorized)
		}, http.StatusBadGateway, "upstream_error", false},
		{"malformed answer", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `<html>proxy error</html>`)
		}, http.StatusBadGateway, "upstream_error", false},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, http.StatusGatewayTimeout, "upstream_timeout", false},
		{"timeout when streaming", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, http.StatusGatewayTimeout, "upstream_timeout", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, tc.answer)
			s := newStack(t, withUpstream(t, u, 200*time.Millisecond))
			id, secret := s.key(t, keys.Spec{Limits: record.Limits{TokensPerDay: 100_000}})
			c := s.client(secret)
			var err error
			if tc.stream {
				st := c.Chat.Completions.NewStreaming(t.Context(), chatParams("up", "hi"))
				for st.Next() {
				}
				err = st.Err()
			} else {
				_, err = c.Chat.Completions.New(t.Context(), chatParams("up", "hi"))
			}
			e := asAPIError(t, err, tc.status)
			if e.Code != tc.code {
				t.Errorf("error = %s, want code %s", e.RawJSON(), tc.code)
			}
			for _, leak := range []string{u.URL, "127.0.0.1", "10.1.2.3", "sk-upstream-secret", "up-internal"} {
				if strings.Contains(e.RawJSON(), leak) {
					t.Errorf("the error %s shows %q", e.RawJSON(), leak)
				}
			}
			if n := s.pending(t); n != 0 {
				t.Errorf("%d reservations still pending: not released", n)
			}
			if es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}); len(es) != 0 {
				t.Errorf("ledger = %+v, want nothing for a failed call", es)
			}
			// The whole budget is back: a request reserving nearly all of it
			// fits.
			params := chatParams("echo", "hi")
			params.MaxTokens = openai.Int(99_900)
			if _, err := c.Chat.Completions.New(t.Context(), params); err != nil {
				t.Errorf("after the failure the budget is not whole: %v", err)
			}
		})
	}
}

// An upstream's 400 is the caller's mistake: passed on as a 400, with the
// upstream's model id and address replaced.
func TestUpstreamRejectionIsABadRequestInTheCallersTerms(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"temperature 7 is out of range for up-internal","type":"invalid_request_error"}}`)
	})
	s := newStack(t, withUpstream(t, u, 0))
	_, secret := s.key(t, keys.Spec{})
	c := s.client(secret)
	_, err := c.Chat.Completions.New(t.Context(), chatParams("up", "hi"), option.WithJSONSet("temperature", 7))
	e := asAPIError(t, err, http.StatusBadRequest)
	if e.Message != "temperature 7 is out of range for up" {
		t.Errorf("message = %q", e.Message)
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}

// A body that cannot be settled is not answered: every 200 is in the ledger.
func TestAnAnswerThatCannotBeSettledIsNotGiven(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig())
	cfg := aiapi.DefaultConfig()
	cfg.Ledger, cfg.Logger = failingSettle{s.Store}, slog.New(slog.DiscardHandler)
	cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
	srv, err := aiapi.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := aiapi.WithAuthorizerContext(context.Background(), map[string]string{
		authz.CtxPrincipalID: "p", authz.CtxKind: "jwt", authz.CtxModels: `["*"]`,
	})
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/chat/completions",
		strings.NewReader(`{"model":"echo","messages":[{"role":"user","content":"hi"}]}`))
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "chat.completion") {
		t.Errorf("answer = %d %s, want a 500 without the completion", rec.Code, rec.Body)
	}
}

type failingSettle struct{ quota.Ledger }

func (failingSettle) Settle(context.Context, quota.Settlement) (quota.Entry, error) {
	return quota.Entry{}, errors.New("disk full")
}

// A caller that hangs up mid-stream is charged what was produced, and its
// reservation does not linger.
func TestCanceledStreamIsSettledToWhatWasProduced(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig())
	id, secret := s.key(t, keys.Spec{})
	c := s.client(secret)
	words := strings.Repeat("word ", 200)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st := c.Chat.Completions.NewStreaming(ctx, chatParams("echo", words), option.WithJSONSet("delay_ms", 20))
	got := 0
	for st.Next() {
		if st.Current().Choices[0].Delta.Content != "" {
			got++
		}
		if got == 3 {
			cancel()
			break
		}
	}
	st.Close()
	var es []quota.Entry
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if es = s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}); len(es) > 0 {
			break
		}
	}
	if len(es) != 1 {
		t.Fatalf("ledger = %+v, want the canceled stream settled", es)
	}
	if e := es[0]; e.CompletionTokens < 3 || e.CompletionTokens >= 200 || e.PromptTokens != 250 {
		t.Errorf("settled %+v, want the 250 prompt tokens and the words produced (3 or a few more)", e)
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}

// A process killed mid-request leaves its reservation pending; the next
// server releases it at start once it has expired, and keeps doing so.
func TestServerReleasesExpiredReservationsAtStartAndPeriodically(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig())
	now := time.Now()
	l := quota.Limiter{Ledger: s.Store, TTL: time.Minute, Now: func() time.Time { return now.Add(-2 * time.Minute) }}
	if _, _, err := l.Reserve(context.Background(), quota.Request{ID: "dead-1", PrincipalID: "p", Tokens: 500}); err != nil {
		t.Fatal(err)
	}
	l.Now = func() time.Time { return now }
	l.TTL = 300 * time.Millisecond
	if _, _, err := l.Reserve(context.Background(), quota.Request{ID: "dead-2", PrincipalID: "p", Tokens: 500}); err != nil {
		t.Fatal(err)
	}
	released := make(chan int, 100)
	cfg := aiapi.DefaultConfig()
	cfg.Ledger, cfg.ExpireInterval = countingExpiry{s.Store, released}, duration.Duration(20*time.Millisecond)
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
	srv, err := aiapi.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// At start: the one long expired. Then, once it expires, the other.
	total := <-released
	if total < 1 {
		t.Fatalf("the sweep at start released %d reservations, want the expired one", total)
	}
	for timeout := time.After(10 * time.Second); total < 2; {
		select {
		case n := <-released:
			total += n
		case <-timeout:
			t.Fatal("the second reservation was never released")
		}
	}
	if total != 2 {
		t.Errorf("%d reservations released, want 2", total)
	}
}

// countingExpiry reports what each ExpireReservations released.
type countingExpiry struct {
	quota.Ledger
	released chan<- int
}

func (c countingExpiry) ExpireReservations(ctx context.Context, now time.Time) (int, error) {
	n, err := c.Ledger.ExpireReservations(ctx, now)
	if err == nil {
		c.released <- n
	}
	return n, err
}

// Retrieving a response is an upstream call like any other: bounded by its
// provider's own timeout (504 past it), not only by upstreamTimeout.
func TestResponseLookupIsBoundedByItsProvidersTimeout(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
			io.WriteString(w, `{"id":"resp_123","object":"response","status":"completed","model":"up-internal","output":[]}`)
		}
	})
	cfg := withUpstream(t, u, 200*time.Millisecond)
	cfg.ResponsesLookup = "up"
	s := newStack(t, cfg)
	_, secret := s.key(t, keys.Spec{})
	c := s.client(secret)
	_, err := c.Responses.Get(t.Context(), "resp_123", responses.ResponseGetParams{})
	e := asAPIError(t, err, http.StatusGatewayTimeout)
	if e.Code != "upstream_timeout" {
		t.Errorf("error = %s, want code upstream_timeout", e.RawJSON())
	}
	if got := u.lastPath(); got != "/v1/responses/resp_123" {
		t.Errorf("upstream path %q", got)
	}
}
