package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// benchGateway is the default config's shape: ANY /v1/{proxy+} behind a
// cached REQUEST authorizer, MOCK integration answering the authorizer's
// output, with JSON logging (to io.Discard) and metrics on, as `aigate
// serve` runs it.
func benchGateway(b *testing.B) *Gateway {
	b.Helper()
	g, err := New(context.Background(), DefaultConfig(), Options{
		Functions: map[string]Invoker{"aigate-authorizer": &testAuthorizer{}},
		Logger:    slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics:   prometheus.NewRegistry(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	return g
}

// BenchmarkGatewayMockWarmCache measures the gateway's overhead over real
// loopback HTTP (client and server in this process, on this machine's
// cores): a MOCK integration and a warm authorizer cache, so every request
// goes through routing, the identity-source check, the cache, policy
// evaluation, the MOCK template, the log line and the metrics.
func BenchmarkGatewayMockWarmCache(b *testing.B) {
	for _, concurrency := range []int{1, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			loadTest(b, benchGateway(b), concurrency)
		})
	}
}

// BenchmarkGatewayBaselineBareHandler is the ceiling for the benchmark
// above on the same machine: the same load against a handler that writes a
// fixed answer of the same size, so that only net/http (server and client)
// is measured. On a shared machine, read the gateway's numbers against it.
func BenchmarkGatewayBaselineBareHandler(b *testing.B) {
	body := []byte(`{"beta":"true","integrationLatency":0,"principalId":"user-1","rpm":"60","tenant":"acme"}`)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["X-Amzn-Requestid"] = []string{"0b6c9a4e-2f3d-4e5a-9b1c-7d8e9f0a1b2c"}
		w.Write(body)
	})
	for _, concurrency := range []int{1, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			loadTest(b, bare, concurrency)
		})
	}
}

// loadTest sends b.N authorized POSTs to h over loopback HTTP from
// concurrency clients and reports p50/p99 latency and requests per second.
func loadTest(b *testing.B, h http.Handler, concurrency int) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: concurrency, DisableCompression: true,
	}}
	defer client.CloseIdleConnections()
	newRequest := func() *http.Request {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", nil)
		req.Header.Set("Authorization", "Bearer allow-bench")
		return req
	}
	send := func(req *http.Request) error {
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	// Warm the cache and the connections.
	for range concurrency {
		if err := send(newRequest()); err != nil {
			b.Fatal(err)
		}
	}
	latencies := make([][]time.Duration, concurrency)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := newRequest()
			lat := make([]time.Duration, 0, b.N/concurrency+1)
			for next.Add(1) <= int64(b.N) { // bounded by b.N
				t0 := time.Now()
				if err := send(req); err != nil {
					b.Error(err)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			latencies[w] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(latencies...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(all[len(all)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
}

// BenchmarkServeHTTPWarmCache is the same request without the network: the
// gateway's own cost, for profiling the hot path.
func BenchmarkServeHTTPWarmCache(b *testing.B) {
	g := benchGateway(b)
	req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	req.Header.Set("Authorization", "Bearer allow-bench")
	g.ServeHTTP(httptest.NewRecorder(), req)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
