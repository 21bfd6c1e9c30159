package aiapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/builtin"
	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/store/sqlite"
)

const instantAnswer = `{"id":"c1","object":"chat.completion","created":1,"model":"up-internal","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`

// BenchmarkAddedLatency measures what the AI API adds to a chat completion:
// the same request sent straight to an OpenAI-compatible upstream on
// 127.0.0.1 that answers at once, and through the AI API (authorizer
// context check, key status, reservation and settlement in SQLite, usage
// parsing, logging as JSON). Each worker alternates the two, so that both
// see the same machine. It reports p50 and p99 of each and their
// difference, and for scale what a bare httputil.ReverseProxy adds.
func BenchmarkAddedLatency(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, instantAnswer)
	}))
	defer up.Close()

	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "aigate.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	hasher, _ := apikey.NewHasher([]byte(rand.Text() + rand.Text()))
	key, err := (&keys.Manager{Store: st, Hasher: hasher}).Create(context.Background(), keys.Spec{Name: "bench", Models: []string{"*"}})
	if err != nil {
		b.Fatal(err)
	}
	cfg := aiapi.DefaultConfig()
	cfg.Providers["up"] = aiapi.ProviderConfig{Type: aiapi.ProviderOpenAI, BaseURL: up.URL + "/v1"}
	cfg.Models = append(cfg.Models, aiapi.ModelRoute{Name: "up", Provider: "up", UpstreamModel: "up-internal"})
	cfg.Ledger, cfg.Keys = st, st
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
	srv, err := aiapi.New(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	caller := map[string]string{
		authz.CtxPrincipalID: key.Key.ID, authz.CtxKind: "api_key", authz.CtxModels: `["*"]`,
		authz.CtxRPM: "1000000000", authz.CtxTPM: "1000000000000", authz.CtxTokensPerDay: "1000000000000",
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r.WithContext(aiapi.WithAuthorizerContext(r.Context(), caller)))
	}))
	defer front.Close()

	// A bare reverse proxy: the floor that any proxy in the path adds.
	target, _ := url.Parse(up.URL)
	bare := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}})
	defer bare.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	post := func(url, body string) time.Duration {
		start := time.Now()
		resp, err := client.Post(url, "application/json", bytes.NewBufferString(body))
		if err != nil {
			b.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Errorf("%s: status %d", url, resp.StatusCode)
		}
		return time.Since(start)
	}
	const msg = `"messages":[{"role":"user","content":"Say hello."}],"max_tokens":64}`
	direct := func() time.Duration { return post(up.URL+"/v1/chat/completions", `{"model":"up-internal",`+msg) }
	viaAPI := func() time.Duration { return post(front.URL+"/v1/chat/completions", `{"model":"up",`+msg) }
	viaProxy := func() time.Duration { return post(bare.URL+"/v1/chat/completions", `{"model":"up-internal",`+msg) }

	for _, conc := range []int{1, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			var (
				mu               sync.Mutex
				dir, thru, proxy []time.Duration
			)
			// Warm the connection pools and the key status cache.
			for range conc {
				direct()
				viaAPI()
				viaProxy()
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			per := max(b.N/conc, 1)
			for range conc {
				wg.Go(func() {
					d, v, x := make([]time.Duration, 0, per), make([]time.Duration, 0, per), make([]time.Duration, 0, per)
					for range per {
						d = append(d, direct())
						v = append(v, viaAPI())
						x = append(x, viaProxy())
					}
					mu.Lock()
					dir, thru, proxy = append(dir, d...), append(thru, v...), append(proxy, x...)
					mu.Unlock()
				})
			}
			wg.Wait()
			b.StopTimer()
			p := func(ds []time.Duration, q float64) float64 {
				slices.Sort(ds)
				return float64(ds[int(q*float64(len(ds)-1))].Microseconds())
			}
			b.ReportMetric(p(dir, 0.5), "direct-p50-µs")
			b.ReportMetric(p(dir, 0.99), "direct-p99-µs")
			b.ReportMetric(p(thru, 0.5), "aiapi-p50-µs")
			b.ReportMetric(p(thru, 0.99), "aiapi-p99-µs")
			b.ReportMetric(p(thru, 0.5)-p(dir, 0.5), "added-p50-µs")
			b.ReportMetric(p(thru, 0.99)-p(dir, 0.99), "added-p99-µs")
			b.ReportMetric(p(proxy, 0.5)-p(dir, 0.5), "bare-proxy-added-p50-µs")
		})
	}
}

// BenchmarkServeEcho is the AI API in process, without HTTP: parsing,
// reservation, the echo model and settlement.
func BenchmarkServeEcho(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "aigate.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cfg := aiapi.DefaultConfig()
	cfg.Ledger, cfg.Logger = st, slog.New(slog.DiscardHandler)
	cfg.Registry, cfg.LookupSecret = builtin.Registry(), os.LookupEnv
	srv, err := aiapi.New(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := aiapi.WithAuthorizerContext(context.Background(), map[string]string{
		authz.CtxPrincipalID: "p", authz.CtxKind: "jwt", authz.CtxModels: `["*"]`, authz.CtxRPM: "1000000000",
	})
	body := []byte(`{"model":"echo","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":64}`)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "POST", "/v1/chat/completions", bytes.NewReader(body)))
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body)
		}
	}
}
