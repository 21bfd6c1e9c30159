package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/server"
)

// bound is how long a test waits for the server to close or answer a
// connection before it calls it held open. The limits under test are far
// shorter; the original server held such connections for ever.
const bound = 10 * time.Second

// limitedServer is `aigate serve`'s stack (server.New behind
// Limits.HTTPServer on Limits.Listener) on 127.0.0.1.
type limitedServer struct {
	addr   string
	key    string        // an API key's secret
	closed chan net.Addr // remote addresses of connections the server closed
	http   *http.Server
}

// startLimited serves a config with the AI API at ANY /v1/{proxy+} behind
// the built-in authorizer, GET /healthz, and GET /paced served by paced,
// within the given http section.
func startLimited(t *testing.T, httpSection string) *limitedServer {
	t.Helper()
	cfg, err := server.ParseConfig([]byte(`
apis:
  - name: ai
    authorizers:
      keys: {type: REQUEST, function: aigate-authorizer, identitySource: method.request.header.Authorization}
    routes:
      - route: ANY /v1/{proxy+}
        authorizer: keys
        integration: {type: HANDLER, handler: aiapi}
      - route: GET /healthz
        integration: {type: MOCK, response: {body: '{"status":"ok"}'}}
      - route: GET /paced
        integration: {type: HANDLER, handler: paced}
authorizer: {devIssuer: false}
http: ` + httpSection + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Options{
		Config:  cfg,
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.DiscardHandler),
		// FromGateway is what the AI API sits behind: the paced handler
		// gets the response writer through the same wrappers.
		Handlers: map[string]http.Handler{"paced": server.FromGateway(paced{cfg.HTTP.WithDefaults().WriteTimeout.Std()})},
	})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := srv.EnsureKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls := &limitedServer{addr: ln.Addr().String(), key: issued.Secret, closed: make(chan net.Addr, 64), http: cfg.HTTP.HTTPServer(srv)}
	ls.http.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			select {
			case ls.closed <- c.RemoteAddr():
			default: // nobody is waiting for it
			}
		}
	}
	go ls.http.Serve(cfg.HTTP.Listener(ln))
	t.Cleanup(func() { ls.http.Close(); srv.Close() })
	return ls
}

// dial opens a raw connection that gives up after bound.
func (ls *limitedServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ls.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(bound))
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes a raw request and reads one response on c.
func roundTrip(c net.Conn, br *bufio.Reader, raw string) (*http.Response, string, error) {
	if _, err := io.WriteString(c, raw); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

const healthz = "GET /healthz HTTP/1.1\r\nHost: aigate\r\n\r\n"

// letGo sends send on c and reports whether the server let the connection
// go: answered with a 4xx (when answered) and closed it.
func letGo(c net.Conn, send string, answered bool) error {
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, send); err != nil {
		return err
	}
	if answered {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return fmt.Errorf("no answer: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode < 400 || resp.StatusCode > 499 {
			return fmt.Errorf("answered %d, want a 4xx", resp.StatusCode)
		}
	}
	if _, err := io.Copy(io.Discard, br); errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("still open after %v", bound)
	}
	return nil
}

func TestStalledConnectionsAreAnsweredOrClosed(t *testing.T) {
	ls := startLimited(t, "{readHeaderTimeout: 200ms, readTimeout: 300ms, idleTimeout: 200ms}")
	// promise is a request that announces a body and never sends it.
	promise := func(auth string) string {
		return "POST /v1/chat/completions HTTP/1.1\r\nHost: aigate\r\n" + auth +
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
	}
	for _, tc := range []struct {
		name string
		send string
		// answered: the server answers with a 4xx before closing;
		// otherwise it closes without a word.
		answered bool
	}{
		{"body promised without credentials", promise(""), true},
		{"body promised with a valid key", promise("Authorization: Bearer " + ls.key + "\r\n"), true},
		{"headers never finished", "GET /healthz HTTP/1.1\r\nHost: aigate\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Many at once, as an attacker would: each must be let go.
			const conns = 20
			errs := make(chan error, conns)
			for range conns {
				c := ls.dial(t)
				go func() { errs <- letGo(c, tc.send, tc.answered) }()
			}
			for range conns {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	t.Run("idle keep-alive connection", func(t *testing.T) {
		t.Parallel()
		c := ls.dial(t)
		br := bufio.NewReader(c)
		resp, _, err := roundTrip(c, br, healthz)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("first request: %v %v", resp, err)
		}
		if _, err := io.Copy(io.Discard, br); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("idle connection still open after %v", bound)
		}
	})
}

func TestConnectionsOverTheLimitAreRefusedUntilOneCloses(t *testing.T) {
	ls := startLimited(t, "{maxConnections: 2}")
	var open []net.Conn
	for range 2 {
		c := ls.dial(t)
		if resp, _, err := roundTrip(c, bufio.NewReader(c), healthz); err != nil || resp.StatusCode != 200 {
			t.Fatalf("within the limit: %v %v", resp, err)
		}
		open = append(open, c) // kept alive: it holds its slot
	}

	c := ls.dial(t)
	resp, body, err := roundTrip(c, bufio.NewReader(c), healthz)
	// The 503 may be lost to a reset when the request arrived before the
	// server closed the connection; either way it was not served.
	if err == nil && (resp.StatusCode != 503 || body != `{"message":"Service Unavailable"}`) {
		t.Fatalf("over the limit: %d %s, want 503 or a closed connection", resp.StatusCode, body)
	}

	open[0].Close()
	gone := open[0].LocalAddr().String()
	for timeout := time.After(bound); ; {
		select {
		case a := <-ls.closed:
			if a.String() != gone {
				continue
			}
		case <-timeout:
			t.Fatalf("the server did not close the connection the client closed")
		}
		break
	}
	c = ls.dial(t)
	if resp, _, err := roundTrip(c, bufio.NewReader(c), healthz); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after one closed: %v %v", resp, err)
	}
}

