package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// completion is the upstream's one answer: small, with usage, as an
// OpenAI-compatible server sends it.
const completion = `{"id":"chatcmpl-bench","object":"chat.completion","created":1767225600,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`

// Upstream is an OpenAI-compatible server on 127.0.0.1 that answers every
// chat completion at once with the same completion, so that what is
// measured through a gateway is the gateway.
type Upstream struct {
	URL      string // http://127.0.0.1:PORT, without /v1
	Requests atomic.Int64
	srv      *http.Server
}

// StartUpstream listens on a free loopback port.
func StartUpstream() (*Upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &Upstream{URL: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		u.Requests.Add(1)
		w.Header()["Content-Type"] = []string{"application/json"}
		io.WriteString(w, completion)
	})
	u.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := u.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "bench: upstream:", err)
		}
	}()
	return u, nil
}

// Close stops the server.
func (u *Upstream) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return u.srv.Shutdown(ctx)
}
