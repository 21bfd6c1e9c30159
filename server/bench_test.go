package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/server"
)

// benchCompletion is the upstream's one answer, the bench program's
// (bench/upstream.go): a 12-token completion with its usage.
const benchCompletion = `{"id":"chatcmpl-bench","object":"chat.completion","created":1767225600,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`

// benchChat is the bench program's request body.
const benchChat = `{"model":"bench-model","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":16}`

// BenchmarkServeChat is one chat completion through the server as `aigate
// serve` wires it (default APIs: the built-in authorizer, the AI API over a
// SQLite store in a temporary directory, a JSON request log line), with a
// real API key whose limits never trigger, so that the key-status check,
// the reservation and the settlement all run, to an OpenAI-compatible
// upstream on 127.0.0.1.
//
// The request is handed to Server.ServeHTTP, not sent over a socket, and
// the upstream is a bare responder that allocates nothing per request:
// allocs/op and B/op are aigate's own, from the gateway to the upstream
// call and back, plus the request value and its header map that the
// benchmark builds (net/http's server would build them too), and less
// net/http's server connection handling. `go run ./bench` reports it.
func BenchmarkServeChat(b *testing.B) {
	upstream := startBareUpstream(b, benchCompletion)
	dir := b.TempDir()
	cfg, err := server.ParseConfig(fmt.Appendf(nil, `aiapi:
  providers:
    up: {type: openai, baseUrl: %s/v1}
  models:
    - {name: bench-model, provider: up}
`, upstream))
	if err != nil {
		b.Fatal(err)
	}
	s, err := server.New(context.Background(), server.Options{
		Config: cfg, DataDir: dir, IssuerURL: issuerURL,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	hasher, err := apikey.LoadHasher(apikey.HasherConfig{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	const never = 1_000_000_000_000
	issued, err := (&keys.Manager{Store: s.Store(), Hasher: hasher, Actor: "bench"}).Create(context.Background(), keys.Spec{
		Name: "bench", Models: []string{"*"},
		Limits: record.Limits{RPM: never, TPM: never, TokensPerDay: never, TokensPerMonth: never},
	})
	if err != nil {
		b.Fatal(err)
	}
	auth := "Bearer " + issued.Secret
	body := []byte(benchChat)
	w := &discardWriter{h: http.Header{}}
	serve := func() {
		r, err := http.NewRequestWithContext(b.Context(), http.MethodPost, "http://127.0.0.1:8080/v1/chat/completions", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header["Authorization"] = []string{auth}
		r.Header["Content-Type"] = []string{"application/json"}
		clear(w.h)
		w.status, w.body = 0, w.body[:0]
		s.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d: %s", w.status, w.body)
		}
	}
	serve() // connections and caches warm
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

// discardWriter is a ResponseWriter that keeps the status and the body,
// reused between requests.
type discardWriter struct {
	h      http.Header
	status int
	body   []byte
}

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// startBareUpstream answers every HTTP/1.1 request on 127.0.0.1 with a 200
// and answer, reading requests with their Content-Length; it allocates
// nothing per request, so that a benchmark's allocations are the client's.
// It returns the base URL (http://127.0.0.1:PORT).
func startBareUpstream(tb testing.TB, answer string) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(answer)) + "\r\n\r\n" + answer)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveBare(c, resp)
		}
	}()
	return "http://" + ln.Addr().String()
}

func serveBare(c net.Conn, resp []byte) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	for {
		n := int64(0)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			const cl = "content-length:"
			if len(line) > len(cl) && bytes.EqualFold(line[:len(cl)], []byte(cl)) {
				n, _ = strconv.ParseInt(string(bytes.TrimSpace(line[len(cl):])), 10, 64)
			}
		}
		if _, err := br.Discard(int(n)); err != nil {
			return
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}