// paced answers GET /paced as ?mode= says, the way the AI API answers:
//   - "stream", "stream-extended": three server-sent events, each written
//     after the previous write's WriteTimeout has lapsed; "stream-extended"
//     extends the write deadline before each write, as the AI API's streams
//     do;
//   - "late": one answer, written after WriteTimeout has lapsed since the
//     request was read (an upstream that thinks long).
type paced struct{ writeTimeout time.Duration }

func (p paced) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// lapse waits until a write deadline armed at or before since has
	// passed. The clock is the scenario here, not a way to wait for
	// another goroutine.
	lapse := func(since time.Time) bool {
		select {
		case <-time.After(time.Until(since.Add(p.writeTimeout * 3 / 2))):
			return true
		case <-r.Context().Done():
			return false
		}
	}
	mode := r.URL.Query().Get("mode")
	if mode == "late" {
		if lapse(time.Now()) {
			io.WriteString(w, "late answer")
		}
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	for i := range 3 {
		if mode == "stream-extended" {
			if err := rc.SetWriteDeadline(time.Now().Add(bound)); err != nil {
				panic(err) // a wrapper between net/http and here lacks Unwrap
			}
		}
		fmt.Fprintf(w, "data: %d\n\n", i)
		if rc.Flush() != nil {
			return
		}
		if i < 2 && !lapse(time.Now()) {
			return
		}
	}
}

func TestWriteTimeoutCountsFromTheFirstByteAndStreamsExtendIt(t *testing.T) {
	ls := startLimited(t, "{writeTimeout: 250ms}")
	for _, tc := range []struct {
		mode     string
		want     string
		complete bool
	}{
		{"stream-extended", "data: 0\n\ndata: 1\n\ndata: 2\n\n", true},
		// The control: the deadline does bite a stream that does not
		// extend it, so the case above shows the extension reaching the
		// connection through every wrapper.
		{"stream", "data: 0\n\n", false},
		{"late", "late answer", true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			c := ls.dial(t)
			resp, body, err := roundTrip(c, bufio.NewReader(c), "GET /paced?mode="+tc.mode+" HTTP/1.1\r\nHost: aigate\r\n\r\n")
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("no end after %v", bound)
			}
			if tc.complete && (err != nil || resp.StatusCode != 200) {
				t.Fatalf("got %q, %v; want all of %q", body, err, tc.want)
			}
			if !tc.complete && err == nil {
				t.Fatalf("got all of %q, want it cut after %q", body, tc.want)
			}
			if body != tc.want {
				t.Fatalf("got %q, want %q", body, tc.want)
			}
		})
	}
}

func TestLimitsConfigRefusesNegativeValuesNamingTheField(t *testing.T) {
	for field, doc := range map[string]string{
		"http.readHeaderTimeout": "http: {readHeaderTimeout: -1s}",
		"http.readTimeout":       "http: {readTimeout: soon}",
		"http.writeTimeout":      "http: {writeTimeout: -5m}",
		"http.idleTimeout":       "http: {idleTimeout: -1ns}",
		"http.maxConnections":    "http: {maxConnections: -1}",
		"http.maxConns":          "http: {maxConns: 1}",
	} {
		_, err := server.ParseConfig([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want an error naming %s", doc, err, field)
		}
	}
	cfg, err := server.ParseConfig([]byte("http: {readTimeout: 5s}"))
	if err != nil {
		t.Fatal(err)
	}
	want := server.DefaultLimits()
	want.ReadTimeout = duration.Duration(5 * time.Second)
	if got := cfg.HTTP.WithDefaults(); got != want {
		t.Fatalf("limits %+v, want %+v", got, want)
	}
}
